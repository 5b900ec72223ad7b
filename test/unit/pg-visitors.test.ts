/**
 * Recurring visitors on a store shared in PostgreSQL, with two instances on a database the test makes:
 * one gallery for the installation (a stranger seen by one instance keeps its id on the other, ids
 * made on both at once never collide), Merge, Split, Enrol as and Forget from either instance reach
 * the other's gallery and its MQTT listeners, an event waiting in an outbox follows its visitor when
 * it is written (merged, enrolled, forgotten), Forget leaves no descriptor byte in the database's
 * files, unknown retention removes visitors on every instance, and while the database is unreachable
 * an unknown track is recorded without a visitor id (said once), never lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EventLog } from '../../lib/events/log';
import { EventRecorder, type RecordFace } from '../../lib/events/recorder';
import { PgEvents, VisitorsGone } from '../../lib/events/pg-events';
import { SharedEventLog } from '../../lib/events/shared-log';
import { closeStore, onVisitorGone, storeEvents } from '../../lib/events/store-events';
import { eventVisitor, type VisitorRegistry } from '../../lib/events/visitors';
import type { PgStore } from '../../lib/store/pg/pg-store';
import type { DetectionEvent } from '../../lib/types/events';
import { createDatabase, databaseFiles, filesHolding, openInstance, type TestDatabase } from '../helpers/pg';
import { loggedEvent } from '../helpers/sample-event';
import { MODEL, unitVector } from '../helpers/store-fixtures';
import { startRelay } from '../helpers/tcp-relay';
import { until } from '../helpers/wait';

const T0 = Date.parse('2026-12-01T09:00:00Z');
const HOUR = 3_600_000;

describe('recurring visitors shared by two instances on PostgreSQL', () => {
  let db: TestDatabase;
  let dir: string;
  let north: PgStore;
  let south: PgStore;
  let nb: VisitorRegistry;
  let sb: VisitorRegistry;
  let crop: Buffer;
  const gone: Array<{ store: string; id: string }> = [];
  let stop: () => void;

  before(async () => {
    db = await createDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-pg-visitors-'));
    north = await openInstance(db.url, 'north', dir);
    south = await openInstance(db.url, 'south', dir);
    nb = (await storeEvents(north).visitors())!;
    sb = (await storeEvents(south).visitors())!;
    stop = onVisitorGone((s, id) => gone.push({ store: s === north ? 'north' : 'south', id }));
    crop = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#80a070' } })
      .jpeg()
      .toBuffer();
  });
  after(async () => {
    stop?.();
    for (const s of [north, south]) if (s) await closeStore(s).catch(() => undefined);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A visit of face `seed` on `store` at `time`: its visitor given and its event recorded (and written). */
  async function visit(store: PgStore, seed: number, time: number, camera = 'door'): Promise<DetectionEvent> {
    const book = store === north ? nb : sb;
    const log = (await storeEvents(store).open()) as SharedEventLog;
    const iso = new Date(time).toISOString();
    const e0 = { ...loggedEvent(iso, null, { trackId: `t${time}` }), camera, known: false, person: null };
    const a = (await book.assign({
      frames: [{ descriptor: unitVector(seed), quality: 0.5 }],
      camera,
      time,
      event: e0.id,
    }))!;
    const e = await log.record({ ...e0, visitor: eventVisitor(a.visitor) }, { crop });
    await log.ship();
    return e;
  }

  const stored = async (visitor: string): Promise<string[]> =>
    (await new PgEvents(north.database(), north.schema).visitorEvents(visitor)).map((e) => e.id);

  it('gives a stranger one id on both instances, and ids made on both at once never collide', async () => {
    const first = await visit(north, 1, T0);
    const id = first.visitor!.id;
    assert.equal(id, 'VISITOR_0001');
    await until('south to know the visitor', () => sb.gallery.get(id), 5000, 10);
    const again = await visit(south, 1, T0 + 3 * HOUR, 'lobby');
    assert.equal(again.visitor?.id, id, 'the same stranger on the other instance');
    assert.equal(again.visitor?.visits, 2);
    assert.deepEqual(again.visitor?.cameras, ['door', 'lobby']);
    await until('north to see the second visit', () => nb.gallery.get(id)?.visits === 2, 5000, 10);
    assert.equal(nb.gallery.get(id)?.samples.length, 2, 'the samples of both instances kept');

    // Two new strangers at once, one on each instance.
    const [a, b] = await Promise.all([visit(north, 2, T0 + 4 * HOUR), visit(south, 3, T0 + 4 * HOUR)]);
    assert.notEqual(a.visitor!.id, b.visitor!.id);
    for (const book of [nb, sb])
      await until(
        'both galleries to hold all three',
        () => book.gallery.size === 3 && book.gallery.get(a.visitor!.id) && book.gallery.get(b.visitor!.id),
        5000,
        10,
      );
    assert.deepEqual(await stored(id), [first.id, again.id], "both instances' events in the table");
    const seen = await storeEvents(south).visitorEvents(id);
    assert.deepEqual(
      seen?.events.map((e) => e.id),
      [first.id, again.id],
    );
  });

  it('merges on one instance: the events carry the id, the other instance forgets the merged visitor', async () => {
    const a = (await visit(north, 10, T0 + 5 * HOUR)).visitor!.id;
    const bEvent = await visit(north, 11, T0 + 6 * HOUR);
    const b = bEvent.visitor!.id;
    await until('south to know both', () => sb.gallery.get(a) && sb.gallery.get(b), 5000, 10);
    gone.length = 0;
    const merged = await storeEvents(south).mergeVisitors(a, b, 'tester');
    assert.equal(merged?.visits, 2);
    await until('north to forget the merged visitor', () => !nb.gallery.get(b), 5000, 10);
    assert.equal(nb.gallery.get(a)?.samples.length, 2);
    assert.deepEqual(await stored(b), []);
    assert.ok((await stored(a)).includes(bEvent.id));
    const e = await new PgEvents(north.database(), north.schema).get(bEvent.id);
    assert.equal(e?.visitor?.id, a);
    await until(
      'both instances to tell face-mqtt',
      () => gone.filter((g) => g.id === b).length === 2,
      5000,
      10,
    );
  });

  it('splits on one instance: the new visitor from the sequence, the moved events relabelled', async () => {
    const e1 = await visit(south, 20, T0 + 7 * HOUR);
    const id = e1.visitor!.id;
    const e2 = await visit(south, 20, T0 + 9 * HOUR);
    const out = await storeEvents(north).splitVisitor(id, [e2.id]);
    assert.ok(out);
    assert.match(out.to.id, /^VISITOR_\d{4}$/);
    await until('south to hold the new visitor', () => sb.gallery.get(out.to.id), 5000, 10);
    assert.deepEqual(await stored(out.to.id), [e2.id]);
    assert.deepEqual(await stored(id), [e1.id]);
  });

  it('an event waiting in an outbox follows its visitor when it is written: merged, enrolled, forgotten', async () => {
    let paused = true;
    const outbox = new SharedEventLog({
      local: await EventLog.open({ file: path.join(dir, 'outbox', 'events.db') }),
      table: new PgEvents(north.database(), north.schema),
      instance: 'north',
      writeProblem: () => (paused ? 'paused by the test' : undefined),
      holds: (p) => north.getPerson(p) !== undefined,
    });
    try {
      const waiting = async (seed: number, time: number): Promise<DetectionEvent> => {
        const a = (await nb.assign({
          frames: [{ descriptor: unitVector(seed), quality: 0.5 }],
          camera: 'door',
          time,
        }))!;
        const e0 = { ...loggedEvent(new Date(time).toISOString(), null), known: false, person: null };
        return outbox.record({ ...e0, visitor: eventVisitor(a.visitor) }, { crop });
      };
      const keep = await waiting(30, T0 + 10 * HOUR);
      const merged = await waiting(31, T0 + 10 * HOUR + 1000);
      const enrolled = await waiting(32, T0 + 10 * HOUR + 2000);
      const forgotten = await waiting(33, T0 + 10 * HOUR + 3000);
      for (const e of [keep, merged, enrolled, forgotten])
        await until('south to know each', () => sb.gallery.get(e.visitor!.id), 5000, 10);

      const table = new PgEvents(north.database(), north.schema);
      await storeEvents(south).mergeVisitors(keep.visitor!.id, merged.visitor!.id);
      const person = await south.addPerson(
        { name: 'Came Often' },
        { descriptor: unitVector(32), modelId: MODEL },
      );
      await storeEvents(south).visitorEnrolled(enrolled.visitor!.id, person);
      await storeEvents(south).forgetVisitor(forgotten.visitor!.id);
      await assert.rejects(
        table.writeMany([{ event: forgotten, instance: 'north', pictures: {} }]),
        (err: unknown) => {
          assert.ok(err instanceof VisitorsGone);
          assert.deepEqual(err.gone.get(forgotten.visitor!.id), { forgotten: true });
          return true;
        },
      );

      paused = false;
      await outbox.ship();
      assert.equal((await outbox.outbox()).waiting, 0);
      assert.equal((await table.get(merged.id))?.visitor?.id, keep.visitor!.id, 'merged: the other id');
      const named = await table.get(enrolled.id);
      assert.equal(named?.person?.id, person.id, 'enrolled: named');
      assert.equal(named?.known, true);
      assert.equal(named?.visitor, undefined);
      assert.equal(await table.get(forgotten.id), undefined, 'forgotten: erased, never written');
      assert.equal((await table.query({ person: person.id })).length, 1);
    } finally {
      await outbox.close();
    }
  });

  it('forgets on one instance: the other forgets too, and no descriptor byte stays in the database files', async () => {
    const e = await visit(north, 40, T0 + 12 * HOUR);
    const id = e.visitor!.id;
    await until('south to know it', () => sb.gallery.get(id), 5000, 10);
    const bytes = Buffer.from(unitVector(40).buffer).toString('base64');
    const c = await db.connect();
    const before = filesHolding(await databaseFiles(c), Buffer.from(bytes));
    assert.ok(before.length > 0, 'the descriptor is in the files before');
    gone.length = 0;
    assert.equal(await storeEvents(south).forgetVisitor(id, 'tester'), 1);
    await until('north to forget it', () => !nb.gallery.get(id), 5000, 10);
    assert.deepEqual(filesHolding(await databaseFiles(c), Buffer.from(bytes)), [], 'no copy in any file');
    assert.deepEqual(await stored(id), []);
    assert.deepEqual(gone.map((g) => g.store).sort(), ['north', 'south']);
    const { rows } = await c.query<{ action: string; details: { visitor: string } }>(
      `SELECT action, details FROM facewatch.audit WHERE action = 'visitor-forget'`,
    );
    assert.ok(
      rows.some((r) => r.details.visitor === id),
      'audited',
    );
  });

  it('removes visitors past unknown retention on every instance, and the sightings’ old change numbers', async () => {
    assert.ok(nb.gallery.size > 0);
    const cc = await db.connect();
    const kinds = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        (
          await cc.query<{ kind: string; n: number }>(
            `SELECT kind, count(*)::int AS n FROM facewatch.changes WHERE at < now() - interval '1 day' GROUP BY kind`,
          )
        ).rows.map((r) => [r.kind, r.n]),
      );
    await cc.query(`UPDATE facewatch.changes SET at = now() - interval '2 days'`);
    const aged = await kinds();
    assert.ok(aged.visitor > 10 && aged.person > 0, JSON.stringify(aged));
    const out = await storeEvents(north).sweepVisitors(T0 + 400 * 86_400_000);
    const left = await kinds();
    assert.equal(left.person, aged.person, 'changes to people are kept');
    assert.ok((left.visitor ?? 0) <= 1, 'old sightings’ changes go (the newest number may stay)');
    assert.ok(out.removed.length > 0);
    await until('south to have none', () => sb.gallery.size === 0, 5000, 10);
    assert.equal(nb.gallery.size, 0);
    const c = await db.connect();
    assert.equal((await c.query('SELECT 1 FROM facewatch.visitors')).rowCount, 0);
  });

  it('records an unknown track without a visitor id while the database is unreachable, and says so once', async () => {
    const relay = await startRelay({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    const via = new URL(db.url);
    via.port = String(relay.port);
    const east = await openInstance(via.href, 'east', dir);
    try {
      const events = storeEvents(east);
      const log = await events.open();
      const said: string[] = [];
      const recorder = new EventRecorder(log, {
        cooldown: 3,
        snapshots: false,
        visitors: await events.visitors(),
        visitWaitMs: 50,
        onVisitorError: (err) => said.push(err.message),
      });
      relay.cut();
      await until('east to notice', () => east.downSince !== null, 5000, 10);
      const stranger = (x: number): RecordFace =>
        ({
          box: { x, y: 80, width: 120, height: 120 },
          score: 0.95,
          quality: { faceSize: 120, sharpness: 100, yaw: 0 },
          descriptor: Array.from(unitVector(50)),
          match: { known: false, person: null, distance: 0.9, confidence: 0 },
        }) as RecordFace;
      const recorded = [];
      for (let i = 0; i < 3; i++)
        recorded.push(
          ...(await recorder.frame({ camera: 'gate', ts: T0 + 20 * HOUR + i * 500, faces: [stranger(100)] })),
        );
      recorded.push(...(await recorder.flush(Date.now() + 10_000)));
      assert.equal(recorded.length, 1, 'the event is recorded');
      assert.equal(recorded[0].event.visitor, undefined);
      assert.equal(recorded[0].event.known, false);
      // A second stranger: recorded too, and the problem is not said again.
      for (let i = 0; i < 3; i++)
        await recorder.frame({ camera: 'gate', ts: T0 + 21 * HOUR + i * 500, faces: [stranger(400)] });
      await recorder.flush(Date.now() + 10_000);
      assert.equal(said.length, 1, said.join('\n'));
      assert.match(said[0], /without a visitor id .*database/);
      assert.equal((await (log as SharedEventLog).outbox()).waiting, 2, 'both wait in the outbox');
    } finally {
      relay.restore();
      await closeStore(east);
      await relay.close();
    }
  });
});
