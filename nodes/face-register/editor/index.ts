import type { FaceRegisterSettings } from '../../../lib/types/node-settings';
import { CATEGORY, COLOR, labelOf, numberIn } from '../../shared/editor/common';

interface FaceRegisterProps extends EditorNodeProperties, FaceRegisterSettings {}

RED.nodes.registerType<FaceRegisterProps>('face-register', {
  category: CATEGORY,
  color: COLOR,
  defaults: {
    name: { value: '' },
    store: { value: '', type: 'face-store', required: true },
    engine: { value: '', type: 'face-engine', required: false },
    faces: { value: 'single' },
    existing: { value: 'add-sample' },
    duplicatePolicy: { value: 'refuse' },
    duplicateThreshold: { value: 0.5, validate: numberIn(0.05, 2) },
    minFaceSize: { value: 80, validate: numberIn(0, 10000) },
    minSharpness: { value: 10, validate: numberIn(0, 100000) },
    maxYaw: { value: 45, validate: numberIn(0, 90) },
    maxMegabytes: { value: 16, validate: numberIn(0.1, 1024) },
  },
  inputs: 1,
  outputs: 1,
  icon: 'font-awesome/fa-user-plus',
  label: function () {
    return labelOf(this.name, 'face register');
  },
  paletteLabel: 'face register',
  inputLabels: 'command',
  outputLabels: 'result',
});
