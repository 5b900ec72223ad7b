/**
 * Detection events: what detection-log records, sends and face-mqtt publishes. Isomorphic (the
 * editor and the Face Library page read the same shape).
 */
import type { Box, FaceQuality } from './index';

/** Why an event was emitted for its track. */
export type EventReason = 'track-start' | 'named' | 'renamed';

/** One passage of a face in front of a camera (or one photo), as recorded, sent and published. */
export interface DetectionEvent {
  /** Unique, sortable by time (ISO time prefix + random suffix). */
  id: string;
  /** ISO 8601 UTC: the frame's capture time (`msg.frame.ts`) when there is one, else when it arrived. */
  time: string;
  /** The camera's name (`msg.frame.camera`); `photo` for an image without a camera. */
  camera: string;
  known: boolean;
  /** The person the track is named as, or null (unknown, ambiguous, or not yet decided). */
  person: { id: string; name: string } | null;
  /** The track's decisive distance to that person (or to the nearest, for an unknown face); null without descriptors. */
  distance: number | null;
  /** 0..1, derived from `distance` as face-match does. */
  confidence: number;
  /** The face's box in the frame that produced this event. */
  box: Box;
  quality: FaceQuality;
  /** Frames seen in the track so far. */
  frames: number;
  trackId: string;
  reason: EventReason;
  /** The frame with boxes and names drawn (JPEG), relative to the events folder; null when snapshots are off. */
  snapshot: string | null;
  /** The face crop (JPEG), relative to the events folder; null when snapshots are off. */
  crop: string | null;
}
