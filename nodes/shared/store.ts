import path from 'node:path';
import { closeStore, openStore } from '../../lib/events/store-events';
import type { FaceStore, StoreOptions } from '../../lib/store/face-store';
import { ResourceOwner } from '../../lib/shared/owner';
import type { Provider } from './provider';
import type { Node, NodeAPI } from './red';

/** A lease on an open face store; the last release closes it (and frees its lock). */
export interface StoreLease {
  store: FaceStore;
  /** Who holds it (a node id, a route). */
  user: string;
  release(): Promise<void>;
}

/** The runtime face of a face-store config node, as the nodes that use it see it. */
export interface StoreProvider extends Node, Provider<FaceStore> {
  /** Absolute path of the datafile. */
  file: string;
  /** Leases the store for `user` (a node id, a route). */
  acquire(user?: string): Promise<StoreLease>;
}

/**
 * One open FaceStore per datafile in this process, shared by every node using it: the store's lock
 * file keeps other processes out, this owner keeps one process from opening a file twice. A
 * redeploy's open waits for the previous store to finish its writes and close. The store's
 * detection log (lib/events/store-events.ts) opens and closes with it.
 */
export const stores = new ResourceOwner<FaceStore>({ close: (store) => closeStore(store) });

/** The key of a datafile in {@link stores}. */
export function storeKey(file: string): string {
  return path.resolve(file);
}

/** Leases the store of `opts.file` for `user`, opening it if nobody in this process holds it. */
export async function acquireStore(opts: StoreOptions, user = 'anonymous'): Promise<StoreLease> {
  const file = storeKey(opts.file);
  const lease = await stores.acquire(file, user, () => openStore({ ...opts, file }));
  return { store: lease.resource, user, release: () => lease.release() };
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
