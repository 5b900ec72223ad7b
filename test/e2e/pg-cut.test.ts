/**
 * An instance cut off from PostgreSQL for 30 s: two Node-RED processes on one face store (a database
 * made for the test), west reaching the server through a TCP relay the test cuts. Meanwhile north
 * enrols one person and deletes another, and west's camera keeps seeing a third: west keeps naming
 * him from memory (its events wait in its outbox), refuses an enrolment with a clear error, and when
 * the relay returns it has every change within seconds (the new person named, the deleted one gone)
 * and each of its events is in the database exactly once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'pg';
import { fixturePath } from '../helpers/env';
import { api, enrolThrough, instanceFlow, who } from '../helpers/instances';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { createDatabase, type TestDatabase } from '../helpers/pg';
import { startRelay, type TcpRelay } from '../helpers/tcp-relay';
import { until } from '../helpers/wait';

const FR = (rel: string): Buffer => readFileSync(fixturePath('face_recognition', rel));
const OBAMA = FR('examples/knn_examples/train/obama/obama.jpg');
const OBAMA2 = FR('examples/knn_examples/train/obama/obama2.jpg');
const BIDEN = FR('examples/biden.jpg');
const BIDEN2 = FR('examples/knn_examples/train/biden/biden2.jpg');
const KIT = FR('examples/knn_examples/train/kit_harington/john1.jpeg');
const CUT_S = 30;

describe('an instance cut off from PostgreSQL for 30 s', () => {
  let db: TestDatabase;
  let client: Client;
  let relay: TcpRelay;
  let north: RunningNodeRed;
  let west: RunningNodeRed;
  before(async () => {
    db = await createDatabase();
    client = await db.connect();
    const u = new URL(db.url);
    relay = await startRelay({ host: u.hostname, port: Number(u.port || 5432) });
    const via = new URL(db.url);
    via.port = String(relay.port);
    north = await startNodeRed({ flows: instanceFlow(db.url), env: { FACEWATCH_INSTANCE: 'north' } });
    await waitForLog(north, /Started flows/);
    west = await startNodeRed({
      flows: instanceFlow(via.href, { camera: 'west-door' }),
      env: { FACEWATCH_INSTANCE: 'west' },
    });
    await waitForLog(west, /Started flows/);
  });
  after(async () => {
    await Promise.all([north, west].map((n) => n?.stop()));
    await relay?.close();
    await db?.drop();
  });

  it('keeps naming, refuses changes, and catches up with every change; each of its events written once', async () => {
    const obama = await enrolThrough(north, 'Barack Obama', OBAMA);
    const kit = await enrolThrough(north, 'Kit Harington', KIT);
    for (const id of [obama, kit])
      await until(`west knows ${id}`, async () => (await api(west, `faces/${id}`)).status === 200, 5000);

    relay.cut();
    const cutAt = Date.now();
    // North changes the people; west's camera sees Obama every few seconds meanwhile.
    const biden = await enrolThrough(north, 'Joe Biden', BIDEN);
    const deleted = await api(north, `faces/${kit}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, await deleted.text());
    let shown = 0;
    while (Date.now() - cutAt < CUT_S * 1000 - 5000) {
      assert.deepEqual(await who(west, OBAMA2), ['Barack Obama'], 'west names him from memory');
      shown++;
      // Apart by more than the cooldown: each sighting is an event.
      await new Promise((r) => setTimeout(r, 4000));
    }
    assert.ok(shown >= 3, `west was shown him ${shown} times while cut off`);
    const refused = await api(west, `register?name=${encodeURIComponent('Joe Biden')}`, {
      method: 'POST',
      body: BIDEN2 as unknown as BodyInit,
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(refused.status, 503, 'an enrolment on the cut instance is refused');
    assert.match(await refused.text(), /database|unreachable/i);
    const during = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM facewatch.events WHERE instance = 'west'`,
    );
    assert.equal(during.rows[0].n, 0, "none of west's events reached the database while cut off");
    const wait = CUT_S * 1000 - (Date.now() - cutAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    relay.restore();
    const back = Date.now();
    await until('west knows Biden', async () => (await api(west, `faces/${biden}`)).status === 200, 15000);
    await until('Kit is gone from west', async () => (await api(west, `faces/${kit}`)).status === 404, 15000);
    const caughtUpMs = Date.now() - back;

    // West's events of Obama: each in the database once (the one after the return included).
    const { rows } = await until(
      "west's events in the database",
      async () => {
        const r = await client.query<{ id: string; person_id: string | null }>(
          `SELECT id, person_id FROM facewatch.events WHERE instance = 'west' ORDER BY ts, id`,
        );
        return r.rows.filter((e) => e.person_id === obama).length >= shown ? r : undefined;
      },
      20000,
    );
    const ofObama = rows.filter((e) => e.person_id === obama);
    assert.equal(ofObama.length, shown, 'one event per sighting, each once');
    assert.equal(new Set(rows.map((e) => e.id)).size, rows.length);
    const listed = (await (await api(north, `events?camera=west-door&limit=100`)).json()) as {
      events: Array<{ id: string }>;
    };
    assert.deepEqual(
      listed.events.map((e) => e.id).sort(),
      rows.map((e) => e.id).sort(),
      "north's Face Library lists west's events, each once",
    );
    assert.deepEqual(
      await who(west, BIDEN2),
      ['Joe Biden'],
      'west names the person enrolled while it was cut off',
    );
    process.stdout.write(
      `# west caught up ${caughtUpMs} ms after the relay returned; ${shown} sightings while cut\n`,
    );
  });
});
