import { NameHolder } from '../../lib/events/hold';
import type { MatchRule } from '../../lib/store/match';
import type { OpenStore } from '../../lib/store/types';
import type { DetectedFace } from '../../lib/types';
import { reservedKeyProblem } from '../../lib/types/keys';
import type { NodeMessage, NodeMessageInFlow, Send } from '../shared/red';
import type { Status } from '../shared/status';
import type { StoreLease } from '../shared/store';

export interface MatchMessage extends NodeMessageInFlow {
  faces?: DetectedFace[];
  /**
   * From face-detect: only its camera and capture time are read here (the live view keys frames by
   * the camera; a name is held along a camera's frames).
   */
  frame?: { camera?: unknown; ts?: unknown };
}

export interface MatchSettings {
  threshold: number;
  margin: number;
  candidates: number;
  /** How a person's samples are compared with a face. */
  rule: MatchRule;
  /** Distance under which a face keeps the name it had in the camera's previous frame (0: off). */
  hold: number;
  /** Two outputs: known faces, unknown faces. */
  split: boolean;
}

/** What face-match puts in msg.payload: who was seen, in a line a debug node shows well. */
export interface MatchSummary {
  known: string[];
  unknown: number;
  ambiguous: number;
}

/** Longer than any model id the engine makes (`frnet-<12 hex digits>`), with room to spare. */
const MAX_MODEL_ID = 200;

/** Names each face of a message against the store. */
export class FaceMatchController {
  private lastName = '';
  private readonly holder: NameHolder;

  constructor(
    private readonly status: Status,
    private readonly lease: Promise<StoreLease>,
    private readonly settings: MatchSettings,
    /** Sees each named frame before it is split (the Face Library's live view; cheap when unwatched). */
    private readonly live?: (msg: MatchMessage) => void,
  ) {
    this.holder = new NameHolder({
      hold: settings.hold,
      threshold: settings.threshold,
      margin: settings.margin,
    });
  }

  async handle(msg: MatchMessage, send: Send): Promise<void> {
    const reserved = reservedKeyProblem('msg.frame.camera', msg.frame?.camera);
    if (reserved) throw new Error(reserved);
    const { resource: store } = await this.lease;
    const faces = msg.faces;
    if (!Array.isArray(faces)) throw new Error('expected msg.faces from face-detect (an array of faces)');
    for (const [i, face] of faces.entries()) {
      if (!face || !Array.isArray(face.descriptor)) {
        throw new Error(`face ${i} has no descriptor: tick "descriptors" in face-detect`);
      }
      if (!face.descriptor.every((v) => typeof v === 'number'))
        throw new Error(`face ${i}'s descriptor must be a list of numbers (msg.faces[${i}].descriptor)`);
      // The model's id is compared with the store's and named in its error: it must be face-detect's.
      if (typeof face.modelId !== 'string' || face.modelId.length > MAX_MODEL_ID)
        throw new Error(
          `face ${i} has no model id (msg.faces[${i}].modelId): faces must come from face-detect`,
        );
      face.match = await store.matchAsync(face.descriptor, face.modelId, {
        threshold: this.settings.threshold,
        margin: this.settings.margin,
        k: this.settings.candidates,
        rule: this.settings.rule,
      });
    }
    // A camera's frames (not photos): a face named in the previous frame keeps its name while it
    // stays under the hold distance (lib/events/hold.ts).
    const camera = msg.frame?.camera;
    if (typeof camera === 'string' && camera) {
      const ts = msg.frame?.ts;
      this.holder.apply(camera, typeof ts === 'number' && Number.isFinite(ts) ? ts : Date.now(), faces);
    }
    const known = faces.filter((f) => f.match?.known);
    const summary: MatchSummary = {
      known: known.map((f) => f.match?.person?.name ?? ''),
      unknown: faces.length - known.length,
      ambiguous: faces.filter((f) => f.match?.ambiguous).length,
    };
    if (known.length) this.lastName = summary.known[0];
    this.live?.(msg);
    this.showStatus(store);

    if (!this.settings.split) {
      msg.payload = summary;
      send(msg);
      return;
    }
    const unknown = faces.filter((f) => !f.match?.known);
    const out: (NodeMessage | null)[] = [null, null];
    if (known.length && unknown.length) {
      // Node-RED would send one object on both wires; each output gets its own copy of its faces.
      const copy = { ...msg, faces: unknown, payload: summary } as NodeMessage;
      out[1] = copy;
      out[0] = Object.assign(msg, { faces: known, payload: summary });
    } else if (known.length) {
      out[0] = Object.assign(msg, { payload: summary });
    } else if (unknown.length) {
      out[1] = Object.assign(msg, { payload: summary });
    }
    if (out[0] || out[1]) send(out);
  }

  showStatus(store: OpenStore): void {
    const size = store.size();
    if (this.lastName) this.status.set('ok', 'status.last', { name: this.lastName, size });
    else this.status.set('idle', 'status.size', { size });
  }
}
