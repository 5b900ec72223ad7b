// Runs every suite (test/unit, test/flows, test/e2e, test/fuzz) with Node's test runner, TypeScript through tsx,
// one file at a time (the machine has 2 cores and several suites start inference workers).
// Extra arguments narrow the run: `node scripts/test.mjs test/unit/foo.test.ts`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The skipped tests and suites of a TAP report, by reason: `ok N - name # SKIP reason`, a suite
 * when its YAML block says `type: 'suite'`.
 */
function skipped(tap) {
  const tests = new Map();
  const suites = new Map();
  const lines = tap.split('\n');
  const unescape = (text) => text.replace(/\\([\\#])/g, '$1');
  lines.forEach((line, i) => {
    const m = /^\s*ok \d+ - (.*?) # SKIP(?: (.*))?$/.exec(line);
    if (!m) return;
    const reason = unescape(m[2]?.trim() || '(no reason given)');
    let suite = false;
    if (/^\s*---$/.test(lines[i + 1] ?? '')) {
      for (let j = i + 2; j < lines.length && !/^\s*\.\.\.$/.test(lines[j]); j++)
        if (/^\s*type: 'suite'$/.test(lines[j])) suite = true;
    }
    if (suite) suites.set(reason, [...(suites.get(reason) ?? []), unescape(m[1])]);
    else tests.set(reason, (tests.get(reason) ?? 0) + 1);
  });
  return { tests, suites };
}

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

// A folder argument (test/flows) stands for the test files in it.
const files = process.argv.slice(2).length
  ? process.argv
      .slice(2)
      .flatMap((a) => (statSync(path.resolve(root, a)).isDirectory() ? find(path.resolve(root, a)) : [a]))
  : ['unit', 'flows', 'e2e', 'fuzz'].flatMap((suite) => find(path.join(root, 'test', suite)));
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
const skips = skipped(report);
let skippedTests = 0;
for (const [reason, n] of skips.tests) {
  skippedTests += n;
  console.log(`skipped: ${n} test${n === 1 ? '' : 's'}: ${reason}`);
}
// A skipped describe never runs its body, so nobody knows how many tests it holds: counted as one.
for (const [reason, names] of skips.suites) {
  skippedTests += names.length;
  console.log(
    `skipped: ${names.length} suite${names.length === 1 ? '' : 's'} (${names.join('; ')}), its tests uncounted: ${reason}`,
  );
}
console.log(`\ntests: ${count('pass')} passed, ${count('fail')} failed, ${skippedTests} skipped`);
process.exit(result.status ?? 1);
