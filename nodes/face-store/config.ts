import { STORE } from '../../lib/types/defaults';
import type { FaceStoreSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';

/** face-store's saved settings read against lib/types/defaults.ts (the file is resolved elsewhere). */
export function storeSettings(def: Partial<FaceStoreSettings>, warn?: Warn): { backups: number } {
  return { backups: new SettingsReader(warn).number('backups', STORE.backups, def.backups) };
}
