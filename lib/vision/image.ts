/**
 * Image decoding and encoding with sharp. sharp works in libuv's thread pool, so these functions keep
 * the event loop free although they run on the main thread; no pixel is touched by JavaScript here.
 */
import sharp from 'sharp';
import type { RawImage } from '../types';
import { ImageError } from './errors';

// libvips's operation cache (50 MB by default) only helps a program that runs the same operation on
// the same input again; FaceWatch never does (every frame is new), so it only held memory.
sharp.cache(false);

/**
 * Default pixel limit (width x height) for decoded images: 40 megapixels, above an 8K UHD frame
 * (33 MP). A PNG or JPEG header may declare any size; the limit is checked before pixels are
 * allocated, so a tiny file cannot make the process allocate gigabytes (a decompression bomb).
 */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/** Formats the engine decodes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

/**
 * What the engine hands a worker: a RawImage whose tightly packed pixels are in a buffer of their own
 * (transferable). A name for that promise, not a type of its own.
 */
export type Frame = RawImage;

/** Signatures of formats we recognise only to name them in the error. */
const OTHER_FORMATS: Array<[string, (b: Buffer) => boolean]> = [
  ['GIF', (b) => b.subarray(0, 4).toString('latin1') === 'GIF8'],
  ['TIFF', (b) => ['II*\0', 'MM\0*'].includes(b.subarray(0, 4).toString('latin1'))],
  ['BMP', (b) => b.subarray(0, 2).toString('latin1') === 'BM'],
  ['HEIF/AVIF', (b) => b.subarray(4, 8).toString('latin1') === 'ftyp'],
  ['SVG', (b) => /^\s*(<\?xml[^>]*>\s*)?<svg/i.test(b.subarray(0, 256).toString('latin1'))],
  ['PDF', (b) => b.subarray(0, 5).toString('latin1') === '%PDF-'],
];

/** The format of an encoded image from its first bytes, or undefined when it is not one we decode. */
export function sniffFormat(buf: Buffer): ImageFormat | undefined {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (
    buf.length >= 8 &&
    buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  )
    return 'png';
  if (
    buf.length >= 12 &&
    buf.subarray(0, 4).toString('latin1') === 'RIFF' &&
    buf.subarray(8, 12).toString('latin1') === 'WEBP'
  )
    return 'webp';
  return undefined;
}

function unsupported(buf: Buffer): ImageError {
  const other = OTHER_FORMATS.find(([, test]) => test(buf));
  const what = other ? `${other[0]} images are not supported` : 'not an image';
  return new ImageError('IMAGE_UNSUPPORTED', `${what}: expected JPEG, PNG or WebP`);
}

function tooLarge(width: number, height: number, maxPixels: number): ImageError {
  return new ImageError(
    'IMAGE_TOO_LARGE',
    `image of ${width}x${height} pixels exceeds the limit of ${maxPixels} pixels`,
  );
}

/**
 * Decodes a JPEG, PNG or WebP image to packed 8-bit RGB, applying its EXIF orientation.
 * Throws ImageError: IMAGE_EMPTY (0 bytes), IMAGE_UNSUPPORTED (another format or not an image),
 * IMAGE_TOO_LARGE (declared size over `maxPixels`, checked before decoding) or IMAGE_CORRUPT.
 */
export async function decodeImage(buf: Buffer, maxPixels = DEFAULT_MAX_PIXELS): Promise<Frame> {
  if (!Buffer.isBuffer(buf))
    throw new ImageError('IMAGE_UNSUPPORTED', 'image must be a Buffer or a raw frame');
  if (buf.length === 0) throw new ImageError('IMAGE_EMPTY', 'image is empty (0 bytes)');
  const format = sniffFormat(buf);
  if (!format) throw unsupported(buf);
  let width: number | undefined;
  let height: number | undefined;
  try {
    // The header alone, to name the size when it is over the limit (sharp's own message does not).
    ({ width, height } = await sharp(buf, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw new ImageError('IMAGE_CORRUPT', `corrupt ${format.toUpperCase()} image: ${message(err)}`);
  }
  if (!width || !height)
    throw new ImageError('IMAGE_CORRUPT', `corrupt ${format.toUpperCase()} image: no size`);
  if (width * height > maxPixels) throw tooLarge(width, height, maxPixels);
  try {
    const { data, info } = await sharp(buf, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    // sharp's output buffer is external memory that postMessage cannot transfer (it would be cloned
    // anyway); one exact-size copy gives a buffer that is then moved to a worker without another.
    return { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    const msg = message(err);
    if (/pixel limit/i.test(msg)) throw tooLarge(width, height, maxPixels);
    throw new ImageError('IMAGE_CORRUPT', `corrupt ${format.toUpperCase()} image: ${msg}`);
  }
}

/** A frame's size field for an error message: a number as it is, anything else by its type. */
function sizeText(v: unknown): string {
  return typeof v === 'number' ? String(v) : `(${v === null ? 'null' : typeof v})`;
}

/**
 * Checks a raw frame and returns it as a Frame whose buffer may be moved to a worker. With
 * `transfer` the caller's own buffer is handed over when it spans a whole ArrayBuffer (the caller's
 * `data` is then detached, zero copies); otherwise the pixels are copied once.
 */
export function rawFrame(image: RawImage, maxPixels = DEFAULT_MAX_PIXELS, transfer = false): Frame {
  const { data, width, height, channels } = image;
  if (!(data instanceof Uint8Array))
    throw new ImageError('IMAGE_UNSUPPORTED', 'raw frame data must be a Uint8Array');
  if (data.length === 0) throw new ImageError('IMAGE_EMPTY', 'raw frame is empty (0 bytes)');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
    throw new ImageError(
      'IMAGE_CORRUPT',
      `raw frame has an invalid size ${sizeText(width)}x${sizeText(height)}`,
    );
  if (channels !== 1 && channels !== 3 && channels !== 4)
    throw new ImageError(
      'IMAGE_UNSUPPORTED',
      `raw frame has ${sizeText(channels)} channels: expected 1, 3 or 4`,
    );
  if (width * height > maxPixels) throw tooLarge(width, height, maxPixels);
  const expected = width * height * channels;
  if (data.length !== expected)
    throw new ImageError(
      'IMAGE_CORRUPT',
      `raw frame holds ${data.length} bytes, expected ${expected} for ${width}x${height}x${channels}`,
    );
  const ownsBuffer =
    data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
  const pixels = transfer && ownsBuffer ? new Uint8Array(data.buffer) : new Uint8Array(data);
  return { data: pixels, width, height, channels };
}

/**
 * Encodes a raw frame as JPEG (used by face-detect for `msg.image`). Runs in sharp's thread pool.
 * @param quality 1..100, default 80.
 */
export async function encodeJpeg(image: RawImage, quality = 80): Promise<Buffer> {
  const { data, width, height, channels } = image;
  if (data.length !== width * height * channels)
    throw new ImageError(
      'IMAGE_CORRUPT',
      `raw frame holds ${data.length} bytes, expected ${width * height * channels}`,
    );
  return sharp(data, { raw: { width, height, channels } })
    .jpeg({ quality: Math.max(1, Math.min(100, Math.round(quality))) })
    .toBuffer();
}

/**
 * The one JPEG of an image, for messages, snapshots and crops: a JPEG is passed through untouched
 * (no re-encoding, no quality loss), a PNG or WebP is turned upright by its EXIF orientation and
 * encoded, a raw frame is encoded. Throws ImageError as decodeImage and encodeJpeg do.
 * @param quality 1..100 for what is encoded here, default 80.
 */
export async function asJpeg(image: Buffer | RawImage, quality = 80): Promise<Buffer> {
  if (!Buffer.isBuffer(image)) return encodeJpeg(image, quality);
  if (image.length === 0) throw new ImageError('IMAGE_EMPTY', 'image is empty (0 bytes)');
  const format = sniffFormat(image);
  if (!format) throw unsupported(image);
  if (format === 'jpeg') return image;
  try {
    return await sharp(image, { limitInputPixels: DEFAULT_MAX_PIXELS, failOn: 'error' })
      .rotate()
      .jpeg({ quality: Math.max(1, Math.min(100, Math.round(quality))) })
      .toBuffer();
  } catch (err) {
    throw new ImageError('IMAGE_CORRUPT', `corrupt ${format.toUpperCase()} image: ${message(err)}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
