/**
 * Test environment: the face photos the tests read and which system tools exist.
 *
 * Every test reads its photos and the video from the fixtures shipped in test/fixtures/faces, so a
 * fresh clone runs them all. The full shared face sets (FACEWATCH_TEST_DATA, default
 * ../shared/data/faces) are an optional extra for the accuracy tables and the benchmarks.
 *
 * Outside CI a missing full set or tool skips the affected tests with a one-line reason; under CI
 * (CI=true) it fails them, so a green CI run never hides a skipped test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';

export const ROOT = path.resolve(__dirname, '..', '..');
/**
 * The node-red package the tests run: FACEWATCH_NODE_RED names another one (a folder holding
 * node-red's package.json: Node-RED 5, see scripts/test-node-red5.sh), else the project's own.
 */
export const NODE_RED_DIR = process.env.FACEWATCH_NODE_RED
  ? path.resolve(process.env.FACEWATCH_NODE_RED)
  : path.dirname(require.resolve('node-red/package.json'));

export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** The small face sets shipped with the repository (test/fixtures/faces/README.md). */
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'faces');

/** The full shared face sets (FACEWATCH_TEST_DATA, default ../shared/data/faces); optional. */
export const DATA_DIR = path.resolve(ROOT, process.env.FACEWATCH_TEST_DATA ?? '../shared/data/faces');

/** Why the tests over the full sets skip (or, under CI, fail). */
export const NO_FULL_DATA = `full face sets not found at ${DATA_DIR}: set FACEWATCH_TEST_DATA to run the accuracy tables`;

/** Whether the full shared face sets are there. */
export function hasFullData(): boolean {
  return existsSync(DATA_DIR);
}

function missing(t: TestContext, reason: string): boolean {
  if (IN_CI) throw new Error(`required under CI: ${reason}`);
  t.skip(reason);
  return true;
}

/**
 * Options for an `it` over the full face sets: skip it outside CI when they are absent. Give them
 * to each `it`, not to a `describe`: a skipped describe hides how many tests it holds.
 */
export function fullDataSkip(): { skip?: string } {
  if (hasFullData() || IN_CI) return {};
  return { skip: NO_FULL_DATA };
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

/**
 * A skip reason for a `describe` or `it` that needs a system tool: undefined when the tool answers.
 * Under CI a missing tool fails instead, so a green CI never hides a skipped suite.
 */
export function toolSkip(cmd: string, args?: string[]): string | undefined {
  if (hasTool(cmd, args)) return undefined;
  const why = `${cmd} not found on PATH`;
  if (IN_CI) throw new Error(`required under CI: ${why}`);
  return why;
}

/** True (and the test skipped or failed) when a system tool is missing. */
export function noTool(t: TestContext, cmd: string, args?: string[]): boolean {
  return hasTool(cmd, args) ? false : missing(t, `${cmd} not found on PATH`);
}

/** A file of the shipped fixtures: `fixturePath('face_recognition', 'examples/biden.jpg')`. */
export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

/** A file of the full shared sets; only for tests and benchmarks that skip without them. */
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

/** Relative paths the full set lists as duplicates (first column of its duplicates.csv). */
export function duplicates(set: string): Set<string> {
  const file = dataPath(set, 'duplicates.csv');
  return new Set(existsSync(file) ? readCsv(file).map((r) => r[0]) : []);
}

/**
 * The single-face photos of a set: the shipped fixtures, or with `full` the whole shared set with
 * its duplicates removed (the fixtures hold no duplicates). `full` without the shared sets throws.
 */
export function labelledPhotos(set: FaceSet, { full = false }: { full?: boolean } = {}): LabelledPhoto[] {
  if (full && !hasFullData()) throw new Error(NO_FULL_DATA);
  const at = (...parts: string[]): string => (full ? dataPath(set, ...parts) : fixturePath(set, ...parts));
  const dups = full ? duplicates(set) : new Set<string>();
  return readCsv(at('labels.csv'))
    .filter(([rel]) => !dups.has(rel))
    .map(([rel, identity]) => ({ set, rel, identity, path: at(rel) }));
}

/** The three labelled sets, both in the fixtures and in the full shared data. */
export const SETS = ['face_recognition', 'face-api.js', 'dlib'] as const;
export type FaceSet = (typeof SETS)[number];

/** face-api's own sample photos, shipped inside the package. */
export function faceApiSample(n: number): string {
  return path.join(
    path.dirname(require.resolve('@vladmandic/face-api/package.json')),
    'demo',
    `sample${n}.jpg`,
  );
}
