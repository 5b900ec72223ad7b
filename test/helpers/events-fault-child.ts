/**
 * The detection log's side of the fault tests (events-faults.test.ts), run in a child process so
 * that a fault turned into an uncaught exception kills the child, not the test runner.
 *
 * `seed <dir>`: a log with old and recent events, pictures and daily files;
 * `sweep <dir>` and `erase <dir>`: a retention sweep, an erasure (the parent kills it midway);
 * `fill <dir> [daily]`: events recorded on a nearly full file system until a write fails (the
 * datafile's, or with `daily` the daily file's), then what the log holds in memory, after a
 * compaction and after a reopen (printed as JSON).
 */
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EventLog } from '../../lib/events/log';
import type { DetectionEvent } from '../../lib/types/events';
import { loggedEvent } from './sample-event';

export const ALICE = { id: 'PERSON_0001', name: 'Alice Aardvark' };
export const BOB = { id: 'PERSON_0002', name: 'Bob Bandicoot' };
/** The time the sweeps run at. */
export const NOW = Date.parse('2026-06-30T12:00:00Z');

export function logFile(dir: string): string {
  return path.join(dir, 'events', 'events.db');
}

function event(
  time: string,
  person: typeof ALICE | null,
  others: Array<typeof ALICE | null> = [],
): DetectionEvent {
  return loggedEvent(time, person, {
    side: 24,
    at: 4,
    others,
    trackId: `T${Math.random().toString(36).slice(2)}`,
  });
}

const options = { dailyFiles: true, timezone: 'UTC', retainKnownDays: 30, retainUnknownDays: 7 };

async function seed(dir: string, jpeg: Buffer): Promise<void> {
  const log = await EventLog.open({ file: logFile(dir), ...options });
  for (let i = 0; i < 120; i++) {
    // Old: known events of Alice and Bob (over 30 days), unknown ones over 7 days; recent: kept.
    const day = String(1 + (i % 28)).padStart(2, '0');
    const who = i % 3 === 0 ? ALICE : i % 3 === 1 ? BOB : null;
    const month = who ? '05' : '06';
    const unknownDay = String(1 + (i % 20)).padStart(2, '0');
    await log.record(
      event(`2026-${month}-${who ? day : unknownDay}T10:00:00.000Z`, who, who === BOB ? [ALICE] : []),
      {
        snapshot: jpeg,
        crop: jpeg,
      },
    );
  }
  for (let i = 0; i < 30; i++) {
    const who = i % 2 ? ALICE : BOB;
    await log.record(
      event(`2026-06-29T${String(i % 24).padStart(2, '0')}:00:00.000Z`, who, [i % 2 ? BOB : ALICE]),
      {
        snapshot: jpeg,
        crop: jpeg,
      },
    );
  }
  await log.close();
}

async function fill(dir: string, dailyFiles: boolean): Promise<void> {
  const log = await EventLog.open({ file: logFile(dir), ...options, dailyFiles });
  // Leave a few kilobytes free: the datafile's appends fail first, not the pictures.
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const filler = path.join(dir, 'filler');
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - 12 * 1024)));
  let recorded = 0;
  let error = '';
  for (let i = 0; i < 1000 && !error; i++) {
    try {
      await log.record(event(new Date(NOW - i * 1000).toISOString(), i % 2 ? ALICE : null));
      recorded++;
    } catch (err) {
      error = (err as Error).message;
    }
  }
  const inMemory = (await log.query({ limit: 1000 })).length;
  let compactError = '';
  await log.sweep(NOW).catch((err: Error) => (compactError = err.message));
  const afterSweep = (await log.query({ limit: 1000 })).length;
  await log.close();
  rmSync(filler);
  const again = await EventLog.open({ file: logFile(dir), ...options });
  await again.sweep(NOW);
  const reopened = (await again.query({ limit: 1000 })).length;
  await again.close();
  process.stdout.write(
    JSON.stringify({ recorded, error, inMemory, compactError, afterSweep, reopened }) + '\n',
  );
}

async function main(): Promise<void> {
  const [mode, dir, jpegFile] = process.argv.slice(2);
  if (mode === 'seed') {
    const { readFileSync } = await import('node:fs');
    return seed(dir, readFileSync(jpegFile));
  }
  if (mode === 'fill') return fill(dir, jpegFile === 'daily');
  const log = await EventLog.open({ file: logFile(dir), ...options });
  process.stdout.write('opened\n');
  if (mode === 'sweep') await log.sweep(NOW);
  else if (mode === 'erase') await log.erasePerson(ALICE.id);
  await log.close();
  process.stdout.write('done\n');
}

// Run as a script (the test imports its constants only).
if (require.main === module)
  main().catch((err: Error) => {
    process.stderr.write(`failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  });
