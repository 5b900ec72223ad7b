import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { configVersion, ResourceOwner, type StateChange } from '../../lib/shared/owner';

/** A real resource: a TCP server on a free port; the log records each open and close, in order. */
class Server {
  readonly server = net.createServer();
  closed = false;
  port = 0;
  constructor(readonly name: string) {}
}

function fixture(opts: { closeDelayMs?: number; lingerMs?: number } = {}) {
  const log: string[] = [];
  let opened = 0;
  const open = (name: string) => async (): Promise<Server> => {
    log.push(`open ${name}`);
    const s = new Server(name);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(0, '127.0.0.1', resolve);
    });
    s.port = (s.server.address() as net.AddressInfo).port;
    opened++;
    return s;
  };
  const owner = new ResourceOwner<Server>({
    lingerMs: opts.lingerMs,
    close: async (s) => {
      log.push(`closing ${s.name}`);
      if (opts.closeDelayMs) await sleep(opts.closeDelayMs);
      await new Promise<void>((resolve, reject) => s.server.close((e) => (e ? reject(e) : resolve())));
      s.closed = true;
      log.push(`closed ${s.name}`);
    },
  });
  return { owner, open, log, opens: () => opened };
}

/** Whether something listens on the port (a connection is accepted). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

describe('ResourceOwner', () => {
  it('opens on the first user and closes on the last', async () => {
    const { owner, open, log } = fixture();
    const a = await owner.acquire('k', 'node-a', open('one'));
    const b = await owner.acquire('k', 'node-b', open('two'));
    assert.equal(a.resource, b.resource, 'the second user gets the open resource, its opener unused');
    assert.equal(owner.count('k'), 2);
    await a.release();
    assert.equal(await listening(a.resource.port), true, 'still open while a user remains');
    await b.release();
    assert.equal(b.resource.closed, true);
    assert.equal(await listening(b.resource.port), false);
    assert.deepEqual(log, ['open one', 'closing one', 'closed one']);
    assert.deepEqual(owner.keys(), []);
    assert.equal(owner.state('k'), 'closed');
  });

  it('opens once for concurrent first users', async () => {
    const { owner, open, opens } = fixture();
    const leases = await Promise.all(['a', 'b', 'c'].map((u) => owner.acquire('k', u, open(u))));
    assert.equal(opens(), 1);
    assert.equal(new Set(leases.map((l) => l.resource)).size, 1);
    await Promise.all(leases.map((l) => l.release()));
    assert.equal(leases[0].resource.closed, true);
  });

  it('forgets a failed open, so the next acquire tries again', async () => {
    const { owner, open } = fixture();
    const taken = await owner.acquire('holder', 'x', open('holder'));
    const port = taken.resource.port;
    // A real failure: the port is taken.
    const clash = async (): Promise<Server> => {
      const s = new Server('clash');
      await new Promise<void>((resolve, reject) => {
        s.server.once('error', reject);
        s.server.listen(port, '127.0.0.1', resolve);
      });
      return s;
    };
    const changes: StateChange<Server>[] = [];
    const stop = owner.watch('k', (c) => changes.push(c));
    const failures = await Promise.allSettled([
      owner.acquire('k', 'a', clash),
      owner.acquire('k', 'b', clash),
    ]);
    for (const f of failures) {
      assert.equal(f.status, 'rejected');
      assert.match(String(f.reason), /EADDRINUSE/);
    }
    assert.deepEqual(owner.keys(), ['holder']);
    assert.equal(owner.count('k'), 0);
    assert.deepEqual(
      changes.map((c) => c.state),
      ['opening', 'error'],
    );
    assert.match(changes[1].error?.message ?? '', /EADDRINUSE/);
    const retry = await owner.acquire('k', 'a', open('retry'));
    assert.equal(await listening(retry.resource.port), true);
    stop();
    await retry.release();
    await taken.release();
  });

  it('makes a redeploy wait until the previous close has finished', async () => {
    const { owner, open, log } = fixture({ closeDelayMs: 100 });
    const first = await owner.acquire('k', 'old', open('first'));
    const closing = first.release();
    assert.equal(owner.state('k'), 'closing');
    const second = await owner.acquire('k', 'new', open('second'));
    await closing;
    assert.notEqual(second.resource, first.resource);
    assert.deepEqual(log, ['open first', 'closing first', 'closed first', 'open second']);
    await second.release();
  });

  it('keeps a resource open during the linger and hands it to a user arriving then', async () => {
    const { owner, open, log } = fixture({ lingerMs: 200 });
    const first = await owner.acquire('k', 'old', open('first'));
    await first.release();
    assert.equal(first.resource.closed, false, 'a release within the linger leaves it open');
    assert.equal(owner.count('k'), 0);
    await sleep(50);
    const second = await owner.acquire('k', 'new', open('second'));
    assert.equal(second.resource, first.resource);
    // The cancelled close never comes, even after the linger would have run out.
    await sleep(300);
    assert.equal(first.resource.closed, false);
    assert.deepEqual(log, ['open first']);
    await second.release();
    await sleep(300);
    await owner.settled('k');
    assert.equal(second.resource.closed, true);
    assert.deepEqual(log, ['open first', 'closing first', 'closed first']);
  });

  it('closes a lingering resource when its time is up', async () => {
    const { owner, open } = fixture({ lingerMs: 50 });
    const changes: string[] = [];
    const stop = owner.watch('k', (c) => changes.push(c.state));
    const lease = await owner.acquire('k', 'a', open('one'));
    await lease.release();
    assert.deepEqual(owner.keys(), ['k']);
    for (let i = 0; i < 100 && !lease.resource.closed; i++) await sleep(10);
    assert.equal(lease.resource.closed, true);
    assert.equal(await listening(lease.resource.port), false);
    assert.deepEqual(owner.keys(), []);
    assert.deepEqual(changes, ['opening', 'open', 'closing', 'closed']);
    const next = await owner.acquire('k', 'b', open('two'));
    assert.notEqual(next.resource, lease.resource);
    stop();
    await next.release();
  });

  it('does not re-use a lingering resource of another version', async () => {
    const { owner, open, log } = fixture({ lingerMs: 100 });
    const first = await owner.acquire('k', 'a', open('v1'), 'v1');
    await first.release();
    const second = await owner.acquire('k', 'a', open('v2'), 'v2');
    assert.notEqual(second.resource, first.resource);
    assert.equal(first.resource.closed, true);
    assert.deepEqual(log, ['open v1', 'closing v1', 'closed v1', 'open v2']);
    await second.release();
    for (let i = 0; i < 100 && !second.resource.closed; i++) await sleep(10);
    assert.equal(second.resource.closed, true);
  });

  it('lists its users by lease and counts a double release once', async () => {
    const { owner, open } = fixture();
    const a = await owner.acquire('k', 'node-a', open('one'));
    const b = await owner.acquire('k', 'node-b', open('one'));
    const a2 = await owner.acquire('k', 'node-a', open('one'));
    assert.deepEqual(owner.users('k'), ['node-a', 'node-b', 'node-a']);
    assert.equal(a.user, 'node-a');
    await a.release();
    await a.release();
    assert.deepEqual(owner.users('k'), ['node-b', 'node-a']);
    await b.release();
    await b.release();
    assert.equal(a.resource.closed, false, 'the second lease of node-a still holds it');
    await Promise.all([a2.release(), a2.release()]);
    assert.equal(a.resource.closed, true);
    assert.deepEqual(owner.users('k'), []);
  });
});

describe('configVersion', () => {
  it('tells configs apart, a changed password included, without holding the password', () => {
    const a = configVersion({ url: 'rtsp://cam/1', username: 'u', password: 'S3cr%t:pw!' });
    assert.equal(a, configVersion({ url: 'rtsp://cam/1', username: 'u', password: 'S3cr%t:pw!' }));
    assert.notEqual(a, configVersion({ url: 'rtsp://cam/1', username: 'u', password: 'other' }));
    assert.notEqual(a, configVersion({ url: 'rtsp://cam/2', username: 'u', password: 'S3cr%t:pw!' }));
    assert.ok(!a.includes('S3cr'), a);
  });
});
