import { MQTT, MQTT_TEXT } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
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

/**
 * Discovery set by an environment variable (`${FACEWATCH_HA_DISCOVERY}` in the example flow) is text
 * a checkbox cannot hold: the editor would save it as the box's true or false. Such a value is shown
 * and saved as text in an input with the checkbox's id (the editor saves whatever that input holds);
 * emptying it brings the checkbox back.
 */
function keepDiscoveryText(value: unknown): void {
  if (typeof value !== 'string' || !value.includes('${')) return;
  const box = $('#node-config-input-discovery');
  const row = box.parent();
  const label = row.children('label');
  const span = row.children('span');
  const text = $('<input type="text" id="node-config-input-discovery" style="width: 70%" />').val(value);
  const hint = $('<div class="form-tips" id="node-config-discovery-env"></div>').text(
    RED._('node-red-contrib-facewatch/face-mqtt-broker:face-mqtt-broker.hint.discoveryEnv'),
  );
  // The label names the text input; the checkbox's own text after it is hidden meanwhile.
  label.text(span.text());
  span.hide();
  box.replaceWith(text);
  row.after(hint);
  text.on('change', () => {
    if (String(text.val()).trim() !== '') return;
    const restored = $(
      '<input type="checkbox" id="node-config-input-discovery" style="width: auto; margin: 0 4px 0 0" />',
    ).prop('checked', true);
    label.html('&nbsp;');
    span.show();
    text.replaceWith(restored);
    hint.remove();
  });
}

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
    keepDiscoveryText(this.discovery);
  },
});
