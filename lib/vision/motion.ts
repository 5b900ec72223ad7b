/**
 * Motion detection for gating the face detector: pure TypeScript on the main thread, about half a
 * millisecond per 640x360 frame (README "Motion gating"). Each frame is reduced to a small greyscale
 * image (averaged blocks, at most 2x2 samples per block whatever the resolution), compared with a
 * running background, thresholded, and the changed pixels grouped into boxes.
 *
 * Light that changes over the whole picture (a slow drift, a cloud, auto-exposure) shifts every pixel
 * alike: the median difference is taken off before thresholding, and the background follows with a
 * time constant of a few seconds. Camera noise is averaged away by the reduction.
 */
import type { Box, RawImage } from '../types';
import { MOTION, MOTION_DETECTOR } from '../types/defaults';

/** Settings of one motion detector. */
export interface MotionOptions {
  /** 1..100 (MOTION.sensitivity): higher counts smaller changes. */
  sensitivity: number;
  /** Smallest changed area that counts, in % of the frame (MOTION.minArea). */
  minArea: number;
}

/** What the detector saw in one frame. */
export interface MotionResult {
  /** Some changed area of at least the minimum size. */
  moving: boolean;
  /** Share of the frame (0..1) covered by the changed areas that count. */
  area: number;
  /** The changed areas that count, in pixels of the frame, largest first. */
  regions: Box[];
  /** The first frame (or the first after a size change): the background was set from it, nothing compared. */
  learning: boolean;
  /** Milliseconds this frame took. */
  ms: number;
}

/** The grey-level difference from the background that counts a pixel as changed, for a sensitivity. */
export function motionThreshold(sensitivity: number): number {
  const s = Math.min(100, Math.max(1, sensitivity));
  return 5 + ((100 - s) * 40) / 99;
}

/** At most this many samples per block side: a 4K frame costs the same as a 640-pixel one. */
const SAMPLES_PER_SIDE = 2;

/**
 * One camera's motion detector. Feed it the camera's frames in order with their times; it keeps the
 * background between calls.
 */
export class MotionDetector {
  private readonly threshold: number;
  private readonly minAreaShare: number;
  private block = 0;
  private w = 0;
  private h = 0;
  private frameW = 0;
  private frameH = 0;
  private grey = new Float32Array(0);
  private background = new Float32Array(0);
  private mask = new Uint8Array(0);
  private grown = new Uint8Array(0);
  private labels = new Int32Array(0);
  private stack = new Int32Array(0);
  private readonly histogram = new Uint32Array(511);
  private lastTs: number | undefined;

  constructor(options: Partial<MotionOptions> = {}) {
    this.threshold = motionThreshold(options.sensitivity ?? MOTION.sensitivity.default);
    this.minAreaShare = (options.minArea ?? MOTION.minArea.default) / 100;
  }

  /** Compares `frame` (taken at `ts` milliseconds) with the background and updates it. */
  update(frame: RawImage, ts: number): MotionResult {
    const start = performance.now();
    const fresh = frame.width !== this.frameW || frame.height !== this.frameH || this.lastTs === undefined;
    if (fresh) this.resize(frame.width, frame.height);
    this.reduce(frame);
    const n = this.w * this.h;
    if (fresh) {
      this.background.set(this.grey);
      this.lastTs = ts;
      return { moving: false, area: 0, regions: [], learning: true, ms: performance.now() - start };
    }
    const dt = Math.max(0, (ts - (this.lastTs ?? ts)) / 1000);
    this.lastTs = ts;

    const offset = this.medianDifference(n);
    const { grey, background, mask, threshold } = this;
    for (let i = 0; i < n; i++) mask[i] = Math.abs(grey[i] - background[i] - offset) > threshold ? 1 : 0;

    // The background follows slowly, changed pixels more slowly still; the global offset goes in at
    // once, so a drift never piles up into a difference.
    const alpha = 1 - Math.exp(-dt / MOTION_DETECTOR.backgroundSeconds);
    const slow = alpha / MOTION_DETECTOR.movingSlowdown;
    for (let i = 0; i < n; i++) {
      const b = background[i] + offset;
      background[i] = b + (mask[i] ? slow : alpha) * (grey[i] - b);
    }

    const regions = this.group();
    const kept = regions.filter((r) => r.count >= this.minAreaShare * n).sort((a, b) => b.count - a.count);
    const keptCount = kept.reduce((s, r) => s + r.count, 0);
    return {
      moving: kept.length > 0,
      area: keptCount / n,
      regions: kept.map((r) => this.toFrame(r)),
      learning: false,
      ms: performance.now() - start,
    };
  }

  /** Forgets the background: the next frame is learnt again. */
  reset(): void {
    this.lastTs = undefined;
  }

  private resize(width: number, height: number): void {
    this.frameW = width;
    this.frameH = height;
    this.block = Math.max(1, Math.floor(width / MOTION_DETECTOR.width));
    this.w = Math.max(1, Math.floor(width / this.block));
    this.h = Math.max(1, Math.floor(height / this.block));
    const n = this.w * this.h;
    this.grey = new Float32Array(n);
    this.background = new Float32Array(n);
    this.mask = new Uint8Array(n);
    this.grown = new Uint8Array(n);
    this.labels = new Int32Array(n);
    this.stack = new Int32Array(n);
  }

  /** Block averages of the luma (BT.601 weights), a few samples per block side. */
  private reduce(frame: RawImage): void {
    const { data, width, channels } = frame;
    const { block, w, h, grey } = this;
    const step = Math.max(1, Math.floor(block / SAMPLES_PER_SIDE));
    const per = Math.ceil(block / step) ** 2;
    for (let by = 0; by < h; by++) {
      for (let bx = 0; bx < w; bx++) {
        let sum = 0;
        for (let y = by * block; y < (by + 1) * block; y += step) {
          let p = (y * width + bx * block) * channels;
          const pStep = step * channels;
          for (let x = 0; x < block; x += step, p += pStep) {
            sum += channels >= 3 ? 77 * data[p] + 150 * data[p + 1] + 29 * data[p + 2] : 256 * data[p];
          }
        }
        grey[by * w + bx] = sum / (256 * per);
      }
    }
  }

  /** The median of grey - background over the frame (the part of the change that is light, not motion). */
  private medianDifference(n: number): number {
    const hist = this.histogram;
    hist.fill(0);
    const { grey, background } = this;
    for (let i = 0; i < n; i++) {
      const d = Math.round(grey[i] - background[i]);
      hist[Math.max(-255, Math.min(255, d)) + 255]++;
    }
    let seen = 0;
    for (let k = 0; k < hist.length; k++) {
      seen += hist[k];
      if (seen * 2 >= n) return k - 255;
    }
    return 0;
  }

  /**
   * Changed pixels grown by one (so the parts of one moving thing join), then grouped into
   * 8-connected components; each counts its originally changed pixels.
   */
  private group(): Array<{ x0: number; y0: number; x1: number; y1: number; count: number }> {
    const { w, h, mask, grown, labels, stack } = this;
    grown.fill(0);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!mask[y * w + x]) continue;
        for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++)
          for (let xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) grown[yy * w + xx] = 1;
      }
    }
    labels.fill(0);
    const out: Array<{ x0: number; y0: number; x1: number; y1: number; count: number }> = [];
    for (let i = 0; i < w * h; i++) {
      if (!grown[i] || labels[i]) continue;
      const label = out.length + 1;
      const r = { x0: w, y0: h, x1: -1, y1: -1, count: 0 };
      let top = 0;
      stack[top++] = i;
      labels[i] = label;
      while (top > 0) {
        const j = stack[--top];
        const x = j % w;
        const y = (j - x) / w;
        if (mask[j]) r.count++;
        if (x < r.x0) r.x0 = x;
        if (x > r.x1) r.x1 = x;
        if (y < r.y0) r.y0 = y;
        if (y > r.y1) r.y1 = y;
        for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++) {
          for (let xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) {
            const k = yy * w + xx;
            if (grown[k] && !labels[k]) {
              labels[k] = label;
              stack[top++] = k;
            }
          }
        }
      }
      out.push(r);
    }
    return out;
  }

  /** A box of the reduced image in pixels of the frame (the right and bottom remainders included). */
  private toFrame(r: { x0: number; y0: number; x1: number; y1: number }): Box {
    const b = this.block;
    const x = r.x0 * b;
    const y = r.y0 * b;
    const x1 = r.x1 === this.w - 1 ? this.frameW : (r.x1 + 1) * b;
    const y1 = r.y1 === this.h - 1 ? this.frameH : (r.y1 + 1) * b;
    return { x, y, width: x1 - x, height: y1 - y };
  }
}
