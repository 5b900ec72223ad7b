/**
 * The event's pictures: the frame with every face's box and name drawn (the original system's
 * screenshot) and the face's crop. Names are drawn as SVG text composited by sharp (librsvg), in
 * the font family {@link SNAPSHOT_FONT}: DejaVu Sans, which the system must have (Debian/Ubuntu:
 * `fonts-dejavu-core`; `.ci/run` installs it). librsvg falls back to another installed font when it
 * is missing, and draws boxes without text when there is none.
 */
import sharp from 'sharp';
import { decodeImage, sniffFormat } from '../vision/image';
import type { Box } from '../types';

/** The font family the names are drawn in. */
export const SNAPSHOT_FONT = 'DejaVu Sans';

/** One face to draw. */
export interface SnapshotLabel {
  box: Box;
  /** The text under the box (a name, or `unknown`). */
  text: string;
  /** Drawn green; otherwise orange. */
  known: boolean;
}

/** Escapes text for SVG (a name is the user's text: `<`, `&` or quotes must not end the element). */
export function xmlEscape(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.codePointAt(0) ?? 0;
    // Control characters other than tab and newlines are not allowed in XML at all.
    if (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) continue;
    out += '<>&"\''.includes(c) ? `&#${code};` : c;
  }
  return out;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

/**
 * Draws boxes and names over an encoded frame; resolves to a JPEG of the frame's size. Labels are
 * cut at 64 characters.
 */
export async function drawSnapshot(image: Buffer, labels: SnapshotLabel[], quality = 80): Promise<Buffer> {
  // Decoded upright, within the engine's pixel limit, with the engine's image errors.
  const { data, width, height, channels } = await decodeImage(image);
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 240));
  const font = clamp(Math.round(Math.min(width, height) / 28), 10, 48);
  const parts = labels.map(({ box, text, known }) => {
    const x = clamp(Math.round(box.x), 0, width - 1);
    const y = clamp(Math.round(box.y), 0, height - 1);
    const w = clamp(Math.round(box.width), 1, width - x);
    const h = clamp(Math.round(box.height), 1, height - y);
    const colour = known ? '#2ecc40' : '#ff851b';
    const label = xmlEscape(text.length > 64 ? `${text.slice(0, 63)}…` : text);
    const ty = y + h + font + 4 <= height ? y + h + font + 2 : Math.max(font, y - 4);
    return (
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>` +
      `<text x="${x}" y="${ty}" font-family="${SNAPSHOT_FONT}, sans-serif" font-size="${font}" fill="${colour}" ` +
      `stroke="#000" stroke-width="${Math.max(1, Math.round(font / 12))}" paint-order="stroke">${label}</text>`
    );
  });
  const svg = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`,
  );
  return sharp(data, { raw: { width, height, channels } })
    .composite([{ input: svg, top: 0, left: 0 }])
    .jpeg({ quality })
    .toBuffer();
}

/** A JPEG crop of one face from an encoded frame, with a margin of a quarter of the box. */
export async function cropFace(image: Buffer, box: Box, quality = 85): Promise<Buffer> {
  const img = sharp(image, { failOn: 'error' }).rotate();
  const meta = await img.metadata();
  // EXIF orientations 5-8 turn the picture a quarter: width and height swap after rotate().
  const turned = (meta.orientation ?? 1) >= 5;
  const W = (turned ? meta.height : meta.width) ?? 0;
  const H = (turned ? meta.width : meta.height) ?? 0;
  const mx = box.width * 0.25;
  const my = box.height * 0.25;
  const left = clamp(Math.floor(box.x - mx), 0, Math.max(0, W - 1));
  const top = clamp(Math.floor(box.y - my), 0, Math.max(0, H - 1));
  const width = clamp(Math.ceil(box.width + 2 * mx), 1, W - left);
  const height = clamp(Math.ceil(box.height + 2 * my), 1, H - top);
  return img.extract({ left, top, width, height }).jpeg({ quality }).toBuffer();
}

/** The labels of an event's frame: its faces as {@link drawSnapshot} draws them. */
export function eventLabels(
  faces: ReadonlyArray<{ box: Box; person: { name: string } | null }>,
): SnapshotLabel[] {
  return faces.map((f) => ({ box: f.box, text: f.person?.name ?? 'unknown', known: !!f.person }));
}

/**
 * A picture with the given boxes (each widened by a quarter on every side) pixelated beyond
 * recognition, as a JPEG of the picture's size: what an erased person's face becomes in the frames
 * of other people's events. The picture is decoded upright, so boxes in upright coordinates fit.
 */
export async function pixelate(image: Buffer, boxes: Box[], quality = 85): Promise<Buffer> {
  const { data, width, height, channels } = await decodeImage(image);
  const patches: sharp.OverlayOptions[] = [];
  for (const box of boxes) {
    const mx = box.width * 0.25;
    const my = box.height * 0.25;
    const left = clamp(Math.floor(box.x - mx), 0, width - 1);
    const top = clamp(Math.floor(box.y - my), 0, height - 1);
    const w = clamp(Math.ceil(box.width + 2 * mx), 1, width - left);
    const h = clamp(Math.ceil(box.height + 2 * my), 1, height - top);
    if (!Number.isFinite(left + top + w + h)) continue;
    // Four blocks across: a face cannot be recognised, nor its features recovered, from 4x4 colours.
    const tiny = await sharp(data, { raw: { width, height, channels } })
      .extract({ left, top, width: w, height: h })
      .resize(Math.min(4, w), Math.min(4, h), { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const blocks = await sharp(tiny.data, { raw: tiny.info })
      .resize(w, h, { fit: 'fill', kernel: 'nearest' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    patches.push({ input: blocks.data, raw: blocks.info, left, top });
  }
  return sharp(data, { raw: { width, height, channels } }).composite(patches).jpeg({ quality }).toBuffer();
}

/**
 * A frame as it is kept with an event: a JPEG without metadata (an uploaded photo's EXIF, such as
 * its GPS position, is not kept), turned upright. A JPEG without metadata (face-detect's) is kept as
 * it is.
 */
export async function plainFrame(image: Buffer): Promise<Buffer> {
  const head = image.subarray(0, 65536);
  const metadata = head.includes('Exif\0\0') || head.includes('http://ns.adobe.com/xap/');
  if (sniffFormat(image) === 'jpeg' && !metadata) return image;
  const { data, width, height, channels } = await decodeImage(image);
  return sharp(data, { raw: { width, height, channels } }).jpeg({ quality: 85 }).toBuffer();
}
