/**
 * Erasure leaves no trace, through every path a person can be deleted by: the Face Library's
 * `DELETE /faces/:id` and `POST /delete/:id`, face-register's `delete`, and `facewatch delete` while
 * Node-RED is stopped. A real Node-RED records detection events of real photos (two people in each
 * frame, so everybody is in other people's snapshots) with snapshots, daily files and face-mqtt on a
 * private mosquitto with Home Assistant discovery; after each erasure every file under the user
 * directory and every retained topic is searched for the person's id, name, descriptor bytes and
 * face crops. The audit log keeps the fact of each deletion (time, action, id, actor), never a name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { fixturePath, ROOT } from '../helpers/env';
import { retainedMessages, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

interface Who {
  id: string;
  name: string;
  photo: string;
}

const OBAMA: Who = {
  id: 'OBAMA',
  name: 'Barack Obama',
  photo: 'face_recognition/examples/knn_examples/train/obama/obama.jpg',
};
const BIDEN: Who = { id: 'BIDEN', name: 'Joe Biden', photo: 'face_recognition/examples/biden.jpg' };
const KIT: Who = {
  id: 'KIT',
  name: 'Kit Harington',
  photo: 'face_recognition/examples/knn_examples/train/kit_harington/john1.jpeg',
};
const ROSE: Who = {
  id: 'ROSE',
  name: 'Rose Leslie',
  photo: 'face_recognition/examples/knn_examples/train/rose_leslie/img1.jpg',
};

/** Frames with two people each, and the camera each is sent as. */
const FRAMES = [
  { camera: 'door', file: 'face_recognition/examples/two_people.jpg', people: [OBAMA, BIDEN] },
  {
    camera: 'hall',
    file: 'face_recognition/examples/knn_examples/test/obama_and_biden.jpg',
    people: [OBAMA, BIDEN],
  },
  {
    camera: 'gate',
    file: 'face_recognition/examples/knn_examples/test/kit_with_rose.jpg',
    people: [KIT, ROSE],
  },
];

/** Every file under `dir` (symbolic links not followed), with its path relative to `dir`. */
function files(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...files(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** What is known of a person before the erasure: every form their data can take in a file. */
interface Traces {
  who: Who;
  /** Base64 descriptors as stored, and their raw float32 bytes. */
  descriptors: Buffer[];
  /** Their face crops: the store's samples and their events' crops. */
  crops: Buffer[];
}

describe('erasure leaves no trace, through every path (real Node-RED, real broker)', () => {
  let nr: RunningNodeRed;
  let broker: Mosquitto;
  const store = (): string => path.join(nr.userDir, 'facewatch', 'faces.db');

  before(async () => {
    broker = await startMosquitto();
    nr = await startNodeRed({
      flows: [
        { id: 'tab', type: 'tab', label: 'erasure' },
        { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'ssd', minConfidence: 0.5 },
        { id: 'st', type: 'face-store', name: 'faces', backups: 3 },
        { id: 'bk', type: 'face-mqtt-broker', url: broker.url, baseTopic: 'facewatch', discovery: true },
        { id: 'in', type: 'http in', z: 'tab', url: '/t/frame', method: 'post', wires: [['cam']] },
        {
          id: 'cam',
          type: 'function',
          z: 'tab',
          outputs: 2,
          func: "msg.camera = msg.req.query.camera; const ok = { statusCode: 202, payload: 'ok', res: msg.res }; delete msg.res; delete msg.req; return [msg, ok];",
          wires: [['fd'], ['out']],
        },
        { id: 'out', type: 'http response', z: 'tab' },
        {
          id: 'fd',
          type: 'face-detect',
          z: 'tab',
          engine: 'eng',
          descriptors: true,
          keepImage: 'faces',
          wires: [['fm']],
        },
        { id: 'fm', type: 'face-match', z: 'tab', store: 'st', wires: [['framed']] },
        {
          id: 'framed',
          type: 'function',
          z: 'tab',
          func: 'msg.frame = { camera: msg.camera, ts: Date.now() }; return msg;',
          wires: [['log']],
        },
        {
          id: 'log',
          type: 'detection-log',
          z: 'tab',
          store: 'st',
          cooldown: 1,
          snapshots: true,
          dailyFiles: true,
          wires: [['mq']],
        },
        { id: 'mq', type: 'face-mqtt', z: 'tab', broker: 'bk', store: 'st', snapshots: true, wires: [] },
        { id: 'rin', type: 'http in', z: 'tab', url: '/t/delete', method: 'post', wires: [['rfn']] },
        {
          id: 'rfn',
          type: 'function',
          z: 'tab',
          func: "msg.topic = 'delete'; msg.person = { id: msg.req.query.id }; return msg;",
          wires: [['reg']],
        },
        { id: 'reg', type: 'face-register', z: 'tab', store: 'st', engine: 'eng', wires: [['rout']] },
        { id: 'rout', type: 'http response', z: 'tab' },
      ],
    });
    await waitForLog(nr, /Started flows/);
    for (const who of [OBAMA, BIDEN, KIT, ROSE]) {
      const res = await api(`register?name=${encodeURIComponent(who.name)}&id=${who.id}`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: readFileSync(fixturePath(...who.photo.split('/'))),
      });
      assert.equal(res.status, 201, `${who.name}: ${await res.text()}`);
    }
    // One frame at a time (face-detect drops a photo that arrives while it is busy with the last),
    // each until its two people have their events.
    for (const f of FRAMES) {
      const until = Date.now() + 90000;
      let named = new Set<string | undefined>();
      for (let attempt = 0; ; attempt++) {
        if (attempt % 10 === 0) {
          const res = await fetch(`${nr.url}/t/frame?camera=${f.camera}`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg' },
            body: readFileSync(fixturePath(...f.file.split('/'))),
          });
          assert.equal(res.status, 202);
        }
        await new Promise((r) => setTimeout(r, 500));
        const events = (await (await api(`events?camera=${f.camera}&limit=1000`)).json()) as {
          events: Array<{ person: { id: string } | null }>;
        };
        named = new Set(events.events.map((e) => e.person?.id));
        if (f.people.every((w) => named.has(w.id))) break;
        if (Date.now() > until)
          throw new Error(`${f.camera}: not everybody was named: ${JSON.stringify([...named])}\n${nr.log()}`);
      }
    }
  });
  after(async () => {
    await nr?.stop();
    await broker?.dispose();
  });

  function api(route: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${nr.url}/facewatch/api/${route}`, init);
  }

  /** The retained messages on the broker now. */
  const retained = (): Promise<Map<string, Buffer>> => retainedMessages(broker.url);

  /** Reads everything of a person that erasure must remove, while it is still there. */
  async function traces(who: Who): Promise<Traces> {
    const line = readFileSync(store(), 'utf8')
      .split('\n')
      .filter((l) => l.includes(`"_id":"${who.id}"`))
      .pop();
    assert.ok(line, `${who.id} is in the datafile`);
    const doc = JSON.parse(line) as { samples: Array<{ d: string; image: string | null }> };
    const descriptors = doc.samples.flatMap((s) => [Buffer.from(s.d), Buffer.from(s.d, 'base64')]);
    const crops = doc.samples.flatMap((s) =>
      s.image ? [readFileSync(path.join(nr.userDir, 'facewatch', 'faces', s.image))] : [],
    );
    const events = (await (await api(`events?person=${who.id}&limit=1000`)).json()) as {
      events: Array<{ id: string; crop: string | null }>;
    };
    assert.ok(events.events.length > 0, `${who.name} has events`);
    for (const e of events.events) {
      const res = await api(`events/${e.id}/crop`);
      if (res.status === 200) crops.push(Buffer.from(await res.arrayBuffer()));
    }
    assert.ok(crops.length >= 2, `crops of ${who.name}: ${crops.length}`);
    return { who, descriptors, crops };
  }

  /** Every file and every retained topic, searched for the person; the audit log keeps no name. */
  async function assertErased(t: Traces, others: Who[]): Promise<void> {
    const { who } = t;
    const needles: Array<[string, Buffer]> = [
      ['id', Buffer.from(who.id)],
      ['name', Buffer.from(who.name)],
      ...t.descriptors.map((d, i): [string, Buffer] => [`descriptor ${i}`, d]),
      ...t.crops.map((c, i): [string, Buffer] => [`face crop ${i}`, c]),
    ];
    // Node-RED's own files (the flow the test wrote, its settings) are not FaceWatch's data.
    const own =
      /^(flows\.json|flows_cred\.json|\.flows\.json\.backup|settings\.js|\.config\..*\.json|package\.json)$/;
    const audit = path.join('facewatch', 'faces.audit.jsonl');
    for (const rel of files(nr.userDir)) {
      if (own.test(rel) || rel.startsWith('node_modules')) continue;
      let bytes: Buffer;
      try {
        bytes = readFileSync(path.join(nr.userDir, rel));
      } catch (err) {
        // A temporary file (NeDB's compaction) gone since the folder was listed.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const [what, needle] of needles) {
        if (rel === audit && what === 'id') continue;
        assert.ok(!bytes.includes(needle), `${rel} still holds ${who.name}'s ${what}`);
      }
    }
    // The audit log: the deletion is there, with its id and actor, and no line names the person.
    const lines = readFileSync(path.join(nr.userDir, audit), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; id?: string; name?: string });
    assert.ok(
      lines.some((l) => l.action === 'delete' && l.id === who.id),
      'the deletion is audited',
    );
    assert.ok(!lines.some((l) => l.id === who.id && l.name), 'no audit line keeps the name');
    for (const [topic, payload] of await retained()) {
      for (const [what, needle] of needles)
        assert.ok(
          !payload.includes(needle) && !topic.includes(who.id),
          `retained ${topic} holds ${who.name}'s ${what}`,
        );
    }
    // The people still enrolled are untouched.
    const left = ((await (await api('faces')).json()) as Array<{ id: string }>).map((p) => p.id).sort();
    assert.deepEqual(left, others.map((o) => o.id).sort());
    for (const o of others) {
      const ev = (await (await api(`events?person=${o.id}`)).json()) as { events: unknown[] };
      assert.ok(ev.events.length > 0, `${o.name}'s events stay`);
    }
  }

  /** A camera's retained snapshot, or undefined. */
  async function snapshotOf(camera: string): Promise<Buffer | undefined> {
    return (await retained()).get(`facewatch/${camera}/snapshot`);
  }

  it('DELETE /facewatch/api/faces/:id: his events, his face in her frames, his retained topics', async () => {
    assert.ok(
      await snapshotOf('hall'),
      `the hall camera has a retained snapshot, showing both: ${[...(await retained()).keys()].join(', ')}`,
    );
    const t = await traces(OBAMA);
    const bidens = (await (await api(`events?person=${BIDEN.id}&camera=door`)).json()) as {
      events: Array<{ id: string; faces: Array<{ person: { id: string } | null }> }>;
    };
    const shared = bidens.events.find((e) => e.faces.some((f) => f.person?.id === OBAMA.id));
    assert.ok(shared, "one of Biden's events shows Obama too");
    const before = Buffer.from(await (await api(`events/${shared.id}/snapshot`)).arrayBuffer());

    const res = await api(`faces/${OBAMA.id}`, { method: 'DELETE' });
    const body = (await res.json()) as { deleted: boolean; events: number };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.deleted && body.events > 0);
    await assertErased(t, [BIDEN, KIT, ROSE]);
    assert.equal(await snapshotOf('hall'), undefined, 'the snapshot that showed him was cleared');
    const after = (await (await api(`events?person=${BIDEN.id}&camera=door`)).json()) as typeof bidens;
    const still = after.events.find((e) => e.id === shared.id);
    assert.ok(still, "Biden's event stays");
    assert.ok(!still.faces.some((f) => f.person?.id === OBAMA.id), 'Obama left its faces');
    const redrawn = Buffer.from(await (await api(`events/${shared.id}/snapshot`)).arrayBuffer());
    assert.equal((await sharp(redrawn).metadata()).width, (await sharp(before).metadata()).width);
    assert.ok(!redrawn.equals(before), 'the snapshot is drawn without him');
  });

  it("face-register's delete", async () => {
    const t = await traces(ROSE);
    const res = await fetch(`${nr.url}/t/delete?id=${ROSE.id}`, { method: 'POST' });
    const body = (await res.json()) as { deleted?: boolean };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.deleted, true);
    await assertErased(t, [BIDEN, KIT]);
    assert.equal(await snapshotOf('gate'), undefined, 'the gate snapshot showed her');
  });

  it('POST /facewatch/api/delete/:id', async () => {
    const t = await traces(BIDEN);
    const res = await api(`delete/${BIDEN.id}`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
    await assertErased(t, [KIT]);
  });

  it('facewatch delete while Node-RED is stopped; the next start clears his retained topics', async () => {
    const t = await traces(KIT);
    const topics = [...(await retained()).keys()].filter((k) => k.includes(KIT.id) || /kit/i.test(k));
    assert.ok(topics.length > 0, 'he has retained topics before');
    await nr.restart(() => {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'cli', 'facewatch.ts'), 'delete', '--store', store(), KIT.id],
        { cwd: ROOT, encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout.trim()), { id: KIT.id, deleted: true });
    });
    await waitForLog(nr, /--- restarted ---[\s\S]*Started flows/);
    // face-mqtt clears, at its start, what an earlier run left retained of people no longer enrolled.
    const until = Date.now() + 20000;
    for (;;) {
      try {
        await assertErased(t, []);
        break;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    assert.ok(statSync(store()).size > 0);
  });
});
