import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { NodeAPI } from '../../nodes/shared/red';
import { EventEmitter } from 'node:events';
import { provide, type ResourceStatus } from '../../nodes/shared/provider';
import type { Node } from '../../nodes/shared/red';
import { acquireStore, storeFile, storeKey, stores } from '../../nodes/shared/store';

describe('acquireStore (one open store per datafile in a process)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-acquire-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shares one store between users and closes it with the last', async () => {
    const file = path.join(dir, 'shared.db');
    const [a, b] = await Promise.all([acquireStore({ file }), acquireStore({ file })]);
    assert.equal(a.resource, b.resource);
    await a.release();
    await a.release();
    await b.resource.addPerson({ name: 'still open while a user remains' });
    await b.release();
    await assert.rejects(b.resource.addPerson({ name: 'after the last release' }), /closed/);
  });

  it('lets a redeploy reopen the store while the old one is still closing', async () => {
    const file = path.join(dir, 'redeploy.db');
    const first = await acquireStore({ file });
    await first.resource.addPerson({ name: 'Ada' });
    // A write still in progress when Node-RED stops the old nodes; it starts the new ones at once.
    const writing = first.resource.addPerson({ name: 'Grace' });
    const closing = first.release();
    const second = await acquireStore({ file });
    await Promise.all([writing, closing]);
    assert.notEqual(second.resource, first.resource);
    assert.deepEqual(
      second.resource.listPeople().map((p) => p.name),
      ['Ada', 'Grace'],
    );
    await second.release();
  });
});

describe('face-store users (register/deregister)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-provider-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  /** Just what the provider uses of a node: its id and its close event. */
  const node = (id: string): Node => Object.assign(new EventEmitter(), { id }) as unknown as Node;

  it('lists the nodes holding a store and pushes its state to the registered ones', async () => {
    const file = path.join(dir, 'users.db');
    const config = node('store-config');
    const users = provide(config, stores, storeKey(file));
    const seen: Record<string, string[]> = { a: [], b: [] };
    const [a, b] = [node('a'), node('b')];
    users.register(a, (s: ResourceStatus) => seen.a.push(s.state));
    const leaseA = await acquireStore({ file }, 'a');
    users.register(b, (s: ResourceStatus) => seen.b.push(s.state));
    const leaseB = await acquireStore({ file }, 'b');
    assert.deepEqual(stores.users(storeKey(file)), ['a', 'b']);
    assert.deepEqual(
      users.list().map((n) => n.id),
      ['a', 'b'],
    );
    await leaseA.release();
    await new Promise<void>((resolve) => users.deregister(a, resolve));
    await leaseB.release();
    assert.deepEqual(seen.a, ['opening', 'open'], 'a hears the open, then nothing once deregistered');
    assert.deepEqual(
      seen.b,
      ['open', 'closing', 'closed'],
      'b hears the state at registration, then each change',
    );
    // The config node's close stops the broadcasts.
    await new Promise<void>((resolve) => config.emit('close', false, resolve));
    const again = await acquireStore({ file }, 'b');
    await again.release();
    assert.deepEqual(seen.b, ['open', 'closing', 'closed']);
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
