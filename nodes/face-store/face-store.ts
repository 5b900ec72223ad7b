import type { FaceStoreSettings } from '../../lib/types/node-settings';
import type { NodeAPI, NodeDef } from '../shared/red';
import { upgradeSettings } from '../shared/settings';
import { offerResource } from '../shared/provider';
import { storeSettings } from './config';
import { registerLibrary } from '../library';
import {
  acquireStore,
  storeFile,
  storeKey,
  stores,
  type StoreLease,
  type StoreProvider,
} from '../shared/store';

interface FaceStoreDef extends NodeDef, FaceStoreSettings {}

/**
 * face-store: a config node naming one face database. The store is opened by its first user
 * (face-match, face-register, the admin routes) and closed by its last; its state (open, failed,
 * closed) is pushed to every node registered with it.
 */
export = function register(RED: NodeAPI): void {
  function FaceStoreNode(this: StoreProvider, def: FaceStoreDef): void {
    RED.nodes.createNode(this, def);
    this.file = storeFile(RED, def.file);
    const warn = (m: string): void => this.warn(m);
    const { backups } = storeSettings(upgradeSettings('face-store', def, warn), warn);
    const opts = {
      file: this.file,
      backups,
      owner: `Node-RED (pid ${process.pid})`,
      actor: 'node-red',
    };
    offerResource(this, stores, storeKey(this.file), (user): Promise<StoreLease> => acquireStore(opts, user));
  }
  RED.nodes.registerType('face-store', FaceStoreNode);
  registerLibrary(RED);
};
