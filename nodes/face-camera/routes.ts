import { discover, discoveryInterfaces, readCamera } from '../../lib/camera/onvif';
import { probeCamera } from '../../lib/camera/probe';
import { CAMERA, isChoice } from '../../lib/types/defaults';
import type { FaceCameraCredentials } from '../../lib/types/node-settings';
import { adminRoute, HttpError } from '../shared/admin';
import type { NodeAPI } from '../shared/red';

/** What the editor sends for a password it did not change (Node-RED's placeholder). */
const PLACEHOLDER = '__PWRD__';

interface CredentialBody {
  /** The face-camera's id: a deployed camera's stored credentials are used for what the form lacks. */
  id?: unknown;
  username?: unknown;
  password?: unknown;
}

function text(v: unknown, what: string, max = 2048): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw new HttpError(400, `${what} must be text`);
  return v;
}

/**
 * The credentials to use: those typed in the form, else (for a password left as the editor's
 * placeholder, or a field left empty) those stored for the deployed camera.
 */
function credentialsOf(RED: NodeAPI, body: CredentialBody): { username?: string; password?: string } {
  const id = text(body.id, 'id', 64);
  const stored = id
    ? ((
        RED.nodes as unknown as { getCredentials(id: string): Partial<FaceCameraCredentials> | undefined }
      ).getCredentials(id) ?? {})
    : {};
  const typedUser = text(body.username, 'username', 256);
  const typedPassword = text(body.password, 'password', 256);
  return {
    username: typedUser ?? (stored.username || undefined),
    password:
      typedPassword !== undefined && typedPassword !== PLACEHOLDER
        ? typedPassword
        : stored.password || undefined,
  };
}

function timeout(v: unknown, def: number, max: number): number {
  const n = Number(v ?? def);
  if (!Number.isFinite(n) || n <= 0) throw new HttpError(400, 'timeout must be a positive number of seconds');
  return Math.min(n, max) * 1000;
}

/**
 * The face-camera editor's admin routes: Test connection, the network interfaces for discovery,
 * Discover, and reading a found camera's profiles. Every route checks `facewatch.write` (they open
 * connections from the Node-RED host), takes credentials in the body (never in a query string) and
 * never answers with a password.
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
        transport?: unknown;
        timeout?: unknown;
      };
      const url = text(body.url, 'url');
      if (!url) throw new HttpError(400, 'no camera address: set the URL');
      const transport = isChoice(CAMERA.transport, body.transport)
        ? body.transport
        : CAMERA.transport.default;
      const result = await probeCamera(
        { name: 'test', url: url.trim(), transport, ...credentialsOf(RED, body) },
        timeout(body.timeout, 15, 30),
      );
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
      const devices = await discover({
        timeoutMs: timeout(body.timeout, 3, 30),
        interface: text(body.interface, 'interface', 64),
        address: text(body.address, 'address', 256),
        discoveryPort: Number.isInteger(port) && port > 0 ? port : undefined,
        ...credentialsOf(RED, body),
      });
      return { devices };
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
      try {
        return await readCamera({
          xaddr,
          timeoutMs: timeout(body.timeout, 10, 30),
          ...credentialsOf(RED, body),
        });
      } catch (err) {
        throw new HttpError(502, (err as Error).message);
      }
    },
  });
}
