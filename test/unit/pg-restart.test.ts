/**
 * PostgreSQL stopped and started under two instances (a private cluster the test makes with initdb on
 * a free port; the machine's own server is never stopped): the instances keep naming people from
 * memory, refuse changes with EDB_DOWN and say since when the database is unreachable; events wait in
 * the outbox on disk; when the server is back every event is written exactly once and in order, and
 * the instances catch up with the changes made after.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { SharedEventLog } from '../../lib/events/shared-log';
import { closeStore, storeEvents } from '../../lib/events/store-events';
import { isStoreError } from '../../lib/store/errors';
import type { PgStore } from '../../lib/store/pg/pg-store';
import type { DetectionEvent } from '../../lib/types/events';
import { openInstance } from '../helpers/pg';
import { startCluster, type PgCluster } from '../helpers/pg-cluster';
import { loggedEvent } from '../helpers/sample-event';
import { MODEL, unitVector } from '../helpers/store-fixtures';
import { until } from '../helpers/wait';

describe('PostgreSQL stopped and started under two instances', () => {
  let cluster: PgCluster;
  let dir: string;
  const stores: PgStore[] = [];
  before(async () => {
    cluster = await startCluster();
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-pg-restart-'));
  });
  after(async () => {
    for (const s of stores) await closeStore(s).catch(() => undefined);
    await cluster?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names from memory and keeps events in the outbox while it is down; writes each once, in order, and catches up when it is back', async () => {
    const open = async (name: string): Promise<PgStore> => {
      const s = await openInstance(cluster.url, name, dir);
      stores.push(s);
      return s;
    };
    const north = await open('north');
    const south = await open('south');
    const ann = await south.addPerson({ name: 'Ann Example' }, { descriptor: unitVector(1), modelId: MODEL });
    await until('north to know her', () => north.getPerson(ann.id), 2000, 5);
    const log = await storeEvents(north).open();
    assert.ok(log instanceof SharedEventLog);

    await cluster.stop();
    await until('north to see the database gone', () => north.availability().down, 15_000, 50);
    assert.equal(north.match(unitVector(1), MODEL).person?.id, ann.id, 'still named from memory');
    await assert.rejects(
      north.addPerson({ name: 'Bob' }, { descriptor: unitVector(2), modelId: MODEL }),
      (err: unknown) => isStoreError(err) && err.code === 'EDB_DOWN',
    );
    const recorded: DetectionEvent[] = [];
    for (let i = 0; i < 10; i++)
      recorded.push(
        await log.record(
          loggedEvent(new Date(Date.now() - 10_000 + i * 100).toISOString(), i % 2 ? ann : null),
        ),
      );
    assert.equal((await log.query({ limit: 50 })).length, 10, 'the waiting events are shown');
    assert.equal((await log.outbox()).waiting, 10);

    await cluster.start();
    await until('the outbox to drain', async () => (await log.outbox()).waiting === 0, 30_000, 100);
    await until('north to be back', () => north.availability().down === null, 15_000, 50);
    // South's feed reconnects on its own timer (up to 2 s apart): a change it makes before that is
    // saved but answered with EDB_DOWN (it has not come back to it yet): both must be back first.
    await until('south to be back', () => south.availability().down === null, 15_000, 50);
    const c = new Client({ connectionString: cluster.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ id: string }>(
        `SELECT id FROM facewatch.events ORDER BY xmin::text::bigint, id`,
      );
      assert.deepEqual(
        rows.map((r) => r.id),
        recorded.map((e) => e.id).sort(),
        'each event once, oldest first',
      );
    } finally {
      await c.end();
    }
    // Changes after the restart reach the other instance, and north writes again.
    const bob = await south.addPerson({ name: 'Bob Example' }, { descriptor: unitVector(2), modelId: MODEL });
    await until('north to know him', () => north.getPerson(bob.id), 5000, 10);
    const cara = await north.addPerson(
      { name: 'Cara Example' },
      { descriptor: unitVector(3), modelId: MODEL },
    );
    await until('south to know her', () => south.getPerson(cara.id), 5000, 10);
  });
});
