/**
 * From matched faces to recorded events: the tracker decides which faces make events, the
 * recorder draws the snapshot, crops the face and records the event in the log.
 */
import type { DetectionEvent, EventFace } from '../types/events';
import type { DetectionLog } from './log';
import { eventId } from './log';
import { cropFace, drawSnapshot, eventLabels, plainFrame } from './snapshot';
import { Tracker, type TrackFace } from './tracker';

/** A face as the recorder takes it: a face from face-match, with its crop when face-detect made one. */
export interface RecordFace extends TrackFace {
  crop?: Buffer;
}

/** One frame (or photo) to record. */
export interface RecordFrame {
  /** The camera's name; absent for a photo (camera `photo`, each face its own one-frame track). */
  camera?: string;
  /** Capture time, epoch ms (the frame's), else when it arrived. */
  ts: number;
  faces: RecordFace[];
  /** The frame as an encoded image, for the snapshot and crops; without it no pictures are kept. */
  image?: Buffer;
}

/** A recorded event and its drawn frame. */
export interface Recorded {
  event: DetectionEvent;
  /**
   * The frame with every face's box and name drawn (JPEG) when snapshots are on and the frame came
   * with its image. Only sent on: the log keeps the plain frame and draws it again when asked.
   */
  snapshot: Buffer | null;
}

/** Recorder options. */
export interface RecorderOptions {
  /** Seconds. */
  cooldown: number;
  /** Keep the drawn frame and the face crop with each event. */
  snapshots: boolean;
  /**
   * Who the store still knows: a face named after someone it no longer knows (erased while the
   * frame was on its way) is not recorded and leaves the pictures (see {@link DetectionLog.record}).
   */
  enrolled?: (personId: string) => boolean;
}

/** Feeds frames to a tracker and records the events it decides. */
export class EventRecorder {
  readonly tracker: Tracker;

  constructor(
    readonly log: DetectionLog,
    private readonly opts: RecorderOptions,
  ) {
    this.tracker = new Tracker({ cooldownMs: opts.cooldown * 1000 });
  }

  /** Takes one frame; resolves to the events it produced, in face order. */
  async frame(f: RecordFrame): Promise<Recorded[]> {
    const camera = f.camera ?? null;
    const decisions = this.tracker.observe(camera, f.ts, f.faces);
    const making = decisions.filter((d) => d.reason);
    if (!making.length) return [];
    // Every face of the frame, as the snapshot shows it; kept with each event so the picture can
    // be drawn when it is served, and an erased person's face found in other people's frames.
    const faces: EventFace[] = decisions.map((d) => ({
      box: f.faces[d.face].box,
      person: d.track.person ? { id: d.track.person.id, name: d.track.person.name } : null,
    }));
    let snapshot: Buffer | null = null;
    let plain: Buffer | null = null;
    if (this.opts.snapshots && f.image) {
      plain = await plainFrame(f.image);
      snapshot = await drawSnapshot(plain, eventLabels(faces));
    }
    const out: Recorded[] = [];
    const time = new Date(f.ts);
    for (const d of making) {
      const face = f.faces[d.face];
      const t = d.track;
      const event: DetectionEvent = {
        id: eventId(time),
        time: time.toISOString(),
        camera: camera ?? 'photo',
        known: !!t.person,
        person: t.person ? { id: t.person.id, name: t.person.name } : null,
        distance: t.distance,
        confidence: t.confidence,
        ...(typeof face.score === 'number' ? { score: Math.round(face.score * 1000) / 1000 } : {}),
        box: face.box,
        quality: face.quality ?? {
          faceSize: Math.min(face.box.width, face.box.height),
          sharpness: 0,
          yaw: null,
        },
        frames: t.frames,
        trackId: t.id,
        reason: d.reason ?? 'track-start',
        faces,
        snapshot: null,
        crop: null,
      };
      let crop: Buffer | null = null;
      if (this.opts.snapshots && f.image) crop = face.crop ?? (await cropFace(f.image, face.box));
      const files = { snapshot: plain, crop };
      const enrolled = this.opts.enrolled;
      if (!enrolled) {
        out.push({ event: await this.log.record(event, files), snapshot });
        continue;
      }
      const recorded = await this.log.record(event, files, enrolled);
      if (!recorded) continue;
      // The drawn frame names everyone in it: not sent on when someone left it.
      const whole = (recorded.faces?.length ?? 0) === faces.length;
      out.push({ event: recorded, snapshot: whole ? snapshot : null });
    }
    return out;
  }

  /** Erases a person: the log's events and the tracker's memory of them. */
  async forgetPerson(id: string): Promise<number> {
    this.tracker.forgetPerson(id);
    return this.log.erasePerson(id);
  }
}
