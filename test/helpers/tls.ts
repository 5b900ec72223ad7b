/** Throw-away TLS material for the tests, made with openssl. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Writes a self-signed certificate for `subject` (`/CN=…`), valid one day, with its RSA key, into
 * `dir` as `<name>.key` and `<name>.crt`; returns their paths. A leaf for a test server, or the CA
 * that signs others.
 */
export function selfSignedFiles(dir: string, name: string, subject: string): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      subject,
    ],
    { cwd: dir, stdio: 'ignore', timeout: 30000 },
  );
  return { key, cert };
}
