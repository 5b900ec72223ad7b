/**
 * The PostgreSQL schema's migrations, on the machine's real PostgreSQL, each test in a database it
 * makes and drops: a new database gets every migration once, instances starting together apply each
 * once, a failing migration leaves nothing of itself, a newer schema is left alone and refused for
 * writing, and a schema name is never SQL.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  migrate,
  MIGRATIONS,
  schemaIdentifier,
  SCHEMA_VERSION,
  type Migration,
} from '../../lib/store/pg/schema';
import { createDatabase, type TestDatabase } from '../helpers/pg';

describe('PostgreSQL schema migrations', () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  async function tables(schema: string): Promise<string[]> {
    const c = await db!.connect();
    const { rows } = await c.query<{ t: string }>(
      'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [schema],
    );
    return rows.map((r) => r.t);
  }

  it('creates the schema in a new database, every migration once and recorded', async () => {
    db = await createDatabase();
    const c = await db.connect();
    const first = await migrate(c);
    assert.deepEqual(first, {
      version: SCHEMA_VERSION,
      applied: MIGRATIONS.map((m) => m.version),
      writable: true,
    });
    assert.deepEqual(await tables('facewatch'), [
      'audit',
      'changes',
      'erasures',
      'events',
      'migrations',
      'people',
      'samples',
      'store_meta',
      'visitors',
    ]);
    const { rows } = await c.query('SELECT version, name FROM facewatch.migrations ORDER BY version');
    assert.deepEqual(
      rows,
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    assert.deepEqual(await migrate(c), { version: SCHEMA_VERSION, applied: [], writable: true });
    // The connection's search path is its own again: nothing later lands in the store's schema by accident.
    const path = await c.query<{ p: string }>("SELECT current_setting('search_path') AS p");
    assert.doesNotMatch(path.rows[0].p, /facewatch/);
  });

  it('applies each migration once when five instances start together', async () => {
    db = await createDatabase();
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => db!.connect()));
    const states = await Promise.all(clients.map((c) => migrate(c, 'shared')));
    const applied = states.flatMap((s) => s.applied).sort();
    assert.deepEqual(
      applied,
      MIGRATIONS.map((m) => m.version),
    );
    for (const s of states) assert.equal(s.version, SCHEMA_VERSION);
    const { rows } = await clients[0].query<{ n: number }>(
      'SELECT count(*)::int AS n FROM shared.migrations',
    );
    assert.equal(rows[0].n, SCHEMA_VERSION);
  });

  it('leaves nothing of a migration that fails, and keeps the ones before it', async () => {
    db = await createDatabase();
    const c = await db.connect();
    const broken: Migration[] = [
      MIGRATIONS[0],
      { version: 2, name: 'half a change', sql: 'CREATE TABLE half (x int); SELECT no_such_function();' },
    ];
    await assert.rejects(migrate(c, 'facewatch', broken), (err: Error) => {
      assert.match(
        err.message,
        /^migration 2 \(half a change\) of the database schema facewatch failed: .*no_such_function/,
      );
      assert.match(err.message, /nothing of it was applied$/);
      return true;
    });
    assert.ok(!(await tables('facewatch')).includes('half'));
    const { rows } = await c.query<{ v: number }>('SELECT max(version)::int AS v FROM facewatch.migrations');
    assert.equal(rows[0].v, 1);
    // The connection is usable after the failure, and the real migrations finish the job.
    assert.deepEqual(
      (await migrate(c)).applied,
      MIGRATIONS.slice(1).map((m) => m.version),
    );
  });

  it('leaves a newer schema alone and refuses to write to it', async () => {
    db = await createDatabase();
    const c = await db.connect();
    await migrate(c);
    await c.query(`INSERT INTO facewatch.migrations (version, name) VALUES ($1, 'from a newer FaceWatch')`, [
      SCHEMA_VERSION + 1,
    ]);
    const before = await tables('facewatch');
    const state = await migrate(c);
    assert.equal(state.writable, false);
    assert.equal(state.version, SCHEMA_VERSION + 1);
    assert.deepEqual(state.applied, []);
    assert.match(
      state.problem ?? '',
      new RegExp(`at version ${SCHEMA_VERSION + 1}, newer than this FaceWatch knows \\(${SCHEMA_VERSION}\\)`),
    );
    assert.deepEqual(await tables('facewatch'), before);
  });

  it('keeps two schemas of one database apart', async () => {
    db = await createDatabase();
    const c = await db.connect();
    await migrate(c, 'site_a');
    await migrate(c, 'site_b');
    await c.query(
      `INSERT INTO site_a.people (id, name, created_at, updated_at) VALUES ('P1', 'Ann', now(), now())`,
    );
    const b = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM site_b.people');
    assert.equal(b.rows[0].n, 0);
  });

  it('upgrades a version 3 schema in place: its events kept (their visitor a column), new pictures stored uncompressed, a column for passage crops', async () => {
    db = await createDatabase();
    const c = await db.connect();
    assert.equal((await migrate(c, 'facewatch', MIGRATIONS.slice(0, 3))).version, 3);
    // A JPEG-like picture that pglz can shrink (repeated bytes), so that compression would show.
    const picture = Buffer.alloc(40_000, 7);
    const insert = (id: string): Promise<unknown> =>
      c.query(
        `INSERT INTO facewatch.events (id, ts, camera, instance, event, snapshot, crop)
         VALUES ($1, now(), 'door', 'a', '{}', $2, $2)`,
        [id, picture],
      );
    await insert('before');
    await c.query(
      `INSERT INTO facewatch.events (id, ts, camera, instance, event) VALUES ('stranger', now(), 'door', 'a', $1)`,
      [JSON.stringify({ visitor: { id: 'VISITOR_0007' } })],
    );
    const state = await migrate(c);
    assert.deepEqual(state.applied, [4, 5, 6]);
    const visitors = await c.query<{ id: string; visitor_id: string | null }>(
      'SELECT id, visitor_id FROM facewatch.events ORDER BY id',
    );
    assert.deepEqual(visitors.rows, [
      { id: 'before', visitor_id: null },
      { id: 'stranger', visitor_id: 'VISITOR_0007' },
    ]);
    await c.query(`DELETE FROM facewatch.events WHERE id = 'stranger'`);
    await insert('after');
    const storage = await c.query<{ col: string; s: string }>(
      `SELECT c.relname || '.' || a.attname AS col, a.attstorage AS s FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'facewatch' AND a.attname IN ('snapshot', 'crop', 'image', 'samples')
         AND c.relkind = 'r' ORDER BY 1`,
    );
    assert.deepEqual(storage.rows, [
      { col: 'events.crop', s: 'e' },
      { col: 'events.samples', s: 'e' },
      { col: 'events.snapshot', s: 'e' },
      { col: 'samples.image', s: 'e' },
      { col: 'visitors.samples', s: 'x' },
    ]);
    const rows = await c.query<{ id: string; compressed: boolean; same: boolean }>(
      `SELECT id, pg_column_compression(snapshot) IS NOT NULL AS compressed, snapshot = $1 AS same
       FROM facewatch.events ORDER BY id`,
      [picture],
    );
    assert.deepEqual(rows.rows, [
      { id: 'after', compressed: false, same: true },
      { id: 'before', compressed: true, same: true },
    ]);
  });

  it('takes only plain schema names, never SQL', () => {
    assert.equal(schemaIdentifier('facewatch'), '"facewatch"');
    assert.equal(schemaIdentifier('site_2'), '"site_2"');
    for (const bad of [
      '',
      'Facewatch',
      'a-b',
      '2nd',
      'x"; DROP SCHEMA public; --',
      'pg_catalog',
      'a'.repeat(64),
    ])
      assert.throws(() => schemaIdentifier(bad), /is not a schema name FaceWatch uses/, bad);
    assert.throws(() => schemaIdentifier(undefined as unknown as string), RangeError);
  });
});
