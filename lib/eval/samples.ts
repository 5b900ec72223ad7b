/**
 * Several samples per person, used well: how many probes are named, and where the first stranger
 * would be accepted, when each person is enrolled with k samples and matched by the nearest sample,
 * by the mean of their samples, or by the quality-weighted mean. Used by `npm run bench --
 * recognition` (bench/recognition.ts) and its test; works on descriptors, so a whole table costs
 * milliseconds once the photos are described.
 */
import { mulberry32 } from '../shared/random';
import { shuffled, type LabelledVisit } from './visitors';

/** How a person's samples are compared with a probe. */
export type SampleRule = 'nearest' | 'mean' | 'weighted-mean';

/** What {@link measureSamples} found, over its draws. */
export interface SampleScore {
  rule: SampleRule;
  samples: number;
  /** People enrolled (those with more photos than `samples`) and probes (their other photos). */
  people: number;
  probes: number;
  /** Share of probes named as themselves under `threshold` (mean over the draws). */
  named: number;
  /**
   * The distance of the closest stranger: over every photo of every person against everyone
   * else's template, the smallest (the worst draw). A threshold under it accepts no stranger.
   */
  closestStranger: number;
  /** Share of probes named as themselves under {@link closestStranger} (mean over the draws). */
  namedAtZeroStrangers: number;
}

function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** A person's templates under `rule`: every sample, or one mean. */
function templates(samples: Array<{ d: Float32Array; q: number }>, rule: SampleRule): Float32Array[] {
  if (rule === 'nearest') return samples.map((s) => s.d);
  const out = new Float32Array(samples[0].d.length);
  let total = 0;
  for (const s of samples) {
    const w = rule === 'weighted-mean' ? Math.max(s.q, 0.01) : 1;
    total += w;
    for (let i = 0; i < out.length; i++) out[i] += s.d[i] * w;
  }
  for (let i = 0; i < out.length; i++) out[i] /= total;
  return [out];
}

/**
 * Enrols each person with `samples` of their photos (drawn at random, `draws` times) and probes
 * with the rest: a probe is named when its nearest person is itself and under `threshold`.
 * Strangers: every photo of every person against the other people's templates.
 */
export function measureSamples(
  visits: LabelledVisit[],
  samples: number,
  rule: SampleRule,
  threshold: number,
  draws = 10,
): SampleScore {
  const byPerson = new Map<string, Array<{ d: Float32Array; q: number }>>();
  for (const v of visits) {
    const f = [...v.frames].sort((a, b) => b.quality - a.quality)[0];
    if (!f) continue;
    const list = byPerson.get(v.identity) ?? [];
    list.push({ d: Float32Array.from(f.descriptor), q: f.quality });
    byPerson.set(v.identity, list);
  }
  let named = 0;
  let namedZero = 0;
  let closest = Infinity;
  let people = 0;
  let probes = 0;
  for (let draw = 0; draw < draws; draw++) {
    const rnd = mulberry32(1000 + draw);
    const gallery = new Map<string, Float32Array[]>();
    const probing: Array<{ who: string; d: Float32Array }> = [];
    for (const [who, photos] of byPerson) {
      if (photos.length <= samples) continue;
      const order = shuffled(photos, Math.floor(rnd() * 2 ** 31));
      gallery.set(who, templates(order.slice(0, samples), rule));
      for (const p of order.slice(samples)) probing.push({ who, d: p.d });
    }
    const nearest = (d: Float32Array, except?: string): { who: string; distance: number } => {
      let best = { who: '', distance: Infinity };
      for (const [who, ts] of gallery) {
        if (who === except) continue;
        for (const t of ts) {
          const dd = distance(d, t);
          if (dd < best.distance) best = { who, distance: dd };
        }
      }
      return best;
    };
    let stranger = Infinity;
    for (const [who, photos] of byPerson)
      for (const p of photos) stranger = Math.min(stranger, nearest(p.d, who).distance);
    closest = Math.min(closest, stranger);
    const hits = probing.map((p) => ({ p, n: nearest(p.d) }));
    const share = (t: number): number =>
      hits.length ? hits.filter(({ p, n }) => n.who === p.who && n.distance < t).length / hits.length : 0;
    named += share(threshold);
    namedZero += share(stranger);
    people = gallery.size;
    probes = probing.length;
  }
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    rule,
    samples,
    people,
    probes,
    named: round(named / draws),
    closestStranger: round(closest),
    namedAtZeroStrangers: round(namedZero / draws),
  };
}
