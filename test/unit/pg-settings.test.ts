/**
 * A PostgreSQL store's settings: what is accepted, what is refused with which words, and that a
 * password is never shown and never taken from a URL typed into the flow.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pgConnection, POOL_SIZE, typedPassword } from '../../lib/store/pg/settings';
import { openOptionsKey } from '../../lib/store/registry';

describe('PostgreSQL store settings', () => {
  it('makes the connection from the URL, the schema, the pool size and the credentials', () => {
    const c = pgConnection({
      url: 'postgres://db.local:5433/facewatch',
      schema: 'site_2',
      poolSize: 4,
      username: 'fw',
      password: 's3cret!',
    });
    assert.equal(c.schema, 'site_2');
    assert.equal(c.connection.connectionString, 'postgres://db.local:5433/facewatch');
    assert.equal(c.connection.max, 4);
    assert.equal(c.connection.user, 'fw');
    assert.equal(c.connection.password, 's3cret!');
    assert.equal(c.connection.connectionTimeoutMillis, 5000);
    const d = pgConnection({ url: 'postgresql://db.local/fw' });
    assert.equal(d.schema, 'facewatch');
    assert.equal(d.connection.max, POOL_SIZE.default);
  });

  it('shows the URL without its password', () => {
    const c = pgConnection({ url: 'postgres://fw:hunter2@db.local:5432/fw' });
    assert.doesNotMatch(c.shown, /hunter2/);
    assert.match(c.shown, /^postgres:\/\/fw:.+@db\.local:5432\/fw$/);
  });

  it('refuses what is not a database address, in words a user can act on, never echoing a password', () => {
    const refuse = (url: string, re: RegExp, extra = {}): void =>
      assert.throws(
        () => pgConnection({ url, ...extra }),
        (err: Error) => {
          assert.ok(err instanceof RangeError);
          assert.match(err.message, re);
          assert.doesNotMatch(err.message, /hunter2/);
          return true;
        },
        url,
      );
    refuse('', /no database address/);
    refuse('db.local:5432', /must start with postgres:\/\//);
    refuse('not a url at all', /is not a URL/);
    refuse('mysql://fw:hunter2@db.local/fw', /must start with postgres:\/\/ \(it starts with mysql:\/\/\)/);
    refuse('postgres://db.local', /names no database/);
    refuse('postgres://db.local/fw', /not a schema name/, { schema: 'Robert"; DROP' });
    refuse('postgres://db.local/fw', /poolSize must be a whole number from 2 to 100/, { poolSize: 1 });
    refuse('postgres://db.local/fw', /poolSize/, { poolSize: 2.5 });
  });

  it('tells a password typed into the URL from one that comes from a variable', () => {
    assert.equal(typedPassword('postgres://fw:hunter2@db.local/fw'), true);
    assert.equal(typedPassword('postgres://fw@db.local/fw'), false);
    assert.equal(typedPassword('postgres://db.local/fw'), false);
    assert.equal(typedPassword('${FACEWATCH_PG_URL}'), false);
    assert.equal(typedPassword('postgres://fw:${FACEWATCH_PG_PASSWORD}@db.local/fw'), false);
  });

  it('keys a store by URL, schema and user: nodes signing in as different users never share a pool', () => {
    const key = (username?: string, password?: string): string => {
      const c = pgConnection({ url: 'postgres://db.local/fw', username, password });
      return openOptionsKey({ backend: 'postgres', ...c, instance: 'x' });
    };
    assert.equal(key('alice', 'a'), key('alice', 'b'), 'one user, one pool');
    assert.notEqual(key('alice', 'a'), key('bob', 'a'));
    assert.notEqual(key(), key('bob'));
    assert.ok(!key('alice', 'secret-pw').includes('secret-pw'), 'no password in the key');
  });
});
