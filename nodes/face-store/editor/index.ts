import { STORE } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceStoreSettings } from '../../../lib/types/node-settings';
import { applyLimits, labelOf, migrateForm, numberSetting } from '../../shared/editor/common';
import { addLibraryTab } from './library-tab';

interface FaceStoreProps extends EditorNodeProperties, FaceStoreSettings {}

/** face-store's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  file: { value: '' },
  backups: numberSetting(STORE.backups),
  version: { value: SETTINGS_VERSION['face-store'] },
};

RED.nodes.registerType<FaceStoreProps>('face-store', {
  category: 'config',
  defaults,
  label: function () {
    return labelOf(this.name, this.file || 'facewatch/faces.db');
  },
  paletteLabel: 'face store',
  oneditprepare: function () {
    applyLimits('node-config-input', STORE);
    migrateForm('face-store', this, 'node-config-input');
  },
});

addLibraryTab();
