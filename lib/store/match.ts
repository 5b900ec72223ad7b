/**
 * From the nearest people to a match decision: known, ambiguous or unknown, and a confidence.
 */
import type { FaceMatch, MatchCandidate } from '../types';
import {
  describeLimit,
  inLimit,
  MATCH,
  MATCH_RULES,
  type MatchRule,
  type NumberLimit,
} from '../types/defaults';
import type { IndexHit } from './descriptor-index';

/** Options of a 1:N match. */
export interface MatchOptions {
  /**
   * Euclidean distance below which a face is the person (default `MATCH.threshold.default` of
   * lib/types/defaults.ts, 0.5: no two different people of the shared photos are that close).
   */
  threshold: number;
  /**
   * When the second-nearest person is less than this much farther than the nearest, the face is
   * reported as ambiguous instead of guessing (default 0.05; 0 disables).
   */
  margin: number;
  /** How many candidates (distinct people, nearest first) to report (default 3). */
  k: number;
  /**
   * How a person's samples are compared with the face: `mean` (default), the distance to the mean
   * of their samples; `nearest`, the distance to their nearest sample. With one sample they agree.
   */
  rule: MatchRule;
}

export type { MatchRule };

/** The defaults of lib/types/defaults.ts, as match options. */
export const DEFAULT_MATCH_OPTIONS: Readonly<MatchOptions> = Object.freeze({
  threshold: MATCH.threshold.default,
  margin: MATCH.margin.default,
  k: MATCH.candidates.default,
  rule: MATCH.rule.default,
});

/**
 * Merges partial match options over the defaults and checks them against the limits of
 * lib/types/defaults.ts. Throws a RangeError naming the bad option.
 */
export function resolveMatchOptions(over: Partial<MatchOptions> = {}): MatchOptions {
  const o: MatchOptions = { ...DEFAULT_MATCH_OPTIONS };
  for (const [k, v] of Object.entries(over))
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  const check = (name: string, limit: NumberLimit, v: number): void => {
    if (!inLimit(limit, v))
      throw new RangeError(`match option ${name} must be ${describeLimit(limit)}, not ${String(v)}`);
  };
  check('threshold', MATCH.threshold, o.threshold);
  check('margin', MATCH.margin, o.margin);
  check('k', MATCH.candidates, o.k);
  if (!MATCH_RULES.includes(o.rule))
    throw new RangeError(`match option rule must be one of ${MATCH_RULES.join(', ')}, not ${String(o.rule)}`);
  return o;
}

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
 * distance to their mean, or the minimum over their samples, as the rule says). Known when the nearest is closer than the threshold and not
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
