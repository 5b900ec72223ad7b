/**
 * The detection events of an installation in PostgreSQL (lib/events/shared-log.ts, pg-events.ts), with
 * two instances on the machine's PostgreSQL (a database of the test's own), one of them through a TCP
 * relay the test cuts: every instance reads every camera's events; events wait in an outbox on disk
 * while the database is away and are written exactly once, in order, when it is back; a deleted person
 * leaves no event, no face and no byte in the database's files; retention runs once for the installation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { PgEvents } from '../../lib/events/pg-events';
import { SharedEventLog } from '../../lib/events/shared-log';
import { closeStore, storeEvents } from '../../lib/events/store-events';
import type { PgStore } from '../../lib/store/pg/pg-store';
import type { OpenStore, Person } from '../../lib/store/types';
import type { DetectionEvent } from '../../lib/types/events';
import { createDatabase, databaseFiles, filesHolding, openInstance, type TestDatabase } from '../helpers/pg';
import { loggedEvent } from '../helpers/sample-event';
import { MODEL, unitVector } from '../helpers/store-fixtures';
import { startRelay, type TcpRelay } from '../helpers/tcp-relay';
import { noiseJpeg } from '../helpers/vision-fixtures';
import { until } from '../helpers/wait';

describe('detection events shared in PostgreSQL by two instances', () => {
  let db: TestDatabase | undefined;
  let relay: TcpRelay | undefined;
  const stores: OpenStore[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    relay?.restore();
    for (const s of stores.splice(0)) await closeStore(s).catch(() => undefined);
    await relay?.close();
    relay = undefined;
    await db?.drop();
    db = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** North (through the relay) and south (direct), each with its own events folder. */
  async function instances(): Promise<{ north: PgStore; south: PgStore; dir: string }> {
    db = await createDatabase();
    relay = await startRelay({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    const through = new URL(db.url);
    through.port = String(relay.port);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-pg-events-'));
    dirs.push(dir);
    const open = async (name: string, url: string): Promise<PgStore> => {
      const s = await openInstance(url, name, dir);
      stores.push(s);
      return s;
    };
    const north = await open('north', through.href);
    const south = await open('south', db.url);
    return { north, south, dir };
  }

  async function sharedLog(store: OpenStore): Promise<SharedEventLog> {
    const log = await storeEvents(store).open();
    assert.ok(log instanceof SharedEventLog, 'a store on PostgreSQL has the shared log');
    return log;
  }

  async function enrol(store: PgStore, name: string, seed: number, others: PgStore[]): Promise<Person> {
    const p = await store.addPerson(
      { name },
      { descriptor: unitVector(seed), modelId: MODEL, source: `${seed}.jpg` },
    );
    for (const o of others)
      await until(`${name} known everywhere`, () => o.getPerson(p.id) !== undefined, 2000, 5);
    return p;
  }

  const drained = async (log: SharedEventLog, ms = 20_000): Promise<void> => {
    await until('the outbox to drain', async () => (await log.outbox()).waiting === 0, ms, 50);
    // The last event's files leave after its index entry.
    await log.idle();
  };

  const at = (secondsAgo: number): string => new Date(Date.now() - secondsAgo * 1000).toISOString();

  it('every instance reads every camera, with the instance that recorded it; the pictures come from the database', async () => {
    const { north, south, dir } = await instances();
    const ann = await enrol(north, 'Ann Example', 1, [south]);
    const [n, s] = [await sharedLog(north), await sharedLog(south)];
    const frame = await noiseJpeg();
    const crop = await noiseJpeg(40);
    const seen = await n.record(
      { ...loggedEvent(at(5), ann), camera: 'north door' },
      { snapshot: frame, crop },
    );
    const passage = [await noiseJpeg(41), await noiseJpeg(42)];
    const stranger = await s.record(
      { ...loggedEvent(at(3), null), camera: 'south gate' },
      { crop, samples: passage },
    );
    assert.equal(seen.instance, 'north');
    await drained(n);
    await drained(s);
    assert.ok(!existsSync(path.join(dir, 'north', 'events', seen.id)), 'written: gone from the outbox');

    for (const log of [n, s]) {
      const events = await log.query();
      assert.deepEqual(
        events.map((e) => [e.id, e.camera, e.instance]),
        [
          [stranger.id, 'south gate', 'south'],
          [seen.id, 'north door', 'north'],
        ],
      );
      assert.deepEqual(await log.frame(seen.id), frame);
      assert.deepEqual(await log.crop(seen.id), crop);
      // The other crops of the stranger's passage, from the database on both instances.
      assert.deepEqual(await log.enrolPictures(stranger.id), [crop, ...passage]);
      assert.deepEqual(await log.enrolPictures(seen.id), [crop]);
      const drawn = await log.snapshot(seen.id);
      assert.ok(
        drawn && drawn[0] === 0xff && drawn[1] === 0xd8 && !drawn.equals(frame),
        'drawn over the frame',
      );
      assert.equal((await log.query({ person: 'Ann Example' }))[0]?.id, seen.id);
      assert.equal((await log.query({ known: false }))[0]?.id, stranger.id);
      assert.equal(await log.countPerson(ann.id), 1);
      const stats = await log.stats(1);
      assert.equal(stats.eventsToday, 2);
      assert.deepEqual(stats.todayByCamera, { 'north door': 1, 'south gate': 1 });
      assert.equal(stats.lastSeen[ann.id]?.camera, 'north door');
    }
  });

  it('writes a batch in one statement, each event once and in order; a batch naming someone deleted falls back to one by one', async () => {
    const { north, south } = await instances();
    const ann = await enrol(north, 'Ann Example', 1, [south]);
    const bob = await enrol(north, 'Bob Example', 2, [south]);
    const table = new PgEvents(north.database(), 'facewatch');
    const frame = await noiseJpeg();
    const events = [
      loggedEvent(at(9), ann),
      { ...loggedEvent(at(8), null), faces: [{ box: { x: 1, y: 1, width: 9, height: 9 }, person: ann }] },
      loggedEvent(at(7), null),
    ];
    const items = events.map((e) => ({ event: e, instance: 'north', pictures: { snapshot: frame } }));
    assert.deepEqual(await table.writeMany(items), ['written', 'written', 'written']);
    // Again, with one more: the three are there already, the new one is written.
    const more = { event: loggedEvent(at(6), bob), instance: 'south', pictures: {} };
    assert.deepEqual(await table.writeMany([...items, more]), ['already', 'already', 'already', 'written']);
    const listed = await table.query({ limit: 10 });
    assert.deepEqual(
      listed.map((e) => e.id),
      [more.event.id, ...events.map((e) => e.id).reverse()],
    );
    assert.deepEqual(
      listed.map((e) => e.instance),
      ['south', 'north', 'north', 'north'],
    );
    assert.deepEqual(await table.picture(events[0].id, 'snapshot'), frame);
    const { rows } = await north
      .database()
      .query<{ face_ids: string[] }>('SELECT face_ids FROM facewatch.events WHERE id = $1', [events[1].id]);
    assert.deepEqual(rows[0]?.face_ids, [ann.id], 'the people in its frame, as text[]');

    // Bob is deleted: a batch with an event of his is written one by one, his refused as erased.
    await south.deletePerson(bob.id);
    const late = [loggedEvent(at(5), ann), loggedEvent(at(4), bob), loggedEvent(at(3), null)];
    assert.deepEqual(
      await table.writeMany(late.map((e) => ({ event: e, instance: 'north', pictures: {} }))),
      ['written', 'erased', 'written'],
    );
  });

  it('with the database cut away, events wait on disk and are written exactly once and in order when it is back', async () => {
    const { north, south, dir } = await instances();
    const ann = await enrol(south, 'Ann Example', 1, [north]);
    const [n, s] = [await sharedLog(north), await sharedLog(south)];
    relay!.cut();
    const recorded: DetectionEvent[] = [];
    for (let i = 0; i < 20; i++)
      recorded.push(
        await n.record(
          { ...loggedEvent(at(60 - i), i % 2 ? ann : null), camera: `cam ${i % 3}` },
          {
            crop: await noiseJpeg(24),
          },
        ),
      );
    // North keeps matching from memory and shows what waits; south sees none of it yet.
    assert.equal(north.match(unitVector(1), MODEL).person?.id, ann.id);
    assert.equal((await n.query({ limit: 100 })).length, 20);
    assert.equal((await s.query({ limit: 100 })).length, 0);
    await until('a failed write', async () => (await n.outbox()).failingSince !== null, 10_000, 50);
    assert.equal((await n.outbox()).waiting, 20);
    assert.equal(
      readdirSync(path.join(dir, 'north', 'events')).length,
      20,
      'each waits in its folder on disk',
    );

    relay!.restore();
    await drained(n, 30_000);
    const client = await db!.connect();
    // Insertion order: each write is its own transaction, so xmin grows with it.
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM facewatch.events WHERE instance = 'north' ORDER BY xmin::text::bigint, id`,
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      recorded.map((e) => e.id).sort(),
      'every event once, oldest first',
    );
    assert.equal((await s.query({ limit: 100 })).length, 20, 'south reads them now');
    await until('writing to work again', async () => (await n.outbox()).failingSince === null, 5000, 20);

    // A write repeated (its answer lost, say) keeps one copy.
    const table = new PgEvents(north.database(), 'facewatch');
    assert.equal(await table.write(recorded[0], 'north', {}), 'already');
    assert.equal(await table.count(), 20);
  });

  it('a person deleted on one instance leaves no event, no face in other frames and no byte in the database files', async () => {
    const { north, south, dir } = await instances();
    const ann = await enrol(north, 'Ann Example', 1, [south]);
    const bob = await enrol(south, 'Bobbington Quillfeather', 2, [north]);
    const [n, s] = [await sharedLog(north), await sharedLog(south)];
    const bobCrop = await noiseJpeg(40);
    const frame = await noiseJpeg();
    const his = await n.record(loggedEvent(at(30), bob), { snapshot: frame, crop: bobCrop });
    const theirs = await n.record(loggedEvent(at(20), ann, { others: [bob], at: 2 }), { snapshot: frame });
    await drained(n);
    // One more of his waits in north's outbox while north is cut off, and is deleted meanwhile.
    relay!.cut();
    const waiting = await n.record(loggedEvent(at(10), bob), { crop: bobCrop });
    await until('a failed write', async () => (await n.outbox()).failingSince !== null, 10_000, 50);

    assert.equal(await south.deletePerson(bob.id, 'test'), true);
    relay!.restore();
    await until('north to know', () => north.getPerson(bob.id) === undefined, 10_000, 20);
    await drained(n, 30_000);

    for (const log of [n, s]) {
      assert.equal(await log.countPerson(bob.id), 0);
      assert.equal(await log.get(his.id), undefined);
      assert.equal(await log.get(waiting.id), undefined, 'what waited was never written');
      const kept = await log.get(theirs.id);
      assert.ok(kept, "Ann's event stays");
      assert.deepEqual(
        kept.faces?.map((f) => f.person?.id ?? null),
        [ann.id],
        'he leaves its faces',
      );
      const kf = await log.frame(theirs.id);
      assert.ok(kf && !kf.equals(frame), 'his face is pixelated in the frame');
    }
    assert.ok(!existsSync(path.join(dir, 'north', 'events', waiting.id)));
    const client = await db!.connect();
    const files = await databaseFiles(client);
    assert.deepEqual(filesHolding(files, bobCrop), [], 'no copy of his crop');
    assert.deepEqual(filesHolding(files, Buffer.from('Bobbington Quillfeather')), [], 'nor of his name');
    assert.deepEqual(filesHolding(files, frame), [], 'nor of the frame with his face');
  });

  it("erasing someone with no event leaves the events table's files as they are; someone with events rewrites them", async () => {
    const { north, south } = await instances();
    const ann = await enrol(north, 'Ann Example', 1, [south]);
    const bob = await enrol(north, 'Bob Example', 2, [south]);
    const n = await sharedLog(north);
    await n.record({ ...loggedEvent(at(5), ann), camera: 'door' }, { snapshot: await noiseJpeg() });
    await drained(n);
    // VACUUM FULL gives a table new files: its file node changes.
    const node = async (): Promise<number> =>
      (
        await north
          .database()
          .query<{ f: number }>(`SELECT pg_relation_filenode('facewatch.events')::int AS f`)
      ).rows[0].f;
    const before = await node();
    await south.deletePerson(bob.id);
    assert.equal(await node(), before, 'Bob had no event: the events table was not rewritten');
    await south.deletePerson(ann.id);
    assert.notEqual(await node(), before, "Ann's event went: the table was rewritten");
    assert.deepEqual(await n.query(), [], 'and her event is gone');
  });

  it('retention and the disk cap run once for the installation: one instance sweeps, the others skip', async () => {
    const { north, south } = await instances();
    const [n, s] = [await sharedLog(north), await sharedLog(south)];
    const old = await n.record(loggedEvent(at(40 * 86400), null));
    const recent: DetectionEvent[] = [];
    for (let i = 0; i < 12; i++)
      recent.push(await s.record(loggedEvent(at(600 - i), null), { snapshot: randomBytes(100_000) }));
    await drained(n);
    await drained(s);
    const settings = { retainKnownDays: 30, retainUnknownDays: 7, maxDiskMB: 1 };
    const tn = new PgEvents(north.database(), 'facewatch');
    const ts = new PgEvents(south.database(), 'facewatch');
    // While another instance holds the sweep, this one skips.
    const client = await db!.connect();
    await client.query("SELECT pg_advisory_lock(hashtext('facewatch.events-sweep:facewatch'))");
    assert.equal(await tn.sweep(settings), null);
    await client.query("SELECT pg_advisory_unlock(hashtext('facewatch.events-sweep:facewatch'))");
    const report = await ts.sweep(settings);
    assert.ok(report);
    assert.equal(report.expired, 1, 'the 40-day-old unknown face');
    assert.ok(report.overCap >= 2, `${report.overCap} over the 1 MB cap`);
    const left = await s.query({ limit: 100 });
    assert.ok(!left.some((e) => e.id === old.id));
    // The newest stay, the oldest went first.
    const ids = left.map((e) => e.id);
    assert.deepEqual(
      ids,
      recent
        .map((e) => e.id)
        .reverse()
        .slice(0, ids.length),
    );
    assert.ok(ids.length >= 8 && ids.length <= 10, `${ids.length} kept under 1 MB`);
  });
});
