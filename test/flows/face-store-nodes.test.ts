import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { DetectedFace } from '../../lib/types';
import type { DetectionEvent } from '../../lib/types/events';
import { fixturePath } from '../helpers/env';
import { builtNode, helper, nextMessage, startServer, stopServer } from '../helpers/red';
import { PIPELINE_NODES, pipelineFlow } from '../helpers/pipeline';
import { unitVector } from '../helpers/store-fixtures';
import { createDatabase, type TestDatabase } from '../helpers/pg';

interface Out {
  topic?: string;
  payload: Record<string, unknown> & { known?: string[]; unknown?: number };
  faces: DetectedFace[];
  person?: { id: string; name: string };
}
interface Caught {
  error: { message: string };
}

const nodes = PIPELINE_NODES.map(builtNode);
const faceApi = (name: string, n: number): string =>
  fixturePath('face-api.js', 'examples', 'images', name, `${name}${n}.png`);

/**
 * A camera frame (640x480, raw RGB) with a photo of a face scaled to 240 px where the camera sees
 * a passer-by: photos of one person in turn make one passage (one track).
 */
async function passageFrame(
  file: string,
): Promise<{ data: Buffer; width: number; height: number; channels: 3 }> {
  const face = await sharp(file).removeAlpha().resize(240, 240, { fit: 'cover' }).png().toBuffer();
  const data = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#5a6470' } })
    .composite([{ input: face, left: 200, top: 120 }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return { data, width: 640, height: 480, channels: 3 };
}
const photo = (...p: string[]): Buffer => readFileSync(fixturePath('face_recognition', ...p));

// The same tests on both backends: a datafile, and a schema (one per datafile name) of a PostgreSQL
// database made for the run.
for (const backend of ['nedb', 'postgres'] as const)
  describe(`face-register and face-match in a flow (${backend} store)`, () => {
    let dir: string;
    let pg: TestDatabase | undefined;
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'fw-flow-store-'));
      if (backend === 'postgres') pg = await createDatabase();
      // A store in PostgreSQL keeps its detection log's outbox under the user directory.
      helper.settings({ userDir: dir });
      await startServer();
    });
    after(async () => {
      await stopServer();
      helper.settings({});
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    });
    afterEach(() => helper.unload());

    const store = (db: string): Record<string, unknown> =>
      pg
        ? { backend: 'postgres', url: pg.url, schema: `s_${db.replace(/\W/g, '_')}`, poolSize: 4 }
        : { file: path.join(dir, db), backups: 2 };

    const flow = (outputs = 1, db = `faces-${outputs}.db`): object[] =>
      pipelineFlow(
        dir,
        {
          st: store(db),
          fd: { crops: false },
          fm: {
            threshold: 0.6,
            margin: 0.05,
            candidates: 3,
            outputs,
            wires: outputs === 2 ? [['known'], ['unknown']] : [['known']],
          },
          log: null,
          out: null,
        },
        [
          { id: 'known', type: 'helper' },
          { id: 'unknown', type: 'helper' },
        ],
      );

    it('a registration is recognised on the next frame, without a restart; deletion forgets it', async () => {
      await helper.load(nodes, flow());
      const fd = helper.getNode('fd');
      const reg = helper.getNode('reg');

      let out = nextMessage<Out>(helper.getNode('known'), 120000);
      fd.receive({ payload: photo('examples', 'knn_examples', 'train', 'obama', 'obama.jpg') });
      let msg = await out;
      assert.deepEqual(msg.payload, { known: [], unknown: 1, ambiguous: 0 });
      assert.equal(msg.faces[0].match?.known, false);
      assert.equal(msg.faces[0].match?.distance, null, 'empty store: no distance');

      const registered = nextMessage<Out>(helper.getNode('regOut'), 120000);
      reg.receive({
        topic: 'register',
        payload: photo('examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
        filename: 'obama.jpg',
        person: { name: 'Barack Obama', metadata: { role: 'visitor' } },
      });
      const r = await registered;
      assert.equal(r.payload.status, 'enrolled');
      assert.deepEqual(r.person, { id: 'PERSON_0001', name: 'Barack Obama', metadata: { role: 'visitor' } });

      out = nextMessage<Out>(helper.getNode('known'), 120000);
      fd.receive({ payload: photo('examples', 'knn_examples', 'train', 'obama', 'obama2.jpg') });
      msg = await out;
      assert.deepEqual(msg.payload.known, ['Barack Obama']);
      const m = msg.faces[0].match;
      assert.ok(m?.known && m.person?.id === 'PERSON_0001' && (m.distance ?? 1) < 0.6, JSON.stringify(m));
      assert.ok(m.confidence > 0.5 && m.confidence <= 1);

      out = nextMessage<Out>(helper.getNode('known'), 120000);
      fd.receive({ payload: photo('examples', 'biden.jpg') });
      msg = await out;
      assert.equal(msg.faces[0].match?.known, false, 'biden is not obama');

      const deleted = nextMessage<Out>(helper.getNode('regOut'));
      reg.receive({ topic: 'delete', person: { id: 'PERSON_0001' } });
      assert.deepEqual((await deleted).payload, { deleted: true, id: 'PERSON_0001', name: 'Barack Obama' });
      out = nextMessage<Out>(helper.getNode('known'), 120000);
      fd.receive({ payload: photo('examples', 'knn_examples', 'train', 'obama', 'obama2.jpg') });
      assert.equal((await out).faces[0].match?.known, false, 'deleted person no longer recognised');
    });

    it("enrols from a track: an unknown passage's event carries its other crops, and face-register enrols them all", async () => {
      await helper.load(
        nodes,
        pipelineFlow(dir, {
          st: store('faces-track.db'),
          fd: { minFaceSize: 0, minConfidence: 0.3, wires: [['fm', 'seen']] },
          fm: { threshold: 0.5, wires: [['log']] },
          log: { cooldown: 3, snapshots: true, visitors: true, wires: [['out']] },
          seen: { type: 'helper' },
        }),
      );
      const fd = helper.getNode('fd');
      // Amy passes the camera: three frames (her photos one after the other at one place).
      const logged = nextMessage<{ event: DetectionEvent; payload: DetectionEvent }>(
        helper.getNode('out'),
        180000,
      );
      const t0 = Date.now();
      for (const n of [1, 2, 3]) {
        // One at a time: a camera's frames that come while the engine is busy are skipped.
        const seen = nextMessage(helper.getNode('seen'), 120000);
        fd.receive({
          frame: { ...(await passageFrame(faceApi('amy', n))), camera: 'door', ts: t0 + n * 400 },
        });
        await seen;
      }
      const { event } = await logged;
      assert.equal(event.known, false);
      assert.equal(event.reason, 'track-start');
      assert.ok(event.visitor?.id, 'an unknown passage with visitor tracking');
      assert.ok(event.crop, 'its face crop');
      assert.equal(event.samples?.length, 2, 'the other two frames of the passage, as crops');

      const registered = nextMessage<
        Out & { payload: { pictures: number; refused: unknown[]; status: string } }
      >(helper.getNode('regOut'), 180000);
      helper.getNode('reg').receive({ topic: 'register', payload: event, event, person: { name: 'Amy' } });
      const r = await registered;
      assert.equal(r.payload.status, 'enrolled');
      assert.equal(r.payload.pictures, 3, JSON.stringify(r.payload.refused));
      assert.deepEqual(r.payload.refused, []);
      const person = r.payload.person as { id: string; samples: Array<{ source?: string }> };
      assert.deepEqual(
        person.samples.map((x) => x.source),
        [`event:${event.id}`, `event:${event.id}:sample-1`, `event:${event.id}:sample-2`],
      );

      // Her other photos are named by the mean of the three samples.
      for (const n of [4, 5]) {
        const known = nextMessage<{ faces: DetectedFace[] }>(helper.getNode('out'), 120000);
        fd.receive({ payload: readFileSync(faceApi('amy', n)) });
        assert.equal((await known).faces[0].match?.person?.name, 'Amy', `amy${n}`);
      }

      // An event that is not there is refused with why.
      const caught = nextMessage<Caught>(helper.getNode('caught'), 60000);
      helper.getNode('reg').receive({
        topic: 'register',
        payload: {},
        event: { id: '20000101T000000.000Z-nothing' },
        person: { name: 'X' },
      });
      assert.match((await caught).error.message, /no picture of event 20000101T000000\.000Z-nothing/);
    });

    it("holds a name along a camera's track while the face stays under the hold distance, never for a photo", async () => {
      await helper.load(
        nodes,
        pipelineFlow(dir, {
          st: store('faces-hold.db'),
          fd: { crops: false },
          fm: { threshold: 0.5, margin: 0.05, hold: 0.6, wires: [['known']] },
          log: null,
          out: null,
          known: { type: 'helper' },
        }),
      );
      const registered = nextMessage<Out>(helper.getNode('regOut'), 120000);
      const obama = photo('examples', 'knn_examples', 'train', 'obama', 'obama.jpg');
      helper.getNode('reg').receive({ topic: 'register', payload: obama, person: { name: 'Barack Obama' } });
      await registered;
      let out = nextMessage<Out>(helper.getNode('known'), 120000);
      helper.getNode('fd').receive({ payload: obama });
      const face = (await out).faces[0];
      // His face moved away from his sample by `d` (a head turning), as face-match sees it.
      const away = unitVector(7);
      const at = (d: number): DetectedFace => ({
        ...face,
        match: undefined,
        descriptor: face.descriptor!.map((v, i) => v + d * away[i]),
      });
      const fm = helper.getNode('fm');
      const t0 = Date.now();
      const named = async (d: number, frame?: { camera: string; ts: number }): Promise<string> => {
        out = nextMessage<Out>(helper.getNode('known'), 60000);
        fm.receive({ faces: [at(d)], ...(frame ? { frame } : {}) });
        const m = (await out).faces[0].match;
        return m?.known ? `${m.person?.name}${m.held ? ' (held)' : ''}` : '-';
      };
      const seen = [
        await named(0.3, { camera: 'door', ts: t0 }),
        await named(0.55, { camera: 'door', ts: t0 + 500 }),
        await named(0.55),
        await named(0.55, { camera: 'door', ts: t0 + 1000 }),
        await named(0.65, { camera: 'door', ts: t0 + 1500 }),
        await named(0.55, { camera: 'door', ts: t0 + 2600 }),
        await named(0.55, { camera: 'hall', ts: t0 + 2600 }),
      ];
      // Named under the threshold; held at 0.55 on the camera's next frames, never for a photo; over
      // the hold distance unknown, and 1.6 s after he was last named no name to hold (nor on another
      // camera).
      assert.deepEqual(seen, [
        'Barack Obama',
        'Barack Obama (held)',
        '-',
        'Barack Obama (held)',
        '-',
        '-',
        '-',
      ]);
    });

    it('refuses bad commands and photos with clear errors, then still works', async () => {
      await helper.load(nodes, flow());
      const reg = helper.getNode('reg');
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ topic: 'dance' }, /unknown command "dance"/],
        [
          { topic: 'register', payload: 'not a buffer', person: { name: 'x' } },
          /needs the photo as a Buffer/,
        ],
        [{ topic: 'get', person: { id: 'PERSON_0404' } }, /no person with id PERSON_0404/],
        [
          { topic: 'register', payload: Buffer.from('GIF89a....'), person: { name: 'x' } },
          /type|format|image/i,
        ],
        [{ topic: 'delete' }, /needs the person's id/],
        [{ topic: 'update', person: { name: 'x' } }, /"update" needs the person's id/],
        [
          {
            topic: 'add-sample',
            payload: photo('examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
            person: { id: 'PERSON_0777', name: 'Nobody yet' },
          },
          /no person with id PERSON_0777/,
        ],
      ];
      for (const [input, pattern] of cases) {
        const caught = nextMessage<Caught>(helper.getNode('caught'), 60000);
        reg.receive(input);
        assert.match((await caught).error.message, pattern);
      }
      const listed = nextMessage<Out>(helper.getNode('regOut'));
      reg.receive({ topic: 'list' });
      assert.deepEqual((await listed).payload, [], 'a refused command leaves nobody behind');
    });

    it('imports a folder with a sub-folder per person and reports every photo', async () => {
      const src = path.join(dir, 'people');
      for (const [who, files] of Object.entries({
        obama: [
          'examples/knn_examples/train/obama/obama.jpg',
          'examples/knn_examples/train/obama/obama2.jpg',
        ],
        biden: ['examples/biden.jpg'],
      })) {
        mkdirSync(path.join(src, who), { recursive: true });
        files.forEach((f, i) =>
          copyFileSync(fixturePath('face_recognition', f), path.join(src, who, `${i}.jpg`)),
        );
      }
      await helper.load(nodes, flow(1, 'import.db'));
      const reg = helper.getNode('reg');
      const imported = nextMessage<Out>(helper.getNode('regOut'), 120000);
      reg.receive({ topic: 'import', payload: src });
      const report = (await imported).payload as unknown as {
        kind: string;
        enrolled: number;
        refused: number;
        rows: { status: string }[];
      };
      assert.equal(report.kind, 'folders');
      assert.equal(report.refused, 0, JSON.stringify(report.rows));
      assert.equal(report.rows.length, 3);
      const listed = nextMessage<Out>(helper.getNode('regOut'));
      reg.receive({ topic: 'list' });
      const people = (await listed).payload as unknown as { name: string; samples: unknown[] }[];
      assert.deepEqual(people.map((p) => [p.name, p.samples.length]).sort(), [
        ['biden', 1],
        ['obama', 2],
      ]);
    });

    it('with two outputs, known faces go first and unknown second, each with its own faces', async () => {
      await helper.load(nodes, flow(2));
      const reg = helper.getNode('reg');
      const registered = nextMessage<Out>(helper.getNode('regOut'), 120000);
      reg.receive({
        payload: photo('examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
        person: { name: 'Obama' },
      });
      await registered;
      const known = nextMessage<Out>(helper.getNode('known'), 120000);
      const unknown = nextMessage<Out>(helper.getNode('unknown'), 120000);
      helper.getNode('fd').receive({ payload: photo('examples', 'two_people.jpg') });
      const [k, u] = await Promise.all([known, unknown]);
      assert.deepEqual(
        k.faces.map((f) => f.match?.person?.name),
        ['Obama'],
      );
      assert.ok(u.faces.length >= 1 && u.faces.every((f) => !f.match?.known));
      assert.notEqual(k.faces, u.faces);
    });
  });
