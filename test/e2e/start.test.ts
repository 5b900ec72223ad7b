/**
 * `npm start` (scripts/start.mjs) as a user runs it: Node-RED on loopback with the example flow, the
 * broker it picks (one that answers at the probed address, else its embedded aedes), the demo camera
 * (face-api's sample photos served as an MJPEG camera over HTTP from npm start's own process), the
 * addresses it prints, and without ffmpeg the advice and a working photo demo. The editor and the Face
 * Library are behind a login: a password generated on the first start, printed once and kept in a
 * file of mode 0600, or one of the user's own (FACEWATCH_ADMIN_PASSWORD, --admin-password), also
 * with a settings.js written by an older npm start, which had no adminAuth. The probed address is a
 * test's own (FACEWATCH_PROBE_MQTT_URL), so the machine's broker at 1883, running or not, changes
 * nothing here.
 */
import { adminToken, requestToken } from '../helpers/auth';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import type { DetectionEvent } from '../../lib/types/events';
import { allocatorEnv } from '../../scripts/allocator.mjs';
import { pids } from '../helpers/camera';
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

/**
 * Runs scripts/start.mjs (in a fresh user directory, or `userDir`) on a free port and waits for
 * "Started flows".
 */
async function start(
  env: Record<string, string>,
  opts: { userDir?: string; args?: string[] } = {},
): Promise<Started> {
  const userDir = opts.userDir ?? mkdtempSync(path.join(os.tmpdir(), 'fw-start-'));
  if (!dirs.includes(userDir)) dirs.push(userDir);
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
    'FACEWATCH_ADMIN_PASSWORD',
  ])
    if (!(name in env)) delete childEnv[name];
  let log = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs'), ...(opts.args ?? [])], {
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

/** The generated password npm start prints on a first start. */
function printedPassword(log: string): string {
  const m =
    /^\s+login\s+user admin, password (\S+)\s+\(generated now and shown only this once; kept in (\S+)\)$/m.exec(
      log,
    );
  assert.ok(m, `npm start prints the generated password:\n${log}`);
  return m[1];
}

/** An admin token for `password` (the README's REST section), or the status that refused it. */
function token(s: Started, password: string): Promise<string> {
  return adminToken(s.url, 'admin', password);
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

/**
 * The editor's admin API and the Face Library's API refuse a caller without a token (and with a
 * wrong password), and answer one with the token of `password`.
 */
async function assertProtected(s: Started, password: string): Promise<string> {
  for (const route of ['/flows', '/nodes', '/settings', '/facewatch/api/faces', '/facewatch/api/stores'])
    assert.equal((await fetch(`${s.url}${route}`)).status, 401, `${route} without a token`);
  const wrong = await requestToken(s.url, 'admin', `${password}x`);
  assert.equal(wrong.status, 403, 'a wrong password gets no token (Node-RED answers 403)');
  const t = await token(s, password);
  for (const route of ['/facewatch/api/faces', '/facewatch/api/stores'])
    assert.equal(
      (await fetch(`${s.url}${route}`, { headers: bearer(t) })).status,
      200,
      `${route} with the token`,
    );
  return t;
}

/** The login file: mode 0600, and (for a password of the user's own) without the password. */
function assertLoginFile(s: Started, password: string, kept: boolean): void {
  const file = path.join(s.userDir, 'admin-auth.json');
  assert.equal(statSync(file).mode & 0o777, 0o600, 'admin-auth.json is mode 0600');
  const text = readFileSync(file, 'utf8');
  assert.equal(text.includes(password), kept, kept ? 'the generated password is kept' : 'your own is not');
  // Nowhere else in the user directory.
  for (const f of filesUnder(s.userDir))
    if (f !== file) assert.ok(!readFileSync(f).includes(password), `${f} holds the password`);
}

/** Every file under `dir` (not following links: node_modules links to the project). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) out.push(...filesUnder(full));
    else if (st.isFile()) out.push(full);
  }
  return out;
}

/** Node-RED's own log lines (npm start's header aside): they start with Node-RED's timestamp. */
function nodeRedLog(log: string): string {
  return log
    .split('\n')
    .filter((l) => /^\d{1,2} \w{3} \d{2}:\d{2}:\d{2} - /.test(l))
    .join('\n');
}

/**
 * The environment of the Node-RED process npm start runs: its child whose title is `node-red` (red.js
 * sets it; the demo camera's ffmpeg is the other child).
 */
function nodeRedPid(s: Started): string {
  const children = execFileSync('pgrep', ['-P', String(s.child.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('node-red'));
  assert.equal(children.length, 1, "Node-RED is found among npm start's children");
  return children[0];
}

function nodeRedEnvironment(s: Started): string {
  return readFileSync(`/proc/${nodeRedPid(s)}/environ`, 'utf8');
}

/**
 * npm start runs Node-RED with jemalloc where this machine has it, else glibc's malloc with two arenas
 * (scripts/allocator.mjs), and says which.
 */
function assertAllocator(s: Started): void {
  const expected = allocatorEnv(process.env);
  assert.match(
    s.log(),
    new RegExp(`^\\s+memory\\s+${expected.allocator === 'jemalloc' ? 'jemalloc' : "glibc's malloc"}`, 'm'),
  );
  const maps = readFileSync(`/proc/${nodeRedPid(s)}/maps`, 'utf8');
  assert.equal(
    /libjemalloc\.so/.test(maps),
    expected.allocator === 'jemalloc',
    'jemalloc is mapped in Node-RED exactly when chosen',
  );
  assert.match(nodeRedEnvironment(s), /(^|\0)MALLOC_ARENA_MAX=2(\0|$)/);
}

async function assertExampleFlowRuns(s: Started, t: string): Promise<void> {
  assert.match(s.log(), new RegExp(`Server now running at http://127.0.0.1:${s.port}/`));
  const res = await fetch(`${s.url}/flows`, { headers: bearer(t) });
  assert.equal(res.status, 200);
  const deployed = (await res.json()) as { id: string }[];
  assert.deepEqual(deployed.map((n) => n.id).sort(), EXAMPLE.map((n) => n.id).sort());
  const nodes = (await (
    await fetch(`${s.url}/nodes`, { headers: { accept: 'application/json', ...bearer(t) } })
  ).json()) as {
    module: string;
    types: string[];
    err?: string;
  }[];
  const ours = nodes.filter((n) => n.module === 'node-red-contrib-facewatch');
  assert.ok(ours.length > 0, 'FaceWatch nodes are installed');
  for (const set of ours) assert.equal(set.err, undefined, `${set.types.join(',')}: ${set.err}`);
}

/** The settings.js an npm start before the admin login wrote: no adminAuth. */
const OLD_SETTINGS = `// Generated by npm start. Edit freely: it is not overwritten.
// Host and port come from FACEWATCH_HOST / FACEWATCH_PORT (see the README's "Securing FaceWatch").
module.exports = {
  uiHost: process.env.FACEWATCH_HOST || '127.0.0.1',
  uiPort: Number(process.env.FACEWATCH_PORT || 1880),
  flowFile: 'flows.json',
  flowFilePretty: true,
  // adminAuth: { type: 'credentials', users: [{ username: 'admin', password: '<bcrypt hash>', permissions: '*' }] },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
  editorTheme: { projects: { enabled: false }, palette: { catalogues: [] }, tours: false, codeEditor: { lib: 'monaco' } },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
`;

describe('npm start', () => {
  it(
    'with no broker at the probed address: starts aedes, prints where everything is and the generated password once, protects the editor and the Face Library, and the demo camera (MJPEG over HTTP) shows unknown faces on facewatch/events',
    { skip: toolSkip(process.env.FFMPEG_PATH || 'ffmpeg') },
    async () => {
      const nothing = `mqtt://127.0.0.1:${await freePort()}`;
      const s = await start({ FACEWATCH_PROBE_MQTT_URL: nothing });
      let sub: mqtt.MqttClient | undefined;
      const clip = path.join(s.userDir, 'demo', 'camera.mkv');
      let password = '';
      let camera = '';
      try {
        password = printedPassword(s.log());
        assert.ok(password.length >= 20, 'a long generated password');
        const t = await assertProtected(s, password);
        assertLoginFile(s, password, true);
        assert.equal(s.log().split(password).length - 1, 1, 'the password is printed once');
        assert.ok(!nodeRedLog(s.log()).includes(password), "not in Node-RED's own log");
        assert.ok(nodeRedLog(s.log()).length > 0, "Node-RED's log lines are recognised");

        await assertExampleFlowRuns(s, t);
        assertAllocator(s);
        assert.equal(printed(s.log(), 'editor'), `${s.url}/`);
        assert.equal(printed(s.log(), 'Face Library'), `${s.url}/facewatch/`);
        const broker = printed(s.log(), 'MQTT broker');
        assert.match(broker, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
        assert.notEqual(broker, nothing);
        assert.match(s.log(), new RegExp(`embedded \\(aedes.*none answered at ${nothing}`));
        // The demo camera is a network camera on loopback: an MJPEG stream, as a cheap IP camera sends.
        camera = printed(s.log(), 'camera');
        assert.match(camera, /^http:\/\/127\.0\.0\.1:\d+\/video$/);
        assert.ok(existsSync(clip), `the demo clip is in the user dir: ${clip}`);
        assert.equal(pids(clip).length, 1, 'one ffmpeg serves the demo camera');
        const stream = new AbortController();
        const video = await fetch(camera, { signal: stream.signal });
        assert.equal(video.status, 200);
        assert.match(video.headers.get('content-type') ?? '', /^multipart\/x-mixed-replace; boundary=/);
        const reader = video.body!.getReader();
        const first = await reader.read();
        assert.match(Buffer.from(first.value!).toString('latin1'), /Content-Type: image\/jpeg/);
        stream.abort();
        const library = await fetch(`${s.url}/facewatch/`);
        assert.equal(
          library.status,
          200,
          'the printed Face Library address answers (its page asks for the login)',
        );

        // The embedded broker carries the demo camera's events: faces nobody has enrolled.
        sub = await mqtt.connectAsync(broker);
        const events: DetectionEvent[] = [];
        const discovery: string[] = [];
        sub.on('message', (topic, payload) => {
          if (topic === 'facewatch/events') events.push(JSON.parse(payload.toString()) as DetectionEvent);
          else if (topic.startsWith('homeassistant/')) discovery.push(topic);
        });
        await sub.subscribeAsync(['facewatch/events', 'homeassistant/#'], { qos: 1 });
        const event = await until('an event from the demo camera', () => events[0], 180000, 100);
        assert.equal(event.camera, 'cam1');
        assert.equal(event.known, false);
        assert.equal(event.person, null);
        assert.deepEqual(discovery, [], 'Home Assistant discovery is off in the demo');
        assert.doesNotMatch(s.log(), /\[error\]/, s.log());
        assert.doesNotMatch(s.log(), /\[warn\].*(face|facewatch)/i, s.log());
      } finally {
        await sub?.endAsync();
        await stopChild(s.child);
      }
      assert.ok(s.child.exitCode !== null || s.child.signalCode !== null, 'npm start ended');
      // The demo camera stopped with it.
      await assert.rejects(fetch(camera), 'the demo camera no longer answers');
      assert.deepEqual(pids(clip), [], "no demo camera's ffmpeg is left");

      // A later start says where the password is, never the password, and it still logs in.
      const again = await start({ FACEWATCH_PROBE_MQTT_URL: nothing }, { userDir: s.userDir });
      try {
        assert.ok(!again.log().includes(password), 'the password is not printed again');
        assert.match(
          again.log(),
          new RegExp(
            `^\\s+login\\s+user admin, password in ${path.join(s.userDir, 'admin-auth.json')}$`,
            'm',
          ),
        );
        await assertProtected(again, password);
        assertLoginFile(again, password, true);
      } finally {
        await stopChild(again.child);
      }
    },
  );

  it("uses the broker that answers at the probed address; FACEWATCH_ADMIN_PASSWORD's password logs in, also with an older npm start's settings.js", async (t) => {
    if (!existsSync(MOSQUITTO)) {
      if (IN_CI) throw new Error(`required under CI: mosquitto not found at ${MOSQUITTO}`);
      t.skip(`mosquitto not found at ${MOSQUITTO}`);
      return;
    }
    const broker = await startMosquitto();
    // A user directory from before the admin login: settings.js has no adminAuth.
    const userDir = mkdtempSync(path.join(os.tmpdir(), 'fw-start-'));
    mkdirSync(userDir, { recursive: true });
    writeFileSync(path.join(userDir, 'settings.js'), OLD_SETTINGS);
    const own = 'my-own-admin-pw-7c21';
    const s = await start(
      { FACEWATCH_PROBE_MQTT_URL: broker.url, FACEWATCH_ADMIN_PASSWORD: own },
      { userDir },
    );
    try {
      assert.equal(
        readFileSync(path.join(userDir, 'settings.js'), 'utf8'),
        OLD_SETTINGS,
        'settings.js is left as it is',
      );
      await assertProtected(s, own);
      assertLoginFile(s, own, false);
      assert.ok(!s.log().includes(own), 'your own password is printed nowhere');
      assert.match(
        s.log(),
        /^\s+login\s+user admin, your password \(FACEWATCH_ADMIN_PASSWORD; only its hash is kept/m,
      );
      const environment = nodeRedEnvironment(s);
      assert.match(environment, /FACEWATCH_PORT=/, "Node-RED's environment is read");
      assert.ok(!environment.includes(own), "not in Node-RED's environment");

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

  it('without ffmpeg: says how to install it, the camera says it has no address, and the photo demo works (logged in with --admin-password)', async () => {
    const own = 'flag-admin-pw-93d0';
    const s = await start(
      {
        FFMPEG_PATH: path.join(os.tmpdir(), 'no-such-dir', 'ffmpeg'),
        FACEWATCH_PROBE_MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
      },
      { args: ['--admin-password', own] },
    );
    const t = await assertProtected(s, own);
    assertLoginFile(s, own, false);
    assert.ok(!nodeRedLog(s.log()).includes(own), "not in Node-RED's own log");
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/comms`);
    try {
      assert.match(s.log(), /ffmpeg not found/);
      assert.match(s.log(), /apt-get install ffmpeg/);
      assert.equal(printed(s.log(), 'camera'), '-');
      const debug: { id: string; msg: string }[] = [];
      const status = new Map<string, { text?: string }>();
      let signedIn = false;
      ws.on('message', (data: Buffer) => {
        const parsed = JSON.parse(data.toString()) as { auth?: string } | { topic: string; data: unknown }[];
        // The answer to the sign-in is an object of its own; everything else comes in arrays.
        if (!Array.isArray(parsed)) {
          signedIn = parsed.auth === 'ok';
          return;
        }
        for (const m of parsed) {
          if (m.topic === 'debug') debug.push(m.data as { id: string; msg: string });
          else if (m.topic.startsWith('status/')) status.set(m.topic.slice(7), m.data as { text?: string });
        }
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      // The editor's websocket signs in with the token first, as the editor does.
      ws.send(JSON.stringify({ auth: t }));
      await until('the websocket to sign in', () => signedIn, 10000);
      ws.send(JSON.stringify({ subscribe: 'debug' }));
      ws.send(JSON.stringify({ subscribe: 'status/#' }));
      await until(
        'rtsp-source to say the camera has no address',
        () => status.get('fw.source')?.text === 'no camera address: FACEWATCH_CAMERA_URL is not set',
        30000,
      );
      assert.equal((await fetch(`${s.url}/inject/fw.in.detect`, { method: 'POST' })).status, 401);
      const res = await fetch(`${s.url}/inject/fw.in.detect`, { method: 'POST', headers: bearer(t) });
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
