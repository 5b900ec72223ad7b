/** Measuring the publisher: events per second, snapshots off. */
import type { DetectionEvent } from '../types/events';
import { FaceMqtt } from './faces';
import type { MqttPublisher } from './publisher';

/** What {@link publishBurst} measured. */
export interface BurstResult {
  events: number;
  /** From the first publish to the last acknowledgement (ms). */
  ms: number;
  eventsPerSecond: number;
}

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
 * Publishes `n` events through a {@link FaceMqtt} on a connected publisher as fast as it takes
 * them, and waits until the broker acknowledged them all.
 */
export async function publishBurst(
  publisher: MqttPublisher,
  n: number,
  camera = 'bench',
): Promise<BurstResult> {
  const faces = new FaceMqtt(publisher, { snapshots: false, presenceTimeout: 60 });
  const events = Array.from({ length: n }, (_, i) => sampleEvent(i, camera));
  const start = performance.now();
  for (const e of events) faces.publish(e);
  await publisher.whenIdle();
  const ms = performance.now() - start;
  faces.close();
  return { events: n, ms, eventsPerSecond: n / (ms / 1000) };
}
