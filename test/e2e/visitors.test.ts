/**
 * Recurring visitors end to end, in a real Node-RED with a private mosquitto: real photos of people
 * nobody enrolled come through face-detect → face-match → detection-log → face-mqtt as sightings
 * hours apart on two cameras. The same stranger keeps one visitor id on the events, in the Face
 * Library's REST API and on MQTT (`facewatch/visitor/<id>`, retained); Split and Merge through the
 * API; Enrol as makes a person from the visitor's best crops, relabels their past events, clears the
 * visitor's retained topic and names them on their next visit; Forget leaves no file holding the
 * visitor's id (but the audit log's line of the fact) or its descriptor, and no retained topic.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DetectionEvent } from '../../lib/types/events';
import type { VisitorDetail, VisitorEnrolAnswer, VisitorsAnswer } from '../../lib/types/library';
import { fixturePath } from '../helpers/env';
import { filesContaining } from '../helpers/files';
import { retainedMessages, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { api as libraryApi } from '../helpers/instances';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

const HOUR = 3_600_000;
const photo = (...p: string[]): string => fixturePath('face_recognition', ...p);
/**
 * Three photos of Obama within the visitor threshold of one another (0.31 to 0.43 apart by face-api);
 * obama2.jpg is 0.43 to 0.47 from them: over the visitor threshold, under the match threshold.
 */
const OBAMA = [
  photo('examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
  photo('tests', 'test_images', 'obama3.jpg'),
  photo('examples', 'knn_examples', 'test', 'obama1.jpg'),
];
/** Obama's next visit, after he was enrolled from his visitor's crops: named, not a visitor. */
const OBAMA_NEXT = photo('examples', 'knn_examples', 'train', 'obama', 'obama2.jpg');
const KIT = photo('examples', 'knn_examples', 'train', 'kit_harington', 'john1.jpeg');
const ROSE = [
  photo('examples', 'knn_examples', 'train', 'rose_leslie', 'img1.jpg'),
  photo('examples', 'knn_examples', 'train', 'rose_leslie', 'img2.jpg'),
];

describe('recurring visitors end to end (real Node-RED, real broker, real photos)', () => {
  let nr: RunningNodeRed;
  let broker: Mosquitto;
  const now = Date.now();

  before(async () => {
    broker = await startMosquitto();
    nr = await startNodeRed({
      flows: [
        { id: 'tab', type: 'tab', label: 'visitors' },
        { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'ssd', minConfidence: 0.5 },
        { id: 'st', type: 'face-store', name: 'faces', backups: 1 },
        { id: 'bk', type: 'face-mqtt-broker', url: broker.url, baseTopic: 'facewatch', discovery: true },
        { id: 'in', type: 'http in', z: 'tab', url: '/t/frame', method: 'post', wires: [['cam']] },
        {
          id: 'cam',
          type: 'function',
          z: 'tab',
          outputs: 2,
          // The sighting's camera and time (hours ago: visits more than the visit gap apart).
          func:
            'msg.camera = msg.req.query.camera; msg.ts = Number(msg.req.query.ts); ' +
            "const ok = { statusCode: 202, payload: 'ok', res: msg.res }; delete msg.res; delete msg.req; return [msg, ok];",
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
          func: 'msg.frame = { camera: msg.camera, ts: msg.ts }; return msg;',
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
          visitors: true,
          wires: [['mq']],
        },
        { id: 'mq', type: 'face-mqtt', z: 'tab', broker: 'bk', store: 'st', snapshots: false, wires: [] },
        { id: 'reg', type: 'face-register', z: 'tab', store: 'st', engine: 'eng', wires: [[]] },
      ],
    });
    await waitForLog(nr, /Started flows/);
  });
  after(async () => {
    await nr?.stop();
    await broker?.dispose();
  });

  const api = (route: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> =>
    libraryApi(nr, route, init);

  async function apiJson<T>(
    route: string,
    init: RequestInit & { json?: unknown } = {},
    status = 200,
  ): Promise<T> {
    const res = await api(route, init);
    const text = await res.text();
    assert.equal(res.status, status, `${init.method ?? 'GET'} ${route}: ${text}`);
    return JSON.parse(text) as T;
  }

  /**
   * A sighting: `file` shown to `camera` `hoursAgo` hours ago, sent again until its event is recorded
   * (face-detect drops a photo that arrives while it is busy). Resolves to the event.
   */
  async function sighting(file: string, camera: string, hoursAgo: number): Promise<DetectionEvent> {
    const ts = now - hoursAgo * HOUR;
    const at = new Date(ts).toISOString();
    const until = Date.now() + 90000;
    for (let attempt = 0; ; attempt++) {
      if (attempt % 40 === 0) {
        const res = await fetch(`${nr.url}/t/frame?camera=${camera}&ts=${ts}`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          body: readFileSync(file),
        });
        assert.equal(res.status, 202);
      }
      await new Promise((r) => setTimeout(r, 250));
      const a = await apiJson<{ events: DetectionEvent[] }>(
        `events?camera=${camera}&from=${encodeURIComponent(at)}&to=${encodeURIComponent(new Date(ts + 1).toISOString())}&limit=10`,
      );
      if (a.events.length) {
        assert.equal(a.events.length, 1, `one event of ${path.basename(file)}`);
        return a.events[0];
      }
      if (Date.now() > until) throw new Error(`no event of ${file} at ${camera}\n${nr.log()}`);
    }
  }

  /** The retained payloads on the broker now, by topic. */
  async function retained(): Promise<Map<string, string>> {
    const all = await retainedMessages(broker.url, '#');
    return new Map([...all].map(([topic, payload]) => [topic, payload.toString()]));
  }

  const ids: Record<string, string> = {};

  it('gives a stranger who comes back one visitor id, on the events, in the API and on MQTT', async () => {
    const a1 = await sighting(OBAMA[0], 'door', 20);
    const k = await sighting(KIT, 'door', 8);
    const a2 = await sighting(OBAMA[1], 'hall', 6);
    const a3 = await sighting(OBAMA[2], 'door', 2);
    for (const e of [a1, k, a2, a3]) {
      assert.equal(e.known, false);
      assert.match(e.visitor?.id ?? '', /^VISITOR_\d{4}$/);
    }
    ids.obama = a1.visitor!.id;
    ids.kit = k.visitor!.id;
    ids.kitEvent = k.id;
    assert.notEqual(ids.kit, ids.obama);
    assert.deepEqual(
      [a2.visitor!.id, a3.visitor!.id],
      [ids.obama, ids.obama],
      'the same stranger, the same id',
    );
    assert.equal(a3.visitor!.visits, 3);
    assert.deepEqual(a3.visitor!.cameras, ['door', 'hall']);

    const list = await apiJson<VisitorsAnswer>('visitors');
    assert.equal(list.tracked, true);
    assert.equal(list.visitors[0].id, ids.obama, 'recurring visitors first');
    assert.equal(list.visitors[0].visits, 3);
    assert.ok(list.visitors[0].best.length >= 1, 'best sightings to show');
    const detail = await apiJson<VisitorDetail>(`visitors/${ids.obama}`);
    assert.deepEqual(
      detail.events.map((e) => e.id),
      [a1.id, a2.id, a3.id],
      'the timeline, oldest first',
    );
    const crop = await api(`events/${detail.best[0]}/crop`);
    assert.equal(crop.status, 200);
    assert.equal(crop.headers.get('content-type'), 'image/jpeg');

    const topics = await retained();
    const state = JSON.parse(topics.get(`facewatch/visitor/${ids.obama}`) ?? '{}') as {
      id?: string;
      visits?: number;
    };
    assert.equal(state.id, ids.obama);
    assert.equal(state.visits, 3);
    assert.ok(topics.has(`facewatch/visitor/${ids.kit}`));
  });

  it('splits a sighting off a visitor and merges it back, through the API', async () => {
    const r1 = await sighting(ROSE[0], 'gate', 5);
    const r2 = await sighting(ROSE[1], 'gate', 4);
    ids.rose = r1.visitor!.id;
    assert.equal(r2.visitor?.id, ids.rose, 'her two photos are one visitor');
    assert.equal(
      (await api(`visitors/${ids.rose}/split`, { method: 'POST', json: { events: [ids.kitEvent] } })).status,
      400,
      'an event of another visitor',
    );
    const split = await apiJson<{ visitors: Array<{ id: string; visits: number }> }>(
      `visitors/${ids.rose}/split`,
      {
        method: 'POST',
        json: { events: [r2.id] },
      },
    );
    const [from, to] = split.visitors;
    assert.equal(from.id, ids.rose);
    assert.notEqual(to.id, ids.rose);
    assert.deepEqual(
      (await apiJson<VisitorDetail>(`visitors/${to.id}`)).events.map((e) => e.id),
      [r2.id],
    );
    assert.equal(
      (await api(`visitors/${ids.rose}/merge`, { method: 'POST', json: { from: ids.rose } })).status,
      400,
      'a visitor into itself',
    );
    assert.equal(
      (await api(`visitors/${ids.rose}/merge`, { method: 'POST', json: { from: 'VISITOR_9999' } })).status,
      404,
    );
    const merged = await apiJson<{ visitors: Array<{ id: string; visits: number }> }>(
      `visitors/${ids.rose}/merge`,
      {
        method: 'POST',
        json: { from: to.id },
      },
    );
    assert.equal(merged.visitors[0].visits, 2);
    assert.equal((await api(`visitors/${to.id}`)).status, 404);
    assert.equal(
      (await retained()).has(`facewatch/visitor/${to.id}`),
      false,
      'the merged visitor’s retained topic is cleared',
    );
  });

  it('enrols a visitor as a person from its best crops, relabels its past events and names them on their next visit', async () => {
    const a = await apiJson<VisitorEnrolAnswer>(
      `visitors/${ids.obama}/enrol`,
      { method: 'POST', json: { name: 'Barack Obama', id: 'OBAMA' } },
      201,
    );
    assert.equal(a.status, 'enrolled');
    assert.equal(a.person.id, 'OBAMA');
    assert.ok(a.enrolled.length >= 2, `samples from several sightings: ${JSON.stringify(a)}`);
    assert.equal(a.person.samples.length, a.enrolled.length);
    assert.ok(a.person.samples.every((s) => s.source.startsWith(`visitor:${ids.obama}:event:`)));
    assert.equal(a.relabelled, 3);
    const theirs = await apiJson<{ events: DetectionEvent[] }>('events?person=OBAMA&limit=100');
    assert.equal(theirs.events.length, 3);
    assert.ok(theirs.events.every((e) => e.known && e.person?.name === 'Barack Obama' && !e.visitor));
    assert.equal((await api(`visitors/${ids.obama}`)).status, 404);
    assert.equal((await retained()).has(`facewatch/visitor/${ids.obama}`), false);
    // A second visitor enrolled as the same new id is refused.
    assert.equal(
      (await api(`visitors/${ids.kit}/enrol`, { method: 'POST', json: { name: 'Someone', id: 'OBAMA' } }))
        .status,
      409,
    );

    const next = await sighting(OBAMA_NEXT, 'door', 1);
    assert.equal(next.known, true, 'named on his next visit');
    assert.deepEqual(next.person, { id: 'OBAMA', name: 'Barack Obama' });
    assert.equal(next.visitor, undefined);
  });

  it('forgets a visitor with no trace: events, pictures, gallery, retained topic', async () => {
    const book = path.join(nr.userDir, 'facewatch', 'faces-events', 'visitors.db');
    const line = readFileSync(book, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`"_id":"${ids.kit}"`))
      .pop();
    assert.ok(line, `${ids.kit} is in ${book}`);
    const doc = JSON.parse(line) as { samples: Array<{ d: string }> };
    const needles = doc.samples.flatMap((s) => [
      s.d.slice(0, 24),
      Buffer.from(s.d, 'base64').subarray(0, 32),
    ]);
    const kitEvents = await apiJson<VisitorDetail>(`visitors/${ids.kit}`);
    const crops: Buffer[] = [];
    for (const e of kitEvents.events)
      crops.push(Buffer.from(await (await api(`events/${e.id}/crop`)).arrayBuffer()));
    assert.ok(crops.length >= 1 && crops.every((c) => c.length > 100));
    assert.ok((await retained()).has(`facewatch/visitor/${ids.kit}`));

    const gone = await apiJson<{ forgotten: boolean; events: number }>(`visitors/${ids.kit}`, {
      method: 'DELETE',
    });
    assert.deepEqual(gone, { forgotten: true, id: ids.kit, events: 1 });
    assert.equal((await api(`visitors/${ids.kit}`)).status, 404);
    assert.equal((await api(`visitors/${ids.kit}`, { method: 'DELETE' })).status, 404);
    // The audit log keeps the fact of the forgetting by design; nothing else may name it.
    const named = filesContaining(nr.userDir, ids.kit).filter((f) => !f.endsWith('.audit.jsonl'));
    assert.deepEqual(named, [], 'no file names the forgotten visitor');
    for (const n of [...needles, ...crops])
      assert.deepEqual(filesContaining(nr.userDir, n), [], 'no file holds its descriptor or its face');
    assert.equal(
      (await retained()).has(`facewatch/visitor/${ids.kit}`),
      false,
      'its retained topic is cleared',
    );
    const audit = readFileSync(path.join(nr.userDir, 'facewatch', 'faces.audit.jsonl'), 'utf8');
    assert.match(audit, new RegExp(`"action":"visitor-forget".*"visitor":"${ids.kit}"`));
    assert.match(audit, /"action":"visitor-enrol"/);
    assert.match(audit, /"action":"visitor-merge"/);
    assert.match(audit, /"action":"visitor-split"/);
  });
});
