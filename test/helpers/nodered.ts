/**
 * Runs a real Node-RED process for end-to-end tests: a temporary user directory with FaceWatch
 * linked in (as `npm start` does), a generated settings file, an optional flow, optional extra node
 * folders (the test-only probe node), on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NODE_RED_DIR, ROOT } from './env';

export interface NodeRedOptions {
  flows?: object[];
  /** Extra settings, serialised into settings.js (JSON values only). */
  settings?: Record<string, unknown>;
  nodesDir?: string;
  env?: Record<string, string>;
  /** Credentials by node id, written to flows_cred.json unencrypted (Node-RED reads and then encrypts them). */
  credentials?: Record<string, Record<string, string>>;
  /** Runs on the new user directory before Node-RED starts (files an earlier run would have left). */
  prepare?: (userDir: string) => void;
  /** The process's working directory (default the repository root; the user directory with `'userDir'`). */
  cwd?: 'userDir';
}

export interface RunningNodeRed {
  url: string;
  port: number;
  userDir: string;
  log: () => string;
  /** The pid of the Node-RED process running now. */
  pid(): number | undefined;
  /** Stops Node-RED (its files stay), runs `between` (a CLI command on its store), starts it again. */
  restart(between?: () => Promise<void> | void): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until `url` answers (any HTTP status) or the process dies. */
export async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null)
      throw new Error(`process exited with ${child.exitCode} before ${url} answered`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Stops a child by escalation: SIGTERM, then SIGKILL after a grace period. */
export function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startNodeRed(opts: NodeRedOptions = {}): Promise<RunningNodeRed> {
  const userDir = mkdtempSync(path.join(os.tmpdir(), 'fw-nodered-'));
  mkdirSync(path.join(userDir, 'node_modules'));
  symlinkSync(ROOT, path.join(userDir, 'node_modules', 'node-red-contrib-facewatch'), 'dir');
  const port = await freePort();
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'test-secret',
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    editorTheme: { tours: false, palette: { catalogues: [] } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...(opts.nodesDir ? { nodesDir: opts.nodesDir } : {}),
    ...opts.settings,
  };
  writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify(settings, null, 2)};\n`,
  );
  writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(opts.flows ?? []));
  if (opts.credentials)
    writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(opts.credentials));
  opts.prepare?.(userDir);
  const red = path.join(NODE_RED_DIR, 'red.js');
  let log = '';
  let child: ChildProcess;
  const url = `http://127.0.0.1:${port}`;
  const launch = async (): Promise<void> => {
    child = spawn(
      process.execPath,
      [red, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
      {
        cwd: opts.cwd === 'userDir' ? userDir : ROOT,
        env: { ...process.env, ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitForHttp(`${url}/`, child);
    } catch (err) {
      await stopChild(child);
      throw new Error(`${(err as Error).message}\n${log}`);
    }
  };
  await launch();
  return {
    url,
    port,
    userDir,
    log: () => log,
    pid: () => child.pid,
    async restart(between?: () => Promise<void> | void) {
      await stopChild(child);
      await between?.();
      log += '\n--- restarted ---\n';
      await launch();
    },
    async stop() {
      await stopChild(child);
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** Waits until Node-RED has started its flows (or fails with the log). */
export async function waitForLog(nr: RunningNodeRed, pattern: RegExp, timeoutMs = 60000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pattern.test(nr.log())) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`log never matched ${pattern}:\n${nr.log()}`);
}
