/**
 * Moving an installation between backends with the `facewatch` command line: `export` from a
 * datafile, `import` into a PostgreSQL schema (`--store postgres://…?schema=…`), `export` from there
 * and `import` into a new datafile keep every id, name, metadata, sample id, model id, descriptor
 * (to the bit), face crop and enrolment time; the audit of the first store travels with it (each line
 * once, with its time and actor, however often imported) and each store records the import. `reembed` on a
 * PostgreSQL store is refused with what to do instead.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { cli } from '../helpers/cli';
import { FaceStore, type StoreExport } from '../../lib/store/face-store';
import { PgStore } from '../../lib/store/pg/pg-store';
import { createDatabase, type TestDatabase } from '../helpers/pg';

/** A descriptor whose float32 values are not round decimals, so a lossy copy shows. */
function descriptor(seed: number): Float32Array {
  const d = new Float32Array(128);
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(seed * 7.3 + i * 1.1) / 3 + 1e-7 * i;
  return d;
}

/** The store's people as an export lists them; `updatedAt` is the import's (an import is a change). */
function people(e: StoreExport): unknown {
  return e.people
    .map(({ updatedAt: _u, ...p }) => ({
      ...p,
      samples: [...p.samples].sort((a, b) => a.id.localeCompare(b.id)),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

describe('moving a store between a datafile and PostgreSQL (facewatch export / import)', () => {
  let dir: string;
  let db: TestDatabase;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-pg-transfer-'));
    db = await createDatabase();
  });
  after(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps ids, samples, model ids, descriptors and crops both ways, and audits the import', async () => {
    const file = path.join(dir, 'faces.db');
    const nedb = await FaceStore.open({ file, lock: false });
    const crop = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#a0522d' } })
      .jpeg()
      .toBuffer();
    await nedb.addPerson(
      { name: 'Ada Lovelace', metadata: { desk: 'B-12' } },
      { descriptor: descriptor(1), modelId: 'test-model', crop, source: 'ada.jpg' },
    );
    await nedb.addSample('PERSON_0001', {
      descriptor: descriptor(2),
      modelId: 'test-model',
      source: 'ada2.jpg',
    });
    await nedb.addPerson(
      { id: 'GUARD_7', name: 'Grace <Hopper>' },
      { descriptor: descriptor(3), modelId: 'test-model' },
    );
    await nedb.addPerson({ name: 'Alan Turing' }, { descriptor: descriptor(4), modelId: 'test-model' });
    await nedb.addPerson({ name: 'Temp' }, { descriptor: descriptor(5), modelId: 'test-model' });
    await nedb.deletePerson('PERSON_0003');
    const original = await nedb.exportJson();
    await nedb.close();

    const exported = path.join(dir, 'from-nedb.json');
    let r = await cli(['export', '--store', file, '--out', exported]);
    assert.equal(r.code, 0, r.stderr);
    const pgStore = `${db.url}?schema=moved`;
    r = await cli(['import', '--store', pgStore, exported]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"enrolled": ?3/);

    const pg = await PgStore.open({
      connection: { connectionString: db.url },
      schema: 'moved',
      instance: 'check',
    });
    try {
      const inPg = await pg.exportJson();
      assert.deepEqual(people(inPg), people(original), 'the same people, samples and crops in PostgreSQL');
      assert.equal(inPg.modelId, 'test-model');
      assert.equal(
        pg.match(descriptor(1), 'test-model', { rule: 'nearest' }).person?.id,
        'PERSON_0001',
        'matched from the moved descriptors',
      );
      // A new person after the move does not take a freed id of the old store.
      const next = await pg.addPerson({ name: 'New' }, { descriptor: descriptor(9), modelId: 'test-model' });
      assert.equal(next.id, 'PERSON_0004');
      await pg.deletePerson(next.id);
    } finally {
      await pg.close();
    }
    const c = await db.connect();
    const { rows } = await c.query<{ action: string; actor: string }>(
      `SELECT action, actor FROM moved.audit WHERE action = 'import'`,
    );
    assert.equal(rows.length, 1, 'the import is audited in PostgreSQL');
    assert.match(rows[0].actor, /^cli:/);
    // The datafile's history came along, as it was: each line once, with its time and actor.
    const history = (JSON.parse(readFileSync(exported, 'utf8')) as StoreExport).audit ?? [];
    assert.deepEqual(
      history.map((e) => `${e.action}:${e.id ?? ''}`),
      [
        'enrol:PERSON_0001',
        'add-sample:PERSON_0001',
        'enrol:GUARD_7',
        'enrol:PERSON_0002',
        'enrol:PERSON_0003',
        'delete:PERSON_0003',
        'export:',
        'export:',
      ],
      "the datafile's audit is in its export",
    );
    assert.equal(
      history.find((e) => e.id === 'PERSON_0003' && e.action === 'enrol')?.name,
      undefined,
      'the erased person was scrubbed from it before',
    );
    const carried = await c.query<{ time: Date; action: string; person_id: string | null; instance: string }>(
      `SELECT time, action, person_id, instance FROM moved.audit WHERE instance = 'imported' ORDER BY seq`,
    );
    assert.deepEqual(
      carried.rows.map((r) => [r.time.toISOString(), r.action, r.person_id ?? undefined]),
      history.map((e) => [e.time, e.action, e.id]),
      'every line of it in PostgreSQL, with its time',
    );
    r = await cli(['import', '--store', pgStore, exported]);
    assert.equal(r.code, 0, r.stderr);
    const twice = await c.query(`SELECT 1 FROM moved.audit WHERE instance = 'imported'`);
    assert.equal(twice.rowCount, history.length, 'imported again, the history is there once');

    const back = path.join(dir, 'from-pg.json');
    r = await cli(['export', '--store', pgStore, '--out', back]);
    assert.equal(r.code, 0, r.stderr);
    const file2 = path.join(dir, 'back', 'faces.db');
    r = await cli(['import', '--store', file2, back]);
    assert.equal(r.code, 0, r.stderr);
    const again = await FaceStore.open({ file: file2, lock: false });
    try {
      assert.deepEqual(people(await again.exportJson()), people(original), 'and back into a datafile');
      const lines = readFileSync(again.auditFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; id?: string; instance?: string; time: string });
      for (const e of history)
        assert.ok(
          lines.some((l) => l.time === e.time && l.action === e.action && l.id === e.id),
          `the first store's ${e.action} of ${e.id ?? 'the store'} is in the new datafile's audit`,
        );
      assert.ok(
        lines.some((l) => l.instance === 'check'),
        "PostgreSQL's lines keep their instance",
      );
    } finally {
      await again.close();
    }
    const parsed = JSON.parse(readFileSync(back, 'utf8')) as StoreExport;
    assert.equal(parsed.nextId, 5, 'the next id travels');

    r = await cli(['reembed', '--store', pgStore]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /reembed works on a datafile store; for PostgreSQL: facewatch export it/);
    assert.ok(!r.stderr.includes('password'), 'no password spoken of');
  });
});
