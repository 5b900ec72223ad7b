/**
 * lib/mqtt against real brokers: the machine's Mosquitto at 127.0.0.1:1883 (each run under its own
 * base topic and discovery prefix, its retained topics cleared afterwards) and a private Mosquitto
 * that the tests stop and restart. A real client subscribes and checks topics, payloads, retained
 * flags and QoS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import {
  baseTopic,
  FaceMqtt,
  MqttPublisher,
  objectId,
  plainObjectId,
  topicSegment,
  Topics,
  type PublisherOptions,
} from '../../lib/mqtt';
import { sampleEvent } from '../helpers/sample-event';
import type { DetectionEvent } from '../../lib/types/events';
import { clearRetained, retainedNow, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { until as waitFor } from '../helpers/wait';

const until = (what: string, check: () => boolean, ms = 15000): Promise<boolean> =>
  waitFor(what, check, ms, 20);

const LOCAL = 'mqtt://127.0.0.1:1883';
const run = `${process.pid}-${randomBytes(3).toString('hex')}`;

interface Got {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
}

/** A subscriber that records what it receives (MQTT 5, retain-as-published, so live retained messages keep their flag). */
async function subscriber(
  url: string,
  topics: string[],
  opts: mqtt.IClientOptions = {},
): Promise<{ client: MqttClient; got: Got[] }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, ...opts });
  const got: Got[] = [];
  client.on('message', (topic, payload, packet) =>
    got.push({ topic, payload, retain: packet.retain, qos: packet.qos }),
  );
  await client.subscribeAsync(topics, { qos: 1, rap: true });
  return { client, got };
}

/** The fields the tests read from FaceWatch's JSON payloads. */
interface Payload {
  [k: string]: unknown;
  trackId: string;
  present?: boolean;
  last?: string | null;
  name?: string;
  names: string[];
  count: number;
}
function json(text: string): Payload {
  return JSON.parse(text) as Payload;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function event(n: number, camera: string, person: { id: string; name: string } | null): DetectionEvent {
  return { ...sampleEvent(n, camera), known: person !== null, person };
}

describe('topics', () => {
  it('sanitise every level from a name: no +, #, / or control characters', () => {
    // A name that needed cleaning carries a hash of its original (test/unit/mqtt-names.test.ts).
    assert.match(topicSegment('front/door+#'), /^front_door___[0-9a-f]{6}$/);
    assert.match(topicSegment('a\u0000b\nc\u007fd\u009f'), /^a_b_c_d__[0-9a-f]{6}$/);
    assert.match(topicSegment(''), /^__[0-9a-f]{6}$/);
    assert.match(topicSegment('  '), /^__[0-9a-f]{6}$/);
    assert.equal(topicSegment('Zoë garden'), 'Zoë garden');
    const t = new Topics('fw');
    assert.match(t.cameraEvents('gate/#1'), /^fw\/gate__1_[0-9a-f]{6}\/events$/);
    assert.match(t.person('id+/x'), /^fw\/person\/id__x_[0-9a-f]{6}$/);
    assert.equal(baseTopic('$SYS/+/x/', 'facewatch'), 'SYS/_/x');
    assert.equal(baseTopic('', 'facewatch'), 'facewatch');
    assert.match(objectId('front door/1'), /^front_door_1_[0-9a-f]{6}$/);
    assert.equal(plainObjectId('front door/1'), 'front_door_1');
  });

  it('refuse a broker URL of another protocol, without showing its password', () => {
    assert.throws(
      () => new MqttPublisher({ url: 'http://u:s3cret@host' }),
      (err: Error) => {
        assert.match(err.message, /mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      },
    );
  });
});

describe('the publisher on the machine Mosquitto', () => {
  const base = `fwtest/${run}`;
  const prefix = `fwha-${run}`;
  const options = (extra: Partial<PublisherOptions> = {}): PublisherOptions => ({
    url: LOCAL,
    baseTopic: base,
    discoveryPrefix: prefix,
    retryDelayMs: 200,
    maxRetryDelayMs: 1000,
    ...extra,
  });
  let publisher: MqttPublisher;
  let faces: FaceMqtt;

  before(async () => {
    publisher = new MqttPublisher(options());
    publisher.start();
    faces = new FaceMqtt(publisher, { snapshots: true, presenceTimeout: 1 });
    await until('connected', () => publisher.state().connected);
  });
  after(async () => {
    faces.close();
    await publisher.stop();
    await clearRetained(LOCAL, [`${base}/#`, `${prefix}/#`]);
  });

  it('publishes events, person state, presence and snapshots with their retained flags and QoS', async () => {
    const { client, got } = await subscriber(LOCAL, [`${base}/#`]);
    const alice = { id: 'p-alice', name: 'Alice' };
    const e = event(1, 'front/door#', alice);
    faces.publish(e, Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    const cam = topicSegment('front/door#');
    await until('event', () => got.some((g) => g.topic === `${base}/${cam}/events`));
    const all = got.find((g) => g.topic === `${base}/events`);
    assert.ok(all);
    assert.deepEqual(json(all.payload.toString()), e);
    assert.equal(all.retain, false);
    assert.equal(all.qos, 1);
    await until('person state', () => got.some((g) => g.topic === `${base}/person/p-alice`));
    const person = got.find((g) => g.topic === `${base}/person/p-alice`) as Got;
    assert.equal(person.retain, true);
    assert.equal(person.qos, 1);
    assert.deepEqual(json(person.payload.toString()), {
      id: 'p-alice',
      name: 'Alice',
      camera: 'front/door#',
      lastSeen: e.time,
      present: true,
    });
    await until('snapshot', () => got.some((g) => g.topic === `${base}/${cam}/snapshot`));
    const snap = got.find((g) => g.topic === `${base}/${cam}/snapshot`) as Got;
    assert.equal(snap.retain, true);
    assert.deepEqual([...snap.payload], [0xff, 0xd8, 0xff, 0xd9]);
    const views = (): Payload[] =>
      got.filter((g) => g.topic === `${base}/${cam}/person`).map((g) => json(g.payload.toString()));
    await until('in view', () => views().some((v) => v.names.includes('Alice')));
    assert.ok(got.filter((g) => g.topic === `${base}/${cam}/person`).every((g) => g.retain));
    // Cleared after the presence timeout (1 s): nobody in view, the last name kept.
    await until(
      'cleared',
      () => {
        const v = views().at(-1);
        return v?.count === 0 && v.names.length === 0;
      },
      5000,
    );
    assert.equal(views().at(-1)?.last, 'Alice');
    await until(
      'absent',
      () => {
        const p = got.filter((g) => g.topic === `${base}/person/p-alice`).at(-1);
        return p ? json(p.payload.toString()).present === false : false;
      },
      5000,
    );
    await client.endAsync();
  });

  it('announces people and cameras to Home Assistant with the fields it requires, again on its online', async () => {
    const bob = { id: 'p/bob', name: 'Bob' };
    faces.announce(bob);
    faces.publish(event(2, 'garden', null));
    const { client, got } = await subscriber(LOCAL, [`${prefix}/#`]);
    const configs = (): Map<string, Record<string, unknown>> =>
      new Map(
        got
          .filter((g) => g.payload.length && g.topic.endsWith('/config'))
          .map((g) => [g.topic, json(g.payload.toString())]),
      );
    await until('configs', () => configs().size >= 4 + 2);
    const node = `facewatch_${plainObjectId(base)}`;
    const presence = configs().get(
      `${prefix}/binary_sensor/${node}/person_${objectId('p/bob')}_presence/config`,
    );
    assert.ok(presence, [...configs().keys()].join(', '));
    assert.equal(presence.device_class, 'occupancy');
    assert.equal(presence.state_topic, `${base}/person/${topicSegment('p/bob')}`);
    assert.equal(presence.off_delay, 1);
    assert.match(String(presence.value_template), /value_json\.present/);
    for (const [topic, c] of configs()) {
      for (const f of [
        'name',
        'unique_id',
        'state_topic',
        'availability_topic',
        'payload_available',
        'payload_not_available',
        'value_template',
      ])
        assert.ok(c[f] !== undefined, `${topic}: ${f}`);
      assert.equal(c.availability_topic, `${base}/available`);
      assert.ok(
        Array.isArray((c.device as { identifiers: unknown }).identifiers),
        `${topic}: device identifiers`,
      );
    }
    const uniques = [...configs().values()].map((c) => c.unique_id);
    assert.equal(new Set(uniques).size, uniques.length);
    const camera = configs().get(`${prefix}/sensor/${node}/camera_garden_known_faces/config`);
    assert.equal(camera?.state_topic, `${base}/garden/person`);
    assert.ok(got.every((g) => g.retain));
    // Home Assistant restarts: it says online on <prefix>/status and gets every config again.
    const before = got.length;
    await client.publishAsync(`${prefix}/status`, 'online');
    await until(
      're-published',
      () => got.slice(before).filter((g) => g.topic.endsWith('/config')).length >= configs().size,
    );
    await client.endAsync();
  });

  it('clears a deleted person: nothing of them stays retained', async () => {
    const carol = { id: 'p-carol', name: 'Carol' };
    faces.announce(carol);
    faces.publish(event(3, 'hall', carol));
    await sleep(300);
    let left = await retainedNow(LOCAL, `${base}/person/p-carol`);
    assert.equal(left.size, 1);
    faces.forget(carol);
    await sleep(300);
    left = await retainedNow(LOCAL, `${base}/person/p-carol`);
    assert.equal(left.size, 0);
    const configs = await retainedNow(LOCAL, `${prefix}/+/+/+/config`);
    assert.ok(
      ![...configs.keys()].some((t) => t.includes('p-carol') || t.includes('p_carol')),
      [...configs.keys()].join(),
    );
    const hall = await retainedNow(LOCAL, `${base}/hall/person`);
    assert.equal(json(hall.get(`${base}/hall/person`) ?? '{}').last, null);
  });

  it("publishes a recurring visitor's state and each camera's visitors of today, and clears a forgotten visitor", async () => {
    const visitor = (id: string, visits: number) => ({
      id,
      visits,
      firstSeen: '2026-12-01T09:00:00.000Z',
      lastSeen: new Date().toISOString(),
      cameras: ['gate'],
    });
    const now = new Date().toISOString();
    faces.publish({ ...event(10, 'gate', null), time: now, visitor: visitor('VISITOR_0007', 3) });
    faces.publish({ ...event(11, 'gate', null), time: now, visitor: visitor('VISITOR_0007', 3) });
    faces.publish({ ...event(12, 'gate', null), time: now, visitor: visitor('VISITOR_0008', 1) });
    // A known person is no visitor, and an unknown face without a visitor id counts for nothing.
    faces.publish({ ...event(13, 'gate', { id: 'p-dan', name: 'Dan' }), time: now });
    faces.publish({ ...event(14, 'gate', null), time: now });
    await sleep(300);
    const states = await retainedNow(LOCAL, `${base}/visitor/+`);
    const seven = json(states.get(`${base}/visitor/VISITOR_0007`) ?? '{}');
    assert.equal(seven.visits, 3);
    assert.equal(seven.camera, 'gate');
    assert.deepEqual(seven.cameras, ['gate']);
    assert.ok(states.has(`${base}/visitor/VISITOR_0008`));
    let gate = json((await retainedNow(LOCAL, `${base}/gate/visitors`)).get(`${base}/gate/visitors`) ?? '{}');
    assert.equal(gate.today, 2);
    const configs = await retainedNow(LOCAL, `${prefix}/sensor/+/+/config`);
    const sensor = [...configs].find(([t]) => t.endsWith('/camera_gate_visitors_today/config'));
    assert.ok(sensor, [...configs.keys()].join());
    assert.equal(json(sensor[1]).state_topic, `${base}/gate/visitors`);

    faces.forgetVisitor('VISITOR_0007', { forgotten: true });
    await sleep(300);
    assert.deepEqual(
      [...(await retainedNow(LOCAL, `${base}/visitor/+`)).keys()],
      [`${base}/visitor/VISITOR_0008`],
    );
    gate = json((await retainedNow(LOCAL, `${base}/gate/visitors`)).get(`${base}/gate/visitors`) ?? '{}');
    assert.equal(gate.today, 1);

    // Events still on their way when their visitor left: a forgotten one's is not published (its
    // retained topic stays cleared); a merged one's is published as the visitor it went into.
    const heard: string[] = [];
    const listener = await mqtt.connectAsync(LOCAL);
    listener.on('message', (_topic, payload) => heard.push(payload.toString()));
    await listener.subscribeAsync(`${base}/events`);
    faces.forgetVisitor('VISITOR_0008', { merged: 'VISITOR_0009' });
    faces.publish({ ...event(15, 'gate', null), time: now, visitor: visitor('VISITOR_0007', 4) });
    faces.publish({ ...event(16, 'gate', null), time: now, visitor: visitor('VISITOR_0008', 2) });
    await sleep(300);
    await listener.endAsync();
    assert.deepEqual(
      [...(await retainedNow(LOCAL, `${base}/visitor/+`)).keys()],
      [`${base}/visitor/VISITOR_0009`],
    );
    assert.deepEqual(
      heard.map((p) => json(p).visitor as { id: string }).map((v) => v.id),
      ['VISITOR_0009'],
      'the forgotten visitor’s event is not published, the merged one’s carries the other id',
    );
  });

  it("one of several instances follows another's sighting of a person, with the store's name, never the message's", async () => {
    const north = new MqttPublisher(
      options({ baseTopic: `${base}/inst`, instance: 'north', discovery: false }),
    );
    north.start();
    const nf = new FaceMqtt(north, {
      presenceTimeout: 1,
      enrolled: (id) => id === 'p-dan',
      nameOf: (id) => (id === 'p-dan' ? 'Dan' : undefined),
    });
    try {
      await until('north connected', () => north.state().connected);
      const { client, got } = await subscriber(LOCAL, [`${base}/inst/person/#`]);
      // Another instance (or anyone who may publish there) says Dan was just seen, under another name.
      const seenAt = new Date().toISOString();
      await client.publishAsync(
        `${base}/inst/person/p-dan`,
        JSON.stringify({
          id: 'p-dan',
          name: 'Mallory',
          camera: 'south-door',
          lastSeen: seenAt,
          present: true,
        }),
        { retain: true, qos: 1 },
      );
      // North turns presence off a timeout after that sighting, with the store's name.
      await until('presence off', () =>
        got.some((g) => g.payload.length > 0 && json(g.payload.toString()).present === false),
      );
      const off = json(
        got
          .find((g) => g.payload.length > 0 && json(g.payload.toString()).present === false)!
          .payload.toString(),
      );
      assert.equal(off.name, 'Dan');
      assert.equal(off.camera, 'south-door');
      assert.equal(off.lastSeen, seenAt);
      assert.equal(north.topics.available, `${base}/inst/instance/north/available`);
      await client.endAsync();
    } finally {
      nf.close();
      await north.stop();
      await clearRetained(LOCAL, [`${base}/inst/#`]);
    }
  });

  it('says online, offline by its Last Will when the socket is cut, online again, and offline on a clean stop', async () => {
    const own = new MqttPublisher(options({ baseTopic: `${base}/will` }));
    own.start();
    const { client, got } = await subscriber(LOCAL, [`${base}/will/available`]);
    await until('online', () => got.some((g) => g.payload.toString() === 'online' && g.retain));
    const from = got.length;
    own.mqttClient?.stream.destroy();
    await until(
      'offline by the will',
      () => got.slice(from).some((g) => g.payload.toString() === 'offline'),
      10000,
    );
    assert.ok(got.slice(from).find((g) => g.payload.toString() === 'offline')?.retain);
    await until('online again', () => got.slice(from).some((g) => g.payload.toString() === 'online'), 10000);
    assert.ok(own.state().connects >= 2);
    const end = got.length;
    await own.stop();
    await until('offline on stop', () =>
      got.slice(end).some((g) => g.payload.toString() === 'offline' && g.retain),
    );
    await client.endAsync();
  });
});

describe('the publisher when its broker goes away', () => {
  let broker: Mosquitto;
  before(async () => {
    broker = await startMosquitto({ persistence: true });
  });
  after(async () => {
    await broker.dispose();
  });

  it(
    'keeps events in order while the broker is down for 10 s, and publishes them all when it returns',
    { timeout: 60000 },
    async () => {
      const base = `fw-${run}-restart`;
      const publisher = new MqttPublisher({
        url: broker.url,
        baseTopic: base,
        discovery: false,
        retryDelayMs: 200,
        maxRetryDelayMs: 2000,
      });
      publisher.start();
      await until('connected', () => publisher.state().connected);
      // A persistent session: the broker keeps what arrives for it while it reconnects.
      const sub = await subscriber(broker.url, [`${base}/events`], {
        protocolVersion: 4,
        clean: false,
        clientId: `fw-sub-${run}`,
      });
      const faces = new FaceMqtt(publisher, { presenceTimeout: 60 });
      let n = 0;
      const timer = setInterval(() => faces.publish(event(n++, 'cam', null)), 50);
      await sleep(1000);
      await broker.stop();
      await until('disconnected', () => !publisher.state().connected);
      await sleep(10000);
      const whileDown = publisher.state();
      assert.ok(whileDown.queued > 100, `queued ${whileDown.queued}`);
      await broker.start();
      await sleep(2000);
      clearInterval(timer);
      const total = n;
      await until(
        `all ${total} events`,
        () => new Set(sub.got.map((g) => g.payload.toString())).size >= total,
        20000,
      );
      const order: number[] = [];
      for (const g of sub.got) {
        const k = Number(json(g.payload.toString()).trackId.slice(1));
        if (!order.includes(k)) order.push(k);
      }
      assert.deepEqual(
        order,
        Array.from({ length: total }, (_, i) => i),
      );
      faces.close();
      await publisher.stop();
      await sub.client.endAsync();
    },
  );

  it('drops the oldest events of a full queue and counts them', { timeout: 30000 }, async () => {
    const base = `fw-${run}-overflow`;
    const publisher = new MqttPublisher({
      url: broker.url,
      baseTopic: base,
      discovery: false,
      queueLimit: 5,
      retryDelayMs: 200,
      maxRetryDelayMs: 500,
    });
    publisher.start();
    await until('connected', () => publisher.state().connected);
    const sub = await subscriber(broker.url, [`${base}/events`], {
      protocolVersion: 4,
      clean: false,
      clientId: `fw-sub2-${run}`,
    });
    const faces = new FaceMqtt(publisher, { presenceTimeout: 60 });
    await broker.stop();
    await until('disconnected', () => !publisher.state().connected);
    for (let i = 0; i < 8; i++) faces.publish(event(i, 'cam', null));
    assert.deepEqual(
      { queued: publisher.state().queued, dropped: publisher.state().dropped },
      { queued: 5, dropped: 3 },
    );
    await broker.start();
    await until('five events', () => sub.got.length >= 5);
    await sleep(300);
    assert.deepEqual(
      sub.got.map((g) => json(g.payload.toString()).trackId),
      ['t3', 't4', 't5', 't6', 't7'],
    );
    faces.close();
    await publisher.stop();
    await sub.client.endAsync();
  });

  it(
    'publishes online, discovery and the retained state again to a broker that lost them',
    { timeout: 30000 },
    async () => {
      const forgetful = await startMosquitto();
      try {
        const base = `fw-${run}-lost`;
        const prefix = `ha-${run}`;
        const publisher = new MqttPublisher({
          url: forgetful.url,
          baseTopic: base,
          discoveryPrefix: prefix,
          retryDelayMs: 200,
          maxRetryDelayMs: 500,
        });
        publisher.start();
        const faces = new FaceMqtt(publisher, { presenceTimeout: 60 });
        faces.publish(event(1, 'door', { id: 'p1', name: 'Dana' }));
        await until('connected', () => publisher.state().connected);
        await sleep(300);
        await forgetful.stop();
        await forgetful.start();
        assert.equal(
          (await retainedNow(forgetful.url, `${base}/#`)).size,
          0,
          'the broker lost its retained messages',
        );
        await until('reconnected', () => publisher.state().connected && publisher.state().connects >= 2);
        await sleep(300);
        const state = await retainedNow(forgetful.url, `${base}/#`);
        assert.equal(state.get(`${base}/available`), 'online');
        assert.equal(json(state.get(`${base}/person/p1`) ?? '{}').name, 'Dana');
        assert.equal(json(state.get(`${base}/door/person`) ?? '{}').last, 'Dana');
        const configs = await retainedNow(forgetful.url, `${prefix}/#`);
        // The person's two entities and the camera's three.
        assert.equal(configs.size, 5);
        faces.close();
        await publisher.stop();
      } finally {
        await forgetful.dispose();
      }
    },
  );
});
