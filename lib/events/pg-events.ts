/**
 * The detection events of an installation in PostgreSQL: the `events` table of a face store's schema
 * (lib/store/pg/schema.ts, versions 2 to 6), written by every instance, read by every Face Library.
 *
 * An event is its JSON (`event`), its plain frame (`snapshot`), face crop (`crop`) and the other crops
 * of its passage (`samples`, schema version 6) as bytea, with the columns queries look at. Its id is the one the recording instance gave it: writing an event
 * twice writes it once (a lost answer, an instance that stopped before it knew), so instances can
 * write from an outbox without coordination. `person_id` references `people`: deleting a person
 * deletes their events in the same transaction, and an event of someone deleted meanwhile cannot be
 * written (it is reported as erased, not stored). An event's recurring visitor (`visitor_id`) is
 * checked the same way when it is written: one that left meanwhile is refused with why.
 *
 * Retention and the disk cap run once for the installation: the instance that takes the schema's
 * sweep lock (a session advisory lock, tried, never waited for) sweeps; the others skip.
 */
import type { Pool, PoolClient } from 'pg';
import { schemaIdentifier } from '../store/pg/schema';
import { EVENTS } from '../types/defaults';
import type { DetectionEvent } from '../types/events';
import {
  DAY_MS,
  isoTime,
  queryPage,
  toMs,
  type EventLogSettings,
  type EventQuery,
  type StatEntry,
  type SweepReport,
} from './log';
import { pixelate } from './snapshot';
import type { VisitorFate } from './visitors';

/** What writing one event did. */
export type EventWrite = 'written' | 'already' | 'erased';

/** An event row as read back. */
interface EventRow {
  event: DetectionEvent;
  instance: string;
}

/** The event as the log hands it out: its JSON, with the instance that recorded it. */
function eventOf(r: EventRow): DetectionEvent {
  return { ...r.event, instance: r.instance };
}

/** The people named in an event's frame (its own person included). */
export function faceIdsOf(e: DetectionEvent): string[] {
  const ids = new Set<string>();
  if (e.person) ids.add(e.person.id);
  for (const f of e.faces ?? []) if (f.person) ids.add(f.person.id);
  return [...ids];
}

/** The columns an event is written into, in the order of {@link rowOf}. */
const COLUMNS =
  'id, ts, camera, instance, person_id, known, face_ids, visitor_id, event, snapshot, crop, samples';
const NCOLUMNS = 12;

/** An event's pictures as written: its frame, its face crop, the other crops of its passage. */
export interface EventPictures {
  snapshot?: Buffer | null;
  crop?: Buffer | null;
  samples?: Buffer[] | null;
}

/** An event's row: its columns' values (the event's JSON without the instance, which has a column). */
function rowOf(e: DetectionEvent, instance: string, pictures: EventPictures): unknown[] {
  const { instance: _ignored, ...body } = e;
  void _ignored;
  return [
    e.id,
    e.time,
    e.camera,
    instance,
    e.person?.id ?? null,
    e.known,
    faceIdsOf(e),
    e.visitor?.id ?? null,
    JSON.stringify(body),
    pictures.snapshot ?? null,
    pictures.crop ?? null,
    pictures.samples?.length ? pictures.samples : null,
  ];
}

/** An event to write, with the instance that recorded it and its pictures. */
export interface EventItem {
  event: DetectionEvent;
  instance: string;
  pictures: EventPictures;
}

/**
 * Events were not written: visitors they carry left meanwhile; `gone` says why for each (null: its
 * row is gone, expired or never shared).
 */
export class VisitorsGone extends Error {
  constructor(readonly gone: Map<string, VisitorFate | null>) {
    super(`visitors ${[...gone.keys()].join(', ')} left before their events were written`);
  }
}

/** The events table of one schema, through a pool. */
export class PgEvents {
  private readonly t: string;

  constructor(
    private readonly pool: Pool,
    readonly schema: string,
  ) {
    this.t = `${schemaIdentifier(schema)}.events`;
  }

  /**
   * Writes an event with its pictures, once: `already` when an event of this id is there (it was
   * written before), `erased` when its person is not in the store (deleted meanwhile).
   */
  async write(e: DetectionEvent, instance: string, pictures: EventPictures): Promise<EventWrite> {
    const [w] = await this.writeMany([{ event: e, instance, pictures }]);
    return w;
  }

  /**
   * Writes events with their pictures in one statement, in order, each once: resolves to what each
   * write did, as {@link write} says it. When one names a person the store does not hold (deleted
   * meanwhile) the statement fails as a whole, and they are written one by one instead.
   *
   * Events that carry a recurring visitor are written in one transaction that first locks their
   * visitors' rows (shared: writers of events do not wait for each other): when a visitor left
   * meanwhile (merged, enrolled, forgotten, expired) nothing is written and {@link VisitorsGone} says
   * why, for the caller to relabel or erase those events first. A visitor's change locks its row too,
   * so an event is either written before it (and changed with the others) or learns of it here.
   */
  async writeMany(items: EventItem[]): Promise<EventWrite[]> {
    const visitors = [...new Set(items.flatMap((i) => (i.event.visitor ? [i.event.visitor.id] : [])))];
    if (!visitors.length) return this.insertMany(this.pool, items);
    return this.inTransaction(async (c) => {
      const { rows } = await c.query<{ id: string; gone: VisitorFate | null }>(
        `SELECT id, gone FROM ${schemaIdentifier(this.schema)}.visitors WHERE id = ANY($1) ORDER BY id FOR SHARE`,
        [visitors],
      );
      const here = new Map(rows.map((r) => [r.id, r.gone]));
      const gone = new Map<string, VisitorFate | null>();
      for (const v of visitors) if (!here.has(v) || here.get(v)) gone.set(v, here.get(v) ?? null);
      if (gone.size) throw new VisitorsGone(gone);
      return this.insertMany(c, items);
    });
  }

  /** Runs `fn` in one transaction on a connection of its own: committed, or rolled back when it throws. */
  private async inTransaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * The rows' statement; on a client in a transaction a person deleted meanwhile fails it (the
   * caller tries again after erasing them), through the pool the events are written one by one.
   */
  private async insertMany(db: Pool | PoolClient, items: EventItem[]): Promise<EventWrite[]> {
    // One statement of rows of parameters (binary, as node-postgres sends a Buffer): a bytea[]
    // parameter would travel as hex text, three times slower than the rows one by one.
    const args: unknown[] = [];
    const rowsSql: string[] = [];
    for (const { event: e, instance, pictures } of items) {
      const at = args.length;
      args.push(...rowOf(e, instance, pictures));
      rowsSql.push(`(${Array.from({ length: NCOLUMNS }, (_, i) => `$${at + i + 1}`).join(', ')})`);
    }
    try {
      // Rows go in in the order given (the outbox's, oldest first).
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO ${this.t} (${COLUMNS})
         VALUES ${rowsSql.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
        args,
      );
      const written = new Set(rows.map((r) => r.id));
      return items.map((i) => (written.has(i.event.id) ? 'written' : 'already'));
    } catch (err) {
      if ((err as { code?: string }).code !== '23503') throw err;
      // The person an event names is not in the store: deleted while the event waited.
      if (items.length === 1) return ['erased'];
      if (db !== this.pool) throw err;
      const out: EventWrite[] = [];
      for (const i of items) out.push(...(await this.insertMany(this.pool, [i])));
      return out;
    }
  }

  /**
   * The people named in `ids` that the store does not hold (deleted): an event showing one of them
   * must have their face erased before it is written.
   */
  async missingPeople(ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT f AS id FROM unnest($1::text[]) AS f
       WHERE NOT EXISTS (SELECT 1 FROM ${schemaIdentifier(this.schema)}.people p WHERE p.id = f)`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  /** Events matching `q`, newest first (the same filters and limits as the file log's). */
  async query(q: EventQuery = {}): Promise<DetectionEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.person !== undefined && q.person !== '') {
      const p = arg(String(q.person));
      where.push(`(person_id = ${p} OR event->'person'->>'name' = ${p})`);
    }
    if (q.camera !== undefined && q.camera !== '') where.push(`camera = ${arg(String(q.camera))}`);
    if (typeof q.known === 'boolean') where.push(`known = ${arg(q.known)}`);
    if (q.visitor !== undefined && q.visitor !== '') where.push(`visitor_id = ${arg(String(q.visitor))}`);
    const from = toMs(q.from);
    const to = toMs(q.to);
    if (from !== undefined) where.push(`ts >= ${arg(isoTime(from))}`);
    if (to !== undefined) where.push(`ts < ${arg(isoTime(to))}`);
    if (q.after !== undefined && q.after !== '') where.push(`id > ${arg(String(q.after))}`);
    const { limit, offset } = queryPage(q);
    const { rows } = await this.pool.query<EventRow>(
      `SELECT event, instance FROM ${this.t} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ts DESC, id DESC LIMIT ${arg(limit)} OFFSET ${arg(offset)}`,
      args,
    );
    return rows.map(eventOf);
  }

  /** One event, or undefined. */
  async get(id: string): Promise<DetectionEvent | undefined> {
    const { rows } = await this.pool.query<EventRow>(`SELECT event, instance FROM ${this.t} WHERE id = $1`, [
      id,
    ]);
    return rows[0] && eventOf(rows[0]);
  }

  /** An event's stored frame or crop, or undefined. */
  async picture(id: string, which: 'snapshot' | 'crop'): Promise<Buffer | undefined> {
    const column = which === 'snapshot' ? 'snapshot' : 'crop';
    const { rows } = await this.pool.query<{ data: Buffer | null }>(
      `SELECT ${column} AS data FROM ${this.t} WHERE id = $1`,
      [id],
    );
    return rows[0]?.data ?? undefined;
  }

  /** The other crops of an event's passage (see DetectionEvent.samples), in order; none when gone. */
  async samples(id: string): Promise<Buffer[]> {
    const { rows } = await this.pool.query<{ data: Buffer[] | null }>(
      `SELECT samples AS data FROM ${this.t} WHERE id = $1`,
      [id],
    );
    return (rows[0]?.data ?? []).filter((b): b is Buffer => Buffer.isBuffer(b));
  }

  /** How many events of a person. */
  async countPerson(id: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.t} WHERE person_id = $1`,
      [id],
    );
    return rows[0].n;
  }

  /** How many events in all. */
  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.t}`);
    return rows[0].n;
  }

  /** What today's statistics need: the events around now, and the last event of each person. */
  async statEntries(around: {
    $gte: string;
    $lt: string;
  }): Promise<{ around: StatEntry[]; known: StatEntry[] }> {
    const entry = `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time, camera,
      CASE WHEN person_id IS NULL THEN NULL ELSE jsonb_build_object('id', person_id, 'name', event->'person'->>'name') END AS person,
      visitor_id AS visitor`;
    const a = await this.pool.query<StatEntry>(`SELECT ${entry} FROM ${this.t} WHERE ts >= $1 AND ts < $2`, [
      around.$gte,
      around.$lt,
    ]);
    const k = await this.pool.query<StatEntry>(
      `SELECT DISTINCT ON (person_id) ${entry} FROM ${this.t} WHERE person_id IS NOT NULL ORDER BY person_id, ts DESC`,
    );
    return { around: a.rows, known: k.rows };
  }

  /**
   * Erases a person from the events: their own events (the person's deletion already took them, the
   * reference cascades; any left are deleted), and their face in other events' frames (pixelated, out
   * of `faces`), each under a row lock so that instances doing the same do not undo each other. When
   * anything changed, the table is rewritten (VACUUM FULL) so that its files keep no copy. Resolves to
   * the number of their own events removed.
   */
  async erasePerson(id: string): Promise<number> {
    const removed = (await this.pool.query(`DELETE FROM ${this.t} WHERE person_id = $1`, [id])).rowCount ?? 0;
    let changed = removed > 0;
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM ${this.t} WHERE face_ids @> ARRAY[$1]::text[]`,
      [id],
    );
    for (const { id: eventId } of rows) {
      const redrawn = await this.inTransaction(async (c) => {
        const got = await c.query<{ event: DetectionEvent; snapshot: Buffer | null; face_ids: string[] }>(
          `SELECT event, snapshot, face_ids FROM ${this.t} WHERE id = $1 FOR UPDATE`,
          [eventId],
        );
        const row = got.rows[0];
        if (row && row.face_ids.includes(id)) {
          const faces = row.event.faces ?? [];
          const theirs = faces.filter((f) => f.person?.id === id);
          const next: DetectionEvent = { ...row.event, faces: faces.filter((f) => f.person?.id !== id) };
          let snapshot = row.snapshot;
          if (snapshot && theirs.length) {
            try {
              snapshot = await pixelate(
                snapshot,
                theirs.map((f) => f.box),
              );
            } catch {
              // A frame that cannot be redrawn goes rather than keep their face.
              snapshot = null;
              next.snapshot = null;
            }
          }
          await c.query(`UPDATE ${this.t} SET event = $2, snapshot = $3, face_ids = $4 WHERE id = $1`, [
            eventId,
            JSON.stringify(next),
            snapshot,
            faceIdsOf(next),
          ]);
          return true;
        }
        return false;
      });
      changed ||= redrawn;
    }
    if (changed) await this.rewrite();
    return removed;
  }

  /** Every event of a recurring visitor, oldest first. */
  async visitorEvents(id: string): Promise<DetectionEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT event, instance FROM ${this.t} WHERE visitor_id = $1 ORDER BY ts, id`,
      [String(id)],
    );
    return rows.map(eventOf);
  }

  /**
   * Rewrites a recurring visitor's events (those in `only`, else all) with what `change` makes of
   * each, under row locks, in one transaction: their JSON and the columns read from it (person,
   * known, faces, visitor). The table is rewritten when anything changed (no copy of the old label
   * stays in its files). Resolves to the number changed.
   */
  async relabelVisitor(
    id: string,
    change: (e: DetectionEvent) => DetectionEvent,
    only?: ReadonlySet<string>,
  ): Promise<number> {
    const n = await this.inTransaction(async (c) => {
      const { rows } = await c.query<EventRow & { id: string }>(
        `SELECT id, event, instance FROM ${this.t} WHERE visitor_id = $1 ORDER BY ts, id FOR UPDATE`,
        [String(id)],
      );
      let changed = 0;
      for (const r of rows) {
        if (only && !only.has(r.id)) continue;
        const { instance: _i, ...next } = change(eventOf(r));
        void _i;
        await c.query(
          `UPDATE ${this.t} SET event = $2, person_id = $3, known = $4, face_ids = $5, visitor_id = $6 WHERE id = $1`,
          [
            r.id,
            JSON.stringify(next),
            next.person?.id ?? null,
            next.known,
            faceIdsOf(next),
            next.visitor?.id ?? null,
          ],
        );
        changed++;
      }
      return changed;
    });
    if (n) await this.rewrite();
    return n;
  }

  /** Erases a recurring visitor's events with their pictures; the table is rewritten when any went. */
  async eraseVisitor(id: string): Promise<number> {
    const n =
      (await this.pool.query(`DELETE FROM ${this.t} WHERE visitor_id = $1`, [String(id)])).rowCount ?? 0;
    if (n) await this.rewrite();
    return n;
  }

  /** Rewrites the table's files (VACUUM FULL): removed and changed rows leave no copy in them. */
  async rewrite(): Promise<void> {
    await this.pool.query(`VACUUM FULL ${this.t}`);
  }

  /** Bytes of the table with its indexes and its out-of-line (TOAST) pictures. */
  async diskUsage(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT pg_total_relation_size($1)::text AS n`, [
      this.t,
    ]);
    return Number(rows[0].n);
  }

  /**
   * Retention and the disk cap for the installation, run by one instance at a time: resolves to what
   * was removed, or null when another instance is sweeping. The cap counts each event's pictures and
   * JSON; the oldest events go first. The table is rewritten after expired events were removed.
   */
  async sweep(settings: EventLogSettings, now: Date | number = Date.now()): Promise<SweepReport | null> {
    const c: PoolClient = await this.pool.connect();
    const key = `facewatch.events-sweep:${this.schema}`;
    let locked = false;
    try {
      locked = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key]))
        .rows[0].ok;
      if (!locked) return null;
      const knownDays = settings.retainKnownDays ?? EVENTS.retainKnownDays.default;
      const unknownDays = settings.retainUnknownDays ?? EVENTS.retainUnknownDays.default;
      const expired =
        (
          await c.query(`DELETE FROM ${this.t} WHERE (known AND ts < $1) OR (NOT known AND ts < $2)`, [
            new Date(+now - knownDays * DAY_MS).toISOString(),
            new Date(+now - unknownDays * DAY_MS).toISOString(),
          ])
        ).rowCount ?? 0;
      let overCap = 0;
      let bytes = 0;
      const cap = (settings.maxDiskMB ?? EVENTS.maxDiskMB.default) * 1024 * 1024;
      if (cap > 0) {
        // Newest first, a running total of what each event takes; whatever lies past the cap goes.
        const { rows } = await c.query<{ n: number; b: string }>(
          `WITH sized AS (
             SELECT id, coalesce(octet_length(snapshot), 0) + coalesce(octet_length(crop), 0)
                    + coalesce((SELECT sum(octet_length(x)) FROM unnest(samples) x), 0)
                    + octet_length(event::text) AS size, ts
             FROM ${this.t}),
           running AS (
             SELECT id, size, sum(size) OVER (ORDER BY ts DESC, id DESC) AS total FROM sized)
           , gone AS (
             DELETE FROM ${this.t} e USING running r WHERE e.id = r.id AND r.total > $1 RETURNING r.size)
           SELECT count(*)::int AS n, coalesce(sum(size), 0)::text AS b FROM gone`,
          [cap],
        );
        overCap = rows[0].n;
        bytes = Number(rows[0].b);
      }
      // Events past their age leave no copy in the table's files (a rewrite, which locks the table
      // for its duration: at most once a sweep). Removed over the cap only, their space is made
      // reusable (a plain VACUUM, no lock), which is what a cap needs; their bytes are overwritten
      // as new events take the space.
      if (expired) await c.query(`VACUUM FULL ${this.t}`);
      else if (overCap) await c.query(`VACUUM ${this.t}`);
      return { expired, overCap, bytes };
    } finally {
      if (locked) await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      c.release();
    }
  }
}
