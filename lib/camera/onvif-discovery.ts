/**
 * ONVIF discovery for the `face-camera` config node: finding cameras with WS-Discovery, on the
 * network or at one address (reading a camera is onvif-device.ts). The WS-Discovery probe is our own
 * small UDP socket instead of `onvif`'s `Discovery.probe`, because that one
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
import type { DiscoveredDevice } from '../types/camera';
import {
  clean,
  elements,
  hostOf,
  identify,
  OnvifError,
  parseAddress,
  portOf,
  seconds,
  text,
} from './onvif-device';

/** The WS-Discovery multicast group (IPv4). */
export const WS_DISCOVERY_GROUP = '239.255.255.250';

/** The WS-Discovery UDP port. */
export const WS_DISCOVERY_PORT = 3702;

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
