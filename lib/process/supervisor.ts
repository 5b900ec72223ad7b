/**
 * One way to supervise a child process: spawn it, watch it for stalls, restart it with backoff when
 * it dies, and stop it by escalation without ever leaving a process or a listener behind. The
 * camera's ffmpeg runs on it; the inference pool's child-process workers stop with {@link stopChild}.
 */
import { fork, spawn, type ChildProcess, type ForkOptions, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { PROCESS } from '../types/defaults';

/** How a child process ended. */
export interface ExitInfo {
  pid: number | undefined;
  /** Exit code, or null when a signal ended it (or it never started). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES). */
  error?: Error;
}

/** Grace periods of a stop by escalation. */
export interface StopOptions {
  /** After ending stdin and closing the IPC channel, how long to wait before SIGTERM (ms, default PROCESS.graceMs: lib/types/defaults.ts). */
  graceMs?: number;
  /** After SIGTERM, how long to wait before SIGKILL (ms, default PROCESS.termGraceMs). */
  termGraceMs?: number;
}

const exits = new WeakMap<ChildProcess, Promise<ExitInfo>>();

/**
 * Resolves once `child` has exited (or failed to start). Call it right after spawning: a process
 * that already exited before the first call is recognised by its exit code, but its start error
 * would be lost.
 */
export function exitOf(child: ChildProcess): Promise<ExitInfo> {
  let exited = exits.get(child);
  if (exited) return exited;
  exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve({ pid: child.pid, code: child.exitCode, signal: child.signalCode })
      : new Promise<ExitInfo>((resolve) => {
          const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
            child.off('error', onError);
            resolve({ pid: child.pid, code, signal });
          };
          // Errors after the start (a failed kill or send) are not the end of the process.
          const onError = (error: Error): void => {
            if (child.pid !== undefined) return;
            child.off('exit', onExit);
            child.off('error', onError);
            resolve({ pid: undefined, code: null, signal: null, error });
          };
          child.once('exit', onExit);
          child.on('error', onError);
        });
  exits.set(child, exited);
  return exited;
}

function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(false);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function running(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * Stops a child process by escalation: ends its stdin and closes its IPC channel (a well-behaved
 * child exits on either), waits `graceMs`, sends SIGTERM, waits `termGraceMs`, then SIGKILL.
 * Resolves once the process has exited, never sooner.
 */
export async function stopChild(child: ChildProcess, opts: StopOptions = {}): Promise<ExitInfo> {
  const exited = exitOf(child);
  if (!running(child)) return exited;
  // A pipe closed under a write fails with EPIPE: the process is going away, that is the point.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end();
  if (child.connected) child.disconnect();
  if (await within(exited, opts.graceMs ?? PROCESS.graceMs)) return exited;
  child.kill('SIGTERM');
  if (await within(exited, opts.termGraceMs ?? PROCESS.termGraceMs)) return exited;
  child.kill('SIGKILL');
  return exited;
}

/** When and how often a supervisor restarts its process. */
export interface RestartPolicy {
  /** Delay before the first restart (ms, default PROCESS.initialDelayMs). */
  initialDelayMs?: number;
  /** The delay doubles (by `factor`) up to this cap (ms, default PROCESS.maxDelayMs). */
  maxDelayMs?: number;
  /** Growth of the delay per attempt (default PROCESS.factor). */
  factor?: number;
  /** Restarts in a row after which the supervisor gives up (default: never gives up). */
  maxAttempts?: number;
  /** A process that ran this long counts as healthy: the attempt counter starts over (ms, default PROCESS.healthyAfterMs). */
  healthyAfterMs?: number;
}

/** What to run and how to watch it. */
export interface SupervisorOptions {
  /** The executable, or with `fork` the Node module to run. */
  command: string;
  args?: string[];
  /** Run `command` as a Node module with an IPC channel (child_process.fork). */
  fork?: boolean;
  /** Passed to spawn or fork; stdio defaults to pipes for spawn. */
  options?: SpawnOptions | ForkOptions;
  /** No {@link Supervisor.progress} for this long kills and restarts the process (ms; 0 or absent: no watchdog). */
  stallTimeoutMs?: number;
  /** Restart after an unrequested exit (default: restart with the policy's defaults); false: never restart. */
  restart?: RestartPolicy | false;
  /** Grace periods of the stop by escalation. */
  stop?: StopOptions;
  /** How many of the last stderr lines an exit reports (default 20). */
  stderrTail?: number;
}

/** Why a supervised process ended. */
export type ExitReason = 'stopped' | 'stalled' | 'exited' | 'crashed' | 'spawn-failed';

/** The 'exit' event. */
export interface SupervisorExit extends ExitInfo {
  reason: ExitReason;
  /** The last stderr lines, oldest first. */
  stderr: string[];
  /** How long it ran (ms). */
  ranMs: number;
}

/** Events of a {@link Supervisor}. */
export interface SupervisorEvents {
  /** A process started. */
  spawn: [child: ChildProcess];
  /** A chunk of the process's stdout (always read, so a pipe never fills up). */
  stdout: [chunk: Buffer];
  /** A chunk of another pipe the process was given (stdio index 3 and up), also always read. */
  pipe: [fd: number, chunk: Buffer];
  /** A line of the process's stderr (split on \n and \r, without them). */
  stderr: [line: string];
  /** The process ended; after this no listener of the supervisor remains on it. */
  exit: [info: SupervisorExit];
  /** A restart is planned after `delayMs`; `attempt` counts restarts since the last healthy run. */
  restarting: [info: { attempt: number; delayMs: number }];
  /** No progress for `idleMs`: the process is being killed (and restarted). */
  stalled: [info: { idleMs: number; pid: number | undefined }];
  /** The restart limit was reached; the supervisor stays stopped. */
  'gave-up': [info: { attempts: number; last: SupervisorExit }];
}

/** The backoff delay of restart `attempt` (1-based) under `policy`. */
export function backoffDelay(policy: RestartPolicy, attempt: number): number {
  const initial = policy.initialDelayMs ?? PROCESS.initialDelayMs;
  const cap = policy.maxDelayMs ?? PROCESS.maxDelayMs;
  const factor = policy.factor ?? PROCESS.factor;
  return Math.min(cap, initial * factor ** Math.max(0, attempt - 1));
}

/**
 * Supervises one child process at a time: {@link start} spawns it, {@link progress} feeds the stall
 * watchdog, an exit nobody asked for is followed by a restart after a growing delay, and
 * {@link stop} cancels any pending restart and stops the process by escalation.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  private current?: ChildProcess;
  /** Settles once the current process has exited and been cleaned up. */
  private ended?: Promise<void>;
  private restartTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private healthyTimer?: NodeJS.Timeout;
  private lastProgress = 0;
  private started = false;
  private stopping = false;
  private stalled = false;
  private attempts = 0;

  constructor(private readonly opts: SupervisorOptions) {
    super();
  }

  /** The running process, if any. */
  get child(): ChildProcess | undefined {
    return this.current;
  }

  /** Its process id, if one runs. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** Restarts since the last healthy run. */
  get attempt(): number {
    return this.attempts;
  }

  /** Whether the supervisor is active (started and neither stopped nor given up). */
  get active(): boolean {
    return this.started && !this.stopping;
  }

  /** Starts the process. A supervisor starts once; after stop() make a new one. */
  start(): void {
    if (this.started) throw new Error('the supervisor was already started');
    this.started = true;
    this.launch();
  }

  /** Reports that the process is alive and working (a frame, a line): it resets the stall watchdog. */
  progress(): void {
    this.lastProgress = Date.now();
  }

  /**
   * Stops for good: cancels a pending restart and stops the process by escalation. Resolves once it
   * has exited and every listener is removed. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.clearWatch();
    const child = this.current;
    if (child) await stopChild(child, this.opts.stop);
    await this.ended;
  }

  private launch(): void {
    const { command, args = [], options } = this.opts;
    const child = this.opts.fork
      ? fork(command, args, options as ForkOptions)
      : spawn(command, args, { stdio: 'pipe', ...(options as SpawnOptions) });
    this.current = child;
    const exited = exitOf(child);
    // 'close' (all stdio drained) often comes in the same tick as 'exit': listen from the start.
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const spawnedAt = Date.now();
    const tail: string[] = [];
    const keep = this.opts.stderrTail ?? 20;
    let partial = '';
    const line = (text: string): void => {
      tail.push(text);
      if (tail.length > keep) tail.shift();
      this.emit('stderr', text);
    };
    child.stdout?.on('data', (chunk: Buffer) => this.emit('stdout', chunk));
    // Further pipes (an output of ffmpeg's on pipe:3, say): read like stdout, closed like it.
    const extra: Array<{ s: Readable; fd: number }> = [];
    child.stdio.forEach((s, fd) => {
      if (fd >= 3 && s instanceof Readable) extra.push({ s, fd });
    });
    for (const { s, fd } of extra) s.on('data', (chunk: Buffer) => this.emit('pipe', fd, chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      const parts = (partial + text).split(/\r\n|\n|\r/);
      partial = parts.pop() ?? '';
      for (const p of parts) if (p) line(p);
    });
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.on('error', () => undefined);
    for (const { s } of extra) s.on('error', () => undefined);
    child.once('spawn', () => {
      if (child !== this.current) return;
      this.watch(child);
      this.emit('spawn', child);
    });
    this.ended = exited.then(async (info) => {
      // Output still in the pipes after the exit is read first, unless a grandchild holds them open.
      await within(closed, info.error ? 0 : 500);
      if (partial) line(partial);
      partial = '';
      for (const { s } of extra) {
        s.removeAllListeners();
        s.on('error', () => undefined);
        s.destroy();
      }
      for (const stream of [child.stdin, child.stdout, child.stderr]) {
        stream?.removeAllListeners();
        stream?.on('error', () => undefined);
        stream?.destroy();
      }
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      this.onExit(child, info, Date.now() - spawnedAt, tail);
    });
  }

  private watch(child: ChildProcess): void {
    this.progress();
    const limit = this.opts.stallTimeoutMs ?? 0;
    if (limit > 0) {
      const check = (): void => {
        const idle = Date.now() - this.lastProgress;
        if (idle < limit) {
          this.stallTimer = setTimeout(check, limit - idle);
          this.stallTimer.unref();
          return;
        }
        this.stallTimer = undefined;
        if (this.stopping || child !== this.current) return;
        this.stalled = true;
        this.emit('stalled', { idleMs: idle, pid: child.pid });
        void stopChild(child, this.opts.stop);
      };
      this.stallTimer = setTimeout(check, limit);
      this.stallTimer.unref();
    }
    if (this.opts.restart !== false) {
      this.healthyTimer = setTimeout(() => {
        this.attempts = 0;
      }, this.policy().healthyAfterMs ?? PROCESS.healthyAfterMs);
      this.healthyTimer.unref();
    }
  }

  private clearWatch(): void {
    clearTimeout(this.stallTimer);
    clearTimeout(this.healthyTimer);
    this.stallTimer = undefined;
    this.healthyTimer = undefined;
  }

  private policy(): RestartPolicy {
    return this.opts.restart || {};
  }

  private onExit(child: ChildProcess, info: ExitInfo, ranMs: number, tail: string[]): void {
    this.clearWatch();
    if (child === this.current) this.current = undefined;
    const reason: ExitReason = info.error
      ? 'spawn-failed'
      : this.stopping
        ? 'stopped'
        : this.stalled
          ? 'stalled'
          : info.code === 0
            ? 'exited'
            : 'crashed';
    this.stalled = false;
    const exit: SupervisorExit = { ...info, reason, stderr: [...tail], ranMs };
    this.emit('exit', exit);
    if (this.stopping || this.opts.restart === false) return;
    const policy = this.policy();
    this.attempts++;
    if (policy.maxAttempts !== undefined && this.attempts > policy.maxAttempts) {
      this.stopping = true;
      this.emit('gave-up', { attempts: this.attempts - 1, last: exit });
      return;
    }
    const delayMs = backoffDelay(policy, this.attempts);
    this.emit('restarting', { attempt: this.attempts, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.launch();
    }, delayMs);
  }
}
