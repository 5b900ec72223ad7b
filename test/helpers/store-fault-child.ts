/**
 * The child process of store-faults.test.ts: runs store operations where a fault is waiting (a
 * full disk, a folder without permission, a directory in the way, a SIGKILL at the k-th file
 * operation, a race for the lock), so that an uncaught exception kills this process, not the
 * test runner, and the test can see it did not happen.
 *
 *   node child.cjs steps '<json: Step[]>'   runs the steps, prints `RESULT <json>` at the end
 *   node child.cjs lock                     reads `try <lockfile> <startAt>` / `release` lines
 *
 * With FW_KILL_AT=k the process kills itself with SIGKILL just before the k-th file operation
 * that changes something (open for writing, write, append, rename, remove, truncate, copy, mkdir,
 * link) after an `arm` step; FW_TRACE=1 lists those operations in the result instead.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import readline from 'node:readline';
import type { FaceStore as FaceStoreType } from '../../lib/store/face-store';
import type { StoreLock as StoreLockType } from '../../lib/store/lock';
import { jpegish, MODEL, unitVector } from './store-fixtures';

// ---------------------------------------------------------------- fault injection (before the store loads)

const killAt = Number(process.env.FW_KILL_AT ?? 0);
const trace: string[] = [];
let armed = false;

function hit(op: string, target: unknown): void {
  if (!armed) return;
  trace.push(`${op} ${String(target)}`);
  if (trace.length === killAt) process.kill(process.pid, 'SIGKILL');
}

type AnyFn = (...args: unknown[]) => unknown;
function wrap(obj: Record<string, unknown>, name: string, counts: (args: unknown[]) => boolean): void {
  const orig = obj[name] as AnyFn;
  obj[name] = function (this: unknown, ...args: unknown[]) {
    if (counts(args)) hit(name, args[0]);
    return orig.apply(this, args);
  };
}
const always = (): boolean => true;
const writing = (args: unknown[]): boolean => typeof args[1] === 'string' && /[wa]/.test(args[1]);
const promises = fsp as unknown as Record<string, unknown>;
for (const name of [
  'writeFile',
  'appendFile',
  'rename',
  'rm',
  'unlink',
  'truncate',
  'copyFile',
  'mkdir',
  'rmdir',
  'link',
])
  wrap(promises, name, always);
wrap(promises, 'open', writing);
const sync = fs as unknown as Record<string, unknown>;
wrap(sync, 'createWriteStream', always);
for (const name of ['writeFileSync', 'renameSync', 'unlinkSync', 'linkSync']) wrap(sync, name, always);
wrap(sync, 'openSync', writing);

// ---------------------------------------------------------------- steps

/** One step of a scenario. */
export type Step =
  | { op: 'open'; file: string; backups?: number; imagesDir?: string }
  | { op: 'close' }
  | { op: 'arm' }
  | { op: 'disarm' }
  | {
      op: 'add';
      id?: string;
      name: string;
      seed?: number;
      crop?: string;
      metadata?: Record<string, unknown>;
    }
  | { op: 'add-sample'; id: string; seed: number; crop?: string }
  | { op: 'update'; id: string; name?: string; metadata?: Record<string, unknown> }
  | { op: 'remove-sample'; id: string; index: number }
  | { op: 'delete'; id: string }
  | { op: 'finish' }
  | { op: 'pending' }
  | { op: 'reembed' }
  | { op: 'model' }
  | { op: 'eraser'; file: string }
  | { op: 'rm'; path: string }
  | { op: 'mkdir'; path: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'fill'; path: string }
  | { op: 'people' };

/** What a step gave: its value, or the error it rejected with. */
export type Outcome = { ok: true; value?: unknown } | { ok: false; code?: string; message: string };

/**
 * A detection log's stand-in: a text file with one `<id> <name>` line per sighting; erasing a
 * person rewrites it without their lines (atomically, so a retry can always finish).
 */
function lineEraser(file: string): { erasePerson(p: { id: string; name: string }): Promise<void> } {
  return {
    async erasePerson(p) {
      let text = '';
      try {
        text = await fsp.readFile(file, 'utf8');
      } catch {
        return;
      }
      const kept = text.split('\n').filter((l) => l && !l.startsWith(`${p.id} `) && !l.includes(p.name));
      await fsp.writeFile(`${file}.tmp`, kept.map((l) => l + '\n').join(''));
      await fsp.rename(`${file}.tmp`, file);
    },
  };
}

/** Writes `file` until the disk is full (ENOSPC). */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [65536, 4096, 512, 64, 1]) {
      const chunk = Buffer.alloc(size, 0x2e);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch {
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function runSteps(steps: Step[]): Promise<Outcome[]> {
  const { FaceStore } = await import('../../lib/store/face-store');
  let store: FaceStoreType | null = null;
  const erasers: string[] = [];
  const need = (): FaceStoreType => {
    if (!store) throw new Error('no store open');
    return store;
  };
  const out: Outcome[] = [];
  for (const step of steps) {
    try {
      let value: unknown;
      switch (step.op) {
        case 'open':
          store = await FaceStore.open({
            file: step.file,
            backups: step.backups ?? 3,
            imagesDir: step.imagesDir,
            actor: 'fault-test',
          });
          for (const f of erasers) store.addEraser(`lines:${f}`, lineEraser(f));
          value = store.size();
          break;
        case 'close':
          await need().close();
          store = null;
          break;
        case 'arm':
          armed = true;
          break;
        case 'disarm':
          armed = false;
          break;
        case 'add':
          value = (
            await need().addPerson(
              { id: step.id, name: step.name, metadata: step.metadata },
              step.seed !== undefined
                ? {
                    descriptor: unitVector(step.seed),
                    modelId: MODEL,
                    crop: step.crop ? jpegish(step.crop) : undefined,
                  }
                : undefined,
            )
          ).id;
          break;
        case 'add-sample':
          await need().addSample(step.id, {
            descriptor: unitVector(step.seed),
            modelId: MODEL,
            crop: step.crop ? jpegish(step.crop) : undefined,
          });
          break;
        case 'update':
          value = (await need().updatePerson(step.id, { name: step.name, metadata: step.metadata })).name;
          break;
        case 'remove-sample': {
          const s = need().getPerson(step.id)?.samples[step.index];
          if (!s) throw new Error(`${step.id} has no sample ${step.index}`);
          await need().removeSample(step.id, s.id);
          break;
        }
        case 'delete':
          value = await need().deletePerson(step.id);
          break;
        case 'reembed':
          // A new model's descriptors, derived from each sample's id.
          value = await need().reembed((_crop, sample) =>
            Promise.resolve({
              descriptor: unitVector(parseInt(sample.id.slice(0, 8), 16)),
              modelId: 'test-model-2',
            }),
          );
          break;
        case 'model':
          value = need().modelId;
          break;
        case 'pending':
          value = need()
            .pendingErasures()
            .map((e) => e.id);
          break;
        case 'finish':
          value = await need().finishPendingErasures();
          break;
        case 'eraser':
          erasers.push(step.file);
          store?.addEraser(`lines:${step.file}`, lineEraser(step.file));
          break;
        case 'rm':
          await fsp.rm(step.path, { recursive: true, force: true });
          break;
        case 'mkdir':
          await fsp.mkdir(step.path, { recursive: true });
          break;
        case 'chmod':
          await fsp.chmod(step.path, step.mode);
          break;
        case 'fill':
          fill(step.path);
          break;
        case 'people':
          value = need()
            .listPeople()
            .map((p) => `${p.id} ${p.name} ${p.samples.length}`);
          break;
      }
      out.push({ ok: true, value });
    } catch (err) {
      const e = err as Error & { code?: unknown };
      out.push({ ok: false, code: typeof e.code === 'string' ? e.code : undefined, message: e.message });
    }
  }
  await store?.close().catch(() => undefined);
  return out;
}

async function lockRace(): Promise<void> {
  const { StoreLock } = await import('../../lib/store/lock');
  let held: StoreLockType | null = null;
  const lines = readline.createInterface({ input: process.stdin });
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for await (const line of lines) {
    const [cmd, file, startAt] = line.split(' ');
    if (cmd === 'try') {
      // Everyone starts at the same moment: sleep to just before it, then spin.
      const ms = Number(startAt) - Date.now() - 5;
      if (ms > 0) Atomics.wait(wait, 0, 0, ms);
      while (Date.now() < Number(startAt)) {
        // spin
      }
      try {
        held = StoreLock.acquire(file, `racer ${process.pid}`, 'store');
        process.stdout.write('won\n');
      } catch (err) {
        const e = err as Error & { code?: string };
        process.stdout.write(
          `${e.code === 'ESTORE_LOCKED' ? 'locked' : 'error'} ${e.message.split('\n')[0]}\n`,
        );
      }
    } else if (cmd === 'release') {
      held?.release();
      held = null;
      process.stdout.write('released\n');
    } else if (cmd === 'exit') {
      break;
    }
  }
}

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  if (mode === 'lock') return lockRace();
  const steps = JSON.parse(arg ?? '[]') as Step[];
  const results = await runSteps(steps);
  process.stdout.write(
    `RESULT ${JSON.stringify({ results, trace: process.env.FW_TRACE ? trace : undefined })}\n`,
  );
}

void main();
