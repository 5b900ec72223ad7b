/**
 * The PostgreSQL schema of a face store shared by several Node-RED instances, created and upgraded
 * by versioned migrations.
 *
 * Each migration runs in one transaction of its own and is recorded in `<schema>.migrations` in the
 * same transaction, so a migration is either applied and recorded or neither. Instances that start
 * together take a transaction-level advisory lock per schema first, so one applies the migrations and
 * the others find them applied. An instance that finds a newer schema than it knows (another instance
 * was upgraded first) does not touch it and says so: it may read, it refuses to write.
 *
 * Tables (version 1): `people`, `samples` (descriptors as float32 bytes with their model id, face crops
 * as bytea), `store_meta` (the id counter and the model), `changes` (every change to people, numbered:
 * instances apply them in order and catch up from the last number they applied), `erasures` (the
 * journal of erasures not finished), `audit`. Version 2: `events` (detection events with their
 * snapshots and crops, from every instance). Version 3: an event's person is a reference to `people`
 * (deleting the person deletes their events in the same transaction, and an event of someone deleted
 * meanwhile cannot be written), `known`, and `face_ids`: the people named in the event's frame.
 * Version 4: pictures (event snapshots and crops, sample crops) are stored out of line uncompressed
 * (`STORAGE EXTERNAL`): they are JPEGs, which do not compress, and trying cost more than half of an
 * event's write (bench/scale.ts measured 2.5 times as many events a second without it).
 * Version 6: `events.samples` (the other face crops of an unknown passage, for enrolment from the
 * track). Version 5: recurring visitors (lib/events/pg-visitors.ts): `visitors` (each visitor's kept samples,
 * visits and cameras; a visitor that left keeps only its id and why, `gone`, until unknown retention
 * removes the row), the `visitor_numbers` sequence (ids unique across instances), and an event's
 * visitor as a column (`visitor_id`).
 */

/** One step of the schema. */
export interface Migration {
  /** 1, 2, …: the schema's version once applied. */
  readonly version: number;
  /** What it does, recorded beside the version. */
  readonly name: string;
  /** The statements, run in the store's schema (it is on the search path). */
  readonly sql: string;
}

/** The migrations this FaceWatch knows, oldest first; the schema's version is the count applied. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'people, samples, meta, changes, erasures and audit',
    sql: `
      CREATE TABLE people (
        id text PRIMARY KEY,
        name text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE samples (
        id text PRIMARY KEY,
        person_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        position integer NOT NULL,
        descriptor bytea NOT NULL,
        model_id text NOT NULL,
        image bytea,
        source text NOT NULL DEFAULT '',
        time timestamptz NOT NULL
      );
      CREATE INDEX samples_person ON samples (person_id, position);
      CREATE TABLE store_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        next_id bigint NOT NULL,
        model_id text,
        dim integer
      );
      INSERT INTO store_meta (id, next_id) VALUES (1, 1);
      CREATE TABLE changes (
        seq bigint PRIMARY KEY,
        kind text NOT NULL,
        person_id text,
        instance text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE erasures (
        id text PRIMARY KEY,
        name text NOT NULL,
        since timestamptz NOT NULL
      );
      CREATE TABLE audit (
        seq bigserial PRIMARY KEY,
        time timestamptz NOT NULL DEFAULT now(),
        action text NOT NULL,
        person_id text,
        name text,
        actor text NOT NULL,
        instance text NOT NULL,
        details jsonb
      );
      CREATE INDEX audit_person ON audit (person_id);
    `,
  },
  {
    version: 2,
    name: 'events with snapshots and crops',
    sql: `
      CREATE TABLE events (
        id text PRIMARY KEY,
        ts timestamptz NOT NULL,
        camera text NOT NULL,
        instance text NOT NULL,
        person_id text,
        event jsonb NOT NULL,
        snapshot bytea,
        crop bytea
      );
      CREATE INDEX events_ts ON events (ts);
      CREATE INDEX events_person ON events (person_id, ts);
      CREATE INDEX events_camera ON events (camera, ts);
    `,
  },
  {
    version: 3,
    name: 'events tied to their person, with the people in their frame',
    sql: `
      ALTER TABLE events
        ADD CONSTRAINT events_person FOREIGN KEY (person_id) REFERENCES people (id) ON DELETE CASCADE;
      ALTER TABLE events ADD COLUMN known boolean NOT NULL DEFAULT false;
      ALTER TABLE events ADD COLUMN face_ids text[] NOT NULL DEFAULT '{}';
      CREATE INDEX events_face_ids ON events USING gin (face_ids);
    `,
  },
  {
    version: 4,
    name: 'pictures stored uncompressed (JPEG does not compress)',
    sql: `
      ALTER TABLE events ALTER COLUMN snapshot SET STORAGE EXTERNAL, ALTER COLUMN crop SET STORAGE EXTERNAL;
      ALTER TABLE samples ALTER COLUMN image SET STORAGE EXTERNAL;
    `,
  },
  {
    version: 5,
    name: 'recurring visitors',
    sql: `
      CREATE TABLE visitors (
        id text PRIMARY KEY,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        visits integer NOT NULL,
        cameras text[] NOT NULL DEFAULT '{}',
        samples jsonb NOT NULL DEFAULT '[]',
        gone jsonb,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX visitors_last_seen ON visitors (last_seen);
      CREATE SEQUENCE visitor_numbers;
      ALTER TABLE events ADD COLUMN visitor_id text;
      UPDATE events SET visitor_id = event->'visitor'->>'id' WHERE event ? 'visitor';
      CREATE INDEX events_visitor ON events (visitor_id, ts) WHERE visitor_id IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'the other crops of an unknown passage with its event, to enrol from the track',
    sql: `
      ALTER TABLE events ADD COLUMN samples bytea[];
      ALTER TABLE events ALTER COLUMN samples SET STORAGE EXTERNAL;
    `,
  },
]);

/** The schema version this FaceWatch writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The default schema name. */
export const DEFAULT_SCHEMA = 'facewatch';

/** What {@link migrate} found and did. */
export interface SchemaState {
  /** The schema's version now. */
  version: number;
  /** The versions this call applied, in order. */
  applied: number[];
  /** False when the schema is newer than this FaceWatch knows: read it, write nothing. */
  writable: boolean;
  /** Why it is not writable; absent when it is. */
  problem?: string;
}

/** The one call of a pg client (a `pg.Client` or a pooled client) the migrations use. */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The schema name, checked (lower-case letters, digits and `_`, at most 63, not starting with a
 * digit: PostgreSQL's own limit, and nothing that needs quoting), as an identifier ready for SQL.
 * Throws a RangeError naming the bad name.
 */
export function schemaIdentifier(schema: string): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema) || schema.startsWith('pg_'))
    throw new RangeError(
      `schema ${JSON.stringify(String(schema).slice(0, 70))} is not a schema name FaceWatch uses: ` +
        'lower-case letters, digits and _ (at most 63, not starting with a digit or pg_)',
    );
  return `"${schema}"`;
}

/**
 * Creates the schema or brings it up to {@link SCHEMA_VERSION}, one migration per transaction,
 * under an advisory lock of the schema so that instances starting together apply each migration
 * once. Leaves a newer schema untouched (`writable: false`). `client` must be a single connection
 * (not a pool: a transaction needs one connection) and is left with the default search path.
 */
export async function migrate(
  client: SqlClient,
  schema: string = DEFAULT_SCHEMA,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<SchemaState> {
  const id = schemaIdentifier(schema);
  const known = migrations.length;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new RangeError(`migration ${i + 1} is numbered ${m.version}`);
  });
  const applied: number[] = [];
  for (;;) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`facewatch.migrate:${schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${id}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${id}.migrations (
           version integer PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${id}.migrations`);
      const version = Number(rows[0]?.v ?? 0);
      if (version >= known) {
        await client.query('COMMIT');
        if (version === known) return { version, applied, writable: true };
        return {
          version,
          applied,
          writable: false,
          problem:
            `the database schema ${schema} is at version ${version}, newer than this FaceWatch knows (${known}): ` +
            'another instance was upgraded first; upgrade this one to write',
        };
      }
      const next = migrations[version];
      await client.query(`SET LOCAL search_path TO ${id}`);
      try {
        await client.query(next.sql);
      } catch (err) {
        throw new Error(
          `migration ${next.version} (${next.name}) of the database schema ${schema} failed: ` +
            `${(err as Error).message}; nothing of it was applied`,
          { cause: err },
        );
      }
      await client.query(`INSERT INTO ${id}.migrations (version, name) VALUES ($1, $2)`, [
        next.version,
        next.name,
      ]);
      await client.query('COMMIT');
      applied.push(next.version);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}
