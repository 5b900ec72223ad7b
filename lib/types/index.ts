/**
 * Types shared by the runtime, the editor scripts, the CLI and the web page.
 * Isomorphic: nothing here may import Node.js or Node-RED modules.
 */

/** An axis-aligned rectangle in pixels of the original frame. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** Which detector network finds faces. */
export type DetectorName = 'ssd' | 'tiny';

/** TensorFlow.js backends FaceWatch can run on. `auto` picks the fastest that loads. */
export type BackendName = 'tfjs-node' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

/** Options for one detection call; every field has a default (see `DEFAULT_DETECT_OPTIONS`). */
export interface DetectOptions {
  detector: DetectorName;
  /** Input size of the tiny detector (multiple of 32, 128..608). */
  inputSize: number;
  /** Minimum detector confidence, 0..1. */
  minConfidence: number;
  /** Faces whose box is smaller than this (shorter side, pixels of the original frame) are dropped. */
  minFaceSize: number;
  /** At most this many faces per frame, largest first. 0 = no limit. */
  maxFaces: number;
  landmarks: boolean;
  descriptors: boolean;
  ageGender: boolean;
  expressions: boolean;
  /** Frames whose longer side exceeds this are down-scaled before detection; 0 = never. */
  maxDimension: number;
  /** Attach a JPEG crop of each face. */
  crop: boolean;
  /** Margin around the face box for crops, as a fraction of the box size. */
  cropMargin: number;
}

export { DEFAULT_DETECT_OPTIONS } from './defaults';

/** Quality figures used to accept or refuse a face for enrolment. */
export interface FaceQuality {
  /** Shorter side of the face box in pixels. */
  faceSize: number;
  /** Variance of the Laplacian over the face region (grey levels); higher is sharper. */
  sharpness: number;
  /** Estimated head yaw in degrees (negative: turned to the image's left); null without landmarks. */
  yaw: number | null;
}

/** One face found in a frame. */
export interface DetectedFace {
  box: Box;
  score: number;
  /** 68 landmark points, when landmarks were asked for. */
  landmarks?: Point[];
  /** 128-number face descriptor, when descriptors were asked for. */
  descriptor?: number[];
  /** Id of the recognition model that computed the descriptor. Descriptors of different models never compare. */
  modelId: string;
  quality: FaceQuality;
  age?: number;
  gender?: 'male' | 'female';
  genderProbability?: number;
  expressions?: Record<string, number>;
  /** JPEG crop of the face with a margin, when asked for. */
  crop?: Buffer;
  /** Added by face-match. */
  match?: FaceMatch;
}

/** Milliseconds spent on one frame. */
export interface Timing {
  /** Waiting for a free worker. */
  queue: number;
  /** In the worker. */
  inference: number;
  /** From the call to the result, decoding included. */
  total: number;
}

/** The result of one detection call. */
export interface DetectResult {
  width: number;
  height: number;
  faces: DetectedFace[];
  timing: Timing;
  backend: BackendName;
  modelId: string;
}

/** A candidate identity for a face. */
export interface MatchCandidate {
  id: string;
  name: string;
  distance: number;
}

/** What face-match adds to each face. */
export interface FaceMatch {
  known: boolean;
  person: { id: string; name: string; metadata: Record<string, unknown> } | null;
  /** Euclidean distance to the best person; null when the store is empty. */
  distance: number | null;
  /** 0..1, see face-match's help for how it is derived from the distance and threshold. */
  confidence: number;
  /** The best two people were closer to each other than the ambiguity margin. */
  ambiguous: boolean;
  candidates: MatchCandidate[];
}

/** A raw frame: `channels` bytes per pixel, rows packed without padding. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}
