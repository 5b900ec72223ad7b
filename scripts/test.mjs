// Runs every suite (test/unit, test/flows, test/e2e) with Node's test runner, TypeScript through tsx,
// one file at a time (the machine has 2 cores and several suites start inference workers).
// Extra arguments narrow the run: `node scripts/test.mjs test/unit/foo.test.ts`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function find(dir) {
  const out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...find(full));
    else if (name.endsWith('.test.ts')) out.push(path.relative(root, full));
  }
  return out;
}

const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['unit', 'flows', 'e2e'].flatMap((suite) => find(path.join(root, 'test', suite)));
if (files.length === 0) {
  console.error('test: no test files found');
  process.exit(1);
}
// The spec report goes to the terminal; a TAP copy gives the counts for the closing summary line.
const tap = path.join(mkdtempSync(path.join(os.tmpdir(), 'fw-test-')), 'report.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } },
);
let report = '';
try {
  report = readFileSync(tap, 'utf8');
} catch {
  // No report: the runner itself failed; its exit code says so below.
}
rmSync(path.dirname(tap), { recursive: true, force: true });
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(report)?.[1] ?? 0);
console.log(`\ntests: ${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped`);
process.exit(result.status ?? 1);
