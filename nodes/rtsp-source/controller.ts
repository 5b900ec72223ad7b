import type { Lease } from '../../lib/shared/owner';
import { checkFfmpeg } from '../../lib/camera/ffmpeg';
import type { CameraFrame, CameraStream, ConnectionEvent } from '../../lib/camera/stream';
import type { CameraProvider } from '../shared/camera';
import { quoteValue } from '../../lib/shared/quote';
import type { NodeMessage, Send } from '../shared/red';
import type { Status } from '../shared/status';

/** A frame message (output 1). */
export interface FrameMessage extends NodeMessage {
  topic: string;
  frame: CameraFrame;
  /** A summary a debug node shows well (the pixels are in msg.frame.data). */
  payload: { camera: string; seq: number; ts: number; width: number; height: number };
}

/** What rtsp-source's input understands in msg.payload. */
export type SourceCommand = 'start' | 'stop' | 'restart';

/** How many recent frames the status's frame rate is computed over. */
const RATE_WINDOW = 10;
const STATUS_INTERVAL_MS = 1000;

/**
 * Runs one rtsp-source node: holds a lease on its camera's stream while started, forwards frames to
 * output 1 and connection events to output 2, and keeps the status up to date. Frames are sent as
 * they come; backpressure is face-detect's job.
 */
export class RtspSourceController {
  private lease?: Promise<Lease<CameraStream> | undefined>;
  private stream?: CameraStream;
  private closed = false;
  private readonly recent: number[] = [];
  private statusTimer?: NodeJS.Timeout;
  private lastEvent?: ConnectionEvent;
  /** Counts starts, so a start overtaken by a stop drops what it acquired. */
  private generation = 0;
  /**
   * Start, stop, restart and close run one after another, whoever asks (messages, the Face Library,
   * autostart, a redeploy): a restart still under way when a stop gave the camera back would start
   * an ffmpeg nobody holds.
   */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly nodeId: string,
    private readonly camera: () => CameraProvider,
    private readonly status: Status,
    private readonly send: Send,
    private readonly report: (err: Error) => void,
    /** Sees every frame first (the Face Library's live view, which ignores unwatched cameras). */
    private readonly onLiveFrame?: (frame: CameraFrame) => void,
  ) {}

  private readonly onFrame = (frame: CameraFrame): void => {
    if (this.closed) return;
    this.onLiveFrame?.(frame);
    this.recent.push(frame.ts);
    if (this.recent.length > RATE_WINDOW) this.recent.shift();
    const msg: FrameMessage = {
      topic: frame.camera,
      frame,
      payload: {
        camera: frame.camera,
        seq: frame.seq,
        ts: frame.ts,
        width: frame.width,
        height: frame.height,
      },
    };
    this.send([msg, null]);
    this.statusTimer ??= setTimeout(() => {
      this.statusTimer = undefined;
      this.showStreaming();
    }, STATUS_INTERVAL_MS);
  };

  private readonly onState = (event: ConnectionEvent): void => {
    if (this.closed) return;
    this.lastEvent = event;
    this.send([null, { topic: event.camera, payload: { ...event } }]);
    this.showState(event);
  };

  private serial(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Starts reading (if not already). Errors (no ffmpeg, a bad camera) go to the status and the log. */
  start(): Promise<void> {
    return this.serial(() => this.begin());
  }

  private async begin(): Promise<void> {
    if (this.lease || this.closed) return;
    const generation = ++this.generation;
    const lease = this.acquire(generation);
    this.lease = lease;
    await lease;
  }

  private async acquire(generation: number): Promise<Lease<CameraStream> | undefined> {
    try {
      const camera = this.camera();
      if (camera.unset) {
        // Not configured yet rather than failed: a notice, not an error in the log.
        if (generation === this.generation) this.lease = undefined;
        this.status.raw('warn', camera.unset);
        return undefined;
      }
      if (camera.problem) throw new Error(camera.problem);
      this.status.set('busy', 'status.connecting');
      await checkFfmpeg();
      const held = await camera.acquire(this.nodeId);
      // Stopped (or stopped and started again) while connecting: this lease is nobody's.
      if (this.closed || generation !== this.generation || this.lease === undefined) {
        await held.release();
        return undefined;
      }
      this.stream = held.resource;
      held.resource.on('frame', this.onFrame);
      held.resource.on('state', this.onState);
      // A stream already running (another rtsp-source started it): say where it is now.
      const now = held.resource.state;
      if (now.state !== 'stopped') this.onState(now);
      return held;
    } catch (err) {
      if (generation === this.generation) this.lease = undefined;
      const error = err instanceof Error ? err : new Error(String(err));
      if (!this.closed) {
        this.status.error(error);
        this.report(error);
      }
      return undefined;
    }
  }

  /** Stops this node's use of the camera (the camera's ffmpeg stops if no other node uses it). */
  stop(): Promise<void> {
    return this.serial(async () => {
      const held = await this.giveBack();
      if (!this.closed && held) this.onState({ state: 'stopped', camera: held.resource.config.name });
    });
  }

  /** Restarts the camera's connection (for every node using it): the backoff starts over. */
  restart(): Promise<void> {
    return this.serial(async () => {
      if (!this.lease) return this.begin();
      await this.lease;
      await this.stream?.restart();
    });
  }

  /** Handles a command from msg.payload. */
  async command(payload: unknown): Promise<void> {
    const cmd = typeof payload === 'string' ? payload.trim().toLowerCase() : '';
    if (cmd === 'start') return this.start();
    if (cmd === 'stop') return this.stop();
    if (cmd === 'restart') return this.restart();
    throw new Error(`msg.payload must be "start", "stop" or "restart", got ${quoteValue(payload)}`);
  }

  /** The node is closing: nothing is sent from now on, and the lease is given back (after a command under way). */
  close(): Promise<void> {
    this.closed = true;
    return this.serial(async () => {
      await this.giveBack();
    });
  }

  /** Ends this node's hold on the camera (a start still connecting is dropped too); returns what it held. */
  private async giveBack(): Promise<Lease<CameraStream> | undefined> {
    this.generation++;
    const lease = this.lease;
    this.lease = undefined;
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    const held = await lease;
    this.detach();
    await held?.release();
    return held;
  }

  private detach(): void {
    this.stream?.off('frame', this.onFrame);
    this.stream?.off('state', this.onState);
    this.stream = undefined;
    this.recent.length = 0;
  }

  /** Where the node stands, for the Face Library's camera list. */
  info(): {
    state: ConnectionEvent['state'];
    fps: number;
    width?: number;
    height?: number;
    reason?: string;
  } {
    const e = this.lastEvent;
    // Started again after a stop: the last event still says stopped until the camera answers.
    const state = !this.lease ? 'stopped' : !e || e.state === 'stopped' ? 'connecting' : e.state;
    return {
      state,
      fps: state === 'connected' ? Math.round(this.fps() * 10) / 10 : 0,
      width: e?.width,
      height: e?.height,
      ...(e?.reason ? { reason: e.reason } : {}),
    };
  }

  private fps(): number {
    if (this.recent.length < 2) return 0;
    const span = (this.recent[this.recent.length - 1] - this.recent[0]) / 1000;
    return span > 0 ? (this.recent.length - 1) / span : 0;
  }

  private showStreaming(): void {
    if (this.closed || this.lastEvent?.state !== 'connected') return;
    this.status.set('ok', 'status.streaming', { fps: this.fps().toFixed(1) });
  }

  private showState(e: ConnectionEvent): void {
    if (e.state === 'connecting') this.status.set('busy', 'status.connecting');
    else if (e.state === 'connected')
      this.status.set('ok', 'status.streaming', { fps: this.fps().toFixed(1) });
    else if (e.state === 'stopped') {
      if (e.reason) this.status.raw('error', e.reason);
      else this.status.set('off', 'status.stopped');
    } else if (e.retryIn !== undefined)
      this.status.set('warn', 'status.reconnecting', {
        seconds: e.retryIn,
        attempt: e.attempt ?? 1,
        reason: e.reason ?? '',
      });
    else this.status.raw('error', e.reason ?? 'disconnected');
  }
}
