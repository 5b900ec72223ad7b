/**
 * The face store under real faults: a small tmpfs that fills up, files and folders without
 * permission (the store run as uid 65534, since root ignores file modes), a directory or a file
 * where the store must write, a process killed with SIGKILL at every file operation of an
 * enrolment and of an erasure, and processes racing for a stale lock.
 *
 * Every scenario runs in a child process (store-fault-child.ts, bundled once with esbuild so a
 * child starts in a fraction of a second): a fault that became an uncaught exception kills the
 * child, not the test runner, and each test checks the child ended normally and every failure
 * came back as a rejected promise with a clear message.
 *
 * The tmpfs and the other uid need root: under CI (CI=true, run as root) they must run; elsewhere
 * they are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { buildSync } from 'esbuild';
import { encodeDescriptor } from '../../lib/store/codec';
import { FaceStore } from '../../lib/store/face-store';
import { IN_CI } from '../helpers/env';
import { filesContaining, jpegish, MODEL, unitVector } from '../helpers/store-fixtures';
import type { Outcome, Step } from '../helpers/store-fault-child';

const NOBODY = 65534;
const NODE_MODULES = path.resolve(__dirname, '..', '..', 'node_modules');
const IS_ROOT = process.getuid?.() === 0;

let tmp = '';
let child = '';
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fw-faults-'));
  // The child runs as another user too: it must be able to read its script and reach its folders.
  chmodSync(tmp, 0o755);
  child = path.join(tmp, 'child.cjs');
  buildSync({
    entryPoints: [path.join(__dirname, '..', 'helpers', 'store-fault-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: child,
    // Packages load from the repository's node_modules (NODE_PATH below): sharp's native
    // binding cannot be bundled.
    packages: 'external',
    logLevel: 'silent',
  });
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Why a test that needs root cannot run here; under CI it must run, so this throws instead. */
function rootSkip(what: string): string | undefined {
  if (IS_ROOT) return undefined;
  const why = `${what} needs root (run as root, as CI does)`;
  if (IN_CI) throw new Error(`required under CI: ${why}`);
  return why;
}

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  results: Outcome[];
  trace: string[];
}

/** Runs steps in a child process; `uid` runs it as that user. */
function runChild(
  steps: Step[],
  opts: { uid?: number; killAt?: number; trace?: boolean; timeout?: number } = {},
): ChildRun {
  const r = spawnSync(process.execPath, [child, 'steps', JSON.stringify(steps)], {
    encoding: 'utf8',
    timeout: opts.timeout ?? 30000,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    env: {
      ...process.env,
      HOME: tmp,
      NODE_PATH: NODE_MODULES,
      FW_KILL_AT: String(opts.killAt ?? 0),
      ...(opts.trace ? { FW_TRACE: '1' } : {}),
    },
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  const parsed = line
    ? (JSON.parse(line.slice(7)) as { results: Outcome[]; trace?: string[] })
    : { results: [], trace: [] };
  return {
    code: r.status,
    signal: r.signal,
    stderr: r.stderr,
    results: parsed.results,
    trace: parsed.trace ?? [],
  };
}

/** Asserts the child ended normally: no uncaught exception, no unhandled rejection, no crash. */
function assertSurvived(run: ChildRun): void {
  assert.equal(run.signal, null, `the child was killed by ${run.signal}: ${run.stderr}`);
  assert.equal(run.code, 0, `the child died (exit ${run.code}): ${run.stderr}`);
  assert.doesNotMatch(run.stderr, /Uncaught|UnhandledPromiseRejection|triggerUncaughtException/);
}

/** Asserts one step's outcome: ok, or failed with the code and a message matching `message`. */
function expectOutcome(run: ChildRun, i: number, expected: true | { code: string; message: RegExp }): void {
  const got = run.results[i];
  assert.ok(got, `step ${i} ran (results: ${JSON.stringify(run.results)}; stderr: ${run.stderr})`);
  if (expected === true) {
    assert.equal(got.ok, true, `step ${i} succeeded: ${JSON.stringify(got)}`);
    return;
  }
  assert.equal(got.ok, false, `step ${i} failed: ${JSON.stringify(got)}`);
  if (!got.ok) {
    assert.equal(got.code, expected.code, got.message);
    assert.match(got.message, expected.message);
  }
}

function valueOf(run: ChildRun, i: number): unknown {
  const got = run.results[i];
  return got?.ok ? got.value : undefined;
}

let n = 0;
/** A fresh folder for a store, under `parent` (default: the test's temporary folder). */
function freshDir(parent = tmp): string {
  const dir = path.join(parent, `case-${++n}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** What identifies the victim on disk: descriptor bytes (base64 as stored), crop bytes, names. */
const VICTIM_NEEDLES = [
  encodeDescriptor(unitVector(7001)),
  encodeDescriptor(unitVector(7002)),
  'crop-of-vera',
  'Vera Victim',
  'Vera Q. Victim',
];

/**
 * A store as the issue found it: the victim (PERSON_0001, two samples with crops, renamed) and
 * two more people, with enough later changes that all three backups hold the victim; a side log
 * (`sightings.log`) that an eraser cleans.
 */
async function seed(dir: string, backups = 3): Promise<string> {
  const file = path.join(dir, 'faces.db');
  const store = await FaceStore.open({ file, backups, actor: 'seed' });
  const v = await store.addPerson(
    { name: 'Vera Victim' },
    { descriptor: unitVector(7001), modelId: MODEL, crop: jpegish('vera-1') },
  );
  await store.addSample(v.id, { descriptor: unitVector(7002), modelId: MODEL, crop: jpegish('vera-2') });
  await store.updatePerson(v.id, { name: 'Vera Q. Victim' });
  await store.addPerson(
    { name: 'Kim Keep' },
    { descriptor: unitVector(7003), modelId: MODEL, crop: jpegish('kim') },
  );
  await store.addPerson({ name: 'Lee Later' }, { descriptor: unitVector(7004), modelId: MODEL });
  for (let i = 0; i < 3; i++) await store.updatePerson('PERSON_0002', { metadata: { i } });
  await store.close();
  writeFileSync(path.join(dir, 'sightings.log'), 'PERSON_0001 Vera Q. Victim\nPERSON_0002 Kim Keep\n');
  return file;
}

/** The victim's traces left in a folder (file: needle). */
function victimTraces(dir: string): string[] {
  return filesContaining(dir, VICTIM_NEEDLES);
}

/** Files of a folder (recursively) whose name ends in `.tmp` or `~`: nothing may be left half-written. */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...leftovers(full));
    else if (e.name.endsWith('.tmp') || e.name.endsWith('~')) out.push(full);
  }
  return out;
}

describe('store faults: a directory or a file where the store must write', () => {
  it("a directory where a backup's .tmp goes: the erasure removes that backup, finishes, and nothing crashes", async () => {
    const dir = freshDir();
    const file = await seed(dir);
    assert.equal(
      filesContaining(dir, [VICTIM_NEEDLES[0]]).length,
      4,
      'datafile and 3 backups hold the victim',
    );
    mkdirSync(`${file}.bak.2.tmp`);
    const run = runChild([{ op: 'open', file }, { op: 'delete', id: 'PERSON_0001' }, { op: 'people' }]);
    assertSurvived(run);
    expectOutcome(run, 1, true);
    assert.equal(valueOf(run, 1), true);
    assert.deepEqual(valueOf(run, 2), ['PERSON_0002 Kim Keep 1', 'PERSON_0003 Lee Later 1']);
    assert.equal(existsSync(`${file}.bak.2`), false, 'the backup that could not be rewritten is gone');
    assert.ok(existsSync(`${file}.bak.1`) && existsSync(`${file}.bak.3`), 'the others were rewritten');
    assert.deepEqual(
      victimTraces(dir).filter((t) => !t.startsWith('sightings.log')),
      [],
      'no backup and no other file of the store holds the victim',
    );

    // A backup cannot be taken past a directory: the enrolment is refused clearly, nothing changed.
    mkdirSync(`${file}.bak.1.tmp`);
    const enrol = runChild([{ op: 'open', file }, { op: 'add', name: 'Nia New', seed: 1 }, { op: 'people' }]);
    assertSurvived(enrol);
    expectOutcome(enrol, 1, {
      code: 'EWRITE',
      message: /backup .*faces\.db\.bak\.1 could not be taken: .*EISDIR.*nothing was changed/,
    });
    assert.deepEqual(valueOf(enrol, 2), valueOf(run, 2));
  });

  it('a directory where the journal or the audit log must go: the erasure is refused or stays pending, then finishes', async () => {
    const dir = freshDir();
    const file = await seed(dir);
    const journal = `${file}.erasures.json`;
    const auditTmp = path.join(dir, 'faces.audit.jsonl.tmp');
    const run = runChild([
      { op: 'open', file },
      { op: 'eraser', file: path.join(dir, 'sightings.log') },
      { op: 'mkdir', path: `${journal}.tmp` },
      { op: 'delete', id: 'PERSON_0001' }, // 3: cannot be recorded: nothing erased
      { op: 'people' },
      { op: 'rm', path: `${journal}.tmp` },
      { op: 'mkdir', path: auditTmp },
      { op: 'delete', id: 'PERSON_0001' }, // 7: recorded, stops at the audit log
      { op: 'people' },
      { op: 'rm', path: auditTmp },
      { op: 'delete', id: 'PERSON_0001' }, // 10: finished
      { op: 'close' },
      { op: 'mkdir', path: journal },
      { op: 'open', file }, // 13: a journal that cannot be read: the store does not open
      { op: 'rm', path: journal },
      { op: 'open', file },
    ]);
    assertSurvived(run);
    expectOutcome(run, 3, {
      code: 'EERASURE',
      message:
        /the erasure of PERSON_0001 could not be recorded in .*erasures\.json: .*EISDIR.*nothing was erased/,
    });
    assert.deepEqual(valueOf(run, 4), [
      'PERSON_0001 Vera Q. Victim 2',
      'PERSON_0002 Kim Keep 1',
      'PERSON_0003 Lee Later 1',
    ]);
    expectOutcome(run, 7, {
      code: 'EERASURE',
      message:
        /the erasure of PERSON_0001 is not finished \(the audit log\): .*EISDIR.*deleting PERSON_0001 again/,
    });
    assert.deepEqual(
      valueOf(run, 8),
      ['PERSON_0002 Kim Keep 1', 'PERSON_0003 Lee Later 1'],
      'pending: no longer matched',
    );
    expectOutcome(run, 10, true);
    assert.equal(valueOf(run, 10), true);
    expectOutcome(run, 13, { code: 'ESTORE_UNREADABLE', message: /erasure journal .* cannot be read/ });
    expectOutcome(run, 15, true);
    assert.deepEqual(victimTraces(dir), []);
  });

  it('a file where the images folder of a new person must go: the enrolment is refused and writes nothing', async () => {
    const dir = freshDir();
    const file = await seed(dir);
    writeFileSync(path.join(dir, 'faces', 'PERSON_0004'), 'in the way');
    const run = runChild([
      { op: 'open', file },
      { op: 'add', name: 'Ola Blocked', seed: 11, crop: 'ola' },
      { op: 'close' },
      { op: 'open', file },
      { op: 'people' },
    ]);
    assertSurvived(run);
    expectOutcome(run, 1, {
      code: 'EWRITE',
      message: /the face image could not be written: .*nothing was changed/,
    });
    assert.equal((valueOf(run, 4) as string[]).length, 3);
    assert.deepEqual(
      filesContaining(dir, ['Ola Blocked', 'crop-of-ola', encodeDescriptor(unitVector(11))]),
      [],
    );
  });
});

describe(
  'store faults: files and folders without permission (as uid 65534)',
  { skip: rootSkip('running the store as another user') },
  () => {
    /** A seeded store owned by nobody, in a folder nobody can reach. */
    async function nobodysStore(backups = 3): Promise<{ dir: string; file: string }> {
      const dir = freshDir();
      const file = await seed(dir, backups);
      execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
      return { dir, file };
    }

    it('a datafile without write permission: the failed writes are undone, never written later by a compaction', async () => {
      const { dir, file } = await nobodysStore(0);
      const run = runChild(
        [
          { op: 'open', file, backups: 0 },
          { op: 'chmod', path: file, mode: 0o400 },
          { op: 'add', name: 'Ghost Insert', seed: 21 }, // 2
          { op: 'update', id: 'PERSON_0002', name: 'Ghost Rename' }, // 3
          { op: 'people' },
          { op: 'chmod', path: file, mode: 0o600 },
          { op: 'delete', id: 'PERSON_0003' }, // 6: compacts the datafile from memory
          { op: 'close' },
          { op: 'open', file, backups: 0 },
          { op: 'people' },
        ],
        { uid: NOBODY },
      );
      assertSurvived(run);
      expectOutcome(run, 2, {
        code: 'EWRITE',
        message: /face store .*faces\.db could not be written: EACCES/,
      });
      expectOutcome(run, 3, { code: 'EWRITE', message: /could not be written: EACCES/ });
      assert.deepEqual(valueOf(run, 4), [
        'PERSON_0001 Vera Q. Victim 2',
        'PERSON_0002 Kim Keep 1',
        'PERSON_0003 Lee Later 1',
      ]);
      expectOutcome(run, 6, true);
      assert.deepEqual(valueOf(run, 9), ['PERSON_0001 Vera Q. Victim 2', 'PERSON_0002 Kim Keep 1']);
      assert.deepEqual(filesContaining(dir, ['Ghost']), [], 'neither failed write reached the disk');
    });

    it('a datafile that cannot be read: the open is refused with a clear error, nothing crashes', async () => {
      const { file } = await nobodysStore();
      const run = runChild(
        [
          { op: 'chmod', path: file, mode: 0o000 },
          { op: 'open', file }, // 1
          { op: 'chmod', path: file, mode: 0o600 },
          { op: 'open', file }, // 3
        ],
        { uid: NOBODY },
      );
      assertSurvived(run);
      expectOutcome(run, 1, {
        code: 'ESTORE_UNREADABLE',
        message: /face store .*faces\.db cannot be read: EACCES/,
      });
      expectOutcome(run, 3, true);
      assert.equal(valueOf(run, 3), 3);
    });

    it('a backup that cannot be read is removed by the erasure; a folder without write permission refuses the erasure before it starts', async () => {
      const { dir, file } = await nobodysStore();
      const run = runChild(
        [
          { op: 'open', file },
          { op: 'chmod', path: dir, mode: 0o500 },
          { op: 'delete', id: 'PERSON_0001' }, // 2: the journal cannot be written
          { op: 'add', name: 'Nia New', seed: 1 }, // 3: the backup cannot be taken
          { op: 'people' },
          { op: 'chmod', path: dir, mode: 0o700 },
          { op: 'chmod', path: `${file}.bak.2`, mode: 0o000 },
          { op: 'delete', id: 'PERSON_0001' }, // 7
        ],
        { uid: NOBODY },
      );
      assertSurvived(run);
      expectOutcome(run, 2, {
        code: 'EERASURE',
        message: /could not be recorded .*EACCES.*nothing was erased/,
      });
      expectOutcome(run, 3, { code: 'EWRITE', message: /backup .* could not be taken: EACCES/ });
      assert.equal((valueOf(run, 4) as string[]).length, 3);
      expectOutcome(run, 7, true);
      assert.equal(existsSync(`${file}.bak.2`), false, 'the unreadable backup is removed');
      assert.deepEqual(
        victimTraces(dir).filter((t) => !t.startsWith('sightings.log')),
        [],
      );
    });

    it('an images folder without write permission: the enrolment is refused, the erasure stays pending and finishes later', async () => {
      const { dir, file } = await nobodysStore();
      const faces = path.join(dir, 'faces');
      const run = runChild(
        [
          { op: 'open', file },
          { op: 'eraser', file: path.join(dir, 'sightings.log') },
          { op: 'chmod', path: faces, mode: 0o500 },
          { op: 'add', name: 'Ola Blocked', seed: 11, crop: 'ola' }, // 3
          { op: 'delete', id: 'PERSON_0001' }, // 4: the images cannot be deleted
          { op: 'people' },
          { op: 'close' },
          { op: 'chmod', path: faces, mode: 0o700 },
          { op: 'open', file }, // 8: the store's part finishes at open
          { op: 'pending' },
          { op: 'finish' }, // 10: the erasers' and the audit log's part
        ],
        { uid: NOBODY },
      );
      assertSurvived(run);
      expectOutcome(run, 3, { code: 'EWRITE', message: /the face image could not be written: EACCES/ });
      expectOutcome(run, 4, {
        code: 'EERASURE',
        message: /the erasure of PERSON_0001 is not finished \(the face store's files\): EACCES/,
      });
      assert.deepEqual(valueOf(run, 5), ['PERSON_0002 Kim Keep 1', 'PERSON_0003 Lee Later 1']);
      assert.equal(valueOf(run, 8), 2);
      assert.deepEqual(valueOf(run, 9), ['PERSON_0001']);
      assert.deepEqual(valueOf(run, 10), ['PERSON_0001']);
      assert.deepEqual(victimTraces(dir), []);
      assert.deepEqual(filesContaining(dir, ['Ola Blocked', 'crop-of-ola']), []);
    });
  },
);

describe('store faults: a full disk (tmpfs)', { skip: rootSkip('mounting a tmpfs') }, () => {
  let mnt = '';
  before(() => {
    mnt = path.join(tmp, 'tmpfs');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', mnt]);
  });
  after(() => {
    spawnSync('umount', [mnt]);
  });

  it('without backups: failed writes are undone (no torn line, nothing written later) and an erasure is refused until there is room', async () => {
    const dir = freshDir(mnt);
    const file = await seed(dir, 0);
    const filler = path.join(dir, 'filler');
    const big = { blob: 'B'.repeat(12000) };
    // Filled once the store is open: NeDB compacts the datafile when it loads, which needs room.
    const run = runChild([
      { op: 'open', file, backups: 0 },
      { op: 'fill', path: filler },
      { op: 'add', name: 'Big Bertha', seed: 31, metadata: big }, // 2
      { op: 'update', id: 'PERSON_0002', metadata: big }, // 3
      { op: 'delete', id: 'PERSON_0003' }, // 4: not even recorded
      { op: 'people' },
      { op: 'rm', path: filler },
      { op: 'delete', id: 'PERSON_0001' }, // 7
      { op: 'add', name: 'Small Sam', seed: 32 }, // 8
      { op: 'close' },
      { op: 'open', file, backups: 0 }, // 10
      { op: 'people' },
    ]);
    assertSurvived(run);
    expectOutcome(run, 2, { code: 'EWRITE', message: /face store .*faces\.db could not be written: ENOSPC/ });
    expectOutcome(run, 3, { code: 'EWRITE', message: /could not be written: ENOSPC/ });
    expectOutcome(run, 4, {
      code: 'EERASURE',
      message: /could not be recorded .*ENOSPC.*nothing was erased/,
    });
    assert.equal((valueOf(run, 5) as string[]).length, 3);
    expectOutcome(run, 7, true);
    expectOutcome(run, 8, true);
    expectOutcome(run, 10, true);
    // The failed enrolment's id counter was undone with it: the id was never anyone's.
    assert.deepEqual(valueOf(run, 11), [
      'PERSON_0002 Kim Keep 1',
      'PERSON_0003 Lee Later 1',
      'PERSON_0004 Small Sam 1',
    ]);
    assert.deepEqual(
      filesContaining(dir, ['Big Bertha', 'BBBBBBBB']),
      [],
      'no failed write reached the disk',
    );
    assert.deepEqual(
      victimTraces(dir).filter((t) => !t.startsWith('sightings.log')),
      [],
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('a sample removal and a re-embedding on a full disk are undone whole, never half a model', () => {
    const dir = freshDir(mnt);
    const file = path.join(dir, 'faces.db');
    const filler = path.join(dir, 'filler');
    const run = runChild([
      { op: 'open', file, backups: 0 },
      { op: 'add', name: 'Ann', seed: 41, crop: 'ann-1' },
      { op: 'add-sample', id: 'PERSON_0001', seed: 42, crop: 'ann-2' },
      { op: 'add', name: 'Bob', seed: 43, crop: 'bob' },
      { op: 'fill', path: filler },
      { op: 'remove-sample', id: 'PERSON_0001', index: 1 }, // 5: the compaction has no room
      { op: 'reembed' }, // 6
      { op: 'people' },
      { op: 'model' },
      { op: 'rm', path: filler },
      { op: 'delete', id: 'PERSON_0002' }, // 10: compacts whatever is in memory
      { op: 'close' },
      { op: 'open', file, backups: 0 }, // 12
      { op: 'people' },
      { op: 'model' },
    ]);
    assertSurvived(run);
    expectOutcome(run, 5, { code: 'EWRITE', message: /could not be compacted: ENOSPC/ });
    expectOutcome(run, 6, { code: 'EWRITE', message: /ENOSPC/ });
    assert.deepEqual(valueOf(run, 7), ['PERSON_0001 Ann 2', 'PERSON_0002 Bob 1']);
    assert.equal(valueOf(run, 8), MODEL);
    expectOutcome(run, 10, true);
    expectOutcome(run, 12, true);
    assert.deepEqual(valueOf(run, 13), ['PERSON_0001 Ann 2']);
    assert.equal(valueOf(run, 14), MODEL, 'the store is still on its model');
    assert.deepEqual(filesContaining(dir, ['test-model-2']), [], 'no descriptor of the new model was kept');
    rmSync(dir, { recursive: true, force: true });
  });

  it('with backups: an erasure on a full disk removes backups to make room and finishes', async () => {
    const dir = freshDir(mnt);
    const file = await seed(dir, 3);
    const filler = path.join(dir, 'filler');
    const run = runChild([
      { op: 'open', file },
      { op: 'eraser', file: path.join(dir, 'sightings.log') },
      { op: 'fill', path: filler },
      { op: 'delete', id: 'PERSON_0001' }, // 3
      { op: 'people' },
      { op: 'fill', path: `${filler}-2` },
      { op: 'add', name: 'Big Bertha', seed: 31, metadata: { blob: 'B'.repeat(12000) } }, // 6
      { op: 'rm', path: filler },
      { op: 'rm', path: `${filler}-2` },
      { op: 'close' },
      { op: 'open', file }, // 10
      { op: 'people' },
    ]);
    assertSurvived(run);
    expectOutcome(run, 3, true);
    assert.equal(valueOf(run, 3), true);
    assert.match(run.stderr, /the disk is full; backup .* was removed to make room for an erasure/);
    assert.deepEqual(valueOf(run, 4), ['PERSON_0002 Kim Keep 1', 'PERSON_0003 Lee Later 1']);
    expectOutcome(run, 6, { code: 'EWRITE', message: /ENOSPC/ });
    expectOutcome(run, 10, true);
    assert.deepEqual(valueOf(run, 11), valueOf(run, 4));
    assert.deepEqual(victimTraces(dir), []);
    assert.deepEqual(leftovers(dir), []);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('store faults: SIGKILL in the middle', () => {
  /** Runs `steps` once with a trace, then once per file operation, killed just before it; `check` after each. */
  async function everyKillPoint(
    template: string,
    steps: (file: string, dir: string) => Step[],
    check: (dir: string, file: string, k: number) => Promise<void>,
  ): Promise<number> {
    const probeDir = freshDir();
    cpSync(template, probeDir, { recursive: true });
    const traced = runChild(steps(path.join(probeDir, 'faces.db'), probeDir), { trace: true });
    assertSurvived(traced);
    const points = traced.trace.length;
    assert.ok(points >= 8, `the operation has file operations to interrupt: ${traced.trace.join(', ')}`);
    for (let k = 1; k <= points; k++) {
      const dir = freshDir();
      cpSync(template, dir, { recursive: true });
      const file = path.join(dir, 'faces.db');
      const run = runChild(steps(file, dir), { killAt: k });
      assert.equal(
        run.signal,
        'SIGKILL',
        `killed before operation ${k} (${traced.trace[k - 1]}): ${run.stderr}`,
      );
      await check(dir, file, k);
      rmSync(dir, { recursive: true, force: true });
    }
    return points;
  }

  it('during an enrolment, at every file operation: the store opens and holds the person whole or not at all', async () => {
    const template = freshDir();
    await seed(template);
    const eve = encodeDescriptor(unitVector(9001));
    const points = await everyKillPoint(
      template,
      (file) => [
        { op: 'open', file },
        { op: 'arm' },
        { op: 'add', name: 'Eve Enrol', seed: 9001, crop: 'eve' },
      ],
      async (dir, file, k) => {
        const store = await FaceStore.open({ file });
        const eves = store.listPeople().filter((p) => p.name === 'Eve Enrol');
        assert.ok(eves.length <= 1);
        if (eves.length) {
          const img = store.imagePath(eves[0].samples[0]);
          assert.ok(
            img && readFileSync(img).toString().includes('crop-of-eve'),
            `point ${k}: her image is whole`,
          );
          assert.equal(store.match(unitVector(9001), MODEL).person?.name, 'Eve Enrol');
        } else {
          assert.deepEqual(
            filesContaining(dir, ['crop-of-eve', 'Eve Enrol', eve]),
            [],
            `point ${k}: nothing of her is left`,
          );
        }
        assert.equal(store.size(), 3 + eves.length);
        assert.deepEqual(leftovers(dir), [], `point ${k}: nothing half-written is left`);
        await store.close();
      },
    );
    assert.ok(points >= 8);
  });

  it('during an erasure, at every file operation: the store opens, the erasure completes, nothing of the person remains', async () => {
    const template = freshDir();
    await seed(template);
    const points = await everyKillPoint(
      template,
      (file, dir) => [
        { op: 'open', file },
        { op: 'eraser', file: path.join(dir, 'sightings.log') },
        { op: 'arm' },
        { op: 'delete', id: 'PERSON_0001' },
      ],
      async (dir, file, k) => {
        const store = await FaceStore.open({ file });
        const pending = store.pendingErasures().map((e) => e.id);
        if (pending.length) {
          assert.deepEqual(pending, ['PERSON_0001']);
          assert.equal(store.getPerson('PERSON_0001'), undefined, `point ${k}: pending, not matched`);
          assert.deepEqual(
            filesContaining(dir, VICTIM_NEEDLES.slice(0, 3)),
            [],
            `point ${k}: the open finished the store's part`,
          );
        }
        const sightings = path.join(dir, 'sightings.log');
        store.addEraser('lines', {
          erasePerson: async (p) => {
            // This stand-in log sweeps its own leftover, as a real one would.
            rmSync(`${sightings}.tmp`, { force: true });
            const kept = readFileSync(sightings, 'utf8')
              .split('\n')
              .filter((l) => l && !l.startsWith(`${p.id} `));
            writeFileSync(sightings, kept.map((l) => l + '\n').join(''));
            return Promise.resolve();
          },
        });
        if (pending.length) assert.deepEqual(await store.finishPendingErasures(), ['PERSON_0001']);
        else if (store.getPerson('PERSON_0001')) assert.equal(await store.deletePerson('PERSON_0001'), true);
        assert.deepEqual(store.pendingErasures(), []);
        assert.deepEqual(
          store
            .listPeople()
            .map((p) => p.name)
            .sort(),
          ['Kim Keep', 'Lee Later'],
        );
        await store.close();
        assert.deepEqual(victimTraces(dir), [], `point ${k}: no trace of the person in any file`);
        assert.deepEqual(leftovers(dir), [], `point ${k}: nothing half-written is left`);
      },
    );
    assert.ok(points >= 10);
  });
});

describe('store lock', () => {
  it('many processes racing for a stale lock: exactly one wins, every round', async () => {
    const racers = 8;
    const rounds = 20;
    const dir = freshDir();
    // A pid that no longer runs: the lock it left is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const stale = JSON.stringify({
      pid: Number(dead.stdout),
      host: os.hostname(),
      owner: 'crashed',
      since: '',
      token: 'old',
    });
    const procs = Array.from({ length: racers }, () => {
      const p = spawn(process.execPath, [child, 'lock'], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, NODE_PATH: NODE_MODULES },
      });
      const lines = readline.createInterface({ input: p.stdout });
      const queue: string[] = [];
      const waiters: Array<(l: string) => void> = [];
      lines.on('line', (l) => {
        const w = waiters.shift();
        if (w) w(l);
        else queue.push(l);
      });
      return {
        p,
        send: (l: string) => p.stdin.write(l + '\n'),
        next: () =>
          new Promise<string>((resolve) => {
            const l = queue.shift();
            if (l !== undefined) resolve(l);
            else waiters.push(resolve);
          }),
      };
    });
    try {
      for (let round = 0; round < rounds; round++) {
        const lock = path.join(dir, `faces-${round}.db.lock`);
        writeFileSync(lock, stale);
        const startAt = Date.now() + 80;
        for (const r of procs) r.send(`try ${lock} ${startAt}`);
        const answers = await Promise.all(procs.map((r) => r.next()));
        const won = answers.filter((a) => a === 'won').length;
        assert.equal(won, 1, `round ${round}: exactly one winner: ${answers.join(' | ')}`);
        assert.ok(
          answers.every((a) => a === 'won' || a.startsWith('locked ')),
          answers.join(' | '),
        );
        const holder = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number };
        assert.equal(holder.pid, procs[answers.indexOf('won')].p.pid, 'the lock names the winner');
        for (const r of procs) r.send('release');
        await Promise.all(procs.map((r) => r.next()));
        assert.equal(existsSync(lock), false, 'the winner released it');
        assert.deepEqual(
          readdirSync(dir).filter((f) => f.startsWith(`faces-${round}.`)),
          [],
          'no temporary or takeover file is left',
        );
      }
    } finally {
      for (const r of procs) r.p.kill();
    }
  });

  it('a lock written half-way is never taken for stale', () => {
    const dir = freshDir();
    const lock = path.join(dir, 'faces.db.lock');
    // What a process killed between creating the lock and writing it left (older versions did
    // this in two steps): an empty, fresh lock is someone's being written, not stale.
    writeFileSync(lock, '');
    const r = spawnSync(process.execPath, [child, 'lock'], {
      input: `try ${lock} 0\nexit\n`,
      encoding: 'utf8',
    });
    assert.match(r.stdout, /^locked .*being written/, r.stdout + r.stderr);
    assert.equal(statSync(lock).size, 0, 'left alone');
  });
});
