/**
 * Face quality figures, computed in the inference workers (they touch pixels one by one, which must
 * never happen on the main thread).
 */
import type { Box, Point } from '../types';

/** A box with integer pixel bounds, clipped to the image. */
export interface PixelRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Integer bounds of `box` inside a `width` x `height` image (x1, y1 exclusive). */
export function clipRect(box: Box, width: number, height: number): PixelRect {
  const x0 = Math.max(0, Math.min(width, Math.floor(box.x)));
  const y0 = Math.max(0, Math.min(height, Math.floor(box.y)));
  const x1 = Math.max(x0, Math.min(width, Math.ceil(box.x + box.width)));
  const y1 = Math.max(y0, Math.min(height, Math.ceil(box.y + box.height)));
  return { x0, y0, x1, y1 };
}

/**
 * Variance of the 4-neighbour Laplacian of the grey levels (0..255, BT.601 luma) inside `rect`, over
 * the pixels whose neighbours are all inside it. Blur lowers it; noise raises it. Computed at the
 * face's own resolution, so the same face is scored higher when it is larger in the frame.
 * Returns 0 for regions under 3x3 pixels.
 */
export function laplacianVariance(
  data: Uint8Array,
  width: number,
  channels: number,
  rect: PixelRect,
): number {
  const w = rect.x1 - rect.x0;
  const h = rect.y1 - rect.y0;
  if (w < 3 || h < 3) return 0;
  const grey = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    let src = ((rect.y0 + y) * width + rect.x0) * channels;
    const row = y * w;
    for (let x = 0; x < w; x++, src += channels) {
      grey[row + x] =
        channels >= 3 ? 0.299 * data[src] + 0.587 * data[src + 1] + 0.114 * data[src + 2] : data[src];
    }
  }
  let sum = 0;
  let sumSq = 0;
  for (let y = 1; y < h - 1; y++) {
    const row = y * w;
    for (let x = 1; x < w - 1; x++) {
      const i = row + x;
      const lap = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * grey[i];
      sum += lap;
      sumSq += lap * lap;
    }
  }
  const n = (w - 2) * (h - 2);
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

/**
 * Head yaw in degrees from 68 landmarks, modelling the head as a cylinder: the nose tip (point 30)
 * is projected on the line between the jaw's ends (points 0 and 16); at the middle the face is
 * frontal, and its offset from the middle, as a fraction of the half-width, is the sine of the yaw.
 * Negative: the face is turned towards the image's left. A rough estimate (about +-15 degrees),
 * good enough to refuse profile faces for enrolment; null without 68 points.
 */
export function yawFromLandmarks(points: Point[] | undefined): number | null {
  if (!points || points.length !== 68) return null;
  const a = points[0];
  const b = points[16];
  const n = points[30];
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  if (len2 === 0) return null;
  const t = ((n.x - a.x) * dx + (n.y - a.y) * dy) / len2;
  const s = Math.max(-1, Math.min(1, 2 * t - 1));
  return (Math.asin(s) * 180) / Math.PI;
}

/**
 * Copies the pixels of `rect` as packed RGB (grey and RGBA sources converted), for a JPEG crop.
 */
export function extractRgb(
  data: Uint8Array,
  width: number,
  channels: number,
  rect: PixelRect,
): { data: Uint8Array; width: number; height: number } {
  const w = rect.x1 - rect.x0;
  const h = rect.y1 - rect.y0;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const start = ((rect.y0 + y) * width + rect.x0) * channels;
    if (channels === 3) {
      out.set(data.subarray(start, start + w * 3), y * w * 3);
      continue;
    }
    let src = start;
    let dst = y * w * 3;
    for (let x = 0; x < w; x++, src += channels, dst += 3) {
      out[dst] = data[src];
      out[dst + 1] = data[channels === 1 ? src : src + 1];
      out[dst + 2] = data[channels === 1 ? src : src + 2];
    }
  }
  return { data: out, width: w, height: h };
}
