import type { FaceStoreSettings } from '../../lib/types/node-settings';
import type { NodeAPI, NodeDef } from '../shared/red';
import { optionalNumber } from '../shared/settings';
import { acquireStore, storeFile, type StoreLease, type StoreProvider } from '../shared/store';

interface FaceStoreDef extends NodeDef, FaceStoreSettings {}

/**
 * face-store: a config node naming one face database. The store is opened by its first user
 * (face-match, face-register, the admin routes) and closed by its last.
 */
export = function register(RED: NodeAPI): void {
  function FaceStoreNode(this: StoreProvider, def: FaceStoreDef): void {
    RED.nodes.createNode(this, def);
    this.file = storeFile(RED, def.file);
    const backups = optionalNumber(def.backups);
    const opts = {
      file: this.file,
      backups: backups !== undefined && Number.isInteger(backups) && backups >= 0 ? backups : 3,
      owner: `Node-RED (pid ${process.pid})`,
      actor: 'node-red',
    };
    this.acquire = (): Promise<StoreLease> => acquireStore(opts);
  }
  RED.nodes.registerType('face-store', FaceStoreNode);
};
