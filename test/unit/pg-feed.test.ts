/**
 * The change feed on the machine's real PostgreSQL, each test in a database it makes and drops:
 * changes are numbered without gaps however many writers commit at once, a rolled-back change takes no
 * number, every feed applies every change once and in order within a second, and a feed whose
 * connection is killed catches up with what it missed before it says it is live again.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Client } from 'pg';
import { ChangeFeed, changesSince, lastChange, recordChange, type Change } from '../../lib/store/pg/feed';
import { migrate } from '../../lib/store/pg/schema';
import { createDatabase, type TestDatabase } from '../helpers/pg';
import { until } from '../helpers/wait';

const SCHEMA = 'facewatch';

describe('PostgreSQL change feed', () => {
  let db: TestDatabase | undefined;
  const feeds: ChangeFeed[] = [];
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((f) => f.close()));
    await db?.drop();
    db = undefined;
  });

  async function fresh(): Promise<Client> {
    db = await createDatabase();
    const c = await db.connect();
    await migrate(c, SCHEMA);
    return c;
  }

  async function change(c: Client, personId: string, instance = 'writer'): Promise<number> {
    await c.query('BEGIN');
    try {
      const seq = await recordChange(c, SCHEMA, { kind: 'person', personId, instance });
      await c.query('COMMIT');
      return seq;
    } catch (err) {
      await c.query('ROLLBACK');
      throw err;
    }
  }

  function feed(
    name: string,
    apply: (c: Change) => Promise<void> | void,
    after = 0,
  ): { feed: ChangeFeed; applied: Change[] } {
    const applied: Change[] = [];
    const f = new ChangeFeed({
      connection: { connectionString: db!.url, application_name: name },
      schema: SCHEMA,
      after,
      retryMs: 50,
      apply: async (c) => {
        await apply(c);
        applied.push(c);
      },
    });
    feeds.push(f);
    return { feed: f, applied };
  }

  it('numbers changes without gaps across concurrent writers; a rolled-back change takes no number', async () => {
    await fresh();
    const writers = await Promise.all([1, 2, 3, 4, 5].map(() => db!.connect()));
    const seqs = (
      await Promise.all(
        writers.map(async (w, i) => {
          const mine: number[] = [];
          for (let n = 0; n < 20; n++) mine.push(await change(w, `P${i}_${n}`, `writer${i}`));
          return mine;
        }),
      )
    ).flat();
    assert.deepEqual(
      [...seqs].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    const w = writers[0];
    await w.query('BEGIN');
    assert.equal(await recordChange(w, SCHEMA, { kind: 'person', personId: 'X', instance: 'writer' }), 101);
    await w.query('ROLLBACK');
    assert.equal(await change(w, 'Y'), 101);
    assert.equal(await lastChange(w, SCHEMA), 101);
    const tail = await changesSince(w, SCHEMA, 99);
    assert.deepEqual(
      tail.map((c) => c.seq),
      [100, 101],
    );
    assert.equal(tail[1].personId, 'Y');
  });

  it('applies every change once and in order on every feed, within a second of its commit', async () => {
    const c = await fresh();
    await change(c, 'BEFORE');
    const a = feed('fw-feed-a', () => undefined);
    const b = feed('fw-feed-b', () => undefined, 1);
    await Promise.all([a.feed.start(), b.feed.start()]);
    assert.deepEqual(
      a.applied.map((x) => x.personId),
      ['BEFORE'],
      'a feed from 0 catches up at its start',
    );
    assert.equal(b.applied.length, 0, 'a feed from 1 has nothing to catch up');
    const writers = await Promise.all([1, 2, 3].map(() => db!.connect()));
    await Promise.all(
      writers.map(async (w, i) => {
        for (let n = 0; n < 10; n++) await change(w, `P${i}_${n}`);
      }),
    );
    const committed = Date.now();
    await until('both feeds at 31', () => a.feed.seq === 31 && b.feed.seq === 31, 1000, 5);
    const took = Date.now() - committed;
    assert.deepEqual(
      a.applied.map((x) => x.seq),
      Array.from({ length: 31 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      b.applied.map((x) => x.seq),
      Array.from({ length: 30 }, (_, i) => i + 2),
    );
    assert.ok(took < 1000, `${took} ms`);
  });

  it('catches up with the changes it missed while its connection was killed, then says it is live', async () => {
    const c = await fresh();
    const { feed: f, applied } = feed('fw-feed-cut', () => undefined);
    const downs: Date[] = [];
    const lives: number[] = [];
    f.on('down', (_err, since) => downs.push(since));
    f.on('live', (seq) => lives.push(seq));
    await f.start();
    await change(c, 'P1');
    await until('the first change', () => f.seq === 1, 1000, 5);
    // Keep the feed from reconnecting at once: changes land while it is away.
    const admin = await db!.connect();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fw-feed-cut'",
    );
    await until('the feed to notice', () => downs.length > 0, 2000, 5);
    assert.ok(f.down instanceof Date);
    for (let n = 2; n <= 11; n++) await change(c, `P${n}`);
    await until('the feed to catch up', () => f.seq === 11, 5000, 10);
    assert.deepEqual(
      applied.map((x) => x.seq),
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
    await until('live again', () => lives.length === 2, 2000, 5);
    assert.equal(lives[1], 11);
    assert.equal(f.down, null);
  });

  it('stops at a change it cannot apply, says so, and applies it and the rest in order later', async () => {
    const c = await fresh();
    let fail = true;
    const { feed: f, applied } = feed('fw-feed-fail', (x) => {
      if (x.seq === 2 && fail) {
        fail = false;
        throw new Error('the index is busy');
      }
    });
    const failures: string[] = [];
    f.on('failed', (err) => failures.push(err.message));
    await f.start();
    // One transaction: its four notifications arrive together, so no later one triggers the next try.
    await c.query('BEGIN');
    for (let n = 1; n <= 4; n++)
      await recordChange(c, SCHEMA, { kind: 'person', personId: `P${n}`, instance: 'writer' });
    await c.query('COMMIT');
    await until('all four', () => f.seq === 4, 3000, 5);
    assert.deepEqual(failures, ['the index is busy']);
    assert.deepEqual(
      applied.map((x) => x.seq),
      [1, 2, 3, 4],
    );
  });

  it("ignores another schema's changes in the same database", async () => {
    const c = await fresh();
    await migrate(c, 'other_site');
    const { feed: f, applied } = feed('fw-feed-mine', () => undefined);
    await f.start();
    await c.query('BEGIN');
    await recordChange(c, 'other_site', { kind: 'person', personId: 'THEIRS', instance: 'x' });
    await c.query('COMMIT');
    await change(c, 'MINE');
    await until('mine', () => f.seq === 1, 1000, 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      applied.map((x) => x.personId),
      ['MINE'],
    );
  });
});
