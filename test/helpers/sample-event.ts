/** A made-up detection event, for the tests and the benchmarks that need one without a camera. */
import { eventId } from '../../lib/events/log';
import type { DetectionEvent } from '../../lib/types/events';

/** A known person's event at `camera`, numbered `n`. */
export function sampleEvent(n: number, camera = 'bench'): DetectionEvent {
  return {
    id: `${new Date().toISOString()}-${n}`,
    time: new Date().toISOString(),
    camera,
    known: true,
    person: { id: `p${n % 10}`, name: `Person ${n % 10}` },
    distance: 0.3,
    confidence: 0.7,
    box: { x: 10, y: 20, width: 100, height: 120 },
    quality: { faceSize: 100, sharpness: 50, yaw: 0 },
    frames: 1,
    trackId: `t${n}`,
    reason: 'track-start',
    snapshot: null,
    crop: null,
  };
}

/**
 * An event as the detection log records it, at camera `door`: `person` (null: unknown) at `time`,
 * its face `side` pixels square, with the frame's `others` beside it in `faces`.
 */
export function loggedEvent(
  time: string,
  person: { id: string; name: string } | null,
  opts: {
    side?: number;
    at?: number;
    others?: Array<{ id: string; name: string } | null>;
    trackId?: string;
  } = {},
): DetectionEvent {
  const side = opts.side ?? 50;
  const at = opts.at ?? 1;
  const box = { x: at, y: at, width: side, height: side };
  return {
    id: eventId(new Date(time)),
    time,
    camera: 'door',
    known: !!person,
    person,
    distance: 0.4,
    confidence: 0.6,
    box,
    quality: { faceSize: side, sharpness: 20, yaw: null },
    frames: 1,
    trackId: opts.trackId ?? 'T1',
    reason: 'track-start',
    faces: [person, ...(opts.others ?? [])].map((p) => ({ box, person: p })),
    snapshot: null,
    crop: null,
  };
}
