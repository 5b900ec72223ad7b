/**
 * The one list of FaceWatch's node types (each a folder under nodes/ and an entry of package.json's
 * `node-red.nodes`; test/unit/defaults.test.ts checks both against it).
 * Isomorphic: the editor bundles this file.
 */
export const NODE_TYPES = [
  'face-engine',
  'face-detect',
  'face-store',
  'face-match',
  'face-register',
  'face-camera',
  'rtsp-source',
  'detection-log',
  'face-mqtt-broker',
  'face-mqtt',
] as const;

/** A FaceWatch node type (every one stores settings in a flow file). */
export type FaceWatchNodeType = (typeof NODE_TYPES)[number];
