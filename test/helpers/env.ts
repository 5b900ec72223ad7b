/**
 * Test environment: where the shared face data lives and which system tools exist.
 *
 * Outside CI a missing data folder or tool skips the affected tests with a one-line reason;
 * under CI (CI=true) it fails them, so a green CI run never hides a skipped suite.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';

export const ROOT = path.resolve(__dirname, '..', '..');
export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** The shared face data folder (FACEWATCH_TEST_DATA, default ../shared/data/faces). */
export const DATA_DIR = path.resolve(ROOT, process.env.FACEWATCH_TEST_DATA ?? '../shared/data/faces');

function missing(t: TestContext, reason: string): boolean {
  if (IN_CI) throw new Error(`required under CI: ${reason}`);
  t.skip(reason);
  return true;
}

/** True (and the test skipped or failed) when the shared face data is absent. */
export function noData(t: TestContext): boolean {
  return existsSync(DATA_DIR)
    ? false
    : missing(t, `face data not found at ${DATA_DIR} (set FACEWATCH_TEST_DATA)`);
}

/** Options for `describe`/`it` that skip the whole block outside CI when the data is absent. */
export function dataSkip(): { skip?: string } {
  if (existsSync(DATA_DIR) || IN_CI) return {};
  return { skip: `face data not found at ${DATA_DIR} (set FACEWATCH_TEST_DATA)` };
}

const toolCache = new Map<string, boolean>();
/** Whether an executable answers `--version` (or `-version`). */
export function hasTool(cmd: string, args: string[] = ['-version']): boolean {
  const key = `${cmd} ${args.join(' ')}`;
  let ok = toolCache.get(key);
  if (ok === undefined) {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 10000 });
      ok = true;
    } catch {
      ok = false;
    }
    toolCache.set(key, ok);
  }
  return ok;
}

/** True (and the test skipped or failed) when a system tool is missing. */
export function noTool(t: TestContext, cmd: string, args?: string[]): boolean {
  return hasTool(cmd, args) ? false : missing(t, `${cmd} not found on PATH`);
}

export function dataPath(...parts: string[]): string {
  return path.join(DATA_DIR, ...parts);
}

/** A labelled photo of a set: `path` is absolute. */
export interface LabelledPhoto {
  set: string;
  path: string;
  rel: string;
  identity: string;
}

function readCsv(file: string): string[][] {
  const rows: string[][] = [];
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/).slice(1)) {
    if (!line.trim()) continue;
    // The label files quote only their last column; split the first two fields plainly.
    rows.push(line.split(','));
  }
  return rows;
}

/** Relative paths listed as duplicates (first column of duplicates.csv). */
export function duplicates(set: string): Set<string> {
  const file = dataPath(set, 'duplicates.csv');
  return new Set(existsSync(file) ? readCsv(file).map((r) => r[0]) : []);
}

/** The single-face photos of a set, duplicates removed. */
export function labelledPhotos(set: string): LabelledPhoto[] {
  const dups = duplicates(set);
  return readCsv(dataPath(set, 'labels.csv'))
    .filter(([rel]) => !dups.has(rel))
    .map(([rel, identity]) => ({ set, rel, identity, path: dataPath(set, rel) }));
}

/** The three labelled sets in the shared data. */
export const SETS = ['face_recognition', 'face-api.js', 'dlib'] as const;

/** face-api's own sample photos, shipped inside the package. */
export function faceApiSample(n: number): string {
  return path.join(
    path.dirname(require.resolve('@vladmandic/face-api/package.json')),
    'demo',
    `sample${n}.jpg`,
  );
}
