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
