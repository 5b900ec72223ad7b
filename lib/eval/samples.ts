/**
 * Several samples per person, used well: how many probes are named, and where the first stranger
 * would be accepted, when each person is enrolled with k samples and matched by the nearest sample,
 * by the mean of their samples, or by the quality-weighted mean; and, on top of the mean, whether a
 * threshold per person (from the spread of their samples, capped by the strangers in the gallery)
 * names more than the one global threshold. Used by `npm run bench -- recognition`
 * (bench/recognition.ts) and its test; works on descriptors, so a whole table costs milliseconds
 * once the photos are described.
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

type Photo = { d: Float32Array; q: number };

/** Each person's photos: the best-quality frame of each of their visits. */
function byPerson(visits: LabelledVisit[]): Map<string, Photo[]> {
  const out = new Map<string, Photo[]>();
  for (const v of visits) {
    const f = [...v.frames].sort((a, b) => b.quality - a.quality)[0];
    if (!f) continue;
    const list = out.get(v.identity) ?? [];
    list.push({ d: Float32Array.from(f.descriptor), q: f.quality });
    out.set(v.identity, list);
  }
  return out;
}

/**
 * Draw number `draw`: each person with more photos than `samples`, their photos shuffled, the
 * first `samples` enrolled and the rest probes. One function so that every measure of a run
 * (every rule, and the per-person thresholds) sees the same enrolments.
 */
function drawEnrolments(
  people: Map<string, Photo[]>,
  samples: number,
  draw: number,
): Array<{ who: string; enrolled: Photo[]; probes: Photo[] }> {
  const rnd = mulberry32(1000 + draw);
  const out: Array<{ who: string; enrolled: Photo[]; probes: Photo[] }> = [];
  for (const [who, photos] of people) {
    if (photos.length <= samples) continue;
    const order = shuffled(photos, Math.floor(rnd() * 2 ** 31));
    out.push({ who, enrolled: order.slice(0, samples), probes: order.slice(samples) });
  }
  return out;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

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
  const everyone = byPerson(visits);
  let named = 0;
  let namedZero = 0;
  let closest = Infinity;
  let people = 0;
  let probes = 0;
  for (let draw = 0; draw < draws; draw++) {
    const gallery = new Map<string, Float32Array[]>();
    const probing: Array<{ who: string; d: Float32Array }> = [];
    for (const { who, enrolled, probes: rest } of drawEnrolments(everyone, samples, draw)) {
      gallery.set(who, templates(enrolled, rule));
      for (const p of rest) probing.push({ who, d: p.d });
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
    for (const [who, photos] of everyone)
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

/**
 * How a person's own threshold is chosen, on top of the mean of their samples. `global`: the one
 * threshold for everyone (the baseline, what the matcher does). `spread`: loosened for a person
 * whose samples scatter, never tightened. `spread-tighten`: the same, and tightened for a person
 * whose samples are close together. `gallery-gap`: as loose as the cap allows, whatever the spread.
 */
export type ThresholdVariant = 'global' | 'spread' | 'spread-tighten' | 'gallery-gap';

/** The settings of {@link personThreshold}; {@link PER_PERSON} are the ones measured. */
export interface PerPersonSettings {
  /** No person's threshold is above the global one plus this. */
  maxLoosen: number;
  /** No person's threshold is above their closest stranger in the gallery minus this. */
  safety: number;
  /** `spread-tighten` only: no person's threshold is under the global one minus this. */
  maxTighten: number;
  /** The spread's expected probe distance is multiplied by this (headroom for a probe worse than the samples). */
  factor: number;
}

/**
 * The measured settings, stated before measuring and not tuned on the labelled sets: at most 0.1
 * looser than the global threshold (0.6 at 0.5, still under face-api's 0.6 "same person" line),
 * and 0.05 clear of the closest other person enrolled.
 */
export const PER_PERSON: PerPersonSettings = { maxLoosen: 0.1, safety: 0.05, maxTighten: 0.1, factor: 1.2 };

/**
 * A person's own threshold, from what is known when they are enrolled: `spread`, the largest
 * distance of one of their `samples` samples to their mean, and `galleryStranger`, the smallest
 * distance of another enrolled person's sample to that mean. A sample is nearer the mean it is part
 * of than a new photo is: with `k` samples scattered by `r` around the true face, a sample sits about
 * r·√(1 − 1/k) from the mean and a new photo r·√(1 + 1/k), so the spread times √((k + 1)/(k − 1))
 * is where a new photo of this person is expected. The threshold is that times `factor`, never under
 * the global one (or the global one minus `maxTighten` for `spread-tighten`), and never above
 * min(global + `maxLoosen`, `galleryStranger` − `safety`): the cap wins over the floor, so a person
 * enrolled close to another gets a tighter threshold than the global one. Needs `samples` ≥ 2.
 */
export function personThreshold(
  variant: ThresholdVariant,
  spread: number,
  samples: number,
  galleryStranger: number,
  global: number,
  settings: PerPersonSettings = PER_PERSON,
): number {
  if (variant === 'global') return global;
  const cap = Math.min(global + settings.maxLoosen, galleryStranger - settings.safety);
  const floor = variant === 'spread-tighten' ? global - settings.maxTighten : global;
  const wanted =
    variant === 'gallery-gap'
      ? Infinity
      : settings.factor * spread * Math.sqrt((samples + 1) / (samples - 1));
  return Math.min(cap, Math.max(floor, wanted));
}

/** What {@link measurePerPerson} found for one variant, over its draws. */
export interface PerPersonScore {
  variant: ThresholdVariant;
  samples: number;
  people: number;
  probes: number;
  /** Share of probes named as themselves (nearest mean, under that person's threshold), mean over the draws. */
  named: number;
  /**
   * Stranger photos accepted, summed over the draws: every photo of every person (enrolled in the
   * draw or not) under the threshold of another enrolled person, each photo counted once per draw.
   */
  strangersAccepted: number;
  /** Draws in which at least one stranger was accepted. */
  drawsWithStrangers: number;
  /**
   * Share of probes named once every threshold that accepted a stranger is lowered to that
   * stranger's distance (known only after the fact); equal to {@link named} when none was accepted.
   */
  namedAtZeroStrangers: number;
  /** Share of the enrolled people given a threshold above, and under, the global one (mean over the draws). */
  loosened: number;
  tightened: number;
  /** The smallest and the largest threshold given to anyone, over the draws. */
  minThreshold: number;
  maxThreshold: number;
}

/**
 * Enrols each person with `samples` (≥ 2) of their photos as the mean rule does, in the same draws
 * as {@link measureSamples}, gives each a threshold by {@link personThreshold} for every one of
 * `variants` (from their samples and the other enrolled people's samples only, never the probes),
 * and counts the probes named and the strangers accepted under those thresholds.
 */
export function measurePerPerson(
  visits: LabelledVisit[],
  samples: number,
  threshold: number,
  variants: ThresholdVariant[],
  draws = 10,
  settings: PerPersonSettings = PER_PERSON,
): PerPersonScore[] {
  if (samples < 2) throw new Error('a per-person threshold needs at least 2 samples');
  const everyone = byPerson(visits);
  const totals = variants.map((variant) => ({
    variant,
    named: 0,
    namedZero: 0,
    strangers: 0,
    drawsWithStrangers: 0,
    loosened: 0,
    tightened: 0,
    min: Infinity,
    max: -Infinity,
  }));
  let people = 0;
  let probes = 0;
  for (let draw = 0; draw < draws; draw++) {
    const enrolled = drawEnrolments(everyone, samples, draw).map((e) => {
      const mean = templates(e.enrolled, 'mean')[0];
      const spread = Math.max(...e.enrolled.map((s) => distance(s.d, mean)));
      return { ...e, mean, spread };
    });
    if (!enrolled.length) continue;
    // What enrolment can see: the other enrolled people's samples, nothing else.
    const galleryStranger = enrolled.map((p) =>
      Math.min(
        ...enrolled
          .filter((o) => o.who !== p.who)
          .flatMap((o) => o.enrolled.map((s) => distance(s.d, p.mean))),
      ),
    );
    // What the test sees: every photo of every other person (enrolled in this draw or not), at its
    // distance from each mean.
    const strangers = enrolled.map((p) =>
      [...everyone]
        .filter(([who]) => who !== p.who)
        .flatMap(([, photos]) => photos.map((x) => ({ photo: x, distance: distance(x.d, p.mean) }))),
    );
    const probing = enrolled.flatMap((p) =>
      p.probes.map((x) => {
        const d = enrolled.map((o) => distance(x.d, o.mean));
        const nearest = d.indexOf(Math.min(...d));
        return { mine: enrolled.indexOf(p), nearest, distance: d[nearest] };
      }),
    );
    const share = (t: number[]): number =>
      probing.length
        ? probing.filter((p) => p.nearest === p.mine && p.distance < t[p.mine]).length / probing.length
        : 0;
    for (const total of totals) {
      const t = enrolled.map((p, i) =>
        personThreshold(total.variant, p.spread, samples, galleryStranger[i], threshold, settings),
      );
      // A photo is counted once however many people accept it.
      const accepted = new Set<Photo>();
      for (const [i, list] of strangers.entries())
        for (const x of list) if (x.distance < t[i]) accepted.add(x.photo);
      const safe = t.map((ti, i) => Math.min(ti, ...strangers[i].map((x) => x.distance)));
      total.named += share(t);
      total.namedZero += share(safe);
      total.strangers += accepted.size;
      if (accepted.size) total.drawsWithStrangers++;
      total.loosened += t.filter((ti) => ti > threshold).length / t.length;
      total.tightened += t.filter((ti) => ti < threshold).length / t.length;
      total.min = Math.min(total.min, ...t);
      total.max = Math.max(total.max, ...t);
    }
    people = enrolled.length;
    probes = probing.length;
  }
  return totals.map((total) => ({
    variant: total.variant,
    samples,
    people,
    probes,
    named: round(total.named / draws),
    strangersAccepted: total.strangers,
    drawsWithStrangers: total.drawsWithStrangers,
    namedAtZeroStrangers: round(total.namedZero / draws),
    loosened: round(total.loosened / draws),
    tightened: round(total.tightened / draws),
    minThreshold: round(total.min),
    maxThreshold: round(total.max),
  }));
}
