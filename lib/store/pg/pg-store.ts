/**
 * A face store on PostgreSQL, shared by several Node-RED instances.
 *
 * Matching stays in memory: each instance keeps the people and their descriptor index (matcher.ts, the
 * same the NeDB store uses) and applies every change of every instance through its change feed
 * (feed.ts), in sequence order. A change made here is one transaction (its rows, its audit line and its
 * change number) and is applied here the same way as anyone else's: through the feed, so every
 * instance sees the same history in the same order and emits the same store events for it. Changes
 * run in batches, one at a time across the installation ({@link PgStore.batch}), so a check made
 * before a change (the duplicate-face check of an enrolment) holds on every instance.
 *
 * Deleting a person erases them on every instance: in one transaction their rows go, their audit lines
 * lose name and details and the erasure is recorded in `erasures`; every instance drops them from
 * memory as the change arrives; then the deleting instance runs the erasers (the event log, retained
 * MQTT topics) and rewrites the tables that held them (`VACUUM FULL`, so no copy stays in the table's
 * files), and only then removes the record. An erasure cut short is finished by the next delete of
 * the id or the next open of any instance.
 *
 * While the database is away, matching goes on from memory and every change is refused with
 * `EDB_DOWN` (nothing half-done); the feed catches up when it is back. A schema newer than this
 * FaceWatch knows is read and never written (`ESCHEMA_NEWER`).
 */
import path from 'node:path';
import { StoreBase } from '../store-base';
import type { PoolClient, PoolConfig } from 'pg';
import { Pool } from 'pg';
import { STORE_OFFLOAD_ROWS } from '../../types/defaults';
import { auditEntriesOf, type AuditAction } from '../audit';
import type { ImportReport } from '../report';
import { exportStore, importStore, type StoreExport, type TransferHost } from '../transfer';
import {
  formatGeneratedId,
  generatedIdNumber,
  sanitiseId,
  sanitiseMetadata,
  sanitiseName,
  toDescriptor,
} from '../codec';
import {
  enrolledAt,
  eventSample,
  publicPerson,
  sampleIdFor,
  type PersonRecord,
  type SampleRecord,
} from '../documents';
import { isStoreError, StoreError } from '../errors';
import { EraserSet } from '../erasers';
import { DEFAULT_MATCH_OPTIONS, type MatchOptions } from '../match';
import { Matcher } from '../matcher';
import type {
  Election,
  FaceStoreEvents,
  OpenStore,
  Person,
  PersonEraser,
  PersonInput,
  SampleInput,
  StoreAvailability,
  StoreTx,
} from '../types';
import type { PendingErasure } from '../journal';
import { quoteValue } from '../../shared/quote';
import { PgElection } from './election';
import { ChangeFeed, lastChange, recordChange, type Change } from './feed';
import {
  deletePersonRow,
  deleteSample,
  insertPerson,
  insertSample,
  readMeta,
  readPeople,
  readPerson,
  sampleImage,
  updatePersonRow,
  writeMeta,
  type PgMeta,
} from './people';
import { DEFAULT_SCHEMA, migrate, schemaIdentifier } from './schema';

/** How to open a store on PostgreSQL. */
export interface PgStoreOptions {
  /** node-postgres pool settings (`connectionString`, `user`, `password`, `max`, …). */
  connection: PoolConfig;
  /** The schema (default `facewatch`). */
  schema?: string;
  /** This instance's name, recorded with its changes and audit lines. */
  instance: string;
  /** The database as it may be shown (the URL without its password; see settings.ts); default the schema's name. */
  shown?: string;
  /**
   * The detection log's datafile on this machine; default `facewatch/<schema>-events/events.db` in the
   * working directory (the face-store node puts it in Node-RED's user directory).
   */
  eventsFile?: string;
  /** Default actor of the audit lines; default `unknown`. */
  actor?: string;
  match?: Partial<MatchOptions>;
  offloadRows?: number;
}

/** How long a change made here may take to come back through the feed before the call gives up. */
const APPLY_TIMEOUT_MS = 10_000;

/**
 * What a connection does when the database goes away, unless the settings say otherwise: a new
 * connection gives up after 5 s and a query after 15 s (a cut network answers nothing, and a change
 * must be refused, not hang), and TCP keepalive finds a dead peer.
 */
export const CONNECTION_DEFAULTS: Readonly<PoolConfig> = Object.freeze({
  connectionTimeoutMillis: 5000,
  query_timeout: 15_000,
  keepAlive: true,
});

/** SQLSTATE classes of a lost or refused connection (08), the server going down (57P0x). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string')
    return err instanceof Error && /timeout|terminated|Connection|ECONN|EPIPE/i.test(err.message);
  return /^(08|57P0)/.test(code) || /^E[A-Z]+$/.test(code);
}

export class PgStore extends StoreBase implements OpenStore {
  readonly backend = 'postgres';
  readonly schema: string;
  readonly location: string;
  readonly eventsFile: string;
  readonly instance: string;
  readonly defaults: MatchOptions;
  private readonly pool: Pool;
  /** The connection settings, for the connections of the feed and of elections. */
  private readonly connection: PoolConfig;
  protected readonly matcher: Matcher;
  private meta: PgMeta = { nextId: 1, modelId: null, dim: null };
  private feed!: ChangeFeed;
  private readonly actor: string;
  private closed = false;
  /** Why this instance may not write (a newer schema); undefined when it may. */
  private readOnly?: string;
  private readonly erasers = new EraserSet();
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Whether a person being erased here had events when their row went (the reference cascades), by
   * id: only then does finishing the erasure rewrite the events table, which may hold gigabytes of
   * pictures (the detection log's eraser rewrites it itself after pixelating their face elsewhere).
   */
  private readonly hadEvents = new Map<string, boolean>();
  /** The reachability last said through the `availability` event. */
  private toldDown: Date | null = null;
  /** Who applies changes of recurring visitors (see {@link onVisitorChange}). */
  private readonly visitorAppliers = new Set<(id: string) => Promise<void>>();

  private constructor(opts: PgStoreOptions, pool: Pool, connection: PoolConfig) {
    super();
    this.connection = connection;
    this.schema = opts.schema ?? DEFAULT_SCHEMA;
    schemaIdentifier(this.schema);
    this.instance = opts.instance;
    this.location = `${opts.shown ?? 'postgres'} (schema ${this.schema})`;
    this.eventsFile = path.resolve(
      opts.eventsFile ?? path.join('facewatch', `${this.schema}-events`, 'events.db'),
    );
    this.actor = opts.actor ?? 'unknown';
    this.pool = pool;
    this.defaults = { ...DEFAULT_MATCH_OPTIONS, ...opts.match };
    this.matcher = new Matcher(
      {
        file: `postgres schema ${this.schema}`,
        person: (id) => this.people.get(id),
        model: () => ({ modelId: this.meta.modelId, dim: this.meta.dim }),
      },
      this.defaults,
      opts.offloadRows ?? STORE_OFFLOAD_ROWS,
    );
  }

  /**
   * Connects, creates or upgrades the schema, loads every person (one consistent snapshot with its
   * change number) and starts the feed from that number.
   */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    // A batch holds one connection for its lock while its changes take another.
    const connection = { ...CONNECTION_DEFAULTS, ...opts.connection };
    connection.max = Math.max(2, connection.max ?? 10);
    const pool = new Pool(connection);
    // An idle client's error (the server went away) must not end the process; the feed reports it.
    pool.on('error', () => undefined);
    const store = new PgStore(opts, pool, connection);
    try {
      const c = await pool.connect();
      try {
        const state = await migrate(c, store.schema);
        if (!state.writable) store.readOnly = state.problem;
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const seq = await lastChange(c, store.schema);
        store.meta = await readMeta(c, store.schema);
        for (const p of await readPeople(c, store.schema)) store.people.set(p.id, p);
        await c.query('COMMIT');
        if (store.meta.dim) store.matcher.adopt(store.meta.dim);
        for (const p of store.people.values())
          for (const s of p.samples) store.matcher.index?.add(p.id, s.id, s.descriptor);
        store.feed = new ChangeFeed({
          connection,
          schema: store.schema,
          after: seq,
          apply: (change) => store.apply(change),
        });
        store.feed.on('down', (_err: Error, since: Date) => store.tellAvailability(since));
        store.feed.on('live', () => store.tellAvailability(null));
      } finally {
        c.release();
      }
      await store.feed.start();
      return store;
    } catch (err) {
      await store.feed?.close();
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /** The model of the store's descriptors; null until the first sample. */
  get modelId(): string | null {
    return this.meta.modelId;
  }

  get dim(): number | null {
    return this.meta.dim;
  }

  /** Why this instance refuses to write (a newer schema), else undefined. */
  get writeProblem(): string | undefined {
    return this.readOnly;
  }

  /** When the connection to the database was lost, while it is; null while connected. */
  get downSince(): Date | null {
    return this.feed.down;
  }

  /** The number of the last change applied here. */
  get seq(): number {
    return this.feed.seq;
  }

  /** The pool of connections to the database, shared with the detection log's events table. */
  database(): Pool {
    return this.pool;
  }

  /**
   * Elects one of the instances on this schema for `role`, on a connection of its own (see
   * election.ts); close it when done.
   */
  elect(role: string, pollMs?: number): Election {
    return new PgElection({ connection: this.connection, key: `${role}:${this.schema}`, pollMs });
  }

  /** A sample's face crop, read from the database. */
  async image(sampleId: string): Promise<Buffer | null> {
    return sampleImage(this.pool, this.schema, sampleId);
  }

  /** A sample's face crop of a person (read from the database); undefined when there is none. */
  async sampleImage(personId: string, sampleId: string): Promise<Buffer | undefined> {
    const known = this.getPerson(personId)?.samples.some((s) => s.id === sampleId);
    return known ? ((await this.image(sampleId)) ?? undefined) : undefined;
  }

  availability(): StoreAvailability {
    return { down: this.feed.down, ...(this.readOnly ? { readOnly: this.readOnly } : {}) };
  }

  /** Says a change of the database's reachability (once per change) to whoever listens. */
  private tellAvailability(down: Date | null): void {
    if ((down === null) === (this.toldDown === null)) return;
    this.toldDown = down;
    this.emitSafe('availability', this.availability());
  }

  /**
   * Runs `fn` as one batch across the installation: no other instance's batch runs meanwhile (a
   * session advisory lock of the schema), and before `fn` starts this instance has applied every change
   * committed so far, so a check `fn` makes against what this instance holds (a duplicate face, a
   * taken name) holds for every instance. The changes `fn` makes through `tx` are each their own
   * transaction, as outside a batch.
   */
  batch<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.assertOpen();
      if (this.readOnly) throw new StoreError('ESCHEMA_NEWER', this.readOnly);
      const lock = await this.connect();
      const key = `facewatch.batch:${this.schema}`;
      try {
        await lock.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
        await this.appliedUpTo(await lastChange(lock, this.schema));
        let open = true;
        const live =
          <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
          (...a: A): Promise<R> => {
            if (!open) return Promise.reject(new Error('a store transaction was used after its batch ended'));
            return f(...a);
          };
        const tx: StoreTx = {
          addPerson: live((input: PersonInput, sample?: SampleInput, actor?: string) =>
            this.txAddPerson(input, sample, actor),
          ),
          addSample: live((id: string, sample: SampleInput, actor?: string) =>
            this.txAddSample(id, sample, actor),
          ),
          updatePerson: live(
            (id: string, patch: { name?: string; metadata?: Record<string, unknown> }, actor?: string) =>
              this.txUpdatePerson(id, patch, actor),
          ),
          removeSample: live((id: string, sampleId: string, actor?: string) =>
            this.txRemoveSample(id, sampleId, actor),
          ),
          deletePerson: live((id: string, actor?: string) => this.txDeletePerson(id, actor)),
        };
        try {
          return await fn(tx);
        } finally {
          open = false;
        }
      } finally {
        const broken = await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).then(
          () => false,
          () => true,
        );
        lock.release(broken);
      }
    };
    // One batch at a time here too (the advisory lock is per connection, not per instance).
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async txAddPerson(input: PersonInput, sample?: SampleInput, actor?: string): Promise<Person> {
    const name = sanitiseName(input?.name);
    const metadata = sanitiseMetadata(input?.metadata);
    const given =
      input?.id !== undefined && input.id !== null && input.id !== '' ? sanitiseId(input.id) : null;
    const id = await this.change(async (c) => {
      const meta = await this.lockMeta(c);
      let id: string;
      if (given !== null) {
        id = given;
        const n = generatedIdNumber(id);
        if (n !== null && n >= meta.nextId) meta.nextId = n + 1;
      } else {
        let n = meta.nextId;
        while ((await readPerson(c, this.schema, formatGeneratedId(n))) !== null) n++;
        id = formatGeneratedId(n);
        meta.nextId = n + 1;
      }
      const now = new Date().toISOString();
      const s = sample ? this.prepareSample(meta, id, sample) : null;
      const rec: PersonRecord = {
        id,
        name,
        metadata,
        samples: s ? [s] : [],
        createdAt: enrolledAt(input?.createdAt, now),
        updatedAt: now,
      };
      try {
        await insertPerson(c, this.schema, rec, new Map(s && sample?.crop ? [[s.id, sample.crop]] : []));
      } catch (err) {
        if ((err as { code?: string }).code === '23505')
          throw new StoreError('EEXISTS', `a person with id ${id} already exists`, { id });
        throw err;
      }
      await writeMeta(c, this.schema, meta);
      await this.audit(c, 'enrol', actor, rec, { samples: rec.samples.length, source: s?.source });
      return { personId: id, value: id };
    });
    return this.shown(id);
  }

  private async txAddSample(id: string, sample: SampleInput, actor?: string): Promise<Person> {
    await this.change(async (c) => {
      const p = await this.lockPerson(c, id);
      const meta = await this.lockMeta(c);
      const s = this.prepareSample(meta, p.id, sample);
      const position = await this.nextPosition(c, p.id);
      await insertSample(c, this.schema, p.id, s, position, sample.crop);
      await writeMeta(c, this.schema, meta);
      await updatePersonRow(c, this.schema, { ...p, updatedAt: new Date().toISOString() });
      await this.audit(c, 'add-sample', actor, p, { samples: p.samples.length + 1, source: s.source });
      return { personId: p.id, value: undefined };
    });
    return this.shown(id);
  }

  private async txUpdatePerson(
    id: string,
    patch: { name?: string; metadata?: Record<string, unknown> },
    actor?: string,
  ): Promise<Person> {
    await this.change(async (c) => {
      const p = await this.lockPerson(c, id);
      const next: PersonRecord = {
        ...p,
        name: patch.name !== undefined ? sanitiseName(patch.name) : p.name,
        metadata: patch.metadata !== undefined ? sanitiseMetadata(patch.metadata) : p.metadata,
        updatedAt: new Date().toISOString(),
      };
      await updatePersonRow(c, this.schema, next);
      const changed = [
        patch.name !== undefined ? 'name' : '',
        patch.metadata !== undefined ? 'metadata' : '',
      ];
      await this.audit(c, 'update', actor, next, {
        changed: changed.filter(Boolean),
        ...(next.name !== p.name ? { previousName: p.name } : {}),
      });
      return { personId: p.id, value: undefined };
    });
    return this.shown(id);
  }

  private async txRemoveSample(id: string, sampleId: string, actor?: string): Promise<Person> {
    await this.change(async (c) => {
      const p = await this.lockPerson(c, id);
      if (!p.samples.some((s) => s.id === sampleId) || !(await deleteSample(c, this.schema, sampleId)))
        throw new StoreError('ENOTFOUND', `person ${p.id} has no sample ${quoteValue(sampleId)}`, {
          id: p.id,
          sampleId,
        });
      await updatePersonRow(c, this.schema, { ...p, updatedAt: new Date().toISOString() });
      await this.audit(c, 'remove-sample', actor, p, { samples: p.samples.length - 1 });
      return { personId: p.id, value: undefined };
    });
    return this.shown(id);
  }

  private async txDeletePerson(rawId: string, actor?: string): Promise<boolean> {
    const id = sanitiseId(rawId);
    const entry = await this.change(async (c) => {
      const t = schemaIdentifier(this.schema);
      const pending = (
        await c.query<{ name: string; since: Date }>(
          `SELECT name, since FROM ${t}.erasures WHERE id = $1 FOR UPDATE`,
          [id],
        )
      ).rows[0];
      const row = (
        await c.query<{ name: string }>(`SELECT name FROM ${t}.people WHERE id = $1 FOR UPDATE`, [id])
      ).rows[0];
      if (!row && !pending) return { personId: null, value: null };
      const e: PendingErasure = pending
        ? { id, name: pending.name, since: pending.since.toISOString() }
        : { id, name: row.name, since: new Date().toISOString() };
      if (!pending)
        await c.query(`INSERT INTO ${t}.erasures (id, name, since) VALUES ($1, $2, $3)`, [
          id,
          e.name,
          e.since,
        ]);
      if (row) {
        const events = await c.query(`SELECT 1 FROM ${t}.events WHERE person_id = $1 LIMIT 1`, [id]);
        this.hadEvents.set(id, (events.rowCount ?? 0) > 0);
        await deletePersonRow(c, this.schema, id);
        await c.query(`UPDATE ${t}.audit SET name = NULL, details = NULL WHERE person_id = $1`, [id]);
        await this.audit(c, 'delete', actor, { id }, undefined);
      }
      return { personId: row ? id : null, value: e };
    });
    if (!entry) return false;
    await this.finishErasure(entry);
    return true;
  }

  /** Registers something that keeps copies of people's data, to be erased with them ({@link EraserSet.add}). */
  addEraser(name: string, eraser: PersonEraser): () => void {
    return this.erasers.add(name, eraser);
  }

  /** The erasures recorded and not finished, on any instance, oldest first. */
  async pendingErasures(): Promise<PendingErasure[]> {
    const { rows } = await this.pool.query<{ id: string; name: string; since: Date }>(
      `SELECT id, name, since FROM ${schemaIdentifier(this.schema)}.erasures ORDER BY since, id`,
    );
    return rows.map((r) => ({ id: r.id, name: r.name, since: r.since.toISOString() }));
  }

  // ---------------------------------------------------------------- whole store: transfer.ts

  /** The whole store as JSON, the same format as a datafile's export (crops read from the database). */
  exportJson(opts: { images?: boolean; actor?: string } = {}): Promise<StoreExport> {
    return exportStore(this.transfer(), opts);
  }

  /**
   * Imports an export (of either backend): ids, samples, descriptors and model ids kept; a person
   * whose id exists is a duplicate and left as it is. One batch across the installation.
   */
  importJson(data: unknown, actor?: string): Promise<ImportReport> {
    return importStore(this.transfer(), data, actor);
  }

  /** Appends an audit line (bulk imports, the command line); never pass descriptors. */
  async recordAudit(action: AuditAction, details: Record<string, unknown>, actor?: string): Promise<void> {
    if (this.readOnly) throw new StoreError('ESCHEMA_NEWER', this.readOnly);
    const c = await this.connect();
    try {
      await this.audit(c, action, actor, {}, details);
    } finally {
      c.release();
    }
  }

  private transfer(): TransferHost {
    const pending: Array<Promise<unknown>> = [];
    return {
      people: this.people,
      meta: () => this.meta,
      assertOpen: () => this.assertOpen(),
      batch: (fn) => this.batch(fn),
      sampleImage: (personId, sampleId) => this.sampleImage(personId, sampleId),
      raiseNextId: (nextId) =>
        this.change(async (c) => {
          await c.query(
            `UPDATE ${schemaIdentifier(this.schema)}.store_meta SET next_id = GREATEST(next_id, $1)`,
            [nextId],
          );
          return { personId: null, value: undefined, meta: true };
        }),
      log: (action, actor, p, details) => {
        pending.push(
          this.connect().then(async (c) => {
            try {
              await this.audit(c, action, actor, p, details);
            } finally {
              c.release();
            }
          }),
        );
      },
      flushAudit: async () => {
        await Promise.all(pending.splice(0));
      },
      readAudit: async () => {
        await Promise.all(pending.splice(0));
        const { rows } = await this.pool.query<{
          time: Date;
          action: string;
          person_id: string | null;
          name: string | null;
          actor: string;
          instance: string;
          details: Record<string, unknown> | null;
        }>(
          `SELECT time, action, person_id, name, actor, instance, details
           FROM ${schemaIdentifier(this.schema)}.audit ORDER BY seq`,
        );
        return auditEntriesOf(
          rows.map((r) => ({
            time: r.time.toISOString(),
            action: r.action,
            id: r.person_id ?? undefined,
            name: r.name ?? undefined,
            actor: r.actor,
            instance: r.instance,
            details: r.details ?? undefined,
          })),
        );
      },
      writeAudit: async (entries) => {
        if (this.readOnly) throw new StoreError('ESCHEMA_NEWER', this.readOnly);
        const c = await this.connect();
        try {
          // One statement, all or nothing, in the order given (the audit's seq follows it).
          await c.query(
            `INSERT INTO ${schemaIdentifier(this.schema)}.audit (time, action, person_id, name, actor, instance, details)
             SELECT time, action, person_id, name, actor, instance, details
             FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
                  WITH ORDINALITY AS r(time, action, person_id, name, actor, instance, details, n)
             ORDER BY n`,
            [
              entries.map((e) => e.time),
              entries.map((e) => e.action),
              entries.map((e) => e.id ?? null),
              entries.map((e) => e.name ?? null),
              entries.map((e) => e.actor),
              // A line of a datafile's store: no instance made it.
              entries.map((e) => e.instance ?? 'imported'),
              entries.map((e) => (e.details ? JSON.stringify(e.details) : null)),
            ],
          );
        } finally {
          c.release();
        }
      },
    };
  }

  /** Finishes every pending erasure; resolves to the ids finished, rejects naming those that failed. */
  async finishPendingErasures(_actor?: string): Promise<string[]> {
    if (this.readOnly) throw new StoreError('ESCHEMA_NEWER', this.readOnly);
    const finished: string[] = [];
    const failed: string[] = [];
    for (const e of await this.pendingErasures()) {
      try {
        await this.finishErasure(e);
        finished.push(e.id);
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
    if (failed.length) throw new StoreError('EERASURE', failed.join(' | '), { finished });
    return finished;
  }

  /** Stops the feed, the search worker and the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed.close();
    await this.matcher.close();
    await this.pool.end().catch(() => undefined);
  }

  // ---------------------------------------------------------------- inside

  /** The steps of a recorded erasure after its transaction: erasers, the tables rewritten, the record removed. */
  private async finishErasure(e: PendingErasure): Promise<void> {
    const t = schemaIdentifier(this.schema);
    let step = 'the erasers';
    try {
      const failed = await this.erasers.run(e);
      if (failed.length) throw new Error(failed.join('; '));
      step = 'rewriting the tables';
      // Outside a transaction (VACUUM cannot run in one): the deleted rows' bytes leave the tables' files.
      // Their events went with the person (the reference cascades): the events table is rewritten
      // when they had any (or when that is not known here: an erasure left pending); their face in
      // others' frames went through the detection log's eraser, which rewrote it then.
      const events = this.hadEvents.get(e.id) ?? true;
      const tables = ['people', 'samples', 'audit', ...(events ? ['events'] : []), 'erasures'];
      await this.pool.query(`VACUUM FULL ${tables.map((x) => `${t}.${x}`).join(', ')}`);
      this.hadEvents.delete(e.id);
      step = 'the erasure record';
      await this.pool.query(`DELETE FROM ${t}.erasures WHERE id = $1`, [e.id]);
      await this.pool.query(`VACUUM FULL ${t}.erasures`);
    } catch (err) {
      throw new StoreError(
        'EERASURE',
        `the erasure of ${e.id} is not finished (${step}): ${(err as Error).message}. ` +
          `It stays recorded and is finished by deleting ${e.id} again or at the next start of any instance.`,
        { id: e.id, step },
      );
    }
  }

  protected assertOpen(): void {
    if (this.closed)
      throw new StoreError('ESTORE_CLOSED', `face store on postgres schema ${this.schema} is closed`);
  }

  /** The person as this instance holds them after its change came back through the feed. */
  private shown(id: string): Person {
    const p = this.people.get(sanitiseId(id));
    if (!p) throw new StoreError('ENOTFOUND', `no person with id ${id}`, { id });
    return publicPerson(p);
  }

  /**
   * Runs one change as one transaction with its change number, then waits until this instance has
   * applied it through the feed. `fn` resolves to the person it changed (null: nothing changed) and
   * the value to return.
   */
  private async change<T>(
    fn: (
      c: PoolClient,
    ) => Promise<{ personId: string | null; value: T; meta?: boolean; visitors?: string[] }>,
  ): Promise<T> {
    this.assertOpen();
    if (this.readOnly) throw new StoreError('ESCHEMA_NEWER', this.readOnly);
    const c = await this.connect();
    let seq = 0;
    let result: { personId: string | null; value: T; meta?: boolean; visitors?: string[] };
    try {
      await c.query('BEGIN');
      result = await fn(c);
      if (result.personId !== null || result.meta)
        seq = await recordChange(c, this.schema, {
          kind: result.meta ? 'meta' : 'person',
          personId: result.personId,
          instance: this.instance,
        });
      for (const v of new Set(result.visitors ?? []))
        seq = await recordChange(c, this.schema, { kind: 'visitor', personId: v, instance: this.instance });
      await c.query('COMMIT');
    } catch (err) {
      // A connection that cannot even roll back is broken: the pool drops it instead of reusing it.
      const broken = await c.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      c.release(broken);
      if (!isStoreError(err) && isConnectionError(err))
        throw new StoreError(
          'EDB_DOWN',
          `the database connection was lost during the change (${(err as Error).message}); ` +
            'it was not applied unless it had already committed (the change feed brings it then)',
          {},
        );
      throw err;
    }
    c.release();
    if (seq) await this.appliedUpTo(seq);
    return result.value;
  }

  /** Resolves when the feed has applied change `seq` (it is committed: the feed will see it). */
  private async appliedUpTo(seq: number): Promise<void> {
    const started = Date.now();
    while (this.feed.seq < seq) {
      if (Date.now() - started > APPLY_TIMEOUT_MS)
        throw new StoreError(
          'EDB_DOWN',
          `the change was saved (number ${seq}) but has not reached this instance yet: the database connection is down`,
          { seq },
        );
      await this.feed.catchUp().catch(() => undefined);
      if (this.feed.seq < seq) await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A connection of the pool; `EDB_DOWN` when none can be had. */
  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new StoreError(
        'EDB_DOWN',
        `the database is unreachable (${(err as Error).message}); nothing was changed`,
        {},
      );
    }
  }

  /** The meta row, locked until the transaction ends (ids and the model are decided one at a time). */
  private async lockMeta(c: PoolClient): Promise<PgMeta> {
    const { rows } = await c.query<{ next_id: string; model_id: string | null; dim: number | null }>(
      `SELECT next_id, model_id, dim FROM ${schemaIdentifier(this.schema)}.store_meta FOR UPDATE`,
    );
    const r = rows[0];
    return { nextId: Number(r.next_id), modelId: r.model_id, dim: r.dim };
  }

  /** A person as the database has them, locked until the transaction ends; `ENOTFOUND` when none. */
  private async lockPerson(c: PoolClient, rawId: string): Promise<PersonRecord> {
    const id = sanitiseId(rawId);
    await c.query(`SELECT 1 FROM ${schemaIdentifier(this.schema)}.people WHERE id = $1 FOR UPDATE`, [id]);
    const p = await readPerson(c, this.schema, id);
    if (!p)
      throw new StoreError('ENOTFOUND', `no person with id ${id} in postgres schema ${this.schema}`, { id });
    return p;
  }

  private async nextPosition(c: PoolClient, personId: string): Promise<number> {
    const { rows } = await c.query<{ n: number }>(
      `SELECT coalesce(max(position) + 1, 0)::int AS n FROM ${schemaIdentifier(this.schema)}.samples WHERE person_id = $1`,
      [personId],
    );
    return rows[0].n;
  }

  /** A new sample checked against the store's model (adopting it in `meta` when the store has none). */
  private prepareSample(meta: PgMeta, personId: string, input: SampleInput): SampleRecord {
    if (!input || typeof input.modelId !== 'string' || !input.modelId)
      throw new StoreError('EDESCRIPTOR', 'a sample needs the id of the model that computed its descriptor');
    if (meta.modelId && input.modelId !== meta.modelId)
      throw new StoreError(
        'EMODEL_MISMATCH',
        `descriptor was made by model ${input.modelId}, but the face store holds descriptors of model ${meta.modelId}; ` +
          'refusing to mix them (run `facewatch reembed` to move the store to the new model)',
        { modelId: input.modelId, storeModelId: meta.modelId },
      );
    const descriptor = toDescriptor(input.descriptor, meta.dim);
    if (!meta.modelId) {
      meta.modelId = input.modelId;
      meta.dim = descriptor.length;
    }
    // Sample ids are the table's key: an import's id that another sample holds is replaced.
    const id = sampleIdFor(input.id, (s) =>
      [...this.people.values()].some((p) => p.samples.some((x) => x.id === s)),
    );
    return {
      id,
      descriptor,
      modelId: input.modelId,
      image: input.crop ? `${personId}/${id}.jpg` : null,
      source: typeof input.source === 'string' ? input.source.slice(0, 500) : '',
      time: input.time ?? new Date().toISOString(),
    };
  }

  private async audit(
    c: PoolClient,
    action: AuditAction,
    actor: string | undefined,
    p: { id?: string; name?: string },
    details: Record<string, unknown> | undefined,
  ): Promise<void> {
    await c.query(
      `INSERT INTO ${schemaIdentifier(this.schema)}.audit (action, person_id, name, actor, instance, details)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        action,
        p.id ?? null,
        p.name ?? null,
        actor ?? this.actor,
        this.instance,
        details ? JSON.stringify(details) : null,
      ],
    );
  }

  /**
   * Runs a change of the store's recurring visitors (lib/events/pg-visitors.ts) as one transaction:
   * `fn` writes it and names the visitors it changed; each is announced through the change feed, and
   * the call resolves once this instance has applied them (see {@link onVisitorChange}). EDB_DOWN when
   * the database is unreachable, ESCHEMA_NEWER when this instance may not write.
   */
  changeVisitors<T>(fn: (c: PoolClient) => Promise<{ visitors: string[]; value: T }>): Promise<T> {
    return this.change(async (c) => ({ personId: null, ...(await fn(c)) }));
  }

  /**
   * Calls `fn` with every recurring visitor changed by any instance, in the feed's order (this
   * instance's own changes included, before {@link changeVisitors} resolves). A rejection other than
   * a lost connection is warned about and skipped, so visitors never hold up changes to people.
   * Returns the function that stops it.
   */
  onVisitorChange(fn: (id: string) => Promise<void>): () => void {
    this.visitorAppliers.add(fn);
    return () => this.visitorAppliers.delete(fn);
  }

  /** Applies one change of any instance (the feed calls it in order): the person as the database has them now. */
  private async apply(change: Change): Promise<void> {
    if (change.kind === 'visitor') {
      if (!change.personId) return;
      for (const fn of this.visitorAppliers)
        await fn(change.personId).catch((err: unknown) => {
          if (isConnectionError(err)) throw err;
          process.emitWarning(
            `applying the change of visitor ${change.personId} on ${this.location} failed: ${(err as Error).message}`,
          );
        });
      return;
    }
    if (change.kind === 'meta' || !change.personId) {
      await this.refreshMeta();
      return;
    }
    const id = change.personId;
    const now = await readPerson(this.pool, this.schema, id);
    if (this.meta.modelId === null && now?.samples.length) await this.refreshMeta();
    const before = this.people.get(id);
    if (before) this.matcher.index?.removePerson(id);
    if (!now) {
      this.people.delete(id);
      if (before) {
        const person = publicPerson(before);
        for (const s of before.samples) this.emitSafe('sample-removed', { person, sample: eventSample(s) });
        this.emitSafe('person-deleted', person);
        for (const s of before.samples) s.descriptor.fill(0);
      }
      return;
    }
    this.people.set(id, now);
    for (const s of now.samples) this.matcher.index?.add(id, s.id, s.descriptor);
    const person = publicPerson(now);
    const had = new Set(before?.samples.map((s) => s.id));
    const has = new Set(now.samples.map((s) => s.id));
    if (!before) this.emitSafe('person-added', person);
    for (const s of before?.samples ?? [])
      if (!has.has(s.id)) this.emitSafe('sample-removed', { person, sample: eventSample(s) });
    for (const s of now.samples)
      if (!had.has(s.id)) this.emitSafe('sample-added', { person, sample: eventSample(s) });
    if (before) this.emitSafe('person-updated', person);
  }

  private async refreshMeta(): Promise<void> {
    this.meta = await readMeta(this.pool, this.schema);
    if (this.meta.dim) this.matcher.adopt(this.meta.dim);
  }

  private emitSafe<K extends keyof FaceStoreEvents>(event: K, ...args: FaceStoreEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: FaceStoreEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      process.emitWarning(`face store listener for ${event} failed: ${(err as Error).message}`);
    }
  }
}
