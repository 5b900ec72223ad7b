/**
 * Names that cleaning would make one stay apart: a camera's name and a person's id become a topic
 * level and a Home Assistant object_id of their own (a name that needed cleaning carries a hash of
 * its original form), and Unicode non-characters and lone surrogates never reach a topic. Checked
 * on the functions, then on a private Mosquitto with a real subscriber.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import {
  baseTopic,
  cameraConfigs,
  FaceMqtt,
  MqttPublisher,
  nameHash,
  objectId,
  personConfigs,
  topicSegment,
  Topics,
  type DiscoveryContext,
} from '../../lib/mqtt';
import { sampleEvent } from '../helpers/sample-event';
import type { DetectionEvent } from '../../lib/types/events';
import { retainedNow, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { until as waitFor } from '../helpers/wait';

const until = (what: string, check: () => boolean, ms = 15000): Promise<boolean> =>
  waitFor(what, check, ms, 20);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every Unicode non-character: U+FDD0..U+FDEF and the last two code points of each of the 17 planes. */
const NON_CHARACTERS: string[] = [
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCodePoint(0xfdd0 + i)),
  ...Array.from({ length: 17 }, (_, plane) => [
    String.fromCodePoint(plane * 0x10000 + 0xfffe),
    String.fromCodePoint(plane * 0x10000 + 0xffff),
  ]).flat(),
];
const HASHED = /_[0-9a-f]{6}$/;

function event(n: number, camera: string, person: { id: string; name: string } | null): DetectionEvent {
  return { ...sampleEvent(n, camera), known: person !== null, person };
}

describe('names as topic levels and object ids', () => {
  it('keep a name that needs no cleaning exactly as it is', () => {
    for (const name of ['front_door', 'Zoë garden', 'PERSON_0001', 'a.b', 'cam 😀', '_'])
      assert.equal(topicSegment(name), name);
    for (const name of ['front_door', 'a_b', 'PERSON_0001', 'Cam-2']) assert.equal(objectId(name), name);
  });

  it('give a name that cleaning changed a stable hash of its original, so two names never share one', () => {
    const slash = topicSegment('front/door');
    assert.match(slash, /^front_door_[0-9a-f]{6}$/);
    assert.notEqual(slash, topicSegment('front_door'));
    assert.equal(topicSegment('front/door'), slash, 'the same name, the same level');
    assert.equal(slash, `front_door_${nameHash('front/door')}`);
    // Stable across releases: a retained topic and an entity id must not move on an upgrade.
    assert.equal(nameHash('front/door'), 'e0fb06');
    assert.notEqual(topicSegment('front+door'), slash);
    assert.notEqual(topicSegment('front#door'), slash);
    assert.match(topicSegment(''), /^__[0-9a-f]{6}$/);
    assert.notEqual(topicSegment(''), topicSegment('_'));
    assert.notEqual(topicSegment(' '), topicSegment(''));

    const dotted = objectId('a.b');
    assert.match(dotted, /^a_b_[0-9a-f]{6}$/);
    assert.notEqual(dotted, objectId('a_b'));
    assert.notEqual(objectId('a b'), dotted);
    assert.match(objectId('front door/1'), /^front_door_1_[0-9a-f]{6}$/);
    for (const name of ['a.b', 'Zoë', 'x/y+z#', 'PERSON 1']) assert.match(objectId(name), /^[a-zA-Z0-9_-]+$/);
  });

  it('strip every Unicode non-character and lone surrogate, and keep such names apart', () => {
    const levels = new Set<string>();
    for (const c of NON_CHARACTERS) {
      const level = topicSegment(`cam${c}`);
      assert.match(level, /^cam_[0-9a-f]{6}$/, `U+${c.codePointAt(0)?.toString(16)}`);
      assert.ok(!level.includes(c));
      levels.add(level);
    }
    assert.equal(levels.size, NON_CHARACTERS.length, 'each name its own level');
    const high = topicSegment('a\uD800');
    const low = topicSegment('a\uDC00');
    assert.notEqual(high, low);
    for (const level of [high, low, topicSegment('\uDFFFb\uD83D')])
      assert.doesNotMatch(level, /[\uD800-\uDFFF]/u, 'no lone surrogate left');
    // A surrogate pair is one character and stays.
    assert.equal(topicSegment('\u{1F600}'), '\u{1F600}');
    assert.equal(baseTopic('fw\uFFFE/x\uFDD0y', 'facewatch'), 'fw/xy');
  });

  it('cut a very long name and hash it, so a topic stays far under MQTT limits', () => {
    const long = 'a'.repeat(100000);
    const level = topicSegment(long);
    assert.equal(level.length, 100 + 7);
    assert.match(level, HASHED);
    assert.notEqual(topicSegment(`${long}b`), level);
    assert.equal(objectId(long).length, 100 + 7);
  });

  it('give colliding cameras and people their own topics, unique_ids and discovery topics', () => {
    const ctx: DiscoveryContext = { prefix: 'homeassistant', topics: new Topics('fw'), presenceTimeout: 60 };
    const t = ctx.topics;
    assert.notEqual(t.cameraEvents('front/door'), t.cameraEvents('front_door'));
    assert.notEqual(t.cameraPerson('front/door'), t.cameraPerson('front_door'));
    assert.notEqual(t.cameraSnapshot('front/door'), t.cameraSnapshot('front_door'));
    assert.notEqual(t.person('a/b'), t.person('a_b'));
    const people = [
      personConfigs(ctx, { id: 'a.b', name: 'A' }),
      personConfigs(ctx, { id: 'a_b', name: 'B' }),
    ];
    const cameras = [cameraConfigs(ctx, 'front/door'), cameraConfigs(ctx, 'front_door')];
    for (const [one, other] of [people, cameras]) {
      const topics = new Set(one.map((c) => c.topic));
      assert.ok(!other.some((c) => topics.has(c.topic)), 'discovery topics apart');
      const ids = new Set(one.map((c) => c.payload.unique_id));
      assert.ok(!other.some((c) => ids.has(c.payload.unique_id)), 'unique_ids apart');
      const device = JSON.stringify((one[0].payload.device as { identifiers: unknown }).identifiers);
      assert.notEqual(
        device,
        JSON.stringify((other[0].payload.device as { identifiers: unknown }).identifiers),
      );
    }
  });
});

describe('names that collide after cleaning, on a private Mosquitto', () => {
  let broker: Mosquitto;
  let publisher: MqttPublisher;
  let faces: FaceMqtt;
  const base = 'fwnames';
  const prefix = 'fwnamesha';

  before(async () => {
    broker = await startMosquitto();
    publisher = new MqttPublisher({
      url: broker.url,
      baseTopic: base,
      discovery: true,
      discoveryPrefix: prefix,
      retryDelayMs: 200,
      maxRetryDelayMs: 1000,
    });
    publisher.start();
    faces = new FaceMqtt(publisher, { presenceTimeout: 60 });
    await until('connected', () => publisher.state().connected);
  });
  after(async () => {
    faces.close();
    await publisher.stop();
    await broker.dispose();
  });

  it('deleting person a.b leaves a_b retained state and discovery configs in place', async () => {
    const dotted = { id: 'a.b', name: 'Dotted' };
    const plain = { id: 'a_b', name: 'Plain' };
    faces.announceAll([dotted, plain]);
    faces.publish(event(1, 'hall', dotted));
    faces.publish(event(2, 'hall', plain));
    await publisher.whenIdle();
    const configsOf = async (): Promise<Map<string, string>> =>
      new Map(
        [...(await retainedNow(broker.url, `${prefix}/#`))].filter(([t, p]) => t.endsWith('/config') && p),
      );
    let configs = await configsOf();
    const plainConfigs = [...configs].filter(
      ([, p]) => (JSON.parse(p) as { device: { name: string } }).device.name === 'Plain',
    );
    const dottedConfigs = [...configs].filter(
      ([, p]) => (JSON.parse(p) as { device: { name: string } }).device.name === 'Dotted',
    );
    assert.equal(plainConfigs.length, 2, [...configs.keys()].join(', '));
    assert.equal(dottedConfigs.length, 2, [...configs.keys()].join(', '));

    faces.forget(dotted);
    await sleep(300);
    const state = await retainedNow(broker.url, `${base}/person/#`);
    assert.equal(state.has(`${base}/person/a.b`), false, 'the deleted person is cleared');
    const kept = state.get(`${base}/person/${topicSegment('a_b')}`);
    assert.ok(kept, [...state.keys()].join(', '));
    assert.equal((JSON.parse(kept) as { name: string }).name, 'Plain');
    configs = await configsOf();
    for (const [topic, payload] of plainConfigs) assert.equal(configs.get(topic), payload, `${topic} kept`);
    for (const [topic] of dottedConfigs) assert.equal(configs.has(topic), false, `${topic} cleared`);
  });

  it('cameras front/door and front_door publish to topics of their own', async (t) => {
    const sub = await mqtt.connectAsync(broker.url);
    // Ended even when an assertion fails: a client left connected would keep the test process alive.
    t.after(() => sub.endAsync());
    const got: Array<{ topic: string; payload: string }> = [];
    sub.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await sub.subscribeAsync(`${base}/#`, { qos: 1 });
    const slash = event(3, 'front/door', null);
    const underscore = event(4, 'front_door', null);
    faces.publish(slash);
    faces.publish(underscore);
    const eventsAt = (topic: string): string[] =>
      got.filter((g) => g.topic === topic).map((g) => (JSON.parse(g.payload) as DetectionEvent).trackId);
    const slashTopic = `${base}/${topicSegment('front/door')}/events`;
    await until(
      'both events',
      () => eventsAt(slashTopic).length > 0 && eventsAt(`${base}/front_door/events`).length > 0,
    );
    await sleep(200);
    assert.notEqual(slashTopic, `${base}/front_door/events`);
    assert.deepEqual(eventsAt(slashTopic), [slash.trackId]);
    assert.deepEqual(eventsAt(`${base}/front_door/events`), [underscore.trackId]);
    const presence = await retainedNow(broker.url, `${base}/+/person`);
    assert.equal(
      (JSON.parse(presence.get(`${base}/${topicSegment('front/door')}/person`) ?? '{}') as { camera: string })
        .camera,
      'front/door',
    );
    assert.equal(
      (JSON.parse(presence.get(`${base}/front_door/person`) ?? '{}') as { camera: string }).camera,
      'front_door',
    );
    const cameraConfigsNow = [...(await retainedNow(broker.url, `${prefix}/sensor/#`))].filter(([t]) =>
      t.includes('/camera_front_door'),
    );
    assert.equal(cameraConfigsNow.length, 6, cameraConfigsNow.map(([t]) => t).join(', '));
  });
});
