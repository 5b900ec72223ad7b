import type { NodeAPI } from '../shared/red';
import { registerLibraryApi } from './api';
import { registerLibraryPage } from './page';

const registered = new WeakSet<object>();

/**
 * Registers the Face Library (its page under `/facewatch/` and its REST API under
 * `/facewatch/api/`) once per Node-RED runtime, whichever FaceWatch node type loads first.
 */
export function registerLibrary(RED: NodeAPI): void {
  if (registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  registerLibraryApi(RED);
  registerLibraryPage(RED);
}
