import type { NodeAPI } from '../red';

/** The Face Library's REST API under `/facewatch/api/` (every route checks facewatch.read or .write). */
export function registerLibraryApi(RED: NodeAPI): void {
  void RED;
}
