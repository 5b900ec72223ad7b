/**
 * The recurring visitors of a face store shared on PostgreSQL: one gallery for the installation, so
 * a stranger seen by one instance's camera in the morning keeps the same visitor id on another's in
 * the afternoon.
 *
 * Each instance holds the gallery in memory ({@link VisitorGallery}) and searches it there; the
 * database has the truth: `visitors` (schema version 5) with each visitor's kept samples (float32
 * bytes, base64, as visitors.db keeps them), and the `visitor_numbers` sequence, so that ids made on
 * two instances never collide. Every change is one transaction that locks the visitor's row, reads it
 * again (another instance may have refined it), changes it and announces it through the store's
 * change feed; every instance reloads the visitors announced, so their galleries stay in step.
 *
 * A visitor that leaves (forgotten, merged, enrolled) keeps a row with its id and why (`gone`) and no
 * sample, and the tables are rewritten (VACUUM FULL) so that no copy of its descriptors stays in
 * their files. An instance whose outbox still holds an event of a visitor that left learns why when
 * it writes it (lib/events/pg-events.ts locks the visitor's row to write): the event is relabelled
 * (merged, enrolled) or erased (forgotten) first. Unknown retention deletes the visitors last seen
 * before it, their samples older than it, and rows of visitors gone before it.
 *
 * While the database is unreachable no visitor can be given or changed: unknown events are recorded
 * without a visitor id (the recorder says why), and the Face Library's changes answer EDB_DOWN.
 */
import type { PoolClient } from 'pg';
import { schemaIdentifier } from '../store/pg/schema';
import type { PgStore } from '../store/pg/pg-store';
import { samplesFromDocs, samplesToDocs, type SampleDoc } from './visitor-book';
import {
  VisitorGallery,
  visitorId,
  type Assignment,
  type Sighting,
  type Visit,
  type Visitor,
  type VisitorFate,
  type VisitorOptions,
  type VisitorRegistry,
} from './visitors';

interface VisitorRow {
  id: string;
  first_seen: Date;
  last_seen: Date;
  visits: number;
  cameras: string[];
  samples: SampleDoc[];
  gone: VisitorFate | null;
}

const COLUMNS = 'id, first_seen, last_seen, visits, cameras, samples, gone';

function fromRow(r: VisitorRow): Visitor {
  return {
    id: r.id,
    firstSeen: r.first_seen.getTime(),
    lastSeen: r.last_seen.getTime(),
    visits: r.visits,
    cameras: [...r.cameras],
    samples: samplesFromDocs(r.samples),
  };
}

/** A store's visitors in its PostgreSQL schema, the gallery in memory kept in step by the change feed. */
export class PgVisitorBook implements VisitorRegistry {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly t: string;
  private readonly seq: string;
  private readonly events: string;
  private readonly changes: string;
  private stop: () => void = () => undefined;
  /** Visitors announced while the gallery was loading, reloaded after it. */
  private pending: Set<string> | null = new Set();
  private readonly goneListeners = new Set<(id: string, fate: VisitorFate | null) => void>();

  private constructor(
    private readonly store: PgStore,
    readonly gallery: VisitorGallery,
  ) {
    const s = schemaIdentifier(store.schema);
    this.t = `${s}.visitors`;
    this.seq = `${s}.visitor_numbers`;
    this.events = `${s}.events`;
    this.changes = `${s}.changes`;
  }

  /** Loads the store's visitors and follows every instance's changes to them. */
  static async open(store: PgStore, opts: VisitorOptions = {}): Promise<PgVisitorBook> {
    const book = new PgVisitorBook(store, new VisitorGallery(opts));
    book.stop = store.onVisitorChange((id) => book.applied(id));
    try {
      const { rows } = await store
        .database()
        .query<VisitorRow>(`SELECT ${COLUMNS} FROM ${book.t} WHERE gone IS NULL`);
      for (const r of rows) book.gallery.put(fromRow(r));
      const pending = book.pending ?? new Set<string>();
      book.pending = null;
      for (const id of pending) await book.reload(id);
    } catch (err) {
      book.stop();
      throw err;
    }
    return book;
  }

  /**
   * Calls `fn` with each visitor that left the gallery through another instance's change (forgotten,
   * merged, enrolled, expired), and why (null: expired, or its row gone), for face-mqtt to clear its
   * retained topics and for events on their way to follow it. Returns the function that stops it.
   */
  onGone(fn: (id: string, fate: VisitorFate | null) => void): () => void {
    this.goneListeners.add(fn);
    return () => this.goneListeners.delete(fn);
  }

  /** A change of visitor `id` came through the feed (any instance's, this one's included). */
  private async applied(id: string): Promise<void> {
    if (this.pending) {
      this.pending.add(id);
      return;
    }
    await this.reload(id);
  }

  /** The visitor as the database has it now: put into the gallery, or out of it (then announced). */
  private async reload(id: string, c?: PoolClient): Promise<Visitor | undefined> {
    const { rows } = await (c ?? this.store.database()).query<VisitorRow>(
      `SELECT ${COLUMNS} FROM ${this.t} WHERE id = $1${c ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const r = rows[0];
    if (r && !r.gone) {
      const v = fromRow(r);
      this.gallery.put(v);
      return v;
    }
    if (this.gallery.forget(id) && !c)
      for (const fn of this.goneListeners)
        try {
          fn(id, r?.gone ?? null);
        } catch (err) {
          process.emitWarning(`a listener of visitors gone failed: ${(err as Error).message}`);
        }
    return undefined;
  }

  /** Runs changes one at a time, in order (each is one transaction). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async nextId(c: PoolClient): Promise<string> {
    const { rows } = await c.query<{ n: string }>(`SELECT nextval('${this.seq}')::text AS n`);
    return visitorId(Number(rows[0].n));
  }

  private async save(c: PoolClient, ...visitors: Visitor[]): Promise<void> {
    for (const v of visitors)
      await c.query(
        `INSERT INTO ${this.t} (${COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, now())
         ON CONFLICT (id) DO UPDATE SET first_seen = $2, last_seen = $3, visits = $4, cameras = $5,
           samples = $6, gone = NULL, updated_at = now()`,
        [
          v.id,
          new Date(v.firstSeen),
          new Date(v.lastSeen),
          v.visits,
          v.cameras,
          JSON.stringify(samplesToDocs(v)),
        ],
      );
  }

  /** Marks a visitor gone (its samples out of the row) and out of this gallery. */
  private async leave(c: PoolClient, id: string, fate: VisitorFate): Promise<void> {
    await c.query(
      `UPDATE ${this.t} SET samples = '[]', cameras = '{}', gone = $2, updated_at = now() WHERE id = $1`,
      [id, JSON.stringify(fate)],
    );
    this.gallery.forget(id);
  }

  /** The visitors' rows locked, read again into the gallery; a RangeError names one not there. */
  private async lock(c: PoolClient, ids: string[]): Promise<Visitor[]> {
    const out: Visitor[] = [];
    // In id order: two instances locking the same two visitors cannot deadlock.
    for (const id of [...ids].sort()) {
      const v = await this.reload(id, c);
      if (!v) throw new RangeError(`no visitor ${JSON.stringify(String(id).slice(0, 40))}`);
      out.push(v);
    }
    return ids.map((id) => out.find((v) => v.id === id) as Visitor);
  }

  /**
   * Gives a visit its visitor: the one it joins is locked and read again (another instance may have
   * refined it), a new one takes the next number of the sequence. Rejects with EDB_DOWN while the
   * database is unreachable (the gallery in memory is left as the database has it).
   */
  onLinked?: (into: string, merged: string[]) => Promise<void>;

  assign(visit: Visit): Promise<Assignment | null> {
    return this.serial(async () => {
      let made: Assignment | null = null;
      const locked = new Set<string>();
      let a: Assignment | null;
      try {
        a = await this.store.changeVisitors(async (c) => {
          // The visitors it would join and link, locked and read again (until none is new: one
          // refined meanwhile by another instance may now be under the threshold).
          for (;;) {
            const linked = this.gallery.linkedTo(visit);
            if (linked === undefined) return { visitors: [], value: null };
            const fresh = linked.filter((id) => !locked.has(id)).sort();
            if (!fresh.length) break;
            for (const id of fresh) {
              locked.add(id);
              await this.reload(id, c);
            }
          }
          const id = this.gallery.wouldJoin(visit) === null ? await this.nextId(c) : undefined;
          made = this.gallery.assign(visit, id);
          if (!made) return { visitors: [], value: null };
          await this.save(c, made.visitor);
          for (const m of made.merged) {
            await this.leave(c, m, { merged: made.visitor.id });
            await this.relabelEvents(c, m, made.visitor.id);
          }
          return { visitors: [made.visitor.id, ...made.merged], value: made };
        });
      } catch (err) {
        // Not written: the gallery is read again as the database has it.
        const undo = made as Assignment | null;
        if (undo?.created) this.gallery.forget(undo.visitor.id);
        for (const id of undo ? [undo.visitor.id, ...undo.merged] : [])
          if (!undo?.created) await this.reload(id).catch(() => this.gallery.forget(id));
        throw err;
      }
      if (a?.merged.length) {
        await this.rewrite();
        await this.onLinked?.(a.visitor.id, a.merged);
      }
      return a;
    });
  }

  /**
   * Merges `from` into `into`; `from` leaves a row saying so (instances relabel their waiting events
   * by it) and the table is rewritten, so no copy of its row's samples stays in the files.
   */
  merge(into: string, from: string, times?: number[]): Promise<Visitor> {
    return this.serial(async () => {
      const v = await this.store.changeVisitors(async (c) => {
        await this.lock(c, [into, from]);
        const merged = this.gallery.merge(into, from, times);
        await this.save(c, merged);
        await this.leave(c, from, { merged: into });
        await this.relabelEvents(c, from, into);
        return { visitors: [into, from], value: merged };
      });
      await this.rewrite();
      return v;
    });
  }

  /** Splits sightings off a visitor into a new one with the next number of the sequence. */
  split(id: string, moved: Sighting[], kept: Sighting[]): Promise<{ from: Visitor; to: Visitor }> {
    return this.serial(async () => {
      const out = await this.store.changeVisitors(async (c) => {
        await this.lock(c, [id]);
        const parts = this.gallery.split(id, moved, kept, await this.nextId(c));
        await this.save(c, parts.from, parts.to);
        return { visitors: [parts.from.id, parts.to.id], value: parts };
      });
      await this.rewrite();
      return out;
    });
  }

  /**
   * Removes a visitor: its row keeps only its id and `fate` (forgotten unless told), its events in
   * the table are erased (forgotten) or left to the caller (enrolled: relabelled by the log), and the
   * tables are rewritten.
   */
  forget(id: string, fate: VisitorFate = { forgotten: true }): Promise<Visitor | undefined> {
    return this.serial(async () => {
      let events = 0;
      const v = await this.store.changeVisitors(async (c) => {
        const found = await this.reload(id, c);
        if (!found) return { visitors: [], value: undefined };
        await this.leave(c, id, fate);
        if ('forgotten' in fate)
          events = (await c.query(`DELETE FROM ${this.events} WHERE visitor_id = $1`, [id])).rowCount ?? 0;
        return { visitors: [id], value: found };
      });
      if (v) await this.rewrite();
      // Events written since the log erased them (another instance's): no copy in the files either.
      if (events) await this.store.database().query(`VACUUM FULL ${this.events}`);
      return v;
    });
  }

  /**
   * Unknown retention for the installation: visitors last seen before it are deleted, samples older
   * than it leave the visitors that keep being seen, and the rows of visitors gone before it go.
   */
  expire(now: number = Date.now()): Promise<{ removed: string[]; changed: string[] }> {
    return this.serial(async () => {
      const cutoff = new Date(now - this.gallery.retainMs);
      const out = await this.store.changeVisitors(async (c) => {
        const removed = (
          await c.query<{ id: string; live: boolean }>(
            `DELETE FROM ${this.t} WHERE (gone IS NULL AND last_seen < $1) OR (gone IS NOT NULL AND updated_at < $1)
             RETURNING id, gone IS NULL AS live`,
            [cutoff],
          )
        ).rows
          .filter((r) => r.live)
          .map((r) => r.id);
        // Every sighting is a numbered change: those older than a day go (an instance catches up
        // from its last number within seconds; one away for longer reloads what it joins anyway),
        // never the newest (the next number is counted from it) and never a change to people.
        await c.query(
          `DELETE FROM ${this.changes} WHERE kind = 'visitor' AND at < now() - interval '1 day'
             AND seq < (SELECT max(seq) FROM ${this.changes})`,
        );
        const changed: string[] = [];
        for (const v of this.gallery.list()) {
          if (removed.includes(v.id) || !v.samples.some((s) => s.time < cutoff.getTime())) continue;
          const now = await this.reload(v.id, c);
          if (!now) continue;
          now.samples = now.samples.filter((s) => s.time >= cutoff.getTime());
          this.gallery.put(now);
          await this.save(c, now);
          changed.push(v.id);
        }
        for (const id of removed) this.gallery.forget(id);
        return { visitors: [...removed, ...changed], value: { removed, changed } };
      });
      if (out.removed.length || out.changed.length) await this.rewrite();
      return out;
    });
  }

  /** The events of `from` carry `into`'s id (the events table; outboxes learn it when they write). */
  private async relabelEvents(c: PoolClient, from: string, into: string): Promise<void> {
    await c.query(
      `UPDATE ${this.events} SET visitor_id = $2, event = jsonb_set(event, '{visitor,id}', to_jsonb($2::text))
       WHERE visitor_id = $1`,
      [from, into],
    );
  }

  /** Rewrites the visitors' table files, so that no copy of a changed row's samples stays in them. */
  private async rewrite(): Promise<void> {
    await this.store.database().query(`VACUUM FULL ${this.t}`);
  }

  /** Waits for the changes under way and stops following the feed. */
  async close(): Promise<void> {
    this.stop();
    await this.queue;
  }
}
