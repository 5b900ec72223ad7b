import assert from 'node:assert/strict';
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  backoffDelay,
  exitOf,
  stopChild,
  Supervisor,
  type SupervisorEvents,
  type SupervisorExit,
} from '../../lib/process/supervisor';

/** Every process a test started: none may outlive its test. */
const pids = new Set<number>();
const supervisors: Supervisor[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

/** A supervisor of `node -e script` whose process ids are recorded. */
function supervise(script: string, opts: Omit<ConstructorParameters<typeof Supervisor>[0], 'command'>) {
  const s = new Supervisor({ command: process.execPath, args: ['-e', script], ...opts });
  s.on('spawn', (child) => pids.add(child.pid!));
  supervisors.push(s);
  return s;
}

/** The next `event` of a supervisor. */
function next<K extends keyof SupervisorEvents>(s: Supervisor, event: K): Promise<SupervisorEvents[K]> {
  return new Promise((resolve) => s.once(event, ((...args: SupervisorEvents[K]) => resolve(args)) as never));
}

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop()));
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} was left running`);
  pids.clear();
});

describe('stopChild (stop by escalation)', () => {
  it('SIGKILLs a process that ignores stdin closing and SIGTERM, once the grace periods are over', async () => {
    const child = spawn(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')"],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    pids.add(child.pid!);
    const exited = exitOf(child);
    // The handler must be in place before the stop, or SIGTERM would end it.
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const info = await stopChild(child, { graceMs: 50, termGraceMs: 100 });
    assert.equal(info.signal, 'SIGKILL');
    assert.equal(await exited, info);
    assert.equal(alive(child.pid!), false);
  });

  it('lets a process that exits on the end of stdin go without a signal', async () => {
    const child = spawn(process.execPath, ['-e', "process.stdin.on('end', () => process.exit(0)).resume()"], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    pids.add(child.pid!);
    void exitOf(child);
    const info = await stopChild(child, { graceMs: 5000, termGraceMs: 5000 });
    assert.deepEqual([info.code, info.signal], [0, null]);
  });

  it('closes the IPC channel of a forked Node process, which then exits by itself', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-supervisor-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'child.js');
    writeFileSync(file, "process.send('ready'); process.on('disconnect', () => process.exit(0));\n");
    const child = fork(file, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    pids.add(child.pid!);
    void exitOf(child);
    await new Promise((resolve) => child.once('message', resolve));
    const info = await stopChild(child, { graceMs: 5000, termGraceMs: 5000 });
    assert.deepEqual([info.code, info.signal], [0, null]);
  });

  it('resolves at once for a process that has already exited', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    pids.add(child.pid!);
    const first = await exitOf(child);
    assert.equal(await stopChild(child), first);
  });
});

describe('Supervisor', () => {
  it('restarts a process that stops making progress, after a stalled event', async () => {
    const script =
      "let n = 0; const t = setInterval(() => { console.log('tick'); if (++n === 3) clearInterval(t); }, 20); setInterval(() => {}, 1000)";
    const s = supervise(script, {
      stallTimeoutMs: 300,
      restart: { initialDelayMs: 10 },
      stop: { graceMs: 50, termGraceMs: 50 },
    });
    s.on('stdout', () => s.progress());
    const events: string[] = [];
    for (const e of ['spawn', 'stalled', 'restarting'] as const) s.on(e, () => events.push(e));
    s.on('exit', (info) => events.push(`exit:${info.reason}`));
    const spawnedTwice = new Promise<void>((resolve) => {
      let n = 0;
      s.on('spawn', () => ++n === 2 && resolve());
    });
    s.start();
    await spawnedTwice;
    assert.deepEqual(events, ['spawn', 'stalled', 'exit:stalled', 'restarting', 'spawn']);
    const [first] = pids;
    assert.equal(alive(first), false, 'the stalled process is gone');
  });

  it('stops a process that ignores SIGTERM with SIGKILL and leaves no listener behind', async () => {
    const s = supervise(
      "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')",
      {
        stop: { graceMs: 50, termGraceMs: 100 },
      },
    );
    const exit = next(s, 'exit');
    s.start();
    await next(s, 'stdout');
    const child = s.child!;
    await s.stop();
    const [info] = await exit;
    assert.equal(info.signal, 'SIGKILL');
    assert.equal(info.reason, 'stopped');
    assert.equal(alive(child.pid!), false);
    for (const e of ['exit', 'error', 'close', 'spawn']) assert.equal(child.listenerCount(e), 0, e);
    assert.equal(child.stdout!.listenerCount('data'), 0);
    assert.equal(child.stderr!.listenerCount('data'), 0);
    assert.equal(s.child, undefined);
  });

  it('grows the restart delay up to its cap and gives up after the maximum attempts', async () => {
    const s = supervise('process.exit(3)', {
      restart: { initialDelayMs: 10, factor: 2, maxDelayMs: 40, maxAttempts: 5, healthyAfterMs: 60_000 },
    });
    const delays: number[] = [];
    const attempts: number[] = [];
    s.on('restarting', ({ attempt, delayMs }) => {
      attempts.push(attempt);
      delays.push(delayMs);
    });
    const exits: SupervisorExit[] = [];
    s.on('exit', (info) => exits.push(info));
    const gaveUp = next(s, 'gave-up');
    s.start();
    const [info] = await gaveUp;
    assert.deepEqual(delays, [10, 20, 40, 40, 40]);
    assert.deepEqual(attempts, [1, 2, 3, 4, 5]);
    assert.equal(info.attempts, 5);
    assert.equal(exits.length, 6);
    for (const e of exits) assert.deepEqual([e.reason, e.code], ['crashed', 3]);
    assert.equal(s.active, false);
  });

  it('starts the attempt count over after a healthy run', async () => {
    const s = supervise('setTimeout(() => process.exit(1), 250)', {
      restart: { initialDelayMs: 10, healthyAfterMs: 50 },
    });
    const attempts: number[] = [];
    const three = new Promise<void>((resolve) =>
      s.on('restarting', ({ attempt }) => attempts.push(attempt) === 3 && resolve()),
    );
    s.start();
    await three;
    assert.deepEqual(attempts, [1, 1, 1]);
  });

  it('cancels a pending restart on stop() and leaves nothing running', async () => {
    const s = supervise('process.exit(1)', { restart: { initialDelayMs: 60_000 } });
    let spawns = 0;
    s.on('spawn', () => spawns++);
    const restarting = next(s, 'restarting');
    s.start();
    const [{ delayMs }] = await restarting;
    assert.equal(delayMs, 60_000);
    await s.stop();
    await s.stop();
    await sleep(50);
    assert.equal(spawns, 1);
    assert.equal(s.child, undefined);
  });

  it('reads stderr as lines and reports the last ones with the exit', async () => {
    const s = supervise("process.stderr.write('one\\ntwo\\rthree\\r\\nfour'); process.exit(2)", {
      restart: false,
    });
    const lines: string[] = [];
    s.on('stderr', (l) => lines.push(l));
    const exit = next(s, 'exit');
    s.start();
    const [info] = await exit;
    assert.deepEqual(lines, ['one', 'two', 'three', 'four']);
    assert.deepEqual(info.stderr, lines);
    assert.deepEqual([info.reason, info.code], ['crashed', 2]);
  });

  it('reports a command that cannot start, and restarts it under the policy', async () => {
    const s = new Supervisor({
      command: path.join(os.tmpdir(), 'fw-no-such-command'),
      restart: { initialDelayMs: 10, maxAttempts: 1 },
    });
    supervisors.push(s);
    const exits: SupervisorExit[] = [];
    s.on('exit', (info) => exits.push(info));
    const gaveUp = next(s, 'gave-up');
    s.start();
    await gaveUp;
    assert.equal(exits.length, 2);
    assert.equal(exits[0].reason, 'spawn-failed');
    assert.match(exits[0].error?.message ?? '', /ENOENT/);
  });

  it('computes the backoff from the policy', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay({}, a)),
      [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000],
    );
    assert.equal(backoffDelay({ initialDelayMs: 100, factor: 3, maxDelayMs: 1000 }, 3), 900);
  });
});
