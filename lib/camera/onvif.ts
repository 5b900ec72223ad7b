/**
 * ONVIF for the `face-camera` config node: finding cameras (WS-Discovery) and reading what a camera
 * offers (device information, media profiles, stream and snapshot URIs).
 *
 * The device side is the `onvif` package's `Cam`: SOAP, WS-Security UsernameToken digests, HTTP
 * Digest fallback, Media1 and Media2. The WS-Discovery probe is our own small UDP socket instead of
 * `onvif`'s `Discovery.probe`, because that one
 * - cannot probe one address (it always sends to the multicast group), which cameras on another
 *   subnet or behind Docker's bridge need;
 * - binds to the chosen interface's address but never sets IP_MULTICAST_IF: only Linux then routes
 *   the multicast out of that interface, and an interface name it does not know silently falls back
 *   to the default route, so a probe meant for `lo` can leave on the real network;
 * - is a process-wide singleton that emits `error` for every malformed reply: without a listener one
 *   stray datagram on the LAN throws an uncaught exception and takes Node-RED down.
 * Our probe binds to the chosen interface's address, sets the multicast interface to it explicitly,
 * refuses an interface it cannot find, keeps TTL 1, and only accepts replies to its own MessageID.
 */
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import os from 'node:os';
import { Cam } from 'onvif';
import { redactor } from './url';
import type { CameraProfile, DiscoveredDevice } from '../types/camera';

export type { CameraProfile, DiscoveredDevice };

/** The WS-Discovery multicast group (IPv4). */
export const WS_DISCOVERY_GROUP = '239.255.255.250';

/** The WS-Discovery UDP port. */
export const WS_DISCOVERY_PORT = 3702;

/** The path of an ONVIF device service, where cameras almost always put it. */
export const DEVICE_SERVICE_PATH = '/onvif/device_service';

/** What went wrong, for code that wants to react (or pick a translated text) without parsing messages. */
export type OnvifErrorCode =
  | 'bad-interface'
  | 'bad-address'
  | 'network'
  | 'timeout'
  | 'refused'
  | 'unreachable'
  | 'unknown-host'
  | 'unauthorized'
  | 'not-onvif'
  | 'no-media'
  | 'fault';

/** An error whose message is written for an operator; it never contains the password. */
export class OnvifError extends Error {
  constructor(
    readonly code: OnvifErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OnvifError';
  }
}

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /** How long to wait for answers, in milliseconds. */
  timeoutMs: number;
  /**
   * The network interface to probe on: its name (`eth0`, `lo`) or one of its IPv4 addresses. Without
   * it the operating system's default multicast route is used.
   */
  interface?: string;
  /**
   * Probe this one device instead of the whole network: `host`, `host:port` or a device service URL.
   * The probe goes unicast to the host's WS-Discovery port, and at the same time its device service
   * (`http://host[:port]/onvif/device_service`) is asked directly, so that cameras on another subnet
   * or behind Docker's bridge, where multicast does not pass, are found too.
   */
  address?: string;
  /** The WS-Discovery UDP port to probe (default 3702); tests use another one. */
  discoveryPort?: number;
  /** Used only with `address`, to read the device information; a wrong one is not an error here. */
  username?: string;
  password?: string;
}

/** Options of {@link readCamera}: where the camera is, its credentials and how long to wait. */
export interface ReadCameraOptions {
  /** The device service URL (from {@link discover}); or give `hostname` and `port`. */
  xaddr?: string;
  hostname?: string;
  /** The ONVIF HTTP port (default 80). */
  port?: number;
  username?: string;
  password?: string;
  /** The whole read must finish within this many milliseconds (default 10000). */
  timeoutMs?: number;
}

/** What {@link readCamera} learns about a camera. */
export interface CameraInfo {
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  /** The profiles that have a stream, largest resolution first (the main stream). */
  profiles: CameraProfile[];
  /** The camera's clock minus ours, in milliseconds (about; the camera reports whole seconds). */
  clockOffsetMs: number;
}

// ----- Network interfaces -----

/** A network interface discovery can probe on. */
export interface LocalInterface {
  name: string;
  address: string;
}

/** The IPv4 network interfaces discovery can probe on, loopback included. */
export function discoveryInterfaces(): LocalInterface[] {
  const out: LocalInterface[] = [];
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      // Node 18.0–18.3 reported the family as a number.
      if (a.family === 'IPv4' || (a.family as unknown) === 4) out.push({ name, address: a.address });
    }
  }
  return out;
}

function localInterface(choice: string | undefined): LocalInterface | undefined {
  if (!choice?.trim()) return undefined;
  const wanted = choice.trim();
  const all = discoveryInterfaces();
  const hit = all.find((i) => i.name === wanted) ?? all.find((i) => i.address === wanted);
  if (hit) return hit;
  const known = all.map((i) => `${i.name} (${i.address})`).join(', ') || 'none';
  throw new OnvifError(
    'bad-interface',
    `no network interface "${wanted}" with an IPv4 address on this machine; there are: ${known}`,
  );
}

// ----- A little XML: WS-Discovery messages are small and fixed, and namespace prefixes vary -----

function decodeXml(text: string): string {
  return text
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1')
    .replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (m, e: string) => {
      const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
      if (e[0] !== '#') return named[e.toLowerCase()] ?? m;
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    });
}

/** The raw contents of every element with this local name, whatever its prefix ('' when empty). */
function elements(xml: string, local: string): string[] {
  const re = new RegExp(
    `<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${local}\\s*>)`,
    'g',
  );
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

/** The decoded, trimmed text of the first element with this local name. */
function text(xml: string, local: string): string | undefined {
  const found = elements(xml, local)[0];
  return found === undefined ? undefined : decodeXml(found).trim();
}

// ----- WS-Discovery -----

function probeMessage(messageId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"' +
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"' +
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    '<s:Header>' +
    `<a:MessageID>${messageId}</a:MessageID>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>' +
    '</s:Header>' +
    '<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>' +
    '</s:Envelope>'
  );
}

function scopeValue(scopes: string[], ...keys: string[]): string | undefined {
  for (const key of keys) {
    const prefix = `onvif://www.onvif.org/${key}/`;
    const scope = scopes.find((s) => s.toLowerCase().startsWith(prefix.toLowerCase()));
    if (!scope) continue;
    const raw = scope.slice(prefix.length);
    try {
      return decodeURIComponent(raw) || undefined;
    } catch {
      return raw || undefined;
    }
  }
  return undefined;
}

function isIPv4(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

/** The devices in one WS-Discovery reply, or none when it is not a ProbeMatches for our probe. */
function probeMatches(xml: string, messageId: string, from: string): DiscoveredDevice[] {
  if (!/<(?:[\w.-]+:)?ProbeMatches[\s>/]/.test(xml)) return [];
  const relatesTo = text(xml, 'RelatesTo');
  // A reply naming another probe is someone else's; some cheap cameras leave RelatesTo out.
  if (relatesTo !== undefined && relatesTo !== messageId) return [];
  const out: DiscoveredDevice[] = [];
  for (const match of elements(xml, 'ProbeMatch')) {
    const urls = (text(match, 'XAddrs') ?? '').split(/\s+/).flatMap((s) => {
      try {
        const url = new URL(s);
        return url.protocol === 'http:' || url.protocol === 'https:' ? [url] : [];
      } catch {
        return [];
      }
    });
    // The one the reply came from, else an IPv4 one: several network cards or IPv6 give several.
    const url = urls.find((u) => hostOf(u) === from) ?? urls.find((u) => isIPv4(hostOf(u))) ?? urls[0];
    if (!url) continue;
    const scopes = (text(match, 'Scopes') ?? '').split(/\s+/).filter(Boolean);
    const address = hostOf(url);
    const model = scopeValue(scopes, 'hardware');
    out.push({
      name: scopeValue(scopes, 'name') ?? model ?? address,
      model,
      manufacturer: scopeValue(scopes, 'mfr', 'manufacturer'),
      address,
      port: portOf(url),
      xaddr: url.toString(),
      urn: text(elements(match, 'EndpointReference')[0] ?? '', 'Address') || undefined,
      scopes: scopes.length ? scopes : undefined,
    });
  }
  return out;
}

/** Adds a device to the list, or fills in what an earlier answer of the same device lacked. */
function merge(found: Map<string, DiscoveredDevice>, device: DiscoveredDevice): void {
  const key = device.urn ?? device.xaddr;
  const known = found.get(key);
  if (!known) {
    found.set(key, clean(device));
    return;
  }
  if (device.model !== undefined) known.model ??= device.model;
  if (device.manufacturer !== undefined) known.manufacturer ??= device.manufacturer;
  if (device.scopes) known.scopes = [...new Set([...(known.scopes ?? []), ...device.scopes])];
}

/** Drops the fields that are undefined, so that results compare and print cleanly. */
function clean<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

interface ProbeTarget {
  host: string;
  port: number;
  multicast: boolean;
  local?: LocalInterface;
  timeoutMs: number;
  /** Resolve at the first device (a unicast probe of one address). */
  first?: boolean;
}

/** Sends one WS-Discovery probe and collects the devices that answer it until the timeout. */
function probe(target: ProbeTarget): Promise<DiscoveredDevice[]> {
  return new Promise((resolve, reject) => {
    const messageId = `urn:uuid:${randomUUID()}`;
    const found = new Map<string, DiscoveredDevice>();
    const socket = dgram.createSocket('udp4');
    const timers: NodeJS.Timeout[] = [];
    const where = target.multicast
      ? `on ${target.local ? `${target.local.name} (${target.local.address})` : 'the default interface'}`
      : `to ${target.host}:${target.port}`;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      socket.removeAllListeners('message');
      try {
        socket.close();
      } catch {
        // Not bound yet: nothing to close.
      }
      if (err) reject(err);
      else resolve([...found.values()]);
    };
    const failed = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
        finish(new OnvifError('unknown-host', `unknown host "${target.host}"`));
      else
        finish(new OnvifError('network', `could not send the WS-Discovery probe ${where}: ${err.message}`));
    };
    socket.on('error', failed);
    socket.on('message', (msg, rinfo) => {
      for (const device of probeMatches(msg.toString('utf8'), messageId, rinfo.address)) merge(found, device);
      if (target.first && found.size) finish();
    });
    socket.bind({ port: 0, address: target.local?.address }, () => {
      try {
        if (target.multicast) {
          socket.setMulticastTTL(1);
          socket.setMulticastLoopback(true);
          if (target.local) socket.setMulticastInterface(target.local.address);
        }
      } catch (err) {
        failed(err as NodeJS.ErrnoException);
        return;
      }
      const message = Buffer.from(probeMessage(messageId), 'utf8');
      const send = (): void =>
        socket.send(message, target.port, target.host, (err) => {
          if (err) failed(err);
        });
      send();
      // WS-Discovery repeats a UDP message once, for lossy networks; answers to both are merged.
      if (target.timeoutMs >= 500) timers.push(setTimeout(send, 200));
      timers.push(setTimeout(() => finish(), target.timeoutMs));
    });
  });
}

/** Where a device service is, from what an operator typed: `host`, `host:port`, `[v6]:port` or a URL. */
function parseAddress(input: string): { host: string; port: number; xaddr: string } {
  const value = input.trim();
  // Whatever precedes an '@' may be a password: it is never repeated back.
  const shown = value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1***@');
  const bad = (): OnvifError =>
    new OnvifError(
      'bad-address',
      value.includes('@')
        ? `"${shown}" is not a camera address: give the user and password on their own, not in the address`
        : `"${shown}" is not a camera address: write host, host:port or an http:// URL`,
    );
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw bad();
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    !url.hostname ||
    url.username ||
    url.password
  )
    throw bad();
  if (url.pathname === '/' && !url.search) url.pathname = DEVICE_SERVICE_PATH;
  return { host: hostOf(url), port: portOf(url), xaddr: url.toString() };
}

/**
 * The device service URL an operator's `host`, `host:port` or URL names (what {@link discover}
 * probes), or an {@link OnvifError} `bad-address`.
 */
export function deviceServiceUrl(address: string): string {
  return parseAddress(address).xaddr;
}

/**
 * Finds ONVIF cameras. Without `address`, a WS-Discovery probe goes to the multicast group on the
 * chosen interface (or the default one) and every camera that answers within `timeoutMs` is listed,
 * each once; none answering gives an empty list. With `address`, that one device is probed directly
 * (unicast WS-Discovery and its device service at once), and it is an error when neither answers.
 *
 * Passing `interface: 'lo'` (or `'127.0.0.1'`) keeps every packet on the loopback interface: the
 * socket is bound to 127.0.0.1 and its multicast interface set to it, with TTL 1.
 *
 * @throws {@link OnvifError} for an unknown interface, a malformed address, a socket that cannot send,
 *   or (with `address`) a device that does not answer.
 */
export async function discover(options: DiscoverOptions): Promise<DiscoveredDevice[]> {
  const timeoutMs = Math.max(1, Math.round(options.timeoutMs));
  const local = localInterface(options.interface);
  const discoveryPort = options.discoveryPort ?? WS_DISCOVERY_PORT;
  if (!options.address?.trim()) {
    return probe({ host: WS_DISCOVERY_GROUP, port: discoveryPort, multicast: true, local, timeoutMs });
  }
  const target = parseAddress(options.address);
  const [udp, http] = await Promise.allSettled([
    probe({ host: target.host, port: discoveryPort, multicast: false, local, timeoutMs, first: true }),
    identify(target.xaddr, options, timeoutMs),
  ]);
  const probed = udp.status === 'fulfilled' ? udp.value : [];
  if (http.status === 'fulfilled') {
    // The address that answered is the one to use: behind NAT or Docker the camera's own XAddrs
    // name an address only it can see; the probe still gives its name and identity.
    const announced = probed[0];
    const device: DiscoveredDevice = {
      ...http.value,
      // The name an installer gave it (a scope) says more than its model does.
      name: announced?.name ?? http.value.name ?? target.host,
      model: http.value.model ?? announced?.model,
      manufacturer: http.value.manufacturer ?? announced?.manufacturer,
      urn: announced?.urn,
      scopes: announced?.scopes,
    };
    return [clean(device)];
  }
  if (probed.length) return probed;
  const why = [
    udp.status === 'rejected'
      ? (udp.reason as Error).message
      : `no reply to a WS-Discovery probe (udp ${discoveryPort})`,
    `device service ${target.xaddr}: ${(http.reason as Error).message}`,
  ];
  throw new OnvifError(
    http.reason instanceof OnvifError ? http.reason.code : 'timeout',
    `no ONVIF device answered at ${target.host}:${target.port} within ${seconds(timeoutMs)}: ${why.join('; ')}`,
  );
}

/** Asks a device service directly who it is: its time (no login needed), then, if it lets us, its model. */
async function identify(
  xaddr: string,
  options: DiscoverOptions,
  timeoutMs: number,
): Promise<Omit<DiscoveredDevice, 'name'> & { name?: string }> {
  const url = new URL(xaddr);
  const target = targetOf({ xaddr });
  const redact = redactor({ username: options.username, password: options.password });
  const cam = newCam(target, options.username, options.password, timeoutMs);
  const found = { address: hostOf(url), port: portOf(url), xaddr: url.toString() };
  const started = Date.now();
  try {
    await withDeadline(
      step<Date>('GetSystemDateAndTime', (cb) => cam.getSystemDateAndTime(cb)),
      timeoutMs,
      target,
    );
  } catch (err) {
    const error = explain(err, target, Boolean(options.username), timeoutMs, redact);
    // A device that refuses even its time without a login is still an ONVIF device.
    if (error.code === 'unauthorized') return found;
    throw error;
  }
  try {
    // Within what is left of the one timeout, like the probe beside it.
    const left = Math.max(1, started + timeoutMs - Date.now());
    const info = await withDeadline(
      step<unknown>('GetDeviceInformation', (cb) => cam.getDeviceInformation(cb)),
      left,
      target,
    );
    const manufacturer = text(info.xml, 'Manufacturer') || undefined;
    const model = text(info.xml, 'Model') || undefined;
    return clean({ ...found, name: model, model, manufacturer });
  } catch {
    // Most cameras want a login for their device information; finding them is enough here.
    return found;
  }
}

// ----- Reading a camera -----

interface Target {
  hostname: string;
  port: number;
  path: string;
  /** `host:port`, for messages. */
  label: string;
  /** HTTPS (the certificate is verified as usual). */
  secure: boolean;
}

function targetOf(options: Pick<ReadCameraOptions, 'xaddr' | 'hostname' | 'port'>): Target {
  if (options.xaddr) {
    const { host, port, xaddr } = parseAddress(options.xaddr);
    const url = new URL(xaddr);
    return {
      hostname: host,
      port,
      path: url.pathname + url.search,
      label: `${host}:${port}`,
      secure: url.protocol === 'https:',
    };
  }
  const hostname = options.hostname?.trim();
  if (!hostname) throw new OnvifError('bad-address', 'no camera address: give its xaddr or its hostname');
  const port = options.port ?? 80;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new OnvifError('bad-address', `${String(options.port)} is not a port number`);
  return { hostname, port, path: DEVICE_SERVICE_PATH, label: `${hostname}:${port}`, secure: false };
}

function newCam(
  target: Target,
  username: string | undefined,
  password: string | undefined,
  timeoutMs: number,
) {
  return new Cam({
    hostname: target.hostname,
    port: target.port,
    path: target.path,
    username: username || undefined,
    password: password || undefined,
    timeout: timeoutMs,
    useSecure: target.secure,
    autoconnect: false,
    // Cameras behind NAT or Docker announce service URLs with addresses only they can reach.
    preserveAddress: true,
  });
}

/** A failed ONVIF request, with the raw reply that explains it. */
class StepFailure extends Error {
  constructor(
    readonly step: string,
    readonly error: NodeJS.ErrnoException,
    readonly xml: string,
    readonly statusCode?: number,
  ) {
    super(`${step}: ${error.message}`);
  }
}

type StepCallback<T> = (err: Error | null, data?: T, xml?: string, statusCode?: number) => void;

/** One `Cam` request as a promise; a callback called twice (xml2js can) counts once. */
function step<T>(name: string, run: (cb: StepCallback<T>) => void): Promise<{ data: T; xml: string }> {
  return new Promise((resolve, reject) => {
    let done = false;
    try {
      run((err, data, xml, statusCode) => {
        if (done) return;
        done = true;
        if (err) reject(new StepFailure(name, err, typeof xml === 'string' ? xml : '', statusCode));
        else resolve({ data: data as T, xml: typeof xml === 'string' ? xml : '' });
      });
    } catch (err) {
      if (done) return;
      done = true;
      reject(new StepFailure(name, err instanceof Error ? err : new Error(String(err)), ''));
    }
  });
}

function isUnauthorized(failure: StepFailure): boolean {
  return (
    failure.statusCode === 401 ||
    /not\s*authori[sz]ed|unauthori[sz]ed|authentication failed|access denied/i.test(failure.error.message) ||
    /NotAuthorized|not\s+authori[sz]ed/i.test(failure.xml)
  );
}

/** Turns whatever failed into an operator's message, without the password. */
function explain(
  err: unknown,
  target: Target,
  hasCredentials: boolean,
  timeoutMs: number,
  redact: (text: string) => string,
): OnvifError {
  const make = (code: OnvifErrorCode, message: string) => new OnvifError(code, redact(message));
  if (err instanceof OnvifError) return make(err.code, err.message);
  if (!(err instanceof StepFailure)) return make('fault', `${target.label}: ${String(err)}`);
  const { step: name, error } = err;
  const at = `the camera at ${target.label}`;
  if (isUnauthorized(err))
    return hasCredentials
      ? make('unauthorized', `wrong user or password for ${at} (it refused ${name})`)
      : make('unauthorized', `${at} needs a user and password (it refused ${name} without them)`);
  switch (error.code) {
    case 'ECONNREFUSED':
      return make(
        'refused',
        `connection refused by ${target.label}: is that the camera's ONVIF port (often 80, 8000, 8080, 8899 or 2020)?`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make('unknown-host', `unknown host "${target.hostname}"`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return make('unreachable', `${target.hostname} cannot be reached from this machine (no route to it)`);
    case 'ETIMEDOUT':
      return make('timeout', `no answer from ${target.label} within ${seconds(timeoutMs)}`);
    case 'ECONNRESET':
    case 'EPIPE':
      return make('network', `${at} closed the connection during ${name}`);
  }
  if (/network timeout/i.test(error.message))
    return make('timeout', `no answer from ${target.label} within ${seconds(timeoutMs)}`);
  if (/wrong onvif soap response/i.test(error.message))
    return make(
      'not-onvif',
      `${target.label} answered ${name}, but not as an ONVIF device: check the port and the path (${target.path})`,
    );
  const fault = /^ONVIF SOAP Fault:\s*(.*)$/s.exec(error.message);
  if (fault) return make('fault', `${at} refused ${name}: ${fault[1].trim() || 'no reason given'}`);
  return make('fault', `${name} failed at ${target.label}: ${error.message}`);
}

/** Rejects with a timeout error when the promise takes longer than `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number, target: Target): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OnvifError('timeout', `no answer from ${target.label} within ${seconds(ms)}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A URI as returned to callers: never with credentials, even when the camera put them in. */
function withoutCredentials(uri: string, redact: (text: string) => string): string {
  let out = uri.trim();
  try {
    const url = new URL(out);
    if (url.username || url.password) {
      url.username = '';
      url.password = '';
      out = url.toString();
    }
  } catch {
    out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
  }
  // A password left in a query string (some snapshot URLs) is masked rather than handed on.
  return redact(out);
}

type Loose = Record<string, unknown>;

function field(value: unknown, ...path: string[]): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Loose)[key];
  }
  return at;
}

function num(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/**
 * Reads a camera over ONVIF: its clock first (GetSystemDateAndTime, no login needed), so that the
 * WS-Security timestamps of every later request use the camera's clock, not ours (camera clocks are
 * often hours off, and a camera refuses a token whose time is far from its own); then its services,
 * GetDeviceInformation, GetProfiles, and for each profile GetStreamUri (RTP unicast over RTSP) and
 * GetSnapshotUri. Profiles come largest resolution first, so `profiles[0]` is the main stream.
 *
 * Stream and snapshot URIs are returned without credentials (the caller adds them), and no error
 * message contains the password.
 *
 * @throws {@link OnvifError}: `unauthorized` ("wrong user or password …"), `timeout`, `refused`,
 *   `unreachable`, `unknown-host`, `not-onvif`, `no-media`, `fault`.
 */
export async function readCamera(options: ReadCameraOptions): Promise<CameraInfo> {
  const timeoutMs = Math.max(1, Math.round(options.timeoutMs ?? 10000));
  const redact = redactor({ username: options.username, password: options.password });
  let target: Target;
  try {
    target = targetOf(options);
  } catch (err) {
    throw err instanceof OnvifError ? new OnvifError(err.code, redact(err.message)) : err;
  }
  const cam = newCam(target, options.username, options.password, timeoutMs);
  try {
    return await withDeadline(read(cam, target, redact), timeoutMs, target);
  } catch (err) {
    throw explain(err, target, Boolean(options.username && options.password), timeoutMs, redact);
  }
}

async function read(cam: Cam, target: Target, redact: (text: string) => string): Promise<CameraInfo> {
  const time = await step<Date>('GetSystemDateAndTime', (cb) => cam.getSystemDateAndTime(cb));
  const clockOffsetMs = time.data instanceof Date ? time.data.getTime() - Date.now() : 0;

  // The service addresses: GetServices, or GetCapabilities on devices older than it.
  try {
    await step('GetServices', (cb) => cam.getServices(true, cb));
  } catch (err) {
    if (err instanceof StepFailure && isUnauthorized(err)) throw err;
    await step('GetCapabilities', (cb) => cam.getCapabilities(cb));
  }
  if (!cam.uri?.media && !cam.uri?.media2)
    throw new OnvifError(
      'no-media',
      `the device at ${target.label} has no media service: it is not a camera, or its ONVIF streaming profile is off`,
    );

  const info = await step<unknown>('GetDeviceInformation', (cb) => cam.getDeviceInformation(cb));
  // From the raw reply: the parsed one turns a firmware "5.10" into the number 5.1.
  const infoText = (name: string, key: string): string =>
    text(info.xml, name) ?? str(field(info.data, key)) ?? '';

  let profiles: unknown;
  try {
    profiles = (await step<unknown>('GetProfiles', (cb) => cam.getProfiles(cb))).data;
  } catch (err) {
    // Some cameras announce Media2 but answer it badly: Media1 it is then (as `Cam.connect` does).
    if (!cam.media2Support || !cam.uri?.media || (err instanceof StepFailure && isUnauthorized(err)))
      throw err;
    cam.media2Support = false;
    profiles = (await step<unknown>('GetProfiles', (cb) => cam.getProfiles(cb))).data;
  }

  const out: CameraProfile[] = [];
  let streamFailure: Error | undefined;
  for (const profile of Array.isArray(profiles) ? profiles : profiles ? [profiles] : []) {
    const token = str(field(profile, '$', 'token')) ?? str(field(profile, 'token'));
    if (!token) continue;
    const encoder = field(profile, 'videoEncoderConfiguration');
    let streamUri: string | undefined;
    try {
      const reply = await step<unknown>('GetStreamUri', (cb) =>
        cam.getStreamUri({ protocol: 'RTSP', stream: 'RTP-Unicast', profileToken: token }, cb),
      );
      streamUri = str(field(reply.data, 'uri'));
    } catch (err) {
      if (err instanceof StepFailure && isUnauthorized(err)) throw err;
      streamFailure ??= err instanceof Error ? err : new Error(String(err));
    }
    if (!streamUri) continue;
    let snapshotUri: string | undefined;
    try {
      const reply = await step<unknown>('GetSnapshotUri', (cb) =>
        cam.getSnapshotUri({ profileToken: token }, cb),
      );
      snapshotUri = str(field(reply.data, 'uri')) || undefined;
    } catch {
      // Many cameras have no snapshots; the stream is what matters.
    }
    out.push(
      clean({
        token,
        name: str(field(profile, 'name')) ?? token,
        width: num(field(encoder, 'resolution', 'width')),
        height: num(field(encoder, 'resolution', 'height')),
        encoding: str(field(encoder, 'encoding')),
        fps: num(field(encoder, 'rateControl', 'frameRateLimit')),
        streamUri: withoutCredentials(streamUri, redact),
        snapshotUri: snapshotUri === undefined ? undefined : withoutCredentials(snapshotUri, redact),
      }),
    );
  }
  if (!out.length) {
    if (streamFailure) throw streamFailure;
    throw new OnvifError('no-media', `the camera at ${target.label} has no media profile with a stream`);
  }
  const pixels = (p: CameraProfile): number => (p.width ?? 0) * (p.height ?? 0);
  out.sort((a, b) => pixels(b) - pixels(a));

  return {
    manufacturer: redact(infoText('Manufacturer', 'manufacturer')),
    model: redact(infoText('Model', 'model')),
    firmware: redact(infoText('FirmwareVersion', 'firmwareVersion')),
    serial: redact(infoText('SerialNumber', 'serialNumber')),
    profiles: out,
    clockOffsetMs,
  };
}
