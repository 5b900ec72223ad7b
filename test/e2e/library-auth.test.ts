/**
 * The Face Library's REST API behind Node-RED's adminAuth, in a real Node-RED process: every route
 * of the table the API registers from (nodes/library/routes.ts, so none is forgotten) answers 401 without a
 * token and with a bad one, every changing route answers 403 to a user who may only read, and a
 * reader and an administrator get through to the handlers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LIBRARY_ROUTES, type LibraryRouteSpec } from '../../nodes/library/routes';
import { adminToken, adminAuthSettings } from '../helpers/auth';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

const PASSWORD = 'lib-s3cret';

/** A route's path with its parameters filled in (ids nobody has: the handlers answer at once). */
function urlOf(r: LibraryRouteSpec): string {
  return r.path.replace(':id', 'NOBODY').replace(':sample', 'nosample');
}

function bodyOf(r: LibraryRouteSpec): { body?: Buffer | string; type?: string } {
  if (r.kind === 'upload')
    return { body: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), type: 'image/jpeg' };
  if (r.method !== 'get') return { body: JSON.stringify({ name: 'x' }), type: 'application/json' };
  return {};
}

describe('Face Library REST API behind adminAuth (real Node-RED process)', () => {
  let nr: RunningNodeRed;
  const tokens: Record<string, string> = {};

  before(async () => {
    nr = await startNodeRed({
      settings: {
        adminAuth: adminAuthSettings(PASSWORD, { admin: '*', viewer: 'read' }),
      },
      flows: [
        { id: 'tab', type: 'tab', label: 'auth' },
        { id: 'st', type: 'face-store', name: 'main', backups: 0 },
        { id: 'cam', type: 'face-camera', name: 'door', url: 'rtsp://127.0.0.1:9/none', fps: 1 },
        { id: 'src', type: 'rtsp-source', z: 'tab', camera: 'cam', autoStart: false, wires: [[], []] },
        { id: 'log', type: 'detection-log', z: 'tab', store: 'st', wires: [[]] },
      ],
    });
    await waitForLog(nr, /Started flows/);
    for (const user of ['admin', 'viewer']) {
      tokens[user] = await adminToken(nr.url, user, PASSWORD, '');
    }
  });
  after(() => nr?.stop());

  function call(r: LibraryRouteSpec, token?: string, path = urlOf(r)): Promise<Response> {
    const { body, type } = bodyOf(r);
    const headers: Record<string, string> = {};
    if (type) headers['content-type'] = type;
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(`${nr.url}${path}`, {
      method: r.method.toUpperCase(),
      headers,
      body: body as BodyInit | undefined,
    });
  }

  it('covers every route of the API', () => {
    assert.ok(LIBRARY_ROUTES.length >= 22);
    const reads = LIBRARY_ROUTES.filter((r) => r.permission === 'facewatch.read');
    assert.ok(
      reads.every((r) => r.method === 'get'),
      'reading never changes anything',
    );
    // The original system's endpoints are all there.
    for (const p of ['/register', '/faces', '/delete/:id', '/stats', '/cameras', '/video_feed'])
      assert.ok(
        LIBRARY_ROUTES.some((r) => r.path.includes(p)),
        p,
      );
  });

  it('answers 401 to every data, image, frame and upload request without a token or with a bad one', async () => {
    for (const r of LIBRARY_ROUTES) {
      const res = await call(r);
      const text = await res.text();
      assert.equal(res.status, 401, `${r.method} ${r.path} without a token`);
      assert.doesNotMatch(
        text,
        /NOBODY|PERSON_|main|door/,
        'nothing about the library to an anonymous caller',
      );
      const bad = await call(r, 'not-a-token');
      await bad.arrayBuffer();
      assert.equal(bad.status, 401, `${r.method} ${r.path} with a bad token`);
    }
  });

  it('answers 403 to a read-only user on every changing route, and lets them read', async () => {
    for (const r of LIBRARY_ROUTES) {
      const res = await call(r, tokens.viewer);
      const text = await res.text();
      if (r.permission === 'facewatch.write') {
        assert.equal(res.status, 403, `${r.method} ${r.path}: ${text}`);
        assert.match(text, /permission/);
      } else {
        assert.ok(![401, 403].includes(res.status), `${r.method} ${r.path}: ${res.status} ${text}`);
      }
    }
    const faces = await fetch(`${nr.url}/facewatch/api/faces`, {
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    assert.equal(faces.status, 200);
    assert.deepEqual(await faces.json(), []);
  });

  it('lets an administrator change things (the handlers answer: 404 for nobody, 422 for no face)', async () => {
    for (const r of LIBRARY_ROUTES.filter((x) => x.permission === 'facewatch.write')) {
      const res = await call(r, tokens.admin);
      const text = await res.text();
      assert.ok(![401, 403].includes(res.status), `${r.method} ${r.path}: ${res.status} ${text}`);
    }
    const stopped = await call(
      LIBRARY_ROUTES.find((r) => r.path.endsWith('/stop'))!,
      tokens.admin,
      '/facewatch/api/cameras/src/stop',
    );
    assert.equal(stopped.status, 200);
    assert.equal(((await stopped.json()) as { state: string }).state, 'stopped');
    assert.doesNotMatch(nr.log(), new RegExp(PASSWORD));
  });

  it("refuses a page of another site even with an administrator's token", async () => {
    for (const headers of [{ origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }] as Array<
      Record<string, string>
    >) {
      const res = await fetch(`${nr.url}/facewatch/api/delete/NOBODY`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${tokens.admin}` },
      });
      const body = (await res.json()) as { error?: string };
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.match(body.error ?? '', /another site/);
    }
  });

  it('ends an MJPEG feed when its token is revoked', async () => {
    const token = await adminToken(nr.url, 'viewer', PASSWORD, '');
    const started = await fetch(`${nr.url}/facewatch/api/cameras/src/video_feed`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(started.status, 200);
    assert.match(started.headers.get('content-type') ?? '', /multipart\/x-mixed-replace/);
    const ended = (async () => {
      const reader = started.body!.getReader();
      for (;;) if ((await reader.read()).done) return Date.now();
    })();
    await new Promise((r) => setTimeout(r, 2000));
    const revoked = Date.now();
    const res = await fetch(`${nr.url}/auth/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    assert.equal(res.status, 200);
    const end = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(0), 20000))]);
    assert.ok(end > 0, 'the feed ended');
    assert.ok(end - revoked < 12000, `within two checks of the token (${end - revoked} ms)`);
  });
});
