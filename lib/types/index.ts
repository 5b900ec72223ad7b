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

import type { BackendName } from './detect';

export type { BackendChoice, BackendName, DetectOptions, DetectorName } from './detect';
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

/** Why the motion gate ran the detector on a camera frame (`motion`, `recent-faces`, `refresh`) or did not. */
export type GateReason = 'motion' | 'recent-faces' | 'refresh' | 'no-motion';

/** msg.timing of face-detect: the engine's timing, and with motion gating on, the gate's part. */
export interface DetectTiming extends Timing {
  /** Milliseconds the motion detector took on this frame. */
  motion?: number;
  /** The gate skipped the detector on this frame (queue, inference and total then cover the gate alone). */
  skipped?: boolean;
  /** Why the detector ran or did not. */
  reason?: GateReason;
}

/** msg.motion of face-detect: what the motion gate saw in a camera frame. */
export interface MotionInfo {
  /** A changed area of at least the minimum size. */
  moving: boolean;
  /** Share of the frame (0..1) that changed. */
  area: number;
  /** The changed areas, in pixels of the frame, largest first. */
  regions: Box[];
  /** The detector ran on this frame. */
  detected: boolean;
  reason: GateReason;
  /** In region mode, the part of the frame the detector looked at (absent: the whole frame). */
  crop?: Box;
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
  /**
   * Named by holding the name of the same face in the camera's previous frame (face-match's hold):
   * its distance is over the threshold (so its confidence is at most 0.5) but under the hold distance.
   */
  held?: true;
}

/**
 * A raw image: `channels` bytes per pixel, rows packed without padding. Every frame type is this
 * plus what it adds: {@link CameraFrame} on the wire; lib/vision's worker frames are RawImages whose
 * buffer is their own (transferable).
 */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/**
 * `msg.frame`: a camera's raw frame as rtsp-source sends it to face-detect (which takes the pixels
 * off and passes the rest on), the one frame type on the wire.
 */
export interface CameraFrame extends RawImage {
  /** The camera's name (face-camera's). */
  camera: string;
  /** Frames of this stream so far, this one included (it keeps counting across reconnects). */
  seq: number;
  /** When the frame was read, ms since the epoch. */
  ts: number;
  /**
   * The camera's full picture of the same moment, as JPEG, when the camera is wider than the frame
   * and its face-camera describes faces from the full picture: face-detect finds the faces in the
   * frame and describes them from this picture, then removes it from the message.
   */
  full?: Buffer;
}
