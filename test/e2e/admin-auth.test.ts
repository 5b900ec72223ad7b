import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../helpers/env';
import { adminToken, requestToken, adminAuthSettings } from '../helpers/auth';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

describe('admin routes behind Node-RED adminAuth (real Node-RED process)', () => {
  let nr: RunningNodeRed;
  const auth = adminAuthSettings('s3cret-pass', { admin: '*', viewer: 'read' });

  before(async () => {
    nr = await startNodeRed({
      nodesDir: path.join(ROOT, 'test', 'fixtures', 'nodes'),
      settings: { adminAuth: auth },
      flows: [{ id: 'p1', type: 'facewatch-probe', z: '', wires: [] }],
    });
    await waitForLog(nr, /Started flows/);
  });
  after(() => nr?.stop());

  const token = (username: string): Promise<string> =>
    adminToken(nr.url, username, 's3cret-pass', username === 'admin' ? '*' : 'read');

  it('refuses an anonymous caller with 401', async () => {
    const res = await fetch(`${nr.url}/facewatch/probe/ok`);
    assert.equal(res.status, 401);
  });

  it('answers an authorised reader', async () => {
    const res = await fetch(`${nr.url}/facewatch/probe/ok`, {
      headers: { authorization: `Bearer ${await token('viewer')}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });

  it('refuses a write route to a read-only user, allows it to an admin', async () => {
    const viewer = await fetch(`${nr.url}/facewatch/probe/x`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('viewer')}` },
    });
    // Node-RED answers 401 for a token whose scope lacks the permission.
    assert.equal(viewer.status, 401);
    const admin = await fetch(`${nr.url}/facewatch/probe/x`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('admin')}` },
    });
    assert.equal(admin.status, 200);
    assert.deepEqual(await admin.json(), { wrote: 'x' });
  });

  it('logs no error and no password, after a failed login, a good one and the routes', async () => {
    // Its own traffic, so the check means something when this test runs alone.
    const wrong = await requestToken(nr.url, 'admin', 'wr0ng-guess');
    assert.equal(wrong.status, 403);
    const bearer = { authorization: `Bearer ${await token('admin')}` };
    const routes = [
      await fetch(`${nr.url}/facewatch/probe/ok`),
      await fetch(`${nr.url}/facewatch/probe/ok`, { headers: bearer }),
      await fetch(`${nr.url}/facewatch/probe/missing`, { headers: bearer }),
      await fetch(`${nr.url}/facewatch/probe/x`, { method: 'POST', headers: bearer }),
    ];
    assert.deepEqual(
      routes.map((r) => r.status),
      [401, 200, 404, 200],
    );
    // The probe's own answer, not express's for an unknown route.
    assert.deepEqual(await routes[2].json(), { error: 'no such thing' });
    const log = nr.log();
    assert.match(log, /Started flows/, 'the log was captured');
    assert.doesNotMatch(log, /\[error\]/);
    for (const secret of ['s3cret-pass', 'wr0ng-guess', auth.users[0].password])
      assert.ok(!log.includes(secret), 'a password in the log');
  });
});
