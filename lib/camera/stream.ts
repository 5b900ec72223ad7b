/**
 * One camera's stream: one ffmpeg, run by the process supervisor, turned into raw RGB frames and
 * connection events. Reconnects with backoff (1 s growing to 60 s, unlimited by default), restarts a
 * stream that stalls, and keeps every form of the password out of what it reports.
 */
import { EventEmitter } from 'node:events';
import { Supervisor, type SupervisorExit } from '../process/supervisor';
import type { CameraFrame } from '../types';
import { CAMERA, PROCESS, type CameraSource, type DescribeFrom } from '../types/defaults';
import {
  cameraInput,
  classifyFailure,
  ffmpegPath,
  isNetworkSource,
  streamArguments,
  StreamInfoParser,
  type CameraInput,
} from './ffmpeg';
import { FrameCutter, JpegCutter, type CutFrame } from './frames';
import { redactor, withCredentials } from './url';

/** A camera's settings, as the face-camera config node holds them. */
export interface CameraConfig {
  /** The camera's name in frames and events. */
  name: string;
  /** What kind of address `url` is (default network: a path is then refused, never read as a file). */
  source?: CameraSource;
  /** rtsp://, rtsps://, http(s):// (network); a path or file:// URL (file); /dev/videoN (device); without credentials. */
  url: string;
  username?: string;
  password?: string;
  /** RTSP transport (default tcp). */
  transport?: 'tcp' | 'udp';
  /** Frames per second sent on (default CAMERA.fps: lib/types/defaults.ts). */
  fps?: number;
  /** Frames scaled to this width (default CAMERA.width; 0 keeps the camera's). */
  width?: number;
  /**
   * `full` (default CAMERA.describeFrom): every frame also carries the camera's full picture of
   * the same moment as JPEG (`frame.full`), when the camera is wider than `width`.
   */
  describeFrom?: DescribeFrom;
  /** Seconds without a frame before the stream is restarted (default CAMERA.stallTimeout). */
  stallTimeout?: number;
  /** Socket timeout inside ffmpeg, seconds (default CAMERA.socketTimeout). */
  socketTimeout?: number;
  /** First reconnect delay in ms (default CAMERA.retryDelay); it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  /** Longest reconnect delay in ms (default CAMERA.maxRetryDelay). */
  maxRetryDelayMs?: number;
  /** Reconnect attempts in a row before giving up (default CAMERA.maxAttempts, 0: never give up). */
  maxAttempts?: number;
  /** Grace periods of a stop (ms): after closing stdin, then after SIGTERM (default PROCESS.cameraStopGraceMs each). */
  stopGraceMs?: number;
}

/** Frames a frame may wait for its full picture before it goes without (see CameraStream.start). */
const FULL_PICTURE_LAG = 3;

/** One frame as rtsp-source sends it on: packed RGB. */
/** A frame of the stream: the wire type (lib/types). */
export type { CameraFrame };

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

/** A connection event (rtsp-source's second output). */
export interface ConnectionEvent {
  state: ConnectionState;
  camera: string;
  reason?: string;
  width?: number;
  height?: number;
  codec?: string;
  fps?: number;
  /** Reconnect attempts in a row so far. */
  attempt?: number;
  /** Seconds until the next attempt. */
  retryIn?: number;
}

export interface CameraStreamEvents {
  frame: [frame: CameraFrame];
  state: [event: ConnectionEvent];
  /** A line ffmpeg printed, redacted. */
  log: [line: string];
}

/** Fills in the defaults and checks the address; throws a clear error for a bad one. */
export function resolveCameraConfig(c: CameraConfig): Required<CameraConfig> & CameraInput {
  const source = c.source ?? 'network';
  const input = cameraInput(c.url, source);
  const positive = (v: number | undefined, d: number, what: string): number => {
    const n = v ?? d;
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number`);
    return n;
  };
  return {
    name: c.name,
    url: c.url.trim(),
    username: c.username ?? '',
    password: c.password ?? '',
    transport: c.transport === 'udp' ? 'udp' : 'tcp',
    fps: positive(c.fps, CAMERA.fps.default, 'fps'),
    width: Math.max(0, Math.round(c.width ?? CAMERA.width.default)),
    describeFrom: c.describeFrom === 'frame' ? 'frame' : CAMERA.describeFrom.default,
    stallTimeout: positive(c.stallTimeout, CAMERA.stallTimeout.default, 'stall timeout'),
    socketTimeout: positive(c.socketTimeout, CAMERA.socketTimeout.default, 'socket timeout'),
    retryDelayMs: positive(c.retryDelayMs, CAMERA.retryDelay.default * 1000, 'retry delay'),
    maxRetryDelayMs: positive(c.maxRetryDelayMs, CAMERA.maxRetryDelay.default * 1000, 'maximum retry delay'),
    maxAttempts: Math.max(0, Math.round(c.maxAttempts ?? CAMERA.maxAttempts.default)),
    stopGraceMs: positive(c.stopGraceMs, PROCESS.cameraStopGraceMs, 'stop grace'),
    source,
    ...input,
  };
}

/**
 * A camera's stream. `start()` runs ffmpeg (and keeps it running), `stop()` stops it for good and
 * resolves once no ffmpeg of it remains. At most one ffmpeg runs per stream at any moment.
 */
export class CameraStream extends EventEmitter<CameraStreamEvents> {
  readonly config: ReturnType<typeof resolveCameraConfig>;
  /** Removes every form of the password from a text. */
  readonly redact: (text: string) => string;
  private supervisor?: Supervisor;
  private seq = 0;
  private last: ConnectionEvent;
  private stopping?: Promise<void>;

  constructor(config: CameraConfig) {
    super();
    this.config = resolveCameraConfig(config);
    this.redact = redactor(this.config);
    this.last = { state: 'stopped', camera: this.config.name };
  }

  /** The latest connection event. */
  get state(): ConnectionEvent {
    return this.last;
  }

  /** Whether ffmpeg runs or is about to (between reconnects). */
  get running(): boolean {
    return this.supervisor?.active ?? false;
  }

  /** The pid of the running ffmpeg, if any. */
  get pid(): number | undefined {
    return this.supervisor?.pid;
  }

  /** Starts reading (nothing when it already runs). */
  start(): void {
    if (this.supervisor?.active) return;
    const c = this.config;
    const url = isNetworkSource(c.kind) ? withCredentials(c.input, c.username, c.password) : c.input;
    const fullPicture = c.describeFrom === 'full' && c.width > 0;
    const supervisor = new Supervisor({
      command: ffmpegPath(),
      args: streamArguments({
        url,
        kind: c.kind,
        protocols: c.protocols,
        transport: c.transport,
        fps: c.fps,
        width: c.width,
        socketTimeout: c.socketTimeout,
        fullPicture,
      }),
      options: { stdio: fullPicture ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'] },
      stallTimeoutMs: c.stallTimeout * 1000,
      restart: {
        initialDelayMs: c.retryDelayMs,
        maxDelayMs: c.maxRetryDelayMs,
        maxAttempts: c.maxAttempts > 0 ? c.maxAttempts : undefined,
        healthyAfterMs: Math.max(10_000, c.stallTimeout * 1000),
      },
      stop: { graceMs: c.stopGraceMs, termGraceMs: c.stopGraceMs },
      stderrTail: 30,
    });
    this.supervisor = supervisor;
    let parser = new StreamInfoParser();
    let cutter: FrameCutter | undefined;
    let early: Buffer[] = [];
    let pictures = new JpegCutter();
    // Frames waiting for their full picture, and pictures waiting for their frame, by number.
    let waitingFrames: CutFrame[] = [];
    let waitingPictures = new Map<number, Buffer>();
    let connected = false;
    let lastExit: SupervisorExit | undefined;
    const describe = (exit: SupervisorExit): string => {
      if (exit.reason === 'spawn-failed')
        return `ffmpeg not found: install it or set FFMPEG_PATH (tried ${ffmpegPath()})`;
      if (exit.reason === 'stalled') return `no frame for ${c.stallTimeout} s: stream restarted`;
      const failure = classifyFailure(exit.stderr.map(this.redact).join('\n'));
      if (exit.reason === 'exited' && failure.kind === 'error') return 'the stream ended';
      return failure.reason;
    };

    const feed = (into: FrameCutter, chunk: Buffer): void => {
      const frames = into.push(chunk);
      if (frames.length === 0) return;
      if (!connected) {
        connected = true;
        const i = parser.info;
        this.emitState({
          state: 'connected',
          camera: c.name,
          width: i.width,
          height: i.height,
          codec: i.codec,
          fps: i.fps,
        });
      }
      for (const f of frames) {
        supervisor.progress();
        if (!withPictures()) send(into, f);
        else {
          waitingFrames.push(f);
          flush(into);
        }
      }
    };
    // Full pictures only help when the camera is wider than the frames (else they are the frames).
    const withPictures = (): boolean =>
      fullPicture &&
      parser.info.inputWidth !== undefined &&
      parser.info.inputWidth > (parser.info.width ?? 0);
    const send = (into: FrameCutter, f: CutFrame, full?: Buffer): void => {
      this.emit('frame', {
        data: f.data,
        width: into.width,
        height: into.height,
        channels: 3,
        camera: c.name,
        seq: ++this.seq,
        ts: Date.now(),
        ...(full ? { full } : {}),
      });
    };
    /**
     * Sends the frames whose picture came, in order. ffmpeg writes both outputs of one frame
     * together, but the two pipes are read apart: a frame waits for its picture, at most
     * FULL_PICTURE_LAG frames (then it goes without one, and its late picture is dropped).
     */
    const flush = (into: FrameCutter): void => {
      while (waitingFrames.length) {
        const f = waitingFrames[0];
        const full = waitingPictures.get(f.seq);
        if (!full && waitingFrames.length <= FULL_PICTURE_LAG) break;
        waitingFrames.shift();
        waitingPictures.delete(f.seq);
        send(into, f, full);
      }
      const first = waitingFrames[0]?.seq ?? into.count + 1;
      for (const seq of waitingPictures.keys()) if (seq < first) waitingPictures.delete(seq);
    };
    supervisor.on('pipe', (fd, chunk) => {
      if (fd !== 3) return;
      for (const p of pictures.push(chunk)) waitingPictures.set(p.seq, p.jpeg);
      // A picture far ahead of its frame means the two outputs fell out of step: start over.
      if (waitingPictures.size > FULL_PICTURE_LAG * 4) waitingPictures.clear();
      if (cutter) flush(cutter);
    });
    supervisor.on('spawn', () => {
      parser = new StreamInfoParser();
      cutter = undefined;
      early = [];
      pictures = new JpegCutter();
      waitingFrames = [];
      waitingPictures = new Map();
      connected = false;
      this.emitState({ state: 'connecting', camera: c.name, attempt: supervisor.attempt || undefined });
    });
    supervisor.on('stderr', (raw) => {
      // Parsed as ffmpeg printed it (only numbers and codec names are taken), passed on redacted.
      this.emit('log', this.redact(raw));
      if (parser.done) return;
      parser.line(raw);
      if (parser.done) {
        cutter = new FrameCutter(parser.info.width!, parser.info.height!);
        for (const chunk of early) feed(cutter, chunk);
        early = [];
      }
    });
    supervisor.on('stdout', (chunk) => {
      if (cutter) feed(cutter, chunk);
      else early.push(chunk);
    });
    supervisor.on('exit', (exit) => {
      lastExit = exit;
      // The last frames of a run go on without the pictures that will not come.
      if (cutter) for (const f of waitingFrames.splice(0)) send(cutter, f);
    });
    supervisor.on('restarting', ({ attempt, delayMs }) => {
      this.emitState({
        state: 'disconnected',
        camera: c.name,
        reason: lastExit ? describe(lastExit) : 'the stream ended',
        attempt,
        retryIn: Math.round(delayMs / 100) / 10,
      });
    });
    supervisor.on('gave-up', ({ attempts, last }) => {
      this.emitState({ state: 'disconnected', camera: c.name, reason: describe(last), attempt: attempts });
      this.emitState({ state: 'stopped', camera: c.name, reason: `gave up after ${attempts} attempts` });
    });
    supervisor.start();
  }

  /** Stops for good: no reconnect, ffmpeg stopped by escalation; resolves once it has exited. */
  async stop(): Promise<void> {
    const supervisor = this.supervisor;
    if (!supervisor) return;
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      await supervisor.stop();
      supervisor.removeAllListeners();
      if (this.supervisor === supervisor) this.supervisor = undefined;
      this.emitState({ state: 'stopped', camera: this.config.name });
    })().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /** Stops, then starts afresh (the backoff starts over). */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  private emitState(event: ConnectionEvent): void {
    const clean = Object.fromEntries(
      Object.entries(event).filter(([, v]) => v !== undefined),
    ) as ConnectionEvent;
    if (clean.reason) clean.reason = this.redact(clean.reason);
    this.last = clean;
    this.emit('state', clean);
  }
}
