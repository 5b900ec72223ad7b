/**
 * CameraStream against real parts: ffmpeg reading GStreamer's RTSP server on loopback (the Hamilton
 * clip, looped), a local file and an MJPEG stream over HTTP. No mock of ffmpeg or of the server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  CameraStream,
  type CameraConfig,
  type CameraFrame,
  type ConnectionEvent,
} from '../../lib/camera/stream';
import { PASSWORD, USER, cameraSkip, passwordForms, pids } from '../helpers/camera';
import { toolSkip } from '../helpers/env';
import { CLIP, alive, startRtspServer, type RtspServer } from '../helpers/rtsp';
import { until as waitFor } from '../helpers/wait';

const until = <T>(what: string, check: () => T | undefined | false, ms = 20000): Promise<T> =>
  waitFor(what, check, ms, 50);

/** The clip's first frame as a JPEG, as a camera's HTTP server would send it. */
function clipJpeg(): Buffer {
  return execFileSync(process.env.FFMPEG_PATH || 'ffmpeg', [
    '-v',
    'error',
    '-i',
    CLIP,
    '-frames:v',
    '1',
    '-f',
    'mjpeg',
    'pipe:1',
  ]);
}

/** Records everything a stream says. */
function record(stream: CameraStream) {
  const frames: CameraFrame[] = [];
  const events: ConnectionEvent[] = [];
  const logs: string[] = [];
  stream.on('frame', (f) => frames.push(f));
  stream.on('state', (e) => events.push(e));
  stream.on('log', (l) => logs.push(l));
  return { frames, events, logs };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('CameraStream over RTSP', { skip: cameraSkip() }, () => {
  let open: RtspServer;
  let secured: RtspServer;
  const streams: CameraStream[] = [];
  const camera = (c: Partial<CameraConfig>): CameraStream => {
    const s = new CameraStream({
      name: 'hall',
      url: open.url,
      fps: 2,
      width: 320,
      retryDelayMs: 300,
      stopGraceMs: 500,
      ...c,
    });
    streams.push(s);
    return s;
  };

  before(async () => {
    open = await startRtspServer();
    secured = await startRtspServer({ user: USER, password: PASSWORD });
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.stop()));
    await open?.stop();
    await secured?.stop();
  });

  for (const transport of ['tcp', 'udp'] as const) {
    it(`delivers frames at the configured rate and size (${transport}, with a password that needs encoding)`, async () => {
      const s = camera({ url: secured.url, username: USER, password: PASSWORD, transport });
      const r = record(s);
      s.start();
      await until('6 frames', () => r.frames.length >= 6);
      await s.stop();
      const connected = r.events.find((e) => e.state === 'connected');
      assert.deepEqual(
        [connected?.width, connected?.height, connected?.codec],
        [320, 180, 'h264'],
        JSON.stringify(r.events),
      );
      assert.ok(Math.abs((connected?.fps ?? 0) - 29.97) < 0.1);
      for (const f of r.frames) {
        assert.deepEqual([f.width, f.height, f.channels, f.camera], [320, 180, 3, 'hall']);
        assert.equal(f.data.length, 320 * 180 * 3);
      }
      assert.deepEqual(
        r.frames.map((f) => f.seq),
        r.frames.map((_, i) => i + 1),
      );
      // 2 frames per second of the camera's time: the frames come about 0.5 s apart (first ones aside).
      const gaps = r.frames.slice(3).map((f, i) => f.ts - r.frames[i + 2].ts);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      assert.ok(mean > 250 && mean < 1000, `mean gap ${mean} ms`);
      assert.equal(r.events.at(-1)?.state, 'stopped');
      // No pixel is all zero: real pictures, cut at frame boundaries.
      assert.ok(r.frames.every((f) => f.data.some((v) => v > 16)));
    });
  }

  it('says why it cannot connect: wrong password, wrong path, closed port; never the password', async () => {
    const port = await closedPort();
    const cases: Array<[Partial<CameraConfig>, RegExp]> = [
      [{ url: secured.url, username: USER, password: 'wrong' + PASSWORD }, /wrong user or password \(401/],
      [
        { url: secured.url.replace('/clip', '/nope'), username: USER, password: PASSWORD },
        /no such stream.*404/,
      ],
      [{ url: `rtsp://127.0.0.1:${port}/clip`, username: USER, password: PASSWORD }, /connection refused/],
    ];
    for (const [config, reason] of cases) {
      const s = camera({ ...config, maxAttempts: 2 });
      const r = record(s);
      s.start();
      const failed = await until('a disconnected event', () =>
        r.events.find((e) => e.state === 'disconnected'),
      );
      assert.match(failed.reason ?? '', reason);
      assert.equal(failed.attempt, 1);
      assert.ok((failed.retryIn ?? 0) > 0);
      await until('giving up', () => r.events.find((e) => e.state === 'stopped'));
      await s.stop();
      const everything = JSON.stringify([r.events, r.logs]);
      for (const form of passwordForms(USER, PASSWORD))
        assert.ok(!everything.includes(form), `${form} leaked: ${everything}`);
      assert.equal(r.frames.length, 0);
    }
  });

  it('reconnects after the server dies and picks it up again when it comes back', async () => {
    const server = await startRtspServer();
    const s = camera({ url: server.url });
    const r = record(s);
    s.start();
    await until('frames', () => r.frames.length >= 2);
    await server.kill();
    await until('disconnected', () => r.events.find((e) => e.state === 'disconnected'));
    assert.ok(s.running, 'still trying');
    const before = r.frames.length;
    const back = await startRtspServer({ port: server.port });
    try {
      await until('frames again', () => r.frames.length >= before + 2, 30000);
      const states = r.events.map((e) => e.state);
      assert.equal(states.filter((x) => x === 'connected').length, 2, states.join(','));
    } finally {
      await s.stop();
      await back.stop();
    }
  });

  it('restarts a stream that stalls, and leaves no ffmpeg behind when the server is frozen', async (t: TestContext) => {
    const server = await startRtspServer();
    const s = camera({ url: server.url, stallTimeout: 2, socketTimeout: 30 });
    const r = record(s);
    s.start();
    await until('frames', () => r.frames.length >= 2);
    const pid = s.pid!;
    server.freeze();
    try {
      const stalled = await until('a stall', () =>
        r.events.find((e) => e.state === 'disconnected' && /no frame for 2 s/.test(e.reason ?? '')),
      );
      t.diagnostic(`stall reported: ${JSON.stringify(stalled)}`);
      assert.ok(!alive(pid), 'the stalled ffmpeg was stopped');
      // Reconnecting to a frozen server: an ffmpeg blocked on it is killed on stop.
      await until('a new ffmpeg', () => s.pid !== undefined && s.pid !== pid && s.pid);
      const again = s.pid!;
      await s.stop();
      assert.ok(!alive(again), 'no ffmpeg left after stop');
      assert.equal(s.pid, undefined);
    } finally {
      await server.stop();
    }
  });

  it('runs one ffmpeg per stream, and none is left after stop', async () => {
    const marker = `fw-marker-${process.pid}`;
    const s = camera({ url: `${open.url}?${marker}=1` });
    const r = record(s);
    s.start();
    s.start();
    await until('frames', () => r.frames.length >= 2);
    assert.equal(pids(marker).length, 1);
    await s.stop();
    assert.deepEqual(pids(marker), []);
  });
});

describe('CameraStream from a file and over HTTP', { skip: toolSkip('ffmpeg') }, () => {
  it('plays a local file in a loop at its native rate', async () => {
    const s = new CameraStream({
      name: 'demo',
      url: CLIP,
      source: 'file',
      fps: 5,
      width: 0,
      stopGraceMs: 500,
    });
    const r = record(s);
    s.start();
    try {
      // The clip lasts 10 s: at 5 frames/s, 55 frames means it looped and went on.
      await until('55 frames', () => r.frames.length >= 55, 30000);
      const first = r.frames[0];
      const last = r.frames.at(-1)!;
      assert.deepEqual([first.width, first.height], [640, 360]);
      // Native rate: 54 frames at 5 per second take about 10.8 s, not the fraction of it decoding needs.
      assert.ok(last.ts - first.ts > 8000, `${last.ts - first.ts} ms`);
      assert.equal(r.events.filter((e) => e.state === 'connected').length, 1);
    } finally {
      await s.stop();
    }
  });

  it('sends the full picture of each frame beside it, for a camera wider than its frames', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-full-'));
    const file = path.join(dir, 'wide.mp4');
    // 1280x720 at 25 frames/s, moving: frames half a second apart differ.
    execFileSync(process.env.FFMPEG_PATH || 'ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=25',
      '-t',
      '4',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
    const grab = async (c: Partial<CameraConfig>, n: number): Promise<CameraFrame[]> => {
      const s = new CameraStream({
        name: 'wide',
        url: file,
        source: 'file',
        fps: 2,
        width: 320,
        stopGraceMs: 500,
        ...c,
      });
      const r = record(s);
      s.start();
      try {
        await until(`${n} frames`, () => r.frames.length >= n, 30000);
      } finally {
        await s.stop();
      }
      return r.frames;
    };
    try {
      const frames = await grab({}, 5);
      /** Mean absolute difference of a frame and a picture scaled down to it. */
      const diff = async (f: CameraFrame, jpeg: Buffer): Promise<number> => {
        const small = await sharp(jpeg)
          .resize(f.width, f.height, { kernel: 'linear' })
          .removeAlpha()
          .raw()
          .toBuffer();
        let sum = 0;
        for (let i = 0; i < small.length; i++) sum += Math.abs(small[i] - f.data[i]);
        return sum / small.length;
      };
      for (const [i, f] of frames.slice(0, 5).entries()) {
        assert.deepEqual([f.width, f.height], [320, 180]);
        assert.ok(f.full, `frame ${i + 1} has its full picture`);
        const meta = await sharp(f.full).metadata();
        assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 1280, 720]);
        // The same moment: closer to its own frame than to the next one's.
        if (i < 4) {
          const own = await diff(f, f.full);
          const next = await diff(frames[i + 1], f.full);
          assert.ok(
            own < 6 && own < next / 2,
            `frame ${i + 1}: ${own.toFixed(1)} own, ${next.toFixed(1)} next`,
          );
        }
      }
      for (const f of await grab({ describeFrom: 'frame' }, 3)) assert.equal(f.full, undefined);
      // A camera no wider than the frames: the frame is the full picture.
      for (const f of await grab({ width: 1280 }, 3)) assert.equal(f.full, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads an MJPEG stream over HTTP', async () => {
    const jpeg = clipJpeg();
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
      const timer = setInterval(() => {
        res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
        res.write(jpeg);
        res.write('\r\n');
      }, 100);
      req.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const s = new CameraStream({
      name: 'mjpeg',
      url: `http://127.0.0.1:${port}/video`,
      fps: 2,
      width: 320,
      stopGraceMs: 500,
    });
    const r = record(s);
    s.start();
    try {
      await until('frames', () => r.frames.length >= 3);
      assert.deepEqual([r.frames[0].width, r.frames[0].height], [320, 180]);
      assert.equal(r.events.find((e) => e.state === 'connected')?.codec, 'mjpeg');
    } finally {
      await s.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('polls a snapshot URL at the frame rate, with Basic authentication', async () => {
    const jpeg = clipJpeg();
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    let requests = 0;
    const server = http.createServer((req, res) => {
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"' });
        res.end();
        return;
      }
      requests++;
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
      res.end(jpeg);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const s = new CameraStream({
      name: 'door',
      url: `http://127.0.0.1:${port}/cgi-bin/snapshot.cgi?channel=1`,
      username: USER,
      password: PASSWORD,
      fps: 2,
      width: 320,
      stopGraceMs: 500,
    });
    const r = record(s);
    s.start();
    try {
      await until('5 frames', () => r.frames.length >= 5);
      const first = r.frames[0];
      const last = r.frames.at(-1)!;
      assert.deepEqual([first.width, first.height], [320, 180]);
      // At 2 frames per second, not as fast as the server answers.
      assert.ok(last.ts - first.ts > 1500, `${last.ts - first.ts} ms for ${r.frames.length} frames`);
      // ffmpeg reads a few pictures ahead while it probes the stream, then one per frame.
      assert.ok(requests >= r.frames.length && requests <= 2 * r.frames.length + 6, `${requests} requests`);
      const everything = JSON.stringify([r.events, r.logs]);
      for (const form of passwordForms(USER, PASSWORD)) assert.ok(!everything.includes(form), form);
    } finally {
      await s.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('refuses an unsupported scheme and a bad URL at once', () => {
    assert.throws(
      () => new CameraStream({ name: 'x', url: 'ftp://cam/stream' }),
      /unsupported camera address scheme "ftp:"/,
    );
    assert.throws(() => new CameraStream({ name: 'x', url: '' }), /no camera address/);
    assert.throws(() => new CameraStream({ name: 'x', url: 'rtsp://' }), /invalid camera URL/);
    assert.throws(() => new CameraStream({ name: 'x', url: CLIP }), /not a network camera address/);
  });
});
