/**
 * A database of its own for each test, on the machine's PostgreSQL (127.0.0.1:5432, trust
 * authentication, as on every machine this project runs on; FACEWATCH_TEST_PG_URL names another
 * server's maintenance database). Each database is made by the test and dropped after it.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { openStore } from '../../lib/events/store-events';
import type { PgStore } from '../../lib/store/pg/pg-store';

/** The maintenance database the tests make their databases from. */
export const ADMIN_URL = process.env.FACEWATCH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database made for one test: its URL, a client connected to it, and the drop. */
export interface TestDatabase {
  name: string;
  url: string;
  /** Closes every client of it and drops it. */
  drop(): Promise<void>;
  /** A new connected client of the database (closed by {@link drop}). */
  connect(): Promise<Client>;
}

/** Makes a new, empty database `fw_test_<random>`. */
export async function createDatabase(): Promise<TestDatabase> {
  const name = `fw_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const clients: Client[] = [];
  return {
    name,
    url: url.href,
    async connect() {
      const c = new Client({ connectionString: url.href });
      await c.connect();
      clients.push(c);
      return c;
    },
    async drop() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      const a = new Client({ connectionString: ADMIN_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/**
 * Every file of the database `client` is connected to, after a CHECKPOINT (so that what was written
 * is in the table files): the folder `base/<oid>` of the server's data directory. Reading it needs the
 * server's user or root, as the tests run.
 */
export async function databaseFiles(client: Client): Promise<string[]> {
  await client.query('CHECKPOINT');
  const dataDir = (await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]
    .d;
  const oid = (
    await client.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = current_database()')
  ).rows[0].oid;
  const dir = path.join(dataDir, 'base', String(oid));
  return readdirSync(dir).map((f) => path.join(dir, f));
}

/** The files among `files` that hold `needle` (a file gone meanwhile holds nothing). */
export function filesHolding(files: string[], needle: Buffer): string[] {
  return files.filter((f) => {
    try {
      return readFileSync(f).includes(needle);
    } catch {
      return false;
    }
  });
}

/**
 * An instance of a face store on PostgreSQL at `url` (schema facewatch), as a face-store node opens it
 * (its detection log attached), named `name`, its events' files in `dir/<name>/`.
 */
export async function openInstance(url: string, name: string, dir: string): Promise<PgStore> {
  return (await openStore({
    backend: 'postgres',
    connection: { connectionString: url, max: 4 },
    instance: name,
    actor: 'test',
    eventsFile: path.join(dir, name, 'events.db'),
  })) as PgStore;
}
