/**
 * The detection log: events in an NeDB datafile (`facewatch/events.db` beside the face store's),
 * their pictures under `facewatch/events/<event id>/`, and optionally one JSON line per event in
 * daily files `facewatch/detections_YYYY-MM-DD.jsonl` (days of the configured time zone).
 * Queries, statistics, retention sweeps and erasure of a person. Files are the owner's only
 * (0600 in folders of 0700): they hold biometric data.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Datastore from 'nedb-promises';
import { CropFolder } from '../store/crops';
import type { DetectionEvent } from '../types/events';
import { ZonedClock } from './time';

/** Where and how a log keeps its events. */
export interface EventLogOptions {
  /** The NeDB datafile, e.g. `<userDir>/facewatch/events.db`. */
  file: string;
  /** The pictures; default: a folder named after the datafile without extension (`events/`). */
  imagesDir?: string;
  /** Also write `detections_YYYY-MM-DD.jsonl` beside the datafile. */
  dailyFiles?: boolean;
  /** IANA time zone of days; '' or absent: the system's. */
  timezone?: string;
  /** Days an event of a known person is kept (default 30). */
  retainKnownDays?: number;
  /** Days an event of an unknown face is kept (default 7). */
  retainUnknownDays?: number;
  /** Disk cap in MB of datafile, daily files and pictures; 0 or absent: none. */
  maxDiskMB?: number;
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
  /** Default 100, at most 1000. */
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
}

type Doc = DetectionEvent & { _id: string };

interface DatastoreLike {
  load(): Promise<void>;
  find(
    q: object,
  ): { sort(s: object): { skip(n: number): { limit(n: number): Promise<Doc[]> } } } & Promise<Doc[]>;
  insert(doc: object): Promise<unknown>;
  remove(q: object, opts?: object): Promise<number>;
  compactDatafileAsync(): Promise<void>;
}

const DAY_MS = 86400000;
const DAILY_RE = /^detections_(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** An event id: sortable by time (compact ISO prefix) and safe as a folder name. */
export function eventId(time: Date): string {
  const iso = time.toISOString().replace(/[-:]/g, '');
  return `${iso}-${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
}

function toMs(v: string | number | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const t = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(t)) throw new RangeError(`not a time: ${JSON.stringify(v)}`);
  return t;
}

function publicEvent(d: Doc): DetectionEvent {
  const { _id, ...e } = d;
  void _id;
  return e;
}

/** The detection log. Open with {@link EventLog.open}, close with {@link EventLog.close}. */
export class EventLog {
  readonly file: string;
  readonly dir: string;
  readonly images: CropFolder;
  readonly clock: ZonedClock;
  private readonly opts: EventLogOptions;
  private readonly db: DatastoreLike;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(opts: EventLogOptions, db: DatastoreLike) {
    this.opts = opts;
    this.file = path.resolve(opts.file);
    this.dir = path.dirname(this.file);
    const base = path.basename(this.file, path.extname(this.file));
    this.images = new CropFolder(path.resolve(opts.imagesDir ?? path.join(this.dir, base)));
    this.clock = new ZonedClock(opts.timezone);
    this.db = db;
  }

  /** Opens (or creates) the log. Throws a RangeError for an unknown time zone. */
  static async open(opts: EventLogOptions): Promise<EventLog> {
    new ZonedClock(opts.timezone);
    const file = path.resolve(opts.file);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = Datastore.create({
      filename: file,
      autoload: false,
      modes: { fileMode: 0o600, dirMode: 0o700 },
    } as Parameters<typeof Datastore.create>[0]) as unknown as DatastoreLike;
    await db.load();
    return new EventLog({ ...opts, file }, db);
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
   * to the images folder, or null), inserts it and appends it to its day's file. Resolves to the
   * event as recorded, the object to send and publish.
   */
  record(event: DetectionEvent, files: EventFiles = {}): Promise<DetectionEvent> {
    return this.serial(async () => {
      const e: DetectionEvent = { ...event, snapshot: null, crop: null };
      if (files.snapshot) {
        await this.images.write(e.id, 'frame.jpg', files.snapshot);
        e.snapshot = this.images.relative(e.id, 'frame.jpg');
      }
      if (files.crop) {
        await this.images.write(e.id, 'face.jpg', files.crop);
        e.crop = this.images.relative(e.id, 'face.jpg');
      }
      await this.db.insert({ ...e, _id: e.id });
      if (this.opts.dailyFiles) {
        await appendFile(this.dailyFile(this.clock.day(e.time)), `${JSON.stringify(e)}\n`, { mode: 0o600 });
      }
      return e;
    });
  }

  /** Events matching `q`, newest first. */
  async query(q: EventQuery = {}): Promise<DetectionEvent[]> {
    const where: Record<string, unknown> = {};
    if (q.person !== undefined && q.person !== '') {
      where.$or = [{ 'person.id': String(q.person) }, { 'person.name': String(q.person) }];
    }
    if (q.camera !== undefined && q.camera !== '') where.camera = String(q.camera);
    if (typeof q.known === 'boolean') where.known = q.known;
    const from = toMs(q.from);
    const to = toMs(q.to);
    const time: Record<string, string> = {};
    if (from !== undefined) time.$gte = new Date(from).toISOString();
    if (to !== undefined) time.$lt = new Date(to).toISOString();
    if (Object.keys(time).length) where.time = time;
    const limit = Math.min(Math.max(Math.floor(Number(q.limit ?? 100)) || 0, 1), 1000);
    const offset = Math.max(Math.floor(Number(q.offset ?? 0)) || 0, 0);
    const docs = await this.db.find(where).sort({ time: -1, _id: -1 }).skip(offset).limit(limit);
    return docs.map(publicEvent);
  }

  /** Today's statistics (in the log's zone) and the last sighting of each person. */
  async stats(people: number, now: Date | number = Date.now()): Promise<EventStats> {
    const today = this.clock.day(now);
    // Today lies within a day of now's UTC date in any zone: look 36 h around it, then keep today's.
    const around = await this.db.find({
      time: {
        $gte: new Date(+now - 1.5 * DAY_MS).toISOString(),
        $lt: new Date(+now + 1.5 * DAY_MS).toISOString(),
      },
    });
    const s: EventStats = {
      people,
      today,
      timezone: this.clock.zone,
      eventsToday: 0,
      todayByPerson: {},
      todayByPersonId: {},
      todayByCamera: {},
      todayByHour: new Array<number>(24).fill(0),
      lastSeen: {},
    };
    for (const e of around) {
      if (this.clock.day(e.time) !== today) continue;
      s.eventsToday++;
      const who = e.person?.name ?? 'unknown';
      s.todayByPerson[who] = (s.todayByPerson[who] ?? 0) + 1;
      if (e.person) {
        const byId = (s.todayByPersonId[e.person.id] ??= { name: e.person.name, count: 0 });
        byId.count++;
      }
      s.todayByCamera[e.camera] = (s.todayByCamera[e.camera] ?? 0) + 1;
      s.todayByHour[this.clock.hour(e.time)]++;
    }
    for (const e of await this.db.find({ known: true })) {
      if (!e.person) continue;
      const last = s.lastSeen[e.person.id];
      if (!last || last.time < e.time)
        s.lastSeen[e.person.id] = { name: e.person.name, time: e.time, camera: e.camera };
    }
    return s;
  }

  /**
   * Removes events past their age (known and unknown ones have their own), then the oldest while
   * the log's files exceed the disk cap; their pictures and daily lines go with them, and the
   * datafile is compacted so no removed event stays in it.
   */
  sweep(now: Date | number = Date.now()): Promise<SweepReport> {
    return this.serial(async () => {
      const knownDays = this.opts.retainKnownDays ?? 30;
      const unknownDays = this.opts.retainUnknownDays ?? 7;
      const expired = await this.db.find({
        $or: [
          { known: true, time: { $lt: new Date(+now - knownDays * DAY_MS).toISOString() } },
          { known: false, time: { $lt: new Date(+now - unknownDays * DAY_MS).toISOString() } },
        ],
      });
      const removed: Doc[] = [...expired];
      await this.drop(expired);
      let overCap = 0;
      let bytes = 0;
      const cap = (this.opts.maxDiskMB ?? 0) * 1024 * 1024;
      if (cap > 0) {
        await this.db.compactDatafileAsync();
        let total = await this.diskUsage();
        if (total > cap) {
          const sizes = new Map<string, number>();
          for (const f of await this.images.list()) sizes.set(f.key, (sizes.get(f.key) ?? 0) + f.size);
          const all = await this.db.find({}).sort({ time: 1, _id: 1 }).skip(0).limit(Number.MAX_SAFE_INTEGER);
          const victims: Doc[] = [];
          for (const e of all) {
            if (total <= cap) break;
            // An event costs its pictures and about twice its JSON (datafile and daily line).
            const size = (sizes.get(e.id) ?? 0) + 2 * Buffer.byteLength(JSON.stringify(e));
            victims.push(e);
            total -= size;
            bytes += size;
          }
          overCap = victims.length;
          removed.push(...victims);
          await this.drop(victims);
        }
      }
      await this.dropDailyLines(removed);
      await this.db.compactDatafileAsync();
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
   * Erases a person from the log: every event of theirs, its pictures and its lines in the daily
   * files; the datafile is compacted. Resolves to the number of events removed.
   */
  erasePerson(id: string): Promise<number> {
    return this.serial(async () => {
      const docs = await this.db.find({ 'person.id': id });
      await this.drop(docs);
      // Lines naming them are removed even when their event already left the datafile.
      await this.rewriteDaily((e) => e.person?.id !== id);
      await this.db.compactDatafileAsync();
      return docs.length;
    });
  }

  /** Waits for pending writes. */
  async close(): Promise<void> {
    await this.queue;
  }

  private async drop(docs: Doc[]): Promise<void> {
    for (const d of docs) {
      await this.db.remove({ _id: d._id });
      await this.images.removeKey(d.id);
    }
  }

  private async dailyFiles(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => DAILY_RE.test(n)).map((n) => path.join(this.dir, n));
  }

  private async dropDailyLines(removed: Doc[]): Promise<void> {
    if (!removed.length) return;
    const ids = new Set(removed.map((d) => d.id));
    const days = new Set(removed.map((d) => this.clock.day(d.time)));
    await this.rewriteDaily((e) => !ids.has(e.id), days);
  }

  /** Rewrites daily files (of `days`, or all) keeping the lines `keep` accepts; an emptied file is removed. */
  private async rewriteDaily(keep: (e: DetectionEvent) => boolean, days?: Set<string>): Promise<void> {
    for (const file of await this.dailyFiles()) {
      const day = DAILY_RE.exec(path.basename(file))?.[1] ?? '';
      if (days && !days.has(day)) continue;
      const text = await readFile(file, 'utf8').catch(() => '');
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      const kept = lines.filter((l) => {
        try {
          return keep(JSON.parse(l) as DetectionEvent);
        } catch {
          // An unreadable line cannot be shown to be anyone's: kept.
          return true;
        }
      });
      if (kept.length === lines.length) continue;
      if (!kept.length) {
        await rm(file, { force: true });
        continue;
      }
      const tmp = `${file}.tmp`;
      await writeFile(tmp, kept.join('\n') + '\n', { mode: 0o600 });
      await rename(tmp, file);
    }
  }

  /** Whether the datafile exists (for tests and the CLI). */
  exists(): boolean {
    return existsSync(this.file);
  }
}
