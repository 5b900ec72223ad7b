/**
 * face-mqtt-broker and face-mqtt in a real Node-RED runtime against the machine's Mosquitto: an
 * event in, its topics out, the broker's state in the node's status, and no password anywhere.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { sampleEvent } from '../helpers/sample-event';
import { clearRetained } from '../helpers/mosquitto';
import { builtNode, helper, startServer, stopServer } from '../helpers/red';
import { until as waitFor } from '../helpers/wait';

const until = (what: string, check: () => boolean, ms = 15000): Promise<boolean> =>
  waitFor(what, check, ms, 20);

const nodes = ['face-mqtt-broker', 'face-mqtt'].map(builtNode);
const run = `${process.pid}-${randomBytes(3).toString('hex')}`;
const base = `fwflow/${run}`;
const prefix = `fwflowha-${run}`;
const PASSWORD = 'pa55:w/rd@x';

describe('face-mqtt in a flow', () => {
  before(startServer);
  after(async () => {
    await stopServer();
    await clearRetained('mqtt://127.0.0.1:1883', [`${base}/#`, `${prefix}/#`]);
  });
  afterEach(() => helper.unload());

  it('publishes an event from msg.event, shows the broker state and never the password', async () => {
    const sub = await mqtt.connectAsync('mqtt://127.0.0.1:1883');
    const got: Array<{ topic: string; payload: string }> = [];
    sub.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await sub.subscribeAsync(`${base}/#`, { qos: 1 });
    const flow = [
      {
        id: 'b1',
        type: 'face-mqtt-broker',
        name: 'local',
        url: 'mqtt://${FW_TEST_MQTT_HOST}:1883',
        baseTopic: base,
        discoveryPrefix: prefix,
        discovery: true,
        qos: 1,
        queueLimit: 1000,
        tlsVerify: true,
      },
      { id: 'm1', type: 'face-mqtt', broker: 'b1', presenceTimeout: 1, snapshots: true },
    ];
    process.env.FW_TEST_MQTT_HOST = '127.0.0.1';
    // Mosquitto at 1883 allows anonymous clients and ignores the credentials; they must still stay hidden.
    await helper.load(nodes, flow, { b1: { username: 'fw', password: PASSWORD } });
    const m1 = helper.getNode('m1');
    const statuses: Array<{ text?: string; fill?: string }> = [];
    m1.on('call:status', (c: { args: Array<{ text?: string; fill?: string }> }) => statuses.push(c.args[0]));
    const e = { ...sampleEvent(1, 'porch'), person: { id: 'p1', name: 'Eve' } };
    m1.receive({ event: e, payload: e, topic: 'porch', snapshot: Buffer.from([0xff, 0xd8]) });
    await until('event', () => got.some((g) => g.topic === `${base}/porch/events`));
    assert.deepEqual(JSON.parse(got.find((g) => g.topic === `${base}/events`)?.payload ?? '{}'), e);
    await until('snapshot', () => got.some((g) => g.topic === `${base}/porch/snapshot`));
    await until('connected status', () => statuses.some((s) => s.fill === 'green'));
    const errors: string[] = [];
    m1.on('call:error', (c: { args: unknown[] }) => errors.push(String(c.args[0])));
    m1.receive({ payload: 'not an event' });
    await until('error', () => errors.length > 0);
    const logged = JSON.stringify(helper.log().args) + JSON.stringify(statuses) + errors.join();
    assert.doesNotMatch(logged, /pa55/);
    await sub.endAsync();
  });
});
