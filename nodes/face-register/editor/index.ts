import { ENROL } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceRegisterSettings } from '../../../lib/types/node-settings';
import {
  applyLimits,
  CATEGORY,
  choiceSetting,
  COLOR,
  labelOf,
  migrateForm,
  numberSetting,
} from '../../shared/editor/common';

interface FaceRegisterProps extends EditorNodeProperties, FaceRegisterSettings {}

/** face-register's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  store: { value: '', type: 'face-store', required: true },
  engine: { value: '', type: 'face-engine', required: false },
  faces: choiceSetting(ENROL.faces),
  existing: choiceSetting(ENROL.existing),
  duplicatePolicy: choiceSetting(ENROL.duplicatePolicy),
  duplicateThreshold: numberSetting(ENROL.duplicateThreshold),
  minFaceSize: numberSetting(ENROL.minFaceSize),
  minSharpness: numberSetting(ENROL.minSharpness),
  maxYaw: numberSetting(ENROL.maxYaw),
  maxMegabytes: numberSetting(ENROL.maxMegabytes),
  version: { value: SETTINGS_VERSION['face-register'] },
};

RED.nodes.registerType<FaceRegisterProps>('face-register', {
  category: CATEGORY,
  color: COLOR,
  defaults,
  inputs: 1,
  outputs: 1,
  icon: 'face-register.svg',
  label: function () {
    return labelOf(this.name, 'face register');
  },
  paletteLabel: 'face register',
  inputLabels: 'command',
  outputLabels: 'result',
  oneditprepare: function () {
    const { duplicateThreshold, minFaceSize, minSharpness, maxYaw, maxMegabytes } = ENROL;
    applyLimits('node-input', { duplicateThreshold, minFaceSize, minSharpness, maxYaw, maxMegabytes });
    migrateForm('face-register', this, 'node-input');
  },
});
