/**
 * The erasure journal and the erasers: an erasure is recorded before it starts, runs the erasers
 * other rooms registered, scrubs the audit log, and is finished by a later delete of the same id
 * or (the store's part) by the next open, then by finishPendingErasures(). Real NeDB files in a
 * temporary folder; the faults themselves (full disk, permissions, SIGKILL) are in
 * store-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli';
import { encodeDescriptor } from '../../lib/store/codec';
import { isStoreError } from '../../lib/store/errors';
import { FaceStore, type Person } from '../../lib/store/face-store';
import { filesContaining, jpegish, MODEL, unitVector } from '../helpers/store-fixtures';

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fw-erasure-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
function freshFile(): string {
  const dir = path.join(root, `s${++n}`);
  mkdirSync(dir);
  return path.join(dir, 'faces.db');
}

/** A store with a victim (two samples, crops, renamed once) and a person who stays, and 3 backups holding the victim. */
async function seeded(
  file: string,
): Promise<{ store: FaceStore; victim: Person; keep: Person; needles: string[] }> {
  const store = await FaceStore.open({ file, backups: 3, actor: 'tester' });
  const d1 = unitVector(7001);
  const d2 = unitVector(7002);
  let victim = await store.addPerson(
    { name: 'Vera Victim', metadata: { badge: 'V-1' } },
    { descriptor: d1, modelId: MODEL, crop: jpegish('vera-1'), source: 'Vera_Victim/1.jpg' },
  );
  victim = await store.addSample(victim.id, { descriptor: d2, modelId: MODEL, crop: jpegish('vera-2') });
  victim = await store.updatePerson(victim.id, { name: 'Vera Q. Victim' });
  const keep = await store.addPerson(
    { name: 'Kim Keep' },
    { descriptor: unitVector(7003), modelId: MODEL, crop: jpegish('kim') },
  );
  for (let i = 0; i < 3; i++) await store.updatePerson(keep.id, { metadata: { i } });
  const needles = [
    encodeDescriptor(d1),
    encodeDescriptor(d2),
    'crop-of-vera',
    'Vera Victim',
    'Vera Q. Victim',
  ];
  return { store, victim, keep, needles };
}

describe('erasure journal and erasers', () => {
  it('runs every registered eraser with the id and name, after the store is clean and before the events', async () => {
    const file = freshFile();
    const dir = path.dirname(file);
    const { store, victim, keep, needles } = await seeded(file);
    const order: string[] = [];
    const seen: Array<{ id: string; name: string }> = [];
    store.on('person-deleted', (p) => order.push(`person-deleted ${p.id} samples=${p.samples.length}`));
    store.on('sample-removed', () => order.push('sample-removed'));
    const removeA = store.addEraser('log-a', {
      erasePerson: (p) => {
        seen.push(p);
        order.push('eraser a');
        // The store's files are already clean when the erasers run (only the journal and the
        // audit log still name the person).
        const left = filesContaining(dir, needles).filter(
          (f) => !f.startsWith('faces.db.erasures.json') && !f.startsWith('faces.audit.jsonl'),
        );
        assert.deepEqual(left, []);
        assert.deepEqual(
          store.pendingErasures().map((e) => e.id),
          [victim.id],
        );
        return Promise.resolve();
      },
    });
    store.addEraser('log-b', {
      erasePerson: async () => {
        order.push('eraser b');
        await new Promise((r) => setTimeout(r, 10));
      },
    });
    const removeC = store.addEraser('log-c', {
      erasePerson: () => Promise.reject(new Error('never called')),
    });
    removeC();
    assert.equal(await store.deletePerson(victim.id, 'tester'), true);
    assert.deepEqual(seen, [{ id: victim.id, name: 'Vera Q. Victim' }]);
    assert.deepEqual(order, [
      'eraser a',
      'eraser b',
      'sample-removed',
      'sample-removed',
      `person-deleted ${victim.id} samples=2`,
    ]);
    assert.deepEqual(filesContaining(dir, needles), [], 'no file names the person or holds their data');
    assert.equal(existsSync(store.journalFile), false);
    assert.deepEqual(store.pendingErasures(), []);
    assert.equal(store.getPerson(keep.id)?.name, 'Kim Keep');
    // The audit keeps the facts: every earlier line of the person, and the delete line without a name.
    const audit = readFileSync(store.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const theirs = audit.filter((e) => e.id === victim.id);
    assert.deepEqual(
      theirs.map((e) => e.action),
      ['enrol', 'add-sample', 'update', 'delete'],
    );
    for (const e of theirs.slice(0, -1))
      assert.deepEqual(Object.keys(e).sort(), ['action', 'actor', 'id', 'time']);
    assert.deepEqual(theirs.at(-1)?.details, { samples: 2 });
    assert.equal(theirs.at(-1)?.actor, 'tester');
    removeA();
    assert.equal(await store.deletePerson(victim.id), false, 'an erased id is no longer known');
    await store.close();
  });

  it('a failing eraser fails the erasure, naming it; the erasure stays pending and a later delete finishes it', async () => {
    const file = freshFile();
    const dir = path.dirname(file);
    const { store, victim, needles } = await seeded(file);
    let fail = true;
    const calls: string[] = [];
    const deleted: Person[] = [];
    store.on('person-deleted', (p) => deleted.push(p));
    store.addEraser('detection-log', {
      erasePerson: ({ id }) => {
        calls.push(id);
        return fail ? Promise.reject(new Error('disk says no')) : Promise.resolve();
      },
    });
    await assert.rejects(store.deletePerson(victim.id, 'tester'), (err) => {
      assert.ok(isStoreError(err, 'EERASURE'));
      assert.match(err.message, /the erasure of PERSON_0001 is not finished/);
      assert.match(err.message, /eraser "detection-log" failed: disk says no/);
      assert.match(err.message, /deleting PERSON_0001 again/);
      return true;
    });
    // Recorded, durable and private.
    const pending = store.pendingErasures();
    assert.equal(pending.length, 1);
    assert.equal(pending[0].id, victim.id);
    assert.equal(pending[0].name, 'Vera Q. Victim');
    assert.ok(!Number.isNaN(Date.parse(pending[0].since)));
    assert.equal((statSync(store.journalFile).mode & 0o777).toString(8), '600');
    const journal = JSON.parse(readFileSync(store.journalFile, 'utf8')) as { pending: unknown[] };
    assert.deepEqual(journal.pending, pending);
    // Already out of the store: not matched, not listed, its id not reusable.
    assert.equal(store.getPerson(victim.id), undefined);
    assert.equal(store.match(unitVector(7001), MODEL).person, null);
    assert.equal(deleted.length, 0, 'person-deleted waits for the whole erasure');
    await assert.rejects(store.addPerson({ id: victim.id, name: 'Someone Else' }), (err) => {
      assert.ok(isStoreError(err, 'EEXISTS'));
      assert.match(err.message, /is being erased/);
      return true;
    });
    assert.deepEqual(
      filesContaining(dir, needles.slice(0, 3)),
      [],
      "the store's own part is done: no descriptor, no crop",
    );

    fail = false;
    assert.equal(
      await store.deletePerson(victim.id, 'tester'),
      true,
      'a pending erasure is finished, not "no such person"',
    );
    assert.deepEqual(calls, [victim.id, victim.id]);
    assert.deepEqual(
      deleted.map((p) => [p.id, p.name, p.samples.length]),
      [[victim.id, 'Vera Q. Victim', 2]],
    );
    assert.deepEqual(store.pendingErasures(), []);
    assert.deepEqual(filesContaining(dir, needles), []);
    await store.close();
  });

  it('finishes the store part of a pending erasure at open and the rest in finishPendingErasures()', async () => {
    const file = freshFile();
    const dir = path.dirname(file);
    const { store, victim, keep, needles } = await seeded(file);
    await store.close();
    // A process killed right after recording the erasure: the journal names the person, whose
    // document, backups, crops and audit lines are all still there.
    const journal = `${file}.erasures.json`;
    const since = new Date().toISOString();
    writeFileSync(
      journal,
      JSON.stringify({
        format: 'facewatch-erasures',
        version: 1,
        pending: [{ id: victim.id, name: 'Vera Q. Victim', since }],
      }),
      { mode: 0o600 },
    );
    assert.ok(
      filesContaining(dir, needles.slice(0, 2)).length >= 2,
      'the datafile and backups hold the victim',
    );

    const reopened = await FaceStore.open({ file, backups: 3 });
    assert.equal(reopened.getPerson(victim.id), undefined);
    assert.equal(reopened.getPerson(keep.id)?.name, 'Kim Keep');
    assert.equal(reopened.match(unitVector(7001), MODEL).person, null);
    assert.deepEqual(
      filesContaining(dir, needles.slice(0, 3)),
      [],
      'open erased the datafile, the backups and the crops',
    );
    assert.deepEqual(reopened.pendingErasures(), [{ id: victim.id, name: 'Vera Q. Victim', since }]);

    const deleted: Person[] = [];
    reopened.on('person-deleted', (p) => deleted.push(p));
    const seen: string[] = [];
    reopened.addEraser('log', { erasePerson: (p) => Promise.resolve(seen.push(`${p.id} ${p.name}`)) });
    assert.deepEqual(await reopened.finishPendingErasures('tester'), [victim.id]);
    assert.deepEqual(seen, [`${victim.id} Vera Q. Victim`]);
    assert.deepEqual(
      deleted.map((p) => [p.id, p.name, p.samples.length]),
      [[victim.id, 'Vera Q. Victim', 2]],
      'the person was still in the datafile at open, so the events carry them whole',
    );
    assert.deepEqual(reopened.pendingErasures(), []);
    assert.equal(existsSync(journal), false);
    assert.deepEqual(filesContaining(dir, needles), []);
    assert.deepEqual(await reopened.finishPendingErasures(), [], 'nothing left to finish');
    await reopened.close();
  });

  it('finishPendingErasures() finishes what it can and rejects, keeping the entry, when an eraser fails', async () => {
    const file = freshFile();
    const store = await FaceStore.open({ file });
    const a = await store.addPerson({ name: 'Ann' }, { descriptor: unitVector(1), modelId: MODEL });
    const b = await store.addPerson({ name: 'Bob' }, { descriptor: unitVector(2), modelId: MODEL });
    const broken = new Set([a.id, b.id]);
    store.addEraser('flaky', {
      erasePerson: ({ id }) =>
        broken.has(id) ? Promise.reject(new Error(`cannot erase ${id}`)) : Promise.resolve(),
    });
    await assert.rejects(store.deletePerson(a.id), (err) => isStoreError(err, 'EERASURE'));
    await assert.rejects(store.deletePerson(b.id), (err) => isStoreError(err, 'EERASURE'));
    assert.deepEqual(
      store.pendingErasures().map((e) => e.id),
      [a.id, b.id],
    );
    broken.delete(a.id);
    await assert.rejects(store.finishPendingErasures(), (err) => {
      assert.ok(isStoreError(err, 'EERASURE'));
      assert.match(err.message, /eraser "flaky" failed: cannot erase PERSON_0002/);
      return true;
    });
    assert.deepEqual(
      store.pendingErasures().map((e) => e.id),
      [b.id],
    );
    broken.clear();
    assert.deepEqual(await store.finishPendingErasures(), [b.id]);
    assert.equal(existsSync(store.journalFile), false);
    await store.close();
  });

  it('sweeps what a crash left half-written at open: temporary files and images no sample names', async () => {
    const file = freshFile();
    const dir = path.dirname(file);
    const store = await FaceStore.open({ file, backups: 3 });
    const p = await store.addPerson(
      { name: 'Pia' },
      { descriptor: unitVector(3), modelId: MODEL, crop: jpegish('pia') },
    );
    await store.addPerson({ name: 'Quinn' });
    const kept = store.imagePath(p.samples[0])!;
    await store.close();
    const leftovers = [
      `${file}.bak.1.tmp`,
      `${file}.bak.2.tmp`,
      `${file}~`,
      `${file}.erasures.json.tmp`,
      path.join(dir, 'faces.audit.jsonl.tmp'),
      path.join(dir, 'faces', p.id, '0123456789abcdef.jpg.tmp'),
      path.join(dir, 'faces', p.id, '0123456789abcdef.jpg'),
      path.join(dir, 'faces', 'PERSON_0077', 'fedcba9876543210.jpg'),
    ];
    for (const f of leftovers) {
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, 'crop-of-nobody');
    }
    const notOurs = path.join(dir, 'faces', p.id, 'notes.txt');
    writeFileSync(notOurs, 'a file the store did not write');
    const reopened = await FaceStore.open({ file, backups: 3 });
    for (const f of leftovers) assert.equal(existsSync(f), false, `${path.relative(dir, f)} is swept`);
    assert.equal(existsSync(path.join(dir, 'faces', 'PERSON_0077')), false, 'an emptied folder goes too');
    assert.ok(existsSync(kept), "a sample's image stays");
    assert.ok(existsSync(notOurs), 'a file the store could not have written stays');
    assert.equal(reopened.size(), 2);
    await reopened.close();
  });

  it('facewatch delete finishes an erasure cut short and says so', async () => {
    const file = freshFile();
    const { store, victim, needles } = await seeded(file);
    store.addEraser('broken', { erasePerson: () => Promise.reject(new Error('offline')) });
    await assert.rejects(store.deletePerson(victim.id), (err) => isStoreError(err, 'EERASURE'));
    await store.close();
    const r = await cli(['delete', '--store', file, victim.id, 'PERSON_0404', '__proto__']);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.slice(0, 2), [
      { id: victim.id, deleted: true, resumed: true },
      { id: 'PERSON_0404', deleted: false },
    ]);
    assert.deepEqual(Object.keys(lines[2]), ['id', 'deleted', 'error']);
    assert.match(String(lines[2].error), /person id "__proto__" is reserved/);
    assert.equal(existsSync(`${file}.erasures.json`), false);
    assert.deepEqual(filesContaining(path.dirname(file), needles), []);
  });
});
