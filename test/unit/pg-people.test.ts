/**
 * People and samples in PostgreSQL, on the machine's real server (a database per test): a person
 * written and read back is the same record, descriptors bit for bit; a crop is kept and read back;
 * renames, sample removals and a person's removal (samples with them) land in the rows; the meta row.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Client } from 'pg';
import type { PersonRecord } from '../../lib/store/documents';
import {
  deletePersonRow,
  deleteSample,
  descriptorBytes,
  descriptorOf,
  insertPerson,
  insertSample,
  readMeta,
  readPeople,
  readPerson,
  sampleImage,
  updatePersonRow,
  writeMeta,
} from '../../lib/store/pg/people';
import { migrate } from '../../lib/store/pg/schema';
import { createDatabase, type TestDatabase } from '../helpers/pg';

const SCHEMA = 'facewatch';

/** A descriptor with values a decimal round trip would not keep exactly. */
function descriptor(seed: number): Float32Array {
  const d = new Float32Array(128);
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(seed * 1000 + i) / 3 + 1e-7 * i;
  return d;
}

function person(id: string, samples: number): PersonRecord {
  const now = new Date('2026-12-05T10:00:00.123Z').toISOString();
  return {
    id,
    name: `Name of ${id} <b>&</b>`,
    metadata: { team: 'night', 'a.b': 1, $odd: [1, 'two'] },
    samples: Array.from({ length: samples }, (_, i) => ({
      id: `${id.toLowerCase()}s${i}`.padEnd(16, '0'),
      descriptor: descriptor(id.length * 10 + i),
      modelId: 'faceapi-test',
      image: null,
      source: `photo${i}.jpg`,
      time: now,
    })),
    createdAt: now,
    updatedAt: now,
  };
}

describe('people in PostgreSQL', () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  async function fresh(): Promise<Client> {
    db = await createDatabase();
    const c = await db.connect();
    await migrate(c, SCHEMA);
    return c;
  }

  it('stores descriptors bit for bit', () => {
    const d = descriptor(7);
    const back = descriptorOf(descriptorBytes(d));
    assert.deepEqual(Buffer.from(back.buffer), Buffer.from(d.buffer));
    // A view into a larger buffer is written as its own values only.
    const big = new Float32Array(256).fill(9);
    big.set(d, 64);
    assert.deepEqual(descriptorOf(descriptorBytes(big.subarray(64, 192))), d);
    assert.throws(() => descriptorOf(Buffer.alloc(6)), /not a whole number of float32 values/);
  });

  it('reads back what it wrote: people, samples in order, crops, metadata with any keys', async () => {
    const c = await fresh();
    const ann = person('ANN', 3);
    const bob = person('BOB', 1);
    const crop = Buffer.from('a JPEG, as far as this test is concerned');
    await insertPerson(c, SCHEMA, ann, new Map([[ann.samples[1].id, crop]]));
    await insertPerson(c, SCHEMA, bob);
    const all = await readPeople(c, SCHEMA);
    const expectAnn = {
      ...ann,
      samples: ann.samples.map((s, i) => (i === 1 ? { ...s, image: `ANN/${s.id}.jpg` } : s)),
    };
    assert.deepEqual(all, [expectAnn, bob]);
    for (const [i, s] of all[0].samples.entries())
      assert.deepEqual(Buffer.from(s.descriptor.buffer), Buffer.from(ann.samples[i].descriptor.buffer));
    assert.deepEqual(await readPerson(c, SCHEMA, 'ANN'), expectAnn);
    assert.equal(await readPerson(c, SCHEMA, 'NOBODY'), null);
    assert.deepEqual(await sampleImage(c, SCHEMA, ann.samples[1].id), crop);
    assert.equal(await sampleImage(c, SCHEMA, ann.samples[0].id), null);
  });

  it('renames, removes a sample, adds one at the end, and removes a person with their samples', async () => {
    const c = await fresh();
    const ann = person('ANN', 2);
    await insertPerson(c, SCHEMA, ann);
    const renamed = { ...ann, name: 'Ann B', metadata: {}, updatedAt: new Date().toISOString() };
    await updatePersonRow(c, SCHEMA, renamed);
    assert.equal(await deleteSample(c, SCHEMA, ann.samples[0].id), true);
    assert.equal(await deleteSample(c, SCHEMA, ann.samples[0].id), false);
    const extra = { ...person('ANN', 3).samples[2], id: 'extra00000000000' };
    await insertSample(c, SCHEMA, 'ANN', extra, 2);
    const back = await readPerson(c, SCHEMA, 'ANN');
    assert.equal(back?.name, 'Ann B');
    assert.deepEqual(back?.metadata, {});
    assert.deepEqual(
      back?.samples.map((s) => s.id),
      [ann.samples[1].id, 'extra00000000000'],
    );
    assert.equal(await deletePersonRow(c, SCHEMA, 'ANN'), true);
    assert.equal(await deletePersonRow(c, SCHEMA, 'ANN'), false);
    const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM facewatch.samples');
    assert.equal(rows[0].n, 0, 'the samples went with their person');
  });

  it('keeps the id counter and the model in the meta row', async () => {
    const c = await fresh();
    assert.deepEqual(await readMeta(c, SCHEMA), { nextId: 1, modelId: null, dim: null });
    await writeMeta(c, SCHEMA, { nextId: 42, modelId: 'faceapi-test', dim: 128 });
    assert.deepEqual(await readMeta(c, SCHEMA), { nextId: 42, modelId: 'faceapi-test', dim: 128 });
  });
});
