/**
 * A PostgreSQL face store's settings (the face-store node's `url`, `schema`, `poolSize` and its
 * `username` and `password` credentials) as node-postgres connection settings, checked, with the URL
 * as it may be shown.
 */
import type { PoolConfig } from 'pg';
import { displayUrl } from '../../camera/url';
import { CONNECTION_DEFAULTS } from './pg-store';
import { STORE } from '../../types/defaults';
import { DEFAULT_SCHEMA, schemaIdentifier } from './schema';

/** The settings as the node has them (the URL after Node-RED replaced its `${VAR}`s). */
export interface PgSettings {
  url: string;
  schema?: string;
  poolSize?: number;
  username?: string;
  password?: string;
}

/** What a store is opened with. */
export interface PgConnection {
  connection: PoolConfig;
  schema: string;
  /** The URL without its password, for statuses, logs and errors. */
  shown: string;
}

/** The pool sizes a store accepts: a batch holds one connection while its changes take another. */
export const POOL_SIZE = STORE.poolSize;

/**
 * True when a URL as typed (before `${VAR}`s are replaced) holds a password: a typed URL is saved in
 * the flow file in clear text, so its password belongs in the node's password credential (or in the
 * variable the URL names).
 */
export function typedPassword(rawUrl: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(rawUrl.trim()) && !/\$\{/.test(rawUrl.split('@')[0])
  );
}

/** Checks the settings and makes the connection settings; a RangeError names what is wrong. */
export function pgConnection(s: PgSettings): PgConnection {
  const text = typeof s.url === 'string' ? s.url.trim() : '';
  if (!text)
    throw new RangeError('no database address: set the URL (postgres://host:5432/database) or its variable');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(
      `the database URL ${displayUrl(text).slice(0, 80)} is not a URL (postgres://host:5432/database)`,
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new RangeError(`the database URL must start with postgres:// (it starts with ${url.protocol}//)`);
  if (!url.hostname) throw new RangeError('the database URL names no host (postgres://host:5432/database)');
  if (!url.pathname || url.pathname === '/')
    throw new RangeError('the database URL names no database (postgres://host:5432/database)');
  const schema = s.schema === undefined || s.schema === '' ? DEFAULT_SCHEMA : s.schema;
  schemaIdentifier(schema);
  const poolSize = s.poolSize === undefined ? POOL_SIZE.default : s.poolSize;
  if (!Number.isInteger(poolSize) || poolSize < POOL_SIZE.min || poolSize > POOL_SIZE.max)
    throw new RangeError(`poolSize must be a whole number from ${POOL_SIZE.min} to ${POOL_SIZE.max}`);
  const connection: PoolConfig = { ...CONNECTION_DEFAULTS, connectionString: url.href, max: poolSize };
  // The credentials win over what the URL says, and travel apart from it.
  if (s.username) connection.user = s.username;
  if (s.password) connection.password = s.password;
  return { connection, schema, shown: displayUrl(url.href) };
}
