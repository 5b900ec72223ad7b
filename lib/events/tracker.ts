/**
 * Faces become tracks: the consecutive detections of one face on one camera are one track, so a
 * person standing in view is one event, not one per frame. A track is named on the evidence of its
 * frames (a vote), and the cooldown keeps a (person, camera) pair from producing a new event while
 * that person was seen on that camera within it.
 *
 * Pure logic over frame times, no I/O: the detection log feeds it and records what it decides.
 */
import type { Box, FaceMatch, FaceQuality } from '../types';
import type { EventReason } from '../types/events';
import { reservedKeyProblem } from '../types/keys';

/** One face of a frame, as the tracker needs it (a face from face-match). */
export interface TrackFace {
  box: Box;
  /** The detector's confidence that this is a face, 0..1 (face-detect's `score`). */
  score?: number;
  quality?: FaceQuality;
  descriptor?: number[];
  match?: FaceMatch;
}

/** The tracker's knobs. */
export interface TrackerOptions {
  /** Milliseconds during which a (person, camera) pair gives no new event once seen. */
  cooldownMs: number;
  /** A track not seen for longer than this is lost for box matching (default 2000 ms). */
  trackGapMs?: number;
  /** Frames the naming vote looks back on (default 9). */
  window?: number;
  /** Least box overlap (intersection over union) that continues a track (default 0.2). */
  minOverlap?: number;
  /** Descriptor distance under which a face continues a track without box overlap (default 0.5). */
  sameFace?: number;
  /** Descriptor distance over which an overlapping face is still someone else (default 0.7). */
  otherFace?: number;
}

/** One frame's evidence in a track. */
interface Vote {
  /** The person face-match named (known and not ambiguous), or null. */
  person: { id: string; name: string } | null;
  distance: number | null;
  confidence: number;
}

/** A track as the tracker keeps it. */
export interface Track {
  id: string;
  /** Null for a photo without a camera. */
  camera: string | null;
  firstTs: number;
  lastTs: number;
  frames: number;
  box: Box;
  descriptor?: number[];
  /** The name the votes decided, or null. */
  person: { id: string; name: string } | null;
  /** The track's decisive distance and confidence (medians, see {@link decide}). */
  distance: number | null;
  confidence: number;
  votes: Vote[];
}

/** What the tracker decided for one face of a frame. */
export interface FaceDecision {
  /** Index of the face in the frame. */
  face: number;
  track: Track;
  /** Set when this face produces an event. */
  reason?: EventReason;
}

let counter = 0;
function newTrackId(ts: number): string {
  counter = (counter + 1) % 1679616;
  return `T${ts.toString(36)}${counter.toString(36).padStart(4, '0')}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, '0')}`;
}

/** Intersection over union of two boxes. */
export function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

function euclid(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b[i] ?? 0)) ** 2;
  return Math.sqrt(s);
}

function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  // The upper median: with an even count the larger middle value, the cautious side for a distance.
  return s[Math.floor(s.length / 2)];
}

function voteOf(face: TrackFace): Vote {
  const m = face.match;
  const person = m?.known && !m.ambiguous && m.person ? { id: m.person.id, name: m.person.name } : null;
  return { person, distance: m?.distance ?? null, confidence: m?.confidence ?? 0 };
}

/**
 * The naming rule, a vote: a track is named as person P when P is the person face-match named
 * (known, under its threshold, not ambiguous) in more than half of the track's last `window`
 * frames. A lone frame under the threshold among frames that are not cannot name a track, and a
 * one-frame track (a photo) is named as face-match named its face. Once named, a track keeps its
 * name until another person wins the vote (a rename). The decisive distance and confidence are
 * the upper medians over the frames that voted for the name (for an unnamed track, over all
 * frames with a distance).
 */
export function decide(votes: Vote[]): Pick<Track, 'person' | 'distance' | 'confidence'> {
  const counts = new Map<string, { person: { id: string; name: string }; n: number }>();
  for (const v of votes) {
    if (!v.person) continue;
    const c = counts.get(v.person.id) ?? { person: v.person, n: 0 };
    c.n++;
    c.person = v.person;
    counts.set(v.person.id, c);
  }
  let best: { person: { id: string; name: string }; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  if (best && best.n * 2 > votes.length) {
    const mine = votes.filter((v) => v.person?.id === best.person.id);
    return {
      person: best.person,
      distance: median(mine.map((v) => v.distance).filter((d): d is number => d !== null)),
      confidence: median(mine.map((v) => v.confidence)) ?? 0,
    };
  }
  const withDistance = votes.filter((v) => v.distance !== null);
  return {
    person: null,
    distance: median(withDistance.map((v) => v.distance as number)),
    confidence: median(withDistance.map((v) => v.confidence)) ?? 0,
  };
}

/**
 * Throws a RangeError when the camera's name or a face's person id is a reserved key (`__proto__`,
 * `constructor`, `prototype`): they come from messages, and the tracker's tables, and the log's
 * statistics after it, are keyed by them.
 */
function refuseReserved(camera: string | null, faces: TrackFace[]): void {
  const problem =
    (camera !== null ? reservedKeyProblem('camera name', camera) : undefined) ??
    faces.map((f) => reservedKeyProblem('person id', f?.match?.person?.id)).find((p) => p !== undefined);
  if (problem) throw new RangeError(problem);
}

/** Assigns faces to tracks, names tracks and decides which faces produce events. */
export class Tracker {
  private readonly opts: Required<TrackerOptions>;
  private readonly tracks = new Map<string, Track>();
  /** `<camera>\u0000<person id>` → when that person was last seen there. */
  private readonly seen = new Map<string, number>();

  constructor(opts: TrackerOptions) {
    this.opts = {
      trackGapMs: 2000,
      window: 9,
      minOverlap: 0.2,
      sameFace: 0.5,
      otherFace: 0.7,
      ...opts,
    };
  }

  /** Tracks alive now (seen within the gap or the cooldown). */
  get size(): number {
    return this.tracks.size;
  }

  /**
   * Takes one frame's faces (camera null: a photo, each face its own one-frame track) at time `ts`
   * (ms) and decides, per face, its track and whether it produces an event. Throws a RangeError,
   * changing nothing, for a reserved camera name or person id (lib/types/keys.ts).
   */
  observe(camera: string | null, ts: number, faces: TrackFace[]): FaceDecision[] {
    refuseReserved(camera, faces);
    if (camera !== null) this.prune(ts);
    const assigned = camera === null ? new Map<number, Track>() : this.assign(camera, ts, faces);
    return faces.map((face, i) => {
      let track = assigned.get(i);
      const fresh = !track;
      if (!track) {
        track = {
          id: newTrackId(ts),
          camera,
          firstTs: ts,
          lastTs: ts,
          frames: 0,
          box: face.box,
          person: null,
          distance: null,
          confidence: 0,
          votes: [],
        };
        if (camera !== null) this.tracks.set(track.id, track);
      }
      const before = track.person;
      track.frames++;
      track.lastTs = ts;
      track.box = face.box;
      if (face.descriptor) track.descriptor = face.descriptor;
      track.votes.push(voteOf(face));
      if (track.votes.length > this.opts.window) track.votes.shift();
      const d = decide(track.votes);
      // A name, once decided, stays until another person wins the vote.
      const person = d.person ?? before;
      track.person = person;
      if (d.person || !before) {
        track.distance = d.distance;
        track.confidence = d.confidence;
      }
      let reason: EventReason | undefined;
      if (fresh) reason = 'track-start';
      else if (person && !before) reason = 'named';
      else if (person && before && person.id !== before.id) reason = 'renamed';
      if (camera !== null && person) {
        const key = `${camera}\u0000${person.id}`;
        const last = this.seen.get(key);
        const newlyThis = !before || before.id !== person.id;
        // The cooldown: a person seen on this camera within it (by another, lost track) gives no event.
        if (reason && newlyThis && last !== undefined && ts - last < this.opts.cooldownMs) {
          reason = undefined;
        }
        this.seen.set(key, ts);
      }
      return { face: i, track, reason };
    });
  }

  /**
   * Forgets a person (erasure): tracks named after them or holding their votes, and their sightings.
   * Resolves to how many tracks were dropped.
   */
  forgetPerson(id: string): number {
    let n = 0;
    for (const [key, t] of this.tracks) {
      if (t.person?.id === id || t.votes.some((v) => v.person?.id === id)) {
        this.tracks.delete(key);
        n++;
      }
    }
    for (const key of [...this.seen.keys()]) if (key.endsWith(`\u0000${id}`)) this.seen.delete(key);
    return n;
  }

  /** Drops tracks and sightings too old to matter at `ts`. */
  private prune(ts: number): void {
    const keep = Math.max(this.opts.trackGapMs, this.opts.cooldownMs);
    for (const [key, t] of this.tracks)
      if (ts - t.lastTs > keep || ts < t.lastTs - keep) this.tracks.delete(key);
    for (const [key, last] of this.seen) if (ts - last >= this.opts.cooldownMs) this.seen.delete(key);
  }

  /**
   * Matches faces to the camera's tracks, nearest first: a face continues a track it overlaps
   * (seen within the gap, descriptor not clearly someone else's), or one whose last descriptor is
   * near its own (seen within the gap or the cooldown: a face lost for a moment keeps its track).
   */
  private assign(camera: string, ts: number, faces: TrackFace[]): Map<number, Track> {
    const { trackGapMs, cooldownMs, minOverlap, sameFace, otherFace } = this.opts;
    const pairs: { face: number; track: Track; cost: number }[] = [];
    for (const t of this.tracks.values()) {
      if (t.camera !== camera) continue;
      const age = ts - t.lastTs;
      if (age < 0) continue;
      faces.forEach((f, i) => {
        const dist = f.descriptor && t.descriptor ? euclid(f.descriptor, t.descriptor) : null;
        const iou = overlap(f.box, t.box);
        const byBox = age <= trackGapMs && iou >= minOverlap && (dist === null || dist < otherFace);
        const byFace = dist !== null && dist < sameFace && age <= Math.max(trackGapMs, cooldownMs);
        if (byBox || byFace) pairs.push({ face: i, track: t, cost: dist ?? 1 - iou });
      });
    }
    pairs.sort((a, b) => a.cost - b.cost);
    const out = new Map<number, Track>();
    const used = new Set<string>();
    for (const p of pairs) {
      if (out.has(p.face) || used.has(p.track.id)) continue;
      out.set(p.face, p.track);
      used.add(p.track.id);
    }
    return out;
  }
}
