// Runs every suite (test/unit, test/flows, test/e2e) with Node's test runner, TypeScript through tsx,
// one file at a time (the machine has 2 cores and several suites start inference workers).
// Extra arguments narrow the run: `node scripts/test.mjs test/unit/foo.test.ts`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } },
);
process.exit(result.status ?? 1);
