/**
 * Face stores shared by datafile and counted by their users: one open FaceStore per datafile in this
 * process, shared by every node, route and command using it (the store's lock file keeps other
 * processes out; this owner keeps one process from opening a file twice). A redeploy's open waits
 * for the previous store to finish its writes and close. The store's detection log
 * (lib/events/store-events.ts) opens and closes with it. The counting is the generic ResourceOwner's.
 */
import path from 'node:path';
import { closeStore, openStore } from '../events/store-events';
import { ResourceOwner, type Lease } from '../shared/owner';
import type { FaceStore, StoreOptions } from './face-store';

/** A user's hold on an open face store (`resource`); the last release closes it (and frees its lock). */
export type StoreLease = Lease<FaceStore>;

/** The process-wide owner of open stores, by datafile. */
export const stores = new ResourceOwner<FaceStore>({ close: (store) => closeStore(store) });

/** The key of a datafile in {@link stores}. */
export function storeKey(file: string): string {
  return path.resolve(file);
}

/** Leases the store of `opts.file` for `user`, opening it if nobody in this process holds it. */
export function acquireStore(opts: StoreOptions, user = 'anonymous'): Promise<StoreLease> {
  const file = storeKey(opts.file);
  return stores.acquire(file, user, () => openStore({ ...opts, file }));
}
