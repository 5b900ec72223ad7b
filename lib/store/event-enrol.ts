/**
 * Enrolling a face from a detection event (the Face Library's "Enrol as…"): the event's face crop,
 * else its plain frame, enrolled with the checks of a camera's face rather than a photo's. A camera's
 * face passed face-detect, often small and at a camera's lower detector confidence, so the photo
 * minimums would refuse most: the minimum face size is at most face-detect's default, and the face
 * is searched at most at LIBRARY.eventMinConfidence. A tight crop (a quarter of the box around the
 * face) is where detectors fail most: when no face is found, the same crop is tried again with a
 * dark border, so that the face no longer fills the picture.
 */
import sharp from 'sharp';
import { DETECT, LIBRARY } from '../types/defaults';
import type { EnrolOptions, EnrolRequest, EnrolResult, Enroller } from './enrol';
import { isStoreError } from './errors';

/** The enrolment options for an event's picture, from the options photos are enrolled with. */
export function eventEnrolOptions(base: Partial<EnrolOptions>): Partial<EnrolOptions> {
  return {
    minFaceSize: Math.min(base.minFaceSize ?? 0, DETECT.minFaceSize.default),
    detect: {
      ...base.detect,
      minConfidence: Math.min(
        base.detect?.minConfidence ?? DETECT.minConfidence.default,
        LIBRARY.eventMinConfidence,
      ),
    },
  };
}

/** `image` with a black border half its size on every side (JPEG). */
export async function withBorder(image: Buffer): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(image).metadata();
  const x = Math.round(width / 2);
  const y = Math.round(height / 2);
  return sharp(image)
    .extend({ top: y, bottom: y, left: x, right: x, background: { r: 0, g: 0, b: 0 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

/**
 * Enrols the event picture `image` with `enroller` (whose options are the photo options of its
 * store): `request` says who (a new person, or a sample of `request.id`), `over` what else differs
 * (existing: refuse or add-sample). Throws as Enroller.enrol does.
 */
export async function enrolEventPicture(
  enroller: Enroller,
  image: Buffer,
  request: Omit<EnrolRequest, 'image'>,
  over: Partial<EnrolOptions> = {},
): Promise<EnrolResult> {
  const options = { ...over, ...eventEnrolOptions(enroller.options) };
  try {
    return await enroller.enrol({ ...request, image }, options);
  } catch (err) {
    if (!isStoreError(err) || err.code !== 'ENOFACE') throw err;
    return enroller.enrol({ ...request, image: await withBorder(image) }, options);
  }
}

/** The enrolment checks' refusals of one picture: it is left out, and the next one tried. */
const REFUSALS: ReadonlySet<string> = new Set([
  'EFILETYPE',
  'ENOFACE',
  'EMULTIFACE',
  'EFACESMALL',
  'EBLURRY',
  'EYAW',
  'EDUPLICATE',
  'ENOTSAME',
  'EIMAGE',
]);

/** What enrolling several pictures of one face did. */
export interface PicturesEnrolled {
  /** The last result: the person as they are now. */
  result: EnrolResult;
  /** What the first picture accepted did: a person enrolled, a sample added, samples replaced. */
  status: EnrolResult['status'];
  /** The pictures enrolled, by the `source` each was given. */
  enrolled: string[];
  /** The pictures the enrolment checks refused, with why. */
  refused: Array<{ source: string; code: string; error: string }>;
}

/**
 * Enrols pictures of one face from detection events (enrolment from a track: a passage's crops, a
 * visitor's best sightings) as one person: the first picture the checks accept makes the person
 * (`request`; or adds to `request.id` when `existing` is `add-sample`), each later one is a sample
 * of them (its face must be theirs: ENOTSAME otherwise). A picture the checks refuse is left out and
 * reported; when none is accepted, the first refusal is thrown. Anything else (the store failing)
 * is thrown at once: the samples enrolled until then stay.
 */
export async function enrolEventPictures(
  enroller: Enroller,
  pictures: ReadonlyArray<{ image: Buffer; source: string }>,
  request: Omit<EnrolRequest, 'image' | 'source'>,
  existing: EnrolOptions['existing'] = 'refuse',
): Promise<PicturesEnrolled> {
  let result: EnrolResult | undefined;
  let status: EnrolResult['status'] | undefined;
  let first: Error | undefined;
  const enrolled: string[] = [];
  const refused: PicturesEnrolled['refused'] = [];
  for (const p of pictures) {
    try {
      result = await enrolEventPicture(
        enroller,
        p.image,
        result
          ? { id: result.person.id, actor: request.actor, source: p.source }
          : { ...request, source: p.source },
        { existing: result ? 'add-sample' : existing },
      );
      status ??= result.status;
      enrolled.push(p.source);
    } catch (err) {
      if (!isStoreError(err) || !REFUSALS.has(err.code)) throw err;
      first ??= err as Error;
      refused.push({ source: p.source, code: err.code, error: err.message });
    }
  }
  if (!result || !status) throw first ?? new RangeError('no picture to enrol');
  return { result, status, enrolled, refused };
}
