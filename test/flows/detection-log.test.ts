/**
 * detection-log in a flow: face-detect → face-match → detection-log on fixture photos, with a
 * face store enrolled through face-register; events, queries, stats and erasure by a delete.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { EventStats } from '../../lib/events/log';
import type { DetectionEvent } from '../../lib/types/events';
import { fixturePath } from '../helpers/env';
import { filesContaining } from '../helpers/files';
import { builtNode, helper, nextMessage, startServer, stopServer } from '../helpers/red';
import { PIPELINE_NODES, pipelineFlow } from '../helpers/pipeline';

interface EventMsg {
  topic: string;
  event: DetectionEvent;
  payload: DetectionEvent;
  snapshot?: Buffer;
}

const nodes = PIPELINE_NODES.map(builtNode);
const photo = (...p: string[]): Buffer => readFileSync(fixturePath('face_recognition', ...p));
const OBAMA = ['examples', 'knn_examples', 'train', 'obama', 'obama.jpg'];
const OBAMA2 = ['examples', 'knn_examples', 'train', 'obama', 'obama2.jpg'];

describe('detection-log in a flow', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-flow-events-'));
    await startServer();
  });
  after(async () => {
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => helper.unload());

  const flow = (): object[] => pipelineFlow(dir, { log: { timezone: 'Asia/Bangkok', dailyFiles: true } });

  it('sends events with snapshots, answers queries and stats, erases a deleted person', async () => {
    await helper.load(nodes, flow());
    const fd = helper.getNode('fd');
    const reg = helper.getNode('reg');
    const log = helper.getNode('log');
    const out = helper.getNode('out');

    const registered = nextMessage<{ payload: { status: string } }>(helper.getNode('regOut'), 120000);
    reg.receive({
      topic: 'register',
      payload: photo(...OBAMA),
      filename: 'obama.jpg',
      person: { name: 'Barack Obama' },
    });
    assert.equal((await registered).payload.status, 'enrolled');

    // A photo: its own one-frame track, camera "photo".
    let next = nextMessage<EventMsg>(out, 120000);
    fd.receive({ payload: photo(...OBAMA2) });
    const known = await next;
    assert.equal(known.topic, 'photo');
    assert.equal(known.event, known.payload);
    const e = known.event;
    assert.equal(e.known, true);
    assert.deepEqual(e.person, { id: 'PERSON_0001', name: 'Barack Obama' });
    assert.ok(e.distance !== null && e.distance < 0.5 && e.confidence > 0.5, JSON.stringify(e));
    assert.equal(e.frames, 1);
    assert.equal(e.reason, 'track-start');
    assert.match(e.id, /^\d{8}T\d{6}\.\d{3}Z-[a-z0-9]{6}$/);
    assert.ok(Math.abs(Date.parse(e.time) - Date.now()) < 120000, 'a photo is timed when it arrived');
    assert.ok(Buffer.isBuffer(known.snapshot));
    const src = await sharp(photo(...OBAMA2)).metadata();
    const snap = await sharp(known.snapshot).metadata();
    assert.equal(snap.format, 'jpeg');
    assert.deepEqual([snap.width, snap.height], [src.width, src.height]);
    const folder = path.join(dir, 'facewatch');
    // The events belong to the store: faces.db keeps them in faces-events/.
    const events = path.join(folder, 'faces-events');
    assert.ok(existsSync(path.join(events, 'events', e.snapshot ?? '')));
    assert.ok(existsSync(path.join(events, 'events', e.crop ?? '')));

    // A camera frame: time from msg.frame.ts, topic the camera.
    next = nextMessage<EventMsg>(out, 120000);
    // 20:00 UTC of today or yesterday, whichever is within a day of the clock (a frame's time further
    // away is not believed; see detection-log-time.test.ts).
    const at = new Date();
    at.setUTCHours(20, 0, 0, 0);
    if (at.getTime() > Date.now() + 1800000) at.setUTCDate(at.getUTCDate() - 1);
    const ts = at.getTime();
    fd.receive({
      payload: photo('examples', 'biden.jpg'),
      frame: { camera: 'porch', seq: 1, ts, width: 0, height: 0 },
    });
    const stranger = await next;
    assert.equal(stranger.topic, 'porch');
    assert.equal(stranger.event.known, false);
    assert.equal(stranger.event.person, null);
    assert.equal(stranger.event.time, at.toISOString());
    // 20:00 UTC is the next day in Bangkok (UTC+7).
    const bangkok = new Date(ts + 7 * 3600000).toISOString().slice(0, 10);
    assert.notEqual(bangkok, at.toISOString().slice(0, 10));
    const daily = path.join(events, `detections_${bangkok}.jsonl`);
    // The photo's event may share that Bangkok day: the stranger's line is the one with its id.
    const lines = readFileSync(daily, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DetectionEvent);
    assert.deepEqual(
      lines.find((l) => l.id === stranger.event.id),
      stranger.event,
    );

    let answer = nextMessage<{ payload: DetectionEvent[] }>(out);
    log.receive({ topic: 'query', payload: { person: 'PERSON_0001' } });
    assert.deepEqual(
      (await answer).payload.map((x) => x.id),
      [e.id],
    );
    answer = nextMessage<{ payload: DetectionEvent[] }>(out);
    log.receive({ topic: 'query', payload: { camera: 'porch', known: false } });
    assert.deepEqual(
      (await answer).payload.map((x) => x.id),
      [stranger.event.id],
    );
    const stats = nextMessage<{ payload: EventStats }>(out);
    log.receive({ topic: 'stats' });
    const s = (await stats).payload;
    assert.equal(s.people, 1);
    assert.equal(s.timezone, 'Asia/Bangkok');
    assert.equal(s.todayByPerson['Barack Obama'], 1);
    assert.equal(s.todayByCamera.photo, 1);
    assert.equal(s.lastSeen.PERSON_0001.time, e.time);

    assert.ok(filesContaining(folder, 'Barack Obama').some((f) => f.includes('events')));
    const deleted = nextMessage<{ payload: { deleted: boolean } }>(helper.getNode('regOut'));
    reg.receive({ topic: 'delete', person: { id: 'PERSON_0001' } });
    assert.equal((await deleted).payload.deleted, true);
    // The next message waits for the erasure.
    answer = nextMessage<{ payload: DetectionEvent[] }>(out);
    log.receive({ topic: 'query' });
    assert.deepEqual(
      (await answer).payload.map((x) => x.id),
      [stranger.event.id],
    );
    // Only the store's audit log, which records deletions by design, still holds the id (never the name).
    const audit = /faces\.audit\.jsonl$/;
    assert.deepEqual(
      filesContaining(folder, 'PERSON_0001').filter((f) => !audit.test(f)),
      [],
    );
    assert.deepEqual(filesContaining(folder, 'Barack Obama'), []);
    assert.ok(!existsSync(path.join(events, 'events', e.id)), 'pictures gone');
    assert.ok(existsSync(path.join(events, 'events', stranger.event.snapshot ?? '')));
  });

  it('refuses a message without faces', async () => {
    await helper.load(nodes, flow());
    const caught = nextMessage<{ error: { message: string } }>(helper.getNode('caught'), 60000);
    helper.getNode('log').receive({ payload: 'hello' });
    assert.match((await caught).error.message, /expected msg\.faces from face-match/);
  });
});
