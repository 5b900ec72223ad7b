/**
 * FaceEngine: the face pipeline behind one inference pool. The main thread only decodes images
 * (with sharp, in libuv's thread pool), moves pixels to workers and encodes crops (sharp again);
 * every network runs in the workers, so Node-RED's event loop stays free.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_DETECT_OPTIONS } from '../types';
import { DETECT, describeChoice, describeLimit, inLimit, isChoice } from '../types/defaults';
import type {
  BackendChoice,
  BackendName,
  DetectOptions,
  DetectResult,
  DetectedFace,
  RawImage,
} from '../types';
import { backendCandidates, defaultIsolation, resolveBackendChoice, type Isolation } from './backend';
import { EngineError, FrameDroppedError, ImageError } from './errors';
import { DEFAULT_MAX_PIXELS, decodeImage, encodeJpeg, rawFrame, type Frame } from './image';
import { MODEL_MANIFESTS, defaultModelPath } from './models';
import { InferencePool, type WorkerStats } from './pool';
import type { ModelSet } from './protocol';

export { FrameDroppedError, ImageError, EngineError } from './errors';

/** Settings of one engine (a `face-engine` config node, or the shared default). */
export interface EngineConfig {
  /** `auto` (default): setting, else FACEWATCH_BACKEND, else tfjs-node, wasm, cpu, the first that starts. */
  backend?: BackendChoice;
  /** Workers in the pool; default one per CPU core. */
  poolSize?: number;
  /** Folder of face-api weight files; default the weights inside @vladmandic/face-api. */
  modelPath?: string;
  /** Detection options used when a call does not set them. */
  defaults?: Partial<DetectOptions>;
  /** Pixel limit for decoded and raw images (decompression bombs); default 40 megapixels. */
  maxPixels?: number;
  /** Workers as threads or child processes; `auto`: processes for tfjs-node, threads otherwise. */
  isolation?: 'auto' | Isolation;
  /** A frame that takes longer than this in a worker kills the worker (WORKER_TIMEOUT); default 60 s. */
  jobTimeoutMs?: number;
}

/** Per-call options besides the detection options. */
export interface DetectCallOptions {
  /**
   * Per-camera key for backpressure: one frame in flight plus the newest waiting per source; an
   * older waiting frame is rejected with FrameDroppedError. Without it, calls simply queue.
   */
  source?: string;
  /**
   * For a RawImage: hand its buffer to the worker instead of copying it (when the Uint8Array spans
   * its whole ArrayBuffer). The caller's `data` is then detached and must not be used again.
   */
  transfer?: boolean;
  /**
   * The same moment as `image` at a higher resolution (the camera's full picture, where `image` is
   * the frame scaled for detection): an encoded image or a RawImage of the same aspect. Faces are
   * found in `image` as always; each face's landmarks and descriptor are computed from this
   * picture, cropped around the face, so a face 60 px wide on a 1920 px camera is described from
   * 60 px rather than from the 20 px of a 640 px frame. Boxes, landmarks and crops stay in
   * `image`'s pixels. A RawImage's buffer is transferred like `image`'s when `transfer` is set.
   */
  full?: Buffer | RawImage;
}

/** Counters of one source, or of the whole engine. */
export interface EngineStats {
  /** Frames detected successfully. */
  processed: number;
  /** Frames dropped by backpressure. */
  dropped: number;
  /** Frames that failed (bad image, worker crash...). */
  failed: number;
  /** Frames per second completed over the last 5 s. */
  fps: number;
  /** Frames being decoded or in a worker now. */
  inFlight: number;
}

const FPS_WINDOW_MS = 5000;

class Counters {
  processed = 0;
  dropped = 0;
  failed = 0;
  inFlight = 0;
  private readonly done: number[] = [];

  complete(ok: boolean): void {
    if (ok) this.processed++;
    else this.failed++;
    const now = performance.now();
    this.done.push(now);
    while (this.done.length > 0 && now - this.done[0] > FPS_WINDOW_MS) this.done.shift();
  }

  snapshot(): EngineStats {
    const now = performance.now();
    const recent = this.done.filter((t) => now - t <= FPS_WINDOW_MS);
    const span = recent.length >= 2 ? (recent[recent.length - 1] - recent[0]) / 1000 : 0;
    const fps = span > 0 ? (recent.length - 1) / span : 0;
    return {
      processed: this.processed,
      dropped: this.dropped,
      failed: this.failed,
      fps,
      inFlight: this.inFlight,
    };
  }
}

/** One detect call's input. */
interface Job {
  image: Buffer | RawImage;
  options: DetectOptions;
  transfer: boolean;
  full?: Buffer | RawImage;
  called: number;
}

interface Pending extends Job {
  resolve: (r: DetectResult) => void;
  reject: (e: Error) => void;
}

/**
 * A full-resolution picture must show what the frame shows: at least as large, and of the same
 * aspect (within a pixel of rounding at the frame's size), or the crops around its faces would
 * miss them.
 */
function checkFull(frame: Frame, full: Frame): void {
  const k = full.width / frame.width;
  if (k < 1 || full.height < frame.height || Math.abs(full.height / k - frame.height) > 1.5)
    throw new ImageError(
      'IMAGE_UNSUPPORTED',
      `the full-resolution picture (${full.width}x${full.height}) is not the frame (${frame.width}x${frame.height}) at a higher resolution`,
    );
}

interface SourceState {
  counters: Counters;
  busy: boolean;
  waiting?: Pending;
}

function invalid(message: string): EngineError {
  return new EngineError('INVALID_OPTIONS', message);
}

/**
 * Merges detection options over a base and checks every value; throws EngineError INVALID_OPTIONS
 * naming the first bad one.
 */
export function resolveDetectOptions(base: DetectOptions, over: Partial<DetectOptions> = {}): DetectOptions {
  const o: DetectOptions = { ...base };
  for (const [k, v] of Object.entries(over)) {
    // Only the options there are: a `__proto__` key of parsed JSON would otherwise replace the
    // prototype of `o`, and an unknown key would travel to the worker unchecked.
    if (v !== undefined && Object.hasOwn(DEFAULT_DETECT_OPTIONS, k))
      (o as unknown as Record<string, unknown>)[k] = v;
  }
  if (!isChoice(DETECT.detector, o.detector))
    throw invalid(`detector must be ${describeChoice(DETECT.detector)}, not "${String(o.detector)}"`);
  for (const k of [
    'inputSize',
    'minConfidence',
    'minFaceSize',
    'maxFaces',
    'maxDimension',
    'cropMargin',
  ] as const) {
    if (!inLimit(DETECT[k], o[k]))
      throw invalid(`${k} must be ${describeLimit(DETECT[k])}, not ${String(o[k])}`);
  }
  for (const k of ['landmarks', 'descriptors', 'ageGender', 'expressions', 'crop'] as const) {
    if (typeof o[k] !== 'boolean') throw invalid(`${k} must be true or false, not ${String(o[k])}`);
  }
  return o;
}

/** The networks to load when a worker starts, from the engine's defaults; others load on first use. */
function preloadFor(d: DetectOptions): ModelSet {
  return {
    [d.detector]: true,
    landmarks: d.landmarks || d.descriptors || d.ageGender || d.expressions,
    recognition: d.descriptors,
    ageGender: d.ageGender,
    expressions: d.expressions,
  };
}

/** One inference pool and the frames sent to it. Create with `FaceEngine.create()`. */
export class FaceEngine {
  /** Detection options used where a call does not set them. */
  readonly defaults: DetectOptions;
  readonly maxPixels: number;
  private readonly totals = new Counters();
  private readonly sources = new Map<string, SourceState>();
  private closed = false;

  private constructor(
    private readonly pool: InferencePool,
    defaults: DetectOptions,
    maxPixels: number,
  ) {
    this.defaults = defaults;
    this.maxPixels = maxPixels;
  }

  /**
   * Starts the pool: each worker starts the backend and loads the models the defaults need.
   * With backend `auto`, a backend whose workers cannot start is skipped for the next one.
   * Throws EngineError INVALID_CONFIG or BACKEND_UNAVAILABLE.
   */
  static async create(config: EngineConfig = {}): Promise<FaceEngine> {
    const defaults = resolveDetectOptions(DEFAULT_DETECT_OPTIONS, config.defaults);
    const poolSize = config.poolSize ?? os.availableParallelism?.() ?? os.cpus().length;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 64)
      throw new EngineError(
        'INVALID_CONFIG',
        `poolSize must be an integer from 1 to 64, not ${String(config.poolSize)}`,
      );
    const maxPixels = config.maxPixels ?? DEFAULT_MAX_PIXELS;
    if (!Number.isFinite(maxPixels) || maxPixels < 1)
      throw new EngineError(
        'INVALID_CONFIG',
        `maxPixels must be a positive number, not ${String(config.maxPixels)}`,
      );
    const jobTimeoutMs = config.jobTimeoutMs ?? 60_000;
    const modelPath = path.resolve(config.modelPath || defaultModelPath());
    for (const name of ['recognition', 'landmarks', defaults.detector] as const) {
      const file = path.join(modelPath, MODEL_MANIFESTS[name]);
      if (!existsSync(file)) throw new EngineError('INVALID_CONFIG', `model file not found: ${file}`);
    }
    const choice = resolveBackendChoice(config.backend);
    const failures: string[] = [];
    for (const backend of backendCandidates(choice)) {
      const isolation =
        config.isolation && config.isolation !== 'auto' ? config.isolation : defaultIsolation(backend);
      const pool = new InferencePool({
        size: poolSize,
        backend,
        isolation,
        modelPath,
        preload: preloadFor(defaults),
        jobTimeoutMs,
      });
      try {
        await pool.start();
        return new FaceEngine(pool, defaults, maxPixels);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    throw new EngineError(
      'BACKEND_UNAVAILABLE',
      `no TensorFlow.js backend could start: ${failures.join('; ')}`,
    );
  }

  /** The backend actually in use. */
  get backend(): BackendName {
    return this.pool.backend;
  }

  /** Id of the recognition weights (`frnet-<12 hex>`); every descriptor carries it. */
  get modelId(): string {
    return this.pool.modelId;
  }

  get poolSize(): number {
    return this.pool.size;
  }

  /**
   * Finds the faces in an image: an encoded JPEG/PNG/WebP Buffer, or a RawImage. Rejects with
   * ImageError for bad input, FrameDroppedError when a newer frame of the same source replaced
   * this one while it waited, EngineError otherwise (closed engine, crashed worker, bad options).
   */
  detect(
    image: Buffer | RawImage,
    options?: Partial<DetectOptions>,
    opts: DetectCallOptions = {},
  ): Promise<DetectResult> {
    const called = performance.now();
    if (this.closed) return Promise.reject(new EngineError('ENGINE_CLOSED', 'the face engine is closed'));
    let resolved: DetectOptions;
    try {
      resolved = resolveDetectOptions(this.defaults, options);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const transfer = opts.transfer === true;
    const full = opts.full;
    if (opts.source === undefined) return this.process({ image, full, options: resolved, transfer, called });
    const st = this.source(opts.source);
    if (!st.busy) {
      st.busy = true;
      return this.runSourced(st, { image, full, options: resolved, transfer, called });
    }
    const source = opts.source;
    return new Promise<DetectResult>((resolve, reject) => {
      if (st.waiting) {
        st.waiting.reject(new FrameDroppedError(source));
        st.counters.dropped++;
        this.totals.dropped++;
      }
      st.waiting = { image, full, options: resolved, transfer, called, resolve, reject };
    });
  }

  private source(key: string): SourceState {
    let st = this.sources.get(key);
    if (!st) {
      st = { counters: new Counters(), busy: false };
      this.sources.set(key, st);
    }
    return st;
  }

  private runSourced(st: SourceState, job: Job): Promise<DetectResult> {
    const result = this.process(job, st.counters);
    const next = (): void => {
      const w = st.waiting;
      st.waiting = undefined;
      if (!w) {
        st.busy = false;
        return;
      }
      this.runSourced(st, w).then(
        (r) => w.resolve(r),
        (e: Error) => w.reject(e),
      );
    };
    result.then(next, next);
    return result;
  }

  private async process(
    { image, full, options, transfer, called }: Job,
    counters?: Counters,
  ): Promise<DetectResult> {
    const all = counters ? [this.totals, counters] : [this.totals];
    for (const c of all) c.inFlight++;
    let ok = false;
    try {
      const decodeStart = performance.now();
      const frame = await this.toFrame(image, transfer);
      const fullFrame = full === undefined ? undefined : await this.toFrame(full, transfer);
      if (fullFrame) checkFull(frame, fullFrame);
      const decodeMs = performance.now() - decodeStart;
      const { width, height } = frame;
      const enqueued = performance.now();
      const r = await this.pool.run(frame, options, fullFrame);
      const modelId = this.modelId;
      const faces = await Promise.all(
        r.faces.map(async ({ rawCrop, ...face }): Promise<DetectedFace> => {
          const out: DetectedFace = { ...face, modelId };
          if (rawCrop && rawCrop.width > 0 && rawCrop.height > 0) {
            out.crop = await encodeJpeg({ ...rawCrop, channels: 3 }, 90);
          }
          return out;
        }),
      );
      const total = performance.now() - called;
      ok = true;
      return {
        width,
        height,
        faces,
        timing: {
          // Waiting behind this source's frame in flight, then for a free worker; decoding excluded.
          queue: Math.max(0, enqueued - called - decodeMs) + r.queueMs,
          inference: r.inferenceMs,
          total,
        },
        backend: this.backend,
        modelId,
      };
    } finally {
      for (const c of all) {
        c.inFlight--;
        c.complete(ok);
      }
    }
  }

  private async toFrame(image: Buffer | RawImage, transfer: boolean): Promise<Frame> {
    if (Buffer.isBuffer(image)) return decodeImage(image, this.maxPixels);
    if (image && typeof image === 'object' && 'data' in image && 'width' in image)
      return rawFrame(image, this.maxPixels, transfer);
    throw new ImageError(
      'IMAGE_UNSUPPORTED',
      'image must be an encoded image Buffer or a raw frame {data, width, height, channels}',
    );
  }

  /** Counters of one source, or of all frames when `source` is omitted. */
  stats(source?: string): EngineStats {
    if (source === undefined) return this.totals.snapshot();
    return (
      this.sources.get(source)?.counters.snapshot() ?? {
        processed: 0,
        dropped: 0,
        failed: 0,
        fps: 0,
        inFlight: 0,
      }
    );
  }

  /** Sources seen so far. */
  sourceKeys(): string[] {
    return [...this.sources.keys()];
  }

  /** `tf.memory().numTensors` of each worker (-1 for one restarting): flat over time unless tensors leak. */
  workerTensors(): Promise<number[]> {
    return this.pool.memory();
  }

  /** Each worker's tensors and memory, as the worker reports them (see {@link InferencePool.stats}). */
  workerStats(): Promise<WorkerStats[]> {
    return this.pool.stats();
  }

  /** Thread ids or process ids of the workers. */
  workerIds(): number[] {
    return this.pool.workerIds();
  }

  /**
   * Kills worker `index` as a crash would (its frame fails with WORKER_CRASHED) and resolves when
   * its replacement is ready. For recovering a stuck worker by hand.
   */
  restartWorker(index: number): Promise<void> {
    return this.pool.restartWorker(index);
  }

  /** Frames waiting for a free worker. */
  get queued(): number {
    return this.pool.queued;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops the workers; frames waiting or in flight fail with ENGINE_CLOSED. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = new EngineError('ENGINE_CLOSED', 'the face engine was closed');
    for (const st of this.sources.values()) {
      const w = st.waiting;
      st.waiting = undefined;
      w?.reject(closed);
    }
    await this.pool.close();
  }
}
