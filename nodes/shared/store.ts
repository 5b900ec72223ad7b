import path from 'node:path';
import type { OpenStore, StoreAvailability } from '../../lib/store/types';
import type { Status } from './status';
import { onClose } from './close';
import type { StoreLease } from '../../lib/store/registry';
import type { ResourceNode } from './provider';
import type { Node, NodeAPI } from './red';

export { acquireStore, openOptionsKey, storeKey, stores, type StoreLease } from '../../lib/store/registry';

/** The runtime face of a face-store config node, as the nodes that use it see it. */
export interface StoreProvider extends ResourceNode<OpenStore> {
  backend: OpenStore['backend'];
  /** Absolute path of the datafile; for PostgreSQL the URL without its password and the schema. */
  file: string;
  /** Leases the store for `user` (a node id, a route). */
  acquire(user?: string): Promise<StoreLease>;
}

/** A time of day as a status shows it, `HH:MM:SS` (local time). */
function clock(t: Date): string {
  return t.toTimeString().slice(0, 8);
}

/**
 * Keeps a node's status true to its store: while the store's database is unreachable the status
 * says so and since when (matching goes on from memory; every change is refused), and while this
 * instance may not write (a newer schema) it says that; the node's own status comes back after.
 * Returns what stops following.
 */
export function followAvailability(store: OpenStore, status: Status): () => void {
  const show = (a: StoreAvailability): void => {
    if (a.down) status.hold('error', `database unreachable since ${clock(a.down)}`);
    else if (a.readOnly) status.hold('warn', 'read only: the database schema is newer');
    else status.release();
  };
  show(store.availability());
  store.on('availability', show);
  return () => store.off('availability', show);
}

/** {@link followAvailability} for a node's lease of its store, until the node closes. */
export function showAvailability(node: Node, lease: Promise<StoreLease>, status: Status): void {
  const stop = lease.then(
    ({ resource }) => followAvailability(resource, status),
    () => undefined,
  );
  onClose(node, async () => (await stop)?.());
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
