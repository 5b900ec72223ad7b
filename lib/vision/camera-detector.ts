/**
 * Face detection on camera frames, gated by motion: one object per face-detect node (or benchmark,
 * or command) that owns a motion gate per camera, decides for each frame whether the detector runs
 * (lib/vision/motion-gate.ts), in region mode detects on the crop around what moved and maps the
 * faces back into the frame, and returns the faces with what the gate saw and what it all took.
 *
 * A photo (an encoded image, or a frame without a camera) is looked at once, whatever moved: only
 * camera frames are gated. A frame whose data does not match its size goes straight to the engine,
 * which names the problem.
 */
import type { Box, DetectedFace, DetectOptions, DetectTiming, MotionInfo, RawImage } from '../types';
import sharp from 'sharp';
import { resolveDetectOptions, type FaceEngine } from './engine';
import {
  cropFrame,
  facesToFrame,
  MotionGate,
  planRegions,
  type GateDecision,
  type GateSettings,
} from './motion-gate';

/** A camera detector's settings. */
export interface CameraDetectorSettings {
  /** Detection options over the engine's defaults. */
  options: Partial<DetectOptions>;
  /** Motion gating of camera frames; undefined: off (every frame is detected). */
  motion?: GateSettings;
}

/** One frame to look at. */
export interface CameraFrameInput {
  /** An encoded image or a raw frame. */
  image: Buffer | RawImage;
  /** The camera's name: keys the gate (undefined: a photo, never gated). */
  camera?: string;
  /** When the frame was taken, ms since the epoch (the gate's clock). */
  ts: number;
  /** The engine's backpressure key (one frame in flight and the newest waiting per source). */
  source?: string;
  /**
   * The camera's full picture of the same moment (JPEG, from face-camera): faces found in `image`
   * are described from it (see FaceEngine.detect's `full`).
   */
  full?: Buffer;
}

/** What a camera detector found on one frame. */
export interface CameraDetection {
  /** The detector ran (false: the gate skipped the frame and `faces` is empty). */
  detected: boolean;
  faces: DetectedFace[];
  /** The frame's size (not the crop's). */
  width: number;
  height: number;
  timing: DetectTiming;
  /** What the gate saw; absent for an ungated frame. */
  motion?: MotionInfo;
}

/** True when a raw frame's data matches its size. */
export function wellFormed(f: RawImage): boolean {
  return (
    [1, 3, 4].includes(f.channels) &&
    Number.isInteger(f.width) &&
    Number.isInteger(f.height) &&
    f.width > 0 &&
    f.height > 0 &&
    f.data?.length === f.width * f.height * f.channels
  );
}

function motionInfo(decision: GateDecision, crop?: MotionInfo['crop']): MotionInfo {
  const { motion, run, reason } = decision;
  const info: MotionInfo = {
    moving: motion.moving,
    area: motion.area,
    regions: motion.regions,
    detected: run,
    reason,
  };
  if (crop) info.crop = crop;
  return info;
}

/** Gated face detection for the cameras one user (a node, a benchmark) serves. */
/**
 * The part of a full picture (JPEG) that shows `crop` of `frame`, as raw RGB: the region the motion
 * gate cut from the frame, at the picture's resolution. Undefined when the picture cannot be read
 * (the faces are then described from the frame).
 */
async function cropPicture(full: Buffer, frame: RawImage, crop: Box): Promise<RawImage | undefined> {
  try {
    const image = sharp(full);
    const { width = 0, height = 0 } = await image.metadata();
    const k = width / frame.width;
    const left = Math.min(width - 1, Math.round(crop.x * k));
    const top = Math.min(height - 1, Math.round(crop.y * k));
    const w = Math.max(1, Math.min(width - left, Math.round(crop.width * k)));
    const h = Math.max(1, Math.min(height - top, Math.round(crop.height * k)));
    const { data, info } = await image
      .extract({ left, top, width: w, height: h })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: 3 };
  } catch {
    return undefined;
  }
}

export class CameraDetector {
  private readonly gate: MotionGate | undefined;

  constructor(
    private readonly engine: FaceEngine,
    readonly settings: CameraDetectorSettings,
  ) {
    this.gate = settings.motion ? new MotionGate(settings.motion) : undefined;
  }

  /** Camera frames the gate has seen (0 without gating). */
  get seen(): number {
    return this.gate?.seen ?? 0;
  }

  /** Share of the gated frames the gate skipped (0..1). */
  get skippedShare(): number {
    return this.gate?.skippedShare ?? 0;
  }

  /**
   * Looks at one frame. Rejects as FaceEngine.detect does (ImageError, FrameDroppedError when a newer
   * frame of the same source replaced it, EngineError). Does not detach the caller's frame data.
   */
  async detect(input: CameraFrameInput): Promise<CameraDetection> {
    const { image, camera, ts, source, full } = input;
    const frame = this.gate && camera && !Buffer.isBuffer(image) && wellFormed(image) ? image : undefined;
    if (!frame || !this.gate || !camera) {
      const result = await this.engine.detect(image, this.settings.options, { source, full });
      return {
        detected: true,
        faces: result.faces,
        width: result.width,
        height: result.height,
        timing: result.timing,
      };
    }
    const decision = this.gate.check(camera, frame, ts);
    if (!decision.run) {
      const ms = decision.motion.ms;
      return {
        detected: false,
        faces: [],
        width: frame.width,
        height: frame.height,
        timing: { queue: 0, inference: 0, total: ms, motion: ms, skipped: true, reason: decision.reason },
        motion: motionInfo(decision),
      };
    }
    const plan =
      this.settings.motion?.mode === 'regions'
        ? planRegions(
            decision.motion.regions,
            frame.width,
            frame.height,
            resolveDetectOptions(this.engine.defaults, this.settings.options),
          )
        : undefined;
    const result = plan
      ? await this.engine.detect(
          cropFrame(frame, plan.crop),
          { ...this.settings.options, ...plan.options },
          { source, transfer: true, full: full && (await cropPicture(full, frame, plan.crop)) },
        )
      : await this.engine.detect(frame, this.settings.options, { source, full });
    const faces = plan ? facesToFrame(result.faces, plan.crop) : result.faces;
    this.gate.found(camera, ts, faces.length);
    return {
      detected: true,
      faces,
      width: plan ? frame.width : result.width,
      height: plan ? frame.height : result.height,
      timing: { ...result.timing, motion: decision.motion.ms, skipped: false, reason: decision.reason },
      motion: motionInfo(decision, plan?.crop),
    };
  }
}
