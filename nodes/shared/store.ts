import path from 'node:path';
import type { FaceStore } from '../../lib/store/face-store';
import type { StoreLease } from '../../lib/store/registry';
import type { ResourceNode } from './provider';
import type { NodeAPI } from './red';

export { acquireStore, storeKey, stores, type StoreLease } from '../../lib/store/registry';

/** The runtime face of a face-store config node, as the nodes that use it see it. */
export interface StoreProvider extends ResourceNode<FaceStore> {
  /** Absolute path of the datafile. */
  file: string;
  /** Leases the store for `user` (a node id, a route). */
  acquire(user?: string): Promise<StoreLease>;
}

/**
 * The datafile a face-store names: relative to Node-RED's user directory, and
 * `<userDir>/facewatch/faces.db` when none is set.
 */
export function storeFile(RED: NodeAPI, file: string | undefined): string {
  const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
  return path.resolve(userDir, file?.trim() || path.join('facewatch', 'faces.db'));
}

/** The face store a node is configured with, or an error naming what is missing. */
export function storeProvider(RED: NodeAPI, id: string | undefined): StoreProvider {
  const provider = id ? (RED.nodes.getNode(id) as StoreProvider | null) : null;
  if (!provider) throw new Error('no face-store configured: select one in the node');
  return provider;
}
