/**
 * The face store with real faces: the vision engine on the fixture photos, real NeDB files in a
 * temp folder, the real CLI in child processes. Enrol and identify across the three labelled
 * sets (figures printed), the duplicate check, ids after deletion, erasure checked with grep,
 * model mismatch, bulk imports, reembed, and the CLI's lock refusal and eval output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { encodeDescriptor } from '../../lib/store/codec';
import { Enroller, type AcceptedFace } from '../../lib/store/enrol';
import { isStoreError } from '../../lib/store/errors';
import { evaluate, type EvalResult, type LabelledImage } from '../../lib/eval/evaluate';
import { MATCH } from '../../lib/types/defaults';
import { FaceStore } from '../../lib/store/face-store';
import { importSource } from '../../lib/store/import';
import { FaceEngine } from '../../lib/vision/engine';
import { fixturePath, fullDataSkip, labelledPhotos, SETS } from '../helpers/env';
import { cli } from '../helpers/cli';
import { filesContaining } from '../helpers/files';

const FR = (rel: string): string => fixturePath('face_recognition', rel);
const OBAMA = FR('examples/knn_examples/train/obama/obama.jpg');
const OBAMA2 = FR('examples/knn_examples/train/obama/obama2.jpg');
const OBAMA3 = FR('tests/test_images/obama3.jpg');
const BIDEN = FR('examples/biden.jpg');
const ROSE = FR('examples/knn_examples/train/rose_leslie/img1.jpg');
const KIT = FR('examples/knn_examples/train/kit_harington/john1.jpeg');

/** Files under dir containing `needle` (plain bytes), by the real grep. */
function grep(dir: string, needle: string): string[] {
  try {
    return execFileSync('grep', ['-r', '-l', '-F', '-a', '--', needle, dir], { encoding: 'utf8' })
      .trim()
      .split('\n');
  } catch (err) {
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
}

/** README "Accuracy on the shared photos": enrolled, probes, correct, wrong person, false reject, impostors, false accept. */
const README_ACCURACY: Record<string, number[]> = {
  face_recognition: [6, 10, 9, 0, 1, 94, 0],
  'face-api.js': [8, 32, 26, 0, 6, 70, 0],
  dlib: [5, 49, 48, 0, 1, 56, 0],
};
/** README: same-person and different-person pairs of the full sets (duplicates removed). */
const README_PAIRS = [363, 5632];
/** README's threshold table: threshold, same-person pairs under it, different-person pairs under it. */
const README_THRESHOLDS = [
  [0.45, 310, 0],
  [0.5, 336, 0],
  [0.55, 353, 0],
  [0.6, 362, 1],
];
/** README: the closest pair of different people. */
const README_CLOSEST_IMPOSTOR = 0.595;

function euclidean(a: number[], b: number[]): number {
  return Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
}

describe('face store with real photos', () => {
  let engine: FaceEngine;
  let root: string;
  let n = 0;
  const fresh = (): string => path.join(root, `s${++n}`);

  before(async () => {
    engine = await FaceEngine.create({ poolSize: 2 });
    root = await mkdtemp(path.join(os.tmpdir(), 'fw-faces-'));
  });
  after(async () => {
    await engine?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  for (const [source, full] of [
    ['fixture sets', false],
    ['full sets', true],
  ] as const) {
    it(
      `enrols and identifies across the three labelled sets (${source}), with other sets as impostors`,
      full ? fullDataSkip() : {},
      async (t) => {
        const cache = new Map<string, AcceptedFace | null>();
        const sets = new Map<string, LabelledImage[]>(
          SETS.map((s) => [
            s,
            labelledPhotos(s, { full }).map((p) => ({
              path: p.path,
              rel: `${s}/${p.rel}`,
              identity: `${s}:${p.identity}`,
            })),
          ]),
        );
        const figures: Record<string, EvalResult> = {};
        for (const set of SETS) {
          const impostors = SETS.filter((s) => s !== set).flatMap((s) => sets.get(s) ?? []);
          const { result, details } = await evaluate(engine, sets.get(set) ?? [], impostors, { cache });
          figures[set] = result;
          const misses = details.filter((d) => !['enrolled', 'correct', 'rejected'].includes(d.outcome));
          t.diagnostic(`${set}: ${JSON.stringify(result)}`);
          for (const m of misses)
            t.diagnostic(
              `  ${m.outcome}: ${m.rel} (distance ${m.distance?.toFixed(3)}, matched ${m.matched})`,
            );
          const identities = new Set((sets.get(set) ?? []).map((p) => p.identity));
          assert.equal(result.enrolled, identities.size, `${set}: every identity enrolled`);
          assert.equal(result.no_face, 0, `${set}: a face in every labelled photo`);
          assert.equal(result.probes, (sets.get(set) ?? []).length - identities.size);
          assert.equal(result.correct + result.wrong_person + result.false_reject, result.probes);
          assert.equal(result.wrong_person, 0, `${set}: nobody taken for somebody else`);
          assert.ok(result.false_accept <= 1, `${set}: ${result.false_accept} impostors accepted`);
          assert.equal(result.impostor_probes, impostors.length);
          assert.equal(result.threshold, MATCH.threshold.default);
          if (full) {
            // README "Accuracy on the shared photos", at the default threshold 0.5 and margin 0.05.
            const { enrolled, probes, correct, wrong_person, false_reject, impostor_probes, false_accept } =
              result;
            assert.deepEqual(
              [enrolled, probes, correct, wrong_person, false_reject, impostor_probes, false_accept],
              README_ACCURACY[set],
              `${set}: the README's row`,
            );
          } else {
            assert.ok(
              result.correct / result.probes >= 0.75,
              `${set}: ${result.correct}/${result.probes} recognised`,
            );
          }
        }
        const all = Object.values(figures);
        const correct = all.reduce((s, r) => s + r.correct, 0);
        const probes = all.reduce((s, r) => s + r.probes, 0);
        const impostors = all.reduce((s, r) => s + r.impostor_probes, 0);
        const accepted = all.reduce((s, r) => s + r.false_accept, 0);
        t.diagnostic(
          `all sets: ${correct}/${probes} probes recognised, ${accepted}/${impostors} impostors accepted`,
        );
        assert.ok(correct / probes >= 0.9);
        assert.equal(accepted, 0, `${accepted}/${impostors} impostors accepted`);
        if (!full) return;
        // README "Threshold, margin, confidence": every pair of photos of the three sets.
        const faces = [...sets.values()].flat().map((p) => ({ p, f: cache.get(p.path) }));
        const same: number[] = [];
        const different: number[] = [];
        for (let i = 0; i < faces.length; i++)
          for (let j = i + 1; j < faces.length; j++) {
            const [a, b] = [faces[i], faces[j]];
            if (!a.f || !b.f) continue;
            const d = euclidean(a.f.face.descriptor, b.f.face.descriptor);
            (a.p.identity === b.p.identity ? same : different).push(d);
          }
        const under = (ds: number[], t: number): number => ds.filter((d) => d < t).length;
        const table = README_THRESHOLDS.map(([t]) => [t, under(same, t), under(different, t)]);
        t.diagnostic(`pairs under each threshold [t, same, different]: ${JSON.stringify(table)}`);
        assert.deepEqual([same.length, different.length], README_PAIRS);
        assert.deepEqual(table, README_THRESHOLDS);
        assert.equal(Math.min(...different).toFixed(3), README_CLOSEST_IMPOSTOR.toFixed(3));
        assert.ok(Math.min(...different) - MATCH.threshold.default >= 0.09, 'the safety margin');
      },
    );
  }

  it('refuses a second photo of an enrolled person under a new name, naming that person', async () => {
    const store = await FaceStore.open({ file: path.join(fresh(), 'faces.db') });
    const enroller = new Enroller(store, engine);
    const first = await enroller.enrol({ image: readFileSync(OBAMA), fileName: OBAMA, name: 'Barack Obama' });
    assert.equal(first.status, 'enrolled');
    await assert.rejects(
      enroller.enrol({ image: readFileSync(OBAMA2), fileName: OBAMA2, name: 'Someone Else' }),
      (err) => {
        assert.ok(isStoreError(err, 'EDUPLICATE'));
        assert.match(err.message, /Barack Obama \(PERSON_0001\)/);
        assert.ok((err.details.duplicateOf as { distance: number }).distance < 0.5);
        return true;
      },
    );
    assert.equal(store.size(), 1, 'nothing written for the refused photo');
    assert.equal(store.getPerson(first.person.id)?.samples.length, 1);
    // Policy add-sample: the photo becomes a sample of the matched person instead.
    const added = await enroller.enrol(
      { image: readFileSync(OBAMA2), fileName: OBAMA2, name: 'Someone Else' },
      { duplicatePolicy: 'add-sample' },
    );
    assert.deepEqual(
      [added.status, added.person.id, added.person.samples.length],
      ['sample-added', first.person.id, 2],
    );
    // A photo of somebody else given as a sample of Obama's is refused: it would pull his mean away.
    await assert.rejects(
      enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, id: first.person.id }),
      (err) => {
        assert.ok(isStoreError(err, 'ENOTSAME'), String(err));
        assert.match(
          err.message,
          /does not look like Barack Obama \(PERSON_0001\): distance 0\.\d+ to the mean of their 2 samples/,
        );
        return true;
      },
    );
    assert.equal(store.getPerson(first.person.id)?.samples.length, 2, 'nothing added');
    // Replacing his samples (existing: update) is not checked: that is how a wrong enrolment is mended.
    // A different person is not a duplicate.
    assert.equal(
      (await enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, name: 'Joe Biden' })).status,
      'enrolled',
    );
    await store.close();
  });

  it('checks file type, size, face count, face size and the name before writing anything', async () => {
    const dir = fresh();
    const store = await FaceStore.open({ file: path.join(dir, 'faces.db') });
    const enroller = new Enroller(store, engine);
    const photo = readFileSync(OBAMA);
    const refuse = async (req: Parameters<Enroller['enrol']>[0], code: string, over = {}): Promise<void> => {
      await assert.rejects(enroller.enrol(req, over), (err) => {
        assert.ok(isStoreError(err), String(err));
        assert.equal(err.code, code, err.message);
        return true;
      });
    };
    await refuse({ image: photo, fileName: 'obama.gif', name: 'A' }, 'EFILETYPE');
    await refuse({ image: Buffer.from('GIF89a not really'), fileName: 'x.jpg', name: 'A' }, 'EFILETYPE');
    await refuse({ image: photo, fileName: 'obama.jpg', name: 'A' }, 'ETOOLARGE', { maxBytes: 1000 });
    await refuse({ image: photo, fileName: 'obama.jpg', name: 'A', id: '../../etc' }, 'EINVALID_ID');
    await refuse({ image: photo, fileName: 'obama.jpg' }, 'EINVALID_NAME');
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#7a8c99' } })
      .png()
      .toBuffer();
    await refuse({ image: blank, fileName: 'wall.png', name: 'A' }, 'ENOFACE');
    await refuse({ image: photo, fileName: 'obama.jpg', name: 'A' }, 'EFACESMALL', { minFaceSize: 1000 });
    await refuse({ image: photo, fileName: 'obama.jpg', name: 'A' }, 'EBLURRY', { minSharpness: 1e9 });
    const group = FR('examples/two_people.jpg');
    await refuse({ image: readFileSync(group), fileName: group, name: 'A' }, 'EMULTIFACE', {
      minFaceSize: 20,
    });
    const largest = await enroller.enrol(
      { image: readFileSync(group), fileName: group, name: 'Largest' },
      { faces: 'largest', minFaceSize: 20 },
    );
    assert.equal(largest.status, 'enrolled');
    await store.deletePerson(largest.person.id);
    assert.equal(store.size(), 0);
    assert.deepEqual(
      readFileSync(store.file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"kind":"person"')),
      [],
      'no person document left behind',
    );
    assert.equal(existsSync(path.join(store.imagesDir, 'etc')), false);
    await store.close();
  });

  it('registers an existing id as a new sample, an update or a refusal, as configured', async () => {
    const store = await FaceStore.open({ file: path.join(fresh(), 'faces.db') });
    const enroller = new Enroller(store, engine);
    const first = await enroller.enrol({
      id: 'bo',
      image: readFileSync(OBAMA),
      fileName: OBAMA,
      name: 'B. Obama',
    });
    const added = await enroller.enrol({ id: 'bo', image: readFileSync(OBAMA2), fileName: OBAMA2 });
    assert.deepEqual(
      [added.status, added.person.samples.length, added.person.name],
      ['sample-added', 2, 'B. Obama'],
    );
    await assert.rejects(
      enroller.enrol({ id: 'bo', image: readFileSync(OBAMA3), fileName: OBAMA3 }, { existing: 'refuse' }),
      (err) => isStoreError(err, 'EEXISTS'),
    );
    const updated = await enroller.enrol(
      {
        id: 'bo',
        image: readFileSync(OBAMA3),
        fileName: OBAMA3,
        name: 'Barack Obama',
        metadata: { role: 'guest' },
      },
      { existing: 'update' },
    );
    assert.equal(updated.status, 'updated');
    assert.deepEqual(
      updated.person.samples.map((x) => x.id),
      [updated.sampleId],
      'the old samples are replaced',
    );
    assert.deepEqual([updated.person.name, updated.person.metadata], ['Barack Obama', { role: 'guest' }]);
    assert.notEqual(updated.sampleId, first.sampleId);
    await store.close();
  });

  it('never re-uses an id after delete-then-register', async () => {
    const file = path.join(fresh(), 'faces.db');
    let store = await FaceStore.open({ file });
    let enroller = new Enroller(store, engine);
    const a = await enroller.enrol({ image: readFileSync(OBAMA), fileName: OBAMA, name: 'Obama' });
    const b = await enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, name: 'Biden' });
    assert.deepEqual([a.person.id, b.person.id], ['PERSON_0001', 'PERSON_0002']);
    assert.equal(await store.deletePerson(b.person.id), true);
    const c = await enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, name: 'Biden again' });
    assert.equal(c.person.id, 'PERSON_0003');
    await store.close();
    store = await FaceStore.open({ file });
    enroller = new Enroller(store, engine);
    await store.deletePerson(c.person.id);
    const d = await enroller.enrol({ image: readFileSync(ROSE), fileName: ROSE, name: 'Rose' });
    assert.equal(d.person.id, 'PERSON_0004', 'the counter survives a restart and deletions');
    await store.close();
  });

  it('erases a deleted person: grep of the whole data directory finds no descriptor and no image', async () => {
    const dir = fresh();
    const store = await FaceStore.open({ file: path.join(dir, 'faces.db'), backups: 3 });
    const enroller = new Enroller(store, engine);
    const victim = await enroller.enrol({
      image: readFileSync(OBAMA),
      fileName: OBAMA,
      name: 'Barack Obama',
    });
    await enroller.enrol({ id: victim.person.id, image: readFileSync(OBAMA3), fileName: OBAMA3 });
    const kept = await enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, name: 'Joe Biden' });
    await enroller.enrol({ image: readFileSync(KIT), fileName: KIT, name: 'Kit Harington' });
    await store.updatePerson(kept.person.id, { metadata: { role: 'visitor' } });
    const descriptors = store.descriptors(victim.person.id);
    assert.equal(descriptors.length, 2);
    const crops = store.getPerson(victim.person.id)!.samples.map((s) => readFileSync(store.imagePath(s)!));
    // Needles: pieces of the descriptors as the datafile serialises them (base64 float32), a few of
    // their numbers as JSON would print them, and a run of bytes from each face crop.
    const needles = descriptors.flatMap((d) => {
      const b64 = encodeDescriptor(d);
      return [
        b64.slice(0, 32),
        b64.slice(320, 352),
        b64.slice(-32),
        JSON.stringify(Array.from(d.slice(10, 13))).slice(1, -1),
      ];
    });
    const cropNeedles = crops.map((c) => c.subarray(Math.floor(c.length / 2), Math.floor(c.length / 2) + 64));
    for (const needle of cropNeedles)
      assert.ok(filesContaining(dir, needle).length >= 1, 'the crop is on disk before deletion');
    for (const needle of needles.filter((_, i) => i % 4 !== 3)) {
      assert.ok(grep(dir, needle).length >= 2, `before deletion ${needle} is in the datafile and backups`);
    }
    assert.equal((await store.listBackups()).length, 3);

    assert.equal(await store.deletePerson(victim.person.id, 'test'), true);
    for (const needle of needles) assert.deepEqual(grep(dir, needle), [], `descriptor text ${needle}`);
    // Crop bytes are binary (grep's argv cannot carry NULs): searched byte-wise in every file.
    for (const needle of cropNeedles) assert.deepEqual(filesContaining(dir, needle), [], 'face crop bytes');
    assert.equal(existsSync(path.join(store.imagesDir, victim.person.id)), false);
    const audit = readFileSync(store.auditFile, 'utf8');
    assert.match(audit, /"action":"delete","id":"PERSON_0001","actor":"test"/);
    assert.equal(grep(dir, 'Barack Obama').length, 0, 'the name is in no file, the audit log included');
    assert.equal(/"descriptor"|"d":/.test(audit), false, 'the audit log holds no descriptors');
    // The rest of the store still works.
    const probe = (
      await engine.detect(readFileSync(FR('examples/knn_examples/train/biden/biden2.jpg')), {
        descriptors: true,
      })
    ).faces[0];
    assert.equal(store.match(probe.descriptor!, probe.modelId).person?.id, kept.person.id);
    const obamaProbe = (await engine.detect(readFileSync(OBAMA2), { descriptors: true })).faces[0];
    assert.equal(
      store.match(obamaProbe.descriptor!, obamaProbe.modelId).known,
      false,
      'the deleted person is not recognised',
    );
    await store.close();
  });

  it('refuses a real descriptor of another model', async () => {
    const store = await FaceStore.open({ file: path.join(fresh(), 'faces.db') });
    const face = (await engine.detect(readFileSync(OBAMA), { descriptors: true })).faces[0];
    assert.match(face.modelId, /^frnet-[0-9a-f]{12}$/);
    // A store moved here from an installation with other weights.
    await store.importJson({
      format: 'facewatch-store',
      version: 1,
      exportedAt: '',
      modelId: 'frnet-000000000000',
      nextId: 1,
      people: [
        {
          id: 'old',
          name: 'Old',
          metadata: {},
          createdAt: '',
          updatedAt: '',
          samples: [
            { id: 'x', modelId: 'frnet-000000000000', descriptor: face.descriptor!, source: '', time: '' },
          ],
        },
      ],
    });
    const enroller = new Enroller(store, engine);
    await assert.rejects(
      enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, name: 'Biden' }),
      (err) => isStoreError(err, 'EMODEL_MISMATCH'),
    );
    assert.throws(
      () => store.match(face.descriptor!, face.modelId),
      (err) => isStoreError(err, 'EMODEL_MISMATCH'),
    );
    assert.equal(store.size(), 1);
    await store.close();
  });

  it('imports a manifest with good, duplicate, faceless and missing-file rows, reporting each', async () => {
    const dir = fresh();
    mkdirSync(path.join(dir, 'photos'), { recursive: true });
    copyFileSync(BIDEN, path.join(dir, 'photos', 'biden.jpg'));
    await sharp({ create: { width: 300, height: 300, channels: 3, background: '#d0c8b0' } })
      .jpeg()
      .toFile(path.join(dir, 'photos', 'empty-room.jpg'));
    writeFileSync(path.join(dir, 'notes.txt'), 'not a photo');
    const csv = [
      'id,name,metadata,photo',
      `GUEST_1,Barack Obama,"{""role"": ""guest"", ""table"": 4}",${OBAMA}`,
      'GUEST_2,Joe Biden,role=guest;table=5,photos/biden.jpg',
      `GUEST_3,"Obama, again",,${OBAMA2}`,
      'GUEST_4,Nobody,,photos/empty-room.jpg',
      'GUEST_5,Ghost,,photos/missing.jpg',
      'GUEST_6,Text,,notes.txt',
      `../evil,Evil,,${ROSE}`,
    ].join('\r\n');
    writeFileSync(path.join(dir, 'guests.csv'), csv);
    const store = await FaceStore.open({ file: path.join(dir, 'store', 'faces.db') });
    const report = await importSource(store, engine, path.join(dir, 'guests.csv'), { actor: 'test' });
    const rows = report.rows.map((r) => [r.row.split(' (')[0], r.status, r.code ?? null, r.id ?? null]);
    assert.deepEqual(rows, [
      ['line 2', 'enrolled', null, 'GUEST_1'],
      ['line 3', 'enrolled', null, 'GUEST_2'],
      ['line 4', 'duplicate', 'EDUPLICATE', 'GUEST_3'],
      ['line 5', 'refused', 'ENOFACE', 'GUEST_4'],
      ['line 6', 'refused', 'ENOFILE', 'GUEST_5'],
      ['line 7', 'refused', 'EFILETYPE', 'GUEST_6'],
      ['line 8', 'refused', 'EINVALID_ID', '../evil'],
    ]);
    assert.match(report.rows[2].reason ?? '', /Barack Obama \(GUEST_1\)/);
    assert.deepEqual([report.enrolled, report.duplicate, report.refused, report.kind], [2, 1, 4, 'manifest']);
    assert.deepEqual(store.getPerson('GUEST_1')?.metadata, { role: 'guest', table: 4 });
    assert.deepEqual(store.getPerson('GUEST_2')?.metadata, { role: 'guest', table: '5' });
    assert.equal(store.size(), 2);
    // Running it again: the enrolled ids are duplicates now.
    const again = await importSource(store, engine, path.join(dir, 'guests.csv'));
    assert.deepEqual(
      again.rows.slice(0, 2).map((r) => [r.status, r.code]),
      [
        ['duplicate', 'EEXISTS'],
        ['duplicate', 'EEXISTS'],
      ],
    );
    assert.match(
      readFileSync(store.auditFile, 'utf8'),
      /"action":"import".*"enrolled":2,"duplicate":1,"refused":4/,
    );
    await store.close();
  });

  it("imports a folder per person and the original system's registered_faces", async () => {
    const dir = fresh();
    const folders = path.join(dir, 'people');
    mkdirSync(path.join(folders, 'Barack_Obama'), { recursive: true });
    mkdirSync(path.join(folders, 'Rose Leslie'), { recursive: true });
    copyFileSync(OBAMA, path.join(folders, 'Barack_Obama', 'a.jpg'));
    copyFileSync(OBAMA3, path.join(folders, 'Barack_Obama', 'b.jpg'));
    copyFileSync(ROSE, path.join(folders, 'Rose Leslie', 'rose.jpg'));
    copyFileSync(BIDEN, path.join(folders, 'loose.jpg'));
    const store = await FaceStore.open({ file: path.join(dir, 'faces.db') });
    const r1 = await importSource(store, engine, folders);
    assert.deepEqual(
      r1.rows.map((r) => [r.row, r.status, r.name ?? null]),
      [
        ['Barack_Obama/a.jpg', 'enrolled', 'Barack Obama'],
        ['Barack_Obama/b.jpg', 'enrolled', 'Barack Obama'],
        ['Rose Leslie/rose.jpg', 'enrolled', 'Rose Leslie'],
        ['loose.jpg', 'refused', null],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const obama = store.listPeople().find((p) => p.name === 'Barack Obama');
    assert.equal(obama?.samples.length, 2, 'the second photo is a sample of the same person');

    const legacy = path.join(dir, 'old-system', 'face_recognition_data', 'registered_faces');
    mkdirSync(legacy, { recursive: true });
    copyFileSync(BIDEN, path.join(legacy, 'PERSON_0007_Joe Biden.jpg'));
    copyFileSync(KIT, path.join(legacy, 'PERSON_0003_Kit_Harington.jpeg'));
    copyFileSync(OBAMA2, path.join(legacy, 'PERSON_0001_Barack Obama.jpg'));
    writeFileSync(path.join(legacy, 'embeddings.pkl'), 'pickle bytes');
    const r2 = await importSource(store, engine, path.join(dir, 'old-system'));
    assert.equal(r2.kind, 'legacy');
    assert.deepEqual(
      r2.rows.map((r) => [r.row, r.status, r.id ?? null, r.name ?? null]),
      [
        ['PERSON_0001_Barack Obama.jpg', 'duplicate', obama?.id ?? null, 'Barack Obama'],
        ['PERSON_0003_Kit_Harington.jpeg', 'enrolled', 'PERSON_0003', 'Kit Harington'],
        ['PERSON_0007_Joe Biden.jpg', 'enrolled', 'PERSON_0007', 'Joe Biden'],
      ],
    );
    // Generated ids continue after the kept ones.
    const next = await new Enroller(store, engine).enrol({
      image: readFileSync(FR('examples/lin-manuel-miranda.png')),
      fileName: 'lmm.png',
      name: 'Lin',
    });
    assert.equal(next.person.id, 'PERSON_0008');
    await store.close();
  });

  it('re-embeds every sample from its stored crop', async () => {
    const store = await FaceStore.open({ file: path.join(fresh(), 'faces.db') });
    const enroller = new Enroller(store, engine);
    const a = await enroller.enrol({ image: readFileSync(OBAMA), fileName: OBAMA, name: 'Obama' });
    await enroller.enrol({ image: readFileSync(BIDEN), fileName: BIDEN, name: 'Biden' });
    const before = store.descriptors(a.person.id)[0];
    const res = await store.reembed(async (crop) => {
      const face = (await engine.detect(crop, { descriptors: true, minFaceSize: 0 })).faces[0];
      return face ? { descriptor: face.descriptor!, modelId: face.modelId } : null;
    });
    assert.deepEqual([res.samples, res.failed.length, res.modelId], [2, 0, engine.modelId]);
    const afterD = store.descriptors(a.person.id)[0];
    let d = 0;
    for (let i = 0; i < before.length; i++) d += (before[i] - afterD[i]) ** 2;
    // The crop is the same face re-detected: a new descriptor, close to the old one.
    assert.ok(Math.sqrt(d) > 0 && Math.sqrt(d) < 0.3, `distance old-new ${Math.sqrt(d)}`);
    const probe = (await engine.detect(readFileSync(OBAMA2), { descriptors: true })).faces[0];
    assert.equal(store.match(probe.descriptor!, probe.modelId).person?.id, a.person.id);
    await store.close();
  });

  it('CLI: enrol and identify, and refuse a store that another process (Node-RED) holds', async () => {
    const dir = fresh();
    const file = path.join(dir, 'faces.db');
    const enrolled = await cli([
      'enrol',
      '--store',
      file,
      '--name',
      'Joe Biden',
      '--metadata',
      '{"role":"vip"}',
      BIDEN,
    ]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.deepEqual(
      (({ status, id, name }) => ({ status, id, name }))(
        JSON.parse(enrolled.stdout) as Record<string, unknown>,
      ),
      { status: 'enrolled', id: 'PERSON_0001', name: 'Joe Biden' },
    );
    const id = await cli([
      'identify',
      '--store',
      file,
      FR('examples/knn_examples/train/biden/biden2.jpg'),
      OBAMA,
    ]);
    assert.equal(id.code, 0, id.stderr);
    const lines = id.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            match: { known: boolean; person: { id: string; metadata: unknown } | null; confidence: number };
          },
      );
    assert.equal(lines.length, 2);
    assert.deepEqual(
      [lines[0].match.known, lines[0].match.person?.id, lines[0].match.person?.metadata],
      [true, 'PERSON_0001', { role: 'vip' }],
    );
    assert.ok(lines[0].match.confidence > 0.5);
    assert.equal(lines[1].match.known, false);

    const held = await FaceStore.open({ file, owner: 'Node-RED' });
    try {
      for (const args of [
        ['delete', '--store', file, 'PERSON_0001'],
        ['enrol', '--store', file, '--name', 'X', OBAMA],
      ]) {
        const r = await cli(args);
        assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, /face store .*faces\.db is in use by Node-RED \(pid \d+/);
      }
      assert.equal(held.getPerson('PERSON_0001')?.name, 'Joe Biden', 'the refused CLI changed nothing');
    } finally {
      await held.close();
    }
    const del = await cli(['delete', '--store', file, 'PERSON_0001']);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(JSON.parse(del.stdout), { id: 'PERSON_0001', deleted: true });
  });

  it('CLI: facewatch import refuses the ids and names that reach a prototype, before reading a face', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'faces.db');
    const manifest = path.join(dir, 'people.csv');
    writeFileSync(
      manifest,
      [
        'id,name,metadata,photo',
        `__proto__,Proto Person,,${OBAMA}`,
        `Constructor,Cons Person,,${OBAMA}`,
        `ok-1,prototype,,${OBAMA}`,
        `ok-2,Meta Person,__proto__=x,${OBAMA}`,
      ].join('\n'),
    );
    const r = await cli(['import', '--store', file, manifest]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status?: string; code?: string; reason?: string; summary?: unknown });
    assert.deepEqual(
      lines.slice(0, 4).map((l) => [l.status, l.code]),
      [
        ['refused', 'EINVALID_ID'],
        ['refused', 'EINVALID_ID'],
        ['refused', 'EINVALID_NAME'],
        ['refused', 'EINVALID_METADATA'],
      ],
    );
    for (const l of lines.slice(0, 4)) assert.match(l.reason ?? '', /reserved/);
    const store = await FaceStore.open({ file });
    assert.equal(store.size(), 0);
    await store.close();
  });

  it('CLI: eval prints the figures as one JSON object', async () => {
    const set = fixturePath('face-api.js');
    // Leave one probe out, as duplicates.csv does for the full sets.
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    const exclude = path.join(dir, 'exclude.csv');
    writeFileSync(exclude, 'path,reason\nexamples/images/amy/amy5.png,left out by the test\n');
    const r = await cli([
      'eval',
      '--root',
      set,
      '--enrol',
      path.join(set, 'labels.csv'),
      '--exclude',
      exclude,
      '--threshold',
      '0.6',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as Record<string, number>;
    assert.deepEqual(Object.keys(out).sort(), [
      'closest_impostor',
      'closest_impostor_photo',
      'correct',
      'enrolled',
      'false_accept',
      'false_reject',
      'impostor_probes',
      'margin',
      'no_face',
      'probes',
      'rule',
      'samples',
      'threshold',
      'wrong_person',
    ]);
    assert.deepEqual([out.samples, out.rule], [1, MATCH.rule.default]);
    assert.equal(out.margin, MATCH.margin.default);
    assert.equal(out.closest_impostor, null, 'no impostors given');
    const photos = labelledPhotos('face-api.js');
    assert.equal(out.enrolled, new Set(photos.map((p) => p.identity)).size);
    assert.equal(out.probes + out.no_face, photos.length - 1 - out.enrolled);
    assert.equal(out.correct + out.wrong_person + out.false_reject, out.probes);
    assert.equal(out.threshold, 0.6);
    assert.equal(out.impostor_probes, 0);

    // Side by side in one run: 1, 2 and 3 samples per person, by the nearest sample and by the mean.
    // With two, the mean names one more of the set's 24 other photos at the default threshold.
    const evalSet = (...more: string[]) =>
      cli(['eval', '--root', set, '--enrol', path.join(set, 'labels.csv'), ...more]);
    const c = await evalSet('--compare');
    assert.equal(c.code, 0, c.stderr);
    const rowsOf = (JSON.parse(c.stdout.trim()) as { compare: Array<Record<string, unknown>> }).compare.map(
      (r) => [r.samples, r.rule, r.enrolled, r.probes, r.correct, r.wrong_person],
    );
    assert.deepEqual(rowsOf, [
      [1, 'nearest', 8, 32, 26, 0],
      [1, 'mean', 8, 32, 26, 0],
      [2, 'nearest', 8, 24, 20, 0],
      [2, 'mean', 8, 24, 21, 0],
      [3, 'nearest', 8, 16, 15, 0],
      [3, 'mean', 8, 16, 15, 0],
    ]);
    // One of them alone, by its options: the same figures.
    const two = await evalSet('--samples', '2');
    assert.equal(two.code, 0, two.stderr);
    const t = JSON.parse(two.stdout.trim()) as Record<string, unknown>;
    assert.deepEqual([t.samples, t.rule, t.probes, t.correct], [2, 'mean', 24, 21]);
    const bad = await evalSet('--rule', 'median');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rule must be/);
  });
});
