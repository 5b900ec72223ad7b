/**
 * ONVIF devices for the `face-camera` config node: reading what a camera offers (device information,
 * media profiles, stream and snapshot URIs) and asking one device service who it is. The device side
 * is the `onvif` package's `Cam`: SOAP, WS-Security UsernameToken digests, HTTP Digest fallback,
 * Media1 and Media2. Finding cameras on the network (WS-Discovery) is onvif-discovery.ts.
 */
import { Cam } from 'onvif';
import { redactor } from './url';
import type { CameraProfile, DiscoveredDevice } from '../types/camera';

export type { CameraProfile, DiscoveredDevice };

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

// ----- A little XML: WS-Discovery messages are small and fixed, and namespace prefixes vary -----

export function decodeXml(text: string): string {
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
export function elements(xml: string, local: string): string[] {
  const re = new RegExp(
    `<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${local}\\s*>)`,
    'g',
  );
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

/** The decoded, trimmed text of the first element with this local name. */
export function text(xml: string, local: string): string | undefined {
  const found = elements(xml, local)[0];
  return found === undefined ? undefined : decodeXml(found).trim();
}

export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

/** Drops the fields that are undefined, so that results compare and print cleanly. */
export function clean<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** Where a device service is, from what an operator typed: `host`, `host:port`, `[v6]:port` or a URL. */
export function parseAddress(input: string): { host: string; port: number; xaddr: string } {
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

// ----- Asking one device -----

/** Asks a device service directly who it is: its time (no login needed), then, if it lets us, its model. */
export async function identify(
  xaddr: string,
  options: { username?: string; password?: string },
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
