/**
 * Camera URLs are camera URLs: a face-camera's source (network, file, device) decides which addresses
 * it takes, the address always follows ffmpeg's `-i`, and ffmpeg may open only the protocols its
 * scheme needs. Checked with the real ffprobe and ffmpeg against hostile addresses (`-report`, which
 * writes a log file; `subfile,…:`, `concat:`, `data:`, local paths on a network camera) and a hostile
 * HTTP camera (a redirect to a local file, to HTTPS, an HLS playlist with an HTTPS segment), each of
 * which reads a real video when nothing stops it.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cameraInput, PROTOCOL_WHITELIST, streamArguments } from '../../lib/camera/ffmpeg';
import { probeCamera } from '../../lib/camera/probe';
import { CameraStream, type CameraFrame, type ConnectionEvent } from '../../lib/camera/stream';
import { inferCameraSource, migrateSettings } from '../../lib/types/migrate';
import { toolSkip } from '../helpers/env';
import { startHostileCamera, type HostileCamera } from '../helpers/hostile-camera';
import { CLIP } from '../helpers/rtsp';
import { until } from '../helpers/wait';

/** Log files ffmpeg's `-report` writes (ffprobe-YYYYMMDD-HHMMSS.log) in `dir`. */
function reports(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^ff(probe|mpeg)-\d{8}-\d{6}\.log$/.test(f));
}

/** Addresses that name something other than a network camera. */
const HOSTILE = [
  '-report',
  'subfile,,start,0,end,0,,:/etc/passwd',
  `subfile,,start,0,end,0,,:${CLIP}`,
  '/etc/passwd',
  CLIP,
  `file://${CLIP}`,
  `concat:${CLIP}|${CLIP}`,
  'data:text/plain;base64,aGVsbG8=',
  '/dev/video0',
  'ftp://camera.local/stream',
  'tcp://127.0.0.1:554',
  'rtsp:camera.local/stream',
  'http://cam.local/\nx',
];

describe('camera addresses by source', () => {
  it('takes only rtsp, rtsps, http and https with a host for a network camera, with their protocols', () => {
    const cases: Array<[string, string, string]> = [
      ['rtsp://cam.local:554/Streaming/Channels/101', 'rtsp', 'rtp,udp,tcp'],
      ['rtsps://cam.local/stream', 'rtsp', 'tls,tcp'],
      ['http://cam.local/video.mjpg', 'http', 'http,tcp'],
      ['https://cam.local/video', 'http', 'https,tls,tcp'],
      ['http://cam.local/cgi-bin/snapshot.cgi', 'snapshot', 'http,tcp'],
      ['HTTPS://cam.local/ISAPI/Streaming/channels/101/picture', 'snapshot', 'https,tls,tcp'],
    ];
    for (const [url, kind, protocols] of cases) {
      assert.deepEqual(cameraInput(url), { kind, input: url, protocols }, url);
      assert.deepEqual(cameraInput(url, 'network'), { kind, input: url, protocols }, url);
    }
    for (const url of HOSTILE)
      assert.throws(
        () => cameraInput(url, 'network'),
        /not a network camera address|unsupported camera address scheme|invalid camera (URL|address)/,
        url,
      );
    assert.throws(
      () => cameraInput('/etc/passwd'),
      /not a network camera address: "\/etc\/passwd"; use rtsp:\/\//,
    );
    assert.throws(() => cameraInput('concat:a|b'), /unsupported camera address scheme "concat:"/);
    assert.throws(() => cameraInput('rtsp://'), /invalid camera URL/);
    assert.throws(() => cameraInput('  '), /no camera address/);
  });

  it('gives a file to ffmpeg as file: and its absolute path, so no other protocol can be named', () => {
    assert.deepEqual(cameraInput(CLIP, 'file'), { kind: 'file', input: `file:${CLIP}`, protocols: 'file' });
    assert.equal(cameraInput(`file://${CLIP}`, 'file').input, `file:${CLIP}`);
    assert.equal(cameraInput('file:///tmp/a%20b.mp4', 'file').input, 'file:/tmp/a b.mp4');
    for (const name of ['-report', 'subfile,,start,0,end,0,,:/etc/passwd', 'clip.mp4'])
      assert.equal(cameraInput(name, 'file').input, `file:${path.resolve(name)}`);
    // A scheme is a scheme: concat:, data: and the network ones are not files.
    for (const url of ['concat:/a|/b', 'data:,x', 'rtsp://cam/x', 'http://cam/x.mp4'])
      assert.throws(() => cameraInput(url, 'file'), /not a file: /, url);
    assert.throws(() => cameraInput('file://host/share/x.mp4', 'file'), /not a local file URL: /);
  });

  it('takes only /dev/videoN for a device', () => {
    assert.deepEqual(cameraInput('/dev/video2', 'device'), {
      kind: 'v4l2',
      input: '/dev/video2',
      protocols: 'file',
    });
    for (const url of ['/dev/sda', '/etc/passwd', '/dev/video0/../sda', 'rtsp://cam/x', 'video0'])
      assert.throws(() => cameraInput(url, 'device'), /not a video device: /, url);
  });

  it('puts the address after -i and the whitelist before it, in every ffmpeg command', () => {
    for (const [url, source] of [
      ['rtsp://cam.local/x', 'network'],
      ['http://cam.local/video', 'network'],
      ['http://cam.local/snapshot.jpg', 'network'],
      ['-report', 'file'],
      ['/dev/video0', 'device'],
    ] as const) {
      const c = cameraInput(url, source);
      const args = streamArguments({
        url: c.input,
        kind: c.kind,
        protocols: c.protocols,
        transport: 'tcp',
        fps: 2,
        width: 640,
        socketTimeout: 10,
      });
      const i = args.indexOf('-i');
      assert.equal(args[i + 1], c.input, url);
      assert.equal(args.filter((a) => a === c.input).length, 1, `${url} appears once`);
      const w = args.indexOf('-protocol_whitelist');
      assert.ok(w >= 0 && w < i, `${url}: -protocol_whitelist before -i`);
      assert.equal(args[w + 1], c.protocols);
    }
  });

  it('asks ffmpeg for the full picture beside the scaled frame only when told to and when it scales', () => {
    const c = cameraInput('rtsp://cam.local/x', 'network');
    const base = {
      url: c.input,
      kind: c.kind,
      protocols: c.protocols,
      transport: 'tcp' as const,
      fps: 2,
      socketTimeout: 10,
    };
    const dual = streamArguments({ ...base, width: 640, fullPicture: true });
    const i = dual.indexOf('-i');
    assert.equal(dual[i + 1], c.input);
    assert.equal(dual.filter((a) => a === c.input).length, 1);
    assert.ok(dual.indexOf('-protocol_whitelist') < i);
    // Output 0 is the scaled raw frame on stdout (its size is what the stream reads), output 1 the
    // JPEG on pipe 3, both from one rate filter.
    const graph = dual[dual.indexOf('-filter_complex') + 1];
    assert.match(graph, /fps=2,split=2\[a\]\[b\];\[a\]scale=640:-2:flags=area/);
    assert.ok(dual.indexOf('pipe:1') < dual.indexOf('pipe:3'));
    assert.equal(dual[dual.indexOf('pipe:3') - 1], 'image2pipe');
    for (const plain of [
      streamArguments({ ...base, width: 640 }),
      streamArguments({ ...base, width: 0, fullPicture: true }),
    ]) {
      assert.ok(!plain.includes('pipe:3'));
      assert.ok(!plain.includes('-filter_complex'));
    }
  });

  it('gives a face-camera saved before the source setting the source its URL implied', () => {
    const cases: Array<[unknown, string]> = [
      ['rtsp://cam/x', 'network'],
      ['http://cam/video', 'network'],
      ['${FACEWATCH_CAMERA_URL}', 'network'],
      ['rtsp://${CAM_HOST}/x', 'network'],
      ['', 'network'],
      [undefined, 'network'],
      ['/srv/clips/door.mp4', 'file'],
      ['clips/door.mp4', 'file'],
      ['file:///srv/door.mp4', 'file'],
      ['C:\\clips\\door.mp4', 'file'],
      ['/dev/video0', 'device'],
      ['ftp://cam/x', 'network'],
    ];
    for (const [url, source] of cases) {
      assert.equal(inferCameraSource(url), source, String(url));
      const m = migrateSettings('face-camera', { url, version: 1 } as { url: unknown; source?: string });
      assert.equal(m.settings.source, source, String(url));
      assert.equal(m.settings.version, 3);
      // Only a file or a device is news: a network camera is what the default says.
      assert.equal(m.changes.length, source === 'network' ? 0 : 1, String(url));
    }
    const file = migrateSettings('face-camera', { url: '/srv/door.mp4' });
    assert.match(file.changes[0].reason, /local video file: its source is now set to "file"/);
    const kept = migrateSettings('face-camera', { url: '/srv/door.mp4', source: 'network', version: 2 });
    assert.equal(kept.settings.source, 'network', 'a saved source is kept');
    // Version 3: faces are described from the full picture, also for a camera saved before.
    assert.equal((kept.settings as Record<string, unknown>).describeFrom, 'full');
    assert.deepEqual(kept.changes, []);
    const chosen = migrateSettings('face-camera', { url: 'rtsp://c/x', describeFrom: 'frame', version: 3 });
    assert.equal(chosen.settings.describeFrom, 'frame');
  });
});

describe('ffprobe and ffmpeg open only what the camera allows', { skip: toolSkip('ffprobe') }, () => {
  let hostile: HostileCamera;
  const before0 = reports(process.cwd());
  before(async () => {
    hostile = await startHostileCamera(CLIP);
  });
  after(async () => {
    await hostile?.close();
    // Whatever a failing run wrote is not left in the project.
    for (const f of reports(process.cwd())) if (!before0.includes(f)) rmSync(f, { force: true });
  });

  it('refuses hostile addresses on a network camera without running ffprobe, and writes no -report log', async () => {
    for (const url of HOSTILE) {
      const r = await probeCamera({ name: 'x', url, source: 'network' }, 5000);
      assert.ok(!r.ok, `${url}: ${JSON.stringify(r)}`);
      assert.equal(r.kind, 'error', `${url}: ${JSON.stringify(r)}`);
      assert.match(r.reason, /not a network camera address|unsupported camera address scheme|invalid camera/);
    }
    // Without a source, a camera is a network camera.
    const plain = await probeCamera({ name: 'x', url: CLIP }, 5000);
    assert.ok(!plain.ok && /not a network camera address/.test(plain.reason), JSON.stringify(plain));
    assert.deepEqual(reports(process.cwd()), before0, 'no -report log file');
  });

  it('reads only the named file of a file camera: -report and subfile are file names, concat: and data: are refused', async () => {
    const clip = await probeCamera({ name: 'x', url: CLIP, source: 'file' });
    assert.ok(clip.ok && clip.width === 640, JSON.stringify(clip));
    for (const url of ['-report', `subfile,,start,0,end,0,,:${CLIP}`]) {
      const r = await probeCamera({ name: 'x', url, source: 'file' }, 10000);
      assert.ok(!r.ok, `${url}: ${JSON.stringify(r)}`);
      assert.equal(r.kind, 'no-file', `${url}: ${JSON.stringify(r)}`);
    }
    for (const url of [`concat:${CLIP}|${CLIP}`, 'data:,x']) {
      const r = await probeCamera({ name: 'x', url, source: 'file' }, 10000);
      assert.ok(!r.ok && r.kind === 'error', `${url}: ${JSON.stringify(r)}`);
      assert.match(
        r.reason,
        /^not a file: ".*"; a file camera's address is a local path or a file:\/\/ URL$/,
      );
    }
    assert.deepEqual(reports(process.cwd()), before0, 'no -report log file');
  });

  it('refuses what an HTTP camera points ffmpeg to: a local file, HTTPS, an HLS segment elsewhere', async () => {
    // The servers work: the stream and its HTTPS twin read fine.
    const ok = await probeCamera({ name: 'x', url: `${hostile.url}/video` }, 10000);
    assert.ok(ok.ok && ok.codec === 'mjpeg', JSON.stringify(ok));
    const secure = await probeCamera({ name: 'x', url: `${hostile.httpsUrl}/video` }, 10000);
    assert.ok(secure.ok && secure.codec === 'mjpeg', JSON.stringify(secure));
    // Each of these reads the clip (or the HTTPS stream) when ffmpeg may follow it.
    for (const p of ['/redirect-file', '/redirect-https', '/playlist.m3u8']) {
      const r = await probeCamera({ name: 'x', url: `${hostile.url}${p}` }, 10000);
      assert.ok(!r.ok, `${p}: ${JSON.stringify(r)}`);
    }
  });

  it('streams nothing from an HLS playlist that leads elsewhere', { skip: toolSkip('ffmpeg') }, async () => {
    const s = new CameraStream({
      name: 'x',
      url: `${hostile.url}/playlist.m3u8`,
      fps: 2,
      width: 320,
      maxAttempts: 1,
      stopGraceMs: 500,
    });
    const frames: CameraFrame[] = [];
    const events: ConnectionEvent[] = [];
    s.on('frame', (f) => frames.push(f));
    s.on('state', (e) => events.push(e));
    s.start();
    try {
      await until('the stream to give up', () => events.some((e) => e.state === 'stopped'), 20000);
      assert.equal(frames.length, 0);
      assert.ok(!events.some((e) => e.state === 'connected'), JSON.stringify(events));
    } finally {
      await s.stop();
    }
  });

  it(
    "reads a cheap camera's slow MJPEG stream at its own rate (2 frames/s in, 2 out)",
    {
      skip: toolSkip('ffmpeg'),
    },
    async () => {
      // MJPEG carries no timestamps: taken for 25 frames/s, 2 a second became one frame in 6 s.
      const s = new CameraStream({
        name: 'x',
        url: `${hostile.url}/slow`,
        fps: 2,
        width: 320,
        stopGraceMs: 500,
      });
      const frames: CameraFrame[] = [];
      s.on('frame', (f) => frames.push(f));
      s.start();
      try {
        await until('the first frame', () => frames.length > 0, 20000);
        const start = Date.now();
        const first = frames.length;
        await new Promise((r) => setTimeout(r, 6000));
        const rate = (frames.length - first) / ((Date.now() - start) / 1000);
        assert.ok(rate > 1.4 && rate < 2.6, `${rate.toFixed(2)} frames/s`);
      } finally {
        await s.stop();
      }
    },
  );
});

describe('the protocol whitelist', () => {
  it('names only what each scheme needs', () => {
    assert.deepEqual(
      { ...PROTOCOL_WHITELIST },
      {
        rtsp: 'rtp,udp,tcp',
        rtsps: 'tls,tcp',
        http: 'http,tcp',
        https: 'https,tls,tcp',
        file: 'file',
        device: 'file',
      },
    );
  });
});
