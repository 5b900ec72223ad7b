/**
 * face-camera and rtsp-source in a real Node-RED runtime, reading GStreamer's RTSP server on loopback:
 * frames, connection events, commands, one ffmpeg per camera, nothing left behind, no password anywhere,
 * Test connection through the admin route, and the clip recognised end to end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { encodeUserinfo } from '../../lib/camera/url';
import type { DetectedFace } from '../../lib/types';
import { PASSWORD, USER, cameraSkip, passwordForms, pids } from '../helpers/camera';
import { fixturePath } from '../helpers/env';
import {
  builtNode,
  collect,
  helper,
  nextMessage,
  startServer,
  stopServer,
  type TestNode,
} from '../helpers/red';
import { PIPELINE_NODES } from '../helpers/pipeline';
import { CLIP, startRtspServer, type RtspServer } from '../helpers/rtsp';
import { until as waitFor } from '../helpers/wait';

const until = (what: string, check: () => boolean, ms = 30000): Promise<boolean> =>
  waitFor(what, check, ms, 50);

const nodes = ['face-camera', 'rtsp-source', ...PIPELINE_NODES].map(builtNode);

interface FrameMsg {
  topic: string;
  frame: {
    data: Uint8Array;
    width: number;
    height: number;
    channels: number;
    camera: string;
    seq: number;
    ts: number;
  };
  payload: Record<string, unknown>;
}
interface EventMsg {
  topic: string;
  payload: {
    state: string;
    camera: string;
    reason?: string;
    attempt?: number;
    retryIn?: number;
    width?: number;
  };
}

function statuses(node: TestNode): Array<{ text?: string; fill?: string }> {
  const seen: Array<{ text?: string; fill?: string }> = [];
  node.on('call:status', (call: { args: Array<{ text?: string; fill?: string }> }) =>
    seen.push(call.args[0]),
  );
  return seen;
}

describe('face-camera and rtsp-source in a flow', { skip: cameraSkip() }, () => {
  let server: RtspServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-flow-camera-'));
    server = await startRtspServer({ user: USER, password: PASSWORD });
    await startServer();
  });
  after(async () => {
    await stopServer();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => helper.unload());

  const camera = (url: string, extra: Record<string, unknown> = {}): object => ({
    id: 'cam',
    type: 'face-camera',
    name: 'hall',
    url,
    transport: 'tcp',
    fps: 2,
    width: 320,
    stallTimeout: 20,
    maxAttempts: 0,
    ...extra,
  });
  const source = (id: string, extra: Record<string, unknown> = {}): object => ({
    id,
    type: 'rtsp-source',
    camera: 'cam',
    autoStart: true,
    wires: [[`${id}-frames`], [`${id}-events`]],
    ...extra,
  });
  const sinks = (id: string): object[] => [
    { id: `${id}-frames`, type: 'helper' },
    { id: `${id}-events`, type: 'helper' },
  ];
  const creds = { cam: { username: USER, password: PASSWORD } };

  it('sends frames and connection events; two sources share one ffmpeg; none is left after the flow stops', async () => {
    const marker = `fwflow${process.pid}a`;
    await helper.load(
      nodes,
      [camera(`${server.url}?${marker}=1`), source('s1'), ...sinks('s1'), source('s2'), ...sinks('s2')],
      creds,
    );
    const seen = statuses(helper.getNode('s1'));
    const events = collect<EventMsg>(helper.getNode('s1-events'), 2);
    const frames = await collect<FrameMsg>(helper.getNode('s1-frames'), 4);
    const other = await collect<FrameMsg>(helper.getNode('s2-frames'), 2);
    assert.deepEqual(
      (await events).map((e) => e.payload.state),
      ['connecting', 'connected'],
    );
    const connected = (await events)[1];
    assert.deepEqual(
      [connected.topic, connected.payload.camera, connected.payload.width],
      ['hall', 'hall', 320],
    );
    for (const m of [...frames, ...other]) {
      assert.equal(m.topic, 'hall');
      const { data, width, height, channels, camera: cam, seq, ts } = m.frame;
      assert.deepEqual([width, height, channels, cam], [320, 180, 3, 'hall']);
      assert.equal(data.length, 320 * 180 * 3);
      assert.ok(seq >= 1 && ts > Date.now() - 60000);
      assert.deepEqual(m.payload, { camera: 'hall', seq, ts, width, height });
    }
    assert.equal(pids(marker).length, 1, 'one ffmpeg for two rtsp-source nodes');
    await until('a streaming status', () =>
      seen.some((s) => /streaming/.test(s.text ?? '') && s.fill === 'green'),
    );
    await helper.unload();
    assert.deepEqual(pids(marker), [], 'no ffmpeg after the flow stopped');
  });

  it('obeys stop, start and restart, and refuses other commands', async () => {
    const marker = `fwflow${process.pid}b`;
    await helper.load(
      nodes,
      [
        camera(`${server.url}?${marker}=1`),
        source('s1', { autoStart: false }),
        ...sinks('s1'),
        { id: 'c', type: 'catch', scope: ['s1'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ],
      creds,
    );
    const s1 = helper.getNode('s1');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(pids(marker), [], 'autoStart off: nothing runs');
    const first = nextMessage<FrameMsg>(helper.getNode('s1-frames'));
    s1.receive({ payload: 'start' });
    await first;
    const events: EventMsg[] = [];
    helper.getNode('s1-events').on('input', (m: EventMsg) => events.push(m));
    s1.receive({ payload: 'restart' });
    await until(
      'a reconnect after restart',
      () => events.filter((e) => e.payload.state === 'connected').length >= 1,
    );
    assert.ok(
      events.some((e) => e.payload.state === 'stopped'),
      JSON.stringify(events),
    );
    s1.receive({ payload: 'stop' });
    await until('stopped', () => events.at(-1)?.payload.state === 'stopped');
    await until('ffmpeg gone', () => pids(marker).length === 0, 10000);
    const caught = nextMessage<{ error: { message: string } }>(helper.getNode('caught'));
    s1.receive({ payload: 'dance' });
    assert.match((await caught).error.message, /msg.payload must be "start", "stop" or "restart"/);
  });

  it('says why a camera fails, keeps trying, and never shows the password', async () => {
    await helper.load(nodes, [camera(server.url), source('s1'), ...sinks('s1')], {
      cam: { username: USER, password: `wrong-${PASSWORD}` },
    });
    const seen = statuses(helper.getNode('s1'));
    const events: EventMsg[] = [];
    helper.getNode('s1-events').on('input', (m: EventMsg) => events.push(m));
    await until(
      'two failed attempts',
      () => events.filter((e) => e.payload.state === 'disconnected').length >= 2,
    );
    const failed = events.find((e) => e.payload.state === 'disconnected')!;
    assert.match(failed.payload.reason ?? '', /wrong user or password \(401 Unauthorized\)/);
    assert.equal(failed.payload.attempt, 1);
    await until('a reconnecting status', () =>
      seen.some((s) => /reconnecting.*attempt/.test(s.text ?? '') && s.fill === 'yellow'),
    );
    const everything = JSON.stringify([events, seen, helper.log().args]);
    for (const form of [
      ...passwordForms(USER, PASSWORD),
      `wrong-${PASSWORD}`,
      encodeUserinfo(`wrong-${PASSWORD}`),
    ])
      assert.ok(!everything.includes(form), `${form} leaked`);
  });

  it('reports a bad URL at deploy, and substitutes ${ENV_VAR} in the URL', async () => {
    await helper.load(nodes, [camera('ftp://camera.local/stream'), source('s1'), ...sinks('s1')]);
    const seen = statuses(helper.getNode('s1'));
    helper.getNode('s1').receive({ payload: 'restart' });
    await until('an error status', () =>
      seen.some((s) => /unsupported camera address scheme "ftp:"/.test(s.text ?? '')),
    );
    await helper.unload();

    process.env.FW_TEST_CAMERA_PORT = String(server.port);
    try {
      await helper.load(
        nodes,
        [camera('rtsp://127.0.0.1:${FW_TEST_CAMERA_PORT}/clip'), source('s1'), ...sinks('s1')],
        creds,
      );
      const frame = await nextMessage<FrameMsg>(helper.getNode('s1-frames'));
      assert.equal(frame.frame.width, 320);
    } finally {
      delete process.env.FW_TEST_CAMERA_PORT;
    }
  });

  it('refuses at deploy a URL that is not of its source, and plays a file only as a file camera', async () => {
    const problems = (): string[] =>
      helper
        .log()
        .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
        .filter((e) => e.type === 'face-camera')
        .map((e) => String(e.msg));
    // A path on a network camera (the default source) was read as a file before the source setting.
    for (const url of [CLIP, '-report', `concat:${CLIP}|${CLIP}`, '/dev/video0']) {
      await helper.load(nodes, [
        camera(url, { source: 'network', version: 2 }),
        source('s1'),
        ...sinks('s1'),
      ]);
      const seen = statuses(helper.getNode('s1'));
      const frames: unknown[] = [];
      helper.getNode('s1-frames').on('input', (m: unknown) => frames.push(m));
      helper.getNode('s1').receive({ payload: 'restart' });
      await until(`an error status for ${url}`, () =>
        seen.some(
          (s) =>
            /not a network camera address|unsupported camera address scheme/.test(s.text ?? '') &&
            s.fill === 'red',
        ),
      );
      assert.ok(
        problems().some((m) =>
          /camera "hall": .*(not a network camera address|unsupported camera address scheme)/.test(m),
        ),
        JSON.stringify(problems()),
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(frames.length, 0, `${url} must not play`);
      await helper.unload();
    }
    // The same file as a file camera plays; a device camera takes only /dev/videoN.
    await helper.load(nodes, [camera(CLIP, { source: 'file', version: 2 }), source('s1'), ...sinks('s1')]);
    assert.equal((await nextMessage<FrameMsg>(helper.getNode('s1-frames'))).frame.width, 320);
    await helper.unload();
    await helper.load(nodes, [camera(CLIP, { source: 'device', version: 2 }), source('s1'), ...sinks('s1')]);
    const seen = statuses(helper.getNode('s1'));
    helper.getNode('s1').receive({ payload: 'restart' });
    await until('a device error', () => seen.some((s) => /not a video device: /.test(s.text ?? '')));
  });

  it('plays a file camera saved before the source setting, and says its source was set to file', async () => {
    await helper.load(nodes, [camera(CLIP, { version: 1 }), source('s1'), ...sinks('s1')]);
    assert.equal((await nextMessage<FrameMsg>(helper.getNode('s1-frames'))).frame.width, 320);
    const warnings = helper
      .log()
      .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
      .filter((e) => e.type === 'face-camera' && /settings upgraded/.test(String(e.msg)));
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(
      String(warnings[0].msg),
      /from version 1 to 3: .*local video file: its source is now set to "file"/,
    );
  });

  it('refuses a reserved camera name at deploy', async () => {
    for (const name of ['__proto__', 'constructor', ' Prototype ']) {
      await helper.load(nodes, [camera(server.url, { name }), source('s1'), ...sinks('s1')], creds);
      const seen = statuses(helper.getNode('s1'));
      helper.getNode('s1').receive({ payload: 'restart' });
      await until(`an error status for ${name}`, () =>
        seen.some((s) => /camera name ".*" is reserved/.test(s.text ?? '') && s.fill === 'red'),
      );
      const errors = helper
        .log()
        .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
        .filter((e) => e.type === 'face-camera' && /is reserved/.test(String(e.msg)));
      assert.ok(errors.length >= 1, name);
      assert.match(
        String(errors[0].msg),
        /camera "cam": camera name ".*" is reserved \(__proto__, constructor, prototype cannot be used\): choose another/,
      );
      await helper.unload();
    }
  });

  it('says in its status that ffmpeg is missing, while the other nodes keep working', async () => {
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
    try {
      await helper.load(
        nodes,
        [
          camera(server.url),
          source('s1', { autoStart: false }),
          ...sinks('s1'),
          { id: 'st', type: 'face-store', file: path.join(dir, 'no-ffmpeg.db'), backups: 0 },
          { id: 'reg', type: 'face-register', store: 'st', wires: [['regOut']] },
          { id: 'regOut', type: 'helper' },
        ],
        creds,
      );
      const seen = statuses(helper.getNode('s1'));
      helper.getNode('s1').receive({ payload: 'start' });
      await until('the status', () =>
        seen.some((s) => /^ffmpeg not found: install it or set FFMPEG_PATH/.test(s.text ?? '')),
      );
      const listed = nextMessage<{ payload: unknown[] }>(helper.getNode('regOut'));
      helper.getNode('reg').receive({ topic: 'list' });
      assert.deepEqual((await listed).payload, []);
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
    }
  });

  it('leaves no ffmpeg behind when the camera froze just before the flow stopped', async () => {
    const frozen = await startRtspServer();
    const marker = `fwflow${process.pid}c`;
    try {
      await helper.load(nodes, [camera(`${frozen.url}?${marker}=1`), source('s1'), ...sinks('s1')]);
      await collect(helper.getNode('s1-frames'), 2);
      frozen.freeze();
      const started = Date.now();
      await helper.unload();
      assert.ok(Date.now() - started < 15000, 'closed within Node-RED close timeout');
      assert.deepEqual(pids(marker), []);
    } finally {
      await frozen.stop();
    }
  });

  it('tests a connection through the admin route, with the stored password of a deployed camera', async () => {
    await helper.load(nodes, [camera(server.url), source('s1', { autoStart: false }), ...sinks('s1')], creds);
    const ok = await helper
      .request()
      .post('/facewatch/camera/test')
      .send({ id: 'cam', url: server.url, username: USER, password: '__PWRD__' });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(
      [
        (ok.body as { ok: boolean }).ok,
        (ok.body as { width: number }).width,
        (ok.body as { codec: string }).codec,
      ],
      [true, 640, 'h264'],
    );
    const bad = await helper
      .request()
      .post('/facewatch/camera/test')
      .send({ url: server.url, username: USER, password: `x${PASSWORD}` });
    assert.equal(bad.status, 200);
    assert.match((bad.body as { reason: string }).reason, /wrong user or password/);
    for (const form of passwordForms(USER, PASSWORD)) assert.ok(!bad.text.includes(form), bad.text);
    const missing = await helper.request().post('/facewatch/camera/test').send({});
    assert.equal(missing.status, 400);
  });

  it('names Lin-Manuel Miranda in the clip served over RTSP: rtsp-source → face-detect → face-match', async (t) => {
    const clipServer = await startRtspServer();
    try {
      await helper.load(nodes, [
        camera(clipServer.url, { fps: 5, width: 640 }),
        { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 2, detector: 'ssd', minConfidence: 0.3 },
        { id: 'st', type: 'face-store', file: path.join(dir, 'faces.db'), backups: 1 },
        { id: 'reg', type: 'face-register', store: 'st', engine: 'eng', wires: [['regOut']] },
        { id: 'regOut', type: 'helper' },
        source('s1', { autoStart: false, wires: [['fd'], ['s1-events']] }),
        { id: 's1-events', type: 'helper' },
        {
          id: 'fd',
          type: 'face-detect',
          engine: 'eng',
          descriptors: true,
          keepImage: 'never',
          // Recognition on every frame of his stretch is what this test measures; the gate has its own.
          motion: 'off',
          wires: [['fm']],
        },
        { id: 'fm', type: 'face-match', store: 'st', wires: [['matched', 'log']] },
        { id: 'log', type: 'detection-log', store: 'st', cooldown: 3, snapshots: false, wires: [['events']] },
        { id: 'events', type: 'helper' },
        { id: 'matched', type: 'helper' },
      ]);
      const enrolled = nextMessage<{ payload: { status: string } }>(helper.getNode('regOut'), 120000);
      helper.getNode('reg').receive({
        topic: 'register',
        payload: readFileSync(fixturePath('face_recognition', 'examples', 'lin-manuel-miranda.png')),
        filename: 'lin-manuel-miranda.png',
        person: { name: 'Lin-Manuel Miranda' },
      });
      assert.equal((await enrolled).payload.status, 'enrolled');
      const results: Array<{ t: number; names: string[] }> = [];
      helper.getNode('matched').on('input', (m: { frame: { seq: number }; faces: DetectedFace[] }) => {
        // The server plays the clip from its start for this client: frame n is at (n - 1) / 5 s.
        const t = ((m.frame.seq - 1) / 5) % 10.008;
        results.push({ t, names: m.faces.filter((f) => f.match?.known).map((f) => f.match!.person!.name) });
      });
      const events: Array<{ event: { known: boolean; person: { name: string } | null; camera: string } }> =
        [];
      helper.getNode('events').on('input', (m: (typeof events)[number]) => events.push(m));
      helper.getNode('s1').receive({ payload: 'start' });
      await until('one pass of the clip', () => results.some((r) => r.t > 9.2), 90000);
      t.diagnostic(results.map((r) => `${r.t.toFixed(1)}:${r.names.length}`).join(' '));
      // The server starts playing before the first frame reaches us, so the clip runs up to 1 s ahead of
      // `t` (measured: about 0.6 s): the windows below allow for that.
      const lead = 1;
      const named = results.filter((r) => r.names.includes('Lin-Manuel Miranda'));
      const stretch = results.filter((r) => r.t >= 3.6 && r.t <= 7.9 - lead);
      assert.ok(
        stretch.length >= 5,
        `only ${stretch.length} frames of the near-frontal stretch were processed`,
      );
      const namedInStretch = stretch.filter((r) => r.names.includes('Lin-Manuel Miranda')).length;
      assert.ok(
        namedInStretch >= stretch.length / 2,
        `named in ${namedInStretch} of ${stretch.length} frames`,
      );
      t.diagnostic(
        `named in ${named.length} of ${results.length} frames, ${namedInStretch} of ${stretch.length} in his stretch`,
      );
      for (const r of results) {
        // Nobody else is named, and he is not named on the close-up of another man nor on the audience.
        assert.ok(
          r.names.every((n) => n === 'Lin-Manuel Miranda'),
          JSON.stringify(r),
        );
        const closeUp = r.t >= 1.51 && r.t <= 3.58 - lead;
        const audience = r.t >= 7.88 && r.t <= 10 - lead;
        assert.ok(!(r.names.length && (closeUp || audience)), `named at ${r.t.toFixed(2)} s`);
      }
      // detection-log turns this into events that name him and nobody else.
      const eventNames = events.filter((m) => m.event.known).map((m) => m.event.person?.name);
      t.diagnostic(`events: ${events.length}, named: ${JSON.stringify(eventNames)}`);
      assert.ok(eventNames.includes('Lin-Manuel Miranda'), JSON.stringify(events.map((m) => m.event)));
      assert.ok(eventNames.every((n) => n === 'Lin-Manuel Miranda'));
      assert.ok(events.every((m) => m.event.camera === 'hall'));
    } finally {
      await helper.unload();
      await clipServer.stop();
    }
  });
});
