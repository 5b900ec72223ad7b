/**
 * The visitor gallery kept on disk: an NeDB datafile `visitors.db` beside the detection log's
 * `events.db` (mode 0600), one document per visitor with its samples' descriptors as float32 bytes
 * (exact, base64), and one for the next visitor number. Every change is written before it is
 * answered; a forgotten, merged or expired visitor's lines are compacted out of the file at once, so
 * no descriptor of theirs stays on disk, and the file is compacted whenever the lines appended by
 * assignments outnumber twice its visitors. Changes are queued, one at a time.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { RawDoc } from '../store/backups';
import { Datafile } from '../store/datafile';
import {
  VisitorGallery,
  type Assignment,
  type Sighting,
  type Visit,
  type Visitor,
  type VisitorOptions,
  type VisitorRegistry,
} from './visitors';

const META = 'meta';

/** Lines appended before the file is compacted, at least (see VisitorBook.compactWhenGrown). */
const COMPACT_AFTER = 500;

/** A kept sample as stored (here and in a shared store's `visitors.samples`). */
export interface SampleDoc {
  id: string;
  /** Float32 bytes, base64. */
  d: string;
  q: number;
  t: number;
  c: string;
  e: string | null;
}

/** A visitor's samples as stored: descriptors as float32 bytes (exact), base64. */
export function samplesToDocs(v: Visitor): SampleDoc[] {
  return v.samples.map((s) => ({
    id: s.id,
    d: Buffer.from(Float32Array.from(s.descriptor).buffer).toString('base64'),
    q: s.quality,
    t: s.time,
    c: s.camera,
    e: s.event,
  }));
}

/** Stored samples read back. */
export function samplesFromDocs(docs: SampleDoc[]): Visitor['samples'] {
  return docs.map((s) => {
    const b = Buffer.from(s.d, 'base64');
    const f = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    return { id: s.id, descriptor: Array.from(f), quality: s.q, time: s.t, camera: s.c, event: s.e };
  });
}

function toDoc(v: Visitor): RawDoc {
  return {
    _id: v.id,
    firstSeen: v.firstSeen,
    lastSeen: v.lastSeen,
    visits: v.visits,
    cameras: v.cameras,
    samples: samplesToDocs(v),
  };
}

function fromDoc(d: Record<string, unknown>): Visitor {
  const samples = samplesFromDocs(d.samples as SampleDoc[]);
  return {
    id: String(d._id),
    firstSeen: Number(d.firstSeen),
    lastSeen: Number(d.lastSeen),
    visits: Number(d.visits),
    cameras: (d.cameras as string[]).map(String),
    samples,
  };
}

/** A detection log's visitors: the gallery in memory, every change on disk. */
export class VisitorBook implements VisitorRegistry {
  private queue: Promise<unknown> = Promise.resolve();
  /** Lines appended since the file was last compacted (each assignment appends its visitor's). */
  private appended = 0;

  private constructor(
    readonly file: string,
    private readonly db: Datafile,
    readonly gallery: VisitorGallery,
    /** The next visitor number the file holds: written again only when a new visitor moved it. */
    private savedNext: number,
  ) {}

  /** Opens (or creates) `file` and loads its visitors. */
  static async open(file: string, opts: VisitorOptions = {}): Promise<VisitorBook> {
    const f = path.resolve(file);
    await mkdir(path.dirname(f), { recursive: true, mode: 0o700 });
    const db = Datafile.create(f, { label: 'visitor gallery', corruptAlertThreshold: 0.1 });
    await db.load();
    const docs = (await db.all()) as unknown as Array<Record<string, unknown>>;
    const meta = docs.find((d) => d._id === META);
    const visitors = docs.filter((d) => d._id !== META).map(fromDoc);
    const gallery = new VisitorGallery(opts, visitors, Number(meta?.next ?? 1));
    return new VisitorBook(f, db, gallery, meta ? Number(meta.next) : 0);
  }

  /** Runs changes one at a time, in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async save(...visitors: Visitor[]): Promise<void> {
    await this.db.unit(async () => {
      for (const v of visitors) await this.db.update(v.id, toDoc(v), true);
      if (this.gallery.next !== this.savedNext)
        await this.db.update(META, { _id: META, next: this.gallery.next }, true);
    });
    this.savedNext = this.gallery.next;
    this.appended += visitors.length;
  }

  private async compactNow(): Promise<void> {
    await this.db.compact();
    this.appended = 0;
  }

  /**
   * Compacts the file once the lines appended since the last compaction outnumber twice the
   * visitors (and {@link COMPACT_AFTER}): the file stays within about three times its compacted
   * size, however many tracks a camera sees between sweeps.
   */
  private async compactWhenGrown(): Promise<void> {
    if (this.appended > Math.max(COMPACT_AFTER, 2 * this.gallery.size)) await this.compactNow();
  }

  private async removeDocs(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.db.unit(async () => {
      for (const id of ids) if (this.db.has(id)) await this.db.remove(id);
    });
  }

  onLinked?: (into: string, merged: string[]) => Promise<void>;

  /** Gives a visit its visitor (see {@link VisitorGallery.assign}) and writes it. */
  assign(visit: Visit): Promise<Assignment | null> {
    return this.serial(async () => {
      const a = this.gallery.assign(visit);
      if (a) {
        await this.save(a.visitor);
        await this.removeDocs(a.merged);
        await this.compactWhenGrown();
        if (a.merged.length) await this.onLinked?.(a.visitor.id, a.merged);
      }
      return a;
    });
  }

  /** Merges `from` into `into`; `from`'s lines are compacted out. */
  merge(into: string, from: string, times?: number[]): Promise<Visitor> {
    return this.serial(async () => {
      const v = this.gallery.merge(into, from, times);
      await this.save(v);
      await this.removeDocs([from]);
      await this.compactNow();
      return v;
    });
  }

  /** Splits sightings off a visitor into a new one (see {@link VisitorGallery.split}). */
  split(id: string, moved: Sighting[], kept: Sighting[]): Promise<{ from: Visitor; to: Visitor }> {
    return this.serial(async () => {
      const out = this.gallery.split(id, moved, kept);
      await this.save(out.from, out.to);
      await this.compactNow();
      return out;
    });
  }

  /** Forgets a visitor (whatever the reason): gone from memory and, compacted, from the file. */
  forget(id: string): Promise<Visitor | undefined> {
    return this.serial(async () => {
      const v = this.gallery.forget(id);
      if (!v) return undefined;
      await this.removeDocs([id]);
      await this.compactNow();
      return v;
    });
  }

  /** Unknown retention (see {@link VisitorGallery.expire}); the file compacted when anything went. */
  expire(now: number = Date.now()): Promise<{ removed: string[]; changed: string[] }> {
    return this.serial(async () => {
      const out = this.gallery.expire(now);
      if (!out.removed.length && !out.changed.length) return out;
      await this.removeDocs(out.removed);
      const changed = out.changed.map((id) => this.gallery.get(id)).filter((v): v is Visitor => !!v);
      if (changed.length) await this.save(...changed);
      await this.compactNow();
      return out;
    });
  }

  /** Compacts the file (every assignment appends a line). */
  compact(): Promise<void> {
    return this.serial(() => this.compactNow());
  }

  /** Waits for the changes under way. */
  async close(): Promise<void> {
    await this.queue;
  }
}
