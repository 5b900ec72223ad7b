/**
 * MQTT with several instances: two Node-RED processes on loopback sharing one face store on
 * PostgreSQL (a database made for the test) and one broker (the machine's Mosquitto, under topics of
 * this run). Each instance has its own availability topic; a person's Home Assistant entities are
 * published by one elected instance, with its availability, and by the other when it dies; a
 * camera's by the instance it runs on; a person's presence ends a timeout after their last sighting
 * on any instance; an instance that restarts clears its own cameras' stale state and never another's;
 * a deletion on one clears the person's retained topics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { objectId, plainObjectId } from '../../lib/mqtt/topics';
import { fixturePath } from '../helpers/env';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { enrolThrough, instanceFlow, who } from '../helpers/instances';
import { clearRetained, retainedNow } from '../helpers/mosquitto';
import { createDatabase, type TestDatabase } from '../helpers/pg';
import { until } from '../helpers/wait';

const FR = (rel: string): Buffer => readFileSync(fixturePath('face_recognition', rel));
const OBAMA = FR('examples/knn_examples/train/obama/obama.jpg');
const OBAMA2 = FR('examples/knn_examples/train/obama/obama2.jpg');
const OBAMA3 = FR('examples/knn_examples/test/obama1.jpg');
const BROKER = 'mqtt://127.0.0.1:1883';
const run = `${process.pid}-${randomBytes(3).toString('hex')}`;
const BASE = `fwinst/${run}`;
const PREFIX = `fwinstha-${run}`;
/** Long enough that south's sighting comes within it of north's, on a loaded machine too. */
const PRESENCE_S = 20;

interface Seen {
  topic: string;
  text: string;
  retain: boolean;
  at: number;
}

describe('two Node-RED instances on one store and one broker', () => {
  let db: TestDatabase;
  let sub: mqtt.MqttClient;
  const seen: Seen[] = [];
  const nrs = new Map<string, RunningNodeRed>();
  const nodeId = `facewatch_${plainObjectId(BASE)}`;
  const available = (name: string): string => `${BASE}/instance/${name}/available`;
  const last = (topic: string): Seen | undefined => seen.filter((s) => s.topic === topic).at(-1);

  before(async () => {
    db = await createDatabase();
    sub = await mqtt.connectAsync(BROKER, { clientId: `fwinst-sub-${run}` });
    sub.on('message', (topic, payload, packet) =>
      seen.push({ topic, text: payload.toString(), retain: packet.retain, at: Date.now() }),
    );
    await sub.subscribeAsync([`${BASE}/#`, `${PREFIX}/#`], { qos: 1 });
    for (const name of ['north', 'south']) {
      const nr = await startNodeRed({
        flows: instanceFlow(db.url, {
          camera: `${name}-door`,
          mqtt: { url: BROKER, baseTopic: BASE, discoveryPrefix: PREFIX, presenceTimeout: PRESENCE_S },
        }),
        env: { FACEWATCH_INSTANCE: name },
      });
      nrs.set(name, nr);
      await waitForLog(nr, /Started flows/);
    }
  });
  after(async () => {
    await Promise.all([...nrs.values()].map((n) => n.stop()));
    await db?.drop();
    // Nothing of this run stays retained on the machine's broker.
    await clearRetained(BROKER, [`${BASE}/#`, `${PREFIX}/#`]);
    await sub?.endAsync();
  });

  it('availability per instance, people announced by one elected instance, cameras by their own, presence across instances', async () => {
    const north = nrs.get('north')!;
    const south = nrs.get('south')!;
    await until(
      'both instances online',
      () => last(available('north'))?.text === 'online' && last(available('south'))?.text === 'online',
      15000,
    );
    assert.equal(last(`${BASE}/available`), undefined, 'no installation-wide availability from one instance');

    const id = await enrolThrough(north, 'Barack Obama', OBAMA);
    const presenceConfig = `${PREFIX}/binary_sensor/${nodeId}/person_${objectId(id)}_presence/config`;
    await until('his presence entity', () => last(presenceConfig), 10000);
    // Both instances know him; only the elected one publishes his entities (the other would within a poll).
    await new Promise((r) => setTimeout(r, 3000));
    const configs = seen.filter((s) => s.topic === presenceConfig);
    assert.equal(configs.length, 1, `his entity published once, not ${configs.length} times`);
    const leaderTopic = (JSON.parse(configs[0].text) as { availability_topic: string }).availability_topic;
    const leader = leaderTopic === available('north') ? 'north' : 'south';
    assert.equal(leaderTopic, available(leader));
    const follower = leader === 'north' ? 'south' : 'north';

    // North sees him at its door; south, seconds later, at its own.
    const personTopic = `${BASE}/person/${id}`;
    await who(north, OBAMA2);
    const northState = await until(
      "north's sighting",
      () =>
        seen.find(
          (s) =>
            s.topic === personTopic && (JSON.parse(s.text) as { camera: string }).camera === 'north-door',
        ),
      10000,
    );
    await who(south, OBAMA3);
    const southState = await until(
      "south's sighting",
      () =>
        seen.find(
          (s) =>
            s.topic === personTopic && (JSON.parse(s.text) as { camera: string }).camera === 'south-door',
        ),
      10000,
    );
    const southSeen = (JSON.parse(southState.text) as { lastSeen: string }).lastSeen;
    const gap = southState.at - northState.at;
    assert.ok(
      gap > 0 && gap < PRESENCE_S * 1000 - 3000,
      `south's sighting ${gap} ms after north's, within the timeout`,
    );

    for (const name of ['north', 'south']) {
      const cam = `${name}-door`;
      const presence = await until(`${cam}'s presence`, () => last(`${BASE}/${cam}/person`), 5000);
      assert.equal((JSON.parse(presence.text) as { instance: string }).instance, name);
      const camConfig = await until(
        `${cam}'s entity`,
        () => last(`${PREFIX}/sensor/${nodeId}/camera_${objectId(cam)}_last_person/config`),
        5000,
      );
      assert.equal(
        (JSON.parse(camConfig.text) as { availability_topic: string }).availability_topic,
        available(name),
        `${cam}'s entities go unavailable with ${name}`,
      );
    }
    const events = seen
      .filter((s) => s.topic === `${BASE}/events`)
      .map((s) => JSON.parse(s.text) as { instance: string; camera: string });
    assert.deepEqual(
      events.map((e) => `${e.camera}@${e.instance}`).sort(),
      ['north-door@north', 'south-door@south'],
      'each event carries its instance',
    );

    // Presence ends a timeout after the last sighting anywhere: north, which saw him first, does not
    // turn him off when its own timeout ends.
    const off = await until(
      'presence off',
      () =>
        seen.find(
          (s) => s.topic === personTopic && (JSON.parse(s.text) as { present: boolean }).present === false,
        ),
      PRESENCE_S * 1000 + 10000,
    );
    for (const s of seen.filter((x) => x.topic === personTopic)) {
      const state = JSON.parse(s.text) as { present: boolean; lastSeen: string };
      if (!state.present)
        assert.equal(state.lastSeen, southSeen, "turned off with the last sighting, south's");
    }
    assert.ok(
      off.at >= southState.at + PRESENCE_S * 1000 - 1000,
      `off ${off.at - southState.at} ms after south's sighting`,
    );

    // The leader dies: its availability goes offline (its Last Will), and the other takes over the
    // people's entities, with its own availability.
    const dying = nrs.get(leader)!;
    process.kill(dying.pid()!, 'SIGKILL');
    await until("the dead leader's Last Will", () => last(available(leader))?.text === 'offline', 10000);
    await until(
      'his entity from the new leader',
      () => {
        const c = last(presenceConfig);
        return (
          c &&
          (JSON.parse(c.text) as { availability_topic: string }).availability_topic === available(follower)
        );
      },
      15000,
    );
    assert.equal(last(available(follower))?.text, 'online');

    // The dead one comes back: it clears its own camera's stale presence, never the other's.
    await dying.restart();
    await waitForLog(dying, /Started flows[\s\S]*Started flows/);
    await until('back online', () => last(available(leader))?.text === 'online', 15000);
    await new Promise((r) => setTimeout(r, 3000));
    const retained = await retainedNow(BROKER, [`${BASE}/+/person`], 1000);
    assert.equal(
      retained.has(`${BASE}/${leader}-door/person`),
      false,
      'its own stale camera presence is cleared',
    );
    assert.ok(retained.has(`${BASE}/${follower}-door/person`), "the other instance's camera presence stays");

    // Deleted through the follower: his retained state and entities are gone from the broker.
    const del = await fetch(`${nrs.get(follower)!.url}/facewatch/api/faces/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200, await del.text());
    await new Promise((r) => setTimeout(r, 2000));
    const after = await retainedNow(BROKER, [`${BASE}/#`, `${PREFIX}/#`], 1000);
    const his = [...after.keys()].filter((t) => t.includes(objectId(id)) || t === personTopic);
    assert.deepEqual(his, [], 'nothing of him stays retained');
  });
});
