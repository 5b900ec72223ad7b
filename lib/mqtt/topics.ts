/**
 * FaceWatch's MQTT topics. Every part that comes from a user (a camera's name, a person's id) is
 * sanitised first: `+` and `#` are wildcards, `/` would add a level, and control characters break
 * many clients, so none of them can reach a topic from a name.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[+#/\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * One topic level made safe: `+`, `#`, `/` and control characters become `_`, surrounding spaces
 * are trimmed, and an empty result becomes `_` (an empty level would merge with its neighbours).
 */
export function topicSegment(value: string): string {
  const safe = String(value).replace(UNSAFE, '_').trim();
  return safe || '_';
}

/**
 * A base topic as configured: levels kept, each sanitised (wildcards and control characters
 * removed), empty levels and a leading `$` (reserved for the broker) dropped.
 */
export function baseTopic(value: string | undefined, fallback: string): string {
  const levels = String(value ?? '')
    .split('/')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map(topicSegment)
    .map((l, i) => (i === 0 ? l.replace(/^\$+/, '') || '_' : l));
  return levels.length ? levels.join('/') : fallback;
}

/** An id Home Assistant accepts in a discovery topic and a unique_id: `[a-zA-Z0-9_-]` only. */
export function objectId(value: string): string {
  return String(value).replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
}

/** The topics of one base. */
export class Topics {
  constructor(readonly base: string) {}

  /** `online` / `offline`, retained; the Last Will sets `offline`. */
  get available(): string {
    return `${this.base}/available`;
  }
  /** Every event, JSON. */
  get events(): string {
    return `${this.base}/events`;
  }
  /** One camera's events, JSON. */
  cameraEvents(camera: string): string {
    return `${this.base}/${topicSegment(camera)}/events`;
  }
  /** Retained: who is in view at a camera now. */
  cameraPerson(camera: string): string {
    return `${this.base}/${topicSegment(camera)}/person`;
  }
  /** Retained JPEG: the camera's latest event frame. */
  cameraSnapshot(camera: string): string {
    return `${this.base}/${topicSegment(camera)}/snapshot`;
  }
  /** Retained: a person's name, last camera, last seen, presence. */
  person(id: string): string {
    return `${this.base}/person/${topicSegment(id)}`;
  }
}
