import type { AdminRoute } from '../shared/admin';

/** One route of the Face Library's REST API: what the tests enumerate and the API registers. */
export interface LibraryRouteSpec {
  method: AdminRoute['method'];
  path: string;
  permission: 'facewatch.read' | 'facewatch.write';
  /** What it answers with: JSON, an image, a long-poll or a stream; `upload` takes a raw photo body. */
  kind: 'json' | 'image' | 'upload' | 'poll' | 'stream';
}

const read = (path: string, kind: LibraryRouteSpec['kind'] = 'json'): LibraryRouteSpec => ({
  method: 'get',
  path,
  permission: 'facewatch.read',
  kind,
});
const write = (
  method: LibraryRouteSpec['method'],
  path: string,
  kind: LibraryRouteSpec['kind'] = 'json',
): LibraryRouteSpec => ({ method, path, permission: 'facewatch.write', kind });

/**
 * Every route of the REST API under Node-RED's admin root (the contract in the README's "Face
 * Library REST API"). Reading needs `facewatch.read`, changing anything (or starting and stopping a
 * camera) `facewatch.write`.
 */
export const LIBRARY_ROUTES = [
  read('/facewatch/api/stores'),
  read('/facewatch/api/faces'),
  read('/facewatch/api/faces/:id'),
  read('/facewatch/api/faces/:id/thumbnail', 'image'),
  read('/facewatch/api/faces/:id/samples/:sample/image', 'image'),
  write('post', '/facewatch/api/register', 'upload'),
  write('post', '/facewatch/api/faces/:id/samples', 'upload'),
  write('delete', '/facewatch/api/faces/:id/samples/:sample'),
  write('patch', '/facewatch/api/faces/:id'),
  write('delete', '/facewatch/api/faces/:id'),
  write('post', '/facewatch/api/delete/:id'),
  read('/facewatch/api/events'),
  read('/facewatch/api/events/:id/snapshot', 'image'),
  read('/facewatch/api/events/:id/crop', 'image'),
  write('post', '/facewatch/api/events/:id/enrol'),
  read('/facewatch/api/visitors'),
  read('/facewatch/api/visitors/:id'),
  write('post', '/facewatch/api/visitors/:id/enrol'),
  write('post', '/facewatch/api/visitors/:id/merge'),
  write('post', '/facewatch/api/visitors/:id/split'),
  write('delete', '/facewatch/api/visitors/:id'),
  read('/facewatch/api/stats'),
  read('/facewatch/api/cameras'),
  write('post', '/facewatch/api/cameras/:id/start'),
  write('post', '/facewatch/api/cameras/:id/stop'),
  read('/facewatch/api/cameras/:id/live', 'poll'),
  read('/facewatch/api/cameras/:id/frame', 'image'),
  read('/facewatch/api/cameras/:id/video_feed', 'stream'),
] as const satisfies readonly LibraryRouteSpec[];

/** A route's key in the handler table: `GET /facewatch/api/stores`. */
export function routeKey(r: Pick<LibraryRouteSpec, 'method' | 'path'>): string {
  return `${r.method.toUpperCase()} ${r.path}`;
}
