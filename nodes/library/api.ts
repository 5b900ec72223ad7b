/**
 * The Face Library's REST API under `/facewatch/api/`: the table in routes.ts (the README's "Face
 * Library REST API" documents it), answered by resource (people.ts, events.ts, visitors.ts,
 * cameras.ts). Every route goes through adminRoute: facewatch.read to look, facewatch.write to
 * change; a signed-in user without the permission gets 403.
 */
import { adminRoute } from '../shared/admin';
import type { NodeAPI } from '../shared/red';
import { cameraRoutes, pollMs } from './cameras';
import { NO_STORE, type Handlers } from './context';
import { eventRoutes } from './events';
import { peopleRoutes } from './people';
import { libraryRegistry } from './registry';
import { LIBRARY_ROUTES, routeKey } from './routes';
import { sweepUploads, uploadDir } from './upload';
import { visitorRoutes } from './visitors';

/** Registers every route of the table with its resource's handler (each exactly once). */
export function registerLibraryApi(RED: NodeAPI): void {
  const reg = libraryRegistry(RED);
  // Uploads a crash or a kill left behind are photos of people: removed when Node-RED starts.
  sweepUploads(uploadDir(RED)).catch((err: Error) =>
    RED.log.warn(`facewatch: could not remove leftover uploads in ${uploadDir(RED)}: ${err.message}`),
  );
  const table: Handlers = {};
  for (const resource of [peopleRoutes(RED), eventRoutes(RED, reg), visitorRoutes(RED), cameraRoutes(reg)])
    for (const [key, handler] of Object.entries(resource)) {
      if (table[key]) throw new Error(`Face Library route with two handlers: ${key}`);
      table[key] = handler;
    }
  const keys = new Set(Object.keys(table));
  for (const route of LIBRARY_ROUTES) {
    const key = routeKey(route);
    const handler = table[key];
    if (!handler) throw new Error(`Face Library route without a handler: ${key}`);
    keys.delete(key);
    adminRoute(RED, {
      method: route.method,
      path: route.path,
      permission: route.permission,
      handler,
      denyStatus: 403,
      headers: NO_STORE,
      timeoutMs: route.kind === 'upload' ? 300000 : route.kind === 'poll' ? pollMs() + 20000 : 60000,
    });
  }
  if (keys.size) throw new Error(`Face Library handlers without a route: ${[...keys].join(', ')}`);
}
