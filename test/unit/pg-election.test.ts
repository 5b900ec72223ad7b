/**
 * Elections among the instances sharing a store (lib/store/pg/election.ts) on the machine's real
 * PostgreSQL, in a database each test makes and drops: of three candidates exactly one leads; when it
 * stops another takes over; a leader whose connection is cut (a TCP relay) steps down and another
 * leads, and when its network returns it stays a follower; two roles elect independently.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { PgElection } from '../../lib/store/pg/election';
import { createDatabase, type TestDatabase } from '../helpers/pg';
import { startRelay, type TcpRelay } from '../helpers/tcp-relay';
import { until } from '../helpers/wait';

const POLL_MS = 100;

describe('PostgreSQL election of one instance', () => {
  let db: TestDatabase | undefined;
  let relay: TcpRelay | undefined;
  const elections: PgElection[] = [];
  afterEach(async () => {
    await Promise.all(elections.splice(0).map((e) => e.close()));
    await relay?.close();
    relay = undefined;
    await db?.drop();
    db = undefined;
  });

  function candidate(url: string, key = 'mqtt-discovery:facewatch'): { e: PgElection; changes: boolean[] } {
    const e = new PgElection({ connection: { connectionString: url }, key, pollMs: POLL_MS });
    const changes: boolean[] = [];
    e.on('change', (v) => changes.push(v));
    elections.push(e);
    return { e, changes };
  }

  const leaders = (cs: { e: PgElection }[]): number => cs.filter((c) => c.e.leader).length;

  it('elects exactly one of three, and another when the leader stops', async () => {
    db = await createDatabase();
    const cs = [candidate(db.url), candidate(db.url), candidate(db.url)];
    await until('a leader', () => leaders(cs) === 1, 5000);
    // Several polls later it is still exactly one, and the same one.
    const first = cs.find((c) => c.e.leader)!;
    await new Promise((r) => setTimeout(r, POLL_MS * 6));
    assert.equal(leaders(cs), 1);
    assert.ok(first.e.leader);
    assert.deepEqual(first.changes, [true]);
    for (const c of cs) if (c !== first) assert.deepEqual(c.changes, []);

    await first.e.close();
    const rest = cs.filter((c) => c !== first);
    await until('another leader', () => leaders(rest) === 1, 5000);
    await new Promise((r) => setTimeout(r, POLL_MS * 6));
    assert.equal(leaders(rest), 1);
  });

  it('a leader cut off from the database steps down; back, it follows the one elected meanwhile', async () => {
    db = await createDatabase();
    const target = new URL(db.url);
    relay = await startRelay({ host: target.hostname, port: Number(target.port || 5432) });
    const viaRelay = new URL(db.url);
    viaRelay.port = String(relay.port);
    const cut = candidate(viaRelay.href);
    await until('the candidate behind the relay leads', () => cut.e.leader, 5000);
    const other = candidate(db.url);
    await new Promise((r) => setTimeout(r, POLL_MS * 4));
    assert.equal(other.e.leader, false, 'two leaders');

    relay.cut();
    await until('the cut leader steps down', () => !cut.e.leader, 5000);
    await until('the other leads', () => other.e.leader, 5000);
    relay.restore();
    // Its connection comes back (it tries every poll), and it stays a follower.
    await new Promise((r) => setTimeout(r, POLL_MS * 10));
    assert.equal(cut.e.leader, false);
    assert.equal(other.e.leader, true);
    assert.deepEqual(cut.changes, [true, false]);
    assert.deepEqual(other.changes, [true]);
  });

  it('elects per role: two roles may have different leaders, one each', async () => {
    db = await createDatabase();
    const a = [candidate(db.url, 'role-a'), candidate(db.url, 'role-a')];
    const b = [candidate(db.url, 'role-b'), candidate(db.url, 'role-b')];
    await until('a leader of each role', () => leaders(a) === 1 && leaders(b) === 1, 5000);
    await a.find((c) => c.e.leader)!.e.close();
    await until('the other of role a leads', () => a.some((c) => c.e.leader), 5000);
    assert.equal(leaders(b), 1, 'role b kept its one leader');
  });
});
