/**
 * The change feed of a face store shared on PostgreSQL: how every instance learns of every change to
 * people, in order, and never stays stale.
 *
 * A change is written with {@link recordChange} inside the transaction that makes it: it takes the next
 * sequence number under a transaction-level advisory lock (so numbers commit in the order they are
 * taken and a reader never sees 7 before 6 commits) and announces it with `pg_notify` in the same
 * transaction (PostgreSQL delivers a notification only when its transaction commits).
 *
 * A {@link ChangeFeed} listens on a connection of its own and applies changes strictly in sequence
 * order: a notification is only a hint to read `changes` from the last number it applied, so a missed
 * notification, a dropped connection or a number seen out of order all end in the same catch-up. When
 * its connection drops it reconnects (with a pause growing to 2 s) and catches up before it says it is live.
 */
import { EventEmitter } from 'node:events';
import type { ClientConfig } from 'pg';
import { Client } from 'pg';
import { schemaIdentifier, type SqlClient } from './schema';

/** The notification channel of every FaceWatch schema; the payload is `<schema>:<seq>`. */
export const CHANGE_CHANNEL = 'facewatch_changes';

/** What a change did. */
export type ChangeKind = 'person' | 'meta' | 'visitor';

/** One numbered change. */
export interface Change {
  seq: number;
  kind: ChangeKind;
  /**
   * The person it changed (added, renamed, a sample added or removed, erased); for `visitor`, the
   * recurring visitor (lib/events/pg-visitors.ts); null for `meta`.
   */
  personId: string | null;
  /** The instance that made it. */
  instance: string;
}

/**
 * Records a change in the transaction that makes it and announces it; resolves to its number. Call it
 * inside `BEGIN … COMMIT` on `client`, after the change's own writes.
 */
export async function recordChange(
  client: SqlClient,
  schema: string,
  change: Omit<Change, 'seq'>,
): Promise<number> {
  const id = schemaIdentifier(schema);
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`facewatch.changes:${schema}`]);
  const { rows } = await client.query(
    `INSERT INTO ${id}.changes (seq, kind, person_id, instance)
     SELECT coalesce(max(seq), 0) + 1, $1, $2, $3 FROM ${id}.changes
     RETURNING seq`,
    [change.kind, change.personId, change.instance],
  );
  const seq = Number(rows[0].seq);
  await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, `${schema}:${seq}`]);
  return seq;
}

/** The changes after `seq`, in order (at most `limit`). */
export async function changesSince(
  client: SqlClient,
  schema: string,
  seq: number,
  limit = 1000,
): Promise<Change[]> {
  const id = schemaIdentifier(schema);
  const { rows } = await client.query(
    `SELECT seq, kind, person_id, instance FROM ${id}.changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
    [seq, limit],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    kind: r.kind as ChangeKind,
    personId: (r.person_id as string | null) ?? null,
    instance: String(r.instance),
  }));
}

/** The number of the newest change (0 for none). */
export async function lastChange(client: SqlClient, schema: string): Promise<number> {
  const { rows } = await client.query(
    `SELECT coalesce(max(seq), 0) AS seq FROM ${schemaIdentifier(schema)}.changes`,
  );
  return Number(rows[0].seq);
}

/** The feed's events. */
export interface ChangeFeedEvents {
  /** Caught up (after the start or a reconnection): every change up to `seq` applied. */
  live: [seq: number];
  /** The connection dropped; the feed reconnects and catches up. `since` is when it was lost. */
  down: [err: Error, since: Date];
  /** An apply failed: the change is tried again at the next catch-up (nothing after it is applied). */
  failed: [err: Error];
}

/** How a feed connects and what it does with each change. */
export interface ChangeFeedOptions {
  /** node-postgres client settings of the feed's own connection. */
  connection: ClientConfig;
  schema: string;
  /** The last change already applied (read with the data at load). */
  after: number;
  /** Applies one change; the next waits for it. A rejection stops the catch-up there (tried again later). */
  apply(change: Change): Promise<void>;
  /** Pause before the first reconnection, doubled up to 2 s; default 100 ms. */
  retryMs?: number;
}

/** Listens for the changes of one schema and applies them in order. Start with {@link start}. */
export class ChangeFeed extends EventEmitter<ChangeFeedEvents> {
  private client: Client | null = null;
  private applied: number;
  private catching: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private downSince: Date | null = null;
  private retry: NodeJS.Timeout | null = null;
  private readonly schema: string;

  constructor(private readonly opts: ChangeFeedOptions) {
    super();
    this.schema = opts.schema;
    schemaIdentifier(opts.schema);
    this.applied = opts.after;
  }

  /** The number of the last change applied. */
  get seq(): number {
    return this.applied;
  }

  /** When the feed's connection was lost, while it is; null while it is connected. */
  get down(): Date | null {
    return this.downSince;
  }

  /** Connects, listens and catches up; resolves when live. Rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Reads and applies every change after the last applied (one catch-up at a time). */
  catchUp(): Promise<void> {
    if (this.catching) {
      this.again = true;
      return this.catching;
    }
    this.catching = (async () => {
      try {
        do {
          this.again = false;
          const client = this.client;
          if (!client) return;
          for (;;) {
            const batch = await changesSince(client, this.schema, this.applied);
            if (!batch.length) break;
            for (const change of batch) {
              await this.opts.apply(change);
              this.applied = change.seq;
            }
          }
        } while (this.again && !this.closed);
      } finally {
        this.catching = null;
      }
    })();
    return this.catching;
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    await this.catching?.catch(() => undefined);
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client(this.opts.connection);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the connection to PostgreSQL ended')));
    client.on('notification', (n) => {
      if (n.channel !== CHANGE_CHANNEL || !n.payload) return;
      const sep = n.payload.lastIndexOf(':');
      if (n.payload.slice(0, sep) !== this.schema) return;
      if (Number(n.payload.slice(sep + 1)) <= this.applied) return;
      // A catch-up under way reads this change too (and says itself if it fails).
      if (this.catching) {
        this.again = true;
        return;
      }
      this.catchUp().catch((err: Error) => {
        this.emit('failed', err);
        // Nothing else may come to trigger the next try: try again on a timer.
        if (this.client === client) this.retryCatchUp(client);
      });
    });
    try {
      await client.connect();
      // Listen first, then read: a change committed in between is both read and announced, never lost.
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    try {
      await this.catchUp();
    } catch (err) {
      // A dropped connection is lost()'s to handle; a change that could not be applied is tried again.
      if (this.client !== client) throw err;
      this.emit('failed', err as Error);
      this.retryCatchUp(client);
      return;
    }
    this.downSince = null;
    this.emit('live', this.applied);
  }

  /** Tries a failed catch-up again on the same connection, until it succeeds or the connection goes. */
  private retryCatchUp(client: Client, pause = this.opts.retryMs ?? 100): void {
    const timer = setTimeout(() => {
      if (this.client !== client || this.closed) return;
      this.catchUp().then(
        () => {
          this.downSince = null;
          this.emit('live', this.applied);
        },
        (err: Error) => {
          if (this.client !== client) return;
          this.emit('failed', err);
          this.retryCatchUp(client, Math.min(pause * 2, 2000));
        },
      );
    }, pause);
    timer.unref();
  }

  private lost(client: Client, err: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    this.downSince ??= new Date();
    this.emit('down', err, this.downSince);
    this.reconnect(this.opts.retryMs ?? 100);
  }

  private reconnect(pause: number): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch(() => this.reconnect(Math.min(pause * 2, 2000)));
    }, pause);
    this.retry.unref();
  }
}
