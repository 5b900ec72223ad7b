import type { FaceStoreSettings } from '../../../lib/types/node-settings';
import { labelOf, numberIn } from '../../shared/editor/common';

interface FaceStoreProps extends EditorNodeProperties, FaceStoreSettings {}

RED.nodes.registerType<FaceStoreProps>('face-store', {
  category: 'config',
  defaults: {
    name: { value: '' },
    file: { value: '' },
    backups: { value: 3, validate: numberIn(0, 50) },
  },
  label: function () {
    return labelOf(this.name, this.file || 'facewatch/faces.db');
  },
  paletteLabel: 'face store',
});
