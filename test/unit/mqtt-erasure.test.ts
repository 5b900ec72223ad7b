/**
 * Erasure on the broker, with a private Mosquitto and a real subscriber: a camera's retained
 * snapshot that shows an erased person is cleared (and not republished on reconnect), one that does
 * not show them stays; and what an earlier run left retained of people no longer enrolled (deleted
 * while Node-RED was stopped) is cleared when face-mqtt starts, while the enrolled keep theirs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { FaceMqtt, MqttPublisher } from '../../lib/mqtt';
import { sampleEvent } from '../helpers/sample-event';
import type { DetectionEvent } from '../../lib/types/events';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';

const ADA = { id: 'P1', name: 'Ada Lovelace' };
const BOB = { id: 'P2', name: 'Bob Bandicoot' };

async function retained(url: string): Promise<Map<string, Buffer>> {
  const client = await mqtt.connectAsync(url);
  const seen = new Map<string, Buffer>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain && payload.length) seen.set(topic, payload);
  });
  await client.subscribeAsync('#', { qos: 1 });
  await new Promise((r) => setTimeout(r, 600));
  await client.endAsync();
  return seen;
}

function eventOf(camera: string, person: typeof ADA, also: Array<typeof ADA>): DetectionEvent {
  const e = sampleEvent(1, camera);
  return {
    ...e,
    known: true,
    person,
    faces: [person, ...also].map((p) => ({ box: e.box, person: p })),
  };
}

describe('erasure on the broker', () => {
  let broker: Mosquitto;
  before(async () => {
    broker = await startMosquitto();
  });
  after(() => broker?.dispose());

  it('clears the retained snapshot that shows an erased person, and only that one', async () => {
    const pub = new MqttPublisher({ url: broker.url, baseTopic: 'snap', discovery: false });
    pub.start();
    const faces = new FaceMqtt(pub, { snapshots: true });
    faces.publish(eventOf('door', ADA, [BOB]), Buffer.from('JPEG of Ada and Bob'));
    faces.publish(eventOf('gate', BOB, []), Buffer.from('JPEG of Bob'));
    await pub.whenIdle();
    await new Promise((r) => setTimeout(r, 300));
    let now = await retained(broker.url);
    assert.ok(now.get('snap/door/snapshot'));
    faces.forget(ADA);
    await new Promise((r) => setTimeout(r, 300));
    now = await retained(broker.url);
    assert.equal(now.get('snap/door/snapshot'), undefined, 'the snapshot showing Ada is cleared');
    assert.equal(now.get('snap/gate/snapshot')?.toString(), 'JPEG of Bob');
    // A broker restart makes the publisher republish what it retains: not Ada's picture.
    await broker.stop();
    await broker.start();
    await new Promise((r) => setTimeout(r, 3000));
    now = await retained(broker.url);
    assert.equal(now.get('snap/door/snapshot'), undefined, 'not republished on reconnect');
    assert.equal(now.get('snap/gate/snapshot')?.toString(), 'JPEG of Bob');
    faces.close();
    await pub.stop();
  });

  it('publishes nothing of a person erased while their event was in flight', async () => {
    const pub = new MqttPublisher({ url: broker.url, baseTopic: 'late', discovery: true });
    pub.start();
    const gone = new Set([ADA.id]);
    const faces = new FaceMqtt(pub, { snapshots: true, enrolled: (id) => !gone.has(id) });
    const client = await mqtt.connectAsync(broker.url);
    const events: DetectionEvent[] = [];
    client.on('message', (topic, payload) => {
      if (topic === 'late/events') events.push(JSON.parse(payload.toString()) as DetectionEvent);
    });
    await client.subscribeAsync('late/events', { qos: 1 });
    faces.publish(eventOf('door', ADA, [BOB]), Buffer.from('JPEG of Ada and Bob'));
    faces.publish(eventOf('gate', BOB, [ADA]), Buffer.from('JPEG of Bob and Ada'));
    faces.announce(ADA);
    await pub.whenIdle();
    await new Promise((r) => setTimeout(r, 500));
    await client.endAsync();
    assert.deepEqual(
      events.map((e) => e.person?.id),
      [BOB.id],
      'her own event is not published; his is',
    );
    assert.deepEqual(
      events[0].faces?.map((f) => f.person?.id),
      [BOB.id],
      'she left his event',
    );
    const now = await retained(broker.url);
    const about = [...now].filter(([t, p]) => t.includes(ADA.id) || p.includes(ADA.name)).map(([t]) => t);
    assert.deepEqual(about, [], 'nothing of her is retained');
    assert.equal(now.get('late/gate/snapshot'), undefined, 'the picture that shows her is not retained');
    assert.ok(now.get(`late/person/${BOB.id}`), 'his state is');
    faces.close();
    await pub.stop();
  });

  it('clears at start what an earlier run left of people no longer enrolled, keeps the enrolled', async () => {
    // An earlier run: Ada and Bob announced and seen, with snapshots.
    const first = new MqttPublisher({ url: broker.url, baseTopic: 'old', discovery: true });
    first.start();
    const old = new FaceMqtt(first, { snapshots: true });
    old.announceAll([ADA, BOB]);
    old.publish(eventOf('gate', BOB, []), Buffer.from('JPEG'));
    old.publish(eventOf('door', ADA, [BOB]), Buffer.from('JPEG'));
    await first.whenIdle();
    await new Promise((r) => setTimeout(r, 300));
    old.close();
    await first.stop();
    const before = await retained(broker.url);
    const about = (who: typeof ADA, m: Map<string, Buffer>): string[] =>
      [...m].filter(([t, p]) => t.includes(who.id) || p.includes(who.name)).map(([t]) => t);
    assert.ok(about(ADA, before).length >= 3, `Ada's topics before: ${about(ADA, before).join(', ')}`);
    const cameraConfigs = [...before.keys()].filter(
      (t) => t.startsWith('homeassistant/') && t.includes('camera_door'),
    );
    assert.ok(cameraConfigs.length > 0);

    // This run: Ada was deleted meanwhile; Bob is still enrolled.
    const pub = new MqttPublisher({ url: broker.url, baseTopic: 'old', discovery: true });
    pub.start();
    const faces = new FaceMqtt(pub, { snapshots: true });
    faces.announceAll([BOB]);
    const cleared = await faces.sweepStale([BOB]);
    await new Promise((r) => setTimeout(r, 300));
    const now = await retained(broker.url);
    assert.deepEqual(about(ADA, now), [], `nothing of Ada is retained (cleared: ${cleared.join(', ')})`);
    assert.ok(now.get('old/person/P2'), "Bob's state stays");
    assert.ok(
      [...now.keys()].some((t) => t.startsWith('homeassistant/') && t.includes('person_P2')),
      "Bob's entities stay",
    );
    for (const t of cameraConfigs) assert.ok(now.get(t), `the camera's entity ${t} stays`);
    assert.equal(now.get('old/door/snapshot'), undefined, 'an old snapshot may show anyone: cleared');
    faces.close();
    await pub.stop();
  });
});
