/**
 * Scale benchmark (`npm run bench -- scale`): several instances on one face store in PostgreSQL (a
 * database the benchmark makes on the machine's server, FACEWATCH_TEST_PG_URL or
 * postgres://postgres@127.0.0.1:5432/postgres, and drops), each instance a PgStore as a face-store
 * node opens it. Side by side in one run:
 *
 * - **Propagation**: people enrolled, renamed and deleted on instance A, one after another; how long
 *   until instance B has applied each change (its store event), against how long A's own call took
 *   (the change committed and applied by A itself). Target: p95 under 1 s.
 * - **Event writes** into the events table with a 50 KB frame and a 5 KB crop each: one INSERT per
 *   event (the baseline, as the outbox wrote before) against the batched write (`writeMany`, 20 a
 *   statement), three rounds each, alternating (the median); and the whole path of an instance (recorded on its disk, shipped from the outbox)
 *   against the file log alone (what a single instance does). Target: 1000 events/s into PostgreSQL.
 * - **Catch-up**: instance C behind a TCP relay cut for 30 s while A makes 1000 changes; the time
 *   from the relay's return until C has applied every one.
 * - **Startup** of an instance on 100 000 people (one sample each), from PostgreSQL and from a NeDB
 *   datafile, each opened in a fresh process.
 *
 * Writes bench/results/scale.json with each target's pass or fail. SCALE_PEOPLE sets the startup
 * size (default 100000), SCALE_CUT_S the cut (default 30).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { EventLog } from '../lib/events/log';
import { PgEvents } from '../lib/events/pg-events';
import { SharedEventLog } from '../lib/events/shared-log';
import { closeStore, storeEvents } from '../lib/events/store-events';
import { FaceStore } from '../lib/store/face-store';
import { PgStore } from '../lib/store/pg/pg-store';
import { descriptorBytes } from '../lib/store/pg/people';
import type { Person } from '../lib/store/types';
import type { DetectionEvent } from '../lib/types/events';
import { createDatabase, openInstance, type TestDatabase } from '../test/helpers/pg';
import { loggedEvent } from '../test/helpers/sample-event';
import { MODEL, unitVector } from '../test/helpers/store-fixtures';
import { startRelay } from '../test/helpers/tcp-relay';
import { noiseJpeg } from '../test/helpers/vision-fixtures';

const STARTUP_PEOPLE = Number(process.env.SCALE_PEOPLE ?? 100_000);
const CUT_S = Number(process.env.SCALE_CUT_S ?? 30);
const TARGETS = { propagationP95Ms: 1000, eventsPerSecond: 1000 };

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
}
const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** Resolves when `store` emits `event` for person `id`, with the time (performance.now()). */
function when(
  store: PgStore,
  event: 'person-added' | 'person-updated' | 'person-deleted',
  id: string,
): Promise<number> {
  return new Promise((resolve) => {
    const on = (p: Person): void => {
      if (p.id !== id) return;
      store.off(event, on);
      resolve(performance.now());
    };
    store.on(event, on);
  });
}

/** Enrol, rename and delete on A, each awaited on B: A's call, and B's apply, from the call's start. */
async function propagation(a: PgStore, b: PgStore, n: number): Promise<Record<string, unknown>> {
  const rows: Record<string, { call: number[]; other: number[] }> = {
    enrol: { call: [], other: [] },
    rename: { call: [], other: [] },
    delete: { call: [], other: [] },
  };
  const time = async (
    kind: string,
    id: string,
    event: Parameters<typeof when>[1],
    change: () => Promise<unknown>,
  ): Promise<void> => {
    const seen = when(b, event, id);
    const t0 = performance.now();
    await change();
    rows[kind].call.push(performance.now() - t0);
    rows[kind].other.push((await seen) - t0);
  };
  for (let i = 0; i < n; i++) {
    const id = `PROP_${i}`;
    await time('enrol', id, 'person-added', () =>
      a.addPerson(
        { id, name: `Person ${i}` },
        { descriptor: unitVector(10_000 + i), modelId: MODEL, source: 'bench' },
      ),
    );
    await time('rename', id, 'person-updated', () => a.updatePerson(id, { name: `Person ${i} renamed` }));
    // A deletion is slower for the deleting instance (it rewrites the tables after the commit); the
    // others drop the person as the change arrives.
    if (i % 5 === 0) await time('delete', id, 'person-deleted', () => a.deletePerson(id));
  }
  const out: Record<string, unknown> = {};
  for (const [kind, r] of Object.entries(rows))
    out[kind] = {
      changes: r.call.length,
      otherInstanceP50Ms: pct(r.other, 50),
      otherInstanceP95Ms: pct(r.other, 95),
      otherInstanceMaxMs: pct(r.other, 100),
      ownCallP50Ms: pct(r.call, 50),
      ownCallP95Ms: pct(r.call, 95),
    };
  return out;
}

/** A JPEG of noise of about `bytes` bytes. */
async function jpegOf(bytes: number): Promise<Buffer> {
  let side = Math.round(Math.sqrt(bytes / 1.1));
  for (;;) {
    const jpeg = await noiseJpeg(side, { sigma: 40, quality: 80 });
    if (jpeg.length >= bytes * 0.9) return jpeg;
    side = Math.round(side * 1.1);
  }
}

function unknownEvents(n: number, start: number): DetectionEvent[] {
  // Distinct times a millisecond apart: distinct ids, in order.
  return Array.from({ length: n }, (_, i) => ({
    ...loggedEvent(new Date(start + i).toISOString(), null),
    camera: `cam${i % 8}`,
  }));
}

async function eventWrites(a: PgStore, dir: string): Promise<Record<string, unknown>> {
  const frame = await jpegOf(50 * 1024);
  const crop = await jpegOf(5 * 1024);
  const table = new PgEvents(a.database(), a.schema);
  const pictures = { snapshot: frame, crop };
  const now = Date.now() - 3_600_000;

  // Rounds of each, alternating, so that the server's checkpoints weigh on both alike; the median.
  const singleRates: number[] = [];
  const batchRates: number[] = [];
  let next = now;
  // A first round of each, not counted: connections, the server's caches and the code warm up.
  for (let round = -1; round < 3; round++) {
    const single = unknownEvents(300, next);
    next += 10_000;
    let t0 = performance.now();
    for (const e of single) await table.write(e, 'a', pictures);
    if (round >= 0) singleRates.push(single.length / ((performance.now() - t0) / 1000));
    const batched = unknownEvents(1000, next);
    next += 10_000;
    t0 = performance.now();
    for (let i = 0; i < batched.length; i += 20)
      await table.writeMany(batched.slice(i, i + 20).map((event) => ({ event, instance: 'a', pictures })));
    if (round >= 0) batchRates.push(batched.length / ((performance.now() - t0) / 1000));
  }

  // The whole path of an instance against the file log alone, the same 1000 events.
  const path1000 = unknownEvents(1000, next);
  next += 10_000;
  const fileLog = await EventLog.open({ file: path.join(dir, 'alone', 'events.db') });
  let t0 = performance.now();
  for (const e of path1000) await fileLog.record(e, { snapshot: frame, crop });
  const fileMs = performance.now() - t0;
  await fileLog.close();

  const shared = (await storeEvents(a).open()) as SharedEventLog;
  const path2 = unknownEvents(1000, next);
  t0 = performance.now();
  for (const e of path2) await shared.record(e, { snapshot: frame, crop });
  const recordedMs = performance.now() - t0;
  for (;;) {
    await shared.ship();
    if ((await shared.outbox()).waiting === 0) break;
  }
  await shared.idle();
  const sharedMs = performance.now() - t0;

  const perS = (n: number, ms: number): number => Math.round(n / (ms / 1000));
  return {
    frameBytes: frame.length,
    cropBytes: crop.length,
    oneInsertPerEvent: {
      eventsPerRound: 300,
      eventsPerSecond: Math.round(pct(singleRates, 50)),
      rounds: singleRates.map(Math.round),
    },
    batched20: {
      eventsPerRound: 1000,
      eventsPerSecond: Math.round(pct(batchRates, 50)),
      rounds: batchRates.map(Math.round),
    },
    fileLogAlone: { events: path1000.length, eventsPerSecond: perS(path1000.length, fileMs) },
    sharedLog: {
      events: path2.length,
      recordedPerSecond: perS(path2.length, recordedMs),
      inDatabasePerSecond: perS(path2.length, sharedMs),
    },
  };
}

/** C behind a relay cut for CUT_S seconds while A makes `changes` changes; C's catch-up after. */
async function catchUp(
  db: TestDatabase,
  a: PgStore,
  dir: string,
  changes: number,
): Promise<Record<string, unknown>> {
  const u = new URL(db.url);
  const relay = await startRelay({ host: u.hostname, port: Number(u.port || 5432) });
  const via = new URL(db.url);
  via.port = String(relay.port);
  const c = await openInstance(via.href, 'c', dir);
  try {
    relay.cut();
    const cutAt = performance.now();
    let made = 0;
    for (let i = 0; made < changes; i++) {
      const id = `CUT_${i}`;
      await a.addPerson(
        { id, name: `Cut ${i}` },
        { descriptor: unitVector(50_000 + i), modelId: MODEL, source: 'bench' },
      );
      made++;
      if (made < changes && i % 4 === 0) {
        await a.updatePerson(id, { name: `Cut ${i} renamed` });
        made++;
      }
    }
    const makeMs = performance.now() - cutAt;
    const wait = CUT_S * 1000 - (performance.now() - cutAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const behind = a.seq - c.seq;
    relay.restore();
    const t0 = performance.now();
    while (c.seq < a.seq) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - t0;
    const same = c.size() === a.size() && a.listPeople().every((p) => c.getPerson(p.id)?.name === p.name);
    return {
      cutSeconds: round((performance.now() - cutAt - ms) / 1000),
      changesMadeMeanwhile: made,
      makeSeconds: round(makeMs / 1000),
      changesBehind: behind,
      catchUpMs: Math.round(ms),
      sameAsWriterAfter: same,
    };
  } finally {
    await closeStore(c);
    await relay.close();
  }
}

/** Fills a migrated schema with `n` people of one sample each, straight into the tables. */
async function bulkPeople(url: string, schema: string, n: number): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const t = (x: string): string => `${schema}.${x}`;
    const created = new Date().toISOString();
    for (let from = 0; from < n; from += 5000) {
      const ids: string[] = [];
      const names: string[] = [];
      const descriptors: Buffer[] = [];
      for (let i = from; i < Math.min(n, from + 5000); i++) {
        ids.push(`BULK_${i}`);
        names.push(`Person ${i}`);
        descriptors.push(descriptorBytes(unitVector(100_000 + i)));
      }
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO ${t('people')} (id, name, metadata, created_at, updated_at)
         SELECT id, name, '{}', $3, $3 FROM unnest($1::text[], $2::text[]) AS r(id, name)`,
        [ids, names, created],
      );
      await c.query(
        `INSERT INTO ${t('samples')} (id, person_id, position, descriptor, model_id, source, time)
         SELECT id || '_s1', id, 0, d, $3, 'bench', $4 FROM unnest($1::text[], $2::bytea[]) AS r(id, d)`,
        [ids, descriptors, MODEL, created],
      );
      await c.query('COMMIT');
    }
    await c.query(`UPDATE ${t('store_meta')} SET model_id = $1, dim = 128, next_id = $2`, [MODEL, n + 1]);
  } finally {
    await c.end();
  }
}

/** Opens a store in a fresh process (`--open-pg <url>` or `--open-nedb <file>`): its load time and memory. */
function openInChild(kind: 'pg' | 'nedb', where: string): Record<string, number> {
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, `--open-${kind}`, where], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

async function openChild(kind: 'pg' | 'nedb', where: string): Promise<void> {
  const before = process.memoryUsage();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-open-'));
  const t0 = performance.now();
  const store =
    kind === 'pg'
      ? await PgStore.open({
          connection: { connectionString: where },
          instance: 'startup',
          eventsFile: path.join(dir, 'events.db'),
        })
      : await FaceStore.open({ file: where, backups: 0, lock: false });
  const ms = performance.now() - t0;
  const mem = process.memoryUsage();
  const people = store.size();
  // One search, to show the index is ready.
  const t1 = performance.now();
  store.match(unitVector(100_000 + 7), MODEL);
  const matchMs = performance.now() - t1;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const mib = (x: number): number => round(x / 2 ** 20);
  process.stdout.write(
    `${JSON.stringify({
      openMs: Math.round(ms),
      people,
      firstMatchMs: round(matchMs, 2),
      rssGrowthMiB: mib(mem.rss - before.rss),
      heapUsedGrowthMiB: mib(mem.heapUsed - before.heapUsed),
    })}\n`,
  );
}

async function startup(n: number, dir: string): Promise<Record<string, unknown>> {
  const db = await createDatabase();
  try {
    // The schema as an instance makes it, then the people straight into its tables.
    const first = await PgStore.open({
      connection: { connectionString: db.url },
      instance: 'maker',
      eventsFile: path.join(dir, 'maker', 'events.db'),
    });
    await first.close();
    let t0 = performance.now();
    await bulkPeople(db.url, 'facewatch', n);
    const pgBuildS = round((performance.now() - t0) / 1000);
    const pg = openInChild('pg', db.url);

    const file = path.join(dir, `faces-${n}.db`);
    const nedb = await FaceStore.open({ file, backups: 0 });
    t0 = performance.now();
    await nedb.batch(async (tx) => {
      for (let i = 0; i < n; i++)
        await tx.addPerson(
          { id: `BULK_${i}`, name: `Person ${i}` },
          { descriptor: unitVector(100_000 + i), modelId: MODEL, source: 'bench' },
        );
    });
    const nedbBuildS = round((performance.now() - t0) / 1000);
    await nedb.close();
    const fromFile = openInChild('nedb', file);
    return {
      people: n,
      postgres: { ...pg, builtInS: pgBuildS },
      nedb: { ...fromFile, builtInS: nedbBuildS, datafileMiB: round(statSync(file).size / 2 ** 20) },
    };
  } finally {
    await db.drop();
  }
}

export async function run(): Promise<unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-scale-'));
  const load = os.loadavg();
  const db = await createDatabase();
  const result: Record<string, unknown> = {
    generated: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      loadavgStart: load,
    },
    postgres: '',
    targets: {},
  };
  try {
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    result.postgres = (await admin.query<{ v: string }>('SELECT version() AS v')).rows[0]?.v ?? '';
    await admin.end();
    const a = await openInstance(db.url, 'a', dir);
    const b = await openInstance(db.url, 'b', dir);
    try {
      // Event writes first: the deletions of the propagation phase rewrite tables (VACUUM FULL), and
      // the server's own clean-up after them would weigh on the writes.
      say('event writes: 50 KB frames and 5 KB crops');
      result.eventWrites = await eventWrites(a, dir);
      say(JSON.stringify(result.eventWrites));
      say('propagation: 200 enrolments and renames, 40 deletions on A, each awaited on B');
      result.propagation = await propagation(a, b, 200);
      say(JSON.stringify(result.propagation));
      say(`catch-up: C cut off for ${CUT_S} s while A makes 1000 changes`);
      result.catchUp = await catchUp(db, a, dir, 1000);
      say(JSON.stringify(result.catchUp));
    } finally {
      await closeStore(a);
      await closeStore(b);
    }
    say(`startup on ${STARTUP_PEOPLE} people: PostgreSQL and NeDB`);
    result.startup = await startup(STARTUP_PEOPLE, dir);
    say(JSON.stringify(result.startup));
  } finally {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
  const prop = result.propagation as Record<string, { otherInstanceP95Ms: number }>;
  const worstP95 = Math.max(...Object.values(prop).map((p) => p.otherInstanceP95Ms));
  const writes = result.eventWrites as { batched20: { eventsPerSecond: number } };
  const targets = result.targets as Record<string, { value: unknown; limit: string; pass: boolean }>;
  targets.propagationP95 = {
    value: worstP95,
    limit: `< ${TARGETS.propagationP95Ms} ms`,
    pass: worstP95 < TARGETS.propagationP95Ms,
  };
  targets.eventWrites = {
    value: writes.batched20.eventsPerSecond,
    limit: `>= ${TARGETS.eventsPerSecond} events/s`,
    pass: writes.batched20.eventsPerSecond >= TARGETS.eventsPerSecond,
  };
  targets.catchUpComplete = {
    value: (result.catchUp as { sameAsWriterAfter: boolean }).sameAsWriterAfter,
    limit: 'every change applied',
    pass: (result.catchUp as { sameAsWriterAfter: boolean }).sameAsWriterAfter,
  };
  (result.machine as Record<string, unknown>).loadavgEnd = os.loadavg();
  const out = path.join(__dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'scale.json'), JSON.stringify(result, null, 2) + '\n');
  for (const [name, t] of Object.entries(targets))
    say(`${t.pass ? 'pass' : 'FAIL'}  ${name}: ${JSON.stringify(t.value)} (${t.limit})`);
  if (!Object.values(targets).every((t) => t.pass)) process.exitCode = 1;
  return result;
}

if (require.main === module) {
  const pg = process.argv.indexOf('--open-pg');
  const nedb = process.argv.indexOf('--open-nedb');
  const job =
    pg > 0
      ? openChild('pg', process.argv[pg + 1])
      : nedb > 0
        ? openChild('nedb', process.argv[nedb + 1])
        : run().then(() => undefined);
  job.catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
