/**
 * The detection log of a face store shared in PostgreSQL by several Node-RED instances: the
 * installation's events are in the database (lib/events/pg-events.ts), so every instance's Face
 * Library and detection-log see every camera; this machine's files (an {@link EventLog}) are the
 * outbox.
 *
 * An event is recorded on this machine first, as on a store of files (its pictures, its daily line),
 * then written to the database, oldest first, and removed from the outbox once the database has it.
 * While the database is away, events wait in the outbox (on disk, surviving a restart) and are written
 * when it is back, each exactly once (the database keeps an event id once: a write whose answer was
 * lost is harmless when repeated) and in the order they were recorded. Reads merge the outbox into
 * what the database answers; with the database away they show the outbox alone.
 */
import { ZonedClock } from './time';
import { drawSnapshot, eventLabels } from './snapshot';
import {
  aroundToday,
  newestFirst,
  queryPage,
  statsOf,
  type DetectionLog,
  type EventFiles,
  type EventLog,
  type EventLogSettings,
  type EventQuery,
  type EventStats,
  type SweepReport,
} from './log';
import { faceIdsOf, VisitorsGone, type PgEvents } from './pg-events';
import { enrolledAs, withVisitorId, type VisitorFate } from './visitors';
import { isConnectionError } from '../store/pg/pg-store';
import type { DetectionEvent } from '../types/events';

/** How the shared log reaches its store. */
export interface SharedLogOptions {
  /** This machine's files: the outbox. */
  local: EventLog;
  table: PgEvents;
  /** This instance's name, written with each of its events. */
  instance: string;
  /** Why the store refuses to write (a newer schema); events wait in the outbox meanwhile. */
  writeProblem: () => string | undefined;
  /** Whether the store still holds a person (a face of someone deleted is erased before writing). */
  holds: (personId: string) => boolean;
  /** Pauses between tries while the database refuses, ms (default 500, doubling up to 5000). */
  retryMs?: { min: number; max: number };
}

/**
 * Events written per read of the outbox, in one statement: with 50 KB frames, 20 a statement wrote
 * 1400-1900 events a second on the 2-core machine, 50 about 800, one by one about 450 (bench/scale.ts).
 */
const BATCH = 20;

/** What the outbox is doing, for status and tests. */
export interface OutboxState {
  /** Events waiting on this machine. */
  waiting: number;
  /** Since when writing to the database has failed; null while it works. */
  failingSince: Date | null;
  lastError?: string;
}

export class SharedEventLog implements DetectionLog {
  private readonly local: EventLog;
  private readonly table: PgEvents;
  private shipping?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private delay: number;
  private closed = false;
  private failingSince: Date | null = null;
  private lastError?: string;

  constructor(private readonly opts: SharedLogOptions) {
    this.local = opts.local;
    this.table = opts.table;
    this.delay = this.retry.min;
  }

  private get retry(): { min: number; max: number } {
    return this.opts.retryMs ?? { min: 500, max: 5000 };
  }

  get file(): string {
    return this.local.file;
  }

  get settings(): Readonly<EventLogSettings> {
    return this.local.settings;
  }

  get clock(): ZonedClock {
    return this.local.clock;
  }

  configure(settings: EventLogSettings): void {
    this.local.configure(settings);
  }

  record(event: DetectionEvent, files?: EventFiles): Promise<DetectionEvent>;
  record(
    event: DetectionEvent,
    files: EventFiles,
    enrolled: (personId: string) => boolean,
    follow?: (event: DetectionEvent) => DetectionEvent | null,
  ): Promise<DetectionEvent | null>;
  async record(
    event: DetectionEvent,
    files: EventFiles = {},
    enrolled?: (personId: string) => boolean,
    follow?: (event: DetectionEvent) => DetectionEvent | null,
  ): Promise<DetectionEvent | null> {
    const e: DetectionEvent = { ...event, instance: this.opts.instance };
    const recorded = enrolled
      ? await this.local.record(e, files, enrolled, follow)
      : await this.local.record(e, files);
    if (recorded) void this.ship();
    return recorded;
  }

  /**
   * Writes the outbox to the database, oldest first; resolves when it is empty, or when the database
   * refused (then tried again after a pause, and whenever {@link ship} is called).
   */
  ship(): Promise<void> {
    if (this.shipping) {
      this.again = true;
      return this.shipping;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.shipping = (async () => {
      do {
        this.again = false;
        await this.shipAll();
      } while (this.again && !this.closed);
    })().finally(() => (this.shipping = undefined));
    return this.shipping;
  }

  private async shipAll(): Promise<void> {
    if (this.closed || this.opts.writeProblem()) return;
    let wrote = 0;
    try {
      for (;;) {
        const ids = await this.local.oldest(BATCH);
        if (!ids.length) break;
        // The batch's events, oldest first; a torn or vanished file cannot be written: its entry
        // leaves the outbox.
        const events: DetectionEvent[] = [];
        const torn: string[] = [];
        for (const id of ids) {
          const e = await this.local.get(id);
          if (e) events.push(e);
          else torn.push(id);
        }
        if (torn.length) await this.local.forget(torn);
        if (this.closed) return;
        // Someone in a frame was deleted since it was recorded (here, or on another instance and
        // not yet known here): erased from the outbox first (their events go, their face in others'
        // frames is pixelated), and what is left is written in a later round.
        const named = [...new Set(events.flatMap(faceIdsOf))];
        const gone = named.filter((p) => !this.opts.holds(p));
        const missing = gone.length ? gone : await this.table.missingPeople(named);
        if (missing.length) {
          for (const p of missing) await this.local.erasePerson(p);
          continue;
        }
        const items = [];
        for (const e of events)
          items.push({
            event: e,
            instance: e.instance ?? this.opts.instance,
            pictures: await this.local.pictures(e),
          });
        try {
          await this.table.writeMany(items);
        } catch (err) {
          if (!(err instanceof VisitorsGone)) throw err;
          // A visitor they carry left meanwhile (on any instance): relabelled or erased here first.
          for (const [id, fate] of err.gone) await this.visitorLeft(id, fate);
          continue;
        }
        // Written (or already there, or their person erased meanwhile): out of the outbox.
        await this.local.forget(events.map((e) => e.id));
        wrote += events.length;
      }
      if (wrote) await this.local.forget([], true);
      this.failingSince = null;
      this.lastError = undefined;
      this.delay = this.retry.min;
    } catch (err) {
      this.failingSince ??= new Date();
      this.lastError = (err as Error).message;
      if (!isConnectionError(err)) process.emitWarning(`detection log outbox: ${this.lastError}`);
      if (!this.closed) {
        this.timer = setTimeout(() => void this.ship(), this.delay);
        this.timer.unref();
        this.delay = Math.min(this.delay * 2, this.retry.max);
      }
    }
  }

  /**
   * Visitor `id` left the installation's gallery: its events waiting here follow it (merged: the
   * other visitor's id; enrolled: the person's; forgotten, expired or unknown: erased).
   */
  async visitorLeft(id: string, fate: VisitorFate | null): Promise<void> {
    if (fate && 'merged' in fate) await this.local.relabelVisitor(id, withVisitorId(fate.merged));
    else if (fate && 'enrolled' in fate) await this.local.relabelVisitor(id, enrolledAs(fate.enrolled));
    else await this.local.eraseVisitor(id);
  }

  /** Every event of a recurring visitor, oldest first: the database's and those waiting here. */
  async visitorEvents(id: string): Promise<DetectionEvent[]> {
    const waiting = await this.local.visitorEvents(id);
    const stored = await this.orLocal(() => this.table.visitorEvents(id), [] as DetectionEvent[]);
    const byId = new Map<string, DetectionEvent>();
    for (const e of [...waiting, ...stored]) byId.set(e.id, e);
    return [...byId.values()].sort((a, b) => -newestFirst(a, b));
  }

  /**
   * Rewrites a recurring visitor's events (those in `only`, else all) here and in the database (see
   * EventLog.relabelVisitor, PgEvents.relabelVisitor); resolves to the number changed.
   */
  async relabelVisitor(
    id: string,
    change: (e: DetectionEvent) => DetectionEvent,
    only?: ReadonlySet<string>,
  ): Promise<number> {
    const here = await this.local.relabelVisitor(id, change, only);
    return here + (await this.table.relabelVisitor(id, change, only));
  }

  /** Rewrites a recurring visitor's events waiting here only (the database's were changed already). */
  relabelWaiting(id: string, change: (e: DetectionEvent) => DetectionEvent): Promise<number> {
    return this.local.relabelVisitor(id, change);
  }

  /** Erases a recurring visitor's events here and in the database; resolves to the number removed. */
  async eraseVisitor(id: string): Promise<number> {
    const here = await this.local.eraseVisitor(id);
    return here + (await this.table.eraseVisitor(id));
  }

  /** Resolves when no write of the outbox is under way (its last removal from the outbox included). */
  async idle(): Promise<void> {
    await this.shipping?.catch(() => undefined);
  }

  /** The outbox's state: events waiting and whether writing fails. */
  async outbox(): Promise<OutboxState> {
    return {
      waiting: await this.local.count(),
      failingSince: this.failingSince,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Reads from the database, or (with the database away) resolves to `fallback`. */
  private async orLocal<T>(read: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (isConnectionError(err)) return fallback;
      throw err;
    }
  }

  async get(id: string): Promise<DetectionEvent | undefined> {
    if (typeof id !== 'string' || !id) return undefined;
    return (await this.local.get(id)) ?? (await this.orLocal(() => this.table.get(id), undefined));
  }

  async frame(id: string): Promise<Buffer | undefined> {
    return (
      (await this.local.frame(id)) ??
      (await this.orLocal(() => this.table.picture(id, 'snapshot'), undefined))
    );
  }

  async crop(id: string): Promise<Buffer | undefined> {
    return (
      (await this.local.crop(id)) ?? (await this.orLocal(() => this.table.picture(id, 'crop'), undefined))
    );
  }

  /** What to enrol an event's face from (see EventLog.enrolPictures): the outbox's, else the database's. */
  async enrolPictures(id: string): Promise<Buffer[]> {
    const here = await this.local.enrolPictures(id);
    if (here.length) return here;
    // The outbox has none of it: the database's crop, else its frame.
    const first =
      (await this.orLocal(() => this.table.picture(id, 'crop'), undefined)) ??
      (await this.orLocal(() => this.table.picture(id, 'snapshot'), undefined));
    if (!first) return [];
    return [first, ...(await this.orLocal(() => this.table.samples(id), [] as Buffer[]))];
  }

  /** The frame with the boxes and names of its faces drawn over it, as the file log serves it. */
  async snapshot(id: string): Promise<Buffer | undefined> {
    const e = await this.get(id);
    const data = e && (await this.frame(id));
    if (!e || !data) return undefined;
    return e.faces ? drawSnapshot(data, eventLabels(e.faces)) : data;
  }

  async countPerson(id: string): Promise<number> {
    return (await this.local.countPerson(id)) + (await this.orLocal(() => this.table.countPerson(id), 0));
  }

  /**
   * Events matching `q`, newest first: the database's, with this machine's events still waiting in
   * the outbox among them (on the first page: an `offset` pages through the database's).
   */
  async query(q: EventQuery = {}): Promise<DetectionEvent[]> {
    const waiting = await this.local.query(q.offset ? { ...q, limit: 0 } : q);
    const stored = await this.orLocal(() => this.table.query(q), [] as DetectionEvent[]);
    if (!waiting.length || q.offset) return stored;
    const { limit } = queryPage(q);
    const byId = new Map<string, DetectionEvent>();
    for (const e of [...stored, ...waiting]) if (!byId.has(e.id)) byId.set(e.id, e);
    return [...byId.values()].sort(newestFirst).slice(0, limit);
  }

  async stats(people: number, now: Date | number = Date.now()): Promise<EventStats> {
    const mine = await this.local.statEntries(now);
    const all = await this.orLocal(() => this.table.statEntries(aroundToday(now)), { around: [], known: [] });
    return statsOf(
      this.local.clock,
      people,
      now,
      [...all.around, ...mine.around],
      [...all.known, ...mine.known],
    );
  }

  /**
   * Retention and the disk cap: the outbox's here, the database's by whichever instance takes the
   * sweep first (the others' sweeps of it are skipped). The report adds both.
   */
  async sweep(now: Date | number = Date.now()): Promise<SweepReport> {
    const here = await this.local.sweep(now);
    const there = await this.table.sweep(this.local.settings, now);
    if (!there) return here;
    return {
      expired: here.expired + there.expired,
      overCap: here.overCap + there.overCap,
      bytes: here.bytes + there.bytes,
    };
  }

  /** Erases a person from the outbox and from the database's events (see PgEvents.erasePerson). */
  async erasePerson(id: string): Promise<number> {
    const here = await this.local.erasePerson(id);
    return here + (await this.table.erasePerson(id));
  }

  /** This machine's files of the log. */
  diskUsage(): Promise<number> {
    return this.local.diskUsage();
  }

  /** Stops retrying, lets a write under way finish, and closes the outbox. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.shipping?.catch(() => undefined);
    await this.local.close();
  }
}
