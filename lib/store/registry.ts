/**
 * Face stores shared by datafile and counted by their users: one open FaceStore per datafile in this
 * process, shared by every node, route and command using it (the store's lock file keeps other
 * processes out; this owner keeps one process from opening a file twice). A redeploy's open waits
 * for the previous store to finish its writes and close. The store's detection log
 * (lib/events/store-events.ts) opens and closes with it. The counting is the generic ResourceOwner's.
 */
import path from 'node:path';
import { closeStore, openStore, type StoreOpenOptions } from '../events/store-events';
import { ResourceOwner, type Lease } from '../shared/owner';
import type { OpenStore } from './types';

/** A user's hold on an open face store (`resource`); the last release closes it (and frees its lock). */
export type StoreLease = Lease<OpenStore>;

/** The process-wide owner of open stores, by datafile or by database and schema. */
export const stores = new ResourceOwner<OpenStore>({ close: (store) => closeStore(store) });

/** The key of a datafile in {@link stores}. */
export function storeKey(file: string): string {
  return path.resolve(file);
}

/**
 * The key of a PostgreSQL schema in {@link stores}: the URL as shown (no password), the user the
 * credentials name (two nodes signing in as different users never share one pool) and the schema.
 */
export function pgStoreKey(shown: string, schema: string, user?: string): string {
  return `${shown}#${schema}${user ? `#user=${user}` : ''}`;
}

/** The key of a store's options in {@link stores}. */
export function openOptionsKey(opts: StoreOpenOptions): string {
  return opts.backend === 'postgres'
    ? pgStoreKey(opts.shown ?? '', opts.schema ?? '', opts.connection.user)
    : storeKey(opts.file);
}

/** Leases the store `opts` names for `user`, opening it if nobody in this process holds it. */
export function acquireStore(opts: StoreOpenOptions, user = 'anonymous'): Promise<StoreLease> {
  const key = openOptionsKey(opts);
  const resolved: StoreOpenOptions = opts.backend === 'postgres' ? opts : { ...opts, file: key };
  return stores.acquire(key, user, () => openStore(resolved));
}
