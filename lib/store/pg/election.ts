/**
 * One instance of the installation elected for a role (publishing Home Assistant's discovery of the
 * people, say): whoever holds a session advisory lock of the role on its own connection. The others
 * try for it every `pollMs`; a leader checks its connection as often, and steps down when it fails,
 * so a leader cut off from the database stops leading within a poll, and the lock is released with
 * the session of a leader that stopped or died (PostgreSQL ends the session when the connection goes).
 */
import { EventEmitter } from 'node:events';
import { Client, type ClientConfig } from 'pg';
import type { Election } from '../types';

/** How often a follower tries for the lock and a leader checks its connection, by default. */
export const ELECTION_POLL_MS = 2000;

export interface PgElectionOptions {
  connection: ClientConfig;
  /** The lock's key: a role and the schema (`mqtt-discovery:facewatch/facewatch`). */
  key: string;
  pollMs?: number;
}

export class PgElection extends EventEmitter<{ change: [boolean] }> implements Election {
  private client: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private leading = false;
  private readonly pollMs: number;

  constructor(private readonly opts: PgElectionOptions) {
    super();
    this.pollMs = opts.pollMs ?? ELECTION_POLL_MS;
    this.schedule(0);
  }

  /** Whether this instance holds the role now. */
  get leader(): boolean {
    return this.leading;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick().then(
        () => this.schedule(this.pollMs),
        () => this.schedule(this.pollMs),
      );
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.leading) await client.query('SELECT 1');
      else {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
          this.opts.key,
        ]);
        if (r.rows[0]?.ok === true) this.set(true);
      }
    } catch {
      // The connection failed: whatever it held is gone (or will be, with its session).
      this.drop();
    }
  }

  private async connect(): Promise<Client> {
    const client = new Client({ ...this.opts.connection, query_timeout: this.pollMs * 2 });
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    client.on('end', () => {
      if (this.client === client) this.drop();
    });
    try {
      await client.connect();
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('closed');
    }
    this.client = client;
    return client;
  }

  /** Gives up the connection, and the role with it. */
  private drop(): void {
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end().catch(() => undefined);
    }
    this.set(false);
  }

  private set(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (!this.closed) this.emit('change', leading);
  }

  /** Steps down (the session ends, and the lock with it) and stops trying. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    this.leading = false;
    this.removeAllListeners();
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
