/**
 * What the Face Library's REST API answers with (README "Face Library REST API"): the server builds
 * its answers as these types (nodes/library) and the page reads them (web/src/types.ts re-exports
 * them), so the two cannot drift apart. Isomorphic: no Node.js or Node-RED here.
 */
import type { Box } from './index';
import type { DetectionEvent } from './events';

/** GET stores: a deployed face-store. */
export interface StoreInfo {
  id: string;
  name: string;
  /** The datafile. */
  file: string;
  /** People enrolled; null when the store cannot open (locked, corrupt). */
  people: number | null;
}

/** GET faces: a person in the list. */
export interface PersonSummary {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  /** Samples enrolled. */
  samples: number;
  created: string;
  updated: string;
}

/** A person's sample, as their detail shows it (its picture: faces/:id/samples/:sample/image). */
export interface SampleSummary {
  id: string;
  /** When the photo was taken or received (ISO). */
  created: string;
  /** Where it came from: a file name, `camera:<name>`, `upload:facewatch-library`, `event:<id>`, ... */
  source: string;
  /** Whether the store kept its face crop (a picture to show). */
  image: boolean;
}

/** A person with their samples (the answer of register, samples, PATCH, and inside GET faces/:id). */
export interface PersonDetail {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  created: string;
  updated: string;
  samples: SampleSummary[];
}

/** GET faces/:id: the person with their latest events (at most 20, newest first). */
export interface PersonWithEvents extends PersonDetail {
  events: DetectionEvent[];
}

/** POST register and POST events/:id/enrol (201). */
export interface EnrolAnswer {
  status: 'enrolled' | 'sample-added' | 'updated';
  person: PersonDetail;
  /**
   * Enrolling from an event (POST events/:id/enrol): the pictures enrolled (its crop and the other
   * crops of its passage), and those the enrolment checks refused, with why.
   */
  pictures?: number;
  refused?: Array<{ picture: string; code?: string; error: string }>;
}

/** POST faces/:id/samples (201). */
export interface SampleAnswer {
  sample: string;
  person: PersonDetail;
}

/** DELETE faces/:id. */
export interface DeleteAnswer {
  deleted: true;
  id: string;
  /** Events erased with the person. */
  events: number;
  /** Files removed (sample pictures and event pictures). */
  files: number;
}

/** GET events. */
export interface EventsAnswer {
  events: DetectionEvent[];
  /** Every camera known: the deployed rtsp-sources' and those of the events answered. */
  cameras: string[];
}

/** GET visitors: a recurring visitor (an unknown face told apart from the others). */
export interface VisitorSummary {
  /** `VISITOR_0001`, … */
  id: string;
  /** Sightings more than the visit gap apart. */
  visits: number;
  /** ISO 8601 UTC. */
  firstSeen: string;
  lastSeen: string;
  cameras: string[];
  /** The events of its best sightings (their crops: events/:id/crop), best first. */
  best: string[];
}

/** GET visitors: the store's visitors, the most visits first. */
export interface VisitorsAnswer {
  visitors: VisitorSummary[];
  /** Visitors the store holds (the answer holds at most `limit`). */
  total: number;
  /**
   * Whether the store keeps visitors: false on a store in PostgreSQL (not shared between instances
   * yet) and where no detection-log has recorded one.
   */
  tracked: boolean;
}

/** GET visitors/:id: the visitor with every sighting (its timeline), oldest first. */
export interface VisitorDetail extends VisitorSummary {
  events: DetectionEvent[];
}

/** POST visitors/:id/enrol (201): the person made (or given samples) and what happened to each picture. */
export interface VisitorEnrolAnswer {
  status: 'enrolled' | 'sample-added';
  person: PersonDetail;
  /** Pictures enrolled (their events). */
  enrolled: string[];
  /** Pictures refused by the enrolment checks, with why. */
  refused: Array<{ event: string; code?: string; error: string }>;
  /** The visitor's events, now the person's. */
  relabelled: number;
}

/** POST visitors/:id/merge and visitors/:id/split. */
export interface VisitorChangeAnswer {
  visitors: VisitorSummary[];
}

/** DELETE visitors/:id. */
export interface VisitorForgetAnswer {
  forgotten: true;
  id: string;
  /** Events erased with the visitor. */
  events: number;
}

/** GET stats: today, in the detection log's time zone. */
export interface StatsAnswer {
  people: number;
  eventsToday: number;
  today: {
    /** Per person (id null: unknown faces), most first. */
    byPerson: { id: string | null; name: string; count: number }[];
    byCamera: { camera: string; count: number }[];
  };
  /** Events per hour today, hour 0 first. */
  hours: number[];
}

/** An rtsp-source's state, as the cameras route shows it. */
export interface SourceInfo {
  state: 'connecting' | 'connected' | 'disconnected' | 'stopped';
  /** Frames per second over its last frames. */
  fps: number;
  width?: number;
  height?: number;
  reason?: string;
}

/** GET cameras: a deployed rtsp-source. */
export interface CameraInfo extends SourceInfo {
  /** The rtsp-source node's id. */
  id: string;
  name: string;
  /** The face-camera's name (the `camera` of frames and events). */
  camera: string;
  /** A live frame came in the last 10 seconds. */
  live: boolean;
}

/** A face as the live view draws it. */
export interface LiveFace {
  box: Box;
  /** The person's name, or null for an unknown face. */
  name: string | null;
  known: boolean;
  /** 0..1 (face-match's confidence); 0 for an unknown face without candidates. */
  confidence: number;
}

/** One live frame, as the long-poll answers it (the image comes from {@link LiveHub.jpeg}). */
export interface LiveFrame {
  /** The hub's own sequence of this camera's live frames (increasing, never reset while it runs). */
  seq: number;
  /** Capture time, epoch ms. */
  ts: number;
  width: number;
  height: number;
  faces: LiveFace[];
}
