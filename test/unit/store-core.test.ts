/**
 * FaceStore core on real NeDB files in a temp folder: ids, events, matching, models, erasure,
 * corruption, locks, serialised writes, export/import. Descriptors here are random unit vectors
 * with a fixed model id: these tests are about storage and the index, not about faces
 * (store-faces.test.ts does faces).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DescriptorIndex } from '../../lib/store/descriptor-index';
import { encodeDescriptor } from '../../lib/store/codec';
import { isStoreError } from '../../lib/store/errors';
import { FaceStore, type Person, type Sample } from '../../lib/store/face-store';
import { confidenceOf } from '../../lib/store/match';
import { MATCH } from '../../lib/types/defaults';
import { DIM, MODEL, unitVector } from '../helpers/store-fixtures';

const unit = unitVector;

/** A vector at euclidean distance `d` from unit vector `v` (d small), still roughly unit. */
function near(v: Float32Array, d: number, seed: number): Float32Array {
  const r = unit(seed);
  // Remove the component along v so the step is orthogonal, then scale to length d.
  let dot = 0;
  for (let i = 0; i < DIM; i++) dot += r[i] * v[i];
  const o = r.map((x, i) => x - dot * v[i]);
  let n = 0;
  for (let i = 0; i < DIM; i++) n += o[i] * o[i];
  n = Math.sqrt(n);
  return v.map((x, i) => x + (o[i] / n) * d);
}

function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function jpegish(tag: string): Buffer {
  // Not decoded by the store: any bytes stand for a crop. Marked so a grep can find them.
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`crop-of-${tag}`)]);
}

/** Every file under dir (recursively) with its bytes. */
function allFiles(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...allFiles(full));
    else out.push({ file: full, text: readFileSync(full).toString('latin1') });
  }
  return out;
}

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fw-store-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
function freshDir(): string {
  return path.join(root, `s${++n}`);
}

describe('DescriptorIndex', () => {
  for (const kernel of ['auto', 'javascript'] as const) {
    it(`returns the same nearest people as a brute-force scan through adds and removals (${kernel} kernel)`, () => {
      const index = new DescriptorIndex(DIM, { kernel });
      if (kernel === 'auto') assert.equal(index.kernel, 'wasm-simd', 'Node 20 has WebAssembly SIMD');
      const samples = new Map<string, { person: string; d: Float32Array }>();
      let seed = 1;
      for (let i = 0; i < 600; i++) {
        const person = `P${i % 150}`;
        const id = `s${i}`;
        const d = unit(seed++);
        samples.set(id, { person, d });
        index.add(person, id, d);
      }
      // Remove a third of the samples, and every sample of P7 (its slot gets re-used).
      for (const id of [...samples.keys()].filter((_, i) => i % 3 === 0)) {
        samples.delete(id);
        assert.equal(index.removeSample(id), true);
      }
      const removedP7 = index.removePerson('P7');
      for (const [id, s] of samples) if (s.person === 'P7') samples.delete(id);
      assert.ok(removedP7 > 0);
      index.add('NEW', 'new-1', unit(9999));
      samples.set('new-1', { person: 'NEW', d: unit(9999) });
      assert.equal(index.rows, samples.size);
      for (let q = 0; q < 20; q++) {
        const query = unit(50000 + q);
        const perPerson = new Map<string, number>();
        for (const s of samples.values()) {
          const d = dist(query, s.d);
          if (d < (perPerson.get(s.person) ?? Infinity)) perPerson.set(s.person, d);
        }
        const expected = [...perPerson.entries()].sort((a, b) => a[1] - b[1]).slice(0, 5);
        const got = index.search(query, 5);
        assert.deepEqual(
          got.map((h) => h.id),
          expected.map((e) => e[0]),
        );
        got.forEach((h, i) => assert.ok(Math.abs(h.distance - expected[i][1]) < 1e-5));
      }
      assert.equal(
        index.search(unit(1), 5).find((h) => h.id === 'P7'),
        undefined,
      );
    });

    it(`keeps every person's mean in step with adds and removals, built late or early (${kernel} kernel)`, () => {
      const early = new DescriptorIndex(DIM, { kernel });
      early.means();
      const late = new DescriptorIndex(DIM, { kernel });
      const samples = new Map<string, { person: string; d: Float32Array }>();
      const change = (f: (index: DescriptorIndex) => void): void => [early, late].forEach(f);
      let seed = 1;
      for (let i = 0; i < 300; i++) {
        const person = `P${i % 60}`;
        const d = unit(seed++);
        samples.set(`s${i}`, { person, d });
        change((x) => x.add(person, `s${i}`, d));
      }
      for (const id of [...samples.keys()].filter((_, i) => i % 4 === 0)) {
        samples.delete(id);
        change((x) => assert.equal(x.removeSample(id), true));
      }
      change((x) => x.removePerson('P9'));
      for (const [id, s] of samples) if (s.person === 'P9') samples.delete(id);
      // A sample id given again replaces its descriptor (and its person's mean).
      const again = unit(7777);
      samples.set('s1', { person: 'P1', d: again });
      change((x) => x.add('P1', 's1', again));
      const expected = new Map<string, Float32Array>();
      const counts = new Map<string, number>();
      for (const s of samples.values()) {
        const m = expected.get(s.person) ?? new Float32Array(DIM);
        for (let i = 0; i < DIM; i++) m[i] += s.d[i];
        expected.set(s.person, m);
        counts.set(s.person, (counts.get(s.person) ?? 0) + 1);
      }
      for (const [p, m] of expected) for (let i = 0; i < DIM; i++) m[i] /= counts.get(p)!;
      for (const index of [early, late]) {
        const means = index.means();
        assert.equal(means.rows, expected.size);
        assert.equal(means.people, index.people);
        for (let q = 0; q < 10; q++) {
          const query = unit(60000 + q);
          const want = [...expected.entries()]
            .map(([id, m]) => ({ id, distance: dist(query, m) }))
            .sort((a, b) => a.distance - b.distance)
            .slice(0, 4);
          const got = means.search(query, 4);
          assert.deepEqual(
            got.map((h) => h.id),
            want.map((h) => h.id),
          );
          got.forEach((h, i) => assert.ok(Math.abs(h.distance - want[i].distance) < 1e-5));
        }
        assert.equal(
          means.search(unit(1), 60).find((h) => h.id === 'P9'),
          undefined,
          'a removed person leaves the means',
        );
      }
      // Cleared, the means go with the samples, and their memory holds no descriptor.
      early.clear();
      assert.equal(early.means().rows, 0);
      const view = early.means().view();
      assert.ok(new Float32Array(view.buffer, 0, view.capacity * DIM).every((x) => x === 0));
    });
  }
});

describe('FaceStore', () => {
  it('generates PERSON_0001... ids from a persisted counter that never re-uses an id and skips chosen ids', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'faces.db');
    let store = await FaceStore.open({ file });
    const a = await store.addPerson({ name: 'Ann' });
    const b = await store.addPerson({ name: 'Bob' });
    assert.deepEqual([a.id, b.id], ['PERSON_0001', 'PERSON_0002']);
    await store.addPerson({ id: 'PERSON_0003', name: 'Chosen' });
    await store.addPerson({ id: 'alice', name: 'Alice' });
    assert.equal((await store.addPerson({ name: 'Dan' })).id, 'PERSON_0004');
    assert.equal(await store.deletePerson('PERSON_0004'), true);
    assert.equal(await store.deletePerson('PERSON_0003'), true);
    await store.close();
    store = await FaceStore.open({ file });
    const e = await store.addPerson({ name: 'Eve' });
    assert.equal(e.id, 'PERSON_0005', 'ids of deleted people (generated or chosen) are not handed out again');
    await assert.rejects(store.addPerson({ id: 'alice', name: 'Other' }), (err) =>
      isStoreError(err, 'EEXISTS'),
    );
    assert.deepEqual(
      store
        .listPeople()
        .map((p) => p.id)
        .sort(),
      ['PERSON_0001', 'PERSON_0002', 'PERSON_0005', 'alice'],
    );
    await store.close();
  });

  it('refuses ids that could escape the images folder and keeps awkward metadata keys', async () => {
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    for (const bad of ['../x', 'a/b', '.hidden', 'a..b', '', 'x'.repeat(65), 'tab\there', 'ünï']) {
      if (bad === '') continue;
      await assert.rejects(
        store.addPerson({ id: bad, name: 'X' }),
        (err) => isStoreError(err, 'EINVALID_ID'),
        bad,
      );
    }
    await assert.rejects(store.addPerson({ name: '  \u0000 ' }), (err) => isStoreError(err, 'EINVALID_NAME'));
    const p = await store.addPerson({
      name: '  Zoë \n  Smith ',
      metadata: { 'dept.name': 'R&D', $role: 'x', n: 1 },
    });
    assert.equal(p.name, 'Zoë Smith');
    await store.close();
    const again = await FaceStore.open({ file: store.file });
    assert.deepEqual(again.getPerson(p.id)?.metadata, { 'dept.name': 'R&D', $role: 'x', n: 1 });
    await again.close();
  });

  it('refuses the keys that reach a prototype as ids, names and metadata keys: enrol, import, rename', async () => {
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    for (const id of ['__proto__', 'constructor', 'prototype', ' Constructor ']) {
      await assert.rejects(
        store.addPerson({ id, name: 'X' }, { descriptor: unit(1), modelId: MODEL }),
        (err) => {
          assert.ok(isStoreError(err, 'EINVALID_ID'), String(err));
          assert.match(err.message, /is reserved \(__proto__, constructor, prototype cannot be used\)/);
          return true;
        },
        id,
      );
      await assert.rejects(store.addPerson({ name: id }), (err) => {
        assert.ok(isStoreError(err, 'EINVALID_NAME'), String(err));
        assert.match(err.message, /name ".*" is reserved/);
        return true;
      });
      await assert.rejects(store.deletePerson(id), (err) => isStoreError(err, 'EINVALID_ID'));
    }
    const p = await store.addPerson({ name: 'Rena' });
    for (const name of ['__proto__', 'prototype'])
      await assert.rejects(store.updatePerson(p.id, { name }), (err) => isStoreError(err, 'EINVALID_NAME'));
    for (const metadata of [
      JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>,
      { deep: JSON.parse('{"constructor": {"prototype": {"polluted": 1}}}') as unknown },
    ]) {
      await assert.rejects(store.updatePerson(p.id, { metadata }), (err) => {
        assert.ok(isStoreError(err, 'EINVALID_METADATA'), String(err));
        assert.match(err.message, /reserved/);
        return true;
      });
    }
    assert.equal(store.getPerson(p.id)?.name, 'Rena');
    const report = await store.importJson(
      JSON.parse(
        JSON.stringify({
          format: 'facewatch-store',
          version: 1,
          people: [
            { id: '__proto__', name: 'Proto', metadata: {}, samples: [] },
            { id: 'constructor', name: 'Cons', metadata: {}, samples: [] },
            { id: 'ok-1', name: 'prototype', metadata: {}, samples: [] },
            { id: 'ok-2', name: 'Fine', metadata: {}, samples: [] },
          ],
        }),
      ),
    );
    assert.deepEqual(
      report.rows.map((r) => [r.status, r.code]),
      [
        ['refused', 'EINVALID_ID'],
        ['refused', 'EINVALID_ID'],
        ['refused', 'EINVALID_NAME'],
        ['enrolled', undefined],
      ],
    );
    assert.deepEqual(
      store
        .listPeople()
        .map((x) => x.name)
        .sort(),
      ['Fine', 'Rena'],
    );
    await store.close();
    assert.deepEqual(
      Object.getOwnPropertyNames(Object.prototype).sort(),
      protoBefore,
      'Object.prototype untouched',
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("emits store events and matches a registration at once, by the mean of a person's samples or the nearest", async () => {
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    const events: string[] = [];
    const added: Sample[] = [];
    store.on('person-added', (p: Person) => events.push(`person-added ${p.id}`));
    store.on('person-updated', (p: Person) => events.push(`person-updated ${p.id}`));
    store.on('sample-added', (e) => {
      events.push(`sample-added ${e.person.id}`);
      added.push(e.sample);
    });
    store.on('sample-removed', (e) => events.push(`sample-removed ${e.person.id}`));
    store.on('person-deleted', (p: Person) => events.push(`person-deleted ${p.id}`));

    assert.deepEqual(store.match(unit(1), MODEL), {
      known: false,
      person: null,
      distance: null,
      confidence: 0,
      ambiguous: false,
      candidates: [],
    });
    const ann = unit(100);
    const ann2 = near(ann, 0.5, 101);
    const bob = unit(200);
    const a = await store.addPerson(
      { name: 'Ann', metadata: { role: 'staff' } },
      { descriptor: ann, modelId: MODEL, source: 'a.jpg' },
    );
    await store.addSample(a.id, { descriptor: Array.from(ann2), modelId: MODEL });
    const b = await store.addPerson({ name: 'Bob' }, { descriptor: bob, modelId: MODEL });
    assert.equal(store.samples(), 3);
    assert.ok(dist(added[0].descriptor, ann) < 1e-6, 'sample-added carries the descriptor');

    // Closer to Ann's second sample than to her first: by the default rule the person's distance
    // is to the mean of her samples, by the nearest rule the minimum over them.
    const probe = near(ann2, 0.3, 102);
    const annMean = ann.map((x, i) => (x + ann2[i]) / 2);
    const m = store.match(probe, MODEL);
    assert.equal(MATCH.rule.default, 'mean');
    assert.equal(m.known, true);
    assert.equal(m.person?.id, a.id);
    assert.deepEqual(m.person?.metadata, { role: 'staff' });
    assert.ok(Math.abs((m.distance ?? 0) - dist(probe, annMean)) < 1e-5);
    const byNearest = store.match(probe, MODEL, { rule: 'nearest' });
    assert.ok(Math.abs((byNearest.distance ?? 0) - dist(probe, ann2)) < 1e-5);
    assert.ok(byNearest.distance! < dist(probe, ann));
    assert.deepEqual(await store.matchAsync(probe, MODEL, { rule: 'nearest' }), byNearest);
    assert.equal(m.confidence, confidenceOf(m.distance!, MATCH.threshold.default));
    assert.deepEqual(
      m.candidates.map((c) => c.id),
      [a.id, b.id],
    );
    assert.equal(m.candidates[0].name, 'Ann');

    // Far from everyone: unknown, with the nearest still reported.
    const stranger = store.match(unit(300), MODEL);
    assert.equal(stranger.known, false);
    assert.equal(stranger.person, null);
    assert.ok(stranger.distance! > MATCH.threshold.default && stranger.confidence < 0.5);
    assert.equal(store.match(probe, MODEL, { threshold: 0.1 }).known, false);

    // Rename: the match shows the new name without a restart.
    await store.updatePerson(a.id, { name: 'Ann Lee' });
    assert.equal(store.match(probe, MODEL).person?.name, 'Ann Lee');

    // Two people equally close: ambiguous, not guessed.
    const twin = near(ann, 0.02, 103);
    const t = await store.addPerson({ name: 'Twin' }, { descriptor: twin, modelId: MODEL });
    const amb = store.match(near(ann, 0.3, 104), MODEL, { margin: 0.1 });
    assert.equal(amb.ambiguous, true);
    assert.equal(amb.known, false);
    assert.equal(amb.person, null);
    assert.equal(store.match(near(ann, 0.3, 104), MODEL, { margin: 0 }).known, true);

    await store.deletePerson(t.id);
    assert.equal(store.match(near(ann, 0.3, 104), MODEL, { margin: 0.1 }).person?.id, a.id);
    assert.deepEqual(events, [
      'person-added PERSON_0001',
      'sample-added PERSON_0001',
      'sample-added PERSON_0001',
      'person-updated PERSON_0001',
      'person-added PERSON_0002',
      'sample-added PERSON_0002',
      'person-updated PERSON_0001',
      'person-added PERSON_0003',
      'sample-added PERSON_0003',
      'sample-removed PERSON_0003',
      'person-deleted PERSON_0003',
    ]);
    await store.close();
  });

  it('refuses descriptors of another model, never comparing them', async () => {
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    const p = await store.addPerson({ name: 'Ann' }, { descriptor: unit(1), modelId: MODEL });
    assert.equal(store.modelId, MODEL);
    await assert.rejects(store.addSample(p.id, { descriptor: unit(1), modelId: 'other-model' }), (err) => {
      assert.ok(isStoreError(err, 'EMODEL_MISMATCH'));
      assert.match(err.message, /other-model/);
      assert.match(err.message, new RegExp(MODEL));
      return true;
    });
    await assert.rejects(
      store.addPerson({ name: 'B' }, { descriptor: unit(2), modelId: 'other-model' }),
      (err) => isStoreError(err, 'EMODEL_MISMATCH'),
    );
    assert.throws(
      () => store.match(unit(1), 'other-model'),
      (err) => isStoreError(err, 'EMODEL_MISMATCH'),
    );
    await assert.rejects(store.matchAsync(unit(1), 'other-model'), (err) =>
      isStoreError(err, 'EMODEL_MISMATCH'),
    );
    await assert.rejects(store.addSample(p.id, { descriptor: unit(1).slice(0, 64), modelId: MODEL }), (err) =>
      isStoreError(err, 'EDESCRIPTOR'),
    );
    assert.equal(store.size(), 1, 'the refused person was not written');
    assert.equal(store.getPerson(p.id)?.samples.length, 1);
    await store.close();
  });

  it('erases a deleted person from the datafile, every backup, the images and the index', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'faces.db');
    const store = await FaceStore.open({ file, backups: 3, actor: 'tester' });
    const victim = unit(777);
    const victim2 = near(victim, 0.4, 778);
    const keep = unit(888);
    const deleted: Person[] = [];
    store.on('person-deleted', (p: Person) => deleted.push(p));
    const v = await store.addPerson(
      { name: 'Victor Victim' },
      { descriptor: victim, modelId: MODEL, crop: jpegish('victor-1') },
    );
    await store.addSample(v.id, { descriptor: victim2, modelId: MODEL, crop: jpegish('victor-2') });
    const k = await store.addPerson(
      { name: 'Kate Keep' },
      { descriptor: keep, modelId: MODEL, crop: jpegish('kate') },
    );
    // More batches so that every backup generation holds the victim.
    for (let i = 0; i < 4; i++) await store.updatePerson(k.id, { metadata: { i } });
    const backups = await store.listBackups();
    assert.equal(backups.length, 3);

    // The serialised forms a grep would find: base64 in the datafile and backups, a few of the
    // numbers as JSON prints them, and the crop bytes.
    const needles = [victim, victim2].flatMap((d) => {
      const b64 = encodeDescriptor(d);
      return [
        b64.slice(0, 24),
        b64.slice(300, 324),
        b64.slice(-24),
        JSON.stringify(Array.from(d.slice(5, 8))).slice(1, -1),
      ];
    });
    needles.push('crop-of-victor');
    const before = allFiles(dir);
    for (const needle of needles.slice(0, 3)) {
      assert.ok(
        before.some((f) => f.text.includes(needle)),
        `the test's needle ${needle} is found before deletion (so its absence later means something)`,
      );
    }
    assert.equal(
      before.filter((f) => f.text.includes(encodeDescriptor(victim))).length,
      4,
      'datafile and 3 backups',
    );

    assert.equal(await store.deletePerson(v.id, 'tester'), true);
    const files = allFiles(dir);
    for (const needle of needles) {
      const hit = files.find((f) => f.text.includes(needle));
      assert.equal(hit, undefined, `${needle} still in ${hit?.file}`);
    }
    assert.equal(existsSync(path.join(store.imagesDir, v.id)), false, 'the image folder is gone');
    assert.ok(existsSync(path.join(store.imagesDir, k.id)), "other people's images stay");
    assert.equal(deleted.length, 1);
    assert.equal(deleted[0].id, v.id);
    assert.equal(store.getPerson(v.id), undefined);
    assert.equal(store.match(victim, MODEL).person?.id ?? null, null);
    assert.equal(store.match(keep, MODEL).person?.id, k.id);

    const audit = readFileSync(store.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const del = audit.find((e) => e.action === 'delete');
    assert.deepEqual(
      { id: del?.id, name: del?.name, actor: del?.actor },
      { id: v.id, name: undefined, actor: 'tester' },
    );
    assert.ok(typeof del?.time === 'string');
    // The earlier lines about the person keep time, action, id and actor; the name is nowhere.
    for (const e of audit.filter((x) => x.id === v.id && x.action !== 'delete'))
      assert.deepEqual(Object.keys(e), ['time', 'action', 'id', 'actor']);
    assert.equal(
      files.find((f) => f.text.includes('Victor Victim'))?.file,
      undefined,
      'the name is in no file',
    );
    assert.ok(
      audit.some((e) => e.id === k.id && e.name === 'Kate Keep'),
      "other people's lines keep their names",
    );
    assert.equal(store.pendingErasures().length, 0);
    assert.equal(existsSync(store.journalFile), false, 'no journal is left when nothing is pending');
    assert.deepEqual([...new Set(audit.map((e) => e.action))].sort(), [
      'add-sample',
      'delete',
      'enrol',
      'update',
    ]);

    // Other people survive the rewritten backups, which are still loadable stores.
    await store.close();
    for (const b of backups) {
      const copy = path.join(dir, `restored-${path.basename(b.file)}.db`);
      writeFileSync(copy, readFileSync(b.file));
      const restored = await FaceStore.open({ file: copy, backups: 0 });
      assert.equal(restored.getPerson(v.id), undefined);
      assert.equal(restored.getPerson(k.id)?.name, 'Kate Keep');
      await restored.close();
    }
  });

  it('erases a removed sample the same way', async () => {
    const dir = freshDir();
    const store = await FaceStore.open({ file: path.join(dir, 'faces.db') });
    const d1 = unit(11);
    const d2 = near(d1, 0.3, 12);
    const p = await store.addPerson({ name: 'Sam' }, { descriptor: d1, modelId: MODEL, crop: jpegish('s1') });
    const p2 = await store.addSample(p.id, { descriptor: d2, modelId: MODEL, crop: jpegish('s2') });
    await store.updatePerson(p.id, { name: 'Sam S' });
    const sid = p2.samples[1].id;
    const after = await store.removeSample(p.id, sid);
    assert.equal(after.samples.length, 1);
    const b64 = encodeDescriptor(d2);
    assert.equal(
      allFiles(dir).find((f) => f.text.includes(b64.slice(40, 64)) || f.text.includes('crop-of-s2'))?.file,
      undefined,
    );
    assert.ok(
      allFiles(dir).some((f) => f.text.includes(encodeDescriptor(d1))),
      'the kept sample is still stored',
    );
    await store.close();
  });

  it('names a missing sample in a short quote, however long the id asked for', async () => {
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    const p = await store.addPerson({ name: 'Sam' }, { descriptor: unit(13), modelId: MODEL });
    await assert.rejects(store.removeSample(p.id, '%'.repeat(10000)), (err: Error) => {
      assert.match(err.message, /has no sample "%{40}…"$/);
      assert.ok(err.message.length < 120, err.message.slice(0, 200));
      return true;
    });
    await store.close();
  });

  it('reports one corrupt line among many, names the newest backup and leaves the file untouched', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'faces.db');
    const store = await FaceStore.open({ file });
    for (let i = 0; i < 40; i++)
      await store.addPerson({ name: `P${i}` }, { descriptor: unit(i + 1), modelId: MODEL });
    await store.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.ok(lines.length > 40);
    lines[17] = lines[17].slice(0, 50); // a torn write in the middle
    writeFileSync(file, lines.join('\n'));
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
    const mtime = statSync(file).mtimeMs;
    await assert.rejects(FaceStore.open({ file }), (err) => {
      assert.ok(isStoreError(err, 'ESTORE_CORRUPT'));
      assert.match(err.message, /1 of \d+ lines cannot be read \(line 18\)/);
      assert.match(err.message, /left untouched/);
      assert.ok(err.message.includes(`${file}.bak.1`), err.message);
      return true;
    });
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), hash);
    assert.equal(statSync(file).mtimeMs, mtime);
    assert.equal(existsSync(`${file}.lock`), false, 'a failed open releases the lock');
  });

  it('reports an unreadable datafile clearly', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'faces.db');
    mkdirSync(file, { recursive: true });
    await assert.rejects(FaceStore.open({ file }), (err) => {
      assert.ok(isStoreError(err, 'ESTORE_UNREADABLE'));
      assert.match(err.message, /faces\.db is not a file/);
      return true;
    });
    assert.equal(existsSync(`${file}.lock`), false);
  });

  it('serialises concurrent registrations', async () => {
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        store.addPerson({ name: `C${i}` }, { descriptor: unit(1000 + i), modelId: MODEL }),
      ),
    );
    assert.deepEqual(
      results.map((p) => p.id),
      Array.from({ length: 25 }, (_, i) => `PERSON_${String(i + 1).padStart(4, '0')}`),
    );
    // A batch sees no other writer between its check and its write.
    const order: string[] = [];
    await Promise.all([
      store.batch(async (tx) => {
        order.push('batch-start');
        await new Promise((r) => setTimeout(r, 30));
        await tx.addPerson({ name: 'in batch' });
        order.push('batch-end');
      }),
      store.addPerson({ name: 'outside' }).then(() => order.push('outside')),
    ]);
    assert.deepEqual(order, ['batch-start', 'batch-end', 'outside']);
    await store.close();
    const reopened = await FaceStore.open({ file: store.file });
    assert.equal(reopened.size(), 27);
    assert.equal(reopened.samples(), 25);
    await reopened.close();
  });

  it('keeps its files private to the owner (biometric data)', async () => {
    const dir = freshDir();
    const store = await FaceStore.open({ file: path.join(dir, 'faces.db') });
    await store.addPerson({ name: 'A' }, { descriptor: unit(1), modelId: MODEL, crop: jpegish('a') });
    await store.addPerson({ name: 'B' });
    await store.close();
    const mode = (f: string): string => (statSync(path.join(dir, f)).mode & 0o777).toString(8);
    assert.deepEqual(
      ['faces.db', 'faces.db.bak.1', 'faces.audit.jsonl', 'faces', 'faces/PERSON_0001', '.'].map(mode),
      ['600', '600', '600', '700', '700', '700'],
    );
  });

  it('keeps at most N rolling backups, newest first', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'faces.db');
    const store = await FaceStore.open({ file, backups: 2 });
    for (let i = 0; i < 5; i++) await store.addPerson({ name: `B${i}` });
    const list = await store.listBackups();
    assert.deepEqual(
      list.map((b) => path.basename(b.file)),
      ['faces.db.bak.1', 'faces.db.bak.2'],
    );
    // .bak.1 is the state before the last batch: four people.
    assert.equal(
      readFileSync(list[0].file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"kind":"person"')).length,
      4,
    );
    await store.close();
  });

  it('exports and imports the whole store as JSON, descriptors and images included', async () => {
    const a = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    const p = await a.addPerson(
      { name: 'Ann', metadata: { phone: '1' } },
      { descriptor: unit(5), modelId: MODEL, crop: jpegish('ann') },
    );
    await a.addSample(p.id, { descriptor: unit(6), modelId: MODEL });
    await a.addPerson({ id: 'guest-7', name: 'Guest' }, { descriptor: unit(7), modelId: MODEL });
    const data = JSON.parse(JSON.stringify(await a.exportJson())) as Awaited<
      ReturnType<FaceStore['exportJson']>
    >;
    await a.close();
    assert.equal(data.modelId, MODEL);
    assert.equal(data.people.length, 2);

    const b = await FaceStore.open({ file: path.join(freshDir(), 'faces.db') });
    const report = await b.importJson(data, 'tester');
    assert.deepEqual([report.enrolled, report.duplicate, report.refused], [2, 0, 0]);
    assert.equal(b.modelId, MODEL);
    assert.deepEqual(b.getPerson(p.id)?.metadata, { phone: '1' });
    assert.equal(b.match(unit(6), MODEL, { rule: 'nearest' }).person?.id, p.id);
    const img = b.imagePath(b.getPerson(p.id)!.samples[0]);
    assert.ok(img && readFileSync(img).toString().includes('crop-of-ann'));
    assert.equal((await b.addPerson({ name: 'Next' })).id, 'PERSON_0002', 'the counter came along');

    const again = await b.importJson(data);
    assert.deepEqual([again.enrolled, again.duplicate, again.refused], [0, 2, 0]);
    const foreign = structuredClone(data);
    foreign.people[0].id = 'x1';
    foreign.people[0].samples[0].modelId = 'other-model';
    foreign.people[1].id = 'x2';
    const mixed = await b.importJson(foreign);
    assert.deepEqual(
      mixed.rows.map((r) => [r.id, r.status, r.code]),
      [
        ['x1', 'refused', 'EMODEL_MISMATCH'],
        ['x2', 'enrolled', undefined],
      ],
    );
    assert.equal(b.getPerson('x1'), undefined, 'nothing of a refused person is written');
    await assert.rejects(b.importJson({ people: [] }), (err) => isStoreError(err, 'EIMPORT_FORMAT'));
    await b.close();
  });

  it('searches large stores off the main thread with the same result', async () => {
    const store = await FaceStore.open({ file: path.join(freshDir(), 'faces.db'), offloadRows: 50 });
    await store.batch(async (tx) => {
      for (let i = 0; i < 120; i++)
        await tx.addPerson({ name: `W${i}` }, { descriptor: unit(3000 + i), modelId: MODEL });
    });
    // A second sample for some: the means differ from the samples.
    await store.batch(async (tx) => {
      for (let i = 0; i < 120; i += 3)
        await tx.addSample(`PERSON_${String(i + 1).padStart(4, '0')}`, {
          descriptor: near(unit(3000 + i), 0.4, 5000 + i),
          modelId: MODEL,
        });
    });
    for (let q = 0; q < 5; q++) {
      const probe = near(unit(3000 + q * 7), 0.3, 4000 + q);
      for (const rule of ['mean', 'nearest'] as const)
        assert.deepEqual(await store.matchAsync(probe, MODEL, { rule }), store.match(probe, MODEL, { rule }));
    }
    await store.close();
  });
});

describe('store lock', () => {
  it('refuses a second owner, names it, and takes over the lock of a dead process', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'faces.db');
    const first = await FaceStore.open({ file, owner: 'node-red' });
    await assert.rejects(FaceStore.open({ file }), (err) => {
      assert.ok(isStoreError(err, 'ESTORE_LOCKED'));
      assert.match(err.message, /in use by node-red \(pid \d+/);
      return true;
    });
    await first.close();
    assert.equal(existsSync(`${file}.lock`), false);

    // A real process that exited leaves its lock behind: stale, taken over.
    const child = spawn(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    let pid = '';
    child.stdout.on('data', (b: Buffer) => (pid += b.toString()));
    await new Promise((r) => child.on('close', r));
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: Number(pid), host: os.hostname(), owner: 'crashed', since: '', token: 't' }),
    );
    const second = await FaceStore.open({ file });
    assert.equal((JSON.parse(readFileSync(`${file}.lock`, 'utf8')) as { pid: number }).pid, process.pid);
    await second.close();
  });
});
