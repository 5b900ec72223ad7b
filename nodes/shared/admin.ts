import type { Request, Response, NextFunction } from 'express';
import type { NodeAPI } from './red';

/** Permission scopes FaceWatch's admin routes use (Node-RED's `<name>.read` / `<name>.write`). */
export type Permission = 'facewatch.read' | 'facewatch.write' | 'flows.read' | 'flows.write';

/**
 * What a route handler returns (or a promise of it): a JSON body (answered with status 200),
 * or an explicit `{status, body, type?}` object.
 */
export type RouteResult = unknown;

export interface AdminRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Path under Node-RED's admin root, always starting with `/facewatch/`. */
  path: string;
  permission: Permission;
  handler: (req: Request) => RouteResult;
  /** Answer 504 when the handler has not finished by then. */
  timeoutMs?: number;
}

/** An error whose `status` becomes the HTTP status of the answer (400, 404, 409...). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function isExplicit(v: unknown): v is { status: number; body: unknown; type?: string } {
  return typeof v === 'object' && v !== null && 'status' in v && 'body' in v && Object.keys(v).length <= 3;
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
  const guard = RED.auth.needsPermission(route.permission) as (
    req: Request,
    res: Response,
    next: NextFunction,
  ) => void;
  RED.httpAdmin[route.method](route.path, guard, (req: Request, res: Response) => {
    let answered = false;
    const answer = (status: number, body: unknown, type?: string): void => {
      if (answered || res.headersSent) return;
      answered = true;
      clearTimeout(timer);
      if (type) res.status(status).type(type).send(body);
      else res.status(status).json(body);
    };
    const timer = setTimeout(() => answer(504, { error: 'timed out' }), timeoutMs);
    Promise.resolve()
      .then(() => route.handler(req))
      .then(
        (result) => {
          if (isExplicit(result)) answer(result.status, result.body, result.type);
          else answer(200, result ?? {});
        },
        (err: unknown) => {
          const status = err instanceof HttpError ? err.status : 500;
          const message = err instanceof Error ? err.message : 'internal error';
          if (status === 500)
            RED.log.error(`facewatch admin ${route.method.toUpperCase()} ${route.path}: ${message}`);
          answer(status, { error: message });
        },
      );
  });
}
