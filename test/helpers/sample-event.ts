/** A made-up detection event, for the tests and the benchmarks that need one without a camera. */
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
