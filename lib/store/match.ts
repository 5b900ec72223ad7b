/**
 * From the nearest people to a match decision: known, ambiguous or unknown, and a confidence.
 */
import type { FaceMatch, MatchCandidate } from '../types';
import type { IndexHit } from './descriptor-index';

/** Options of a 1:N match. */
export interface MatchOptions {
  /**
   * Euclidean distance below which a face is the person (default 0.6, the value face-api's
   * recognition model was trained and evaluated with).
   */
  threshold: number;
  /**
   * When the second-nearest person is less than this much farther than the nearest, the face is
   * reported as ambiguous instead of guessing (default 0.05; 0 disables).
   */
  margin: number;
  /** How many candidates (distinct people, nearest first) to report (default 3). */
  k: number;
}

export const DEFAULT_MATCH_OPTIONS: MatchOptions = { threshold: 0.6, margin: 0.05, k: 3 };

/**
 * Confidence in 0..1 from a distance: `clamp(1 - distance / (2 * threshold), 0, 1)`.
 * 1 at distance 0, 0.5 exactly at the threshold (so every known face has confidence above 0.5
 * and every unknown one at most 0.5), 0 at twice the threshold or farther. Linear, so equal
 * steps in distance are equal steps in confidence; it is not a probability.
 */
export function confidenceOf(distance: number, threshold: number): number {
  if (!(threshold > 0)) return 0;
  return Math.min(1, Math.max(0, 1 - distance / (2 * threshold)));
}

/**
 * The match decision. `hits` are distinct people, nearest first (a person's distance is the
 * minimum over their samples). Known when the nearest is closer than the threshold and not
 * ambiguous; ambiguous when the nearest is under the threshold and the runner-up is within the
 * margin of it (then `person` is null: the face is not guessed).
 */
export function decideMatch(
  hits: IndexHit[],
  opts: MatchOptions,
  lookup: (id: string) => { id: string; name: string; metadata: Record<string, unknown> } | null,
): FaceMatch {
  if (hits.length === 0) {
    return { known: false, person: null, distance: null, confidence: 0, ambiguous: false, candidates: [] };
  }
  const [best, second] = hits;
  const under = best.distance < opts.threshold;
  const ambiguous = under && second !== undefined && second.distance - best.distance < opts.margin;
  const known = under && !ambiguous;
  const candidates: MatchCandidate[] = hits
    .slice(0, Math.max(0, opts.k))
    .map((h) => ({ id: h.id, name: lookup(h.id)?.name ?? h.id, distance: h.distance }));
  return {
    known,
    person: known ? lookup(best.id) : null,
    distance: best.distance,
    confidence: confidenceOf(best.distance, opts.threshold),
    ambiguous,
    candidates,
  };
}
