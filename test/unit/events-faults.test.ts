/**
 * The detection log under real faults, each run in a child process (events-fault-child.ts): a
 * process killed with SIGKILL in the middle of a retention sweep and of an erasure (at several
 * moments), then the log reopened: it opens, no event is half there (a record without its pictures,
 * pictures without their record, a temporary file), and the sweep or erasure run again finishes
 * the job. And a file system that fills up (a tmpfs the test mounts, as root): the write that fails
 * is refused with a clear error, and the event that failed does not come back, in memory, after a
 * compaction or after a reopen.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EventLog } from '../../lib/events/log';
import { IN_CI, ROOT } from '../helpers/env';
import { filesContaining } from '../helpers/files';
import { ALICE, logFile, NOW } from '../helpers/events-fault-child';

const CHILD = path.join(__dirname, '..', 'helpers', 'events-fault-child.ts');
const IS_ROOT = process.getuid?.() === 0;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the child; with `killAfterMs`, kills it with SIGKILL that long after it opened the log. */
function child(args: string[], killAfterMs?: number): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (killAfterMs !== undefined && stdout.includes('opened\n'))
        setTimeout(() => p.kill('SIGKILL'), killAfterMs).unref();
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** No event half there: each record's pictures exist, each picture folder has its record, no temporary file. */
async function assertWhole(dir: string): Promise<EventLog> {
  const log = await EventLog.open({ file: logFile(dir), dailyFiles: true, timezone: 'UTC' });
  const events = await log.query({ limit: 1000 });
  const ids = new Set(events.map((e) => e.id));
  for (const e of events)
    for (const rel of [e.snapshot, e.crop])
      if (rel) assert.ok(existsSync(path.join(log.images.root, rel)), `${e.id}: ${rel} exists`);
  const folders = existsSync(log.images.root) ? readdirSync(log.images.root) : [];
  for (const f of folders) assert.ok(ids.has(f), `picture folder ${f} has its event`);
  const all = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? all(path.join(d, e.name)) : [path.join(d, e.name)],
    );
  assert.deepEqual(
    all(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('~')),
    [],
    'no temporary file is left',
  );
  return log;
}

describe('the detection log under faults', () => {
  let tmp: string;
  let seeded: string;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'fw-events-faults-'));
    seeded = path.join(tmp, 'seeded');
    mkdirSync(seeded);
    const jpeg = path.join(tmp, 'face.jpg');
    await sharp({ create: { width: 48, height: 48, channels: 3, background: '#a0522d' } })
      .jpeg()
      .toFile(jpeg);
    const r = await child(['seed', seeded, jpeg]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const mode of ['sweep', 'erase'] as const) {
    it(`a process killed in the middle of ${mode === 'sweep' ? 'a retention sweep' : 'an erasure'} leaves a log that opens whole, and the next run finishes`, async () => {
      let interrupted = 0;
      for (const delay of [5, 20, 40, 80, 160, 320]) {
        const dir = path.join(tmp, `${mode}-${delay}`);
        cpSync(seeded, dir, { recursive: true });
        const r = await child([mode, dir], delay);
        if (r.signal === 'SIGKILL') interrupted++;
        else assert.equal(r.code, 0, r.stderr);
        const log = await assertWhole(dir);
        if (mode === 'sweep') {
          await log.sweep(NOW);
          const left = await log.query({ limit: 1000 });
          assert.equal(left.length, 30, `only the recent events stay (killed after ${delay} ms)`);
          assert.ok(left.every((e) => e.time >= '2026-06-29'));
          const daily = readdirSync(path.dirname(log.file)).filter((f) => f.startsWith('detections_'));
          assert.deepEqual(daily, ['detections_2026-06-29.jsonl'], 'the expired daily lines went too');
        } else {
          await log.erasePerson(ALICE.id);
          assert.deepEqual(
            filesContaining(dir, ALICE.name),
            [],
            `no trace of her (killed after ${delay} ms)`,
          );
          assert.ok((await log.query({ limit: 1000 })).length > 0, "the others' events stay");
        }
        await log.close();
        await assertWhole(dir).then((l) => l.close());
      }
      assert.ok(interrupted >= 2, `the ${mode} was interrupted ${interrupted} times`);
    });
  }

  it('a full file system: the failed write is refused clearly and its event never comes back', async (t) => {
    if (!IS_ROOT) {
      if (IN_CI) throw new Error('required under CI: mounting a tmpfs needs root');
      t.skip('mounting a tmpfs needs root (run as root, as CI does)');
      return;
    }
    const mnt = path.join(tmp, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      // Whichever write of an event meets the full disk first (its file, its daily line, the index's
      // append), the error says which, and nothing of the event stays.
      for (const daily of ['', 'daily']) {
        rmSync(path.join(mnt, 'events'), { recursive: true, force: true });
        const r = await child(['fill', mnt, daily]);
        assert.equal(r.code, 0, `the child ended normally: ${r.stderr}`);
        const out = JSON.parse(r.stdout.trim()) as {
          recorded: number;
          error: string;
          inMemory: number;
          afterSweep: number;
          reopened: number;
        };
        assert.match(
          out.error,
          daily
            ? /detection log .*events.db could not record an event \(its (file|daily file)\): ENOSPC|detection log .*events.db could not be written: ENOSPC/
            : /detection log .*events.db could not record an event \(its file\): ENOSPC|detection log .*events.db could not be written: ENOSPC/,
        );
        assert.ok(out.recorded > 0, 'some events fitted');
        assert.equal(out.inMemory, out.recorded, `${daily || 'datafile'}: the failed event is not in memory`);
        assert.equal(out.afterSweep, out.recorded, 'nor after a compaction');
        assert.equal(out.reopened, out.recorded, 'nor after a reopen');
      }
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
