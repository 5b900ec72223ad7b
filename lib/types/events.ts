/**
 * Detection events: what detection-log records, sends and face-mqtt publishes. Isomorphic (the
 * editor and the Face Library page read the same shape).
 */
import type { Box, FaceQuality } from './index';

/** Why an event was emitted for its track. */
export type EventReason = 'track-start' | 'named' | 'renamed';

/** A face of an event's frame, as the event's snapshot is drawn. */
export interface EventFace {
  box: Box;
  /** The person its track is named as; null for an unknown face. */
  person: { id: string; name: string } | null;
}

/**
 * The recurring visitor an unknown face was found to be (lib/events/visitors.ts), as its event
 * carries it: the visitor's state when the event was recorded.
 */
export interface EventVisitor {
  /** `VISITOR_0001`, …: the same id each time the same stranger comes back. */
  id: string;
  /** Visits so far (sightings more than the visit gap apart), this one included. */
  visits: number;
  /** ISO 8601 UTC. */
  firstSeen: string;
  lastSeen: string;
  /** The cameras it was seen on, sorted. */
  cameras: string[];
}

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
  /** 0..1, derived from `distance` as face-match does (0 for an unknown face). */
  confidence: number;
  /**
   * The detector's confidence that this is a face, 0..1 (face-detect's `score` on the event's frame);
   * absent in events recorded before this field existed, or when the face came without one.
   */
  score?: number;
  /** The face's box in the frame that produced this event. */
  box: Box;
  quality: FaceQuality;
  /** Frames seen in the track so far. */
  frames: number;
  trackId: string;
  reason: EventReason;
  /**
   * Every face of the frame this event came from (its own included), as the snapshot is drawn: the
   * frame is stored plain and the boxes and names are drawn when it is served, so an erased person's
   * name is never in a picture on disk. Absent in events recorded before this field existed (their
   * stored snapshot has the names drawn in).
   */
  faces?: EventFace[];
  /**
   * The frame (JPEG), relative to the events folder; null when snapshots are off. Stored plain: the
   * Face Library draws `faces` over it when it is asked for (detection-log's `msg.snapshot` is drawn).
   */
  snapshot: string | null;
  /** The face crop (JPEG), relative to the events folder; null when snapshots are off. */
  crop: string | null;
  /**
   * More crops of the face from other frames of its passage (JPEG, relative to the events folder),
   * the next best by quality and spread over pose (VISITORS.passagePictures): with `crop`, what
   * enrolment from the track enrols (face-register's `msg.event`, the Face Library's Enrol as).
   * Absent when there are none (snapshots off, a known face, visitor tracking off, a one-frame passage).
   */
  samples?: string[];
  /**
   * The recurring visitor of an unknown face (absent for a known person, with visitor tracking off,
   * or without descriptors); a person enrolled from a visitor has their visitor's events relabelled.
   */
  visitor?: EventVisitor;
  /**
   * The Node-RED instance that recorded it (FACEWATCH_INSTANCE, else host:port), on a face store
   * shared in PostgreSQL by several instances; absent on a store of files.
   */
  instance?: string;
}
