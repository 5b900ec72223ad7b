import { STORE } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceStoreSettings } from '../../../lib/types/node-settings';
import { applyLimits, choiceSetting, labelOf, migrateForm, numberSetting } from '../../shared/editor/common';
import { addLibraryTab } from './library-tab';

interface FaceStoreProps extends EditorNodeProperties, FaceStoreSettings {}
interface FaceStoreCreds {
  username: string;
  password: string;
}

/** face-store's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  backend: choiceSetting(STORE.backend),
  file: { value: '' },
  backups: numberSetting(STORE.backups),
  url: { value: '' },
  schema: { value: '', validate: (v: unknown) => v === '' || /^[a-z_][a-z0-9_]{0,62}$/.test(String(v)) },
  poolSize: numberSetting(STORE.poolSize),
  version: { value: SETTINGS_VERSION['face-store'] },
};

RED.nodes.registerType<FaceStoreProps, FaceStoreCreds>('face-store', {
  category: 'config',
  defaults,
  credentials: { username: { type: 'text' }, password: { type: 'password' } },
  label: function () {
    if (this.backend === 'postgres')
      return labelOf(this.name, `postgres ${(this.url ?? '').replace(/^[a-z]+:\/\/([^@/]*@)?/i, '')}`);
    return labelOf(this.name, this.file || 'facewatch/faces.db');
  },
  paletteLabel: 'face store',
  oneditprepare: function () {
    applyLimits('node-config-input', { backups: STORE.backups, poolSize: STORE.poolSize });
    migrateForm('face-store', this, 'node-config-input');
    const backend = $('#node-config-input-backend');
    const show = (): void => {
      const pg = backend.val() === 'postgres';
      $('.fw-store-nedb').toggle(!pg);
      $('.fw-store-postgres').toggle(pg);
    };
    backend.on('change', show);
    show();
  },
});

addLibraryTab();
