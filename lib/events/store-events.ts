/**
 * The detection log of a face store. Events belong to their store: a store `faces.db` keeps them in
 * `faces-events/` beside it (`events.db`, the pictures in `events/<event id>/`, the daily files), so
 * two stores in one folder never share events, and erasing a person from a store erases their
 * events, their face in other people's frames and their daily lines, whether a detection-log is
 * deployed or not: the log is one of the store's erasers.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { FaceStore, type StoreOptions } from '../store/face-store';
import { PgStore, type PgStoreOptions } from '../store/pg/pg-store';
import type { AuditAction } from '../store/audit';
import type { OpenStore, Person } from '../store/types';
import { EVENTS } from '../types/defaults';
import type { DetectionEvent } from '../types/events';
import { EventLog, type DetectionLog, type EventLogSettings } from './log';
import { PgEvents } from './pg-events';
import { PgVisitorBook } from './pg-visitors';
import { SharedEventLog } from './shared-log';
import { VisitorBook } from './visitor-book';
import {
  enrolledAs,
  VisitorFates,
  withVisitorId,
  type Visitor,
  type VisitorFate,
  type VisitorRegistry,
} from './visitors';

export { eventLogFile } from '../store/files';

const LEGACY_DAILY = /^detections_\d{4}-\d{2}-\d{2}\.jsonl$/;

/**
 * Moves the events of an older FaceWatch (`events.db`, `events/` and the daily files beside the
 * datafile, shared by every store of the folder) to the store's own folder, when this store is the
 * only one in the folder. Resolves to a warning when they cannot be told apart (several stores).
 */
async function adoptLegacyEvents(storeFile: string, target: string): Promise<string | undefined> {
  const dir = path.dirname(path.resolve(storeFile));
  const legacy = path.join(dir, 'events.db');
  if (!existsSync(legacy) || existsSync(target)) return undefined;
  const names = await readdir(dir);
  const stores: string[] = [];
  for (const n of names) {
    if (!n.endsWith('.db') || n === 'events.db') continue;
    const head = await readFile(path.join(dir, n), 'utf8').catch(() => '');
    if (head.includes('"_id":"#meta"') || path.join(dir, n) === path.resolve(storeFile)) stores.push(n);
  }
  if (stores.length > 1)
    return (
      `${legacy} holds the events of several face stores (${stores.join(', ')}) and was left where it is: ` +
      `events now belong to their store (${path.relative(dir, target)}); move the old ones by hand or let retention remove them`
    );
  const to = path.dirname(target);
  await mkdir(to, { recursive: true, mode: 0o700 });
  await rename(legacy, target);
  if (existsSync(path.join(dir, 'events'))) await rename(path.join(dir, 'events'), path.join(to, 'events'));
  for (const n of names) if (LEGACY_DAILY.test(n)) await rename(path.join(dir, n), path.join(to, n));
  return undefined;
}

/** Who configured a store's log, how, and where to tell them when other settings apply. */
interface Configurer {
  who: string;
  settings: EventLogSettings;
  warn?: (message: string) => void;
  /** The settings in force this configurer was last told about (none: told nothing). */
  told?: string;
}

const SETTING_KEYS: Array<keyof EventLogSettings> = [
  'dailyFiles',
  'timezone',
  'retainKnownDays',
  'retainUnknownDays',
  'maxDiskMB',
];

/** The settings as the log applies them: every default filled in. */
function filled(s: EventLogSettings): Required<EventLogSettings> {
  return {
    dailyFiles: !!s.dailyFiles,
    timezone: s.timezone ?? '',
    retainKnownDays: s.retainKnownDays ?? EVENTS.retainKnownDays.default,
    retainUnknownDays: s.retainUnknownDays ?? EVENTS.retainUnknownDays.default,
    maxDiskMB: s.maxDiskMB ?? EVENTS.maxDiskMB.default,
  };
}

function sameSettings(a: EventLogSettings, b: EventLogSettings): boolean {
  const fa = filled(a);
  const fb = filled(b);
  return SETTING_KEYS.every((k) => fa[k] === fb[k]);
}

/**
 * The settings a store's log follows when several detection-logs configure it: the strictest of
 * them, whatever order they started in, since events are data about people and no detection-log may
 * keep them longer than another one promised: the shortest retention of each kind, the smallest disk
 * cap (0, no cap, only when none has one), daily files only when every one writes them, and the time
 * zone of the first to start (days must have one zone; a different one is warned about).
 */
export function strictestSettings(all: EventLogSettings[]): Required<EventLogSettings> {
  const f = all.map(filled);
  if (!f.length) return filled({});
  const caps = f.map((s) => s.maxDiskMB).filter((c) => c > 0);
  return {
    dailyFiles: f.every((s) => s.dailyFiles),
    timezone: f[0].timezone,
    retainKnownDays: Math.min(...f.map((s) => s.retainKnownDays)),
    retainUnknownDays: Math.min(...f.map((s) => s.retainUnknownDays)),
    maxDiskMB: caps.length ? Math.min(...caps) : 0,
  };
}

/** The settings in force, for a warning: known and unknown retention, cap, daily files, zone. */
function describeSettings(s: Required<EventLogSettings>): string {
  return (
    `known faces kept ${s.retainKnownDays} days, unknown ${s.retainUnknownDays} days, ` +
    `${s.maxDiskMB > 0 ? `a ${s.maxDiskMB} MB disk cap` : 'no disk cap'}, daily files ${s.dailyFiles ? 'on' : 'off'}, ` +
    `time zone ${s.timezone || "the system's"}`
  );
}

/** A store's detection log, opened on first use and closed with the store. */
export class StoreEvents {
  /** The events datafile. */
  readonly file: string;
  private opening?: Promise<DetectionLog>;
  private openingVisitors?: Promise<VisitorRegistry | null>;
  private readonly configurers: Configurer[] = [];
  private readonly detach: () => void;
  /** A warning of the legacy move, said once by whoever opens the log. */
  private legacyWarning?: string;
  /**
   * Visitors that left the gallery (or are leaving it), and why: an event given one of them on its
   * way is written as {@link VisitorFates.follow} says (detection-log's recorder asks {@link follow}).
   */
  private readonly fates = new VisitorFates();

  constructor(readonly store: OpenStore) {
    this.file = store.eventsFile;
    const removeEraser = store.addEraser('detection log', {
      erasePerson: (person) => this.erasePerson(person.id),
    });
    // A shared store's erasers run on the instance that deletes; every instance keeps its own log,
    // so each erases the person from it when the deletion reaches it.
    const onDeleted = (person: Person): void => {
      this.erasePerson(person.id).catch((err: unknown) =>
        process.emitWarning(
          `erasing ${person.id} from the detection log ${this.file} failed: ${(err as Error).message}`,
        ),
      );
    };
    // The database is back: the events waiting in the outbox are written.
    const onAvailability = (a: { down: Date | null }): void => {
      if (a.down === null)
        void this.opening?.then((log) => (log instanceof SharedEventLog ? log.ship() : undefined));
    };
    if (store.backend === 'postgres') {
      store.on('person-deleted', onDeleted);
      store.on('availability', onAvailability);
    }
    this.detach = () => {
      removeEraser();
      store.off('person-deleted', onDeleted);
      store.off('availability', onAvailability);
    };
  }

  /** Opens the log (creating its files); every caller gets the same one. */
  open(): Promise<DetectionLog> {
    this.opening ??= (async () => {
      if (this.store.backend === 'nedb')
        this.legacyWarning = await adoptLegacyEvents(this.store.location, this.file);
      const local = await EventLog.open({ file: this.file, ...this.inForce() });
      const store = this.store;
      if (!(store instanceof PgStore)) return local;
      // The installation's events are in the database; this machine's files are the outbox.
      const shared = new SharedEventLog({
        local,
        table: new PgEvents(store.database(), store.schema),
        instance: store.instance,
        writeProblem: () => store.writeProblem,
        holds: (id) => store.getPerson(id) !== undefined,
      });
      // What an earlier run left waiting.
      void shared.ship();
      return shared;
    })();
    // A failed open is tried again by the next caller.
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  /** The visitors' datafile: `visitors.db` beside the events datafile. */
  get visitorsFile(): string {
    return path.join(path.dirname(path.resolve(this.file)), 'visitors.db');
  }

  /**
   * The store's recurring visitors, opened on first use; every caller gets the same one: on a store
   * of files `visitors.db` beside the events datafile, on a store in PostgreSQL the installation's
   * (lib/events/pg-visitors.ts), shared by every instance.
   */
  visitors(): Promise<VisitorRegistry | null> {
    const store = this.store;
    const opts = { retainDays: this.inForce().retainUnknownDays };
    this.openingVisitors ??= (async () => {
      let book: VisitorRegistry;
      if (store instanceof PgStore) {
        const shared = await PgVisitorBook.open(store, opts);
        // Another instance's change took a visitor out: its retained topics go here too.
        shared.onGone((id, fate) => {
          this.fates.set(id, fate);
          // This instance's events of it still waiting in the outbox follow it now, not only when
          // the outbox next writes them (a forgotten visitor's are erased at once).
          void this.open()
            .then((log) => (log instanceof SharedEventLog ? log.visitorLeft(id, fate) : undefined))
            .catch((err: unknown) =>
              process.emitWarning(
                `the outbox's events of visitor ${id} could not follow it: ${(err as Error).message}`,
              ),
            );
          this.visitorGone(id, fate);
        });
        book = shared;
      } else book = await VisitorBook.open(this.visitorsFile, opts);
      book.onLinked = (into, merged) => this.visitorsLinked(into, merged);
      return book;
    })();
    this.openingVisitors.catch(() => (this.openingVisitors = undefined));
    return this.openingVisitors;
  }

  /**
   * The visitors when they are open or their file exists (always on PostgreSQL); null otherwise (a
   * read creates no files).
   */
  async existingVisitors(): Promise<VisitorRegistry | null> {
    if (this.openingVisitors || this.store.backend === 'postgres' || existsSync(this.visitorsFile))
      return this.visitors();
    return null;
  }

  /**
   * Unknown retention over the visitors (their samples and the visitors last seen before it), with
   * the retention in force; nothing when the store has no visitors open.
   */
  async sweepVisitors(now: number = Date.now()): Promise<{ removed: string[]; changed: string[] }> {
    const book = await this.openingVisitors?.catch(() => null);
    if (!book) return { removed: [], changed: [] };
    book.gallery.retainMs = this.inForce().retainUnknownDays * 86_400_000;
    const out = await book.expire(now);
    for (const id of out.removed) {
      this.fates.set(id, null);
      this.visitorGone(id, null);
    }
    return out;
  }

  /** The visitors and the log, when the store has visitors `ids`; null otherwise. */
  private async visitorParts(
    ...ids: string[]
  ): Promise<{ book: VisitorRegistry; log: EventLog | SharedEventLog } | null> {
    const book = await this.existingVisitors();
    if (!book || !ids.every((id) => book.gallery.get(id))) return null;
    const log = await this.open();
    return log instanceof EventLog || log instanceof SharedEventLog ? { book, log } : null;
  }

  /**
   * Forgets a recurring visitor: out of the gallery (its file compacted) and its events, pictures and
   * daily lines out of the log; audited, and face-mqtt clears its retained topics. Resolves to the
   * number of events removed, or null when the store has no such visitor (nothing was changed).
   */
  async forgetVisitor(id: string, actor?: string): Promise<number | null> {
    const parts = await this.visitorParts(id);
    if (!parts) return null;
    // The events first: a visitor whose events could not be erased is still in the gallery, and
    // forgetting it again finishes the job. (A shared store's events written meanwhile by another
    // instance go with the visitor's row, in its transaction; this instance's events on their way
    // are not written once it is marked.)
    const fate: VisitorFate = { forgotten: true };
    const n = await this.leaving(id, fate, async () => {
      const erased = await parts.log.eraseVisitor(id);
      await parts.book.forget(id, fate);
      return erased;
    });
    await this.audit('visitor-forget', { visitor: id, events: n }, actor);
    this.visitorGone(id, fate);
    return n;
  }

  /** Every event of visitor `id`, oldest first; null when the store has no such visitor. */
  async visitorEvents(id: string): Promise<{ visitor: Visitor; events: DetectionEvent[] } | null> {
    const parts = await this.visitorParts(id);
    const visitor = parts?.book.gallery.get(id);
    if (!parts || !visitor) return null;
    return { visitor, events: await parts.log.visitorEvents(id) };
  }

  /**
   * Merges visitor `from` into `into` (two visitors that are one person): `from`'s events carry
   * `into`'s id, the samples are pooled, the visits counted again over both; `from` is gone (audited,
   * its retained topics cleared). Null when either is not a visitor of the store; a RangeError for
   * merging a visitor into itself.
   */
  async mergeVisitors(into: string, from: string, actor?: string): Promise<Visitor | null> {
    if (into === from) throw new RangeError(`cannot merge visitor ${into} into itself`);
    const parts = await this.visitorParts(into, from);
    if (!parts) return null;
    const { book, log } = parts;
    // The events first: when the gallery's change fails, merging again finishes the job.
    // (A shared store's events written meanwhile by another instance are relabelled with the
    // visitor's row, in its transaction.)
    const fate: VisitorFate = { merged: into };
    const { n, v } = await this.leaving(from, fate, async () => {
      const relabelled = await log.relabelVisitor(from, withVisitorId(into));
      const times = (await log.visitorEvents(into)).map((e) => Date.parse(e.time));
      return { n: relabelled, v: await book.merge(into, from, times) };
    });
    await this.audit('visitor-merge', { visitor: into, merged: from, events: n }, actor);
    this.visitorGone(from, fate);
    return v;
  }

  /**
   * Splits sightings (events) off visitor `id` into a new visitor, with the samples of those
   * sightings; the moved events carry the new id. Null when the store has no such visitor; a
   * RangeError when an event is not one of its sightings, or when nothing or everything would move.
   */
  async splitVisitor(
    id: string,
    eventIds: string[],
    actor?: string,
  ): Promise<{ from: Visitor; to: Visitor } | null> {
    const parts = await this.visitorParts(id);
    if (!parts) return null;
    const { book, log } = parts;
    const events = await log.visitorEvents(id);
    const move = new Set(eventIds);
    const own = new Set(events.map((e) => e.id));
    for (const e of move)
      if (!own.has(e)) throw new RangeError(`${String(e).slice(0, 64)} is not a sighting of visitor ${id}`);
    const sighting = (e: DetectionEvent) => ({ time: Date.parse(e.time), camera: e.camera, event: e.id });
    const out = await book.split(
      id,
      events.filter((e) => move.has(e.id)).map(sighting),
      events.filter((e) => !move.has(e.id)).map(sighting),
    );
    await log.relabelVisitor(id, withVisitorId(out.to.id), move);
    await this.audit('visitor-split', { visitor: id, into: out.to.id, events: move.size }, actor);
    return out;
  }

  /**
   * The pictures to enrol visitor `id` from, best first: the face crops (else the plain frames) of
   * the events its kept samples came from (best quality first), then of its other events, newest
   * first, then the other crops of those events' passages in the same order (several sightings
   * before several frames of one); at most `max`. Null when the store has no such visitor.
   */
  async visitorPictures(id: string, max: number): Promise<Array<{ event: string; image: Buffer }> | null> {
    const parts = await this.visitorParts(id);
    const visitor = parts?.book.gallery.get(id);
    if (!parts || !visitor) return null;
    const events = await parts.log.visitorEvents(id);
    const order = [
      ...visitor.samples.flatMap((s) => (s.event ? [s.event] : [])),
      ...events.map((e) => e.id).reverse(),
    ];
    const out: Array<{ event: string; image: Buffer }> = [];
    const more: Array<{ event: string; image: Buffer }> = [];
    for (const event of new Set(order)) {
      if (out.length >= max) break;
      const [image, ...samples] = await parts.log.enrolPictures(event);
      if (image) out.push({ event, image });
      more.push(...samples.map((sample) => ({ event, image: sample })));
    }
    return [...out, ...more].slice(0, max);
  }

  /**
   * Visitor `id` was enrolled as `person` (the Face Library's Enrol as): its events become the
   * person's (named, their face in the frame named, the visitor label gone), and the visitor leaves
   * the gallery (its file compacted, its retained topics cleared); audited. Resolves to the number of
   * events relabelled, or null when the store has no such visitor.
   */
  async visitorEnrolled(
    id: string,
    person: { id: string; name: string },
    actor?: string,
  ): Promise<number | null> {
    const parts = await this.visitorParts(id);
    if (!parts) return null;
    const fate: VisitorFate = { enrolled: { id: person.id, name: person.name } };
    const n = await this.leaving(id, fate, async () => {
      const relabelled = await parts.log.relabelVisitor(id, enrolledAs(person));
      await parts.book.forget(id, fate);
      return relabelled;
    });
    // Another instance of a shared store may have written one of its events between the two:
    // relabelled now (after the visitor's row said it left, every instance relabels its own).
    if (parts.log instanceof SharedEventLog) await parts.log.relabelVisitor(id, enrolledAs(person));
    await this.audit('visitor-enrol', { visitor: id, person: person.id, events: n }, actor);
    this.visitorGone(id, fate);
    return n;
  }

  /**
   * A sighting linked visitors that were one person (see VisitorGallery.assign): the merged ones'
   * events carry `into`'s id (on a shared store the database's were relabelled with the change,
   * the outbox's here), each merge is audited as the system's, and their retained topics cleared.
   */
  private async visitorsLinked(into: string, merged: string[]): Promise<void> {
    // They left the gallery already (the link was kept): events on their way carry `into`'s id.
    for (const from of merged) this.fates.set(from, { merged: into });
    const log = await this.open();
    for (const from of merged) {
      const n =
        log instanceof SharedEventLog
          ? await log.relabelWaiting(from, withVisitorId(into))
          : log instanceof EventLog
            ? await log.relabelVisitor(from, withVisitorId(into))
            : 0;
      await this.audit(
        'visitor-merge',
        { visitor: into, merged: from, events: n, linked: true },
        'facewatch',
      );
      this.visitorGone(from, { merged: into });
    }
  }

  /**
   * Runs `change`, which takes visitor `id` out of the gallery for `fate`: the visitor is marked
   * first (so that an event on its way is not written with its id after its events were erased or
   * relabelled), and unmarked when the change fails (it is still there).
   */
  private async leaving<T>(id: string, fate: VisitorFate, change: () => Promise<T>): Promise<T> {
    this.fates.set(id, fate);
    try {
      return await change();
    } catch (err) {
      this.fates.unset(id);
      throw err;
    }
  }

  /**
   * An event as it is to be written or published now that its visitor may have left the gallery
   * while it was on its way (see {@link VisitorFates.follow}): the same, relabelled, or null.
   */
  follow(event: DetectionEvent): DetectionEvent | null {
    return this.fates.follow(event);
  }

  /** An audit line of a visitor's change; one that cannot be written is warned about. */
  private async audit(action: AuditAction, details: Record<string, unknown>, actor?: string): Promise<void> {
    try {
      await this.store.recordAudit(action, details, actor);
    } catch (err) {
      process.emitWarning(
        `the audit line of ${action} on ${this.store.location} failed: ${(err as Error).message}`,
      );
    }
  }

  /** Tells face-mqtt (and anyone listening) that a visitor left the gallery, and why (null: not said). */
  private visitorGone(id: string, fate: VisitorFate | null): void {
    for (const fn of visitorListeners)
      try {
        fn(this.store, id, fate);
      } catch (err) {
        process.emitWarning(`a listener of forgotten visitors failed: ${(err as Error).message}`);
      }
  }

  /** The log when it is open or its files exist; undefined otherwise (a read never creates files). */
  async existing(): Promise<DetectionLog | undefined> {
    if (this.opening) return this.opening;
    // Other instances' events are in the database: a shared store always has a log to read.
    if (this.store.backend === 'postgres') return this.open();
    if (existsSync(this.file)) return this.open();
    const dir = path.dirname(path.resolve(this.store.location));
    if (this.store.backend === 'nedb' && existsSync(path.join(dir, 'events.db'))) return this.open();
    return undefined;
  }

  /** The warning of moving an older FaceWatch's shared events, once. */
  takeWarning(): string | undefined {
    const w = this.legacyWarning;
    this.legacyWarning = undefined;
    return w;
  }

  /** The settings the log follows now: the strictest of its detection-logs' ({@link strictestSettings}). */
  inForce(): Required<EventLogSettings> {
    return strictestSettings(this.configurers.map((c) => c.settings));
  }

  /**
   * Opens the log with a detection-log's settings. One store keeps one log: with several
   * detection-logs on the store it follows the strictest of their settings ({@link strictestSettings}),
   * and each detection-log whose own settings are not the ones in force is told (through `warn`, once
   * for each change of what is in force) what applies and why. The warning for the caller is also
   * returned.
   */
  async configure(
    who: string,
    settings: EventLogSettings,
    warn?: (message: string) => void,
  ): Promise<{ log: DetectionLog; warning?: string }> {
    const i = this.configurers.findIndex((c) => c.who === who);
    if (i >= 0) this.configurers.splice(i, 1);
    const me: Configurer = { who, settings, warn };
    this.configurers.push(me);
    const log = await this.open();
    log.configure(this.inForce());
    const warnings = this.tell();
    return { log, warning: warnings.get(me) };
  }

  /** A detection-log leaves: the log follows the strictest settings of those that remain. */
  unconfigure(who: string): void {
    const i = this.configurers.findIndex((c) => c.who === who);
    if (i < 0) return;
    this.configurers.splice(i, 1);
    if (this.configurers.length && this.opening)
      void this.opening
        .then((log) => {
          log.configure(this.inForce());
          this.tell();
        })
        .catch(() => undefined);
  }

  /**
   * Tells every detection-log whose settings differ from those in force, once per change of them;
   * returns what each was told.
   */
  private tell(): Map<Configurer, string> {
    const force = this.inForce();
    const key = JSON.stringify(force);
    const told = new Map<Configurer, string>();
    const others = (c: Configurer): string =>
      this.configurers
        .filter((o) => o !== c)
        .map((o) => o.who)
        .join(', ');
    for (const c of this.configurers) {
      if (sameSettings(c.settings, force) || c.told === key) continue;
      c.told = key;
      const message =
        `this detection-log's retention, disk cap, time zone or daily files differ from those of detection-log ${others(c)} ` +
        `on face store ${this.store.location}: a store keeps one detection log, which follows the strictest of their settings ` +
        `(${describeSettings(force)}); give its detection-logs the same settings`;
      told.set(c, message);
      try {
        c.warn?.(message);
      } catch {
        // One node's failing warning must not keep the log from the others.
      }
    }
    return told;
  }

  /** Erases a person's events (see {@link EventLog.erasePerson}); 0 when the store has no events. */
  async erasePerson(id: string): Promise<number> {
    const log = await this.existing();
    return log ? log.erasePerson(id) : 0;
  }

  /** Waits for the log's writes and stops erasing with the store. */
  async close(): Promise<void> {
    this.detach();
    attached.delete(this.store);
    const log = await this.opening?.catch(() => undefined);
    await log?.close();
    const book = await this.openingVisitors?.catch(() => null);
    await book?.close();
  }
}

type VisitorGoneListener = (store: OpenStore, id: string, fate: VisitorFate | null) => void;
const visitorListeners = new Set<VisitorGoneListener>();

/**
 * Calls `fn` with the store, id and fate (null: expired, or not said) of every visitor that leaves
 * a gallery of this process (forgotten, merged into another, enrolled as a person, expired), so that
 * its retained MQTT topics are cleared and its events still on their way follow it. Returns the
 * function that stops it.
 */
export function onVisitorGone(fn: VisitorGoneListener): () => void {
  visitorListeners.add(fn);
  return () => visitorListeners.delete(fn);
}

const attached = new WeakMap<OpenStore, StoreEvents>();

/**
 * The detection log of an open store, attached (as one of its erasers) on the first call. Close it
 * before the store ({@link StoreEvents.close}).
 */
export function storeEvents(store: OpenStore): StoreEvents {
  let events = attached.get(store);
  if (!events) {
    events = new StoreEvents(store);
    attached.set(store, events);
  }
  return events;
}

/** How to open a store: a datafile (the default backend) or a PostgreSQL schema. */
export type StoreOpenOptions =
  (StoreOptions & { backend?: 'nedb' }) | (PgStoreOptions & { backend: 'postgres' });

/**
 * Opens a store with its detection log attached as an eraser, and finishes the erasures an earlier
 * run left pending (a crash, a full disk) before anybody uses it: a store whose pending erasure
 * cannot be finished does not open, and says why.
 */
export async function openStore(opts: StoreOptions & { backend?: 'nedb' }): Promise<FaceStore>;
export async function openStore(opts: StoreOpenOptions): Promise<OpenStore>;
export async function openStore(opts: StoreOpenOptions): Promise<OpenStore> {
  const store: OpenStore =
    opts.backend === 'postgres' ? await PgStore.open(opts) : await FaceStore.open(opts);
  try {
    storeEvents(store);
    finishedAtOpen.set(store, await store.finishPendingErasures(opts.actor));
  } catch (err) {
    await closeStore(store).catch(() => undefined);
    throw err;
  }
  return store;
}

const finishedAtOpen = new WeakMap<OpenStore, string[]>();

/** The ids whose erasure, cut short by an earlier run, {@link openStore} finished. */
export function erasuresFinishedAtOpen(store: OpenStore): string[] {
  return finishedAtOpen.get(store) ?? [];
}

/** Closes a store opened by {@link openStore}: its detection log first, then the store. */
export async function closeStore(store: OpenStore): Promise<void> {
  await attached.get(store)?.close();
  await store.close();
}
