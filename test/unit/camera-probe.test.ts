/** Test connection (probeCamera) against GStreamer's RTSP server on loopback, a file and a closed port. */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { probeCamera } from '../../lib/camera/probe';
import { encodeUserinfo } from '../../lib/camera/url';
import { PASSWORD, USER, cameraSkip, pids, selfSigned } from '../helpers/camera';
import { ROOT } from '../helpers/env';
import { CLIP, startRtspServer, type RtspServer } from '../helpers/rtsp';

describe('Test connection', { skip: cameraSkip('ffprobe') }, () => {
  let server: RtspServer;
  before(async () => {
    server = await startRtspServer({ user: USER, password: PASSWORD });
  });
  after(async () => {
    await server?.stop();
  });

  it('reads one frame and answers with resolution, codec and frame rate', async () => {
    for (const transport of ['tcp', 'udp'] as const) {
      const r = await probeCamera({
        name: 'x',
        url: server.url,
        username: USER,
        password: PASSWORD,
        transport,
      });
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual([r.width, r.height, r.codec, r.fps], [640, 360, 'h264', 29.97]);
    }
    const file = await probeCamera({ name: 'x', url: CLIP, source: 'file' });
    assert.ok(file.ok && file.width === 640, JSON.stringify(file));
  });

  it('says why it failed, in words, without any form of the password', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as net.AddressInfo;
    await new Promise<void>((r) => srv.close(() => r()));
    const cases: Array<[Parameters<typeof probeCamera>[0], string, RegExp]> = [
      [
        { name: 'x', url: server.url, username: USER, password: `x${PASSWORD}` },
        'unauthorized',
        /wrong user or password \(401/,
      ],
      [{ name: 'x', url: server.url, username: USER }, 'unauthorized', /401/],
      [
        { name: 'x', url: server.url.replace('clip', 'nope'), username: USER, password: PASSWORD },
        'not-found',
        /404/,
      ],
      [
        { name: 'x', url: `rtsp://127.0.0.1:${port}/clip`, username: USER, password: PASSWORD },
        'refused',
        /connection refused/,
      ],
      [{ name: 'x', url: path.join(ROOT, 'README.md'), source: 'file' }, 'not-video', /not a video stream/],
      [{ name: 'x', url: path.join(ROOT, 'no-such-file.mp4'), source: 'file' }, 'no-file', /no such file/],
      [{ name: 'x', url: 'gopher://cam' }, 'error', /unsupported camera address scheme/],
    ];
    for (const [camera, kind, reason] of cases) {
      const r = await probeCamera(camera);
      assert.ok(!r.ok, JSON.stringify(r));
      assert.equal(r.kind, kind, JSON.stringify(r));
      assert.match(r.reason, reason);
      const text = JSON.stringify(r);
      for (const form of [PASSWORD, encodeUserinfo(PASSWORD), encodeURIComponent(PASSWORD)])
        assert.ok(!text.includes(form), text);
    }
  });

  it('reads an RTSPS camera (RTSP over TLS) with only tls and tcp allowed', async () => {
    // A TLS front for the RTSP server, as a camera with RTSPS has: ffmpeg sends RTSPS over TCP only.
    const { key, cert } = selfSigned();
    const front = tls.createServer({ key, cert }, (socket) => {
      const back = net.connect(server.port, '127.0.0.1');
      socket.pipe(back).pipe(socket);
      const end = (): void => {
        socket.destroy();
        back.destroy();
      };
      socket.on('error', end).on('close', end);
      back.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const { port } = front.address() as net.AddressInfo;
    try {
      for (const transport of ['tcp', 'udp'] as const) {
        const r = await probeCamera({
          name: 'x',
          url: server.url.replace(/^rtsp:\/\/127\.0\.0\.1:\d+/, `rtsps://127.0.0.1:${port}`),
          username: USER,
          password: PASSWORD,
          transport,
        });
        assert.ok(r.ok && r.width === 640 && r.codec === 'h264', `${transport}: ${JSON.stringify(r)}`);
      }
    } finally {
      await new Promise<void>((r) => front.close(() => r()));
    }
  });

  it('gives up on a camera that hangs at its deadline, leaving no probe behind', async () => {
    const frozen = await startRtspServer();
    frozen.freeze();
    try {
      const marker = `${frozen.url}`;
      const r = await probeCamera({ name: 'x', url: marker, socketTimeout: 30 }, 2000);
      assert.ok(!r.ok);
      assert.equal(r.kind, 'timeout');
      assert.ok(r.elapsedMs < 5000);
      assert.deepEqual(pids(marker), []);
    } finally {
      await frozen.stop();
    }
  });
});
