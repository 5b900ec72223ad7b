/**
 * Recurring visitors: every unknown track gets a visitor id (`VISITOR_0001`, …), the same one each
 * time the same stranger comes back, so that operators see who keeps coming, how often and where,
 * and can enrol a regular visitor from the pictures already taken.
 *
 * A visit (an unknown track) is described by the quality-weighted mean of its best frames'
 * descriptors, not by one frame: a blurred or turned first frame would start a stranger anew. It
 * joins the visitor whose nearest kept sample is under the visitor threshold (VISITORS.threshold,
 * stricter than the match threshold), else it starts a new visitor. Each visitor keeps the best few
 * visit descriptors (by quality, bounded), so a visitor seen from several sides is found from each.
 * The samples are searched through the store's {@link DescriptorIndex} (one contiguous pass, the
 * WASM kernel where it runs), so a track against 10 000 visitors costs about what a match does.
 *
 * Pure memory, no I/O: lib/events/visitor-book.ts keeps the gallery in a datafile beside the events,
 * lib/events/pg-visitors.ts in the database of a store shared on PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { DescriptorIndex } from '../store/descriptor-index';
import { EVENTS, VISITORS } from '../types/defaults';
import type { Box, FaceQuality } from '../types';
import type { DetectionEvent, EventVisitor } from '../types/events';

/** One frame of a visit: a descriptor and how good a picture of the face it came from was. */
export interface VisitFrame {
  descriptor: ArrayLike<number>;
  /** 0..1, see {@link qualityScore}. */
  quality: number;
}

/** A visit to be given a visitor. */
export interface Visit {
  /** The track's frames with a descriptor (any number; the best {@link VisitorOptions.frames} count). */
  frames: VisitFrame[];
  camera: string;
  /** Epoch ms of the visit (its event's time). */
  time: number;
  /** The event the visit made, so that a sample can be traced to its picture. */
  event?: string;
}

/** A sighting of a visitor: when, where, and the event it made (Split moves sightings). */
export interface Sighting {
  time: number;
  camera: string;
  event: string;
}

/** One descriptor a visitor keeps: the mean of one visit's best frames. */
export interface VisitorSample {
  id: string;
  descriptor: number[];
  quality: number;
  time: number;
  camera: string;
  event: string | null;
}

/** A visitor as the gallery keeps it. */
export interface Visitor {
  id: string;
  /** Epoch ms. */
  firstSeen: number;
  lastSeen: number;
  /** Sightings more than the visit gap apart. */
  visits: number;
  /** Cameras it was seen on, sorted. */
  cameras: string[];
  /** The best visit descriptors, at most {@link VisitorOptions.samples}, best first. */
  samples: VisitorSample[];
}

/** What {@link VisitorGallery.assign} decided. */
export interface Assignment {
  visitor: Visitor;
  /** True when the visit started a new visitor. */
  created: boolean;
  /**
   * Visitors the visit linked to this one and that were merged into it: it was under the visitor
   * threshold of each (they were one person seen apart). Their events should carry `visitor.id`.
   */
  merged: string[];
  /** True when it counted as a new visit of a known visitor (seen after the visit gap). */
  newVisit: boolean;
  /** Distance to the visitor joined (null for a new one), and to the nearest visitor at all. */
  distance: number | null;
  nearest: number | null;
}

/** The gallery's knobs (defaults: VISITORS and EVENTS.retainUnknownDays, lib/types/defaults.ts). */
export interface VisitorOptions {
  threshold?: number;
  samples?: number;
  frames?: number;
  visitGapMinutes?: number;
  retainDays?: number;
}

const DAY_MS = 86_400_000;

/** Visitors one visit may link at most (see {@link VisitorGallery.assign}). */
const LINK_LIMIT = 8;

/** Visitor ids: `VISITOR_` and at least four digits. */
export const VISITOR_ID = /^VISITOR_\d{4,9}$/;

/** The `n`th visitor's id. */
export function visitorId(n: number): string {
  return `VISITOR_${String(n).padStart(4, '0')}`;
}

/**
 * How good a face picture is for describing the face, 0..1: big enough for the descriptor's
 * 150 px input, sharp, facing the camera, and surely a face. Ranks a track's frames.
 */
export function qualityScore(q: FaceQuality | undefined, detectorScore?: number): number {
  const size = q ? Math.min(Math.max(q.faceSize, 0) / 150, 1) : 0.5;
  const sharp = q ? Math.max(q.sharpness, 0) / (Math.max(q.sharpness, 0) + 50) : 0.5;
  const facing =
    q && q.yaw !== null ? Math.max(Math.cos((Math.min(Math.abs(q.yaw), 90) * Math.PI) / 180), 0) : 0.8;
  const face = typeof detectorScore === 'number' && Number.isFinite(detectorScore) ? detectorScore : 1;
  return Math.round(size * sharp * facing * Math.max(Math.min(face, 1), 0) * 1e4) / 1e4;
}

/** A frame of a passage that may be kept as a picture to enrol from. */
export interface PassageFrame {
  /** 0..1, see {@link qualityScore}. */
  quality: number;
  /** Head yaw in degrees; null when not known. */
  yaw: number | null;
}

/**
 * The frames of a passage to keep as pictures for enrolment from the track, at most `n`: the best by
 * quality, then each time the best of those turned at least `spread` degrees from every frame kept
 * (samples from more than one side name a person from more sides), else the best left. Frames of
 * quality 0 (no usable face) are never kept. In the order chosen: the best first.
 */
export function passagePictures<F extends PassageFrame>(
  frames: readonly F[],
  n: number = VISITORS.passagePictures,
  spread: number = VISITORS.passageSpreadDegrees,
): F[] {
  const left = frames.filter((f) => f.quality > 0).sort((a, b) => b.quality - a.quality);
  const kept: F[] = [];
  // A frame whose pose is not known is never taken for another side (only as the best left).
  const apart = (f: F): boolean =>
    spread <= 0 ||
    (f.yaw !== null && kept.every((k) => k.yaw === null || Math.abs(k.yaw - (f.yaw as number)) >= spread));
  while (kept.length < n && left.length) {
    const i = kept.length ? Math.max(left.findIndex(apart), 0) : 0;
    kept.push(...left.splice(i, 1));
  }
  return kept;
}

/**
 * The descriptor of a visit: the quality-weighted mean of its `n` best frames (a frame of quality
 * 0 weighs as little as one of 0.01). Null when no frame has a descriptor.
 */
export function visitDescriptor(
  frames: VisitFrame[],
  n: number = VISITORS.frames.default,
): { descriptor: Float32Array; quality: number } | null {
  const usable = frames.filter((f) => f.descriptor && f.descriptor.length > 0);
  if (!usable.length) return null;
  const best = [...usable].sort((a, b) => b.quality - a.quality).slice(0, Math.max(1, n));
  const dim = best[0].descriptor.length;
  const out = new Float32Array(dim);
  let total = 0;
  for (const f of best) {
    if (f.descriptor.length !== dim) continue;
    const w = Math.max(f.quality, 0.01);
    total += w;
    for (let i = 0; i < dim; i++) out[i] += f.descriptor[i] * w;
  }
  for (let i = 0; i < dim; i++) out[i] /= total;
  return { descriptor: out, quality: best[0].quality };
}

/** How many visits sightings at `times` (epoch ms) are, when a gap of `gapMs` starts a new one. */
export function visitsOf(times: number[], gapMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let visits = 0;
  let last = -Infinity;
  for (const t of sorted) {
    if (t - last > gapMs) visits++;
    last = t;
  }
  return visits;
}

/** A visitor as an event carries it. */
export function eventVisitor(v: Visitor): EventVisitor {
  return {
    id: v.id,
    visits: v.visits,
    firstSeen: new Date(v.firstSeen).toISOString(),
    lastSeen: new Date(v.lastSeen).toISOString(),
    cameras: [...v.cameras],
  };
}

/** The unknown visitors of a store, in memory, searchable. */
export class VisitorGallery {
  readonly threshold: number;
  readonly maxSamples: number;
  readonly frames: number;
  readonly gapMs: number;
  retainMs: number;
  private readonly visitors = new Map<string, Visitor>();
  private index: DescriptorIndex | null = null;
  private nextNumber: number;
  private sampleCounter = 0;
  /** Makes sample ids unique between galleries too (instances sharing visitors add samples apart). */
  private readonly sampleTag = randomBytes(3).toString('hex');

  constructor(opts: VisitorOptions = {}, visitors: Visitor[] = [], next = 1) {
    this.threshold = opts.threshold ?? VISITORS.threshold.default;
    this.maxSamples = opts.samples ?? VISITORS.samples.default;
    this.frames = opts.frames ?? VISITORS.frames.default;
    this.gapMs = (opts.visitGapMinutes ?? VISITORS.visitGapMinutes.default) * 60_000;
    this.retainMs = (opts.retainDays ?? EVENTS.retainUnknownDays.default) * DAY_MS;
    this.nextNumber = next;
    for (const v of visitors) this.put(v);
    for (const v of visitors) {
      const n = Number(v.id.slice('VISITOR_'.length));
      if (Number.isInteger(n) && n >= this.nextNumber) this.nextNumber = n + 1;
    }
  }

  /** Visitors held now. */
  get size(): number {
    return this.visitors.size;
  }

  /** The number the next new visitor gets. */
  get next(): number {
    return this.nextNumber;
  }

  get(id: string): Visitor | undefined {
    return this.visitors.get(id);
  }

  /** Every visitor, most visits first (then the most recently seen). */
  list(): Visitor[] {
    return [...this.visitors.values()].sort((a, b) => b.visits - a.visits || b.lastSeen - a.lastSeen);
  }

  /** The visitor nearest to `descriptor` and its distance, or null in an empty gallery. */
  nearest(descriptor: ArrayLike<number>): { id: string; distance: number } | null {
    if (!this.index || !this.index.rows) return null;
    const q = descriptor instanceof Float32Array ? descriptor : Float32Array.from(descriptor);
    if (q.length !== this.index.dim) return null;
    const [hit] = this.index.search(q, 1);
    return hit ? { id: hit.id, distance: hit.distance } : null;
  }

  /**
   * The visitors with a kept sample under the threshold of `descriptor`, nearest first (at most
   * {@link LINK_LIMIT}), and the distance to the nearest sample at all (null in an empty gallery).
   */
  private under(descriptor: Float32Array): {
    linked: Array<{ id: string; distance: number }>;
    nearest: number | null;
  } {
    if (!this.index || !this.index.rows || descriptor.length !== this.index.dim)
      return { linked: [], nearest: null };
    const hits = this.index.search(descriptor, LINK_LIMIT * this.maxSamples);
    const linked: Array<{ id: string; distance: number }> = [];
    for (const hit of hits) {
      if (hit.distance >= this.threshold) break;
      if (!linked.some((o) => o.id === hit.id)) linked.push({ id: hit.id, distance: hit.distance });
      if (linked.length >= LINK_LIMIT) break;
    }
    return { linked, nearest: hits[0]?.distance ?? null };
  }

  /**
   * Gives a visit its visitor: the nearest one under the threshold, its samples refined with this
   * visit's descriptor when it is among the best; else a new visitor. When the visit is under the
   * threshold of several visitors, they were one person seen apart (two sightings too far apart
   * for each other, both near this one) and are merged into the nearest (`merged`). Null when no
   * frame of the visit has a descriptor (no visitor can be told without one).
   */
  assign(visit: Visit, newId?: string): Assignment | null {
    const d = visitDescriptor(visit.frames, this.frames);
    if (!d) return null;
    // One search: the visitors it links and how near the nearest is (a new visitor's `nearest`).
    const { linked, nearest } = this.under(d.descriptor);
    const sample: VisitorSample = {
      id: '',
      descriptor: Array.from(d.descriptor),
      quality: d.quality,
      time: visit.time,
      camera: visit.camera,
      event: visit.event ?? null,
    };
    if (linked.length) {
      const [join, ...others] = linked;
      const v = this.visitors.get(join.id) as Visitor;
      const newVisit = visit.time - v.lastSeen > this.gapMs;
      if (newVisit) v.visits++;
      v.firstSeen = Math.min(v.firstSeen, visit.time);
      v.lastSeen = Math.max(v.lastSeen, visit.time);
      if (!v.cameras.includes(visit.camera)) v.cameras = [...v.cameras, visit.camera].sort();
      this.addSample(v, sample);
      for (const o of others) this.merge(v.id, o.id);
      return {
        visitor: v,
        created: false,
        merged: others.map((o) => o.id),
        newVisit,
        distance: join.distance,
        nearest: join.distance,
      };
    }
    const v: Visitor = {
      id: newId ?? visitorId(this.nextNumber++),
      firstSeen: visit.time,
      lastSeen: visit.time,
      visits: 1,
      cameras: [visit.camera],
      samples: [],
    };
    this.visitors.set(v.id, v);
    this.addSample(v, sample);
    return {
      visitor: v,
      created: true,
      merged: [],
      newVisit: true,
      distance: null,
      nearest,
    };
  }

  /**
   * The visitor a visit would join now: its id, null when it would start a new visitor, undefined
   * when no frame of it has a descriptor (see {@link assign}).
   */
  wouldJoin(visit: Visit): string | null | undefined {
    const linked = this.linkedTo(visit);
    return linked === undefined ? undefined : (linked[0] ?? null);
  }

  /**
   * The visitors a visit would join and link now (see {@link assign}), nearest first; undefined when
   * no frame of it has a descriptor.
   */
  linkedTo(visit: Visit): string[] | undefined {
    const d = visitDescriptor(visit.frames, this.frames);
    if (!d) return undefined;
    return this.under(d.descriptor).linked.map((u) => u.id);
  }

  /**
   * Merges visitor `from` into `into` (two visitors that are one person): samples pooled (the best
   * kept), sightings and cameras joined, `visits` the count over both visitors' visit times when
   * given (`times`), else the sum. `from` is gone afterwards. Throws a RangeError for an unknown id.
   */
  merge(into: string, from: string, times?: number[]): Visitor {
    if (into === from) throw new RangeError(`cannot merge visitor ${into} into itself`);
    const a = this.mustGet(into);
    const b = this.mustGet(from);
    this.drop(b.id);
    a.firstSeen = Math.min(a.firstSeen, b.firstSeen);
    a.lastSeen = Math.max(a.lastSeen, b.lastSeen);
    a.visits = times?.length ? visitsOf(times, this.gapMs) : a.visits + b.visits;
    a.cameras = [...new Set([...a.cameras, ...b.cameras])].sort();
    for (const s of b.samples) this.addSample(a, { ...s, id: '' });
    return a;
  }

  /**
   * Splits sightings off visitor `id` into a new visitor: `moved` are the sightings (time, camera,
   * event) that go, `kept` the ones that stay. Samples of the moved events go with them; a side left
   * without a sample keeps none (it is found again by its next visit). Returns both visitors.
   */
  split(id: string, moved: Sighting[], kept: Sighting[], newId?: string): { from: Visitor; to: Visitor } {
    const v = this.mustGet(id);
    if (!moved.length) throw new RangeError(`nothing to split off visitor ${id}`);
    if (!kept.length) throw new RangeError(`splitting every sighting off visitor ${id} leaves it empty`);
    const movedEvents = new Set(moved.map((m) => m.event));
    const to: Visitor = {
      id: newId ?? visitorId(this.nextNumber++),
      firstSeen: 0,
      lastSeen: 0,
      visits: 0,
      cameras: [],
      samples: [],
    };
    const samples = v.samples;
    this.drop(v.id);
    v.samples = [];
    this.visitors.set(v.id, v);
    this.visitors.set(to.id, to);
    const describe = (x: Visitor, seen: Array<{ time: number; camera: string }>): void => {
      x.firstSeen = Math.min(...seen.map((s) => s.time));
      x.lastSeen = Math.max(...seen.map((s) => s.time));
      x.visits = visitsOf(
        seen.map((s) => s.time),
        this.gapMs,
      );
      x.cameras = [...new Set(seen.map((s) => s.camera))].sort();
    };
    describe(v, kept);
    describe(to, moved);
    for (const s of samples) this.addSample(s.event !== null && movedEvents.has(s.event) ? to : v, s);
    return { from: v, to };
  }

  /** Removes a visitor and its samples; the visitor removed, or undefined when there was none. */
  forget(id: string): Visitor | undefined {
    const v = this.visitors.get(id);
    if (v) this.drop(id);
    return v;
  }

  /**
   * Unknown retention: samples older than it go, and visitors last seen before it (or left without
   * a sample). Returns the ids of the visitors removed and of those whose samples changed.
   */
  expire(now: number): { removed: string[]; changed: string[] } {
    const cutoff = now - this.retainMs;
    const removed: string[] = [];
    const changed: string[] = [];
    for (const v of [...this.visitors.values()]) {
      if (v.lastSeen < cutoff) {
        this.drop(v.id);
        removed.push(v.id);
        continue;
      }
      const old = v.samples.filter((s) => s.time < cutoff);
      if (!old.length) continue;
      for (const s of old) this.index?.removeSample(s.id);
      v.samples = v.samples.filter((s) => s.time >= cutoff);
      changed.push(v.id);
    }
    return { removed, changed };
  }

  /** Puts a visitor (loaded, or changed elsewhere) into the gallery as it is, replacing any of its id. */
  put(v: Visitor): void {
    if (this.visitors.has(v.id)) this.drop(v.id);
    const samples = v.samples;
    v.samples = [];
    this.visitors.set(v.id, v);
    for (const s of samples) this.addSample(v, s);
  }

  private mustGet(id: string): Visitor {
    const v = this.visitors.get(id);
    if (!v) throw new RangeError(`no visitor ${JSON.stringify(String(id).slice(0, 40))}`);
    return v;
  }

  private drop(id: string): void {
    this.index?.removePerson(id);
    this.visitors.delete(id);
  }

  /** Adds a sample to `v`, keeping its best `maxSamples` (by quality, then the newest). */
  private addSample(v: Visitor, s: VisitorSample): void {
    const sample = { ...s, id: s.id || `${v.id}/${this.sampleTag}${(++this.sampleCounter).toString(36)}` };
    if (!this.index) this.index = new DescriptorIndex(sample.descriptor.length);
    if (sample.descriptor.length !== this.index.dim) return;
    const all = [...v.samples, sample].sort((a, b) => b.quality - a.quality || b.time - a.time);
    const keep = all.slice(0, this.maxSamples);
    for (const out of all.slice(this.maxSamples)) if (out !== sample) this.index.removeSample(out.id);
    if (keep.includes(sample)) this.index.add(v.id, sample.id, sample.descriptor);
    v.samples = keep;
  }
}

/** Why a visitor left a shared gallery, as the other instances learn it (lib/events/pg-visitors.ts). */
export type VisitorFate =
  { merged: string } | { enrolled: { id: string; name: string } } | { forgotten: true };

/**
 * The keeper of a store's visitors: {@link VisitorGallery} in memory, every change kept (a datafile,
 * lib/events/visitor-book.ts; the database of a shared store, lib/events/pg-visitors.ts).
 */
export interface VisitorRegistry {
  readonly gallery: VisitorGallery;
  /**
   * Called after a visit linked visitors and the change was kept (see {@link Assignment.merged}):
   * their events are to carry `into`'s id, and they left the gallery. Set by the store's log.
   */
  onLinked?: (into: string, merged: string[]) => Promise<void>;
  /** Gives a visit its visitor and keeps it; null when no frame has a descriptor. */
  assign(visit: Visit): Promise<Assignment | null>;
  /** Merges `from` into `into` (see {@link VisitorGallery.merge}); `from` leaves no descriptor behind. */
  merge(into: string, from: string, times?: number[]): Promise<Visitor>;
  /** Splits sightings off a visitor into a new one (see {@link VisitorGallery.split}). */
  split(id: string, moved: Sighting[], kept: Sighting[]): Promise<{ from: Visitor; to: Visitor }>;
  /** Removes a visitor and every descriptor of theirs; `fate` says why (enrolled, forgotten). */
  forget(id: string, fate?: VisitorFate): Promise<Visitor | undefined>;
  /** Unknown retention (see {@link VisitorGallery.expire}). */
  expire(now?: number): Promise<{ removed: string[]; changed: string[] }>;
  /** Waits for the changes under way and stops. */
  close(): Promise<void>;
}

/** Two boxes are the same face's. */
function sameBox(a: Box, b: Box): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

/** A visitor's event relabelled with another visitor id (Merge, Split). */
export function withVisitorId(id: string): (e: DetectionEvent) => DetectionEvent {
  return (e) => ({ ...e, visitor: { ...(e.visitor as EventVisitor), id } });
}

/**
 * A visitor's event once the visitor is enrolled as `person`: named, their face in the frame named,
 * the visitor label gone.
 */
export function enrolledAs(person: { id: string; name: string }): (e: DetectionEvent) => DetectionEvent {
  const named = { id: person.id, name: person.name };
  return (e) => {
    const { visitor: _gone, ...rest } = e;
    void _gone;
    const next: DetectionEvent = { ...rest, known: true, person: named };
    if (e.faces)
      next.faces = e.faces.map((f) =>
        f.person === null && sameBox(f.box, e.box) ? { ...f, person: named } : f,
      );
    return next;
  };
}

/**
 * Visitors that left the gallery, and why, as an event given one of them before it left must follow
 * it: the log writes and face-mqtt publishes an event on its way only as {@link follow} says. A
 * visitor is marked when its change starts (before its events are erased or relabelled), so an event
 * written after that change is never written with the id (the newest {@link VISITORS.fatesKept}).
 */
export class VisitorFates {
  private readonly fates = new Map<string, VisitorFate | null>();

  constructor(private readonly max: number = VISITORS.fatesKept) {}

  /** Visitor `id` leaves (or left): `fate` says for what, null for nothing (expired, left elsewhere). */
  set(id: string, fate: VisitorFate | null): void {
    this.fates.delete(id);
    this.fates.set(id, fate);
    if (this.fates.size > this.max) this.fates.delete(this.fates.keys().next().value as string);
  }

  /** A change that did not happen after all (it failed): the visitor is still there. */
  unset(id: string): void {
    this.fates.delete(id);
  }

  /** Whether visitor `id` left (or is leaving). */
  has(id: string): boolean {
    return this.fates.has(id);
  }

  /**
   * An event as it is to be written or published now: unchanged while its visitor is there; merged,
   * with the visitor it went into (through later merges too); enrolled, the person's; forgotten,
   * expired or gone elsewhere: null (not written, not published: a forgotten visitor leaves no trace).
   */
  follow(event: DetectionEvent): DetectionEvent | null {
    let e = event;
    // Merges chain (A into B, then B into C); ids are never reused, so a cycle is a bug: bounded.
    for (let hops = 0; e.visitor && this.fates.has(e.visitor.id); hops++) {
      const fate = this.fates.get(e.visitor.id);
      if (!fate || 'forgotten' in fate || hops > 64) return null;
      if ('enrolled' in fate) return enrolledAs(fate.enrolled)(e);
      e = withVisitorId(fate.merged)(e);
    }
    return e;
  }
}
