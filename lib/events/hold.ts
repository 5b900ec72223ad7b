/**
 * Holding a name along a track (face-match's `hold`): a person is named only under the match
 * threshold, but once named in a camera's frame, the same face in the camera's next frames (its box
 * overlapping where they were last named, at most HOLD.gapMs after) keeps their name while it is
 * under the hold distance of them, they are its nearest person by the ambiguity margin, and nothing
 * else names it.
 * A person turning their head (0.5–0.6 from their samples, README "Recognition") stays named;
 * a face never named under the threshold is never named by holding, so a stranger is only named
 * where the threshold would already name them, or where a track swaps faces within a frame's box.
 *
 * Pure memory (where and when each person was last named, per camera, for the gap), no I/O.
 */
import { overlap } from './tracker';
import { HOLD } from '../types/defaults';
import type { Box, FaceMatch } from '../types';

/** A face of a frame with its match decision (face-match's). */
export interface HoldFace {
  box: Box;
  match?: FaceMatch;
}

/** What a holder needs of the match settings. */
export interface HoldOptions {
  /** Distance under which a face overlapping a named one keeps the name; ≤ threshold: holding is off. */
  hold: number;
  /** The match threshold (a name is given under it). */
  threshold: number;
  /** The ambiguity margin: the runner-up must be at least this much farther. */
  margin: number;
  /** Longest time between two frames of a camera that still continues a name (ms). */
  gapMs?: number;
  /** Least box overlap (intersection over union) that continues a name. */
  minOverlap?: number;
}

type Person = NonNullable<FaceMatch['person']>;

/** A face with a box of finite numbers and some area (a message's face may carry anything). */
function placed(f: HoldFace): boolean {
  const b = f.box as Partial<Box> | null | undefined;
  return (
    typeof b === 'object' &&
    b !== null &&
    [b.x, b.y, b.width, b.height].every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    (b.width as number) > 0 &&
    (b.height as number) > 0
  );
}

/** The last place and time each person was named on each camera, and holding their names in the next frames. */
export class NameHolder {
  private readonly cameras = new Map<string, Map<string, { box: Box; person: Person; ts: number }>>();

  constructor(private readonly opts: HoldOptions) {}

  /** Whether holding does anything (the hold distance is above the threshold). */
  get active(): boolean {
    return this.opts.hold > this.opts.threshold;
  }

  /**
   * Holds names in one frame of `camera` at `ts` (epoch ms): each unknown face that overlaps where a
   * person was last named on the camera, at most the gap before (a frame that missed the face, or
   * saw it over the hold distance, does not end the name; the gap does), and is under the hold
   * distance of that person, who is its nearest by the margin, is named after them (`known`,
   * `person`, `held: true`; its distance and confidence are its own). Each person is held onto one
   * face at most, the most overlapping, and never when the threshold named them in this frame.
   * Then every face named in the frame (held or not) is where its person was last named. Changes
   * the faces' matches in place; returns how many were held.
   */
  apply(camera: string, ts: number, faces: HoldFace[]): number {
    if (!this.active) return 0;
    const gap = this.opts.gapMs ?? HOLD.gapMs;
    const minOverlap = this.opts.minOverlap ?? HOLD.minOverlap;
    let last = this.cameras.get(camera);
    if (last)
      for (const [id, at] of last)
        // Too long ago, or later than this frame (frames out of order): no name to hold.
        if (ts - at.ts > gap || ts < at.ts) last.delete(id);
    let held = 0;
    if (last?.size) {
      const pairs: Array<{ face: HoldFace; id: string; iou: number }> = [];
      for (const face of faces) {
        if (!placed(face) || !this.holdable(face.match)) continue;
        for (const [id, at] of last) {
          const iou = overlap(face.box, at.box);
          if (iou >= minOverlap) pairs.push({ face, id, iou });
        }
      }
      pairs.sort((a, b) => b.iou - a.iou);
      const used = new Set<HoldFace>();
      // A person named in this frame already is not held onto a second face.
      const named = new Set(
        faces.flatMap((f) => (f.match?.known && f.match.person ? [f.match.person.id] : [])),
      );
      for (const { face, id } of pairs) {
        if (used.has(face) || named.has(id)) continue;
        const m = face.match as FaceMatch;
        if (m.candidates[0]?.id !== id) continue;
        used.add(face);
        named.add(id);
        face.match = { ...m, known: true, person: (last.get(id) as { person: Person }).person, held: true };
        held++;
      }
    }
    for (const f of faces)
      if (placed(f) && f.match?.known && f.match.person) {
        last ??= new Map();
        last.set(f.match.person.id, { box: f.box, person: f.match.person, ts });
      }
    this.cameras.delete(camera);
    if (last?.size) {
      this.cameras.set(camera, last);
      // Camera names come from messages: a flood of names cannot grow this past its bound (the
      // longest-unseen camera goes; it only loses the names of its last frames).
      if (this.cameras.size > HOLD.cameras) this.cameras.delete(this.cameras.keys().next().value as string);
    }
    return held;
  }

  /** An unknown face whose nearest person is under the hold distance, not within the margin of another. */
  private holdable(m: FaceMatch | undefined): boolean {
    if (!m || m.known || m.ambiguous) return false;
    const [first, second] = m.candidates;
    if (!first || !(first.distance < this.opts.hold)) return false;
    return !second || second.distance - first.distance >= this.opts.margin;
  }
}
