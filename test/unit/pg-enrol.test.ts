/**
 * Enrolment (the same Enroller the nodes, the CLI and the import use) on a face store shared on
 * PostgreSQL, with the real models on real photos: two instances enrolling the same person at once
 * under two names make one person (the other is refused as a duplicate, naming who it looks like),
 * and every instance then names another photo of him.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Enroller } from '../../lib/store/enrol';
import { isStoreError } from '../../lib/store/errors';
import { PgStore } from '../../lib/store/pg/pg-store';
import { FaceEngine } from '../../lib/vision/engine';
import { fixturePath } from '../helpers/env';
import { createDatabase, type TestDatabase } from '../helpers/pg';
import { until } from '../helpers/wait';

const FR = (rel: string): string => fixturePath('face_recognition', rel);
const OBAMA = FR('examples/knn_examples/train/obama/obama.jpg');
const OBAMA2 = FR('examples/knn_examples/train/obama/obama2.jpg');

describe('enrolment on a face store shared on PostgreSQL', () => {
  let engine: FaceEngine;
  let db: TestDatabase;
  const stores: PgStore[] = [];
  before(async () => {
    engine = await FaceEngine.create({ poolSize: 2 });
    db = await createDatabase();
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await engine?.close();
    await db?.drop();
  });

  it('two instances enrolling the same man at once under two names make one person', async () => {
    for (const instance of ['north', 'south'])
      stores.push(await PgStore.open({ connection: { connectionString: db.url }, instance }));
    const [north, south] = stores;
    const photo = readFileSync(OBAMA);
    const results = await Promise.allSettled([
      new Enroller(north, engine).enrol({ image: photo, fileName: OBAMA, name: 'Barack Obama' }),
      new Enroller(south, engine).enrol({ image: photo, fileName: OBAMA, name: 'B. Obama' }),
    ]);
    const enrolled = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(enrolled.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(refused.length, 1);
    assert.ok(isStoreError(refused[0].reason, 'EDUPLICATE'), String(refused[0].reason));
    assert.match((refused[0].reason as Error).message, /looks like (Barack Obama|B\. Obama)/);
    await until('one person on both', () => north.size() === 1 && south.size() === 1, 1000, 5);

    const other = await engine.detect(readFileSync(OBAMA2));
    const face = other.faces[0];
    assert.ok(face?.descriptor, 'the other photo has a face with a descriptor');
    for (const s of [north, south]) {
      const m = s.match(face.descriptor, face.modelId);
      assert.ok(m.known, `${s.instance} names him`);
      assert.equal(m.person?.id, north.listPeople()[0].id);
    }
  });
});
