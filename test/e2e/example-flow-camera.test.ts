/**
 * The example flow's camera path, exactly as shipped (examples/flows.json), in a real Node-RED: the
 * Hamilton clip served over RTSP on loopback as `FACEWATCH_CAMERA_URL`, a private Mosquitto as
 * `FACEWATCH_MQTT_URL`, and Lin-Manuel Miranda enrolled beforehand with `facewatch enrol` into the
 * flow's default face store. His event must reach `facewatch/events` while he is on screen, and no
 * event may name anyone else. Without either variable the flow still starts, says so, and the photo
 * part works.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import type { DetectionEvent } from '../../lib/types/events';
import { cameraSkip } from '../helpers/camera';
import { faceApiSample, fixturePath, ROOT } from '../helpers/env';
import { mosquittoSkip, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { loopedClip, startRtspServer, type RtspServer } from '../helpers/rtsp';
import { until } from '../helpers/wait';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as typeof import('ws');

const FLOW = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as object[];
/** Times the RTSP server's copy of the clip repeats it. */
const LOOPS = 30;
/** When Lin-Manuel Miranda's face is on screen (near-frontal medium shot), seconds into the clip. */
const ON_SCREEN = [3.58, 7.88] as const;
/**
 * How far the computed place of a frame in the clip may be off. The stream's start is taken as the
 * moment rtsp-source reported `connected` (its first frame); ffmpeg's probe delays that first frame,
 * so the computed place runs early by up to that much, and a little late from delivery jitter.
 */
const EARLY_S = 1.5;
const LATE_S = 1;

interface DebugMsg {
  id: string;
  msg: string;
  format: string;
}
interface StatusMsg {
  text?: string;
  fill?: string;
  shape?: string;
}

/** The editor's websocket: debug messages and node statuses, as the sidebar sees them. */
async function editorSocket(
  nr: RunningNodeRed,
): Promise<{ debug: (DebugMsg & { at: number })[]; status: Map<string, StatusMsg>; close(): void }> {
  const ws = new WebSocket(`${nr.url.replace('http', 'ws')}/comms`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const debug: (DebugMsg & { at: number })[] = [];
  const status = new Map<string, StatusMsg>();
  ws.on('message', (data: Buffer) => {
    const at = Date.now();
    for (const m of JSON.parse(data.toString()) as { topic: string; data: unknown }[]) {
      if (m.topic === 'debug') debug.push({ ...(m.data as DebugMsg), at });
      else if (m.topic.startsWith('status/')) status.set(m.topic.slice(7), m.data as StatusMsg);
    }
  });
  ws.send(JSON.stringify({ subscribe: 'debug' }));
  ws.send(JSON.stringify({ subscribe: 'status/#' }));
  return { debug, status, close: () => ws.close() };
}

/** `facewatch enrol` (the command line, from its source) into a store; fails the test with its output. */
function enrol(store: string, name: string, photo: string): void {
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'cli', 'facewatch.ts'),
      'enrol',
      '--store',
      store,
      '--name',
      name,
      photo,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 180000 },
  );
  assert.equal(run.status, 0, `facewatch enrol ${name}: ${run.stderr}${run.stdout}`);
}

describe('examples/flows.json with a camera and a broker', { skip: cameraSkip() ?? mosquittoSkip() }, () => {
  let broker: Mosquitto;
  let server: RtspServer;
  let nr: RunningNodeRed;
  let sub: mqtt.MqttClient;
  let editor: Awaited<ReturnType<typeof editorSocket>>;
  const events: { event: DetectionEvent; at: number }[] = [];
  let clipSeconds = 0;

  before(async () => {
    broker = await startMosquitto();
    const looped = loopedClip(LOOPS);
    // One pass of the looped copy: its video is shorter than the clip's 10.008 s (the audio runs on).
    clipSeconds =
      Number(
        execFileSync(
          'ffprobe',
          ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', looped],
          { encoding: 'utf8' },
        ),
      ) / LOOPS;
    server = await startRtspServer({ file: looped });
    nr = await startNodeRed({
      env: {
        FACEWATCH_CAMERA_URL: server.url,
        FACEWATCH_MQTT_URL: broker.url,
        FACEWATCH_SAMPLES: path.dirname(faceApiSample(1)),
      },
    });
    await waitForLog(nr, /Started flows/);
    // The flow's face store is the default one; enrol before the flow opens (and locks) it.
    const store = path.join(nr.userDir, 'facewatch', 'faces.db');
    const ex = (f: string): string => fixturePath('face_recognition', 'examples', f);
    enrol(store, 'Lin-Manuel Miranda', ex('lin-manuel-miranda.png'));
    // Someone who is not in the clip, so that "nobody else is named" can fail.
    enrol(store, 'Alex Lacamoire', ex('alex-lacamoire.png'));

    sub = await mqtt.connectAsync(broker.url);
    sub.on('message', (topic, payload) => {
      if (topic === 'facewatch/events')
        events.push({ event: JSON.parse(payload.toString()) as DetectionEvent, at: Date.now() });
    });
    await sub.subscribeAsync('facewatch/events', { qos: 1 });
    editor = await editorSocket(nr);
    // Exactly the shipped file, deployed as the editor deploys it.
    const res = await fetch(`${nr.url}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(FLOW),
    });
    assert.ok(res.ok, `deploy: ${res.status} ${await res.text()}`);
  });
  after(async () => {
    editor?.close();
    await sub?.endAsync();
    await nr?.stop();
    await server?.stop();
    await broker?.dispose();
  });

  it('publishes an event naming Lin-Manuel Miranda while he is on screen, and names nobody else', async () => {
    const connected = await until(
      'the camera to connect (rtsp-source output 2 in the debug sidebar)',
      () =>
        editor.debug.find(
          (d) =>
            d.id === 'fw.dbg.connection' && (JSON.parse(d.msg) as { state?: string }).state === 'connected',
        ),
      120000,
      50,
    );
    const t0 = connected.at;
    const place = (e: DetectionEvent): number =>
      ((((Date.parse(e.time) - t0) / 1000) % clipSeconds) + clipSeconds) % clipSeconds;
    const onScreen = (e: DetectionEvent): boolean =>
      place(e) >= ON_SCREEN[0] - EARLY_S && place(e) <= ON_SCREEN[1] + LATE_S;
    const report = (): string =>
      events
        .map(
          ({ event: e }) =>
            `${e.person?.name ?? 'unknown'} at ${place(e).toFixed(2)} s (${e.reason}, ${e.frames} frames)`,
        )
        .join('; ');
    let named: { event: DetectionEvent; at: number };
    try {
      named = await until(
        'an event naming him while he is on screen',
        () => events.find((e) => e.event.person?.name === 'Lin-Manuel Miranda' && onScreen(e.event)),
        // Several passes of the looped clip on a loaded machine.
        240000,
        100,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; on screen ${ON_SCREEN.join('-')} s of each ${clipSeconds.toFixed(2)} s pass; events: ${report()}\n${nr.log()}`,
      );
    }
    // A few more seconds for any other event of the same passes.
    await new Promise((r) => setTimeout(r, 5000));
    assert.ok(named.at >= Date.parse(named.event.time), 'the event reached the broker after its frame');
    for (const { event } of events)
      assert.ok(
        event.person === null || event.person.name === 'Lin-Manuel Miranda',
        `only he is named: ${report()}`,
      );
    assert.equal(named.event.camera, 'cam1');
    assert.ok(
      editor.debug.some((d) => d.id === 'fw.dbg.events'),
      'the events debug node shows the events too',
    );
    assert.doesNotMatch(nr.log(), /\[error\]/, nr.log());
    console.log(`example flow on the clip (${clipSeconds.toFixed(3)} s a pass): ${report()}`);
  });
});

describe('examples/flows.json without a camera or a broker', () => {
  let nr: RunningNodeRed;
  let enrolDir: string | undefined;
  let editor: Awaited<ReturnType<typeof editorSocket>>;

  before(async () => {
    // Unset in the test process too, so the child cannot inherit them.
    delete process.env.FACEWATCH_CAMERA_URL;
    delete process.env.FACEWATCH_MQTT_URL;
    delete process.env.FACEWATCH_HA_DISCOVERY;
    // The folder the "import folder" button enrols from: one sub-folder per person.
    enrolDir = mkdtempSync(path.join(os.tmpdir(), 'fw-enrol-'));
    mkdirSync(path.join(enrolDir, 'Barack Obama'));
    copyFileSync(
      fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
      path.join(enrolDir, 'Barack Obama', 'obama.jpg'),
    );
    nr = await startNodeRed({
      flows: FLOW,
      env: { FACEWATCH_SAMPLES: path.dirname(faceApiSample(1)), FACEWATCH_ENROL_DIR: enrolDir },
    });
    await waitForLog(nr, /Started flows/);
    editor = await editorSocket(nr);
  });
  after(async () => {
    editor?.close();
    await nr?.stop();
    if (enrolDir) rmSync(enrolDir, { recursive: true, force: true });
  });

  it('starts, the camera and broker nodes say which variable is not set, and the photo and folder enrolment work', async () => {
    const camera = await until(
      'rtsp-source to say the camera has no address',
      () => {
        const s = editor.status.get('fw.source');
        return s?.text?.includes('FACEWATCH_CAMERA_URL') ? s : undefined;
      },
      30000,
    );
    assert.equal(camera.text, 'no camera address: FACEWATCH_CAMERA_URL is not set');
    assert.equal(camera.fill, 'yellow');
    const mqttStatus = await until(
      'face-mqtt to say the broker has no address',
      () => {
        const s = editor.status.get('fw.mqtt');
        return s?.text?.includes('FACEWATCH_MQTT_URL') ? s : undefined;
      },
      30000,
    );
    assert.equal(mqttStatus.text, 'no broker address: FACEWATCH_MQTT_URL is not set');
    assert.equal(mqttStatus.fill, 'yellow');

    // The photo part: detect, enrol, detect again, as an operator clicks it.
    const click = async (inject: string, debugId: string): Promise<unknown> => {
      const seen = editor.debug.length;
      const res = await fetch(`${nr.url}/inject/${inject}`, { method: 'POST' });
      assert.equal(res.status, 200);
      const hit = await until(
        `debug output of ${debugId}`,
        () => editor.debug.slice(seen).find((d) => d.id === debugId || d.id === 'fw.dbg.err'),
        120000,
        100,
      );
      assert.notEqual(hit.id, 'fw.dbg.err', `the flow reported an error: ${hit.msg}`);
      return JSON.parse(hit.msg) as unknown;
    };
    const first = (await click('fw.in.detect', 'fw.dbg.match')) as { known: string[]; unknown: number };
    assert.deepEqual(first.known, []);
    assert.ok(first.unknown >= 2, `sample6 shows several faces (${first.unknown})`);
    const enrolled = (await click('fw.in.enrol', 'fw.dbg.register')) as { status: string };
    assert.equal(enrolled.status, 'enrolled');
    const second = (await click('fw.in.detect', 'fw.dbg.match')) as { known: string[] };
    assert.deepEqual(second.known, ['Demo person']);
    // Enrolment from a folder, through the same face-register.
    const imported = (await click('fw.in.import', 'fw.dbg.register')) as {
      enrolled: number;
      rows: { status: string; name?: string }[];
    };
    assert.equal(imported.enrolled, 1, JSON.stringify(imported));
    assert.equal(imported.rows[0]?.name, 'Barack Obama');

    // Said once each as a warning, never as an error, and nothing else went wrong.
    const log = nr.log();
    assert.doesNotMatch(log, /\[error\]/, log);
    assert.equal(log.match(/no camera address: FACEWATCH_CAMERA_URL is not set/g)?.length, 1, log);
    assert.equal(log.match(/no broker address: FACEWATCH_MQTT_URL is not set/g)?.length, 1, log);
  });
});
