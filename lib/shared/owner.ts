/**
 * One way to own a shared resource: resources by key, opened by their first user and closed by their
 * last. Engines (lib/vision/registry.ts: one inference pool per face-engine), face stores
 * (lib/store/registry.ts: one per datafile, its detection log with it), cameras (lib/camera/registry.ts:
 * one ffmpeg each) and MQTT brokers (lib/mqtt/registry.ts: one client each) all use it, every user
 * holds the one {@link Lease} shape, and the config nodes offer them the same way
 * (nodes/shared/provider.ts `offerResource`), so the rules below hold for every one of them:
 *
 * - concurrent first users share one open; a failed open is forgotten, so the next user tries again;
 * - a key whose last user just left is closing: a new user (a redeploy) waits for that close to
 *   finish before opening afresh, so two copies of a resource never run at once;
 * - with a linger, the resource stays open a little after its last user left, and a user arriving
 *   meanwhile takes it over (a quick redeploy re-uses it instead of restarting it);
 * - each lease names its user, so the owner can say who holds what; a lease released twice counts once.
 */

import { createHash } from 'node:crypto';

/** Where a resource of a key is in its life. */
export type ResourceState = 'opening' | 'open' | 'closing' | 'closed' | 'error';

/** A change of a key's state, as {@link ResourceOwner.watch} reports it. */
export interface StateChange<R> {
  key: string;
  state: ResourceState;
  /** The resource, once open (also with `closing` and `closed`). */
  resource?: R;
  /** Why the open or the close failed (`error` only). */
  error?: Error;
}

/** A user's hold on a shared resource. */
export interface Lease<R> {
  readonly key: string;
  readonly resource: R;
  /** Who holds it: a node id, a route, a command. */
  readonly user: string;
  /**
   * Gives the hold back. The last release closes the resource (after the linger, if any) and
   * resolves once it is closed; without a linger it rejects if the close failed. Calling it twice
   * is harmless.
   */
  release(): Promise<void>;
}

/** How an owner opens and closes its resources. */
export interface OwnerOptions<R> {
  /** Closes a resource whose last user left. */
  close(resource: R, key: string): Promise<void> | void;
  /**
   * Keeps a resource open this long (ms) after its last user left; a user arriving meanwhile takes
   * it over. 0 (the default) closes at once.
   */
  lingerMs?: number;
}

/** What opens a resource of a key: run only by the first user, never twice at once for one key. */
export type Opener<R> = () => Promise<R>;

interface Entry<R> {
  /** Settles once the resource is open (or failed to open). */
  opening: Promise<R>;
  resource?: R;
  state: ResourceState;
  /** Open leases by user; an id can hold several leases. */
  users: Map<symbol, string>;
  /** Set while the entry lingers after its last release. */
  linger?: NodeJS.Timeout;
  /** Tells the version the resource was opened with, so a lingering one is re-used only if it matches. */
  version?: string;
}

type Watcher<R> = (change: StateChange<R>) => void;

/**
 * Owns shared resources by key and counts their users. The first acquire of a key runs its opener;
 * later acquires of the same key get that resource, whatever opener they pass.
 *
 * @typeParam R - the resource type (an engine, a store, a process, a client)
 */
export class ResourceOwner<R> {
  private readonly entries = new Map<string, Entry<R>>();
  /** Closes still running per key: the next open of the key waits for them. */
  private readonly closing = new Map<string, Promise<void>>();
  private readonly watchers = new Map<string, Set<Watcher<R>>>();
  private readonly lingerMs: number;

  constructor(private readonly options: OwnerOptions<R>) {
    this.lingerMs = Math.max(0, options.lingerMs ?? 0);
  }

  /**
   * Leases the resource of `key` for `user`, opening it with `open` if nobody holds it. Rejects with
   * the opener's error if the open fails (and the key is then forgotten).
   *
   * @param version - what the resource is opened from (a config digest): a lingering resource of
   *   another version is closed rather than re-used. Users of a resource in use share it regardless.
   */
  async acquire(key: string, user: string, open: Opener<R>, version?: string): Promise<Lease<R>> {
    let entry = this.entries.get(key);
    if (entry?.linger && entry.version !== version) {
      // Nobody awaits this close but the new open, which goes ahead whatever its outcome.
      this.beginClose(key, entry).catch(() => undefined);
      entry = undefined;
    }
    if (!entry) entry = this.begin(key, open, version);
    if (entry.linger) {
      clearTimeout(entry.linger);
      entry.linger = undefined;
    }
    const token = Symbol(user);
    entry.users.set(token, user);
    let resource: R;
    try {
      resource = await entry.opening;
    } catch (err) {
      entry.users.delete(token);
      throw err;
    }
    const held = entry;
    let released: Promise<void> | undefined;
    return {
      key,
      resource,
      user,
      release: () => (released ??= this.release(key, held, token)),
    };
  }

  private begin(key: string, open: Opener<R>, version: string | undefined): Entry<R> {
    // A close that failed was reported to its releaser; the new open tries afresh regardless.
    const previous = (this.closing.get(key) ?? Promise.resolve()).catch(() => undefined);
    const entry: Entry<R> = {
      opening: previous.then(() => {
        this.emit(key, { key, state: 'opening' });
        return open();
      }),
      state: 'opening',
      users: new Map(),
      version,
    };
    this.entries.set(key, entry);
    entry.opening.then(
      (resource) => {
        entry.resource = resource;
        entry.state = 'open';
        this.emit(key, { key, state: 'open', resource });
      },
      (err: unknown) => {
        entry.state = 'error';
        if (this.entries.get(key) === entry) this.entries.delete(key);
        this.emit(key, { key, state: 'error', error: asError(err) });
      },
    );
    return entry;
  }

  private async release(key: string, entry: Entry<R>, token: symbol): Promise<void> {
    entry.users.delete(token);
    if (entry.users.size > 0 || this.entries.get(key) !== entry) return;
    if (this.lingerMs > 0) {
      entry.linger = setTimeout(() => {
        entry.linger = undefined;
        if (entry.users.size === 0 && this.entries.get(key) === entry)
          this.beginClose(key, entry).catch(() => undefined);
      }, this.lingerMs);
      entry.linger.unref();
      return;
    }
    await this.beginClose(key, entry);
  }

  private beginClose(key: string, entry: Entry<R>): Promise<void> {
    clearTimeout(entry.linger);
    entry.linger = undefined;
    this.entries.delete(key);
    entry.state = 'closing';
    const resource = entry.resource as R;
    this.emit(key, { key, state: 'closing', resource });
    const done = Promise.resolve()
      .then(() => this.options.close(resource, key))
      .then(
        () => {
          entry.state = 'closed';
          this.emit(key, { key, state: 'closed', resource });
        },
        (err: unknown) => {
          entry.state = 'error';
          this.emit(key, { key, state: 'error', resource, error: asError(err) });
          throw err;
        },
      )
      .finally(() => {
        if (this.closing.get(key) === done) this.closing.delete(key);
      });
    this.closing.set(key, done);
    return done;
  }

  /** Keys with a resource opening, open or lingering. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** How many leases are held on `key` (0 when none, also while it lingers). */
  count(key: string): number {
    return this.entries.get(key)?.users.size ?? 0;
  }

  /** Who holds `key`, one entry per lease, in the order they acquired it. */
  users(key: string): string[] {
    return [...(this.entries.get(key)?.users.values() ?? [])];
  }

  /**
   * The state of `key`: `opening`, `open` (also while it lingers), `closing`, or `closed` when the
   * owner holds nothing of it.
   */
  state(key: string): ResourceState {
    const entry = this.entries.get(key);
    if (entry) return entry.state;
    return this.closing.has(key) ? 'closing' : 'closed';
  }

  /** The open resource of `key`, if there is one (also while it lingers). */
  resource(key: string): R | undefined {
    return this.entries.get(key)?.resource;
  }

  /** Resolves once no close of `key` is running (a lingering resource is still open). */
  async settled(key: string): Promise<void> {
    for (let c = this.closing.get(key); c; c = this.closing.get(key)) await c.catch(() => undefined);
  }

  /**
   * Calls `listener` on each state change of `key` (opening, open, closing, closed, error). Returns
   * the function that stops it. A listener that throws does not disturb the owner.
   */
  watch(key: string, listener: (change: StateChange<R>) => void): () => void {
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(key) === set) this.watchers.delete(key);
    };
  }

  private emit(key: string, change: StateChange<R>): void {
    for (const listener of [...(this.watchers.get(key) ?? [])]) {
      try {
        listener(change);
      } catch {
        // A watcher's failure is its own; the resource's life goes on.
      }
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The `version` of a resource opened from `config`, for {@link ResourceOwner.acquire}: the config as
 * JSON with its password replaced by a hash, so that a changed password still makes another version
 * while no secret is kept in the owner.
 */
export function configVersion<T extends { password?: string }>(config: T): string {
  const { password, ...rest } = config;
  const secret = createHash('sha256')
    .update(password ?? '')
    .digest('hex');
  return JSON.stringify({ ...rest, secret });
}
