/**
 * `facewatch visitors` on a real store (a datafile with its detection log and visitors, made through
 * the same calls the detection log uses, then closed): list, show, merge, split and forget, each
 * audited as the command line; bad ids are usage errors and change nothing; the same on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeStore, openStore, storeEvents } from '../../lib/events/store-events';
import { eventVisitor } from '../../lib/events/visitors';
import type { OpenStore } from '../../lib/store/types';
import { cli } from '../helpers/cli';
import { createDatabase, type TestDatabase } from '../helpers/pg';
import { loggedEvent } from '../helpers/sample-event';
import { unitVector } from '../helpers/store-fixtures';

const T0 = Date.parse('2026-12-01T09:00:00Z');
const HOUR = 3_600_000;

/** Sightings of faces `seeds` at the times given, recorded as the detection log records them. */
async function sightings(store: OpenStore, seen: Array<[seed: number, time: number]>): Promise<string[]> {
  const events = storeEvents(store);
  const book = (await events.visitors())!;
  const log = await events.open();
  const ids: string[] = [];
  const shared = log as { ship?: () => Promise<void> };
  for (const [seed, time] of seen) {
    const e0 = {
      ...loggedEvent(new Date(time).toISOString(), null, { trackId: `t${time}` }),
      known: false,
      person: null,
    };
    const a = (await book.assign({
      frames: [{ descriptor: unitVector(seed), quality: 0.5 }],
      camera: 'door',
      time,
      event: e0.id,
    }))!;
    ids.push((await log.record({ ...e0, visitor: eventVisitor(a.visitor) })).id);
    // A shared store's event is in the database once its outbox shipped it.
    await shared.ship?.();
  }
  return ids;
}

const lines = (out: string): Array<Record<string, unknown>> =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('facewatch visitors', () => {
  let dir: string;
  let file: string;
  let events: string[];
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-visitors-cli-'));
    file = path.join(dir, 'faces.db');
    const store = await openStore({ file, actor: 'test' });
    try {
      events = await sightings(store, [
        [1, T0],
        [2, T0 + HOUR],
        [1, T0 + 2 * HOUR],
        [3, T0 + 3 * HOUR],
      ]);
    } finally {
      await closeStore(store);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists and shows visitors, the most visits first, with no descriptor', async () => {
    const list = await cli(['visitors', '--store', file]);
    assert.equal(list.code, 0, list.stderr);
    const out = lines(list.stdout);
    assert.deepEqual(
      out.map((v) => [v.id, v.visits, v.samples]),
      [
        ['VISITOR_0001', 2, 2],
        ['VISITOR_0003', 1, 1],
        ['VISITOR_0002', 1, 1],
      ],
    );
    assert.ok(!list.stdout.includes('descriptor'));
    const show = await cli(['visitors', '--store', file, 'show', 'VISITOR_0001']);
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual(
      (lines(show.stdout)[0].events as Array<{ id: string }>).map((e) => e.id),
      [events[0], events[2]],
    );
    const missing = await cli(['visitors', '--store', file, 'show', 'VISITOR_0099']);
    assert.equal(missing.code, 1);
    assert.deepEqual(lines(missing.stdout), [{ id: 'VISITOR_0099', error: 'no such visitor' }]);
    const bad = await cli(['visitors', '--store', file, 'forget', '../faces']);
    assert.equal(bad.code, 2, 'not a visitor id: a usage error');
    assert.match(bad.stderr, /not a visitor id/);
  });

  it('merges, splits and forgets, each audited as the command line', async () => {
    const merged = await cli(['visitors', '--store', file, 'merge', 'VISITOR_0001', 'VISITOR_0002']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.equal(lines(merged.stdout)[0].visits, 3);
    const split = await cli(['visitors', '--store', file, 'split', 'VISITOR_0001', events[1]]);
    assert.equal(split.code, 0, split.stderr);
    const parts = lines(split.stdout)[0] as { to: { id: string } };
    assert.equal(parts.to.id, 'VISITOR_0004');
    const into = await cli(['visitors', '--store', file, 'merge', 'VISITOR_0001', 'VISITOR_0001']);
    assert.equal(into.code, 1, 'a visitor into itself is refused');
    const forgot = await cli(['visitors', '--store', file, 'forget', 'VISITOR_0004', 'VISITOR_0003']);
    assert.equal(forgot.code, 0, forgot.stderr);
    assert.deepEqual(lines(forgot.stdout), [
      { id: 'VISITOR_0004', forgotten: true, events: 1 },
      { id: 'VISITOR_0003', forgotten: true, events: 1 },
    ]);
    const left = lines((await cli(['visitors', '--store', file])).stdout).map((v) => v.id);
    assert.deepEqual(left, ['VISITOR_0001']);
    const audit = readFileSync(path.join(dir, 'faces.audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: string });
    assert.deepEqual(
      audit.filter((a) => a.action.startsWith('visitor-')).map((a) => a.action),
      ['visitor-merge', 'visitor-split', 'visitor-forget', 'visitor-forget'],
    );
    assert.ok(audit.filter((a) => a.action.startsWith('visitor-')).every((a) => a.actor.startsWith('cli:')));
  });

  it('works on a store in PostgreSQL', async () => {
    let db: TestDatabase | undefined;
    try {
      db = await createDatabase();
      const url = `${db.url}?schema=facewatch`;
      const store = await openStore({
        backend: 'postgres',
        connection: { connectionString: db.url, max: 2 },
        instance: 'test',
        eventsFile: path.join(dir, 'pg', 'events.db'),
      });
      try {
        await sightings(store, [
          [7, T0],
          [7, T0 + 2 * HOUR],
        ]);
      } finally {
        await closeStore(store);
      }
      const list = await cli(['visitors', '--store', url], dir);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        lines(list.stdout).map((v) => [v.id, v.visits]),
        [['VISITOR_0001', 2]],
      );
      const forgot = await cli(['visitors', '--store', url, 'forget', 'VISITOR_0001'], dir);
      assert.equal(forgot.code, 0, forgot.stderr);
      assert.deepEqual(lines(forgot.stdout), [{ id: 'VISITOR_0001', forgotten: true, events: 2 }]);
      assert.equal((await cli(['visitors', '--store', url], dir)).stdout.trim(), '');
    } finally {
      await db?.drop();
    }
  });
});
