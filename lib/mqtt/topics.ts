/**
 * FaceWatch's MQTT topics. Every part that comes from a user (a camera's name, a person's id) is
 * sanitised first: `+` and `#` are wildcards, `/` would add a level, control characters break many
 * clients, and Unicode non-characters and lone surrogates are not text, so none of them can reach a
 * topic from a name. Cleaning alone would make two names one (`front/door` and `front_door`), so a
 * name that cleaning changed carries a short hash of its original form: it keeps a level (and a Home
 * Assistant object_id) of its own, and a name that needed no cleaning keeps its exact form, as
 * installations before the hash knew it.
 */
import { createHash } from 'node:crypto';

// eslint-disable-next-line no-control-regex
const UNSAFE = /[+#/\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/**
 * Unicode non-characters (U+FDD0..U+FDEF, U+xFFFE and U+xFFFF of every plane) and lone surrogates
 * (with the `u` flag a surrogate pair is one code point, so only an unpaired half matches).
 */
const NOT_TEXT = /[\p{Noncharacter_Code_Point}\uD800-\uDFFF]/gu;
/** Characters Home Assistant accepts in an object_id and a unique_id. */
const NOT_OBJECT_ID = /[^a-zA-Z0-9_-]/g;

/** Code points of a cleaned name kept before its hash: a topic level stays far under MQTT's 64 KiB. */
export const NAME_MAX = 100;
/** Hex digits of the hash a cleaned name carries. */
export const HASH_DIGITS = 6;

/**
 * The hash suffix of a name: the first {@link HASH_DIGITS} hex digits of the SHA-256 of its UTF-16
 * code units (little-endian), so names that differ only in a lone surrogate still differ.
 */
export function nameHash(value: string): string {
  return createHash('sha256')
    .update(Buffer.from(String(value), 'utf16le'))
    .digest('hex')
    .slice(0, HASH_DIGITS);
}

/** A cleaned name, capped at {@link NAME_MAX} code points (never half a surrogate pair). */
function capped(clean: string): string {
  // Fewer UTF-16 units than the cap: fewer code points too (the common case, no array made).
  if (clean.length <= NAME_MAX) return clean;
  const points = Array.from(clean);
  return points.length > NAME_MAX ? points.slice(0, NAME_MAX).join('') : clean;
}

/** `clean` as it is when it equals `original`, else `clean` with the original's hash. */
function distinct(original: string, clean: string): string {
  return clean === original ? clean : `${clean}_${nameHash(original)}`;
}

/**
 * One topic level cleaned, without a hash (for a configured base topic): non-characters and lone
 * surrogates removed, `+`, `#`, `/` and control characters made `_`, surrounding spaces trimmed,
 * an empty result `_` (an empty level would merge with its neighbours).
 */
function cleanLevel(value: string): string {
  return String(value).replace(NOT_TEXT, '').replace(UNSAFE, '_').trim() || '_';
}

/**
 * A name (a camera's, a person's id) as one topic level: cleaned as {@link cleanLevel} does and cut
 * at {@link NAME_MAX} code points; when that changed it, the original's hash follows
 * (`front/door` → `front_door_<6 hex digits>`), so no two names share a level. A name that needed
 * no cleaning is kept exactly.
 */
export function topicSegment(value: string): string {
  const original = String(value);
  return distinct(original, capped(cleanLevel(original)));
}

/**
 * A base topic as configured: levels kept, each cleaned (wildcards, control characters and
 * non-characters removed; no hash, the administrator chose it), empty levels and a leading `$`
 * (reserved for the broker) dropped.
 */
export function baseTopic(value: string | undefined, fallback: string): string {
  const levels = String(value ?? '')
    .split('/')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map(cleanLevel)
    .map((l, i) => (i === 0 ? l.replace(/^\$+/, '') || '_' : l));
  return levels.length ? levels.join('/') : fallback;
}

/**
 * An id Home Assistant accepts in a discovery topic and a unique_id (`[a-zA-Z0-9_-]` only), made
 * from a name: every other character becomes `_`, and as for {@link topicSegment} a name that
 * changed carries its hash (`a.b` → `a_b_<6 hex digits>`, while `a_b` stays `a_b`), so deleting
 * one person never clears another's entities.
 */
export function objectId(value: string): string {
  const original = String(value);
  return distinct(original, capped(plainObjectId(original)));
}

/**
 * An object_id without a hash, for the configured base topic in FaceWatch's node id: the form
 * Home Assistant has known since the first release, kept so that no entity is renamed.
 */
export function plainObjectId(value: string): string {
  return String(value).replace(NOT_TEXT, '').replace(NOT_OBJECT_ID, '_') || '_';
}

/** The topics of one base. */
export class Topics {
  /**
   * `instance`: this Node-RED's name when it is one of several instances of an installation (a
   * face store shared on PostgreSQL); each then has an availability topic of its own.
   */
  constructor(
    readonly base: string,
    readonly instance?: string,
  ) {}

  /**
   * `online` / `offline`, retained; the Last Will sets `offline`: `<base>/available`, or with
   * several instances `<base>/instance/<instance>/available`, one per instance.
   */
  get available(): string {
    return this.instance === undefined ? `${this.base}/available` : this.instanceAvailable(this.instance);
  }
  /** An instance's availability topic (retained `online` / `offline`). */
  instanceAvailable(instance: string): string {
    return `${this.base}/instance/${topicSegment(instance)}/available`;
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
  /** Retained: a recurring visitor's latest state (id, visits, first and last seen, cameras). */
  visitor(id: string): string {
    return `${this.base}/visitor/${topicSegment(id)}`;
  }
  /** Retained: the recurring visitors seen today at a camera, each counted once. */
  cameraVisitors(camera: string): string {
    return `${this.base}/${topicSegment(camera)}/visitors`;
  }
  /** Retained: a person's name, last camera, last seen, presence. */
  person(id: string): string {
    return `${this.base}/person/${topicSegment(id)}`;
  }
}
