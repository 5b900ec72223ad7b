/**
 * A face store shared on PostgreSQL by three instances (three stores in this process, each with its
 * own pool and feed, as three Node-RED instances have), on the machine's real server: a person enrolled
 * through one is named by the others within a second; renamed, a sample removed and deleted through
 * another, the same everywhere within a second, the rows gone and the audit lines without their name;
 * ids are handed out once across instances; a taken id and a descriptor of another model are refused;
 * a schema newer than this FaceWatch is read and never written.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { isStoreError } from '../../lib/store/errors';
import { PgStore } from '../../lib/store/pg/pg-store';
import { SCHEMA_VERSION } from '../../lib/store/pg/schema';
import type { Person } from '../../lib/store/types';
import { createDatabase, databaseFiles, filesHolding, type TestDatabase } from '../helpers/pg';
import { startRelay } from '../helpers/tcp-relay';
import { until } from '../helpers/wait';

const MODEL = 'faceapi-test';

function unit(seed: number): Float32Array {
  const d = new Float32Array(128);
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(seed * 97 + i * 0.37);
  const n = Math.hypot(...d);
  return d.map((v) => v / n);
}

describe('face store shared on PostgreSQL by three instances', () => {
  let db: TestDatabase | undefined;
  const stores: PgStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await db?.drop();
    db = undefined;
  });

  async function instances(n: number): Promise<PgStore[]> {
    db ??= await createDatabase();
    const opened: PgStore[] = [];
    // One after another, as instances usually start; the schema is made by the first.
    for (let i = 0; i < n; i++) {
      const s = await PgStore.open({
        connection: { connectionString: db.url, max: 3 },
        instance: `node-red-${String.fromCharCode(97 + i)}`,
        actor: 'test',
      });
      stores.push(s);
      opened.push(s);
    }
    return opened;
  }

  it('a person enrolled on one is named by the others within a second, and changed and erased everywhere', async () => {
    const [a, b, c] = await instances(3);
    const added: Person[] = [];
    b.on('person-added', (p) => added.push(p));
    const face = unit(1);
    const started = Date.now();
    const ann = await a.addPerson(
      { name: 'Ann Example', metadata: { team: 'night' } },
      { descriptor: face, modelId: MODEL, crop: Buffer.from('crop of ann'), source: 'ann.jpg' },
      'alice',
    );
    assert.equal(ann.id, 'PERSON_0001');
    for (const s of [b, c])
      await until(
        'the others to name her',
        () => s.match(face, MODEL).person?.name === 'Ann Example',
        1000,
        5,
      );
    const took = Date.now() - started;
    assert.ok(took < 1000, `${took} ms`);
    assert.deepEqual(
      added.map((p) => p.id),
      ['PERSON_0001'],
    );
    assert.deepEqual(b.getPerson(ann.id), ann, 'every instance holds the same person');
    assert.deepEqual(await c.image(ann.samples[0].id), Buffer.from('crop of ann'));

    // A second sample through C, a rename through B, the first sample removed through A.
    const second = unit(2);
    await c.addSample(ann.id, { descriptor: second, modelId: MODEL }, 'carol');
    await b.updatePerson(ann.id, { name: 'Ann B. Example' }, 'bob');
    await a.removeSample(ann.id, ann.samples[0].id, 'alice');
    for (const s of [a, b, c]) {
      await until(
        'the same person everywhere',
        () => s.getPerson(ann.id)?.samples.length === 1 && s.getPerson(ann.id)?.name === 'Ann B. Example',
        1000,
        5,
      );
      assert.equal(s.match(face, MODEL).known, false, 'the removed sample matches nowhere');
      assert.equal(s.match(second, MODEL).person?.id, ann.id);
    }

    // Deleted through C: gone from every instance within a second, rows and names with her.
    const deleted: string[] = [];
    a.on('person-deleted', (p) => deleted.push(p.id));
    const erasing = Date.now();
    assert.equal(await c.deletePerson(ann.id, 'carol'), true);
    for (const s of [a, b, c])
      await until('her gone everywhere', () => s.getPerson(ann.id) === undefined, 1000, 5);
    assert.ok(Date.now() - erasing < 1000);
    assert.deepEqual(deleted, [ann.id]);
    for (const s of [a, b, c]) {
      assert.equal(s.match(second, MODEL).known, false);
      assert.equal(s.samples(), 0);
    }
    const client = await db!.connect();
    const count = async (sql: string): Promise<number> =>
      (await client.query<{ n: number }>(sql, [ann.id])).rows[0].n;
    assert.equal(await count('SELECT count(*)::int AS n FROM facewatch.people WHERE id = $1'), 0);
    assert.equal(await count('SELECT count(*)::int AS n FROM facewatch.samples WHERE person_id = $1'), 0);
    assert.equal(
      await count(
        "SELECT count(*)::int AS n FROM facewatch.audit WHERE person_id = $1 AND (name IS NOT NULL OR details::text LIKE '%Ann%')",
      ),
      0,
      'her audit lines keep what was done, not her name',
    );
    assert.equal(
      await count('SELECT count(*)::int AS n FROM facewatch.audit WHERE person_id = $1'),
      5,
      'enrol, add-sample, update, remove-sample, delete',
    );
    assert.equal(await c.deletePerson(ann.id), false);
  });

  it("erases a person from the database's files: no byte of their descriptor, crop or name is left", async () => {
    const [a, b] = await instances(2);
    const erased: string[] = [];
    a.addEraser('test log', {
      erasePerson: (p) => {
        erased.push(`${p.id} ${p.name}`);
        return Promise.resolve();
      },
    });
    const face = unit(42);
    const crop = Buffer.from('a crop that only Zelda has: 7f3a9c');
    const name = 'Zelda Quux-Erasure';
    const zelda = await a.addPerson({ name }, { descriptor: face, modelId: MODEL, crop });
    await b.updatePerson(zelda.id, { name: `${name} II` });
    await b.addPerson({ name: 'Kept Person' }, { descriptor: unit(43), modelId: MODEL });
    const client = await db!.connect();
    const dbFiles = (): Promise<string[]> => databaseFiles(client);
    const holding = filesHolding;
    const needles = {
      descriptor: Buffer.from(face.buffer).subarray(0, 64),
      crop,
      name: Buffer.from('Zelda Quux'),
    };
    const before = await dbFiles();
    for (const [what, needle] of Object.entries(needles))
      assert.ok(holding(before, needle).length > 0, `the test finds her ${what} before the erasure`);

    assert.equal(await b.deletePerson(zelda.id, 'bob'), true);
    assert.deepEqual(await b.pendingErasures(), []);
    const after = await dbFiles();
    for (const [what, needle] of Object.entries(needles))
      assert.deepEqual(holding(after, needle), [], `no file of the database holds her ${what}`);
    assert.equal(b.size(), 1);
    await until('A to drop her', () => a.getPerson(zelda.id) === undefined, 1000, 5);
    assert.equal(a.match(unit(43), MODEL).person?.name, 'Kept Person', 'the others are kept');
    // B deleted her; the erasers of the instance that deletes run (A's run when A deletes or finishes).
    assert.deepEqual(erased, []);
    await a.addPerson({ id: 'P_TWO', name: 'Second' }, { descriptor: unit(44), modelId: MODEL });
    assert.equal(await a.deletePerson('P_TWO'), true);
    assert.deepEqual(erased, ['P_TWO Second']);
  });

  it('finishes an erasure whose eraser failed at the next delete of the id', async () => {
    const [a] = await instances(1);
    let fail = true;
    a.addEraser('flaky', {
      erasePerson: () => (fail ? Promise.reject(new Error('the broker is away')) : Promise.resolve()),
    });
    const p = await a.addPerson({ name: 'Flaky Eraser' }, { descriptor: unit(50), modelId: MODEL });
    await assert.rejects(a.deletePerson(p.id), (err: Error) => {
      assert.ok(isStoreError(err, 'EERASURE'));
      assert.match(err.message, /not finished \(the erasers\): eraser "flaky" failed: the broker is away/);
      return true;
    });
    assert.equal(a.getPerson(p.id), undefined, 'she is no longer matched');
    assert.deepEqual(
      (await a.pendingErasures()).map((e) => e.id),
      [p.id],
    );
    fail = false;
    assert.equal(await a.deletePerson(p.id), true);
    assert.deepEqual(await a.pendingErasures(), []);
    assert.equal(await a.deletePerson(p.id), false);
  });

  it('keeps naming people while its network to the database is cut, refuses changes, and catches up after', async () => {
    const [b] = await instances(1);
    const relay = await startRelay({ host: '127.0.0.1', port: Number(new URL(db!.url).port || 5432) });
    try {
      const via = new URL(db!.url);
      via.port = String(relay.port);
      const a = await PgStore.open({
        connection: { connectionString: via.href, max: 2 },
        instance: 'cut-off',
      });
      stores.push(a);
      const kept = await b.addPerson({ name: 'Known Before' }, { descriptor: unit(60), modelId: MODEL });
      const gone = await b.addPerson({ name: 'Deleted Meanwhile' }, { descriptor: unit(61), modelId: MODEL });
      await until('A to know both', () => a.size() === 2, 1000, 5);

      relay.cut();
      await until('A to notice', () => a.downSince !== null, 3000, 10);
      assert.equal(a.match(unit(60), MODEL).person?.name, 'Known Before', 'recognition goes on from memory');
      const refused = Date.now();
      await assert.rejects(a.addPerson({ name: 'Not Now' }), (err: Error) => {
        assert.ok(isStoreError(err, 'EDB_DOWN'), String(err));
        assert.match(err.message, /the database is unreachable .*nothing was changed/);
        return true;
      });
      assert.ok(Date.now() - refused < 6000, 'refused within the connection timeout');
      // Meanwhile B enrols, renames and deletes.
      const newcomer = await b.addPerson(
        { name: 'Came Meanwhile' },
        { descriptor: unit(62), modelId: MODEL },
      );
      await b.updatePerson(kept.id, { name: 'Known, Renamed' });
      assert.equal(await b.deletePerson(gone.id), true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(a.getPerson(newcomer.id), undefined, 'A could not know yet');

      relay.restore();
      await until('A to catch up', () => a.seq === b.seq && a.downSince === null, 5000, 10);
      assert.equal(a.match(unit(62), MODEL).person?.name, 'Came Meanwhile');
      assert.equal(a.getPerson(kept.id)?.name, 'Known, Renamed');
      assert.equal(a.getPerson(gone.id), undefined);
      assert.equal(a.match(unit(61), MODEL).known, false);
      assert.deepEqual(
        a
          .listPeople()
          .map((p) => p.id)
          .sort(),
        b
          .listPeople()
          .map((p) => p.id)
          .sort(),
      );
      // And it writes again.
      await a.addPerson({ name: 'After The Cut' }, { descriptor: unit(63), modelId: MODEL });
      await until('B to know it', () => b.size() === 3, 1000, 5);
    } finally {
      await relay.close();
    }
  });

  it('hands out each generated id once across instances enrolling at the same time', async () => {
    const [a, b] = await instances(2);
    const made = await Promise.all(
      [a, b].flatMap((s, k) =>
        Array.from({ length: 8 }, (_, i) =>
          s.addPerson({ name: `P ${k}-${i}` }, { descriptor: unit(10 + k * 10 + i), modelId: MODEL }),
        ),
      ),
    );
    const ids = made.map((p) => p.id).sort();
    assert.equal(new Set(ids).size, 16);
    assert.deepEqual(
      ids,
      Array.from({ length: 16 }, (_, i) => `PERSON_${String(i + 1).padStart(4, '0')}`),
    );
    await until('both at 16', () => a.size() === 16 && b.size() === 16, 1000, 5);
  });

  it('refuses a taken id (one of two instances wins) and a descriptor of another model', async () => {
    const [a, b] = await instances(2);
    const results = await Promise.allSettled([
      a.addPerson({ id: 'DESK_1', name: 'From A' }, { descriptor: unit(3), modelId: MODEL }),
      b.addPerson({ id: 'DESK_1', name: 'From B' }, { descriptor: unit(4), modelId: MODEL }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(isStoreError(lost[0].reason, 'EEXISTS'), String(lost[0].reason));
    await assert.rejects(
      b.addSample('DESK_1', { descriptor: unit(5), modelId: 'another-model' }),
      (err: Error) => isStoreError(err, 'EMODEL_MISMATCH'),
    );
    await until('one person on both', () => a.size() === 1 && b.size() === 1, 1000, 5);
  });

  it('holds a duplicate-face check across instances: of two enrolling the same face at once, one wins', async () => {
    const [a, b] = await instances(2);
    const face = unit(70);
    const enrol = (s: PgStore, name: string): Promise<Person> =>
      s.batch(async (tx) => {
        const m = s.match(face, MODEL);
        if (m.known) throw new Error(`duplicate of ${m.person?.name}`);
        // Time for the other instance's batch to slip in, were the batches not one at a time.
        await new Promise((r) => setTimeout(r, 100));
        return tx.addPerson({ name }, { descriptor: face, modelId: MODEL });
      });
    for (let round = 0; round < 3; round++) {
      const results = await Promise.allSettled([enrol(a, `From A ${round}`), enrol(b, `From B ${round}`)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, round === 0 ? 1 : 0, `round ${round}`);
      for (const r of results)
        if (r.status === 'rejected') assert.match(String(r.reason), /duplicate of From [AB] 0/);
    }
    await until('one person on both', () => a.size() === 1 && b.size() === 1, 1000, 5);
    await assert.rejects(
      a.batch(async (tx) => {
        await tx.addPerson({ name: 'Inside' }, { descriptor: unit(71), modelId: MODEL });
        throw new Error('the batch fails after its change');
      }),
      /the batch fails after its change/,
    );
    // A batch's changes are each their own transaction: the one made before the failure stays.
    await until('the change made before the failure', () => b.size() === 2, 1000, 5);
  });

  it('reads a newer schema and refuses to write to it', async () => {
    const [a] = await instances(1);
    await a.addPerson({ name: 'Kept' }, { descriptor: unit(6), modelId: MODEL });
    const client = await db!.connect();
    await client.query(`INSERT INTO facewatch.migrations (version, name) VALUES ($1, 'newer')`, [
      SCHEMA_VERSION + 1,
    ]);
    const [old] = await instances(1);
    assert.match(old.writeProblem ?? '', /newer than this FaceWatch knows/);
    assert.equal(old.match(unit(6), MODEL).person?.name, 'Kept', 'it still names people');
    await assert.rejects(old.addPerson({ name: 'New' }), (err: Error) => isStoreError(err, 'ESCHEMA_NEWER'));
    await assert.rejects(old.deletePerson('PERSON_0001'), (err: Error) => isStoreError(err, 'ESCHEMA_NEWER'));
  });
});
