/**
 * The live view's hub: the latest frames of each camera with their faces, for the Face Library's
 * long-poll, frame and MJPEG routes. It does nothing for a camera nobody watches: face-match and
 * rtsp-source offer every frame, and the hub looks at one map entry (was this camera polled in the
 * last few seconds?) before it copies, keeps or encodes anything. Frames are capped per camera, and
 * each kept frame is encoded to JPEG at most once, on the first request for it (a JPEG that
 * face-detect kept in msg.image is used as it is).
 */
import type { Box, CameraFrame, RawImage } from '../types';
import { LIBRARY } from '../types/defaults';
import type { LiveFace, LiveFrame } from '../types/library';
import { isReservedKey } from '../types/keys';

export type { LiveFace, LiveFrame } from '../types/library';

/** What the hub reads of a face-match output message (structurally; lib knows no Node-RED). */
export interface MatchOutput {
  frame?: {
    camera?: unknown;
    seq?: unknown;
    ts?: unknown;
    width?: unknown;
    height?: unknown;
  } & Partial<RawImage>;
  faces?: Array<{
    box?: Box;
    match?: { known?: boolean; person?: { name?: string } | null; confidence?: number } | null;
  }>;
  image?: unknown;
  width?: unknown;
  height?: unknown;
}

/** Counters, for the benchmark and the tests. */
export interface LiveCounters {
  /** Frames kept for viewers. */
  published: number;
  /** JPEG encodes the hub ran (plain frames and the MJPEG feed's drawn ones). */
  encodes: number;
  /** Plain frames answered as JPEG at least once. */
  shown: number;
  /** MJPEG parts written. */
  feedParts: number;
}

export interface LiveHubOptions {
  /** Frames per second and camera, at most (default LIBRARY.liveFps). */
  maxFps?: number;
  /** Milliseconds a camera counts as watched after a poll (default LIBRARY.viewerTimeout). */
  viewerTimeoutMs?: number;
  /**
   * Milliseconds without a face-match frame after which rtsp-source's frames are shown alone (no
   * faces): a camera whose frames are dropped or gated before face-match still shows its picture.
   */
  fallbackMs?: number;
  /** Encodes a raw frame to JPEG (lib/vision/image asJpeg in the nodes). */
  encode: (raw: RawImage) => Promise<Buffer>;
  /** Draws the faces on a JPEG for the MJPEG feed (lib/events/snapshot drawSnapshot in the nodes). */
  draw?: (jpeg: Buffer, faces: LiveFace[]) => Promise<Buffer>;
  now?: () => number;
}

interface Entry extends LiveFrame {
  jpeg?: Buffer;
  raw?: RawImage;
  encoding?: Promise<Buffer | null>;
  drawing?: Promise<Buffer | null>;
  served?: boolean;
}

interface Waiter {
  after: number;
  resolve: (f: LiveFrame | null) => void;
  timer: NodeJS.Timeout;
}

interface Camera {
  entries: Entry[];
  /** Recent raw frames from rtsp-source, by their stream seq (references, never copies). */
  raws: CameraFrame[];
  lastPublish: number;
  /** When face-match last gave a frame to show. */
  lastMatched: number;
  waiters: Set<Waiter>;
}

/** Frames kept per camera: the latest and two before it, for a frame request racing a newer frame. */
const KEPT = 3;
/** Raw frames remembered per watched camera, to pair face-match's output with its pixels. */
const RAWS = 6;

/** The live frames of every camera of one Node-RED runtime. */
export class LiveHub {
  readonly counters: LiveCounters = { published: 0, encodes: 0, shown: 0, feedParts: 0 };
  private readonly viewers = new Map<string, number>();
  private readonly seenAt = new Map<string, number>();
  private readonly cameras = new Map<string, Camera>();
  private readonly intervalMs: number;
  private readonly viewerTimeoutMs: number;
  private readonly fallbackMs: number;
  private readonly now: () => number;
  private seq = 0;

  constructor(private readonly opts: LiveHubOptions) {
    this.intervalMs = 1000 / (opts.maxFps ?? LIBRARY.liveFps.default);
    this.viewerTimeoutMs = opts.viewerTimeoutMs ?? LIBRARY.viewerTimeout.default * 1000;
    this.fallbackMs = opts.fallbackMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  /** Whether a viewer polled `camera` lately. The check every offered frame pays, and all it pays otherwise. */
  watching(camera: string): boolean {
    if (this.viewers.size === 0) return false;
    const at = this.viewers.get(camera);
    if (at === undefined) return false;
    if (this.now() - at <= this.viewerTimeoutMs) return true;
    // A long-poll still waiting is a viewer too.
    if (this.cameras.get(camera)?.waiters.size) return true;
    this.viewers.delete(camera);
    this.drop(camera);
    return false;
  }

  /**
   * A viewer asks for `camera`: it counts as watched for the next few seconds. A reserved name
   * (`__proto__`, `constructor`, `prototype`) is no camera: it is never watched, so nothing is kept
   * under it.
   */
  watch(camera: string): void {
    if (isReservedKey(camera)) return;
    this.viewers.set(camera, this.now());
  }

  /** When face-match last sent a frame of `camera` (epoch ms), or undefined. */
  seen(camera: string): number | undefined {
    return this.seenAt.get(camera);
  }

  /** Face-match's hook: called with each output message; keeps it only for a watched camera. */
  fromMatch(msg: MatchOutput): void {
    const camera = msg.frame?.camera;
    if (typeof camera !== 'string' || !camera) return;
    // A camera already seen passed this check once: every later frame pays only the lookup.
    if (!this.seenAt.has(camera) && isReservedKey(camera)) return;
    const now = this.now();
    this.seenAt.set(camera, now);
    if (!this.watching(camera)) return;
    const cam = this.camera(camera);
    // Capped on face-match's own frames: rtsp-source's stand-ins (below) give way at once.
    if (now - cam.lastMatched < this.intervalMs) return;
    const f = msg.frame ?? {};
    const frameSeq = typeof f.seq === 'number' ? f.seq : undefined;
    let raw: RawImage | undefined;
    if (f.data instanceof Uint8Array && f.width && f.height && f.channels)
      raw = { data: f.data, width: f.width, height: f.height, channels: f.channels };
    else if (frameSeq !== undefined) raw = cam.raws.find((r) => r.seq === frameSeq);
    const jpeg = Buffer.isBuffer(msg.image) ? msg.image : undefined;
    // A frame without faces has no box to misplace: the newest picture of the camera does for it.
    if (!jpeg && !raw && !msg.faces?.length) raw = cam.raws.at(-1);
    // Nothing to show (the pixels left before face-match, and rtsp-source's were not kept).
    if (!jpeg && !raw) return;
    const width = num(msg.width) ?? num(f.width) ?? raw?.width ?? 0;
    const height = num(msg.height) ?? num(f.height) ?? raw?.height ?? 0;
    const faces: LiveFace[] = (Array.isArray(msg.faces) ? msg.faces : []).flatMap((face) => {
      if (!face?.box) return [];
      const m = face.match;
      const known = !!m?.known && !!m.person;
      return [
        {
          box: { x: face.box.x, y: face.box.y, width: face.box.width, height: face.box.height },
          name: known ? (m?.person?.name ?? null) : null,
          known,
          confidence: typeof m?.confidence === 'number' ? m.confidence : 0,
        },
      ];
    });
    cam.lastMatched = now;
    this.publish(cam, {
      seq: 0,
      ts: num(f.ts) ?? now,
      width,
      height,
      faces,
      jpeg,
      raw: jpeg ? undefined : raw,
    });
  }

  /** rtsp-source's hook: called with each frame it reads; remembered only for a watched camera. */
  fromSource(frame: CameraFrame): void {
    if (!this.watching(frame.camera)) return;
    const cam = this.camera(frame.camera);
    cam.raws.push(frame);
    if (cam.raws.length > RAWS) cam.raws.shift();
    const now = this.now();
    // face-match shows this camera's frames itself (with faces) unless it has been quiet a while.
    if (now - cam.lastMatched < this.fallbackMs) return;
    if (now - cam.lastPublish < this.intervalMs) return;
    const { data, width, height, channels } = frame;
    this.publish(cam, {
      seq: 0,
      ts: frame.ts,
      width,
      height,
      faces: [],
      raw: { data, width, height, channels },
    });
  }

  /** The latest live frame of `camera`, or undefined. */
  latest(camera: string): LiveFrame | undefined {
    const e = this.cameras.get(camera)?.entries.at(-1);
    return e && publicFrame(e);
  }

  /**
   * The first live frame of `camera` after `after` (its seq): at once when there is one, else the
   * next one published within `timeoutMs`, else null. `signal` ends the wait early (null).
   */
  next(camera: string, after: number, timeoutMs: number, signal?: AbortSignal): Promise<LiveFrame | null> {
    // A reserved name has no frames and never will: answered at once, nothing kept for it.
    if (isReservedKey(camera)) return Promise.resolve(null);
    this.watch(camera);
    const cam = this.camera(camera);
    const last = cam.entries.at(-1);
    if (last && last.seq > after) return Promise.resolve(publicFrame(last));
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after,
        resolve: (f) => {
          clearTimeout(waiter.timer);
          cam.waiters.delete(waiter);
          signal?.removeEventListener('abort', abort);
          resolve(f);
        },
        timer: setTimeout(() => waiter.resolve(null), timeoutMs),
      };
      const abort = (): void => waiter.resolve(null);
      if (signal?.aborted) return resolve(null);
      signal?.addEventListener('abort', abort);
      cam.waiters.add(waiter);
    });
  }

  /**
   * The JPEG of a live frame (`seq`, or the latest when undefined or no longer kept): the one
   * face-detect made, or the raw frame encoded once and kept. Null when there is no frame or no
   * picture (the frame's pixels were not kept).
   */
  async jpeg(camera: string, seq?: number): Promise<{ frame: LiveFrame; jpeg: Buffer } | null> {
    this.watch(camera);
    const e = this.entry(camera, seq);
    if (!e) return null;
    const jpeg = await this.plain(e);
    if (!jpeg) return null;
    if (!e.served) {
      e.served = true;
      this.counters.shown++;
    }
    return { frame: publicFrame(e), jpeg };
  }

  /** A live frame with its faces drawn (the MJPEG feed), encoded once per frame however many watch. */
  async drawn(camera: string, seq?: number): Promise<{ frame: LiveFrame; jpeg: Buffer } | null> {
    this.watch(camera);
    const e = this.entry(camera, seq);
    if (!e) return null;
    const draw = this.opts.draw;
    if (!draw || !e.faces.length) return this.jpeg(camera, e.seq);
    e.drawing ??= this.plain(e).then(async (jpeg) => {
      if (!jpeg) return null;
      this.counters.encodes++;
      return draw(jpeg, e.faces);
    });
    const jpeg = await e.drawing.catch(() => null);
    if (!jpeg) return null;
    this.counters.feedParts++;
    return { frame: publicFrame(e), jpeg };
  }

  /** Forgets every camera and ends every wait (the runtime stops). */
  close(): void {
    for (const camera of [...this.cameras.keys()]) this.drop(camera);
    this.viewers.clear();
    this.seenAt.clear();
  }

  private entry(camera: string, seq?: number): Entry | undefined {
    const entries = this.cameras.get(camera)?.entries;
    if (!entries?.length) return undefined;
    return (seq !== undefined ? entries.find((x) => x.seq === seq) : undefined) ?? entries.at(-1);
  }

  private plain(e: Entry): Promise<Buffer | null> {
    if (e.jpeg) return Promise.resolve(e.jpeg);
    const raw = e.raw;
    // A frame moved to a worker is detached (empty): it has no picture any more.
    if (!raw || raw.data.length !== raw.width * raw.height * raw.channels) return Promise.resolve(null);
    e.encoding ??= (async () => {
      this.counters.encodes++;
      const jpeg = await this.opts.encode(raw);
      e.jpeg = jpeg;
      e.raw = undefined;
      return jpeg;
    })().catch(() => null);
    return e.encoding;
  }

  private camera(camera: string): Camera {
    let cam = this.cameras.get(camera);
    if (!cam) {
      cam = { entries: [], raws: [], lastPublish: -Infinity, lastMatched: -Infinity, waiters: new Set() };
      this.cameras.set(camera, cam);
    }
    return cam;
  }

  private publish(cam: Camera, e: Entry): void {
    e.seq = ++this.seq;
    cam.lastPublish = this.now();
    cam.entries.push(e);
    if (cam.entries.length > KEPT) cam.entries.shift();
    this.counters.published++;
    const frame = publicFrame(e);
    for (const w of [...cam.waiters]) if (e.seq > w.after) w.resolve(frame);
  }

  private drop(camera: string): void {
    const cam = this.cameras.get(camera);
    if (!cam) return;
    for (const w of [...cam.waiters]) w.resolve(null);
    this.cameras.delete(camera);
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function publicFrame(e: Entry): LiveFrame {
  return { seq: e.seq, ts: e.ts, width: e.width, height: e.height, faces: e.faces };
}
