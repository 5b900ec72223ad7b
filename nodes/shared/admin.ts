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

export interface AdminRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Path under Node-RED's admin root, always starting with `/facewatch/`. */
  path: string;
  permission: Permission;
  /** The response is the handler's to write when it returns {@link ANSWERED}. */
  handler: (req: Request, res: Response) => RouteResult;
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
 * Registers an admin route that always checks `RED.auth.needsPermission` and always answers:
 * with the handler's result, with the status of a thrown HttpError, with 500 for any other
 * failure, or with 504 when the handler hangs. Error bodies are `{error: message}`.
 */
export function adminRoute(RED: NodeAPI, route: AdminRoute): void {
  if (!route.path.startsWith('/facewatch/'))
    throw new Error(`admin route outside /facewatch/: ${route.path}`);
  const timeoutMs = route.timeoutMs ?? 30000;
  const guard = permissionGuard(RED, route);
  RED.httpAdmin[route.method](route.path, guard, (req: Request, res: Response) => {
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
      .then(() => route.handler(req, res))
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
