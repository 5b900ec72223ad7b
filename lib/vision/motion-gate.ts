/**
 * The motion gate in front of the face detector: per camera, a motion detector decides whether a
 * frame goes to the detector, with two keep-alives (faces found in the last seconds: once a second
 * while nothing moves; and a refresh every N seconds in any case). In region mode it also plans the crop the detector looks at.
 */
import type { Box, DetectedFace, DetectOptions, GateReason, RawImage } from '../types';
import { MOTION_DETECTOR, type MotionMode } from '../types/defaults';
import { SMALL_IMAGE_SIDE } from './analyzer';
import { MotionDetector, type MotionResult } from './motion';

/** The shortest gap between keep-alive runs (keepAliveEvery, a quarter early allowed for frame timing). */
const KEEP_ALIVE_GAP_MS = MOTION_DETECTOR.keepAliveEvery * 750;

export type { GateReason } from '../types';

/** Settings of a gate (face-detect's motion settings). */
export interface GateSettings {
  mode: Exclude<MotionMode, 'off'>;
  sensitivity: number;
  minArea: number;
  /** Seconds after the last face during which the detector keeps looking (once a second). */
  keepAlive: number;
  /** The detector runs at least once in this many seconds. */
  refresh: number;
}

/** The gate's decision on one frame. */
export interface GateDecision {
  run: boolean;
  reason: GateReason;
  motion: MotionResult;
}

interface CameraState {
  detector: MotionDetector;
  lastRun: number;
  lastFaces: number;
}

/** Motion gates of the cameras one face-detect node serves. */
export class MotionGate {
  private readonly cameras = new Map<string, CameraState>();
  /** Frames seen and skipped, for the status. */
  seen = 0;
  skipped = 0;

  constructor(readonly settings: GateSettings) {}

  /** Runs the motion detector on `frame` of `camera` at `ts` (ms) and decides whether to detect. */
  check(camera: string, frame: RawImage, ts: number): GateDecision {
    let st = this.cameras.get(camera);
    if (!st) {
      st = {
        detector: new MotionDetector(this.settings),
        lastRun: -Infinity,
        lastFaces: -Infinity,
      };
      this.cameras.set(camera, st);
    }
    // A camera whose clock went back (a restarted stream or file) starts over.
    if (ts < st.lastRun) {
      st.lastRun = -Infinity;
      st.lastFaces = -Infinity;
      st.detector.reset();
    }
    const motion = st.detector.update(frame, ts);
    let reason: GateReason;
    if (motion.moving) reason = 'motion';
    else if (ts - st.lastFaces <= this.settings.keepAlive * 1000 && ts - st.lastRun >= KEEP_ALIVE_GAP_MS)
      reason = 'recent-faces';
    else if (ts - st.lastRun >= this.settings.refresh * 1000) reason = 'refresh';
    else reason = 'no-motion';
    const run = reason !== 'no-motion';
    if (run) st.lastRun = ts;
    this.seen++;
    if (!run) this.skipped++;
    return { run, reason, motion };
  }

  /** Tells the gate what the detector found on a frame of `camera` taken at `ts`. */
  found(camera: string, ts: number, faces: number): void {
    const st = this.cameras.get(camera);
    if (st && faces > 0 && ts > st.lastFaces) st.lastFaces = ts;
  }

  /** Share of frames skipped so far (0..1). */
  get skippedShare(): number {
    return this.seen > 0 ? this.skipped / this.seen : 0;
  }
}

/** The crop region mode detects on, and what it costs against the whole frame. */
export interface RegionPlan {
  /** The crop, in pixels of the frame. */
  crop: Box;
  /** Detection options for the crop (the tiny detector's input size scaled to it). */
  options: Partial<DetectOptions>;
  /** The detector's cost on the crop as a share of its cost on the frame (input pixels). */
  cost: number;
}

/**
 * Plans region-mode detection: the moved regions enlarged (MOTION_DETECTOR.regionMargin of their
 * longer side on every side) and joined into the one box around them all. The tiny detector then
 * runs on that crop at an input size (a multiple of 32) that keeps the whole frame's scale exactly:
 * the crop's longer side is widened to match it, and its corner is put on the detector's 32-pixel
 * grid of the frame, so a face gives the same box as in the whole frame. That costs
 * (crop input / frame input)² of a whole-frame detection. The crop is at least SMALL_IMAGE_SIDE on
 * each side (smaller images are padded by the worker, which would shrink faces).
 *
 * SSD's input is always 512x512, so a crop costs as much as the frame: with SSD, as when the crop
 * would cost more than MOTION_DETECTOR.regionMaxCost, this returns undefined (detect on the frame).
 */
export function planRegions(
  regions: Box[],
  width: number,
  height: number,
  options: Pick<DetectOptions, 'detector' | 'inputSize' | 'maxDimension'>,
): RegionPlan | undefined {
  if (options.detector !== 'tiny' || regions.length === 0) return undefined;
  if (Math.min(width, height) < SMALL_IMAGE_SIDE) return undefined;
  const longer = Math.max(width, height);
  const frameInput = options.inputSize;
  // The frame's scale in the detector: maxDimension, when smaller, is the detail it is seen at.
  const detail = options.maxDimension > 0 ? Math.min(frameInput, options.maxDimension) : frameInput;
  if (detail < frameInput) return undefined;
  const scale = frameInput / longer;
  const cell = 32 / scale;

  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of regions) {
    const m = MOTION_DETECTOR.regionMargin * Math.max(r.width, r.height);
    x0 = Math.min(x0, r.x - m);
    y0 = Math.min(y0, r.y - m);
    x1 = Math.max(x1, r.x + r.width + m);
    y1 = Math.max(y1, r.y + r.height + m);
  }
  const minSide = Math.max(SMALL_IMAGE_SIDE, 128 / scale);
  // One side of the crop: on the grid, at least `min` long, within the frame.
  const side = (a: number, b: number, limit: number, min: number): [number, number] => {
    a = Math.max(0, a);
    b = Math.min(limit, b);
    if (b - a < min) {
      const mid = (a + b) / 2;
      a = Math.max(0, Math.min(limit - min, mid - min / 2));
      b = Math.min(limit, a + min);
    }
    a = Math.floor(a / cell) * cell;
    return [Math.round(a), Math.min(limit, Math.ceil(b))];
  };
  [x0, x1] = side(x0, x1, width, minSide);
  [y0, y1] = side(y0, y1, height, minSide);
  const cropInput = Math.max(128, Math.ceil((Math.max(x1 - x0, y1 - y0) * scale) / 32) * 32);
  const cost = (cropInput / frameInput) ** 2;
  if (cost > MOTION_DETECTOR.regionMaxCost) return undefined;
  // Widen the longer side (or the other, where the frame has no room) to exactly cropInput / scale.
  const target = Math.round(cropInput / scale);
  if (x1 - x0 >= y1 - y0 || target > height) {
    if (target > width) return undefined;
    x1 = Math.min(width, x0 + target);
    x0 = x1 - target;
  } else {
    y1 = Math.min(height, y0 + target);
    y0 = y1 - target;
  }
  const crop = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  return { crop, options: { inputSize: cropInput, maxDimension: 0 }, cost };
}

/** The crop's pixels, tightly packed, from a frame. */
export function cropFrame(frame: RawImage, crop: Box): RawImage {
  const { data, width, channels } = frame;
  const out = new Uint8Array(crop.width * crop.height * channels);
  const row = crop.width * channels;
  for (let y = 0; y < crop.height; y++) {
    const from = ((crop.y + y) * width + crop.x) * channels;
    out.set(data.subarray(from, from + row), y * row);
  }
  return { data: out, width: crop.width, height: crop.height, channels };
}

/** Faces found in a crop, moved into the coordinates of the whole frame. */
export function facesToFrame(faces: DetectedFace[], crop: Box): DetectedFace[] {
  return faces.map((f) => ({
    ...f,
    box: { ...f.box, x: f.box.x + crop.x, y: f.box.y + crop.y },
    ...(f.landmarks ? { landmarks: f.landmarks.map((p) => ({ x: p.x + crop.x, y: p.y + crop.y })) } : {}),
  }));
}
