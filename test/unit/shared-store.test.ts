import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { NodeAPI } from '../../nodes/shared/red';
import { acquireStore, storeFile } from '../../nodes/shared/store';

describe('acquireStore (one open store per datafile in a process)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-acquire-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shares one store between users and closes it with the last', async () => {
    const file = path.join(dir, 'shared.db');
    const [a, b] = await Promise.all([acquireStore({ file }), acquireStore({ file })]);
    assert.equal(a.store, b.store);
    await a.release();
    await a.release();
    await b.store.addPerson({ name: 'still open while a user remains' });
    await b.release();
    await assert.rejects(b.store.addPerson({ name: 'after the last release' }), /closed/);
  });

  it('lets a redeploy reopen the store while the old one is still closing', async () => {
    const file = path.join(dir, 'redeploy.db');
    const first = await acquireStore({ file });
    await first.store.addPerson({ name: 'Ada' });
    // A write still in progress when Node-RED stops the old nodes; it starts the new ones at once.
    const writing = first.store.addPerson({ name: 'Grace' });
    const closing = first.release();
    const second = await acquireStore({ file });
    await Promise.all([writing, closing]);
    assert.notEqual(second.store, first.store);
    assert.deepEqual(
      second.store.listPeople().map((p) => p.name),
      ['Ada', 'Grace'],
    );
    await second.release();
  });
});

describe('storeFile', () => {
  const RED = { settings: { userDir: '/srv/node-red' } } as unknown as NodeAPI;
  it('defaults to facewatch/faces.db in the user directory, resolves relative paths there', () => {
    assert.equal(storeFile(RED, ''), '/srv/node-red/facewatch/faces.db');
    assert.equal(storeFile(RED, ' '), '/srv/node-red/facewatch/faces.db');
    assert.equal(storeFile(RED, 'office/staff.db'), '/srv/node-red/office/staff.db');
    assert.equal(storeFile(RED, '/data/faces.db'), '/data/faces.db');
  });
});
