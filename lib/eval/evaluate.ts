/**
 * Recognition accuracy on labelled photos: enrol one photo per identity, then identify the
 * others (probes) and, optionally, photos of people who are not enrolled (impostors).
 * Used by `facewatch eval` and the tests. Threshold and margin default to lib/types/defaults.ts.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acceptFace, resolveEnrolOptions, type AcceptedFace, type EnrolEngine } from '../store/enrol';
import { StoreError } from '../store/errors';
import { FaceStore } from '../store/face-store';
import { parseCsv } from '../store/import';
import { resolveMatchOptions, type MatchRule } from '../store/match';

/** A labelled photo. */
export interface LabelledImage {
  /** Absolute path. */
  path: string;
  /** As written in the labels file. */
  rel: string;
  identity: string;
}

/** The figures `facewatch eval` prints. */
export interface EvalResult {
  /** Identities enrolled (with up to `samples` photos each). */
  enrolled: number;
  /** Probe photos of enrolled identities in which a face was found. */
  probes: number;
  /** Probes recognised as their identity. */
  correct: number;
  /** Probes recognised as somebody else. */
  wrong_person: number;
  /** Probes not recognised (unknown or ambiguous). */
  false_reject: number;
  /** Impostor photos in which a face was found. */
  impostor_probes: number;
  /** Impostors recognised as an enrolled person. */
  false_accept: number;
  /** Photos (enrolment, probe or impostor) in which no face was found. */
  no_face: number;
  /**
   * Distance from the closest impostor to its nearest enrolled person (null without impostors):
   * how far under or over the threshold the nearest stranger came, the safety margin.
   */
  closest_impostor: number | null;
  /** The photo of that impostor (its path as written in the labels file). */
  closest_impostor_photo: string | null;
  threshold: number;
  margin: number;
  /** Photos enrolled per identity (its first ones with a face; fewer where it has no more). */
  samples: number;
  /** How a person's samples were compared with a face (lib/types/defaults.ts MATCH_RULES). */
  rule: MatchRule;
}

/** Per-photo outcome, for tests and verbose output. */
export interface EvalDetail {
  rel: string;
  identity: string;
  role: 'enrol' | 'probe' | 'impostor';
  outcome: 'enrolled' | 'correct' | 'wrong_person' | 'false_reject' | 'rejected' | 'false_accept' | 'no_face';
  distance: number | null;
  matched: string | null;
}

/**
 * Reads a `path,identity` labels file. Paths are relative to `root`; where a path is not found
 * there, it is tried relative to the labels file's own folder (so labels of another set can serve
 * as impostors). `exclude` holds relative paths to skip (e.g. duplicates.csv's first column).
 */
export async function readLabels(
  file: string,
  root: string,
  exclude: Set<string> = new Set(),
): Promise<LabelledImage[]> {
  const records = parseCsv(await readFile(file, 'utf8'));
  const rows = records[0]?.fields[0]?.trim().toLowerCase() === 'path' ? records.slice(1) : records;
  return rows
    .filter(({ fields }) => fields[0] && !exclude.has(fields[0].trim()))
    .map(({ fields }) => {
      const rel = fields[0].trim();
      const inRoot = path.resolve(root, rel);
      const beside = path.resolve(path.dirname(file), rel);
      return {
        rel,
        identity: (fields[1] ?? '').trim(),
        path: existsSync(inRoot) || !existsSync(beside) ? inRoot : beside,
      };
    });
}

/** Runs `fn` over items with at most `limit` in flight, keeping the order of results. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Enrols the first photo (by path) of each identity in `enrol` in which a face is found, or the
 * first `samples` of them (a photo without a face is counted in no_face and the next one tried),
 * then identifies the others and
 * every impostor. Enrolment here applies no quality limits and no duplicate check (look-alike
 * identities must both be enrolled to be measured); matching uses the product's rule (threshold,
 * ambiguity margin). The store is a temporary one unless `storeFile` is given.
 */
export async function evaluate(
  engine: EnrolEngine,
  enrol: LabelledImage[],
  impostors: LabelledImage[],
  opts: {
    threshold?: number;
    margin?: number;
    /** Photos enrolled per identity (default 1). */
    samples?: number;
    rule?: MatchRule;
    storeFile?: string;
    concurrency?: number;
    /** Faces found per absolute path, shared between runs over the same photos. */
    cache?: Map<string, AcceptedFace | null>;
  } = {},
): Promise<{ result: EvalResult; details: EvalDetail[] }> {
  const { threshold, margin, rule } = resolveMatchOptions({
    threshold: opts.threshold,
    margin: opts.margin,
    rule: opts.rule,
  });
  const samples = opts.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1 || samples > 100)
    throw new RangeError(`samples must be a whole number from 1 to 100, not ${String(samples)}`);
  const relaxed = resolveEnrolOptions({
    faces: 'largest',
    minFaceSize: 0,
    minSharpness: 0,
    maxYaw: 90,
    duplicatePolicy: 'allow',
  });
  const tmp = opts.storeFile ? null : await mkdtemp(path.join(os.tmpdir(), 'facewatch-eval-'));
  const store = await FaceStore.open({
    file: opts.storeFile ?? path.join(tmp as string, 'faces.db'),
    backups: 0,
    actor: 'eval',
  });
  const result: EvalResult = {
    enrolled: 0,
    probes: 0,
    correct: 0,
    wrong_person: 0,
    false_reject: 0,
    impostor_probes: 0,
    false_accept: 0,
    no_face: 0,
    closest_impostor: null,
    closest_impostor_photo: null,
    threshold,
    margin,
    samples,
    rule,
  };
  const details: EvalDetail[] = [];
  const faceOf = async (img: LabelledImage): Promise<AcceptedFace | null> => {
    if (opts.cache?.has(img.path)) return opts.cache.get(img.path) ?? null;
    let face: AcceptedFace | null;
    try {
      face = await acceptFace(engine, await readFile(img.path), relaxed, img.rel);
    } catch (err) {
      if (!(err instanceof StoreError && (err.code === 'ENOFACE' || err.code === 'EFACESMALL'))) throw err;
      face = null;
    }
    opts.cache?.set(img.path, face);
    return face;
  };
  try {
    const byIdentity = new Map<string, LabelledImage[]>();
    for (const img of [...enrol].sort((a, b) => a.rel.localeCompare(b.rel))) {
      byIdentity.set(img.identity, [...(byIdentity.get(img.identity) ?? []), img]);
    }
    const faces = await mapLimit([...enrol, ...impostors], opts.concurrency ?? 4, faceOf);
    const faceByPath = new Map<string, AcceptedFace | null>();
    [...enrol, ...impostors].forEach((img, i) =>
      faceByPath.set(img.path + '\u0000' + img.identity, faces[i]),
    );
    const key = (img: LabelledImage): string => img.path + '\u0000' + img.identity;

    const probes: LabelledImage[] = [];
    for (const [identity, images] of byIdentity) {
      let id: string | null = null;
      let kept = 0;
      for (const img of images) {
        const f = faceByPath.get(key(img));
        if (kept >= samples) {
          probes.push(img);
          continue;
        }
        if (!f) {
          result.no_face++;
          details.push({
            rel: img.rel,
            identity,
            role: 'enrol',
            outcome: 'no_face',
            distance: null,
            matched: null,
          });
          continue;
        }
        const sample = { descriptor: f.face.descriptor, modelId: f.face.modelId, source: img.rel };
        if (id) await store.addSample(id, sample);
        else {
          id = `E${String(result.enrolled + 1).padStart(4, '0')}`;
          await store.addPerson({ id, name: identity }, sample);
          result.enrolled++;
        }
        kept++;
        details.push({
          rel: img.rel,
          identity,
          role: 'enrol',
          outcome: 'enrolled',
          distance: null,
          matched: null,
        });
      }
    }
    const classify = (img: LabelledImage, role: 'probe' | 'impostor'): void => {
      const f = faceByPath.get(key(img));
      if (!f) {
        result.no_face++;
        details.push({
          rel: img.rel,
          identity: img.identity,
          role,
          outcome: 'no_face',
          distance: null,
          matched: null,
        });
        return;
      }
      const m = store.match(f.face.descriptor, f.face.modelId, { threshold, margin, rule, k: 2 });
      const matched = m.known ? (m.person?.name ?? null) : null;
      let outcome: EvalDetail['outcome'];
      if (role === 'probe') {
        result.probes++;
        outcome = !m.known ? 'false_reject' : matched === img.identity ? 'correct' : 'wrong_person';
        result[outcome]++;
      } else {
        result.impostor_probes++;
        outcome = m.known ? 'false_accept' : 'rejected';
        if (m.known) result.false_accept++;
        if (
          m.distance !== null &&
          (result.closest_impostor === null || m.distance < result.closest_impostor)
        ) {
          result.closest_impostor = m.distance;
          result.closest_impostor_photo = img.rel;
        }
      }
      details.push({ rel: img.rel, identity: img.identity, role, outcome, distance: m.distance, matched });
    };
    for (const img of probes) classify(img, 'probe');
    for (const img of impostors) classify(img, 'impostor');
  } finally {
    await store.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
  return { result, details };
}
