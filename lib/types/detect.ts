/**
 * The detector's names and options. A module of their own so that defaults.ts (which gives every
 * option its default) and index.ts (which re-exports both) import one way.
 * Isomorphic: nothing here may import Node.js or Node-RED modules.
 */

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
