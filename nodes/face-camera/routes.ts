import type { Request, Response } from 'express';
import { cameraInput } from '../../lib/camera/ffmpeg';
import { deviceServiceUrl, OnvifError, readCamera } from '../../lib/camera/onvif-device';
import { discover, discoveryInterfaces } from '../../lib/camera/onvif-discovery';
import { probeCamera } from '../../lib/camera/probe';
import { sameOrigin } from '../../lib/camera/url';
import { CAMERA, isChoice, type CameraSource } from '../../lib/types/defaults';
import type { FaceCameraCredentials } from '../../lib/types/node-settings';
import { adminRoute, HttpError, type Permission } from '../shared/admin';
import type { NodeAPI } from '../shared/red';

/** What the editor sends for a password it did not change (Node-RED's placeholder). */
const PLACEHOLDER = '__PWRD__';

/** Where a deployed face-camera's stored credentials may be sent. */
export interface CameraAddresses {
  source: CameraSource;
  /** The URL as saved, `${VAR}`s and all. */
  rawUrl: string;
  /** The URL it runs with (`${VAR}`s substituted). */
  url: string;
  /** The ONVIF device service it was set up from ('' when none). */
  onvifAddress: string;
}

/** What a deployed face-camera node shows its admin routes. */
export interface DeployedCamera {
  addresses: CameraAddresses;
}

interface CredentialBody {
  /**
   * A deployed face-camera's id: its stored credentials fill in what the form lacks (a password left
   * as the editor's placeholder), toward that camera's own address only.
   */
  id?: unknown;
  username?: unknown;
  password?: unknown;
}

function text(v: unknown, what: string, max = 2048): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw new HttpError(400, `${what} must be text`);
  // A lone UTF-16 surrogate is half a character: no URL, no UTF-8 and no camera can carry it.
  if (/\p{Cs}/u.test(v))
    throw new HttpError(400, `${what} is not valid text (it holds half of a UTF-16 character)`);
  return v;
}

/** The deployed face-camera `id` names, or a 400 saying why its stored credentials cannot be used. */
function deployedCamera(RED: NodeAPI, id: string): DeployedCamera & { type: string } {
  const node = RED.nodes.getNode(id) as (Partial<DeployedCamera> & { type?: string }) | null;
  if (!node)
    throw new HttpError(
      400,
      `no deployed face-camera "${id}": deploy the camera first, or type its user and password`,
    );
  if (node.type !== 'face-camera' || !node.addresses)
    throw new HttpError(
      400,
      `node "${id}" is not a face-camera: only a deployed camera's own stored credentials can be used`,
    );
  return node as DeployedCamera & { type: string };
}

/** The credentials to use, and whether a stored password was held back from the address asked for. */
interface Credentials {
  username?: string;
  password?: string;
  withheld: boolean;
}

/**
 * The credentials to use: those typed in the form; for a password left as the editor's placeholder
 * (or an empty user name), those stored for the deployed camera `body.id`, but only when `target`
 * has the scheme, host and port of that camera's own address (`allowed`). Any other id is a 400: a
 * broker's password, or a camera's toward a host of the caller's choosing, is never sent.
 */
function credentialsOf(
  RED: NodeAPI,
  body: CredentialBody,
  target: string | undefined,
  allowed: (camera: CameraAddresses) => string | undefined,
): Credentials {
  const id = text(body.id, 'id', 64);
  const typedUser = text(body.username, 'username', 256);
  const typed = text(body.password, 'password', 256);
  const typedPassword = typed === PLACEHOLDER ? undefined : typed;
  if (!id) return { username: typedUser, password: typedPassword, withheld: false };
  const camera = deployedCamera(RED, id);
  if (typedUser !== undefined && typedPassword !== undefined)
    return { username: typedUser, password: typedPassword, withheld: false };
  const stored =
    (
      RED.nodes as unknown as { getCredentials(id: string): Partial<FaceCameraCredentials> | undefined }
    ).getCredentials(id) ?? {};
  if (!target || !sameOrigin(target, allowed(camera.addresses)))
    return { username: typedUser, password: typedPassword, withheld: Boolean(stored.password) };
  return {
    username: typedUser ?? (stored.username || undefined),
    password: typedPassword ?? (stored.password || undefined),
    withheld: false,
  };
}

/** Added to a refusal when the stored password was held back. */
const WITHHELD =
  "the camera's stored password is used only for its own deployed address: type the password to try this one";

function timeout(v: unknown, def: number, max: number): number {
  // A number, or its text as a form sends it; anything else (null, a list, an object) is a mistake.
  const given = typeof v === 'number' || (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v));
  const n = v === undefined || v === '' ? def : given ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new HttpError(400, 'timeout must be a positive number of seconds');
  return Math.min(n, max) * 1000;
}

/**
 * Whether the signed-in user (if any) has `permission` too, asked of Node-RED's own check (so its
 * scopes, `*` and `read`/`write` forms hold); always true without adminAuth.
 */
function hasPermission(RED: NodeAPI, req: Request, permission: Permission): Promise<boolean> {
  return new Promise((resolve) => {
    const refuse = (): void => resolve(false);
    // Node-RED refuses with res.status(401).end() (or passport with res.end()); nothing reaches the client.
    const res = {
      statusCode: 200,
      status: () => ({ end: refuse, json: refuse, send: refuse }),
      setHeader: () => undefined,
      end: refuse,
    } as unknown as Response;
    const guard = RED.auth.needsPermission(permission) as (
      req: Request,
      res: Response,
      next: (err?: unknown) => void,
    ) => void;
    guard(req, res, (err?: unknown) => resolve(!err));
  });
}

/**
 * The face-camera editor's admin routes: Test connection, the network interfaces for discovery,
 * Discover, and reading a found camera's profiles. Every route checks `facewatch.write` (they open
 * connections from the Node-RED host), takes credentials in the body (never in a query string) and
 * never answers with a password. A deployed camera's stored password goes only to that camera's own
 * address; testing a file or a device (the Node-RED host's own files) also needs `flows.write`.
 */
export function registerCameraRoutes(RED: NodeAPI): void {
  adminRoute(RED, {
    method: 'post',
    path: '/facewatch/camera/test',
    permission: 'facewatch.write',
    timeoutMs: 40000,
    handler: async (req) => {
      const body = (req.body ?? {}) as CredentialBody & {
        url?: unknown;
        source?: unknown;
        transport?: unknown;
        timeout?: unknown;
      };
      const written = text(body.url, 'url')?.trim();
      if (!written) throw new HttpError(400, 'no camera address: set the URL');
      if (body.source !== undefined && body.source !== '' && !isChoice(CAMERA.source, body.source))
        throw new HttpError(400, `source must be one of ${CAMERA.source.values.join(', ')}`);
      const source: CameraSource = isChoice(CAMERA.source, body.source) ? body.source : CAMERA.source.default;
      if (source !== 'network' && !(await hasPermission(RED, req, 'flows.write')))
        throw new HttpError(
          403,
          `testing a ${source} camera reads the Node-RED host's ${source === 'file' ? 'files' : 'devices'}: it needs the flows.write permission`,
        );
      // A `${VAR}` is resolved only as the deployed camera resolved it, for its own saved URL: the
      // route never reads an environment variable into an address a caller chose.
      const id = text(body.id, 'id', 64);
      let url = written;
      if (written.includes('${')) {
        const camera = id ? deployedCamera(RED, id) : undefined;
        if (!camera || camera.addresses.rawUrl !== written)
          throw new HttpError(
            400,
            'the URL names a variable (${...}): Test connection resolves it only for a deployed camera with this URL; deploy it first, or write the address',
          );
        url = camera.addresses.url;
      }
      try {
        cameraInput(url, source);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      const transport = isChoice(CAMERA.transport, body.transport)
        ? body.transport
        : CAMERA.transport.default;
      const credentials = credentialsOf(RED, body, url, (camera) =>
        camera.source === 'network' ? camera.url : undefined,
      );
      const result = await probeCamera(
        {
          name: 'test',
          url,
          source,
          transport,
          username: credentials.username,
          password: credentials.password,
        },
        timeout(body.timeout, 15, 30),
      );
      if (!result.ok && result.kind === 'unauthorized' && credentials.withheld)
        return { ...result, reason: `${result.reason}: ${WITHHELD}` };
      return result;
    },
  });

  adminRoute(RED, {
    method: 'get',
    path: '/facewatch/camera/interfaces',
    permission: 'facewatch.read',
    handler: () => ({ interfaces: discoveryInterfaces() }),
  });

  adminRoute(RED, {
    method: 'post',
    path: '/facewatch/camera/discover',
    permission: 'facewatch.write',
    timeoutMs: 40000,
    handler: async (req) => {
      const body = (req.body ?? {}) as CredentialBody & {
        interface?: unknown;
        address?: unknown;
        timeout?: unknown;
      };
      const port = Number(process.env.FACEWATCH_WSD_PORT);
      const address = text(body.address, 'address', 256);
      let target: string | undefined;
      try {
        target = address?.trim() ? deviceServiceUrl(address) : undefined;
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      const credentials = credentialsOf(RED, body, target, (camera) => camera.onvifAddress);
      const timeoutMs = timeout(body.timeout, 3, 30);
      const iface = text(body.interface, 'interface', 64);
      try {
        const devices = await discover({
          timeoutMs,
          interface: iface,
          address,
          discoveryPort: Number.isInteger(port) && port > 0 ? port : undefined,
          username: credentials.username,
          password: credentials.password,
        });
        return { devices };
      } catch (err) {
        // Not this route's failure: a wrong interface is the caller's, a silent device the network's.
        const code = err instanceof OnvifError ? err.code : undefined;
        throw new HttpError(
          code === 'bad-address' || code === 'bad-interface' ? 400 : 502,
          (err as Error).message,
        );
      }
    },
  });

  adminRoute(RED, {
    method: 'post',
    path: '/facewatch/camera/profiles',
    permission: 'facewatch.write',
    timeoutMs: 40000,
    handler: async (req) => {
      const body = (req.body ?? {}) as CredentialBody & { xaddr?: unknown; timeout?: unknown };
      const xaddr = text(body.xaddr, 'xaddr');
      if (!xaddr) throw new HttpError(400, 'no device address (xaddr)');
      let target: string;
      try {
        target = deviceServiceUrl(xaddr);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      const credentials = credentialsOf(RED, body, target, (camera) => camera.onvifAddress);
      const timeoutMs = timeout(body.timeout, 10, 30);
      try {
        return await readCamera({
          xaddr,
          timeoutMs,
          username: credentials.username,
          password: credentials.password,
        });
      } catch (err) {
        const unauthorized = err instanceof OnvifError && err.code === 'unauthorized';
        throw new HttpError(
          502,
          `${(err as Error).message}${unauthorized && credentials.withheld ? `: ${WITHHELD}` : ''}`,
        );
      }
    },
  });
}
