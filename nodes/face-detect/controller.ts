import type { DetectOptions, DetectResult, RawImage } from '../../lib/types';
import type { KeepImage } from '../../lib/types/node-settings';
import { FrameDroppedError, type FaceEngine } from '../../lib/vision/engine';
import { asJpeg } from '../../lib/vision/image';
import type { EngineLease } from '../../lib/vision/registry';
import type { Node, NodeMessageInFlow, Send } from '../shared/red';
import type { Status } from '../shared/status';

/** What face-detect reads from and writes to a message. */
export interface DetectMessage extends NodeMessageInFlow {
  /** An encoded image (JPEG, PNG, WebP), unless msg.frame is set. */
  payload: unknown;
  /** A raw frame from rtsp-source. */
  frame?: RawImage & { camera?: string; ts?: number; jpeg?: Buffer };
  faces?: DetectResult['faces'];
  timing?: DetectResult['timing'];
  image?: Buffer;
  width?: number;
  height?: number;
}

export interface DetectNodeSettings {
  options: Partial<DetectOptions>;
  keepImage: KeepImage;
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

  constructor(
    private readonly node: Node,
    private readonly status: Status,
    private readonly lease: Promise<EngineLease>,
    private readonly settings: DetectNodeSettings,
  ) {}

  /** Backpressure is per camera: frames of one camera never hold up another's. */
  private sourceOf(msg: DetectMessage): string {
    return msg.frame?.camera ? `camera:${msg.frame.camera}` : `node:${this.node.id}`;
  }

  /** On close: cancels a status update still to come; messages in flight end without output. */
  stop(): void {
    this.closed = true;
    clearTimeout(this.pendingStatus);
    this.pendingStatus = undefined;
  }

  async handle(msg: DetectMessage, send: Send): Promise<void> {
    const { engine } = await this.lease;
    if (this.closed) return;
    const source = this.sourceOf(msg);
    this.sources.add(source);
    const input = this.inputOf(msg);
    let result: DetectResult;
    try {
      result = await engine.detect(input, this.settings.options, { source });
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
    msg.faces = result.faces;
    msg.timing = result.timing;
    msg.width = result.width;
    msg.height = result.height;
    await this.shapeImage(msg, input, result.faces.length > 0);
    if (this.closed) return;
    msg.payload = result.faces.length;
    this.showStatus(engine);
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
    this.status.set(dropped > 0 ? 'warn' : 'ok', 'status.running', {
      backend: engine.backend,
      fps: fps.toFixed(1),
      dropped,
    });
  }
}
