/**
 * Enrolment: from a photo to a stored sample, shared by the face-register node, the CLI and the
 * bulk import. Every check runs before anything is written, and the writes run in one store
 * batch, so a refused photo leaves nothing behind and two registrations of the same face cannot
 * both pass the duplicate check.
 */
import path from 'node:path';
import type { DetectOptions, DetectResult, DetectedFace } from '../types';
import {
  describeChoice,
  describeLimit,
  ENROL,
  MATCH,
  SAME_SAMPLE_LIMIT,
  ENROL_FILE_TYPES,
  inLimit,
  isChoice,
  type ChoiceLimit,
  type DuplicatePolicy,
  type EnrolFileType,
  type ExistingPolicy,
  type FacesPolicy,
  type NumberLimit,
} from '../types/defaults';
import { sanitiseId, sanitiseMetadata, sanitiseName } from './codec';
import { sniffFormat } from '../vision/image';
import { StoreError } from './errors';
import type { PeopleStore, Person } from './types';

/** What enrolment needs of a face engine (lib/vision's FaceEngine satisfies it). */
export interface EnrolEngine {
  detect(image: Buffer, options?: Partial<DetectOptions>): Promise<DetectResult>;
}

/** Image types accepted for enrolment. */
export type { EnrolFileType };

/** Enrolment settings; every field has a default (see {@link DEFAULT_ENROL_OPTIONS}). */
export interface EnrolOptions {
  /** Largest accepted file in bytes (default 16 MB). */
  maxBytes: number;
  /** Accepted types, checked on the file name's extension (when known) and on the content. */
  fileTypes: EnrolFileType[];
  /** `single`: exactly one face or the photo is refused; `largest`: the largest face is used. */
  faces: FacesPolicy;
  /** Shorter side of the face box in pixels (default 80). Smaller faces are ignored; none left: refused. */
  minFaceSize: number;
  /** Variance of the Laplacian over the face (default 10; blurred photos score lower). */
  minSharpness: number;
  /** Largest head yaw in degrees, either side (default 45). */
  maxYaw: number;
  /**
   * Euclidean distance under which a new face is taken for an already enrolled person (default
   * 0.5, the match threshold: a new face that face-match would name as somebody enrolled is
   * caught; keep it at least as large as the threshold face-match uses).
   */
  duplicateThreshold: number;
  /** What to do with such a duplicate: refuse (default), add the photo as a sample of that person, or allow. */
  duplicatePolicy: DuplicatePolicy;
  /** When the given id exists: add a sample (default), update (replace the samples, name and metadata), or refuse. */
  existing: ExistingPolicy;
  /** Detector options for enrolment photos (default ssd, the more accurate detector). */
  detect: Partial<DetectOptions>;
}

/** The enrolment defaults of lib/types/defaults.ts (`ENROL`), as enrolment options. */
export const DEFAULT_ENROL_OPTIONS: Readonly<EnrolOptions> = Object.freeze({
  maxBytes: Math.round(ENROL.maxMegabytes.default * 1024 * 1024),
  fileTypes: [...ENROL_FILE_TYPES],
  faces: ENROL.faces.default,
  minFaceSize: ENROL.minFaceSize.default,
  minSharpness: ENROL.minSharpness.default,
  maxYaw: ENROL.maxYaw.default,
  duplicateThreshold: ENROL.duplicateThreshold.default,
  duplicatePolicy: ENROL.duplicatePolicy.default,
  existing: ENROL.existing.default,
  detect: { detector: 'ssd' as const },
});

/** One enrolment. */
export interface EnrolRequest {
  /** The photo (PNG, JPEG or WebP bytes). */
  image: Buffer;
  /** The photo's file name, when known: its extension must be an accepted type. */
  fileName?: string;
  /** Required for a new person; for an existing id, a given name renames. */
  name?: string;
  /** Given id; generated when absent. */
  id?: string;
  metadata?: Record<string, unknown>;
  /** Recorded with the sample (default: the file name). */
  source?: string;
  /** Recorded in the audit log. */
  actor?: string;
}

/** The face that enrolment accepted. */
export interface AcceptedFace {
  face: DetectedFace & { descriptor: number[] };
  /** Faces found in the photo (before the size filter). */
  found: number;
  width: number;
  height: number;
}

/** Outcome of an enrolment. */
export interface EnrolResult {
  /** `enrolled`: new person; `sample-added`: sample added to an existing person; `updated`: samples replaced. */
  status: 'enrolled' | 'sample-added' | 'updated';
  person: Person;
  sampleId: string;
  face: { box: DetectedFace['box']; score: number; quality: DetectedFace['quality'] };
  /** When the face was taken for an enrolled person (policy add-sample): who and how close. */
  duplicateOf?: { id: string; name: string; distance: number };
}

/**
 * Checks size and type of a photo before decoding it. Throws ETOOLARGE or EFILETYPE.
 */
export function checkPhotoFile(
  image: Buffer,
  fileName: string | undefined,
  opts: Pick<EnrolOptions, 'maxBytes' | 'fileTypes'>,
): void {
  const label = fileName ? `photo ${path.basename(fileName)}` : 'photo';
  if (!Buffer.isBuffer(image) || image.length === 0) throw new StoreError('EFILETYPE', `${label} is empty`);
  if (image.length > opts.maxBytes) {
    throw new StoreError(
      'ETOOLARGE',
      `${label} is ${(image.length / 2 ** 20).toFixed(1)} MB, larger than the limit of ${(opts.maxBytes / 2 ** 20).toFixed(1)} MB`,
    );
  }
  const allowed = opts.fileTypes.map((t) => t.toLowerCase());
  if (fileName) {
    const ext = path.extname(fileName).slice(1).toLowerCase();
    if (!allowed.includes(ext)) {
      throw new StoreError(
        'EFILETYPE',
        `${label}: file type "${ext || '(none)'}" is not accepted (accepted: ${allowed.join(', ')})`,
      );
    }
  }
  const kind = sniffFormat(image) ?? null;
  const ok =
    kind === 'jpeg'
      ? allowed.includes('jpg') || allowed.includes('jpeg')
      : kind !== null && allowed.includes(kind);
  if (!ok) {
    throw new StoreError(
      'EFILETYPE',
      `${label} is not a ${allowed.join(', ')} image${kind ? ` (it is ${kind})` : ''}`,
    );
  }
}

/**
 * Runs the engine on a checked photo and applies the face rules: at least one face of the
 * minimum size, exactly one unless `faces` is `largest`, sharp enough, not turned too far.
 * Throws ENOFACE, EFACESMALL, EMULTIFACE, EBLURRY, EYAW or EIMAGE.
 */
export async function acceptFace(
  engine: EnrolEngine,
  image: Buffer,
  o: EnrolOptions,
  label = 'photo',
): Promise<AcceptedFace> {
  let r: DetectResult;
  try {
    // minFaceSize 0: small faces are filtered here, so that a photo with only a small face is
    // refused as "too small" rather than as "no face".
    r = await engine.detect(image, {
      ...o.detect,
      descriptors: true,
      landmarks: true,
      crop: true,
      minFaceSize: 0,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new StoreError('EIMAGE', `${label} cannot be used: ${e.message}`, { cause: e.code });
  }
  const faces = [...r.faces].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  if (faces.length === 0) throw new StoreError('ENOFACE', `no face found in ${label}`);
  const big = faces.filter((f) => f.quality.faceSize >= o.minFaceSize);
  if (big.length === 0) {
    throw new StoreError(
      'EFACESMALL',
      `the face in ${label} is ${Math.round(faces[0].quality.faceSize)} px, smaller than the minimum of ${o.minFaceSize} px`,
      { faceSize: faces[0].quality.faceSize },
    );
  }
  if (big.length > 1 && o.faces === 'single') {
    throw new StoreError(
      'EMULTIFACE',
      `${label} shows ${big.length} faces; enrolment needs exactly one (or the "largest face" setting)`,
      {
        faces: big.length,
      },
    );
  }
  const face = big[0];
  if (!face.descriptor) throw new StoreError('EIMAGE', `${label}: the engine returned no descriptor`);
  if (face.quality.sharpness < o.minSharpness) {
    throw new StoreError(
      'EBLURRY',
      `the face in ${label} is too blurred (sharpness ${face.quality.sharpness.toFixed(1)}, at least ${o.minSharpness} needed)`,
      { sharpness: face.quality.sharpness },
    );
  }
  if (face.quality.yaw !== null && Math.abs(face.quality.yaw) > o.maxYaw) {
    throw new StoreError(
      'EYAW',
      `the face in ${label} is turned ${Math.abs(face.quality.yaw).toFixed(0)}° to the side (at most ${o.maxYaw}°): use a frontal photo`,
      { yaw: face.quality.yaw },
    );
  }
  return { face: face as AcceptedFace['face'], found: faces.length, width: r.width, height: r.height };
}

/**
 * Merges partial options over the defaults and checks them against the limits of
 * lib/types/defaults.ts (`ENROL`). Throws EINVALID_METADATA naming the bad option.
 */
export function resolveEnrolOptions(over: Partial<EnrolOptions> = {}): EnrolOptions {
  const o: EnrolOptions = { ...DEFAULT_ENROL_OPTIONS, fileTypes: [...DEFAULT_ENROL_OPTIONS.fileTypes] };
  for (const [k, v] of Object.entries(over))
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  const bad = (m: string): never => {
    throw new StoreError('EINVALID_METADATA', `enrolment option ${m}`);
  };
  const number = (name: keyof EnrolOptions, limit: NumberLimit): void => {
    const v = o[name] as number;
    if (!inLimit(limit, v)) bad(`${name} must be ${describeLimit(limit)}, not ${String(v)}`);
  };
  const oneOf = (name: keyof EnrolOptions, limit: ChoiceLimit): void => {
    if (!isChoice(limit, o[name]))
      bad(`${name} must be ${describeChoice(limit)}, not ${JSON.stringify(o[name])}`);
  };
  const mb = ENROL.maxMegabytes;
  // Any positive size up to the limit's max: the node's lower bound (maxMegabytes) is a form limit.
  if (!(o.maxBytes > 0 && o.maxBytes <= mb.max * 2 ** 20))
    bad(`maxBytes must be more than 0 and at most ${mb.max} MB, not ${String(o.maxBytes)} bytes`);
  if (
    !Array.isArray(o.fileTypes) ||
    !o.fileTypes.length ||
    !o.fileTypes.every((t) => ENROL_FILE_TYPES.includes(t))
  )
    bad(`fileTypes must be some of ${ENROL_FILE_TYPES.join(', ')}`);
  oneOf('faces', ENROL.faces);
  oneOf('duplicatePolicy', ENROL.duplicatePolicy);
  oneOf('existing', ENROL.existing);
  number('duplicateThreshold', ENROL.duplicateThreshold);
  number('minFaceSize', ENROL.minFaceSize);
  number('minSharpness', ENROL.minSharpness);
  number('maxYaw', ENROL.maxYaw);
  return o;
}

/**
 * Refuses a photo as a new sample of `person` when it does not look like their other samples: its
 * distance to their mean (the face-match rule) is at least SAME_SAMPLE_LIMIT. A person's mean is
 * what names them; a photo of somebody else, added by mistake, would pull it away from every photo
 * of theirs (and with the nearest rule would let that somebody be named as them).
 */
function checkSameFace(
  store: PeopleStore,
  person: Person,
  face: { descriptor: number[]; modelId: string },
  label: string,
): void {
  const limit = SAME_SAMPLE_LIMIT;
  const m = store.match(face.descriptor, face.modelId, {
    threshold: limit,
    margin: 0,
    k: MATCH.candidates.max,
    rule: 'mean',
  });
  const own = m.candidates.find((c) => c.id === person.id);
  if (own && own.distance < limit) return;
  throw new StoreError(
    'ENOTSAME',
    `${label} does not look like ${person.name} (${person.id}): ` +
      (own ? `distance ${own.distance.toFixed(3)}` : 'it is farther than everyone else') +
      ` to the mean of their ${person.samples.length === 1 ? 'sample' : `${person.samples.length} samples`} is not under ${limit}, ` +
      'more than photos of one person were ever measured apart; enrol it as its own person, or replace their samples (existing: update)',
    { id: person.id, ...(own ? { distance: own.distance } : {}) },
  );
}

/**
 * Enrols photos into a store with an engine. One Enroller per store and engine; its options can
 * be overridden per call.
 */
export class Enroller {
  readonly options: EnrolOptions;

  constructor(
    readonly store: PeopleStore,
    readonly engine: EnrolEngine,
    options: Partial<EnrolOptions> = {},
  ) {
    this.options = resolveEnrolOptions(options);
  }

  /**
   * Validates the photo and the person fields, finds the face, checks for duplicates and writes
   * the person or sample. Throws a StoreError (see errors.ts for codes); on any error nothing is
   * written.
   */
  async enrol(req: EnrolRequest, over: Partial<EnrolOptions> = {}): Promise<EnrolResult> {
    const o =
      over && Object.keys(over).length ? resolveEnrolOptions({ ...this.options, ...over }) : this.options;
    const label = req.fileName ? `photo ${path.basename(req.fileName)}` : 'photo';
    // Cheap checks first: nothing reaches the engine or the disk with a bad id, name or file.
    const id =
      req.id !== undefined && req.id !== null && String(req.id) !== '' ? sanitiseId(req.id) : undefined;
    const name =
      req.name !== undefined && req.name !== null && req.name !== '' ? sanitiseName(req.name) : undefined;
    const metadata = req.metadata !== undefined ? sanitiseMetadata(req.metadata) : undefined;
    if (!name && !(id && this.store.getPerson(id))) {
      throw new StoreError('EINVALID_NAME', 'a name is needed to enrol a new person');
    }
    if (id && this.store.getPerson(id) && o.existing === 'refuse') {
      throw new StoreError(
        'EEXISTS',
        `a person with id ${id} already exists (${this.store.getPerson(id)?.name})`,
        { id },
      );
    }
    checkPhotoFile(req.image, req.fileName, o);
    const accepted = await acceptFace(this.engine, req.image, o, label);
    const { face } = accepted;
    const sample = {
      descriptor: face.descriptor,
      modelId: face.modelId,
      crop: face.crop,
      source: req.source ?? (req.fileName ? path.basename(req.fileName) : 'upload'),
    };
    const faceInfo = { box: face.box, score: face.score, quality: face.quality };

    return this.store.batch(async (tx) => {
      // Re-read inside the batch: another registration may have landed since the checks above.
      const existing = id ? this.store.getPerson(id) : undefined;
      if (existing && o.existing === 'refuse') {
        throw new StoreError('EEXISTS', `a person with id ${existing.id} already exists (${existing.name})`, {
          id: existing.id,
        });
      }
      if (!existing && !name) throw new StoreError('EINVALID_NAME', 'a name is needed to enrol a new person');

      let duplicateOf: EnrolResult['duplicateOf'];
      if (this.store.samples() > 0 && o.duplicatePolicy !== 'allow') {
        const m = this.store.match(face.descriptor, face.modelId, {
          threshold: o.duplicateThreshold,
          margin: 0,
          k: 1,
        });
        const nearest = m.candidates[0];
        if (nearest && nearest.distance < o.duplicateThreshold && nearest.id !== existing?.id) {
          duplicateOf = { id: nearest.id, name: nearest.name, distance: nearest.distance };
          if (o.duplicatePolicy === 'refuse') {
            throw new StoreError(
              'EDUPLICATE',
              `${label} looks like ${nearest.name} (${nearest.id}), already enrolled: distance ${nearest.distance.toFixed(3)} is under the duplicate threshold ${o.duplicateThreshold}`,
              { duplicateOf },
            );
          }
        }
      } else if (this.store.modelId && face.modelId !== this.store.modelId) {
        // An empty-looking store still refuses another model (prepareSample would too; this names the photo).
        throw new StoreError(
          'EMODEL_MISMATCH',
          `${label} was analysed with model ${face.modelId}, the store holds ${this.store.modelId}`,
        );
      }

      if (duplicateOf && o.duplicatePolicy === 'add-sample') {
        const person = await tx.addSample(duplicateOf.id, sample, req.actor);
        return {
          status: 'sample-added',
          person,
          sampleId: person.samples[person.samples.length - 1].id,
          face: faceInfo,
          duplicateOf,
        };
      }
      if (existing && o.existing === 'add-sample') checkSameFace(this.store, existing, face, label);
      if (existing) {
        const before = existing.samples.map((s) => s.id);
        let person = await tx.addSample(existing.id, sample, req.actor);
        const sampleId = person.samples[person.samples.length - 1].id;
        if (o.existing === 'update') {
          for (const s of before) person = await tx.removeSample(existing.id, s, req.actor);
        }
        if ((name && name !== existing.name) || metadata !== undefined) {
          person = await tx.updatePerson(existing.id, { name, metadata }, req.actor);
        }
        return {
          status: o.existing === 'update' ? 'updated' : 'sample-added',
          person,
          sampleId,
          face: faceInfo,
        };
      }
      const person = await tx.addPerson({ id, name: name as string, metadata }, sample, req.actor);
      return { status: 'enrolled', person, sampleId: person.samples[0].id, face: faceInfo };
    });
  }
}
