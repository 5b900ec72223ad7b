/**
 * The inference pool: a fixed number of workers (threads or child processes), each holding its own
 * models, and a FIFO queue of frames. A worker that dies is replaced and the frame it held fails
 * with WORKER_CRASHED; a frame that runs past the job timeout kills its worker (WORKER_TIMEOUT).
 * No frame ever waits forever.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName, DetectOptions } from '../types';
import { exitOf, stopChild } from '../process/supervisor';
import type { Isolation } from './backend';
import { EngineError } from './errors';
import type { Frame } from './image';
import type { FromWorker, ModelSet, StatsReply, ToWorker, WorkerFace, WorkerMemory } from './protocol';
import { PROCESS } from '../types/defaults';

/** What the pool needs to start its workers. */
export interface PoolOptions {
  size: number;
  backend: BackendName;
  isolation: Isolation;
  modelPath: string;
  preload: ModelSet;
  /** A frame taking longer than this kills its worker. */
  jobTimeoutMs: number;
  /** A worker not ready after this long counts as failed to start. */
  initTimeoutMs?: number;
}

/** One frame's outcome from a worker. */
export interface PoolResult {
  faces: WorkerFace[];
  inferenceMs: number;
  /** Time spent waiting for a free worker. */
  queueMs: number;
}

/** One worker's figures, as {@link InferencePool.stats} reports them. */
export interface WorkerStats {
  /** The worker's slot in the pool (0 .. size-1). */
  index: number;
  /** Thread id (thread isolation) or process id (process isolation). */
  id: number;
  isolation: Isolation;
  /** `tf.memory().numTensors` in the worker; -1 for a worker that is restarting. */
  numTensors: number;
  /**
   * `process.memoryUsage()` inside the worker (absent while it restarts). A thread's heap figures
   * are its own and its `rss` is the whole process's; a process's figures are all its own.
   */
  memory?: WorkerMemory;
}

/** The worker entry point next to this file (.ts under tsx, .js once compiled). */
const WORKER_FILE = path.join(__dirname, 'worker' + path.extname(__filename));

/** Consecutive failed restarts of one slot after which the pool gives up. */
const MAX_RESTART_FAILURES = 3;

/** A worker thread or child process behind one interface. */
interface WorkerHandle {
  /** Thread id or process id. */
  readonly id: number;
  post(msg: ToWorker, transfer?: ArrayBuffer[]): void;
  /** Stops the worker; resolves once it has exited. */
  stop(): Promise<void>;
}

interface HandleEvents {
  message(msg: FromWorker): void;
  exit(reason: string): void;
}

function threadHandle(events: HandleEvents): WorkerHandle {
  // Compiled, the worker is plain JS. Under tsx (tests, benchmarks) Node 20 does not apply the
  // `--import tsx` hooks to a worker's entry file, so a small CommonJS bootstrap registers tsx first.
  const worker =
    path.extname(WORKER_FILE) === '.ts'
      ? new Worker(
          `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(WORKER_FILE)});`,
          {
            eval: true,
          },
        )
      : new Worker(WORKER_FILE);
  let lastError = '';
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      exited = true;
      worker.removeAllListeners();
      events.exit(`exit code ${code}${lastError ? `: ${lastError}` : ''}`);
      resolve();
    });
  });
  worker.on('message', (msg: FromWorker) => events.message(msg));
  worker.on('error', (err) => {
    lastError = err.message;
  });
  return {
    id: worker.threadId,
    post: (msg, transfer) => worker.postMessage(msg, transfer ?? []),
    stop: async () => {
      if (!exited) await worker.terminate();
      await exitedPromise;
    },
  };
}

/** Grace periods of a child-process worker's stop: the IPC channel closing, then SIGTERM. */
const PROCESS_STOP = { graceMs: PROCESS.graceMs, termGraceMs: PROCESS.termGraceMs };

function processHandle(events: HandleEvents): WorkerHandle {
  const child: ChildProcess = fork(WORKER_FILE, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = exitOf(child);
  let lastError = '';
  void exited.then(({ code, signal, error }) => {
    child.removeAllListeners();
    const detail = lastError || error?.message;
    events.exit(`${signal ? `signal ${signal}` : `exit code ${String(code)}`}${detail ? `: ${detail}` : ''}`);
  });
  child.on('message', (msg: FromWorker) => events.message(msg));
  child.on('error', (err) => {
    lastError = err.message;
  });
  return {
    id: child.pid ?? -1,
    post: (msg) => {
      if (child.connected) child.send(msg);
    },
    // The worker exits when its IPC channel closes; SIGTERM and SIGKILL are for one that hangs.
    stop: async () => {
      await stopChild(child, PROCESS_STOP);
      await exited;
    },
  };
}

interface Job {
  frame: Frame;
  options: DetectOptions;
  full?: Frame;
  enqueued: number;
  resolve(result: PoolResult): void;
  reject(err: Error): void;
}

interface Running {
  id: number;
  job: Job;
  queueMs: number;
  timer: NodeJS.Timeout;
}

interface Slot {
  index: number;
  handle: WorkerHandle;
  state: 'starting' | 'idle' | 'busy' | 'stopping' | 'dead';
  running?: Running;
  /** The worker reported ready at least once. */
  ready: boolean;
  /** Answers to the stats requests in flight, by request id (undefined when the worker exited). */
  stats: Map<number, (reply: StatsReply | undefined) => void>;
  /** Settles the start of this slot's worker. */
  started: Promise<void>;
}

/** A fixed-size pool of inference workers over one backend and one model folder. */
export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing = false;
  private failure?: EngineError;
  private readonly restartFailures: number[] = [];
  private _modelId = '';

  constructor(private readonly opts: PoolOptions) {}

  /** The recognition model id reported by the workers. */
  get modelId(): string {
    return this._modelId;
  }

  get backend(): BackendName {
    return this.opts.backend;
  }

  get size(): number {
    return this.opts.size;
  }

  /** Frames waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Starts every worker and waits until all have loaded their models; rejects if any cannot. */
  async start(): Promise<void> {
    for (let i = 0; i < this.opts.size; i++) this.restartFailures[i] = 0;
    for (let i = 0; i < this.opts.size; i++) this.slots[i] = this.spawn(i);
    try {
      await Promise.all(this.slots.map((s) => s.started));
      this.started = true;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private spawn(index: number): Slot {
    let settle!: { resolve(): void; reject(e: Error): void };
    const started = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // A failed restart is handled by exit(); only the first start's promise is awaited by start().
    started.catch(() => undefined);
    const slot = { index, state: 'starting', ready: false, stats: new Map(), started } as Slot;
    const initTimeout = this.opts.initTimeoutMs ?? 120_000;
    const initTimer = setTimeout(() => {
      if (slot.state !== 'starting') return;
      settle.reject(
        new EngineError(
          'BACKEND_UNAVAILABLE',
          `${this.opts.backend} worker did not start within ${initTimeout} ms`,
        ),
      );
      void this.stopSlot(slot);
    }, initTimeout);
    initTimer.unref();
    const events: HandleEvents = {
      message: (msg) => {
        if (msg.type === 'ready') {
          clearTimeout(initTimer);
          if (slot.state !== 'starting') return;
          this._modelId = msg.modelId;
          this.restartFailures[index] = 0;
          slot.ready = true;
          slot.state = 'idle';
          settle.resolve();
          this.pump();
        } else if (msg.type === 'init-error') {
          clearTimeout(initTimer);
          settle.reject(
            new EngineError(
              'BACKEND_UNAVAILABLE',
              `${this.opts.backend} worker failed to start: ${msg.message}`,
            ),
          );
          void this.stopSlot(slot);
        } else {
          this.onReply(slot, msg);
        }
      },
      exit: (reason) => {
        clearTimeout(initTimer);
        if (!slot.ready)
          settle.reject(
            new EngineError(
              'BACKEND_UNAVAILABLE',
              `${this.opts.backend} worker exited while starting (${reason})`,
            ),
          );
        this.onExit(slot, reason);
      },
    };
    slot.handle = this.opts.isolation === 'process' ? processHandle(events) : threadHandle(events);
    slot.handle.post({
      type: 'init',
      backend: this.opts.backend,
      modelPath: this.opts.modelPath,
      preload: this.opts.preload,
    });
    return slot;
  }

  private onReply(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'stats') {
      slot.stats.get(msg.id)?.(msg);
      slot.stats.delete(msg.id);
      return;
    }
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const running = slot.running;
    if (!running || running.id !== msg.id) return;
    clearTimeout(running.timer);
    slot.running = undefined;
    if (slot.state === 'busy') slot.state = 'idle';
    if (msg.type === 'result') {
      running.job.resolve({ faces: msg.faces, inferenceMs: msg.inferenceMs, queueMs: running.queueMs });
    } else {
      running.job.reject(new EngineError('INFERENCE_FAILED', `inference failed: ${msg.message}`));
    }
    this.pump();
  }

  private onExit(slot: Slot, reason: string): void {
    const expected = slot.state === 'stopping';
    slot.state = 'dead';
    const running = slot.running;
    slot.running = undefined;
    if (running) {
      clearTimeout(running.timer);
      running.job.reject(
        new EngineError(
          'WORKER_CRASHED',
          `inference worker ${slot.handle.id} exited while processing this frame (${reason})`,
        ),
      );
    }
    for (const answer of slot.stats.values()) answer(undefined);
    slot.stats.clear();
    // Until start() has succeeded, failures are start()'s to report, not to retry.
    if (this.closing || this.failure || !this.started || this.slots[slot.index] !== slot) return;
    if (!slot.ready && ++this.restartFailures[slot.index] >= MAX_RESTART_FAILURES) {
      this.fail(new EngineError('ENGINE_FAILED', `an inference worker keeps failing to start (${reason})`));
      return;
    }
    const delay = expected && slot.ready ? 0 : Math.min(2000, 100 * 2 ** this.restartFailures[slot.index]);
    setTimeout(() => {
      if (this.closing || this.failure || this.slots[slot.index] !== slot) return;
      this.slots[slot.index] = this.spawn(slot.index);
    }, delay).unref();
  }

  /** Set once start() has succeeded. */
  private started = false;

  private fail(err: EngineError): void {
    this.failure = err;
    for (const job of this.queue.splice(0)) job.reject(err);
  }

  private pump(): void {
    if (this.closing) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot || slot.state !== 'idle') continue;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      const queueMs = performance.now() - job.enqueued;
      const timer = setTimeout(() => {
        if (slot.running?.id !== id) return;
        slot.running = undefined;
        job.reject(
          new EngineError(
            'WORKER_TIMEOUT',
            `inference took longer than ${this.opts.jobTimeoutMs} ms: worker restarted`,
          ),
        );
        void this.stopSlot(slot, false);
      }, this.opts.jobTimeoutMs);
      timer.unref();
      slot.state = 'busy';
      slot.running = { id, job, queueMs, timer };
      try {
        slot.handle.post(
          {
            type: 'detect',
            id,
            frame: job.frame,
            options: job.options,
            ...(job.full ? { full: job.full } : {}),
          },
          [job.frame.data.buffer as ArrayBuffer, ...(job.full ? [job.full.data.buffer as ArrayBuffer] : [])],
        );
      } catch (err) {
        // A frame that cannot be posted (its buffer detached meanwhile, say) fails alone.
        clearTimeout(timer);
        slot.running = undefined;
        slot.state = 'idle';
        job.reject(
          new EngineError(
            'INFERENCE_FAILED',
            `frame not sent to a worker: ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
      }
    }
  }

  /** Stops a slot's worker; with `expected` false its exit counts as a crash (and it is replaced). */
  private async stopSlot(slot: Slot, expected = true): Promise<void> {
    if (expected) slot.state = 'stopping';
    await slot.handle.stop();
  }

  /**
   * Queues a frame (and its full-resolution picture, when given); their buffers are moved to the
   * worker (detached here).
   */
  run(frame: Frame, options: DetectOptions, full?: Frame): Promise<PoolResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new EngineError('ENGINE_CLOSED', 'the face engine is closed'));
    return new Promise<PoolResult>((resolve, reject) => {
      this.queue.push({ frame, options, full, enqueued: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** Tensors alive in each worker (-1 for a worker that is restarting). */
  async memory(): Promise<number[]> {
    return (await this.stats()).map((s) => s.numTensors);
  }

  /**
   * Each worker's tensors and memory, asked of the worker itself. A busy worker answers after its
   * current frame; one that is restarting (or exits before answering) reports -1 tensors and no memory.
   */
  stats(): Promise<WorkerStats[]> {
    return Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<WorkerStats>((resolve) => {
            const base = { index: slot.index, id: slot.handle.id, isolation: this.opts.isolation };
            const answer = (reply: StatsReply | undefined): void =>
              resolve(
                reply
                  ? { ...base, numTensors: reply.numTensors, memory: reply.memory }
                  : { ...base, numTensors: -1 },
              );
            if (slot.state === 'dead' || slot.state === 'stopping') return answer(undefined);
            const id = this.nextId++;
            slot.stats.set(id, answer);
            slot.handle.post({ type: 'stats', id });
          }),
      ),
    );
  }

  /** Thread ids (thread isolation) or process ids (process isolation) of the current workers. */
  workerIds(): number[] {
    return this.slots.map((s) => s.handle.id);
  }

  /**
   * Kills one worker as a crash would (its frame fails with WORKER_CRASHED) and resolves once its
   * replacement is ready. For recovering a stuck worker, and for tests of the crash path.
   */
  async restartWorker(index: number): Promise<void> {
    const slot = this.slots[index];
    if (!slot)
      throw new EngineError('INVALID_OPTIONS', `no worker ${index}: the pool has ${this.slots.length}`);
    await this.stopSlot(slot, false);
    await this.whenReplaced(index, slot);
  }

  private async whenReplaced(index: number, old: Slot): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      const current = this.slots[index];
      if (current !== old) {
        try {
          await current.started;
          return;
        } catch {
          old = current;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Fails waiting and running frames with ENGINE_CLOSED and stops every worker. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new EngineError('ENGINE_CLOSED', 'the face engine was closed');
    for (const job of this.queue.splice(0)) job.reject(closed);
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot) return;
        const running = slot.running;
        slot.running = undefined;
        if (running) {
          clearTimeout(running.timer);
          running.job.reject(closed);
        }
        await this.stopSlot(slot);
      }),
    );
  }
}
