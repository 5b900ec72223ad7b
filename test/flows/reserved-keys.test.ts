/**
 * Reserved keys from messages, in a real Node-RED: a camera name or a person key `__proto__`,
 * `constructor` or `prototype` is refused with a clear error (done(err) to a Catch node, the
 * status red) by every node that takes one from a message (face-detect, face-match, detection-log,
 * face-mqtt), `Object.prototype` stays as it was, nothing is kept or published under the name, and
 * the next good message still works.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { sampleEvent } from '../helpers/sample-event';
import type { DetectionEvent } from '../../lib/types/events';
import type { EventStats } from '../../lib/events/log';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { builtNode, helper, nextMessage, startServer, stopServer, type TestNode } from '../helpers/red';
import { until } from '../helpers/wait';

const nodes = [
  'face-engine',
  'face-detect',
  'face-store',
  'face-match',
  'detection-log',
  'face-mqtt-broker',
  'face-mqtt',
].map(builtNode);
const RESERVED = ['__proto__', 'constructor', 'prototype'];

/** What `Object.prototype` holds now: its own property names, and what a fresh object inherits. */
function prototypeNow(): string {
  const probe = {} as Record<string, unknown>;
  return JSON.stringify({
    names: Object.getOwnPropertyNames(Object.prototype).sort(),
    same: Object.getPrototypeOf(probe) === Object.prototype,
    count: probe.count,
    name: probe.name,
    camera: probe.camera,
  });
}
const CLEAN = prototypeNow();

const catchNode = (): object[] => [
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

/** A face as face-match sends it, named `person` or unknown. */
function face(person: { id: string; name: string } | null): object {
  return {
    box: { x: 10, y: 10, width: 80, height: 80 },
    quality: { faceSize: 80, sharpness: 40, yaw: 0 },
    match: person
      ? { known: true, person, distance: 0.3, confidence: 0.7, ambiguous: false }
      : { known: false, person: null, distance: null, confidence: 0, ambiguous: false },
  };
}

/** The red statuses a node showed. */
function redStatuses(node: TestNode): string[] {
  const texts: string[] = [];
  node.on('call:status', (c: { args: Array<{ fill?: string; text?: string }> }) => {
    if (c.args[0]?.fill === 'red') texts.push(String(c.args[0].text));
  });
  return texts;
}

/**
 * Sends `msg` to `node` and expects it refused: the Catch node gets `pattern` with the message
 * (within 15 s, while the output gets nothing) and the status turns red.
 */
async function refused(
  node: TestNode,
  msg: Record<string, unknown>,
  pattern: RegExp,
  reds: string[],
  out?: TestNode,
): Promise<void> {
  const sent: unknown[] = [];
  const onOut = (m: unknown): void => void sent.push(m);
  out?.on('input', onOut);
  const caught = nextMessage<{ error: { message: string }; _msgid: string }>(helper.getNode('caught'), 15000);
  const before = reds.length;
  node.receive(msg);
  try {
    const got = await caught;
    assert.match(got.error.message, pattern);
    assert.match(got.error.message, /is reserved \(__proto__, constructor, prototype cannot be used\)/);
    await until('a red status', () => reds.length > before, 5000);
    assert.match(reds.at(-1) ?? '', /is reserved/);
    assert.deepEqual(sent, [], 'nothing sent on');
  } finally {
    out?.off('input', onOut);
  }
}

describe('reserved keys from messages', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-flow-reserved-'));
    await startServer();
  });
  after(async () => {
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => helper.unload());

  it('detection-log refuses a reserved camera, person id or name, records nothing of it, and goes on', async () => {
    await helper.load(nodes, [
      { id: 'st', type: 'face-store', file: path.join(dir, 'log', 'faces.db'), backups: 0 },
      { id: 'log', type: 'detection-log', store: 'st', cooldown: 0, snapshots: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
      ...catchNode(),
    ]);
    const log = helper.getNode('log');
    const out = helper.getNode('out');
    const reds = redStatuses(log);
    for (const key of RESERVED) {
      await refused(
        log,
        { faces: [face(null)], frame: { camera: key, ts: Date.now() } },
        new RegExp(`msg\\.frame\\.camera "${key}" is reserved`),
        reds,
        out,
      );
      await refused(
        log,
        { faces: [face(null), face({ id: key, name: 'Eve' })], frame: { camera: 'porch', ts: Date.now() } },
        new RegExp(`msg\\.faces\\[1\\]\\.match\\.person\\.id "${key}" is reserved`),
        reds,
        out,
      );
      await refused(
        log,
        { faces: [face({ id: 'PERSON_0001', name: key })] },
        new RegExp(`msg\\.faces\\[0\\]\\.match\\.person\\.name "${key}" is reserved`),
        reds,
        out,
      );
    }
    assert.equal(prototypeNow(), CLEAN);

    // Statistics and queries after them: nothing of the refused messages was recorded.
    const stats = nextMessage<{ payload: EventStats }>(out);
    log.receive({ topic: 'stats' });
    const s = (await stats).payload;
    assert.equal(s.eventsToday, 0, JSON.stringify(s));
    assert.equal(prototypeNow(), CLEAN);
    assert.equal(({} as Record<string, unknown>).count, undefined);

    const good = nextMessage<{ event: DetectionEvent }>(out);
    log.receive({ faces: [face(null)], frame: { camera: 'porch', ts: Date.now() } });
    assert.equal((await good).event.camera, 'porch');
  });

  it('face-match refuses a frame of a reserved camera and goes on', async () => {
    await helper.load(nodes, [
      { id: 'st', type: 'face-store', file: path.join(dir, 'match', 'faces.db'), backups: 0 },
      { id: 'fm', type: 'face-match', store: 'st', wires: [['out']] },
      { id: 'out', type: 'helper' },
      ...catchNode(),
    ]);
    const fm = helper.getNode('fm');
    const out = helper.getNode('out');
    const reds = redStatuses(fm);
    for (const key of RESERVED)
      await refused(
        fm,
        { faces: [], frame: { camera: key, seq: 1, ts: Date.now(), width: 64, height: 48 } },
        new RegExp(`msg\\.frame\\.camera "${key}" is reserved`),
        reds,
        out,
      );
    assert.equal(prototypeNow(), CLEAN);
    const good = nextMessage<{ payload: { unknown: number } }>(out);
    fm.receive({ faces: [], frame: { camera: 'porch', seq: 2, ts: Date.now(), width: 64, height: 48 } });
    assert.equal((await good).payload.unknown, 0);
  });

  it('face-detect refuses a frame of a reserved camera and goes on', { timeout: 240000 }, async () => {
    await helper.load(nodes, [
      { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'tiny' },
      { id: 'fd', type: 'face-detect', engine: 'eng', descriptors: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
      ...catchNode(),
    ]);
    const fd = helper.getNode('fd');
    const out = helper.getNode('out');
    const reds = redStatuses(fd);
    const frame = (camera: string): Record<string, unknown> => ({
      camera,
      seq: 1,
      ts: Date.now(),
      width: 64,
      height: 48,
      channels: 3,
      data: Buffer.alloc(64 * 48 * 3, 128),
    });
    for (const key of RESERVED)
      await refused(
        fd,
        { payload: null, frame: frame(key) },
        new RegExp(`msg\\.frame\\.camera "${key}" is reserved`),
        reds,
        out,
      );
    assert.equal(prototypeNow(), CLEAN);
    const good = nextMessage<{ payload: number; faces: unknown[] }>(out, 200000);
    fd.receive({ payload: null, frame: frame('porch') });
    assert.deepEqual((await good).faces, []);
  });

  describe('face-mqtt', () => {
    let broker: Mosquitto;
    before(async () => {
      broker = await startMosquitto();
    });
    after(() => broker.dispose());

    it('refuses an event of a reserved camera, person id or name, publishes nothing of it, and goes on', async (t) => {
      const base = 'fwreserved';
      const sub = await mqtt.connectAsync(broker.url);
      t.after(() => sub.endAsync());
      const topics: string[] = [];
      sub.on('message', (topic) => topics.push(topic));
      await sub.subscribeAsync([`${base}/#`, 'fwreservedha/#'], { qos: 1 });
      await helper.load(nodes, [
        {
          id: 'b1',
          type: 'face-mqtt-broker',
          url: broker.url,
          baseTopic: base,
          discovery: true,
          discoveryPrefix: 'fwreservedha',
          qos: 1,
        },
        { id: 'mq', type: 'face-mqtt', broker: 'b1', presenceTimeout: 60 },
        ...catchNode(),
      ]);
      const mq = helper.getNode('mq');
      const reds = redStatuses(mq);
      for (const key of RESERVED) {
        const atCamera = { ...sampleEvent(1, key), person: null, known: false };
        await refused(mq, { event: atCamera }, new RegExp(`msg\\.event\\.camera "${key}" is reserved`), reds);
        const byId = { ...sampleEvent(2, 'porch'), person: { id: key, name: 'Eve' } };
        await refused(
          mq,
          { event: byId },
          new RegExp(`msg\\.event\\.person\\.id "${key}" is reserved`),
          reds,
        );
        const byName = { ...sampleEvent(3, 'porch'), person: { id: 'PERSON_0001', name: key } };
        await refused(
          mq,
          { payload: byName },
          new RegExp(`msg\\.event\\.person\\.name "${key}" is reserved`),
          reds,
        );
      }
      assert.equal(prototypeNow(), CLEAN);
      const good = { ...sampleEvent(4, 'porch'), person: { id: 'PERSON_0001', name: 'Eve' } };
      mq.receive({ event: good });
      await until('the good event', () => topics.includes(`${base}/porch/events`), 15000);
      assert.deepEqual(
        topics.filter((topic) => RESERVED.some((key) => topic.includes(key))),
        [],
        'nothing published under a reserved name',
      );
    });
  });
});
