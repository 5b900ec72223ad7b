import type { CameraFrame, DetectResult, DetectTiming, MotionInfo, RawImage } from '../../lib/types';
import type { SkippedFramePolicy } from '../../lib/types/defaults';
import { reservedKeyProblem } from '../../lib/types/keys';
import type { KeepImage } from '../../lib/types/node-settings';
import { CameraDetector, type CameraDetectorSettings } from '../../lib/vision/camera-detector';
import { FrameDroppedError, type FaceEngine } from '../../lib/vision/engine';
import { asJpeg } from '../../lib/vision/image';
import type { EngineLease } from '../../lib/vision/registry';
import type { Node, NodeMessageInFlow, Send } from '../shared/red';
import { quoteValue } from '../../lib/shared/quote';
import type { Status } from '../shared/status';

export type { DetectTiming, MotionInfo } from '../../lib/types';

/** What face-detect reads from and writes to a message. */
export interface DetectMessage extends NodeMessageInFlow {
  /** An encoded image (JPEG, PNG, WebP), unless msg.frame is set. */
  payload: unknown;
  /** A camera's raw frame from rtsp-source (CameraFrame), or a raw image of no camera. */
  frame?: RawImage & Partial<Pick<CameraFrame, 'camera' | 'seq' | 'ts' | 'full'>>;
  faces?: DetectResult['faces'];
  timing?: DetectTiming;
  /** What the motion gate saw (camera frames with motion gating on). */
  motion?: MotionInfo;
  image?: Buffer;
  width?: number;
  height?: number;
}

export interface DetectNodeSettings extends CameraDetectorSettings {
  keepImage: KeepImage;
  /** What becomes of a frame the gate skipped. */
  skipped?: SkippedFramePolicy;
}

const STATUS_INTERVAL_MS = 500;

/** Runs detection for one face-detect node: input normalisation, backpressure, output shaping, status. */
export class FaceDetectController {
  private lastStatus = 0;
  private pendingStatus: NodeJS.Timeout | undefined;
  /** Set when the node closes: a message still in flight then ends without output or status. */
  private closed = false;
  /** The cameras (backpressure sources) this node has seen: its status adds them up. */
  private readonly sources = new Set<string>();
  /** The gated detector, made once the engine is there. */
  private detector: CameraDetector | undefined;

  constructor(
    private readonly node: Node,
    private readonly status: Status,
    private readonly lease: Promise<EngineLease>,
    private readonly settings: DetectNodeSettings,
  ) {}

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
    const { resource: engine } = await this.lease;
    if (this.closed) return;
    const camera = this.cameraOf(msg);
    const source = this.sourceOf(camera);
    this.sources.add(source);
    const input = this.inputOf(msg);
    const detector = (this.detector ??= new CameraDetector(engine, this.settings));
    const ts = typeof msg.frame?.ts === 'number' ? msg.frame.ts : Date.now();
    let found;
    try {
      const full = msg.frame?.data && Buffer.isBuffer(msg.frame.full) ? msg.frame.full : undefined;
      found = await detector.detect({ image: input, camera, ts, source, full });
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
    if (!found.detected) {
      this.showStatus(engine);
      if (this.settings.skipped === 'drop') return;
    }
    msg.faces = found.faces;
    msg.timing = found.timing;
    msg.width = found.width;
    msg.height = found.height;
    if (found.motion) msg.motion = found.motion;
    await this.shapeImage(msg, input, found.faces.length > 0);
    if (this.closed) return;
    msg.payload = found.faces.length;
    if (found.detected) this.showStatus(engine);
    send(msg);
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
      msg.image = await asJpeg(input);
    }
    if (msg.frame) {
      // The full picture goes too: it was only for describing the faces.
      const { data, full, ...meta } = msg.frame;
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
    const gate = this.detector;
    if (gate && gate.seen > 0)
      this.status.set(dropped > 0 ? 'warn' : 'ok', 'status.runningGated', {
        ...counts,
        skipped: Math.round(gate.skippedShare * 100),
      });
    else this.status.set(dropped > 0 ? 'warn' : 'ok', 'status.running', counts);
  }
}
