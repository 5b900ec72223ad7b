/**
 * The whole event path in a real Node-RED runtime: face-detect → face-match → detection-log →
 * face-mqtt → the machine's Mosquitto, with face-register on the same store. An enrolment is
 * announced to Home Assistant, a recognised photo becomes an event on the broker and in the log, and
 * deleting the person leaves no event, file, daily line or retained topic of theirs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import type { DetectionEvent } from '../../lib/types/events';
import { fixturePath } from '../helpers/env';
import { filesContaining } from '../helpers/files';
import { clearRetained, retainedNow } from '../helpers/mosquitto';
import { builtNode, helper, nextMessage, startServer, stopServer } from '../helpers/red';
import { PIPELINE_NODES, pipelineFlow } from '../helpers/pipeline';

const nodes = [...PIPELINE_NODES, 'face-mqtt-broker', 'face-mqtt'].map(builtNode);
const run = `${process.pid}-${randomBytes(3).toString('hex')}`;
const base = `fwpipe/${run}`;
const prefix = `fwpipeha-${run}`;
const BROKER = 'mqtt://127.0.0.1:1883';

describe('the event path: detection-log and face-mqtt on a real broker', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-flow-events-'));
    await startServer();
  });
  after(async () => {
    await helper.unload();
    await stopServer();
    await clearRetained(BROKER, [`${base}/#`, `${prefix}/#`]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces an enrolment, publishes its events, and erases every trace on deletion', async () => {
    const sub = await mqtt.connectAsync(BROKER);
    const events: DetectionEvent[] = [];
    sub.on('message', (topic, payload) => {
      if (topic === `${base}/events`) events.push(JSON.parse(payload.toString()) as DetectionEvent);
    });
    await sub.subscribeAsync(`${base}/events`, { qos: 1 });
    await helper.load(
      nodes,
      pipelineFlow(
        dir,
        { log: { dailyFiles: true, timezone: 'Asia/Bangkok', wires: [['mq', 'logged']] }, out: null },
        [
          { id: 'logged', type: 'helper' },
          {
            id: 'brk',
            type: 'face-mqtt-broker',
            url: BROKER,
            baseTopic: base,
            discoveryPrefix: prefix,
            discovery: true,
            qos: 1,
          },
          { id: 'mq', type: 'face-mqtt', broker: 'brk', store: 'st', snapshots: true, presenceTimeout: 300 },
        ],
      ),
    );

    const enrolled = nextMessage<{ payload: { status: string }; person: { id: string } }>(
      helper.getNode('regOut'),
      120000,
    );
    helper.getNode('reg').receive({
      topic: 'register',
      payload: readFileSync(
        fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
      ),
      filename: 'obama.jpg',
      person: { name: 'Barack Obama' },
    });
    const { person } = await enrolled;
    // Home Assistant hears of the new person: retained discovery configs naming their id.
    let configs = new Map<string, string>();
    for (let i = 0; i < 20 && ![...configs.keys()].some((t) => t.includes(person.id)); i++)
      configs = await retainedNow(BROKER, [`${prefix}/#`], 500);
    assert.ok(
      [...configs.keys()].some((t) => t.includes(person.id) && t.endsWith('/config')),
      `no discovery config for ${person.id}: ${[...configs.keys()].join(', ')}`,
    );

    const logged = nextMessage<{
      event: DetectionEvent;
      payload: DetectionEvent;
      topic: string;
      snapshot?: Buffer;
    }>(helper.getNode('logged'), 120000);
    helper.getNode('fd').receive({
      payload: readFileSync(
        fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama2.jpg'),
      ),
    });
    const msg = await logged;
    assert.equal(msg.event.person?.name, 'Barack Obama');
    assert.deepEqual(msg.payload, msg.event);
    assert.equal(msg.topic, 'photo');
    assert.ok(Buffer.isBuffer(msg.snapshot));
    const deadline = Date.now() + 15000;
    while (!events.some((e) => e.id === msg.event.id) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      events.find((e) => e.id === msg.event.id),
      msg.event,
      'the broker carries the same event the node sent',
    );
    const state = await retainedNow(BROKER, [`${base}/person/#`], 500);
    assert.ok(state.has(`${base}/person/${person.id}`), [...state.keys()].join(', '));

    const deleted = nextMessage<{ payload: { deleted: boolean } }>(helper.getNode('regOut'));
    helper.getNode('reg').receive({ topic: 'delete', person: { id: person.id } });
    assert.equal((await deleted).payload.deleted, true);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await retainedNow(BROKER, [`${base}/#`, `${prefix}/#`], 500);
    const theirs = [...after.entries()].filter(
      ([t, p]) => t.includes(person.id) || p.includes('Barack Obama') || p.includes(person.id),
    );
    assert.deepEqual(theirs, [], 'no retained topic of the deleted person');
    const data = path.join(dir, 'facewatch');
    // The store's audit log keeps the fact of the deletion by design; nothing else may mention them.
    const files = [...filesContaining(data, 'Barack Obama'), ...filesContaining(data, person.id)].filter(
      (f) => !f.endsWith('faces.audit.jsonl'),
    );
    assert.deepEqual(files, [], 'no file of the deleted person');
    await sub.endAsync();
  });
});
