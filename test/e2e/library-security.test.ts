/**
 * The Face Library's routes read as an attacker would, in a real Node-RED process without adminAuth
 * (as a user who skipped it runs): a page of another site open in the same browser cannot change
 * anything (a real Chromium page on another loopback port tries), `?store=` reaches nothing but a
 * face-store (no camera's ffmpeg, no inference pool started by a read), uploads are bounded in
 * number and leftovers are swept at start, and the MJPEG feed drops frames for a client that stops
 * reading instead of queueing them (the clip over RTSP from GStreamer's server).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaceStore } from '../../lib/store/face-store';
import { launchBrowser, noBrowser } from '../helpers/browser';
import { fixturePath, IN_CI } from '../helpers/env';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { hasRtspServer, startRtspServer, type RtspServer } from '../helpers/rtsp';

const skip = hasRtspServer()
  ? false
  : IN_CI
    ? false
    : 'GStreamer RTSP server not installed (gir1.2-gst-rtsp-server-1.0, python3-gi)';

const NOSTART = `fw-nostart-${randomBytes(4).toString('hex')}`;

/** The command lines of every process of the machine. */
function processes(): string[] {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n');
}

/** Two clients of the 1920 px camera's MJPEG feed: one reading, one that stopped reading. */
interface Feeds {
  since: number;
  sleeper: net.Socket;
  read(): string;
  close(): void;
}

async function openFeeds(nr: RunningNodeRed): Promise<Feeds> {
  const started = await fetch(`${nr.url}/facewatch/api/cameras/big/start`, { method: 'POST' });
  assert.equal(started.status, 200, await started.text());
  const request = `GET /facewatch/api/cameras/big/video_feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  const reader = net.connect(nr.port, '127.0.0.1');
  reader.on('error', () => undefined);
  reader.write(request);
  let read = '';
  reader.on('data', (d: Buffer) => (read += d.toString('latin1')));
  const sleeper = net.connect(nr.port, '127.0.0.1');
  sleeper.on('error', () => undefined);
  sleeper.write(request);
  sleeper.pause();
  return {
    since: Date.now(),
    sleeper,
    read: () => read,
    close: () => {
      reader.destroy();
      sleeper.destroy();
    },
  };
}

describe('Face Library routes read as an attacker would (real Node-RED, no adminAuth)', { skip }, () => {
  let nr: RunningNodeRed;
  let rtsp: RtspServer;
  let dir: string;
  let stale: string;
  let feeds: Feeds;

  before(async () => {
    rtsp = await startRtspServer();
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-security-'));
    const store = await FaceStore.open({ file: path.join(dir, 'faces.db') });
    await store.addPerson({ id: 'P1', name: 'Ada Lovelace' });
    await store.close();
    const port = new URL(rtsp.url).port;
    nr = await startNodeRed({
      prepare: (userDir) => {
        const uploads = path.join(userDir, 'facewatch', 'uploads');
        mkdirSync(uploads, { recursive: true });
        stale = path.join(uploads, 'upload-left-by-a-crash.part');
        writeFileSync(stale, 'a photo of someone');
      },
      flows: [
        { id: 'tab', type: 'tab', label: 'security' },
        { id: 'st', type: 'face-store', name: 'main', file: path.join(dir, 'faces.db'), backups: 0 },
        { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1 },
        // Ids unlike any name: Node-RED takes a property equal to a config node's id for a reference.
        { id: 'idlecam', type: 'face-camera', name: 'idle', url: `rtsp://127.0.0.1:${port}/${NOSTART}` },
        { id: 'cam', type: 'face-camera', name: 'hall', url: rtsp.url, fps: 5, width: 640 },
        { id: 'src', type: 'rtsp-source', z: 'tab', camera: 'cam', wires: [[], []] },
        // Frames of 1920 px (a few hundred KB each), so that a slow client's backlog outgrows what
        // the kernel's socket buffers hold (up to 4 MB) within the test.
        { id: 'bigcam', type: 'face-camera', name: 'big', url: rtsp.url, fps: 4, width: 1920 },
        { id: 'big', type: 'rtsp-source', z: 'tab', camera: 'bigcam', autoStart: false, wires: [[], []] },
        { id: 'off', type: 'rtsp-source', z: 'tab', camera: 'idlecam', autoStart: false, wires: [[], []] },
        { id: 'reg', type: 'face-register', z: 'tab', store: 'st', engine: 'eng', wires: [[]] },
      ],
    });
    await waitForLog(nr, /Started flows/);
    feeds = await openFeeds(nr);
  });
  after(async () => {
    feeds?.close();
    await nr?.stop();
    await rtsp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const api = (route: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${nr.url}/facewatch/api/${route}`, init);

  async function people(): Promise<string[]> {
    const res = await api('faces');
    assert.equal(res.status, 200);
    return ((await res.json()) as Array<{ id: string }>).map((p) => p.id);
  }

  it('answers 403 to a request a page of another site sends, whatever its method', async () => {
    const cases: Array<[string, RequestInit]> = [
      ['faces/P1', { method: 'DELETE', headers: { origin: 'http://evil.example' } }],
      ['faces/P1', { method: 'DELETE', headers: { 'sec-fetch-site': 'cross-site' } }],
      ['delete/P1', { method: 'POST', headers: { 'sec-fetch-site': 'same-site' } }],
      [
        'faces/P1',
        {
          method: 'PATCH',
          headers: { origin: 'http://127.0.0.1:1', 'content-type': 'application/json' },
          body: '{"name":"x"}',
        },
      ],
      ['faces', { headers: { 'sec-fetch-site': 'cross-site' } }],
      ['faces/P1/thumbnail', { headers: { 'sec-fetch-site': 'same-site' } }],
    ];
    for (const [route, init] of cases) {
      const res = await api(route, init);
      const body = (await res.json()) as { error?: string };
      assert.equal(res.status, 403, `${init.method ?? 'GET'} ${route} ${JSON.stringify(init.headers)}`);
      assert.match(body.error ?? '', /another site/);
    }
    const camera = await fetch(`${nr.url}/facewatch/camera/test`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'rtsp://127.0.0.1:9/x' }),
    });
    assert.equal(camera.status, 403, "the camera editor's routes too");
    assert.deepEqual(await people(), ['P1'], 'nobody was deleted');
    // The Face Library itself, an address typed in a tab, and scripts without a browser pass.
    for (const headers of [
      { 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-site': 'none' },
      {},
      { origin: nr.url },
    ] as Array<Record<string, string>>) {
      const res = await api('faces', { headers });
      await res.arrayBuffer();
      assert.equal(res.status, 200, JSON.stringify(headers));
    }
  });

  it('a page of another site in a real browser cannot delete a person nor load a face', async (t) => {
    if (noBrowser(t)) return;
    // A form-like POST needs no preflight: it reaches Node-RED whatever CORS says.
    const page = `<!doctype html><title>loading</title><body><script>
      const nr = ${JSON.stringify(nr.url)};
      Promise.allSettled([
        fetch(nr + '/facewatch/api/delete/P1', { method: 'POST', mode: 'no-cors' }),
        fetch(nr + '/facewatch/api/faces/P1', { method: 'DELETE' }),
        new Promise((r) => { const i = new Image(); i.onload = () => r('loaded'); i.onerror = () => r('refused');
          i.src = nr + '/facewatch/api/faces/P1/thumbnail'; document.body.append(i); }),
      ]).then((r) => { document.title = 'done ' + JSON.stringify(r.map((x) => x.value ?? x.reason?.message)); });
    </script></body>`;
    const evil = http.createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(page),
    );
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const { port } = evil.address() as net.AddressInfo;
    const browser = await launchBrowser();
    try {
      const tab = await browser.browser.newPage();
      await tab.goto(`http://127.0.0.1:${port}/`);
      await tab.waitForFunction(() => document.title.startsWith('done'), undefined, { timeout: 20000 });
      assert.match(await tab.title(), /refused/, 'the face picture did not load');
    } finally {
      await browser.close();
      evil.close();
    }
    assert.deepEqual(await people(), ['P1'], 'the person is still enrolled');
  });

  it('takes only a face-store as ?store=, and a read starts no camera and no inference pool', async () => {
    for (const [route, init] of [
      ['faces?store=idlecam', {}],
      ['events?store=idlecam', {}],
      ['stats?store=eng', {}],
      ['faces/P1?store=src', {}],
      [
        'register?store=idlecam&name=X',
        { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: 'x' },
      ],
    ] as Array<[string, RequestInit]>) {
      const res = await api(route, init);
      const body = (await res.json()) as { error?: string };
      assert.equal(res.status, 400, `${route}: ${JSON.stringify(body)}`);
      assert.match(body.error ?? '', /is not a face-store/);
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      processes().filter((p) => p.includes(NOSTART)),
      [],
      "the stopped camera's ffmpeg was not started",
    );
    const res = await api('faces?store=nothing-deployed');
    await res.arrayBuffer();
    assert.equal(res.status, 404);
  });

  it('refuses an upload whose Content-Type is not a photo, unread', async () => {
    const photo = readFileSync(fixturePath('face_recognition', 'examples', 'biden.jpg'));
    for (const type of ['text/plain', 'text/html', 'application/xml']) {
      const res = await api('register?name=Typed', {
        method: 'POST',
        headers: { 'content-type': type },
        body: photo,
      });
      const body = (await res.json()) as { error?: string };
      assert.equal(res.status, 415, `${type}: ${JSON.stringify(body)}`);
      assert.match(body.error ?? '', /image\/jpeg/);
    }
  });

  it('removed the uploads an earlier run left behind when it started', () => {
    assert.ok(!existsSync(stale), `${stale} was swept`);
  });

  it('answers 503 to an upload beyond the limit without reading it, and takes uploads again after', async () => {
    const { port } = new URL(nr.url);
    const held: http.ClientRequest[] = [];
    for (let i = 0; i < 4; i++) {
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/facewatch/api/register?name=Slow',
        headers: { 'content-type': 'image/jpeg', 'content-length': 1000000 },
      });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(1000, 0xff));
      held.push(req);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const res = await api('register?name=Fifth', {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: Buffer.alloc(2000, 0xff),
    });
    const body = (await res.json()) as { error?: string };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.ok(res.headers.get('retry-after'), 'Retry-After');
    for (const r of held) r.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    const again = await api('register?name=Sixth', {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: Buffer.alloc(2000, 0xff),
    });
    await again.arrayBuffer();
    assert.ok(
      again.status >= 400 && again.status < 500,
      `a bad photo is refused for what it is: ${again.status}`,
    );
  });

  it('drops MJPEG frames for a client that stops reading instead of queueing them', async () => {
    // The feed's clients were opened before the first test: one reading, one that stopped. Its
    // backlog has outgrown what the kernel's socket buffers hold (about 4 MB) long since.
    const waited = Date.now() - feeds.since;
    if (waited < 60000) await new Promise((r) => setTimeout(r, 60000 - waited));
    let late = '';
    feeds.sleeper.on('data', (d: Buffer) => (late += d.toString('latin1')));
    feeds.sleeper.resume();
    await new Promise((r) => setTimeout(r, 3000));
    const read = feeds.read();
    feeds.close();
    await (await api('cameras/big/stop', { method: 'POST' })).arrayBuffer();
    const parts = (text: string): number => text.split('--facewatchframe').length - 1;
    const mb = (text: string): string => `${(text.length / 2 ** 20).toFixed(1)} MB`;
    assert.ok(parts(read) >= 60, `the reading client got frames (${parts(read)})`);
    // What the kernel held for it (about 4 MB) and a few fresh frames reach it; the rest is dropped.
    // Queued, all of it would (the reading client's share).
    assert.ok(
      late.length < read.length - 2 * 2 ** 20,
      `the client that stopped reading got ${parts(late)} frames (${mb(late)}), the reading one ${parts(read)} (${mb(read)}): at least 2 MB should have been dropped, not queued`,
    );
  });
});
