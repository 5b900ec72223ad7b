import { randomBytes } from 'node:crypto';
import type { DetectionLog, EventQuery } from '../../lib/events/log';
import type { EventRecorder, RecordFace, Recorded } from '../../lib/events/recorder';
import type { OpenStore } from '../../lib/store/types';
import type { Box, FaceMatch, FaceQuality } from '../../lib/types';
import type { DetectionEvent } from '../../lib/types/events';
import { reservedKeyProblem } from '../../lib/types/keys';
import { quoteValue } from '../../lib/shared/quote';
import type { NodeMessage, NodeMessageInFlow, Send } from '../shared/red';
import type { Status } from '../shared/status';

/** What detection-log reads from a message. */
export interface LogMessage extends NodeMessageInFlow {
  faces?: RecordFace[];
  /** From outside: `ts` is checked ({@link frameTime}) and the camera name too. */
  frame?: { camera?: string; ts?: unknown; width?: number; height?: number };
  image?: Buffer;
  event?: DetectionEvent;
  snapshot?: Buffer;
}

/** The parts a controller works with once the store and the log are open. */
export interface LogParts {
  store: OpenStore;
  log: DetectionLog;
  recorder: EventRecorder;
}

const QUERY_FIELDS = [
  'person',
  'camera',
  'visitor',
  'from',
  'to',
  'known',
  'after',
  'limit',
  'offset',
] as const;

/** The largest epoch ms a JavaScript Date holds: beyond it a time cannot be written as ISO text. */
const MAX_TIME_MS = 8.64e15;

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * The query of a `query` message: from msg.payload when it is an object, else from msg itself.
 * Each field is checked here, so a wrong one is named in the error rather than failing in the log.
 */
export function queryOf(msg: Record<string, unknown>): EventQuery {
  const src =
    msg.payload && typeof msg.payload === 'object' && !Buffer.isBuffer(msg.payload)
      ? (msg.payload as Record<string, unknown>)
      : msg;
  const q: Record<string, unknown> = {};
  for (const k of QUERY_FIELDS) if (src[k] !== undefined && src[k] !== null && src[k] !== '') q[k] = src[k];
  if (typeof q.known === 'string' && (q.known === 'true' || q.known === 'false'))
    q.known = q.known === 'true';
  if (q.known !== undefined && typeof q.known !== 'boolean')
    throw new Error(`query: known must be true or false, got ${quoteValue(q.known)}`);
  if (q.person && typeof q.person === 'object' && !Array.isArray(q.person) && !Buffer.isBuffer(q.person))
    q.person = (q.person as { id?: unknown }).id;
  for (const k of ['person', 'camera', 'visitor', 'after'] as const)
    if (q[k] !== undefined && typeof q[k] !== 'string')
      throw new Error(
        `query: ${k} must be text (${k === 'person' ? "a person's id or name" : k === 'camera' ? "a camera's name" : k === 'visitor' ? "a visitor's id" : 'an event id'}), got ${quoteValue(q[k])}`,
      );
  for (const k of ['from', 'to'] as const) {
    const v = q[k];
    if (v === undefined) continue;
    const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
    if (!isFiniteNumber(ms) || Math.abs(ms) > MAX_TIME_MS)
      throw new Error(`query: ${k} is not a time (an ISO time or epoch ms), got ${quoteValue(v)}`);
  }
  for (const k of ['limit', 'offset'] as const)
    if (q[k] !== undefined && !isFiniteNumber(q[k]))
      throw new Error(`query: ${k} must be a number, got ${quoteValue(q[k])}`);
  return q;
}

function box(v: unknown, where: string): Box {
  const b = v as Partial<Record<keyof Box, unknown>> | null | undefined;
  if (
    !b ||
    typeof b !== 'object' ||
    !isFiniteNumber(b.x) ||
    !isFiniteNumber(b.y) ||
    !isFiniteNumber(b.width) ||
    !isFiniteNumber(b.height) ||
    b.width <= 0 ||
    b.height <= 0
  )
    throw new Error(`${where}.box must be {x, y, width, height} in pixels (a positive width and height)`);
  return { x: b.x, y: b.y, width: b.width, height: b.height };
}

function quality(
  q: Partial<Record<keyof FaceQuality, unknown>> | null | undefined,
  where: string,
): FaceQuality | undefined {
  if (q === undefined) return undefined;
  if (
    !q ||
    typeof q !== 'object' ||
    !isFiniteNumber(q.faceSize) ||
    !isFiniteNumber(q.sharpness) ||
    !(q.yaw === null || q.yaw === undefined || isFiniteNumber(q.yaw))
  )
    throw new Error(`${where}.quality must be face-detect's {faceSize, sharpness, yaw}`);
  return { faceSize: q.faceSize, sharpness: q.sharpness, yaw: q.yaw ?? null };
}

function match(v: unknown, where: string): FaceMatch | undefined {
  if (v === undefined || v === null) return undefined;
  const m = v as Partial<Record<keyof FaceMatch, unknown>>;
  const p = m.person as { id?: unknown; name?: unknown } | null | undefined;
  const person =
    p === null || p === undefined
      ? null
      : typeof p === 'object' && typeof p.id === 'string' && p.id !== '' && typeof p.name === 'string'
        ? { id: p.id, name: p.name, metadata: {} }
        : undefined;
  if (
    typeof m !== 'object' ||
    typeof m.known !== 'boolean' ||
    person === undefined ||
    !(m.distance === null || m.distance === undefined || isFiniteNumber(m.distance)) ||
    !(m.confidence === undefined || isFiniteNumber(m.confidence)) ||
    !(m.ambiguous === undefined || typeof m.ambiguous === 'boolean')
  )
    throw new Error(
      `${where}.match must be face-match's {known, person: {id, name} or null, distance, confidence}`,
    );
  return {
    known: m.known,
    person,
    distance: m.distance ?? null,
    confidence: m.confidence ?? 0,
    ambiguous: m.ambiguous ?? false,
    candidates: [],
  };
}

/**
 * msg.faces as the recorder takes them: each face checked (a wrong field is named in the error)
 * and copied with only what an event uses, so nothing else of the message reaches the log.
 */
export function recordFaces(faces: unknown[]): RecordFace[] {
  return faces.map((face, i) => {
    const where = `msg.faces[${i}]`;
    if (!face || typeof face !== 'object' || Array.isArray(face))
      throw new Error(`${where} is not a face: expected face-match's faces ({box, match, ...})`);
    const f = face as Record<string, unknown>;
    const out: RecordFace = { box: box(f.box, where) };
    const q = quality(f.quality as Parameters<typeof quality>[0], where);
    if (q) out.quality = q;
    const m = match(f.match, where);
    if (m) out.match = m;
    // The detector's confidence (face-detect's score); an unusable one is left out, not an error.
    if (typeof f.score === 'number' && f.score >= 0 && f.score <= 1) out.score = f.score;
    if (f.descriptor !== undefined) {
      if (!Array.isArray(f.descriptor) || !f.descriptor.every(isFiniteNumber))
        throw new Error(`${where}.descriptor must be an array of numbers (face-detect's descriptor)`);
      out.descriptor = f.descriptor;
    }
    if (f.crop !== undefined) {
      if (!Buffer.isBuffer(f.crop)) throw new Error(`${where}.crop must be a JPEG Buffer`);
      out.crop = f.crop;
    }
    return out;
  });
}

/** How far a frame's time may be from this machine's clock (ms) before it is not believed. */
export const FRAME_TIME_SLACK_MS = 24 * 3600 * 1000;

/**
 * The time an event of this message gets (epoch ms): `msg.frame.ts` when it is a number within
 * {@link FRAME_TIME_SLACK_MS} of `now`, else `now` (the time of arrival). A time in seconds, a camera
 * clock a year off or a value that is no time would otherwise sort as the oldest or newest event
 * and escape retention. `problem` says why a given time was not used; absent when none was given
 * or it was used.
 */
export function frameTime(ts: unknown, now: number): { ts: number; problem?: string } {
  if (ts === undefined || ts === null) return { ts: now };
  if (typeof ts !== 'number' || !Number.isFinite(ts))
    return { ts: now, problem: `msg.frame.ts ${quoteValue(ts)} is not a time (epoch milliseconds)` };
  if (Math.abs(ts - now) > FRAME_TIME_SLACK_MS) {
    const seconds =
      Math.abs(ts * 1000 - now) <= FRAME_TIME_SLACK_MS ? ': it looks like seconds, not milliseconds' : '';
    const when = Math.abs(ts) <= 8.64e15 ? ` (${new Date(ts).toISOString()})` : '';
    return {
      ts: now,
      problem: `msg.frame.ts ${ts}${when} is more than a day from this machine's clock${seconds}`,
    };
  }
  return { ts };
}

/**
 * Why a face's person cannot be recorded: their id or name is a reserved key, which the log's
 * statistics would use as a key (lib/types/keys.ts). Undefined when every face is fine.
 */
function reservedPerson(faces: RecordFace[]): string | undefined {
  for (const [i, face] of faces.entries()) {
    const person = (face as Partial<RecordFace> | null)?.match?.person;
    const problem =
      reservedKeyProblem(`msg.faces[${i}].match.person.id`, person?.id) ??
      reservedKeyProblem(`msg.faces[${i}].match.person.name`, person?.name);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Recorded events without the people `enrolled` no longer knows: their own events are left out,
 * and in other events they leave `faces` and the drawn snapshot (which shows them) is not sent.
 * `erased` lists them, for the log to erase what it just wrote of them.
 */
export function withoutErased(
  recorded: Recorded[],
  enrolled: (id: string) => boolean,
): { kept: Recorded[]; erased: string[] } {
  const erased = new Set<string>();
  const gone = (p: { id: string } | null | undefined): boolean => {
    if (!p || enrolled(p.id)) return false;
    erased.add(p.id);
    return true;
  };
  const kept: Recorded[] = [];
  for (const r of recorded) {
    if (gone(r.event.person)) continue;
    const faces = r.event.faces ?? [];
    const shown = faces.filter((f) => !gone(f.person));
    kept.push(shown.length === faces.length ? r : { event: { ...r.event, faces: shown }, snapshot: null });
  }
  return { kept, erased: [...erased] };
}

/** Turns face-match's messages into events, answers queries and statistics. */
export class DetectionLogController {
  private erasing: Promise<unknown> = Promise.resolve();
  /** A replaced frame time is said once per node: a camera with a wrong clock sends it every frame. */
  private warnedTime = false;

  constructor(
    private readonly status: Status,
    private readonly parts: Promise<LogParts>,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** Erases a person deleted from the store; later messages wait for it. */
  forget(id: string): Promise<number> {
    const run = this.parts.then(({ recorder }) => recorder.forgetPerson(id));
    this.erasing = run.catch(() => undefined);
    return run;
  }

  async handle(msg: LogMessage, send: Send): Promise<void> {
    const { store, log, recorder } = await this.parts;
    await this.erasing;
    if (msg.topic === 'query') {
      msg.payload = await log.query(queryOf(msg));
      send(msg);
      return;
    }
    if (msg.topic === 'stats') {
      msg.payload = await log.stats(store.size());
      send(msg);
      return;
    }
    if (!Array.isArray(msg.faces)) {
      throw new Error('expected msg.faces from face-match, or msg.topic "query" or "stats"');
    }
    const image = Buffer.isBuffer(msg.image)
      ? msg.image
      : Buffer.isBuffer(msg.payload)
        ? msg.payload
        : undefined;
    const camera = typeof msg.frame?.camera === 'string' && msg.frame.camera ? msg.frame.camera : undefined;
    const faces = recordFaces(msg.faces);
    const reserved = reservedKeyProblem('msg.frame.camera', camera) ?? reservedPerson(faces);
    if (reserved) throw new Error(reserved);
    const { ts, problem } = frameTime(msg.frame?.ts, Date.now());
    if (problem && !this.warnedTime) {
      this.warnedTime = true;
      this.warn(
        `${problem}: events use the time of arrival instead (said once; check the camera's clock or the unit of ts)`,
      );
    }
    await this.emit(await recorder.frame({ camera, ts, faces, image }), msg, send);
  }

  /**
   * Sends the events of unknown tracks that ended while their event waited for their best frames
   * (visitor tracking, see lib/events/recorder.ts), each in a message of its own: call it every second.
   */
  async flush(send: Send): Promise<void> {
    const { recorder } = await this.parts;
    await this.erasing;
    await this.emit(await recorder.flush(), { _msgid: randomBytes(8).toString('hex') }, send);
  }

  /** Sends recorded events on, each as `msg` with the event; none of a person deleted meanwhile. */
  private async emit(recordedNow: Recorded[], msg: LogMessage, send: Send): Promise<void> {
    const { store, log, recorder } = await this.parts;
    // A visitor forgotten (or merged, enrolled) after its event was written: the log erased (or
    // relabelled) it with the visitor, and it goes out as the log now has it, or not at all.
    const recorded = withoutErased(recorder.followed(recordedNow), (id) => store.getPerson(id) !== undefined);
    // A person deleted while this frame was being recorded (face-match named them before): the
    // erasure may have run before the event was written, so it is erased again, and no event,
    // name or drawn picture of theirs goes out.
    for (const id of recorded.erased) await log.erasePerson(id);
    if (!recorded.kept.length) return;
    const out: NodeMessage[] = recorded.kept.map(({ event, snapshot }) => {
      const m: LogMessage = { ...msg, event, payload: event, topic: event.camera };
      if (snapshot) m.snapshot = snapshot;
      else delete m.snapshot;
      return m;
    });
    const last = recorded.kept[recorded.kept.length - 1].event;
    this.status.set(last.known ? 'ok' : 'idle', 'status.last', {
      name: last.person?.name ?? 'unknown',
      camera: last.camera,
    });
    send([out]);
  }
}
