import { MQTT, MQTT_TEXT, SETTINGS_VERSION } from '../../../lib/types/defaults';
import type { FaceMqttBrokerSettings } from '../../../lib/types/node-settings';
import { applyLimits, labelOf, migrateForm, numberSetting } from '../../shared/editor/common';

interface FaceMqttBrokerProps extends EditorNodeProperties, FaceMqttBrokerSettings {}
interface FaceMqttBrokerCreds {
  username: string;
  password: string;
}

/** face-mqtt-broker's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  url: { value: 'mqtt://localhost:1883', required: true },
  clientId: { value: '' },
  baseTopic: { value: MQTT_TEXT.baseTopic },
  discovery: { value: true },
  discoveryPrefix: { value: MQTT_TEXT.discoveryPrefix },
  qos: numberSetting(MQTT.qos),
  queueLimit: numberSetting(MQTT.queueLimit),
  tlsCa: { value: '' },
  tlsCert: { value: '' },
  tlsKey: { value: '' },
  tlsVerify: { value: true },
  version: { value: SETTINGS_VERSION['face-mqtt-broker'] },
};

RED.nodes.registerType<FaceMqttBrokerProps, FaceMqttBrokerCreds>('face-mqtt-broker', {
  category: 'config',
  defaults,
  credentials: { username: { type: 'text' }, password: { type: 'password' } },
  label: function () {
    // Never the password: only scheme, host and port.
    return labelOf(this.name, this.url ? this.url.replace(/\/\/[^@/]*@/, '//') : 'mqtt broker');
  },
  paletteLabel: 'face mqtt broker',
  oneditprepare: function () {
    applyLimits('node-config-input', { qos: MQTT.qos, queueLimit: MQTT.queueLimit });
    migrateForm('face-mqtt-broker', this, 'node-config-input');
  },
});
