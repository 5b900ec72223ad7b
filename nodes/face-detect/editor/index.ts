import type { FaceDetectSettings } from '../../../lib/types/node-settings';
import { CATEGORY, COLOR, labelOf, numberIn } from '../../shared/editor/common';

interface FaceDetectProps extends EditorNodeProperties, FaceDetectSettings {}

const optional = (min: number, max: number) => (v: unknown) => v === '' || numberIn(min, max)(v);

RED.nodes.registerType<FaceDetectProps>('face-detect', {
  category: CATEGORY,
  color: COLOR,
  defaults: {
    name: { value: '' },
    engine: { value: '', type: 'face-engine', required: false },
    detector: { value: '' },
    minConfidence: { value: '', validate: optional(0.05, 1) },
    minFaceSize: { value: '', validate: optional(0, 10000) },
    maxFaces: { value: '', validate: optional(0, 1000) },
    landmarks: { value: false },
    descriptors: { value: true },
    ageGender: { value: false },
    expressions: { value: false },
    crops: { value: false },
    keepImage: { value: 'faces' },
  },
  inputs: 1,
  outputs: 1,
  icon: 'font-awesome/fa-user-circle-o',
  label: function () {
    return labelOf(this.name, 'face detect');
  },
  paletteLabel: 'face detect',
  inputLabels: 'image or frame',
  outputLabels: 'faces',
});
