import path from 'node:path';
import { FaceStore, type StoreOptions } from '../../lib/store/face-store';
import type { Node, NodeAPI } from './red';

/** A lease on an open face store; the last release closes it (and frees its lock). */
export interface StoreLease {
  store: FaceStore;
  release(): Promise<void>;
}

/** The runtime face of a face-store config node, as the nodes that use it see it. */
export interface StoreProvider extends Node {
  /** Absolute path of the datafile. */
  file: string;
  acquire(): Promise<StoreLease>;
}

interface Entry {
  users: number;
  opening: Promise<FaceStore>;
}

/**
 * One open FaceStore per datafile in this process, shared by every node using it: the store's lock
 * file keeps other processes out, this table keeps one process from opening a file twice.
 */
const open = new Map<string, Entry>();
/** Stores whose last user left and that are still finishing their writes: a redeploy waits for them. */
const closing = new Map<string, Promise<void>>();

export function acquireStore(opts: StoreOptions): Promise<StoreLease> {
  const file = path.resolve(opts.file);
  let entry = open.get(file);
  if (!entry) {
    // A failed close was reported to its releaser; this open tries afresh.
    const previous = (closing.get(file) ?? Promise.resolve()).catch(() => undefined);
    entry = { users: 0, opening: previous.then(() => FaceStore.open({ ...opts, file })) };
    open.set(file, entry);
    entry.opening.catch(() => open.delete(file));
  }
  const held = entry;
  held.users++;
  let released = false;
  return held.opening.then(
    (store) => ({
      store,
      async release() {
        if (released) return;
        released = true;
        if (--held.users === 0) {
          open.delete(file);
          const done = store.close().finally(() => {
            if (closing.get(file) === done) closing.delete(file);
          });
          closing.set(file, done);
          await done;
        }
      },
    }),
    (err: unknown) => {
      held.users--;
      throw err;
    },
  );
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
