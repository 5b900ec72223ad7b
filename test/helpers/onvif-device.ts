/**
 * A simulated ONVIF camera for the tests, on real sockets, loopback only:
 *
 * - an HTTP SOAP server on 127.0.0.1 (a free port) with the device and media services: the calls
 *   `onvif`'s Cam makes (GetSystemDateAndTime, GetServices, GetCapabilities, GetDeviceInformation,
 *   GetScopes, GetProfiles, GetVideoSources, GetStreamUri, GetSnapshotUri). Everything but the
 *   pre-authentication calls needs a WS-Security UsernameToken, verified as a camera does: the digest
 *   Base64(SHA1(nonce + created + password)), a nonce used once, and `created` within five minutes of
 *   the device's OWN clock, which can be set hours off: a client that stamps its tokens with its own
 *   clock is refused, as by a real camera with a wrong clock. Refusals are the SOAP fault
 *   env:Sender/ter:NotAuthorized with HTTP 400.
 * - a WS-Discovery responder: a UDP socket on 0.0.0.0:<port> (3702 by default, shared with reuseAddr)
 *   that joins 239.255.255.250 on 127.0.0.1 only and answers a Probe with a ProbeMatch (XAddrs,
 *   scopes, the probe's MessageID as RelatesTo). It answers loopback senders only, so it never sends
 *   a packet off the machine, whatever reaches it.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const LOOPBACK = '127.0.0.1';
const GROUP = '239.255.255.250';

/** How the simulated camera is set up; everything has a default. */
export interface OnvifDeviceOptions {
  username?: string;
  password?: string;
  /** How far the device's clock is from the real time, in milliseconds (settable later). */
  clockOffsetMs?: number;
  name?: string;
  model?: string;
  manufacturer?: string;
  firmware?: string;
  serial?: string;
  /** The WS-Discovery port: 3702 by default, 0 for a free one, null for no responder at all. */
  discoveryPort?: number | null;
  /** Put `user:password@` into the stream and snapshot URIs, as some cameras do. */
  credentialsInUris?: boolean;
  /** Advertise the media service under GetCapabilities only (GetServices answers ActionNotSupported). */
  noGetServices?: boolean;
  /** Also offer Media2 (ONVIF Profile T), which `onvif`'s Cam then prefers, as on most recent cameras. */
  media2?: boolean;
}

/** A request the device received. */
export interface SeenRequest {
  action: string;
  /** Media2 requests are told apart by their namespace. */
  media2: boolean;
  /** Whether it carried a valid token ('none' when it had none). */
  auth: 'none' | 'ok' | 'refused';
}

/** A WS-Discovery probe the responder received. */
export interface SeenProbe {
  from: string;
  port: number;
  messageId: string;
}

/** The running simulated camera. */
export interface OnvifDevice {
  host: string;
  /** Its HTTP port. */
  port: number;
  /** Its device service URL. */
  xaddr: string;
  /** Its WS-Discovery endpoint reference. */
  urn: string;
  /** The port its WS-Discovery responder listens on (undefined without a responder). */
  discoveryPort?: number;
  name: string;
  model: string;
  manufacturer: string;
  username: string;
  password: string;
  /** The device clock's offset from real time, in milliseconds; may be changed at any time. */
  clockOffsetMs: number;
  requests: SeenRequest[];
  probes: SeenProbe[];
  close(): Promise<void>;
}

// ----- XML helpers (the messages are small and fixed; prefixes vary) -----

function inner(xml: string, local: string): string | undefined {
  const re = new RegExp(
    `<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${local}\\s*>)`,
  );
  const m = re.exec(xml);
  return m ? (m[1] ?? '').trim() : undefined;
}

function escapeXml(value: string): string {
  return value.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}

const NS =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema"' +
  ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"' +
  ' xmlns:ter="http://www.onvif.org/ver10/error" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"';
const MEDIA2_NS = 'http://www.onvif.org/ver20/media/wsdl';

function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${NS}><s:Body>${body}</s:Body></s:Envelope>`;
}

function fault(subcode: string, reason: string): string {
  return envelope(
    '<s:Fault><s:Code><s:Value>s:Sender</s:Value>' +
      `<s:Subcode><s:Value>${subcode}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en">${escapeXml(reason)}</s:Text></s:Reason></s:Fault>`,
  );
}

/** The calls a camera answers without a login (ONVIF Core's PRE_AUTH access class). */
const PRE_AUTH = new Set(['GetSystemDateAndTime', 'GetServices', 'GetCapabilities', 'GetWsdlUrl']);

const PROFILES = [
  // The sub stream comes first on purpose: readCamera must put the main stream first itself.
  { token: 'sub', name: 'Sub stream', width: 640, height: 360, fps: 15, path: '102' },
  { token: 'main', name: 'Main stream', width: 1920, height: 1080, fps: 25, path: '101' },
];

/** Starts the simulated camera (HTTP and, unless `discoveryPort` is null, the discovery responder). */
export async function startOnvifDevice(options: OnvifDeviceOptions = {}): Promise<OnvifDevice> {
  const device: OnvifDevice = {
    host: LOOPBACK,
    port: 0,
    xaddr: '',
    urn: `urn:uuid:${randomUUID()}`,
    name: options.name ?? 'FaceWatch Test Cam',
    model: options.model ?? 'FW-SIM-1',
    manufacturer: options.manufacturer ?? 'FaceWatch',
    username: options.username ?? 'admin',
    password: options.password ?? 'secret',
    clockOffsetMs: options.clockOffsetMs ?? 0,
    requests: [],
    probes: [],
    close: async () => {},
  };
  const firmware = options.firmware ?? '5.10';
  const serial = options.serial ?? '0042-SIM';
  const usedNonces = new Set<string>();
  const now = (): Date => new Date(Date.now() + device.clockOffsetMs);
  const base = (): string => `http://${LOOPBACK}:${device.port}`;
  const userinfo = (): string =>
    options.credentialsInUris
      ? `${encodeURIComponent(device.username)}:${encodeURIComponent(device.password)}@`
      : '';

  /** Checks the UsernameToken as a camera does: 'none', 'ok' or 'refused'. */
  function authenticate(xml: string): SeenRequest['auth'] {
    const token = inner(xml, 'UsernameToken');
    if (token === undefined) return 'none';
    const username = inner(token, 'Username');
    const digest = inner(token, 'Password');
    const nonce = inner(token, 'Nonce');
    const created = inner(token, 'Created');
    if (!username || !digest || !nonce || !created) return 'refused';
    const createdMs = Date.parse(created);
    // Replay protection as cameras do it: the token's time against the device's own clock.
    if (!Number.isFinite(createdMs) || Math.abs(createdMs - now().getTime()) > 5 * 60_000) return 'refused';
    if (usedNonces.has(nonce)) return 'refused';
    const expected = createHash('sha1')
      .update(
        Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(device.password)]),
      )
      .digest();
    const given = Buffer.from(digest, 'base64');
    if (username !== device.username || given.length !== expected.length || !timingSafeEqual(given, expected))
      return 'refused';
    usedNonces.add(nonce);
    return 'ok';
  }

  function answer(action: string, xml: string): { status: number; body: string } {
    const ok = (body: string) => ({ status: 200, body: envelope(body) });
    const service = (ns: string, path: string) =>
      `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${base()}${path}</tds:XAddr>` +
      '<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>';
    const profileToken = inner(xml, 'ProfileToken');
    const profile = PROFILES.find((p) => p.token === profileToken);
    if (options.media2 && xml.includes(MEDIA2_NS)) return answerMedia2(action, xml);
    switch (action) {
      case 'GetSystemDateAndTime': {
        const t = now();
        return ok(
          '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
            '<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
            '<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>' +
            `<tt:Time><tt:Hour>${t.getUTCHours()}</tt:Hour><tt:Minute>${t.getUTCMinutes()}</tt:Minute>` +
            `<tt:Second>${t.getUTCSeconds()}</tt:Second></tt:Time>` +
            `<tt:Date><tt:Year>${t.getUTCFullYear()}</tt:Year><tt:Month>${t.getUTCMonth() + 1}</tt:Month>` +
            `<tt:Day>${t.getUTCDate()}</tt:Day></tt:Date>` +
            '</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
        );
      }
      case 'GetServices':
        if (options.noGetServices) break;
        return ok(
          '<tds:GetServicesResponse>' +
            service('http://www.onvif.org/ver10/device/wsdl', '/onvif/device_service') +
            service('http://www.onvif.org/ver10/media/wsdl', '/onvif/media_service') +
            (options.media2 ? service(MEDIA2_NS, '/onvif/media2_service') : '') +
            '</tds:GetServicesResponse>',
        );
      case 'GetCapabilities':
        return ok(
          '<tds:GetCapabilitiesResponse><tds:Capabilities>' +
            `<tt:Device><tt:XAddr>${base()}/onvif/device_service</tt:XAddr></tt:Device>` +
            `<tt:Media><tt:XAddr>${base()}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities>` +
            '<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>' +
            '<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>' +
            '</tds:Capabilities></tds:GetCapabilitiesResponse>',
        );
      case 'GetDeviceInformation':
        return ok(
          '<tds:GetDeviceInformationResponse>' +
            `<tds:Manufacturer>${escapeXml(device.manufacturer)}</tds:Manufacturer>` +
            `<tds:Model>${escapeXml(device.model)}</tds:Model>` +
            `<tds:FirmwareVersion>${escapeXml(firmware)}</tds:FirmwareVersion>` +
            `<tds:SerialNumber>${escapeXml(serial)}</tds:SerialNumber>` +
            '<tds:HardwareId>1</tds:HardwareId></tds:GetDeviceInformationResponse>',
        );
      case 'GetScopes':
        return ok(
          '<tds:GetScopesResponse>' +
            scopes()
              .map(
                (s) =>
                  `<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>${escapeXml(s)}</tt:ScopeItem></tds:Scopes>`,
              )
              .join('') +
            '</tds:GetScopesResponse>',
        );
      case 'GetVideoSources':
        return ok(
          '<trt:GetVideoSourcesResponse><trt:VideoSources token="vs0"><tt:Framerate>25</tt:Framerate>' +
            '<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>' +
            '</trt:VideoSources></trt:GetVideoSourcesResponse>',
        );
      case 'GetProfiles':
        return ok(
          '<trt:GetProfilesResponse>' +
            PROFILES.map(
              (p) =>
                `<trt:Profiles token="${p.token}" fixed="true"><tt:Name>${p.name}</tt:Name>` +
                '<tt:VideoSourceConfiguration token="vsc0"><tt:Name>VideoSource</tt:Name>' +
                '<tt:UseCount>2</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken>' +
                '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>' +
                `<tt:VideoEncoderConfiguration token="enc-${p.token}"><tt:Name>enc-${p.token}</tt:Name>` +
                '<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>' +
                `<tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution>` +
                '<tt:Quality>4</tt:Quality><tt:RateControl>' +
                `<tt:FrameRateLimit>${p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>` +
                '<tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>' +
                '<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>' +
                '<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>',
            ).join('') +
            '</trt:GetProfilesResponse>',
        );
      case 'GetStreamUri': {
        if (!profile) return { status: 400, body: fault('ter:InvalidArgVal', 'No such profile') };
        const stream = inner(xml, 'Stream');
        const protocol = inner(xml, 'Protocol');
        if (stream !== 'RTP-Unicast' || protocol !== 'RTSP')
          return { status: 400, body: fault('ter:InvalidArgVal', `Unsupported ${stream} over ${protocol}`) };
        const uri = `rtsp://${userinfo()}${LOOPBACK}:8554/Streaming/Channels/${profile.path}?transportmode=unicast&profile=${profile.token}`;
        return ok(
          `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${escapeXml(uri)}</tt:Uri>` +
            '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>' +
            '<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>' +
            '</trt:MediaUri></trt:GetStreamUriResponse>',
        );
      }
      case 'GetSnapshotUri': {
        if (!profile) return { status: 400, body: fault('ter:InvalidArgVal', 'No such profile') };
        const uri = `http://${userinfo()}${LOOPBACK}:${device.port}/onvif/snapshot/${profile.token}.jpg`;
        return ok(
          `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${escapeXml(uri)}</tt:Uri>` +
            '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>' +
            '<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>' +
            '</trt:MediaUri></trt:GetSnapshotUriResponse>',
        );
      }
    }
    return { status: 400, body: fault('ter:ActionNotSupported', `${action} is not supported`) };
  }

  /** The Media2 service: the same profiles in Media2's shapes. */
  function answerMedia2(action: string, xml: string): { status: number; body: string } {
    const profile = PROFILES.find((p) => p.token === inner(xml, 'ProfileToken'));
    switch (action) {
      case 'GetProfiles':
        return {
          status: 200,
          body: envelope(
            '<tr2:GetProfilesResponse>' +
              PROFILES.map(
                (p) =>
                  `<tr2:Profiles token="${p.token}" fixed="true"><tr2:Name>${p.name}</tr2:Name><tr2:Configurations>` +
                  '<tr2:VideoSource token="vsc0"><tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount>' +
                  '<tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/>' +
                  `</tr2:VideoSource><tr2:VideoEncoder token="enc-${p.token}" GovLength="50" Profile="Main">` +
                  `<tt:Name>enc-${p.token}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
                  `<tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution>` +
                  `<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>${p.fps}</tt:FrameRateLimit>` +
                  '<tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl><tt:Quality>4</tt:Quality>' +
                  '</tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>',
              ).join('') +
              '</tr2:GetProfilesResponse>',
          ),
        };
      case 'GetStreamUri':
      case 'GetSnapshotUri': {
        if (!profile) return { status: 400, body: fault('ter:InvalidArgVal', 'No such profile') };
        const protocol = inner(xml, 'Protocol');
        if (action === 'GetStreamUri' && protocol !== 'RTSP')
          return { status: 400, body: fault('ter:InvalidArgVal', `Unsupported protocol ${protocol}`) };
        const uri =
          action === 'GetStreamUri'
            ? `rtsp://${userinfo()}${LOOPBACK}:8554/Streaming/Channels/${profile.path}?transportmode=unicast&profile=${profile.token}`
            : `http://${userinfo()}${LOOPBACK}:${device.port}/onvif/snapshot/${profile.token}.jpg`;
        return {
          status: 200,
          body: envelope(
            `<tr2:${action}Response><tr2:Uri>${escapeXml(uri)}</tr2:Uri></tr2:${action}Response>`,
          ),
        };
      }
    }
    return { status: 400, body: fault('ter:ActionNotSupported', `Media2 ${action} is not supported`) };
  }

  function scopes(): string[] {
    return [
      'onvif://www.onvif.org/type/video_encoder',
      'onvif://www.onvif.org/Profile/Streaming',
      `onvif://www.onvif.org/name/${encodeURIComponent(device.name)}`,
      `onvif://www.onvif.org/hardware/${encodeURIComponent(device.model)}`,
      'onvif://www.onvif.org/location/country/nowhere',
    ];
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const xml = Buffer.concat(chunks).toString('utf8');
      const action = /<(?:[\w.-]+:)?Body[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)/.exec(xml)?.[1] ?? '(none)';
      const auth = authenticate(xml);
      device.requests.push({ action, media2: xml.includes(MEDIA2_NS), auth });
      const reply =
        action === 'GetSystemDateAndTime' || (auth === 'none' && PRE_AUTH.has(action)) || auth === 'ok'
          ? answer(action, xml)
          : { status: 400, body: fault('ter:NotAuthorized', 'Sender not Authorized') };
      res.writeHead(reply.status, { 'Content-Type': 'application/soap+xml; charset=utf-8' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  device.port = (server.address() as AddressInfo).port;
  device.xaddr = `${base()}/onvif/device_service`;

  let responder: dgram.Socket | undefined;
  if (options.discoveryPort !== null) {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (msg, rinfo) => {
      // Never answer (and so never send) anywhere but loopback.
      if (!rinfo.address.startsWith('127.')) return;
      const xml = msg.toString('utf8');
      if (!/<(?:[\w.-]+:)?Probe[\s>/]/.test(xml)) return;
      const messageId = inner(xml, 'MessageID') ?? '';
      const types = inner(xml, 'Types') ?? '';
      if (types && !/NetworkVideoTransmitter|Device/.test(types)) return;
      device.probes.push({ from: rinfo.address, port: rinfo.port, messageId });
      const reply =
        '<?xml version="1.0" encoding="UTF-8"?>' +
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"' +
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
        ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"' +
        ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">' +
        '<SOAP-ENV:Header>' +
        `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID>` +
        `<wsa:RelatesTo>${escapeXml(messageId)}</wsa:RelatesTo>` +
        '<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>' +
        '<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>' +
        '</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>' +
        `<wsa:EndpointReference><wsa:Address>${device.urn}</wsa:Address></wsa:EndpointReference>` +
        '<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>' +
        `<d:Scopes>${escapeXml(scopes().join(' '))}</d:Scopes>` +
        `<d:XAddrs>${device.xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>` +
        '</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>';
      socket.send(reply, rinfo.port, rinfo.address);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.discoveryPort ?? 3702, '0.0.0.0', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.addMembership(GROUP, LOOPBACK);
      socket.setMulticastInterface(LOOPBACK);
      socket.setMulticastTTL(1);
    } catch (err) {
      socket.close();
      server.close();
      throw err;
    }
    socket.on('error', () => {
      // A send to a vanished prober fails; the next probe is answered all the same.
    });
    device.discoveryPort = socket.address().port;
    responder = socket;
  }

  device.close = async () => {
    await new Promise<void>((resolve) => {
      if (!responder) return resolve();
      responder.close(() => resolve());
    });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return device;
}

/** A UDP port that was free a moment ago (for a WS-Discovery port nothing answers on). */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A TCP port that was free a moment ago (for a camera address that refuses connections). */
export async function freeTcpPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
