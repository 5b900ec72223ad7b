/**
 * How well recurring visitors are told apart, on labelled faces: every person treated as unknown,
 * their photos (or tracks) given to a fresh gallery in a shuffled order, as visits. Purity: no
 * visitor id holds two people; completeness: the share of people whose visits all got one id.
 * Used by the tests (test/unit/visitors-faces.test.ts) and `npm run bench -- visitors`.
 */
import { readFile } from 'node:fs/promises';
import { qualityScore, VisitorGallery, type VisitFrame } from '../events/visitors';
import { mulberry32 } from '../shared/random';
import { acceptFace, resolveEnrolOptions, type EnrolEngine } from '../store/enrol';

/** One labelled visit: a person's frames (one for a photo). */
export interface LabelledVisit {
  identity: string;
  frames: VisitFrame[];
}

/** What {@link measureVisitors} found. */
export interface VisitorScore {
  threshold: number;
  visits: number;
  people: number;
  visitors: number;
  /** Share of visitor ids that hold one person only (1 = every one). */
  purity: number;
  /** Visitor ids that hold several people, with who they hold. */
  impure: Array<{ id: string; people: string[] }>;
  /** Share of people (with two visits or more) whose visits all got one id. */
  completeness: number;
  /** People with two visits or more. */
  recurring: number;
  /** Visitor ids per person (people with two visits or more). */
  idsPerPerson: Record<string, number>;
}

/**
 * Labelled photos as one-frame visits: each photo's largest face (no quality limits: every photo
 * with a face is a visit), its descriptor and quality score, labelled `identity`. Photos without a
 * face are left out.
 */
export async function photoVisits(
  engine: EnrolEngine,
  photos: Array<{ path: string; rel: string; identity: string }>,
): Promise<LabelledVisit[]> {
  const relaxed = resolveEnrolOptions({ faces: 'largest', minFaceSize: 0, minSharpness: 0, maxYaw: 90 });
  const faces = await Promise.all(
    photos.map(async (p) => acceptFace(engine, await readFile(p.path), relaxed, p.rel).catch(() => null)),
  );
  return photos.flatMap((p, i) => {
    const f = faces[i]?.face;
    return f
      ? [
          {
            identity: p.identity,
            frames: [{ descriptor: f.descriptor, quality: qualityScore(f.quality, f.score) }],
          },
        ]
      : [];
  });
}

/** `items` in an order shuffled by `seed` (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rnd = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Gives `visits` (in their order) to a fresh gallery with `threshold` and scores the ids it made. */
export function measureVisitors(visits: LabelledVisit[], threshold: number): VisitorScore {
  const g = new VisitorGallery({ threshold, retainDays: 3650 });
  const t0 = Date.UTC(2026, 0, 1);
  const byVisitor = new Map<string, Set<string>>();
  const byPerson = new Map<string, { ids: Set<string>; visits: number }>();
  visits.forEach((v, i) => {
    // A day apart: every visit is a visit of its own.
    const a = g.assign({ frames: v.frames, camera: 'door', time: t0 + i * 86_400_000 });
    if (!a) return;
    // Visitors the visit linked are merged: their visits count as the survivor's.
    for (const m of a.merged) {
      const held = byVisitor.get(m) ?? new Set<string>();
      byVisitor.delete(m);
      byVisitor.set(a.visitor.id, new Set([...(byVisitor.get(a.visitor.id) ?? []), ...held]));
      for (const p of byPerson.values()) if (p.ids.delete(m)) p.ids.add(a.visitor.id);
    }
    const people = byVisitor.get(a.visitor.id) ?? new Set<string>();
    people.add(v.identity);
    byVisitor.set(a.visitor.id, people);
    const p = byPerson.get(v.identity) ?? { ids: new Set<string>(), visits: 0 };
    p.ids.add(a.visitor.id);
    p.visits++;
    byPerson.set(v.identity, p);
  });
  const impure = [...byVisitor]
    .filter(([, people]) => people.size > 1)
    .map(([id, people]) => ({ id, people: [...people].sort() }));
  const recurring = [...byPerson].filter(([, p]) => p.visits > 1);
  const whole = recurring.filter(([, p]) => p.ids.size === 1).length;
  return {
    threshold,
    visits: visits.length,
    people: byPerson.size,
    visitors: byVisitor.size,
    purity: byVisitor.size ? (byVisitor.size - impure.length) / byVisitor.size : 1,
    impure,
    completeness: recurring.length ? whole / recurring.length : 1,
    recurring: recurring.length,
    idsPerPerson: Object.fromEntries(recurring.map(([who, p]) => [who, p.ids.size])),
  };
}

/**
 * The most completeness any gallery rule can reach at `threshold` on `visits`: the share of people
 * (with two visits or more) whose visits are all joined by links under the threshold, each link two
 * of their visits (single linkage). A person with a visit farther than the threshold from every
 * other visit of theirs can only be one visitor if a stranger-tolerant rule joins them.
 */
export function linkageBound(visits: LabelledVisit[], threshold: number): number {
  const byPerson = new Map<string, Float32Array[]>();
  for (const v of visits) {
    const best = [...v.frames].sort((a, b) => b.quality - a.quality)[0];
    if (!best) continue;
    const list = byPerson.get(v.identity) ?? [];
    list.push(Float32Array.from(best.descriptor));
    byPerson.set(v.identity, list);
  }
  const distance = (a: Float32Array, b: Float32Array): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
    return Math.sqrt(s);
  };
  let recurring = 0;
  let joined = 0;
  for (const ds of byPerson.values()) {
    if (ds.length < 2) continue;
    recurring++;
    const seen = new Set([0]);
    const stack = [0];
    while (stack.length) {
      const at = stack.pop() as number;
      for (let j = 0; j < ds.length; j++)
        if (!seen.has(j) && distance(ds[at], ds[j]) < threshold) {
          seen.add(j);
          stack.push(j);
        }
    }
    if (seen.size === ds.length) joined++;
  }
  return recurring ? joined / recurring : 1;
}
