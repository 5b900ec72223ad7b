/**
 * Three Node-RED processes on loopback sharing one face store on PostgreSQL (a database made for the
 * test): a person enrolled through one instance's Face Library API is known to the other two within a
 * second and named by them on another photo; renamed through a second instance, the new name reaches
 * all three; deleted through the third, they are gone from every instance and from every file of the
 * database (a grep of its folder for their descriptor's bytes, their crop and their name). A stranger
 * seen through two instances' cameras is one recurring visitor on all three, and forgotten through the
 * third leaves no event and no descriptor byte in the database's files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'pg';
import { fixturePath } from '../helpers/env';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { api, enrolThrough, instanceFlow, who } from '../helpers/instances';
import type { VisitorsAnswer } from '../../lib/types/library';
import { createDatabase, databaseFiles, filesHolding, type TestDatabase } from '../helpers/pg';

const FR = (rel: string): Buffer => readFileSync(fixturePath('face_recognition', rel));
const OBAMA = FR('examples/knn_examples/train/obama/obama.jpg');
const OBAMA2 = FR('examples/knn_examples/train/obama/obama2.jpg');
/** Only west is shown this one: its event's crop is in no other event (the others' photos make unknown events too). */
const OBAMA3 = FR('examples/knn_examples/test/obama1.jpg');
const ROSE = [
  FR('examples/knn_examples/train/rose_leslie/img1.jpg'),
  FR('examples/knn_examples/train/rose_leslie/img2.jpg'),
];
const NAMES = ['north', 'south', 'west'] as const;

/** Milliseconds until `check` holds on every instance (polled every 20 ms), or a failure after `limitMs`. */
async function everywhere(
  what: string,
  instances: RunningNodeRed[],
  check: (nr: RunningNodeRed) => Promise<boolean>,
  limitMs: number,
): Promise<number> {
  const started = Date.now();
  const pending = new Set(instances);
  while (pending.size) {
    for (const nr of [...pending]) if (await check(nr)) pending.delete(nr);
    if (!pending.size) break;
    if (Date.now() - started > limitMs)
      assert.fail(`${what}: not on ${[...pending].map((n) => n.url).join(', ')} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe('three Node-RED instances sharing one face store on PostgreSQL', () => {
  let db: TestDatabase;
  let client: Client;
  const nrs: RunningNodeRed[] = [];
  before(async () => {
    db = await createDatabase();
    client = await db.connect();
    // One after another: three model loads at once on two cores would only be slower.
    for (const name of NAMES) {
      // Each instance's photos are its camera's (named after it): unknown faces get visitor ids.
      const nr = await startNodeRed({
        flows: instanceFlow(db.url, { camera: name }),
        env: { FACEWATCH_INSTANCE: name },
      });
      nrs.push(nr);
      await waitForLog(nr, /Started flows/);
    }
  });
  after(async () => {
    await Promise.all(nrs.map((n) => n.stop()));
    await db?.drop();
  });

  it('enrolled on one, known to the others within a second; renamed on a second; erased everywhere from a third', async () => {
    const [north, south, west] = nrs;
    assert.deepEqual(await who(south, OBAMA2), [], 'nobody is enrolled yet');

    const id = await enrolThrough(north, 'Barack Obama', OBAMA);
    const known = async (nr: RunningNodeRed): Promise<boolean> =>
      (await api(nr, `faces/${id}`)).status === 200;
    const enrolMs = await everywhere('the enrolment', [south, west], known, 1000);
    assert.deepEqual(await who(south, OBAMA2), ['Barack Obama'], 'south names him on another photo');
    assert.deepEqual(await who(west, OBAMA3), ['Barack Obama'], 'and so does west, on a third');

    // West's event of him is in every instance's Face Library, with the instance it came from, and its
    // face crop is served by another instance (from the database).
    type Listed = {
      events: Array<{ id: string; camera: string; instance?: string; person: { id: string } | null }>;
    };
    let event: Listed['events'][number] | undefined;
    const eventMs = await everywhere(
      "west's event",
      [north, south, west],
      async (nr) => {
        const r = await api(nr, `events?person=${encodeURIComponent(id)}`);
        const found = ((await r.json()) as Listed).events.find((e) => e.instance === 'west');
        event ??= found;
        return !!found;
      },
      5000,
    );
    assert.equal(event?.camera, 'west');
    const cropRes = await api(north, `events/${event.id}/crop`);
    assert.equal(cropRes.status, 200);
    const eventCrop = Buffer.from(await cropRes.arrayBuffer());
    assert.equal(eventCrop[0], 0xff, 'a JPEG');

    const renamed = await api(south, `faces/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ name: 'President Obama' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(renamed.status, 200, await renamed.text());
    const named = async (nr: RunningNodeRed): Promise<boolean> => {
      const r = await api(nr, `faces/${id}`);
      return r.status === 200 && ((await r.json()) as { name: string }).name === 'President Obama';
    };
    const renameMs = await everywhere('the new name', [north, west], named, 1000);
    assert.deepEqual(await who(north, OBAMA2), ['President Obama']);

    const { rows } = await client.query<{ descriptor: Buffer; image: Buffer | null }>(
      'SELECT descriptor, image FROM facewatch.samples WHERE person_id = $1',
      [id],
    );
    assert.equal(rows.length, 1);
    const needles = {
      descriptor: rows[0].descriptor.subarray(0, 64),
      crop: rows[0].image?.subarray(200, 264) ?? Buffer.alloc(0),
      name: Buffer.from('President Obama'),
      'event crop': eventCrop.subarray(200, 264),
    };
    assert.ok(needles.crop.length === 64, 'the sample has its crop in the database');

    const deleted = await api(west, `faces/${id}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, await deleted.text());
    const gone = async (nr: RunningNodeRed): Promise<boolean> =>
      (await api(nr, `faces/${id}`)).status === 404;
    const eraseMs = await everywhere('the erasure', [north, south, west], gone, 1000);
    assert.deepEqual(await who(north, OBAMA2), [], 'north no longer names him');
    assert.deepEqual(await who(south, OBAMA2), [], 'nor does south');
    for (const nr of nrs) {
      const listed = (await (await api(nr, `events?person=${encodeURIComponent(id)}`)).json()) as Listed;
      assert.deepEqual(listed.events, [], 'his events are gone everywhere');
    }

    const files = await databaseFiles(client);
    for (const [what, needle] of Object.entries(needles))
      assert.deepEqual(filesHolding(files, needle), [], `no file of the database holds his ${what}`);
    const audit = await client.query<{ instance: string; action: string }>(
      'SELECT instance, action FROM facewatch.audit ORDER BY seq',
    );
    assert.deepEqual(
      audit.rows.map((r) => `${r.action}@${r.instance}`),
      ['enrol@north', 'update@south', 'delete@west'],
      'each change is audited with the instance that made it',
    );
    process.stdout.write(
      `# propagation: enrolment ${enrolMs} ms, an event ${eventMs} ms, rename ${renameMs} ms, erasure ${eraseMs} ms\n`,
    );
  });

  it('a stranger seen through two instances is one visitor on all three; forgotten through the third, no trace left', async () => {
    const [north, south, west] = nrs;
    assert.deepEqual(await who(north, ROSE[0]), []);
    assert.deepEqual(await who(south, ROSE[1]), []);
    let id: string | undefined;
    await everywhere(
      'her visitor',
      nrs,
      async (nr) => {
        const list = (await (await api(nr, 'visitors')).json()) as VisitorsAnswer;
        assert.equal(list.tracked, true);
        const v = list.visitors.find((x) => x.cameras.includes('north') && x.cameras.includes('south'));
        id ??= v?.id;
        return !!v && v.id === id;
      },
      15_000,
    );
    assert.ok(id);
    type Listed = { events: Array<{ id: string; instance?: string; visitor?: { id: string } }> };
    let seen = '';
    const fromBoth = async (nr: RunningNodeRed): Promise<boolean> => {
      const listed = ((await (await api(nr, `events?visitor=${id}`)).json()) as Listed).events;
      seen = listed.map((e) => `${e.id}@${e.instance}`).join(', ');
      const from = new Set(listed.map((e) => e.instance));
      return from.has('north') && from.has('south');
    };
    // Its events are written after the visitor is given (each from its instance's outbox).
    await everywhere('an event from each', [west], fromBoth, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}; west lists ${seen || 'none'}`);
    });
    const { rows } = await client.query<{ samples: Array<{ d: string }> }>(
      'SELECT samples FROM facewatch.visitors WHERE id = $1',
      [id],
    );
    // A sample from each instance (a sighting of the first test's photos that it linked may add more).
    assert.ok(rows[0].samples.length >= 2, `a sample from each instance: ${rows[0].samples.length}`);
    const needles = rows[0].samples.map((s) => Buffer.from(s.d.slice(0, 40)));
    // The samples as the files hold them (a row over 2 KB is compressed: then the row itself is checked).
    const before = await databaseFiles(client);
    const inFiles = needles.filter((needle) => filesHolding(before, needle).length > 0);
    const forgot = await api(west, `visitors/${id}`, { method: 'DELETE' });
    assert.equal(forgot.status, 200, await forgot.text());
    await everywhere(
      'the forgetting',
      nrs,
      async (nr) => (await api(nr, `visitors/${id}`)).status === 404,
      2000,
    );
    // Each instance's events of hers still waiting in its outbox go as it learns she left.
    let left: Listed['events'] = [];
    await everywhere(
      'her events gone',
      nrs,
      async (nr) => {
        left = ((await (await api(nr, `events?visitor=${id}`)).json()) as Listed).events;
        return left.length === 0;
      },
      5000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: her events are gone everywhere; left ${JSON.stringify(left)}`);
    });
    const files = await databaseFiles(client);
    for (const needle of inFiles)
      assert.deepEqual(filesHolding(files, needle), [], 'no file of the database holds her descriptor');
    const row = await client.query<{ samples: unknown[]; gone: unknown }>(
      'SELECT samples, gone FROM facewatch.visitors WHERE id = $1',
      [id],
    );
    assert.deepEqual(
      row.rows,
      [{ samples: [], gone: { forgotten: true } }],
      'her row keeps only why she left',
    );
  });
});
