/**
 * A private Mosquitto on a free port of 127.0.0.1, for tests that stop and restart their broker
 * (the machine's own Mosquitto at 1883 is never touched). Persistence is off unless asked for, so
 * a restart loses retained messages as a real broker without persistence does.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { IN_CI } from './env';
import { selfSignedFiles } from './tls';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Mosquitto {
  port: number;
  url: string;
  /** With TLS: the test CA's certificate, and a client certificate and key it signed (PEM files). */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** Starts it (again, on the same port); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL); resolves once it exited. */
  stop(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A throw-away certificate authority for a TLS test: the CA, a server certificate for 127.0.0.1 and
 * a client certificate, made with openssl in `dir` (valid one day).
 */
function makeCertificates(dir: string): {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
} {
  const f = (name: string): string => path.join(dir, name);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  // The CA: ca.key and ca.crt.
  selfSignedFiles(dir, 'ca', '/CN=facewatch-test-ca');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [who, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'facewatch-test-client'],
  ]) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${who}.crt`),
      '-days',
      '1',
      ...(who === 'server' ? ['-extfile', f('server.ext')] : []),
    );
  }
  return {
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
  };
}

/**
 * Starts a private broker. `persistence`: keep sessions and retained messages across a clean restart.
 * `tls`: an `mqtts://` listener with a certificate from a throw-away CA; `requireCertificate`: clients
 * must show a certificate that CA signed.
 */
export async function startMosquitto(
  opts: { persistence?: boolean; tls?: boolean; requireCertificate?: boolean } = {},
): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  const certs = opts.tls ? makeCertificates(dir) : undefined;
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...(certs
        ? [
            `cafile ${certs.ca}`,
            `certfile ${certs.serverCert}`,
            `keyfile ${certs.serverKey}`,
            `require_certificate ${opts.requireCertificate ? 'true' : 'false'}`,
            // Run as root (tests, CI), mosquitto would switch to its own user, who cannot read the key.
            'user root',
          ]
        : []),
      'allow_anonymous true',
      opts.persistence ? 'persistence true' : 'persistence false',
      `persistence_location ${dir}/`,
      'log_dest none',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const broker: Mosquitto = {
    port,
    url: `${certs ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    tls: certs ? { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } : undefined,
    async start() {
      if (child) return;
      const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
      child = proc;
      proc.once('exit', () => {
        if (child === proc) child = undefined;
      });
      const until = Date.now() + 10000;
      while (!(await accepts(port))) {
        if (Date.now() > until || !child) throw new Error(`mosquitto did not listen on ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      child = undefined;
    },
    async dispose() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

/** Retained messages under `filters` right now, as a fresh subscriber sees them after `waitMs`. */
export async function retainedNow(
  url: string,
  filters: string | string[],
  waitMs = 400,
): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(url);
  const seen = new Map<string, string>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) seen.set(topic, payload.toString());
  });
  await client.subscribeAsync(filters, { qos: 1 });
  await new Promise((r) => setTimeout(r, waitMs));
  await client.endAsync();
  return seen;
}

/** Clears every retained topic under `filters` on a broker (a test's own base topic, at the end). */
export async function clearRetained(url: string, filters: string[]): Promise<void> {
  const left = await retainedNow(url, filters, 300);
  const client = await mqtt.connectAsync(url);
  for (const [t, payload] of left)
    if (payload.length) await client.publishAsync(t, '', { retain: true, qos: 1 });
  await client.endAsync();
}

/**
 * The retained messages on the broker at `url` now, by topic (those under `filter`): a fresh client
 * subscribes, collects what the broker sends as retained for a second, and leaves.
 */
export async function retainedMessages(url: string, filter = '#'): Promise<Map<string, Buffer>> {
  const client = await mqtt.connectAsync(url);
  const seen = new Map<string, Buffer>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain && payload.length) seen.set(topic, payload);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  await new Promise((r) => setTimeout(r, 1000));
  await client.endAsync();
  return seen;
}

/** Why a suite that starts its own mosquitto is skipped (none installed); under CI that is a failure. */
export function mosquittoSkip(): string | undefined {
  if (existsSync(MOSQUITTO)) return undefined;
  const why = `mosquitto not found at ${MOSQUITTO}`;
  if (IN_CI) throw new Error(`required under CI: ${why}`);
  return why;
}
