import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/env';
import { freePort, stopChild, waitForHttp } from '../helpers/nodered';

describe('npm start', () => {
  const userDir = mkdtempSync(path.join(os.tmpdir(), 'fw-start-'));
  after(() => rmSync(userDir, { recursive: true, force: true }));

  it('serves the editor on loopback with the example flow loaded and no error in the log', async () => {
    const port = await freePort();
    let log = '';
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      env: { ...process.env, FACEWATCH_USER_DIR: userDir, FACEWATCH_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitForHttp(`http://127.0.0.1:${port}/`, child, 90000);
      const deadline = Date.now() + 90000;
      while (!/Started flows/.test(log) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      assert.match(log, /Started flows/);
      assert.match(log, new RegExp(`Server now running at http://127.0.0.1:${port}/`));

      const example = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as {
        id: string;
      }[];
      const res = await fetch(`http://127.0.0.1:${port}/flows`);
      assert.equal(res.status, 200);
      const deployed = (await res.json()) as { id: string }[];
      assert.deepEqual(deployed.map((n) => n.id).sort(), example.map((n) => n.id).sort());

      const nodes = (await (
        await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { accept: 'application/json' } })
      ).json()) as {
        module: string;
        types: string[];
        enabled: boolean;
        err?: string;
      }[];
      const ours = nodes.filter((n) => n.module === 'node-red-contrib-facewatch');
      assert.ok(ours.length > 0, 'FaceWatch nodes are installed');
      for (const set of ours) assert.equal(set.err, undefined, `${set.types.join(',')}: ${set.err}`);
      // Let the example flow's nodes start their engines before judging the log.
      await new Promise((r) => setTimeout(r, 3000));
      assert.doesNotMatch(log, /\[error\]/, log);
      assert.doesNotMatch(log, /\[warn\].*(face|facewatch)/i, log);
    } finally {
      await stopChild(child);
    }
  });
});
