/**
 * `npm start` (scripts/start.mjs) as a user runs it: Node-RED on loopback with the example flow, the
 * broker it picks (one that answers at the probed address, else its embedded aedes), the demo camera
 * made from face-api's sample photos, the addresses it prints, and without ffmpeg the advice and a
 * working photo demo. The probed address is a test's own (FACEWATCH_PROBE_MQTT_URL), so the machine's
 * broker at 1883, running or not, changes nothing here.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import type { DetectionEvent } from '../../lib/types/events';
import { IN_CI, ROOT, toolSkip } from '../helpers/env';
import { MOSQUITTO, startMosquitto } from '../helpers/mosquitto';
import { freePort, stopChild, waitForHttp } from '../helpers/nodered';
import { until } from '../helpers/wait';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as typeof import('ws');

const EXAMPLE = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as {
  id: string;
}[];

interface Started {
  child: ChildProcess;
  port: number;
  url: string;
  userDir: string;
  log: () => string;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs scripts/start.mjs in a fresh user directory on a free port and waits for "Started flows". */
async function start(env: Record<string, string>): Promise<Started> {
  const userDir = mkdtempSync(path.join(os.tmpdir(), 'fw-start-'));
  dirs.push(userDir);
  const port = await freePort();
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    FACEWATCH_USER_DIR: userDir,
    FACEWATCH_PORT: String(port),
    ...env,
  };
  // What a user has not set, start.mjs sets: make sure the test's own environment sets none of it.
  for (const name of [
    'FACEWATCH_CAMERA_URL',
    'FACEWATCH_MQTT_URL',
    'FACEWATCH_HA_DISCOVERY',
    'FACEWATCH_HOST',
  ])
    if (!(name in env)) delete childEnv[name];
  let log = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/`, child, 120000);
    await until('Started flows', () => /Started flows/.test(log), 120000, 200);
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { child, port, url, userDir, log: () => log };
}

/** The value printed on the line starting with `label` (the first word after it). */
function printed(log: string, label: string): string {
  const m = new RegExp(`^\\s+${label}\\s+(\\S+)`, 'm').exec(log);
  assert.ok(m, `npm start prints "${label}":\n${log}`);
  return m[1];
}

async function assertExampleFlowRuns(s: Started): Promise<void> {
  assert.match(s.log(), new RegExp(`Server now running at http://127.0.0.1:${s.port}/`));
  const res = await fetch(`${s.url}/flows`);
  assert.equal(res.status, 200);
  const deployed = (await res.json()) as { id: string }[];
  assert.deepEqual(deployed.map((n) => n.id).sort(), EXAMPLE.map((n) => n.id).sort());
  const nodes = (await (
    await fetch(`${s.url}/nodes`, { headers: { accept: 'application/json' } })
  ).json()) as {
    module: string;
    types: string[];
    err?: string;
  }[];
  const ours = nodes.filter((n) => n.module === 'node-red-contrib-facewatch');
  assert.ok(ours.length > 0, 'FaceWatch nodes are installed');
  for (const set of ours) assert.equal(set.err, undefined, `${set.types.join(',')}: ${set.err}`);
}

describe('npm start', () => {
  it(
    'with no broker at the probed address: starts aedes, prints where everything is, and the demo camera shows unknown faces on facewatch/events',
    { skip: toolSkip(process.env.FFMPEG_PATH || 'ffmpeg') },
    async () => {
      const nothing = `mqtt://127.0.0.1:${await freePort()}`;
      const s = await start({ FACEWATCH_PROBE_MQTT_URL: nothing });
      let sub: mqtt.MqttClient | undefined;
      try {
        await assertExampleFlowRuns(s);
        assert.equal(printed(s.log(), 'editor'), `${s.url}/`);
        assert.equal(printed(s.log(), 'Face Library'), `${s.url}/facewatch/`);
        const broker = printed(s.log(), 'MQTT broker');
        assert.match(broker, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
        assert.notEqual(broker, nothing);
        assert.match(s.log(), new RegExp(`embedded \\(aedes.*none answered at ${nothing}`));
        const clip = printed(s.log(), 'camera');
        assert.ok(
          clip.startsWith(s.userDir) && existsSync(clip),
          `the demo clip is in the user dir: ${clip}`,
        );
        const library = await fetch(`${s.url}/facewatch/`);
        assert.equal(library.status, 200, 'the printed Face Library address answers');

        // The embedded broker carries the demo camera's events: faces nobody has enrolled.
        sub = await mqtt.connectAsync(broker);
        const events: DetectionEvent[] = [];
        const discovery: string[] = [];
        sub.on('message', (topic, payload) => {
          if (topic === 'facewatch/events') events.push(JSON.parse(payload.toString()) as DetectionEvent);
          else if (topic.startsWith('homeassistant/')) discovery.push(topic);
        });
        await sub.subscribeAsync(['facewatch/events', 'homeassistant/#'], { qos: 1 });
        const first = await until('an event from the demo camera', () => events[0], 180000, 100);
        assert.equal(first.camera, 'cam1');
        assert.equal(first.known, false);
        assert.equal(first.person, null);
        assert.deepEqual(discovery, [], 'Home Assistant discovery is off in the demo');
        assert.doesNotMatch(s.log(), /\[error\]/, s.log());
        assert.doesNotMatch(s.log(), /\[warn\].*(face|facewatch)/i, s.log());
      } finally {
        await sub?.endAsync();
        await stopChild(s.child);
      }
      assert.ok(s.child.exitCode !== null || s.child.signalCode !== null, 'npm start ended');
    },
  );

  it('uses the broker that answers at the probed address', async (t) => {
    if (!existsSync(MOSQUITTO)) {
      if (IN_CI) throw new Error(`required under CI: mosquitto not found at ${MOSQUITTO}`);
      t.skip(`mosquitto not found at ${MOSQUITTO}`);
      return;
    }
    const broker = await startMosquitto();
    const s = await start({ FACEWATCH_PROBE_MQTT_URL: broker.url });
    try {
      assert.equal(printed(s.log(), 'MQTT broker'), broker.url);
      assert.match(s.log(), /the one that answers there/);
      // face-mqtt connected to it: its retained availability says so.
      const sub = await mqtt.connectAsync(broker.url);
      const online = new Promise<string>((resolve) => {
        sub.on('message', (topic, payload) => {
          if (topic === 'facewatch/available' && payload.toString() === 'online') resolve(topic);
        });
      });
      await sub.subscribeAsync('facewatch/available', { qos: 1 });
      await Promise.race([
        online,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`face-mqtt never came online\n${s.log()}`)), 60000),
        ),
      ]);
      await sub.endAsync();
    } finally {
      await stopChild(s.child);
      await broker.dispose();
    }
  });

  it('without ffmpeg: says how to install it, the camera says it has no address, and the photo demo works', async () => {
    const s = await start({
      FFMPEG_PATH: path.join(os.tmpdir(), 'no-such-dir', 'ffmpeg'),
      FACEWATCH_PROBE_MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
    });
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/comms`);
    try {
      assert.match(s.log(), /ffmpeg not found/);
      assert.match(s.log(), /apt-get install ffmpeg/);
      assert.equal(printed(s.log(), 'camera'), '-');
      const debug: { id: string; msg: string }[] = [];
      const status = new Map<string, { text?: string }>();
      ws.on('message', (data: Buffer) => {
        for (const m of JSON.parse(data.toString()) as { topic: string; data: unknown }[]) {
          if (m.topic === 'debug') debug.push(m.data as { id: string; msg: string });
          else if (m.topic.startsWith('status/')) status.set(m.topic.slice(7), m.data as { text?: string });
        }
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(JSON.stringify({ subscribe: 'debug' }));
      ws.send(JSON.stringify({ subscribe: 'status/#' }));
      await until(
        'rtsp-source to say the camera has no address',
        () => status.get('fw.source')?.text === 'no camera address: FACEWATCH_CAMERA_URL is not set',
        30000,
      );
      const res = await fetch(`${s.url}/inject/fw.in.detect`, { method: 'POST' });
      assert.equal(res.status, 200);
      const hit = await until(
        'the photo demo in the debug sidebar',
        () => debug.find((d) => d.id === 'fw.dbg.match' || d.id === 'fw.dbg.err'),
        120000,
        100,
      );
      assert.equal(hit.id, 'fw.dbg.match', hit.msg);
      const result = JSON.parse(hit.msg) as { known: string[]; unknown: number };
      assert.ok(result.unknown >= 2, `sample6 shows several faces (${result.unknown})`);
      assert.doesNotMatch(s.log(), /\[error\]/, s.log());
    } finally {
      ws.close();
      await stopChild(s.child);
    }
  });
});
