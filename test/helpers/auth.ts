/** Node-RED's adminAuth in the tests: tokens asked for as the README's REST section does. */
import assert from 'node:assert/strict';

/** POST /auth/token with a user's password: Node-RED's answer as it is (200, or 401/403 refused). */
export function requestToken(
  url: string,
  username: string,
  password: string,
  scope = '*',
): Promise<Response> {
  return fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password }),
  });
}

/** A user's access token; the test fails, with Node-RED's answer, when none is given. */
export async function adminToken(
  url: string,
  username: string,
  password: string,
  scope = '*',
): Promise<string> {
  const res = await requestToken(url, username, password, scope);
  const text = await res.text();
  assert.equal(res.status, 200, `a token for ${username}: ${text}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const bcrypt = require('bcryptjs') as { hashSync(s: string, rounds: number): string };

/**
 * Node-RED's `adminAuth` setting with one user per entry of `users` (name → permissions, as
 * Node-RED takes them: `'*'`, `'read'` or a list), every one with `password`.
 */
export function adminAuthSettings(
  password: string,
  users: Record<string, string | string[]>,
): {
  type: 'credentials';
  users: Array<{ username: string; password: string; permissions: string | string[] }>;
} {
  const hash = bcrypt.hashSync(password, 8);
  return {
    type: 'credentials',
    users: Object.entries(users).map(([username, permissions]) => ({
      username,
      password: hash,
      permissions,
    })),
  };
}
