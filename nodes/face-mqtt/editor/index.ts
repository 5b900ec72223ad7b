import { MQTT } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceMqttSettings } from '../../../lib/types/node-settings';
import {
  applyLimits,
  CATEGORY,
  COLOR,
  labelOf,
  migrateForm,
  numberSetting,
} from '../../shared/editor/common';

interface FaceMqttProps extends EditorNodeProperties, FaceMqttSettings {}

/** face-mqtt's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  broker: { value: '', type: 'face-mqtt-broker', required: true },
  store: { value: '', type: 'face-store', required: false },
  snapshots: { value: false },
  presenceTimeout: numberSetting(MQTT.presenceTimeout),
  version: { value: SETTINGS_VERSION['face-mqtt'] },
};

RED.nodes.registerType<FaceMqttProps>('face-mqtt', {
  category: CATEGORY,
  color: COLOR,
  defaults,
  inputs: 1,
  outputs: 0,
  icon: 'bridge.svg',
  align: 'right',
  label: function () {
    return labelOf(this.name, 'face mqtt');
  },
  paletteLabel: 'face mqtt',
  inputLabels: 'detection events',
  oneditprepare: function () {
    applyLimits('node-input', { presenceTimeout: MQTT.presenceTimeout });
    migrateForm('face-mqtt', this, 'node-input');
  },
});
