/**
 * The detection log: each event as `event.json` in its own folder `facewatch/events/<event id>/`
 * with its pictures, an index of the events in an NeDB datafile (`facewatch/events.db` beside the
 * face store's: what queries, statistics, sweeps and erasures look at, so that the memory an event
 * costs while it is kept is its index entry, not the event), and optionally one JSON line per event
 * in daily files `facewatch/detections_YYYY-MM-DD.jsonl` (days of the configured time zone).
 * Queries, statistics, retention sweeps and erasure of a person. Files are the owner's only
 * (0600 in folders of 0700): they hold biometric data.
 */
import { existsSync } from 'node:fs';
import {
  appendFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { CropFolder } from '../store/crops';
import { Datafile } from '../store/datafile';
import { EVENT_QUERY, EVENTS } from '../types/defaults';
import type { DetectionEvent } from '../types/events';
import { drawSnapshot, eventLabels, pixelate } from './snapshot';
import { ZonedClock } from './time';

/** How a log keeps its events: what detection-log's settings say (see {@link EventLog.configure}). */
export interface EventLogSettings {
  /** Also write `detections_YYYY-MM-DD.jsonl` beside the datafile. */
  dailyFiles?: boolean;
  /** IANA time zone of days; '' or absent: the system's. */
  timezone?: string;
  /** Days an event of a known person is kept (default EVENTS.retainKnownDays: lib/types/defaults.ts). */
  retainKnownDays?: number;
  /** Days an event of an unknown face is kept (default EVENTS.retainUnknownDays). */
  retainUnknownDays?: number;
  /** Disk cap in MB of datafile, daily files and pictures; 0: none (default EVENTS.maxDiskMB). */
  maxDiskMB?: number;
}

/** Where and how a log keeps its events. */
export interface EventLogOptions extends EventLogSettings {
  /** The NeDB datafile, e.g. `<userDir>/facewatch/faces-events/events.db` (see store-events.ts). */
  file: string;
  /** The pictures; default: a folder named after the datafile without extension (`events/`). */
  imagesDir?: string;
}

/** A query over the log; every field optional. */
export interface EventQuery {
  /** A person's id or name (exact). */
  person?: string;
  camera?: string;
  /** ISO time or epoch ms, inclusive. */
  from?: string | number;
  /** ISO time or epoch ms, exclusive. */
  to?: string | number;
  known?: boolean;
  /** A recurring visitor's id (`VISITOR_0001`): that visitor's events. */
  visitor?: string;
  /** Only events with a later id than this one (ids sort by time): what came since the caller last looked. */
  after?: string;
  /** At most this many (EVENT_QUERY.limit: default 100, at most 1000). */
  limit?: number;
  offset?: number;
}

/** What {@link EventLog.stats} reports. */
export interface EventStats {
  /** People enrolled in the store (given by the caller). */
  people: number;
  /** Today's date in the log's zone and the zone's name. */
  today: string;
  timezone: string;
  /** Events today. */
  eventsToday: number;
  /** Events today per person name (`unknown` for unknown faces). */
  todayByPerson: Record<string, number>;
  /** Events today per person id (two people of one name stay apart); unknown faces are not in it. */
  todayByPersonId: Record<string, { name: string; count: number }>;
  todayByCamera: Record<string, number>;
  /** Events per hour today (24 entries, hour 0 first, in the log's zone). */
  todayByHour: number[];
  /** The last event of each person: id → {name, time, camera}. */
  lastSeen: Record<string, { name: string; time: string; camera: string }>;
  /** Recurring visitors (unknown faces told apart) seen today, each counted once. */
  visitorsToday: number;
  /** Visitors seen today per camera, each counted once per camera. */
  todayVisitorsByCamera: Record<string, number>;
  /** Visitors seen per hour today (24 entries), each counted once per hour. */
  todayVisitorsByHour: number[];
}

/** What a sweep removed. */
export interface SweepReport {
  expired: number;
  overCap: number;
  bytes: number;
}

/** The pictures of an event to keep with it. */
export interface EventFiles {
  snapshot?: Buffer | null;
  crop?: Buffer | null;
  /** More crops of the face from its passage (see DetectionEvent.samples). */
  samples?: Buffer[] | null;
}

/**
 * What the datafile holds of an event (and so what NeDB holds in memory while it is kept): what
 * finds, counts and sweeps it. The event itself is {@link BODY} in its folder.
 */
interface Entry {
  _id: string;
  v: 2;
  time: string;
  camera: string;
  known: boolean;
  person: { id: string; name: string } | null;
  /** The people named in `faces`; absent for an event without `faces` (recorded before they existed). */
  faceIds?: string[];
  snapshot: string | null;
  /** The recurring visitor's id, for an unknown face given one. */
  visitor?: string;
}

/** An event recorded before the index (the whole event in the datafile), still read as it is. */
type WholeDoc = DetectionEvent & { _id: string; v?: undefined };

type Doc = Entry | WholeDoc;

/** The file of an event in its folder. */
const BODY = 'event.json';

function entryOf(e: DetectionEvent): Entry {
  const entry: Entry = {
    _id: e.id,
    v: 2,
    time: e.time,
    camera: e.camera,
    known: e.known,
    person: e.person,
    snapshot: e.snapshot,
  };
  if (e.faces) entry.faceIds = [...new Set(e.faces.flatMap((f) => (f.person ? [f.person.id] : [])))];
  if (e.visitor) entry.visitor = e.visitor.id;
  return entry;
}

export const DAY_MS = 86400000;
const DAILY_RE = /^detections_(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** What an event id from outside (a request, a message) must look like before it reaches the log. */
export const EVENT_ID = /^[0-9A-Za-z.-]{1,64}$/;

/** An event id: sortable by time (compact ISO prefix) and safe as a folder name. */
export function eventId(time: Date): string {
  const iso = time.toISOString().replace(/[-:]/g, '');
  return `${iso}-${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
}

/** A query's time (ISO text or epoch ms) as epoch ms; undefined when absent, a RangeError when unreadable. */
export function toMs(v: string | number | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const t = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(t)) throw new RangeError(`not a time: ${JSON.stringify(v)}`);
  return t;
}

function publicEvent(d: WholeDoc): DetectionEvent {
  const { _id, v, ...e } = d;
  void _id;
  void v;
  return e;
}

/**
 * What the detection-log node, the Face Library and the command line use of a store's detection log:
 * {@link EventLog} (files on this machine), or the log of a store on PostgreSQL (lib/events/shared-log.ts:
 * the installation's events in the database, this machine's files its outbox).
 */
export interface DetectionLog {
  /** Where this machine keeps the log's files (the events datafile). */
  readonly file: string;
  readonly settings: Readonly<EventLogSettings>;
  configure(settings: EventLogSettings): void;
  record(event: DetectionEvent, files?: EventFiles): Promise<DetectionEvent>;
  record(
    event: DetectionEvent,
    files: EventFiles,
    enrolled: (personId: string) => boolean,
    follow?: (event: DetectionEvent) => DetectionEvent | null,
  ): Promise<DetectionEvent | null>;
  get(id: string): Promise<DetectionEvent | undefined>;
  snapshot(id: string): Promise<Buffer | undefined>;
  frame(id: string): Promise<Buffer | undefined>;
  crop(id: string): Promise<Buffer | undefined>;
  /**
   * The pictures to enrol an event's face from, best first: its crop (else its plain frame), then
   * the other crops of its passage. Empty when the event or its pictures are gone.
   */
  enrolPictures(id: string): Promise<Buffer[]>;
  countPerson(id: string): Promise<number>;
  query(q?: EventQuery): Promise<DetectionEvent[]>;
  stats(people: number, now?: Date | number): Promise<EventStats>;
  sweep(now?: Date | number): Promise<SweepReport>;
  erasePerson(id: string): Promise<number>;
  diskUsage(): Promise<number>;
  close(): Promise<void>;
}

/** The detection log. Open with {@link EventLog.open}, close with {@link EventLog.close}. */
export class EventLog implements DetectionLog {
  readonly file: string;
  readonly dir: string;
  readonly images: CropFolder;
  private settingsNow: EventLogSettings;
  private zoned: ZonedClock;
  /** The datafile: a write that fails is undone in memory and on disk (lib/store/datafile.ts). */
  private readonly db: Datafile;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(opts: EventLogOptions, db: Datafile) {
    this.file = path.resolve(opts.file);
    this.dir = path.dirname(this.file);
    const base = path.basename(this.file, path.extname(this.file));
    this.images = new CropFolder(path.resolve(opts.imagesDir ?? path.join(this.dir, base)));
    this.settingsNow = settingsOf(opts);
    this.zoned = new ZonedClock(opts.timezone);
    this.db = db;
  }

  /** Opens (or creates) the log. Throws a RangeError for an unknown time zone. */
  static async open(opts: EventLogOptions): Promise<EventLog> {
    new ZonedClock(opts.timezone);
    const file = path.resolve(opts.file);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // A line a crash tore is dropped at load (up to NeDB's default share) rather than refusing the
    // log: an event is a record of a sighting, the face store's datafile is the one kept strict.
    const db = Datafile.create(file, { label: 'detection log', corruptAlertThreshold: 0.1 });
    await db.load();
    const log = new EventLog({ ...opts, file }, db);
    await log.sweepLeftovers();
    return log;
  }

  /**
   * Removes what a crash or a kill left half-done: temporary files (a picture or a daily file being
   * written, NeDB's `events.db~` of a compaction) and picture folders of events that are not in the
   * log (an event removed from the datafile before its pictures). Nothing of an event that is in
   * the log is touched.
   */
  private async sweepLeftovers(): Promise<void> {
    await rm(`${this.file}~`, { force: true });
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const n of names)
      if (DAILY_RE.test(n.replace(/\.tmp$/, '')) && n.endsWith('.tmp'))
        await rm(path.join(this.dir, n), { force: true });
    const keys = await readdir(this.images.root, { withFileTypes: true }).catch(() => []);
    if (!keys.length) return;
    const known = new Set((await this.db.all()).map((d) => d._id));
    for (const k of keys) {
      const folder = path.join(this.images.root, k.name);
      if (!k.isDirectory() || !known.has(k.name)) {
        await rm(folder, { recursive: true, force: true });
        continue;
      }
      for (const f of await readdir(folder).catch(() => [] as string[]))
        if (f.endsWith('.tmp')) await rm(path.join(folder, f), { force: true });
    }
  }

  /** The days and hours of the configured time zone. */
  get clock(): ZonedClock {
    return this.zoned;
  }

  /** The settings in force. */
  get settings(): Readonly<EventLogSettings> {
    return this.settingsNow;
  }

  /**
   * Replaces the settings (retention, disk cap, time zone, daily files): the log is the store's and
   * opened with the defaults; the detection-log that records into it says how it is kept. Throws a
   * RangeError for an unknown time zone (nothing changes then).
   */
  configure(settings: EventLogSettings): void {
    const zoned = new ZonedClock(settings.timezone);
    this.settingsNow = settingsOf(settings);
    this.zoned = zoned;
  }

  /** Runs changes one at a time, so a sweep or an erasure never interleaves with a record. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The daily file of a day (`YYYY-MM-DD`). */
  dailyFile(day: string): string {
    return path.join(this.dir, `detections_${day}.jsonl`);
  }

  /**
   * Records an event: writes its pictures (setting `snapshot` and `crop` to their paths relative
   * to the images folder, or null), inserts it and appends it to its day's file. The snapshot is
   * the plain frame (see {@link plainFrame}); `event.faces` says what is drawn over it when it is
   * served. Resolves to the event as recorded, the object to send and publish.
   */
  record(event: DetectionEvent, files?: EventFiles): Promise<DetectionEvent>;
  /**
   * The same, for the people `enrolled` still knows, decided in turn with the erasures (an erasure
   * queued before this record has run, one queued after it erases what this writes): an event of
   * someone it no longer knows (erased while their frame was on its way) is not written and
   * resolves to null; in someone else's event they leave `faces` and their face is pixelated in
   * the kept frame. `follow` does the same for the event's recurring visitor (see
   * VisitorFates.follow): the event as it is to be written now (relabelled when its visitor was
   * merged or enrolled meanwhile), or null when it is not to be written (forgotten).
   */
  record(
    event: DetectionEvent,
    files: EventFiles,
    enrolled: (personId: string) => boolean,
    follow?: (event: DetectionEvent) => DetectionEvent | null,
  ): Promise<DetectionEvent | null>;
  record(
    event: DetectionEvent,
    files: EventFiles = {},
    enrolled?: (personId: string) => boolean,
    follow?: (event: DetectionEvent) => DetectionEvent | null,
  ): Promise<DetectionEvent | null> {
    return this.serial(async () => {
      if (follow && event.visitor) {
        const followed = follow(event);
        if (!followed) return null;
        event = followed;
      }
      if (enrolled) {
        if (event.person && !enrolled(event.person.id)) return null;
        const faces = event.faces ?? [];
        const gone = faces.filter((f) => f.person && !enrolled(f.person.id));
        if (gone.length) {
          event = { ...event, faces: faces.filter((f) => !gone.includes(f)) };
          if (files.snapshot)
            files = {
              ...files,
              snapshot: await pixelate(
                files.snapshot,
                gone.map((f) => f.box),
              ),
            };
        }
      }
      const e: DetectionEvent = { ...event, snapshot: null, crop: null };
      let undoDaily: (() => Promise<void>) | undefined;
      try {
        if (files.snapshot) {
          await this.writeFile(e.id, 'frame.jpg', files.snapshot);
          e.snapshot = this.images.relative(e.id, 'frame.jpg');
        }
        if (files.crop) {
          await this.writeFile(e.id, 'face.jpg', files.crop);
          e.crop = this.images.relative(e.id, 'face.jpg');
        }
        if (files.samples?.length) {
          e.samples = [];
          for (const [i, sample] of files.samples.entries()) {
            await this.writeFile(e.id, `sample-${i + 1}.jpg`, sample);
            e.samples.push(this.images.relative(e.id, `sample-${i + 1}.jpg`));
          }
        }
        await this.writeFile(e.id, BODY, Buffer.from(JSON.stringify(e)));
        // The daily line first: when the datafile's write fails after it, the line is cut off again.
        undoDaily = await this.appendDaily(e);
        await this.db.insert(entryOf(e));
      } catch (err) {
        // No pictures or daily line without their event: a picture nobody can find would escape erasure.
        await undoDaily?.().catch(() => undefined);
        await this.images.removeKey(e.id).catch(() => undefined);
        throw err;
      }
      return e;
    });
  }

  /**
   * Appends an event's line to its day's file (when daily files are on); resolves to what cuts the
   * file back to where it was. A line that could not be written whole is cut off at once.
   */
  private async appendDaily(e: DetectionEvent): Promise<(() => Promise<void>) | undefined> {
    if (!this.settingsNow.dailyFiles) return undefined;
    const file = this.dailyFile(this.zoned.day(e.time));
    const size = (await stat(file).catch(() => null))?.size;
    const undo = async (): Promise<void> => {
      if (size === undefined) await rm(file, { force: true });
      else await truncate(file, size);
    };
    try {
      await appendFile(file, `${JSON.stringify(e)}\n`, { mode: 0o600 });
    } catch (err) {
      await undo().catch(() => undefined);
      throw this.recordError('its daily file', err);
    }
    return undo;
  }

  /** Writes a file of an event (its pictures, `event.json`), failing with a clear error. */
  private async writeFile(id: string, name: string, data: Buffer): Promise<void> {
    try {
      await this.images.write(id, name, data);
    } catch (err) {
      throw this.recordError(name === BODY ? 'its file' : 'its pictures', err);
    }
  }

  private recordError(what: string, err: unknown): Error {
    const x = err as NodeJS.ErrnoException;
    return Object.assign(
      new Error(
        `the detection log ${this.file} could not record an event (${what}): ${x.code ? `${x.code}: ` : ''}${x.message}`,
      ),
      { code: x.code },
    );
  }

  /** One event by id, or undefined. */
  async get(id: string): Promise<DetectionEvent | undefined> {
    if (typeof id !== 'string' || !id) return undefined;
    const [doc] = await this.db.find<Doc>({ _id: id });
    return doc && this.load(doc);
  }

  /** The event of an index entry (or of a whole document), or undefined when its file is gone or torn. */
  private async load(doc: Doc): Promise<DetectionEvent | undefined> {
    if (doc.v !== 2) return publicEvent(doc);
    try {
      const e = JSON.parse((await this.images.read(doc._id, BODY)).toString('utf8')) as DetectionEvent;
      return e && typeof e === 'object' && e.id === doc._id ? e : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes a changed event: its file, then its index entry. */
  private async keep(e: DetectionEvent): Promise<void> {
    await this.images.write(e.id, BODY, Buffer.from(JSON.stringify(e)));
    await this.db.update(e.id, entryOf(e));
  }

  /**
   * An event's frame as it is shown: the stored plain frame with the boxes and names of
   * `event.faces` drawn over it (an event recorded before `faces` existed has them drawn in
   * already). Undefined when the event or its snapshot does not exist.
   */
  async snapshot(id: string): Promise<Buffer | undefined> {
    const e = await this.get(id);
    const data = e && (await this.stored(e, 'snapshot'));
    if (!e || !data) return undefined;
    return e.faces ? drawSnapshot(data, eventLabels(e.faces)) : data;
  }

  /** An event's frame as stored (plain, unless the event is older than `faces`), or undefined. */
  async frame(id: string): Promise<Buffer | undefined> {
    const e = await this.get(id);
    return e && this.stored(e, 'snapshot');
  }

  private async stored(e: DetectionEvent, which: 'snapshot' | 'crop'): Promise<Buffer | undefined> {
    const rel = e[which];
    const ref = rel ? this.images.parse(rel) : null;
    return ref ? this.images.read(ref.key, ref.name).catch(() => undefined) : undefined;
  }

  /** The stored frame, crop and passage samples of an event already read (no second read of its file). */
  async pictures(e: DetectionEvent): Promise<{ snapshot?: Buffer; crop?: Buffer; samples?: Buffer[] }> {
    return {
      snapshot: await this.stored(e, 'snapshot'),
      crop: await this.stored(e, 'crop'),
      ...(e.samples?.length ? { samples: await this.storedSamples(e) } : {}),
    };
  }

  /** The passage samples of an event already read that are still on disk, in order. */
  private async storedSamples(e: DetectionEvent): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const rel of e.samples ?? []) {
      const ref = typeof rel === 'string' ? this.images.parse(rel) : null;
      // Only this event's own files: a path naming another event's folder is not followed.
      const data =
        ref && ref.key === e.id
          ? await this.images.read(ref.key, ref.name).catch(() => undefined)
          : undefined;
      if (data) out.push(data);
    }
    return out;
  }

  /**
   * The pictures to enrol an event's face from: its crop (else its plain frame), then the other
   * crops of its passage (see DetectionEvent.samples). Empty when the event or its pictures are gone.
   */
  async enrolPictures(id: string): Promise<Buffer[]> {
    const e = await this.get(id);
    if (!e) return [];
    const first = (await this.stored(e, 'crop')) ?? (await this.stored(e, 'snapshot'));
    return [...(first ? [first] : []), ...(await this.storedSamples(e))];
  }

  /** An event's face crop (JPEG), or undefined. */
  async crop(id: string): Promise<Buffer | undefined> {
    const e = await this.get(id);
    return e && this.stored(e, 'crop');
  }

  /** How many events of a person (by id) the log holds. */
  countPerson(id: string): Promise<number> {
    return this.db.count({ 'person.id': String(id) });
  }

  /** The ids of the oldest `limit` events (by id, so by time), oldest first: an outbox's next ones. */
  async oldest(limit: number): Promise<string[]> {
    const docs = await this.db.find<Doc>({}).sort({ _id: 1 }).skip(0).limit(limit);
    return docs.map((d) => d._id);
  }

  /**
   * Removes events and their pictures from the log (their daily lines stay: they are this machine's
   * record of what it saw): for an outbox whose events are kept elsewhere now. The datafile is
   * compacted when `compact` says so.
   */
  forget(ids: string[], compact = false): Promise<void> {
    return this.serial(async () => {
      const docs = await this.db.find<Doc>({ _id: { $in: ids } });
      await this.drop(docs);
      if (compact) await this.db.compact();
    });
  }

  /** How many events the log holds. */
  count(): Promise<number> {
    return this.db.count({});
  }

  /** Events matching `q`, newest first. */
  async query(q: EventQuery = {}): Promise<DetectionEvent[]> {
    const where: Record<string, unknown> = {};
    if (q.person !== undefined && q.person !== '') {
      where.$or = [{ 'person.id': String(q.person) }, { 'person.name': String(q.person) }];
    }
    if (q.camera !== undefined && q.camera !== '') where.camera = String(q.camera);
    if (q.visitor !== undefined && q.visitor !== '') where.visitor = String(q.visitor);
    if (typeof q.known === 'boolean') where.known = q.known;
    const from = toMs(q.from);
    const to = toMs(q.to);
    const time: Record<string, string> = {};
    if (from !== undefined) time.$gte = isoTime(from);
    if (to !== undefined) time.$lt = isoTime(to);
    if (Object.keys(time).length) where.time = time;
    if (q.after !== undefined && q.after !== '') where._id = { $gt: String(q.after) };
    const { limit, offset } = queryPage(q);
    const docs = await this.db.find<Doc>(where).sort({ time: -1, _id: -1 }).skip(offset).limit(limit);
    const events = await Promise.all(docs.map((d) => this.load(d)));
    return events.filter((e): e is DetectionEvent => e !== undefined);
  }

  /** Today's statistics (in the log's zone) and the last sighting of each person. */
  async stats(people: number, now: Date | number = Date.now()): Promise<EventStats> {
    const { around, known } = await this.statEntries(now);
    return statsOf(this.zoned, people, now, around, known);
  }

  /** What {@link statsOf} reads: the events around today, and the known ones. */
  async statEntries(now: Date | number = Date.now()): Promise<{ around: StatEntry[]; known: StatEntry[] }> {
    return {
      around: await this.db.find<Doc>({ time: aroundToday(now) }),
      known: await this.db.find<Doc>({ known: true }),
    };
  }

  /**
   * Removes events past their age (known and unknown ones have their own), then the oldest while
   * the log's files exceed the disk cap; their pictures and daily lines go with them, and the
   * datafile is compacted so no removed event stays in it. Daily lines past their age go too,
   * whatever time zone their file was written in.
   */
  sweep(now: Date | number = Date.now()): Promise<SweepReport> {
    return this.serial(async () => {
      const knownDays = this.settingsNow.retainKnownDays ?? EVENTS.retainKnownDays.default;
      const unknownDays = this.settingsNow.retainUnknownDays ?? EVENTS.retainUnknownDays.default;
      const knownBefore = new Date(+now - knownDays * DAY_MS).toISOString();
      const unknownBefore = new Date(+now - unknownDays * DAY_MS).toISOString();
      const expired = await this.db.find<Doc>({
        $or: [
          { known: true, time: { $lt: knownBefore } },
          { known: false, time: { $lt: unknownBefore } },
        ],
      });
      const removed: Doc[] = [...expired];
      await this.drop(expired);
      let overCap = 0;
      let bytes = 0;
      const cap = (this.settingsNow.maxDiskMB ?? EVENTS.maxDiskMB.default) * 1024 * 1024;
      if (cap > 0) {
        await this.db.compact();
        let total = await this.diskUsage();
        if (total > cap) {
          const sizes = new Map<string, number>();
          for (const f of await this.images.list()) sizes.set(f.key, (sizes.get(f.key) ?? 0) + f.size);
          const all = await this.db
            .find<Doc>({})
            .sort({ time: 1, _id: 1 })
            .skip(0)
            .limit(Number.MAX_SAFE_INTEGER);
          const victims: Doc[] = [];
          for (const e of all) {
            if (total <= cap) break;
            // An event costs its pictures and about twice its JSON (datafile and daily line).
            const size = (sizes.get(e._id) ?? 0) + 2 * Buffer.byteLength(JSON.stringify(e));
            victims.push(e);
            total -= size;
            bytes += size;
          }
          overCap = victims.length;
          removed.push(...victims);
          await this.drop(victims);
        }
      }
      const ids = new Set(removed.map((d) => d._id));
      const expiredLine = (e: DetectionEvent): boolean =>
        typeof e.time === 'string' && e.time < (e.known ? knownBefore : unknownBefore);
      // A file's name is a day of the zone it was written in, which may not be today's setting:
      // a day either side of every removed event's day covers any zone.
      const days = new Set<string>();
      for (const d of removed) for (const k of [-1, 0, 1]) days.add(utcDay(Date.parse(d.time) + k * DAY_MS));
      const oldest = utcDay(+now - Math.min(knownDays, unknownDays) * DAY_MS + DAY_MS);
      await this.rewriteDaily(
        (e) => (ids.has(e.id) || expiredLine(e) ? null : e),
        (day) => days.has(day) || day <= oldest,
      );
      await this.db.compact();
      return { expired: expired.length, overCap, bytes };
    });
  }

  /** Bytes of the datafile, the daily files and the pictures. */
  async diskUsage(): Promise<number> {
    let n = await this.images.size();
    n += (await stat(this.file).catch(() => null))?.size ?? 0;
    for (const f of await this.dailyFiles()) n += (await stat(f).catch(() => null))?.size ?? 0;
    return n;
  }

  /**
   * Erases a person from the log: every event of theirs with its pictures and daily lines; in the
   * frames of other events that show them, their face is pixelated and they leave the event's
   * `faces` (and the daily lines); an older event's snapshot that has their name drawn in (recorded
   * before `faces` existed, on the same camera at the same moment as one of theirs) is removed. The
   * datafile is compacted. Resolves to the number of their events removed. Safe to run again.
   */
  erasePerson(id: string): Promise<number> {
    return this.serial(async () => {
      const own = await this.db.find<Doc>({ 'person.id': id });
      await this.drop(own);
      const changed = new Map<string, DetectionEvent>();
      const gone = new Set(own.map((d) => d._id));
      for (const doc of await this.db.find<Doc>({ $or: [{ faceIds: id }, { 'faces.person.id': id }] })) {
        const e = await this.load(doc);
        if (!e) {
          // An event whose file is gone cannot be redrawn: its entry (which names them) goes too.
          await this.drop([doc]);
          gone.add(doc._id);
          continue;
        }
        const next = await this.withoutFace(e, id);
        changed.set(next.id, next);
      }
      for (const d of own) {
        for (const doc of await this.db.find<Doc>({ camera: d.camera, time: d.time })) {
          if (!doc.snapshot || changed.has(doc._id)) continue;
          const e = await this.load(doc);
          if (!e || e.faces) continue;
          const next = { ...e, snapshot: null };
          await this.images.remove(e.id, 'frame.jpg');
          await this.keep(next);
          changed.set(next.id, next);
        }
      }
      // Lines naming them are rewritten even when their event already left the datafile.
      await this.rewriteDaily((e) => {
        if (gone.has(e.id) || e.person?.id === id) return null;
        const next = changed.get(e.id);
        if (next) return next;
        if (e.faces?.some((f) => f.person?.id === id))
          return { ...e, faces: e.faces.filter((f) => f.person?.id !== id) };
        return e;
      });
      await this.db.compact();
      return own.length;
    });
  }

  /**
   * Erases a recurring visitor from the log (Forget): every event of theirs with its pictures and
   * daily lines, and the datafile compacted, so nothing of their face stays in the log's files.
   * Resolves to the number of their events removed. Safe to run again.
   */
  eraseVisitor(id: string): Promise<number> {
    return this.serial(async () => {
      const own = await this.db.find<Doc>({ visitor: id });
      await this.drop(own);
      const gone = new Set(own.map((d) => d._id));
      await this.rewriteDaily((e) => (gone.has(e.id) || e.visitor?.id === id ? null : e));
      await this.db.compact();
      return own.length;
    });
  }

  /** Every event of a recurring visitor, oldest first. */
  async visitorEvents(id: string): Promise<DetectionEvent[]> {
    const docs = await this.db
      .find<Doc>({ visitor: String(id) })
      .sort({ time: 1, _id: 1 })
      .skip(0)
      .limit(Number.MAX_SAFE_INTEGER);
    const events = await Promise.all(docs.map((d) => this.load(d)));
    return events.filter((e): e is DetectionEvent => e !== undefined);
  }

  /**
   * Rewrites a recurring visitor's events (those in `only`, else all) with what `change` makes of
   * each: their files, index entries and daily lines; the datafile is compacted, so no line of the
   * old label stays in it. For Merge and Split (another visitor id) and Enrol as (the person).
   * Resolves to the number of events changed.
   */
  relabelVisitor(
    id: string,
    change: (e: DetectionEvent) => DetectionEvent,
    only?: ReadonlySet<string>,
  ): Promise<number> {
    return this.serial(async () => {
      const changed = new Map<string, DetectionEvent>();
      for (const doc of await this.db.find<Doc>({ visitor: String(id) })) {
        if (only && !only.has(doc._id)) continue;
        const e = await this.load(doc);
        if (!e) continue;
        const next = change(e);
        await this.keep(next);
        changed.set(next.id, next);
      }
      if (!changed.size) return 0;
      await this.rewriteDaily((e) => changed.get(e.id) ?? e);
      await this.db.compact();
      return changed.size;
    });
  }

  /** An event of someone else without the erased person's face: pixelated in its frame, out of `faces`. */
  private async withoutFace(e: DetectionEvent, id: string): Promise<DetectionEvent> {
    const faces = e.faces ?? [];
    const theirs = faces.filter((f) => f.person?.id === id);
    const next: DetectionEvent = { ...e, faces: faces.filter((f) => f.person?.id !== id) };
    const ref = e.snapshot ? this.images.parse(e.snapshot) : null;
    if (ref) {
      const frame = await this.images.read(ref.key, ref.name).catch(() => undefined);
      if (frame) {
        try {
          await this.images.write(
            ref.key,
            ref.name,
            await pixelate(
              frame,
              theirs.map((f) => f.box),
            ),
          );
        } catch (err) {
          // A frame that cannot be redrawn is removed rather than kept with their face in it.
          if ((err as NodeJS.ErrnoException).code) throw err;
          await this.images.remove(ref.key, ref.name);
          next.snapshot = null;
        }
      }
    }
    await this.keep(next);
    return next;
  }

  /** Waits for pending writes. */
  async close(): Promise<void> {
    await this.queue;
  }

  /** Removes events: the index entry, then the folder (a folder left by a kill is swept at the next open). */
  private async drop(docs: Doc[]): Promise<void> {
    for (const d of docs) {
      await this.db.remove(d._id);
      await this.images.removeKey(d._id);
    }
  }

  private async dailyFiles(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => DAILY_RE.test(n)).map((n) => path.join(this.dir, n));
  }

  /**
   * Rewrites daily files (those whose day `days` accepts, or all) with what `next` makes of each
   * line: the line itself, a changed event, or null to drop it; an emptied file is removed.
   */
  private async rewriteDaily(
    next: (e: DetectionEvent) => DetectionEvent | null,
    days?: (day: string) => boolean,
  ): Promise<void> {
    for (const file of await this.dailyFiles()) {
      const day = DAILY_RE.exec(path.basename(file))?.[1] ?? '';
      if (days && !days(day)) continue;
      const text = await readFile(file, 'utf8').catch(() => '');
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      let changed = false;
      const kept: string[] = [];
      for (const line of lines) {
        let e: DetectionEvent;
        try {
          e = JSON.parse(line) as DetectionEvent;
        } catch {
          // An unreadable line cannot be shown to be anyone's: kept.
          kept.push(line);
          continue;
        }
        const out = next(e);
        if (out === e) kept.push(line);
        else {
          changed = true;
          if (out) kept.push(JSON.stringify(out));
        }
      }
      if (!changed) continue;
      if (!kept.length) {
        await rm(file, { force: true });
        continue;
      }
      const tmp = `${file}.tmp`;
      try {
        await writeFile(tmp, kept.join('\n') + '\n', { mode: 0o600 });
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
    }
  }

  /** Whether the datafile exists (for tests and the CLI). */
  exists(): boolean {
    return existsSync(this.file);
  }
}

function settingsOf(s: EventLogSettings): EventLogSettings {
  return {
    dailyFiles: s.dailyFiles === true,
    timezone: s.timezone ?? '',
    retainKnownDays: s.retainKnownDays,
    retainUnknownDays: s.retainUnknownDays,
    maxDiskMB: s.maxDiskMB,
  };
}

/** The UTC day of an instant, `YYYY-MM-DD` (empty for an invalid time). */
function utcDay(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : '';
}

/** An instant as ISO text; a RangeError for one outside what a Date can hold. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a time: ${ms}`);
  return d.toISOString();
}

/** What {@link statsOf} reads of an event. */
export interface StatEntry {
  time: string;
  camera: string;
  person: { id: string; name: string } | null;
  /** The visitor's id (an index entry) or the visitor (an event). */
  visitor?: string | { id: string };
}

/** The times to look at for today's statistics: today lies within 36 h of now's UTC date in any zone. */
export function aroundToday(now: Date | number): { $gte: string; $lt: string } {
  return {
    $gte: new Date(+now - 1.5 * DAY_MS).toISOString(),
    $lt: new Date(+now + 1.5 * DAY_MS).toISOString(),
  };
}

/**
 * Today's statistics in `zoned`'s zone from the events `around` today ({@link aroundToday}) and the
 * last sighting of each person among `known` events (any of them; the latest of each person wins).
 */
export function statsOf(
  zoned: ZonedClock,
  people: number,
  now: Date | number,
  around: Iterable<StatEntry>,
  known: Iterable<StatEntry>,
): EventStats {
  const today = zoned.day(now);
  // Names, ids and cameras come from outside: counted in Maps, handed out as objects made by
  // Object.fromEntries (which defines `__proto__` as an own key instead of setting a prototype).
  const byPerson = new Map<string, number>();
  const byPersonId = new Map<string, { name: string; count: number }>();
  const byCamera = new Map<string, number>();
  const lastSeen = new Map<string, { name: string; time: string; camera: string }>();
  const todayByHour = new Array<number>(24).fill(0);
  const visitors = new Set<string>();
  const visitorsByCamera = new Map<string, Set<string>>();
  const visitorsByHour = Array.from({ length: 24 }, () => new Set<string>());
  let eventsToday = 0;
  for (const e of around) {
    if (zoned.day(e.time) !== today) continue;
    eventsToday++;
    const visitor = typeof e.visitor === 'string' ? e.visitor : e.visitor?.id;
    if (visitor && !e.person) {
      visitors.add(visitor);
      const here = visitorsByCamera.get(e.camera) ?? new Set<string>();
      here.add(visitor);
      visitorsByCamera.set(e.camera, here);
      visitorsByHour[zoned.hour(e.time)].add(visitor);
    }
    const who = e.person?.name ?? 'unknown';
    byPerson.set(who, (byPerson.get(who) ?? 0) + 1);
    if (e.person) {
      const byId = byPersonId.get(e.person.id) ?? { name: e.person.name, count: 0 };
      byId.count++;
      byPersonId.set(e.person.id, byId);
    }
    byCamera.set(e.camera, (byCamera.get(e.camera) ?? 0) + 1);
    todayByHour[zoned.hour(e.time)]++;
  }
  for (const e of known) {
    if (!e.person) continue;
    const last = lastSeen.get(e.person.id);
    if (!last || last.time < e.time)
      lastSeen.set(e.person.id, { name: e.person.name, time: e.time, camera: e.camera });
  }
  return {
    people,
    today,
    timezone: zoned.zone,
    eventsToday,
    todayByPerson: Object.fromEntries(byPerson),
    todayByPersonId: Object.fromEntries(byPersonId),
    todayByCamera: Object.fromEntries(byCamera),
    todayByHour,
    lastSeen: Object.fromEntries(lastSeen),
    visitorsToday: visitors.size,
    todayVisitorsByCamera: Object.fromEntries([...visitorsByCamera].map(([c, v]) => [c, v.size])),
    todayVisitorsByHour: visitorsByHour.map((v) => v.size),
  };
}

/** A query's page: its limit (EVENT_QUERY: default 100, 1 to 1000) and offset (0 or more), whole numbers. */
export function queryPage(q: EventQuery): { limit: number; offset: number } {
  const { limit: L } = EVENT_QUERY;
  return {
    limit: Math.min(Math.max(Math.floor(Number(q.limit ?? L.default)) || 0, L.min), L.max),
    offset: Math.min(Math.max(Math.floor(Number(q.offset ?? 0)) || 0, 0), Number.MAX_SAFE_INTEGER),
  };
}

/** Newest first: by time, then by id. */
export function newestFirst(a: DetectionEvent, b: DetectionEvent): number {
  return a.time < b.time ? 1 : a.time > b.time ? -1 : a.id < b.id ? 1 : -1;
}
