import type { Request, Response, NextFunction } from 'express';
import type { NodeAPI } from './red';

/** Permission scopes FaceWatch's admin routes use (Node-RED's `<name>.read` / `<name>.write`). */
export type Permission = 'facewatch.read' | 'facewatch.write' | 'flows.read' | 'flows.write';

/**
 * What a route handler returns (or a promise of it): a JSON body (answered with status 200),
 * an explicit `{status, body, type?, headers?}` object, or {@link ANSWERED} when the handler wrote
 * the response itself (a stream).
 */
export type RouteResult = unknown;

/** Returned by a handler that answers by itself (a multipart stream): adminRoute then stays out. */
export const ANSWERED = Symbol('answered');

/** What a handler may ask of the route it runs in. */
export interface RouteContext {
  /**
   * Whether the caller is still allowed: the caller's token checked again (a stream outlives the
   * moment it was checked at; a token that expired or was revoked since ends it).
   */
  stillAllowed(): Promise<boolean>;
}

export interface AdminRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Path under Node-RED's admin root, always starting with `/facewatch/`. */
  path: string;
  permission: Permission;
  /** The response is the handler's to write when it returns {@link ANSWERED}. */
  handler: (req: Request, res: Response, ctx: RouteContext) => RouteResult;
  /** Answer 504 when the handler has not finished by then. */
  timeoutMs?: number;
  /**
   * The status for a signed-in user whose token lacks `permission`: Node-RED's own 401 (default),
   * or 403, which tells a page "signed in, but not allowed" apart from "not signed in".
   */
  denyStatus?: 401 | 403;
  /** Headers set on every answer of the route (e.g. `Cache-Control: no-store`). */
  headers?: Record<string, string>;
}

/** An error whose `status` becomes the HTTP status of the answer (400, 404, 409...). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra fields of the `{error}` body (a machine-readable `code`, ...). */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
  }
}

interface Explicit {
  status: number;
  body: unknown;
  type?: string;
  headers?: Record<string, string>;
}

function isExplicit(v: unknown): v is Explicit {
  if (typeof v !== 'object' || v === null || !('status' in v) || !('body' in v)) return false;
  const extra = Object.keys(v).filter((k) => k !== 'status' && k !== 'body');
  return extra.length <= 2 && extra.every((k) => k === 'type' || k === 'headers');
}

type Guard = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Why a request from a web page of another site is refused, or undefined when it is not one.
 *
 * Node-RED's admin API answers `Access-Control-Allow-Origin: *`, and without adminAuth needs no
 * token, so any page open in a browser on the same machine could call FaceWatch's routes (delete
 * people, read faces). A browser says where a request comes from: `Sec-Fetch-Site` (every current
 * browser) is `same-origin` for the Face Library and the editor, `none` for an address typed or
 * bookmarked, `same-site` or `cross-site` for another page (another port of the same host is
 * `same-site`); without it, an `Origin` must name the host the request was sent to. Requests
 * without either (curl, scripts) are not a browser's and pass on to the permission check.
 */
export function crossSiteProblem(req: Pick<Request, 'headers'>): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== '') {
    const s = site.trim().toLowerCase();
    return s === 'same-origin' || s === 'none' ? undefined : `a request from another site (${s}) is refused`;
  }
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === '') return undefined;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return `a request from another site (Origin ${origin.slice(0, 100)}) is refused`;
  }
  const hosts = [req.headers['x-forwarded-host'], req.headers.host]
    .flatMap((h) => (typeof h === 'string' ? h.split(',') : []))
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  return hosts.includes(host)
    ? undefined
    : `a request from another site (Origin ${origin.slice(0, 100)}) is refused`;
}

/** Runs Node-RED's permission check again on a request whose answer has started: true when it passes. */
function recheck(guard: Guard, req: Request): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean): void => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    // Only the calls Node-RED's guard and passport make on a refusal: each of them means "refused".
    const refused: Record<string, unknown> = {
      statusCode: 200,
      setHeader: () => undefined,
      set: () => refused,
      status: () => refused,
      json: () => done(false),
      send: () => done(false),
      end: () => done(false),
    };
    try {
      guard(req, refused as unknown as Response, (err?: unknown) => done(!err));
    } catch {
      done(false);
    }
  });
}

/**
 * Node-RED's permission check, with its 401 for a signed-in user who lacks the permission turned
 * into `denyStatus` (an anonymous caller keeps Node-RED's 401).
 */
function permissionGuard(RED: NodeAPI, route: AdminRoute): Guard {
  const guard = RED.auth.needsPermission(route.permission) as Guard;
  if (route.denyStatus !== 403) return guard;
  return (req, res, next) => {
    const status = res.status.bind(res);
    res.status = ((code: number) => {
      if (code === 401 && (req as Request & { user?: unknown }).user) {
        res.status = status;
        // Node-RED ends the refusal with an empty body; ours names the permission.
        return {
          end: () => void status(403).json({ error: `you do not have permission (${route.permission})` }),
        } as unknown as Response;
      }
      return status(code);
    }) as Response['status'];
    guard(req, res, (err?: unknown) => {
      res.status = status;
      next(err);
    });
  };
}

/**
 * Registers an admin route that refuses requests from other sites (see {@link crossSiteProblem}),
 * always checks `RED.auth.needsPermission` and always answers:
 * with the handler's result, with the status of a thrown HttpError, with 500 for any other
 * failure, or with 504 when the handler hangs. Error bodies are `{error: message}`.
 */
export function adminRoute(RED: NodeAPI, route: AdminRoute): void {
  if (!route.path.startsWith('/facewatch/'))
    throw new Error(`admin route outside /facewatch/: ${route.path}`);
  const timeoutMs = route.timeoutMs ?? 30000;
  const guard = permissionGuard(RED, route);
  const plainGuard = RED.auth.needsPermission(route.permission) as Guard;
  // Before the permission check: a page of another site gets its 403 whatever its token.
  const sameSite: Guard = (req, res, next) => {
    const problem = crossSiteProblem(req);
    if (!problem) return next();
    res
      .status(403)
      .set(route.headers ?? {})
      .json({ error: problem });
  };
  RED.httpAdmin[route.method](route.path, sameSite, guard, (req: Request, res: Response) => {
    let answered = false;
    if (route.headers) res.set(route.headers);
    const answer = (status: number, body: unknown, type?: string, headers?: Record<string, string>): void => {
      if (answered || res.headersSent) return;
      answered = true;
      clearTimeout(timer);
      if (headers) res.set(headers);
      if (type) res.status(status).type(type).send(body);
      else res.status(status).json(body);
    };
    const timer = setTimeout(() => answer(504, { error: 'timed out' }), timeoutMs);
    Promise.resolve()
      .then(() => route.handler(req, res, { stillAllowed: () => recheck(plainGuard, req) }))
      .then(
        (result) => {
          if (result === ANSWERED) {
            answered = true;
            clearTimeout(timer);
          } else if (isExplicit(result)) answer(result.status, result.body, result.type, result.headers);
          else answer(200, result ?? {});
        },
        (err: unknown) => {
          const status = err instanceof HttpError ? err.status : 500;
          const message = err instanceof Error ? err.message : 'internal error';
          if (status === 500)
            RED.log.error(`facewatch admin ${route.method.toUpperCase()} ${route.path}: ${message}`);
          answer(status, { ...(err instanceof HttpError ? err.extra : {}), error: message });
        },
      );
  });
}
