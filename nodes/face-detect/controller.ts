import type { Box, DetectOptions, DetectResult, RawImage, Timing } from '../../lib/types';
import type { SkippedFramePolicy } from '../../lib/types/defaults';
import { reservedKeyProblem } from '../../lib/types/keys';
import type { KeepImage } from '../../lib/types/node-settings';
import { FrameDroppedError, resolveDetectOptions, type FaceEngine } from '../../lib/vision/engine';
import { asJpeg } from '../../lib/vision/image';
import {
  cropFrame,
  facesToFrame,
  MotionGate,
  planRegions,
  type GateReason,
  type GateSettings,
} from '../../lib/vision/motion-gate';
import type { EngineLease } from '../../lib/vision/registry';
import type { Node, NodeMessageInFlow, Send } from '../shared/red';
import { quoteValue } from '../shared/input';
import type { Status } from '../shared/status';

/** What face-detect reads from and writes to a message. */
export interface DetectMessage extends NodeMessageInFlow {
  /** An encoded image (JPEG, PNG, WebP), unless msg.frame is set. */
  payload: unknown;
  /** A raw frame from rtsp-source. */
  frame?: RawImage & { camera?: string; ts?: number; jpeg?: Buffer };
  faces?: DetectResult['faces'];
  timing?: DetectTiming;
  /** What the motion gate saw (camera frames with motion gating on). */
  motion?: MotionInfo;
  image?: Buffer;
  width?: number;
  height?: number;
}

/** msg.timing: the engine's timing, and with motion gating on, the gate's part. */
export interface DetectTiming extends Timing {
  /** Milliseconds the motion detector took on this frame. */
  motion?: number;
  /** The gate skipped the detector on this frame (queue, inference and total then cover the gate alone). */
  skipped?: boolean;
  /** Why the detector ran (`motion`, `recent-faces`, `refresh`) or did not (`no-motion`). */
  reason?: GateReason;
}

/** msg.motion: what the motion gate saw in a camera frame. */
export interface MotionInfo {
  /** A changed area of at least the minimum size. */
  moving: boolean;
  /** Share of the frame (0..1) that changed. */
  area: number;
  /** The changed areas, in pixels of the frame, largest first. */
  regions: Box[];
  /** The detector ran on this frame. */
  detected: boolean;
  reason: GateReason;
  /** In region mode, the part of the frame the detector looked at (absent: the whole frame). */
  crop?: Box;
}

export interface DetectNodeSettings {
  options: Partial<DetectOptions>;
  keepImage: KeepImage;
  /** Motion gating of camera frames; undefined: off. */
  motion?: GateSettings;
  /** What becomes of a frame the gate skipped. */
  skipped?: SkippedFramePolicy;
}

const STATUS_INTERVAL_MS = 500;

function wellFormed(f: RawImage): boolean {
  return (
    [1, 3, 4].includes(f.channels) &&
    Number.isInteger(f.width) &&
    Number.isInteger(f.height) &&
    f.width > 0 &&
    f.height > 0 &&
    f.data?.length === f.width * f.height * f.channels
  );
}

/** Runs detection for one face-detect node: input normalisation, backpressure, output shaping, status. */
export class FaceDetectController {
  private lastStatus = 0;
  private pendingStatus: NodeJS.Timeout | undefined;
  /** Set when the node closes: a message still in flight then ends without output or status. */
  private closed = false;
  /** The cameras (backpressure sources) this node has seen: its status adds them up. */
  private readonly sources = new Set<string>();
  private readonly gate: MotionGate | undefined;

  constructor(
    private readonly node: Node,
    private readonly status: Status,
    private readonly lease: Promise<EngineLease>,
    private readonly settings: DetectNodeSettings,
  ) {
    this.gate = settings.motion ? new MotionGate(settings.motion) : undefined;
  }

  /** The camera a frame comes from: its name, or undefined for a frame without one (or a photo). */
  private cameraOf(msg: DetectMessage): string | undefined {
    const camera: unknown = msg.frame?.camera;
    if (camera === undefined || camera === null || camera === '') return undefined;
    if (typeof camera !== 'string')
      throw new Error(`msg.frame.camera must be the camera's name (text), got ${quoteValue(camera)}`);
    return camera;
  }

  /** Backpressure is per camera: frames of one camera never hold up another's. */
  private sourceOf(camera: string | undefined): string {
    return camera ? `camera:${camera}` : `node:${this.node.id}`;
  }

  /** On close: cancels a status update still to come; messages in flight end without output. */
  stop(): void {
    this.closed = true;
    clearTimeout(this.pendingStatus);
    this.pendingStatus = undefined;
  }

  async handle(msg: DetectMessage, send: Send): Promise<void> {
    // The camera's name keys the backpressure and the motion gate: a reserved one is refused at once.
    const reserved = reservedKeyProblem('msg.frame.camera', msg.frame?.camera);
    if (reserved) throw new Error(reserved);
    const { engine } = await this.lease;
    if (this.closed) return;
    const camera = this.cameraOf(msg);
    const source = this.sourceOf(camera);
    this.sources.add(source);
    const input = this.inputOf(msg);
    // Only camera frames are gated: a photo is looked at once, whatever moved.
    // A frame whose data does not match its size goes straight to the engine, which names the problem.
    const gated =
      this.gate && camera && !Buffer.isBuffer(input) && wellFormed(input)
        ? { camera, frame: input }
        : undefined;
    let decision: ReturnType<MotionGate['check']> | undefined;
    const ts = typeof msg.frame?.ts === 'number' ? msg.frame.ts : Date.now();
    if (gated && this.gate) {
      decision = this.gate.check(gated.camera, gated.frame, ts);
      if (!decision.run) {
        this.showStatus(engine);
        if (this.settings.skipped === 'drop') return;
        msg.faces = [];
        msg.motion = this.motionInfo(decision);
        const ms = decision.motion.ms;
        msg.timing = {
          queue: 0,
          inference: 0,
          total: ms,
          motion: ms,
          skipped: true,
          reason: decision.reason,
        };
        msg.width = gated.frame.width;
        msg.height = gated.frame.height;
        await this.shapeImage(msg, input, false);
        if (this.closed) return;
        msg.payload = 0;
        send(msg);
        return;
      }
    }
    const plan =
      gated && decision && this.settings.motion?.mode === 'regions'
        ? planRegions(
            decision.motion.regions,
            gated.frame.width,
            gated.frame.height,
            resolveDetectOptions(engine.defaults, this.settings.options),
          )
        : undefined;
    let result: DetectResult;
    try {
      result = plan
        ? await engine.detect(
            cropFrame(gated!.frame, plan.crop),
            { ...this.settings.options, ...plan.options },
            { source, transfer: true },
          )
        : await engine.detect(input, this.settings.options, { source });
    } catch (err) {
      // Closing the node closes the engine under its frames: that failure is nobody's to catch.
      if (this.closed) return;
      if (err instanceof FrameDroppedError) {
        this.showStatus(engine);
        return;
      }
      throw err;
    }
    if (this.closed) return;
    const faces = plan ? facesToFrame(result.faces, plan.crop) : result.faces;
    msg.faces = faces;
    msg.timing = result.timing;
    msg.width = plan ? gated!.frame.width : result.width;
    msg.height = plan ? gated!.frame.height : result.height;
    if (gated && decision) {
      this.gate?.found(gated.camera, ts, faces.length);
      msg.motion = this.motionInfo(decision, plan?.crop);
      msg.timing = { ...result.timing, motion: decision.motion.ms, skipped: false, reason: decision.reason };
    }
    await this.shapeImage(msg, input, faces.length > 0);
    if (this.closed) return;
    msg.payload = faces.length;
    this.showStatus(engine);
    send(msg);
  }

  private motionInfo(decision: ReturnType<MotionGate['check']>, crop?: Box): MotionInfo {
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

  private inputOf(msg: DetectMessage): Buffer | RawImage {
    if (msg.frame && msg.frame.data) {
      const { data, width, height, channels } = msg.frame;
      return { data, width, height, channels };
    }
    if (Buffer.isBuffer(msg.payload)) return msg.payload;
    throw new Error(
      'expected msg.payload to be an image Buffer (JPEG, PNG or WebP) or msg.frame to be a raw frame, got ' +
        (msg.payload === null ? 'null' : typeof msg.payload),
    );
  }

  /**
   * Raw pixels stop here: Node-RED copies a message for every extra wire. The frame is kept (once,
   * as JPEG in msg.image) only when it is useful downstream: with faces, or always if configured.
   */
  private async shapeImage(msg: DetectMessage, input: Buffer | RawImage, hasFaces: boolean): Promise<void> {
    const keep = this.settings.keepImage === 'always' || (this.settings.keepImage === 'faces' && hasFaces);
    if (keep) {
      msg.image = !Buffer.isBuffer(input) && msg.frame?.jpeg ? msg.frame.jpeg : await asJpeg(input);
    }
    if (msg.frame) {
      const { data, jpeg, ...meta } = msg.frame;
      msg.frame = meta as DetectMessage['frame'];
    }
  }

  /**
   * At most two status updates a second (the editor needn't redraw per frame); an update that comes
   * too early is shown at the end of the interval, so the last counts always reach the editor.
   */
  private showStatus(engine: FaceEngine): void {
    if (this.closed) return;
    const wait = this.lastStatus + STATUS_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.pendingStatus ??= setTimeout(() => {
        this.pendingStatus = undefined;
        this.showStatus(engine);
      }, wait);
      return;
    }
    this.lastStatus = Date.now();
    let fps = 0;
    let dropped = 0;
    for (const source of this.sources) {
      const s = engine.stats(source);
      fps += s.fps;
      dropped += s.dropped;
    }
    const counts = { backend: engine.backend, fps: fps.toFixed(1), dropped };
    const gate = this.gate;
    if (gate && gate.seen > 0)
      this.status.set(dropped > 0 ? 'warn' : 'ok', 'status.runningGated', {
        ...counts,
        skipped: Math.round(gate.skippedShare * 100),
      });
    else this.status.set(dropped > 0 ? 'warn' : 'ok', 'status.running', counts);
  }
}
