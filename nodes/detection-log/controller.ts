import type { EventLog, EventQuery } from '../../lib/events/log';
import type { EventRecorder, RecordFace } from '../../lib/events/recorder';
import type { FaceStore } from '../../lib/store/face-store';
import type { DetectionEvent } from '../../lib/types/events';
import type { NodeMessage, NodeMessageInFlow, Send } from '../shared/red';
import type { Status } from '../shared/status';

/** What detection-log reads from a message. */
export interface LogMessage extends NodeMessageInFlow {
  faces?: RecordFace[];
  frame?: { camera?: string; ts?: number; width?: number; height?: number };
  image?: Buffer;
  event?: DetectionEvent;
  snapshot?: Buffer;
}

/** The parts a controller works with once the store and the log are open. */
export interface LogParts {
  store: FaceStore;
  log: EventLog;
  recorder: EventRecorder;
}

const QUERY_FIELDS = ['person', 'camera', 'from', 'to', 'known', 'limit', 'offset'] as const;

/** The query of a `query` message: from msg.payload when it is an object, else from msg itself. */
export function queryOf(msg: Record<string, unknown>): EventQuery {
  const src =
    msg.payload && typeof msg.payload === 'object' && !Buffer.isBuffer(msg.payload)
      ? (msg.payload as Record<string, unknown>)
      : msg;
  const q: Record<string, unknown> = {};
  for (const k of QUERY_FIELDS) if (src[k] !== undefined && src[k] !== null && src[k] !== '') q[k] = src[k];
  if (typeof q.known === 'string') q.known = q.known === 'true';
  if (typeof q.person === 'object' && q.person) q.person = (q.person as { id?: string }).id;
  return q;
}

/** Turns face-match's messages into events, answers queries and statistics. */
export class DetectionLogController {
  private erasing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly status: Status,
    private readonly parts: Promise<LogParts>,
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
    const ts = typeof msg.frame?.ts === 'number' && Number.isFinite(msg.frame.ts) ? msg.frame.ts : Date.now();
    const recorded = await recorder.frame({ camera, ts, faces: msg.faces, image });
    if (!recorded.length) return;
    const out: NodeMessage[] = recorded.map(({ event, snapshot }) => {
      const m: LogMessage = { ...msg, event, payload: event, topic: event.camera };
      if (snapshot) m.snapshot = snapshot;
      else delete m.snapshot;
      return m;
    });
    const last = recorded[recorded.length - 1].event;
    this.status.set(last.known ? 'ok' : 'idle', 'status.last', {
      name: last.person?.name ?? 'unknown',
      camera: last.camera,
    });
    send([out]);
  }
}
