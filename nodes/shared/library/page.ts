import type { NodeAPI } from '../red';

/** The Face Library page: its HTML shell at `/facewatch/` and its static assets. */
export function registerLibraryPage(RED: NodeAPI): void {
  void RED;
}
