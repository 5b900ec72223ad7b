/**
 * A database of its own for each test, on the machine's PostgreSQL (127.0.0.1:5432, trust
 * authentication, as on every machine this project runs on; FACEWATCH_TEST_PG_URL names another
 * server's maintenance database). Each database is made by the test and dropped after it.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

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
