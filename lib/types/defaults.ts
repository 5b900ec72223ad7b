/**
 * The one home of FaceWatch's defaults and limits: every setting's default, its range (and step,
 * whole-number or multiple-of rule where it applies), and the allowed values of every choice.
 * Used by the editor (validators, `defaults` values, input attributes), the node settings parsers,
 * the library's option checks and the CLI (option defaults and --help texts), so none of them can
 * drift from the others.
 *
 * Isomorphic: the editor bundles this file, so nothing here may import Node.js or Node-RED modules.
 */
import type { BackendChoice, DetectOptions, DetectorName } from './detect';

/** A number setting: its default and the values it accepts. */
export interface NumberLimit {
  readonly default: number;
  /** Smallest accepted value (inclusive). */
  readonly min: number;
  /** Largest accepted value (inclusive). */
  readonly max: number;
  /** Step of the editor's number input. */
  readonly step?: number;
  /** Only whole numbers. */
  readonly integer?: boolean;
  /** Only multiples of this number. */
  readonly multipleOf?: number;
  /** 0 ("off") is accepted besides min..max. */
  readonly zeroOff?: boolean;
  /** Unit, for messages and help texts. */
  readonly unit?: string;
}

/** A choice setting: its default and every allowed value. */
export interface ChoiceLimit<T extends string = string> {
  readonly default: T;
  readonly values: readonly T[];
}

/** Either kind of limit. */
export type Limit = NumberLimit | ChoiceLimit;

const num = (l: NumberLimit): NumberLimit => Object.freeze(l);
const choice = <T extends string>(values: readonly T[], def: T): ChoiceLimit<T> =>
  Object.freeze({ default: def, values: Object.freeze([...values]) });

/** Detector networks. */
export const DETECTORS: readonly DetectorName[] = ['ssd', 'tiny'];
/** TensorFlow.js backends a face-engine can ask for (`auto`: the fastest that loads). */
export const BACKENDS: readonly BackendChoice[] = ['auto', 'tfjs-node', 'wasm', 'cpu'];
/**
 * Matching: how a person's samples are compared with a face. `mean`: with the mean of their
 * samples (one template per person); `nearest`: with their nearest sample. Measured on the
 * labelled photos (docs/recognition.md), the mean names more at the same threshold and keeps
 * strangers farther away.
 */
export const MATCH_RULES = ['mean', 'nearest'] as const;
/** A match rule. */
export type MatchRule = (typeof MATCH_RULES)[number];
/** Enrolment: how many faces a photo may show. */
export const FACES_POLICIES = ['single', 'largest'] as const;
/** Enrolment: what to do when the given id exists. */
export const EXISTING_POLICIES = ['add-sample', 'update', 'refuse'] as const;
/** Enrolment: what to do with a face that matches an enrolled person. */
export const DUPLICATE_POLICIES = ['refuse', 'add-sample', 'allow'] as const;
/** face-detect: when to keep the frame as msg.image. */
export const KEEP_IMAGE_POLICIES = ['faces', 'always', 'never'] as const;
/** RTSP transports a face-camera can ask for. */
export const TRANSPORTS = ['tcp', 'udp'] as const;
/**
 * Where a face-camera's frames come from: a `network` camera (rtsp://, rtsps://, http://, https://),
 * a local video `file` (a path or file:// URL), or a V4L2 `device` (/dev/videoN). The URL must be of
 * that kind: a path is never read as a network address, nor a network address as a file.
 */
export const CAMERA_SOURCES = ['network', 'file', 'device'] as const;
/**
 * What a camera's faces are described from: the camera's `full` picture of the same moment (faces
 * are still found in the scaled frame), or the scaled `frame` itself.
 */
export const DESCRIBE_FROM = ['full', 'frame'] as const;
/** Photo types accepted for enrolment. */
export const ENROL_FILE_TYPES = ['png', 'jpg', 'jpeg', 'webp'] as const;

export type FacesPolicy = (typeof FACES_POLICIES)[number];
export type ExistingPolicy = (typeof EXISTING_POLICIES)[number];
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];
export type KeepImagePolicy = (typeof KEEP_IMAGE_POLICIES)[number];
export type EnrolFileType = (typeof ENROL_FILE_TYPES)[number];
export type Transport = (typeof TRANSPORTS)[number];
export type CameraSource = (typeof CAMERA_SOURCES)[number];
export type DescribeFrom = (typeof DESCRIBE_FROM)[number];

/**
 * The match threshold: euclidean distance under which a face is named. 0.5, chosen for CCTV where
 * a wrong name is worse than none: on the shared photos (363 same-person, 5632 different-person
 * pairs) no two different people are closer than 0.595, a safety margin of 0.095, while 92.6 % of
 * same-person pairs stay under it. See README "Recognition" for the measurements.
 */
const MATCH_THRESHOLD = 0.5;

/** Detection (lib/vision, face-engine, face-detect, `facewatch detect`). */
export const DETECT = Object.freeze({
  detector: choice(DETECTORS, 'ssd'),
  inputSize: num({ default: 416, min: 128, max: 608, step: 32, integer: true, multipleOf: 32, unit: 'px' }),
  minConfidence: num({ default: 0.5, min: 0.05, max: 1, step: 0.05 }),
  minFaceSize: num({ default: 50, min: 0, max: 10000, step: 1, unit: 'px' }),
  maxFaces: num({ default: 0, min: 0, max: 1000, step: 1, integer: true }),
  maxDimension: num({ default: 0, min: 64, max: 10000, step: 1, integer: true, zeroOff: true, unit: 'px' }),
  cropMargin: num({ default: 0.25, min: 0, max: 2, step: 0.05 }),
});

/** The inference pool (face-engine, the CLI). */
export const ENGINE = Object.freeze({
  backend: choice(BACKENDS, 'auto'),
  /** Inference workers; 0 = automatic. */
  poolSize: num({ default: 0, min: 0, max: 64, step: 1, integer: true }),
});

/** Matching (face-match, `facewatch identify`, `facewatch eval`, lib/store). */
export const MATCH = Object.freeze({
  threshold: num({ default: MATCH_THRESHOLD, min: 0.05, max: 2, step: 0.01 }),
  /** Ambiguity margin: the runner-up closer than this to the nearest person makes the face ambiguous; 0 = off. */
  margin: num({ default: 0.05, min: 0, max: 1, step: 0.01 }),
  /** Candidates reported per face. */
  candidates: num({ default: 3, min: 1, max: 20, step: 1, integer: true }),
  /** How a person's samples are compared with a face (see MATCH_RULES). */
  rule: choice(MATCH_RULES, 'mean'),
  /**
   * Hold a name along a track (lib/events/hold.ts): a face named in a camera's frame keeps the name in
   * the next frames while it stays under this distance of the person (0.6: the largest same-person
   * distance of the shared photos); at or under the threshold, holding is off.
   */
  hold: num({ default: 0.6, min: 0.05, max: 2, step: 0.01, zeroOff: true }),
});

/** Holding a name along a track: how far apart in time and place two frames' faces continue it. */
export const HOLD = Object.freeze({
  /** Two frames of a camera further apart than this do not continue a name (a camera at 1 frame/s holds). */
  gapMs: 1500,
  /** Least box overlap (intersection over union) between the named face and the next frame's. */
  minOverlap: 0.3,
  /** Cameras whose last named faces a face-match remembers, at most. */
  cameras: 1000,
});

/** Enrolment (face-register, `facewatch enrol` and `import`, lib/store). */
export const ENROL = Object.freeze({
  faces: choice(FACES_POLICIES, 'single'),
  existing: choice(EXISTING_POLICIES, 'add-sample'),
  duplicatePolicy: choice(DUPLICATE_POLICIES, 'refuse'),
  /**
   * Equal to the match threshold: a new face that face-match would name as an enrolled person is
   * caught as that person's duplicate (it must be at least the match threshold for that).
   */
  duplicateThreshold: num({ default: MATCH_THRESHOLD, min: 0.05, max: 2, step: 0.01 }),
  minFaceSize: num({ default: 80, min: 0, max: 10000, step: 1, unit: 'px' }),
  // Variance of the Laplacian; over about 1e6 (the most an 8-bit image can reach) refuses every photo.
  minSharpness: num({ default: 10, min: 0, max: 1e9, step: 1 }),
  maxYaw: num({ default: 45, min: 0, max: 90, step: 1, unit: '°' }),
  maxMegabytes: num({ default: 16, min: 0.1, max: 1024, step: 0.1, unit: 'MB' }),
});

/**
 * A photo added as a sample of an enrolled person must be closer than this to the mean of their
 * samples: face-match compares with that mean, and a photo of somebody else would pull it away
 * from every photo of them. 0.6 is above every same-person distance of the shared photos (the
 * largest pair 0.600; a photo is nearer the mean of the others than to any one of them).
 */
export const SAME_SAMPLE_LIMIT = 0.6;

/** The face store (face-store). */
export const STORE = Object.freeze({
  backups: num({ default: 3, min: 0, max: 50, step: 1, integer: true }),
  /** Where the people are: a datafile of this instance, or a PostgreSQL schema several instances share. */
  backend: choice(['nedb', 'postgres'] as const, 'nedb'),
  /** PostgreSQL: connections of the pool (a batch holds one for its lock while its changes take another). */
  poolSize: num({ default: 10, min: 2, max: 100, step: 1, integer: true }),
});

/**
 * A face store's searches over at least this many samples run in a worker thread (a 100k search
 * takes about 2 ms on the main thread with the SIMD kernel, 1M about 20 ms: bench/results/match.json);
 * 0 = never.
 */
export const STORE_OFFLOAD_ROWS = 100_000;

/**
 * A supervised process (lib/process: a camera's ffmpeg, an inference worker process): its restart
 * backoff and the grace periods of its stop. A camera's reconnect delays default to the backoff's.
 */
export const PROCESS = Object.freeze({
  /** Delay before the first restart; it grows by `factor` per attempt up to `maxDelayMs`. */
  initialDelayMs: 1000,
  maxDelayMs: 60_000,
  factor: 2,
  /** A process that ran this long counts as healthy: the attempt counter starts over. */
  healthyAfterMs: 30_000,
  /** After ending stdin (and the IPC channel), how long to wait before SIGTERM. */
  graceMs: 2000,
  /** After SIGTERM, how long to wait before SIGKILL. */
  termGraceMs: 2000,
  /** A camera's ffmpeg stops sooner: each grace period of its stop. */
  cameraStopGraceMs: 1500,
});

/** A camera (face-camera, lib/camera). */
export const CAMERA = Object.freeze({
  /** What kind of address the URL is (see CAMERA_SOURCES). */
  source: choice(CAMERA_SOURCES, 'network'),
  transport: choice(TRANSPORTS, 'tcp'),
  /** Frames per second sent on; ffmpeg drops the others (the original system's frame skipping). */
  fps: num({ default: 2, min: 0.1, max: 30, step: 0.1, unit: 'frames/s' }),
  /** Frames scaled to this width; 0 keeps the camera's. */
  width: num({ default: 640, min: 64, max: 7680, step: 2, integer: true, zeroOff: true, unit: 'px' }),
  /**
   * Faces are described from the camera's full picture (ffmpeg also sends each frame at the camera's
   * size, as JPEG) or from the scaled frame. On faces 40-80 px wide in a 1080p camera, the full
   * picture names about twice as many (docs/recognition.md).
   */
  describeFrom: choice(DESCRIBE_FROM, 'full'),
  /** Seconds without a frame before the stream is restarted. */
  stallTimeout: num({ default: 20, min: 2, max: 3600, step: 1, unit: 's' }),
  /** Reconnect attempts in a row before giving up; 0 = never give up. */
  maxAttempts: num({ default: 0, min: 1, max: 1000000, step: 1, integer: true, zeroOff: true }),
  /** First reconnect delay; it doubles up to maxRetryDelay. */
  retryDelay: num({ default: PROCESS.initialDelayMs / 1000, min: 0.1, max: 3600, step: 0.1, unit: 's' }),
  maxRetryDelay: num({ default: PROCESS.maxDelayMs / 1000, min: 1, max: 3600, step: 1, unit: 's' }),
  /** Socket timeout inside ffmpeg (RTSP, HTTP). */
  socketTimeout: num({ default: 10, min: 1, max: 600, step: 1, unit: 's' }),
  /**
   * ffmpeg's decoding threads per camera (FACEWATCH_FFMPEG_THREADS); 0 = ffmpeg's choice (one per
   * core). One thread decodes a 720p or 1080p camera with less CPU than several (measured: 8 % less
   * at 720p), and several cameras already spread over the cores, one ffmpeg each; raise it for a 4K
   * camera on a slow machine.
   */
  decodeThreads: num({ default: 1, min: 0, max: 64, step: 1, integer: true }),
});

/** MQTT (face-mqtt-broker, face-mqtt, lib/mqtt). */
export const MQTT = Object.freeze({
  /** QoS of events and retained state. */
  qos: num({ default: 1, min: 0, max: 2, step: 1, integer: true }),
  /** Events kept while the broker is away; the oldest go first when it overflows. */
  queueLimit: num({ default: 1000, min: 1, max: 1000000, step: 1, integer: true }),
  /** Seconds after the last sighting before a person counts as gone. */
  presenceTimeout: num({ default: 300, min: 1, max: 86400, step: 1, unit: 's' }),
  /** First reconnect delay; it doubles up to maxRetryDelay. */
  retryDelay: num({ default: 1, min: 0.1, max: 3600, step: 0.1, unit: 's' }),
  maxRetryDelay: num({ default: 30, min: 1, max: 3600, step: 1, unit: 's' }),
  keepalive: num({ default: 30, min: 5, max: 3600, step: 1, integer: true, unit: 's' }),
});
/** MQTT text defaults: the topic every FaceWatch topic starts with, and Home Assistant's discovery prefix. */
export const MQTT_TEXT = Object.freeze({
  baseTopic: 'facewatch',
  discoveryPrefix: 'homeassistant',
});

/** face-detect's own settings. */
export const DETECT_NODE = Object.freeze({
  keepImage: choice(KEEP_IMAGE_POLICIES, 'faces'),
});

/** Motion gating (face-detect, lib/vision/motion): `off`, detect on the whole frame, or on the moved regions. */
export const MOTION_MODES = ['off', 'frame', 'regions'] as const;
/** face-detect: what becomes of a camera frame the motion gate skipped. */
export const SKIPPED_FRAME_POLICIES = ['send', 'drop'] as const;
export type MotionMode = (typeof MOTION_MODES)[number];
export type SkippedFramePolicy = (typeof SKIPPED_FRAME_POLICIES)[number];

/**
 * Motion gating of camera frames (face-detect's settings, lib/vision/motion). Photos (no
 * msg.frame.camera) are never gated. See README "Motion gating" for the measurements behind these.
 */
export const MOTION = Object.freeze({
  mode: choice(MOTION_MODES, 'frame'),
  /** 1..100: 50 counts a pixel as changed 25 grey levels off the background, 100 at 5, 1 at 45. */
  sensitivity: num({ default: 50, min: 1, max: 100, step: 1, integer: true }),
  /** The smallest changed area that counts as motion, in % of the frame (0.1 %: 230 px of a 640x360 frame). */
  minArea: num({ default: 0.1, min: 0.01, max: 50, step: 0.01, unit: '%' }),
  /** The detector keeps running (once a second, MOTION_DETECTOR.keepAliveEvery) this long after it last found a face (someone standing still). */
  keepAlive: num({ default: 2, min: 0, max: 600, step: 0.5, unit: 's' }),
  /** The detector runs at least this often whatever the motion, so a missed change never blinds a camera for long. */
  refresh: num({ default: 30, min: 1, max: 3600, step: 1, unit: 's' }),
  skipped: choice(SKIPPED_FRAME_POLICIES, 'send'),
});

/** Fixed parameters of the motion detector (lib/vision/motion); not settings. */
export const MOTION_DETECTOR = Object.freeze({
  /** Frames are reduced to about this width (greyscale, averaged blocks) before comparison. */
  width: 160,
  /** Time constant of the running background, in seconds: slow light changes fade into it. */
  backgroundSeconds: 5,
  /** Changed pixels join the background this many times more slowly (a passer-by does not smear it). */
  movingSlowdown: 2,
  /**
   * Without motion, a keep-alive looks again at most once in this many seconds (a quarter early is
   * allowed, for frame timing): someone standing still is seen once a second whatever the camera's
   * frame rate, and a passer-by who left costs two runs, not every frame of the keep-alive.
   */
  keepAliveEvery: 1,
  /** Region mode enlarges each moved region by this share of its longer side on every side. */
  regionMargin: 0.5,
  /** Region mode detects on the regions only when that costs at most this share of a whole-frame detection. */
  regionMaxCost: 0.6,
});

/** detection-log (lib/events): cooldown, retention and the disk cap of the detection events. */
export const EVENTS = Object.freeze({
  /** Seconds during which a (person, camera) pair gives no new event; the original system's 3 s. */
  cooldown: num({ default: 3, min: 0, max: 86400, step: 1, unit: 's' }),
  retainKnownDays: num({ default: 30, min: 1, max: 3650, step: 1, integer: true, unit: 'days' }),
  retainUnknownDays: num({ default: 7, min: 1, max: 3650, step: 1, integer: true, unit: 'days' }),
  /** Disk cap of the events (datafile, daily files, snapshots); 0 = no cap. */
  maxDiskMB: num({ default: 0, min: 1, max: 10000000, step: 1, zeroOff: true, unit: 'MB' }),
});

/**
 * Recurring visitors (lib/events/visitors.ts): an unknown track is described by the mean of its
 * best frames (by quality) and joins the visitor whose nearest kept sample is under `threshold`,
 * stricter than the match threshold (one stranger made two visitors is a nuisance; two strangers
 * made one visitor is a wrong record), else it starts a new visitor. Visitors and their samples live
 * as long as unknown events do (EVENTS.retainUnknownDays). Measured in README "Visitors".
 */
export const VISITORS = Object.freeze({
  threshold: num({ default: 0.45, min: 0.05, max: MATCH_THRESHOLD, step: 0.01 }),
  /** Descriptors kept per visitor, the best by quality (each the mean of one visit's best frames). */
  samples: num({ default: 5, min: 1, max: 20, step: 1, integer: true }),
  /** Frames of an unknown track its visitor is decided on: its event waits for them (or the track's end). */
  frames: num({ default: 3, min: 1, max: 20, step: 1, integer: true }),
  /** A sighting this long after the visitor's last one is a new visit. */
  visitGapMinutes: num({ default: 30, min: 1, max: 10080, step: 1, integer: true, unit: 'min' }),
  /** Pictures of a visitor (its best sightings' crops) the Face Library's Enrol as enrols, at most. */
  enrolPictures: num({ default: 5, min: 1, max: 20, step: 1, integer: true }),
  /**
   * Face crops of one unknown passage kept with its event, for enrolment from the track (face-register's
   * `msg.event`, the Face Library's Enrol as): its best frame (the event's crop) and the next best by
   * quality, preferring a frame turned at least `passageSpreadDegrees` from those kept.
   */
  passagePictures: 3,
  passageSpreadDegrees: 10,
  /**
   * Visitors that left a gallery (forgotten, merged, enrolled, expired) whose fate is remembered, the
   * newest, so that an event given one of them on its way is relabelled or dropped (ids are never
   * reused; an event is on its way for seconds, so this bounds memory, not correctness).
   */
  fatesKept: 10_000,
});

/** Event queries (detection-log's `query`, the Face Library's events): how many events one answer holds. */
export const EVENT_QUERY = Object.freeze({
  limit: num({ default: 100, min: 1, max: 1000, step: 1, integer: true }),
});

/**
 * How often detection-log sweeps its store's events (retention, then the disk cap): hourly, and
 * every few minutes while a disk cap is set, so that a busy camera cannot run far past the cap (the
 * log also holds its events in memory) between two sweeps.
 */
export const EVENT_SWEEPS = Object.freeze({
  everyMinutes: 60,
  withCapMinutes: 5,
});

/**
 * The Face Library (its REST API and live view, lib/live): upload limit, live frame cap, how long a
 * viewer counts as watching after its last poll, and the long-poll's wait.
 */
export const LIBRARY = Object.freeze({
  /** Largest photo upload; bigger ones get 413 (Node-RED's own 5 MB body limit does not apply). */
  uploadMegabytes: num({ default: 16, min: 0.1, max: 1024, step: 0.1, unit: 'MB' }),
  /** Live frames per second and camera, at most (the rest are not copied, encoded or sent). */
  liveFps: num({ default: 5, min: 0.1, max: 30, step: 0.1, unit: 'frames/s' }),
  /** Seconds a camera counts as watched after a viewer's last poll; afterwards the live view costs nothing. */
  viewerTimeout: num({ default: 5, min: 1, max: 600, step: 1, unit: 's' }),
  /** Seconds a live long-poll waits for a new frame before answering 204. */
  pollTimeout: num({ default: 10, min: 1, max: 60, step: 1, unit: 's' }),
  /**
   * Enrolling from a detection event: a camera's face passed face-detect, often at a camera's lower
   * confidence (0.3-0.4, see the README), so the event's crop is searched at most at this one.
   */
  eventMinConfidence: 0.3,
  /**
   * Photo uploads checked at once; one more is answered 503 (Retry-After) without reading its body,
   * so many clients cannot fill the disk or the memory with photos being checked.
   */
  maxUploads: 4,
  /** Seconds between checks of a video_feed client's token: a token that expired or was revoked ends its stream. */
  feedAuthCheck: 5,
  /**
   * Bytes of one video_feed client's answer waiting to be sent: a frame beyond that is dropped for a
   * reader that does not keep up (instead of Node-RED buffering frames without end).
   */
  feedBuffer: 256 * 1024,
});

/** Default detection options (lib/vision's engine uses these where neither engine nor call sets one). */
export const DEFAULT_DETECT_OPTIONS: Readonly<DetectOptions> = Object.freeze({
  detector: DETECT.detector.default,
  inputSize: DETECT.inputSize.default,
  minConfidence: DETECT.minConfidence.default,
  minFaceSize: DETECT.minFaceSize.default,
  maxFaces: DETECT.maxFaces.default,
  landmarks: false,
  descriptors: true,
  ageGender: false,
  expressions: false,
  maxDimension: DETECT.maxDimension.default,
  crop: false,
  cropMargin: DETECT.cropMargin.default,
});

export { NODE_TYPES, type FaceWatchNodeType } from './node-types';

/** Whether `limit` is a number limit. */
export function isNumberLimit(limit: Limit): limit is NumberLimit {
  return typeof (limit as NumberLimit).min === 'number';
}

/** Whether `n` is a value `limit` accepts. */
export function inLimit(limit: NumberLimit, n: number): boolean {
  if (typeof n !== 'number' || !Number.isFinite(n)) return false;
  if (limit.zeroOff && n === 0) return true;
  if (n < limit.min || n > limit.max) return false;
  if (limit.integer && !Number.isInteger(n)) return false;
  if (limit.multipleOf && n % limit.multipleOf !== 0) return false;
  return true;
}

/** What `limit` accepts, in words: "a number from 0.05 to 2", "a multiple of 32 from 128 to 608". */
export function describeLimit(limit: NumberLimit): string {
  const kind = limit.multipleOf
    ? `a multiple of ${limit.multipleOf}`
    : limit.integer
      ? 'a whole number'
      : 'a number';
  return `${limit.zeroOff ? '0 or ' : ''}${kind} from ${limit.min} to ${limit.max}`;
}

/** Whether `v` is one of the choice's values. */
export function isChoice<T extends string>(limit: ChoiceLimit<T>, v: unknown): v is T {
  return typeof v === 'string' && (limit.values as readonly string[]).includes(v);
}

/** The choice's values in words: "refuse, add-sample or allow". */
export function describeChoice(limit: ChoiceLimit): string {
  const v = limit.values;
  return v.length > 1 ? `${v.slice(0, -1).join(', ')} or ${v[v.length - 1]}` : v.join('');
}

/** A setting as read: its value, and what was wrong with the given one (the default is used then). */
export interface ReadSetting<T> {
  value: T;
  /** Set when the given value was not accepted and the default was used instead. */
  problem?: string;
}

/**
 * Reads a number setting as the editor stores it (a number, its text, or '' for not set). Not set:
 * the default. Not a number, or out of range: the default, with the problem described.
 */
export function readNumber(limit: NumberLimit, v: unknown, name = 'value'): ReadSetting<number> {
  if (v === '' || v === undefined || v === null) return { value: limit.default };
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (inLimit(limit, n)) return { value: n };
  return {
    value: limit.default,
    problem: `${name} ${JSON.stringify(v)} is not ${describeLimit(limit)}: using the default ${limit.default}`,
  };
}

/**
 * Reads a number setting that may be left empty ("use the engine's default"): '' gives undefined,
 * a bad value undefined with the problem described.
 */
export function readOptionalNumber(
  limit: NumberLimit,
  v: unknown,
  name = 'value',
  unset = "using the engine's default",
): ReadSetting<number | undefined> {
  if (v === '' || v === undefined || v === null) return { value: undefined };
  const r = readNumber(limit, v, name);
  return r.problem
    ? { value: undefined, problem: `${name} ${JSON.stringify(v)} is not ${describeLimit(limit)}: ${unset}` }
    : r;
}

/** Reads a choice setting: not set gives the default; an unknown value the default, with the problem. */
export function readChoice<T extends string>(
  limit: ChoiceLimit<T>,
  v: unknown,
  name = 'value',
): ReadSetting<T> {
  if (v === '' || v === undefined || v === null) return { value: limit.default };
  if (isChoice(limit, v)) return { value: v };
  return {
    value: limit.default,
    problem: `${name} ${JSON.stringify(v)} is not ${describeChoice(limit)}: using the default ${limit.default}`,
  };
}
