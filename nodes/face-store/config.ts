import { STORE } from '../../lib/types/defaults';
import type { FaceStoreSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';

/** face-store's settings as the runtime uses them. */
export interface StoreNodeSettings {
  backend: 'nedb' | 'postgres';
  /** nedb: rolling backups of the datafile. */
  backups: number;
  /** postgres: the URL as saved (its `${VAR}`s not yet replaced). */
  url: string;
  /** postgres: '' = the default schema. */
  schema: string;
  poolSize: number;
}

/** face-store's saved settings read against lib/types/defaults.ts (the file is resolved elsewhere). */
export function storeSettings(def: Partial<FaceStoreSettings>, warn?: Warn): StoreNodeSettings {
  const r = new SettingsReader(warn);
  return {
    backend: r.choice('backend', STORE.backend, def.backend),
    backups: r.number('backups', STORE.backups, def.backups),
    url: typeof def.url === 'string' ? def.url.trim() : '',
    schema: typeof def.schema === 'string' ? def.schema.trim() : '',
    poolSize: r.number('poolSize', STORE.poolSize, def.poolSize),
  };
}
