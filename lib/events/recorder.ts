/**
 * From matched faces to recorded events: the tracker decides which faces make events, the
 * recorder draws the snapshot, crops the face and records the event in the log.
 *
 * With visitor tracking (a {@link VisitorRegistry}), an unknown track on a camera is not recorded at its
 * first frame: its event waits for its best frames (VISITORS.frames of them with a descriptor, or
 * the end of the track, whichever comes first), is recorded with the best of them (its picture, box
 * and time) and carries the visitor those frames decided. A track named meanwhile makes its named
 * event only, so a person walking in is no longer also an "Unknown" of their first, turned frame.
 */
import { VISITORS } from '../types/defaults';
import type { DetectionEvent, EventFace } from '../types/events';
import type { DetectionLog } from './log';
import { eventId } from './log';
import { cropFace, drawSnapshot, eventLabels, plainFrame } from './snapshot';
import { Tracker, type Track, type TrackFace } from './tracker';
import {
  eventVisitor,
  passagePictures,
  qualityScore,
  type VisitFrame,
  type VisitorRegistry,
} from './visitors';

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
  /** The store's visitors: unknown tracks get a visitor id. Absent: visitor tracking is off. */
  visitors?: VisitorRegistry | null;
  /**
   * An event as it is to be written now that its visitor may have left the gallery while it was on
   * its way (StoreEvents.follow): relabelled (merged, enrolled), or null (forgotten: not recorded).
   */
  follow?: (event: DetectionEvent) => DetectionEvent | null;
  /**
   * Told when a visit could not be given its visitor (its file or database failing), at most once a
   * minute: the event is recorded without one rather than lost.
   */
  onVisitorError?: (err: Error) => void;
  /** Milliseconds after its last frame that an unknown track still waiting is recorded (default 2000). */
  visitWaitMs?: number;
}

/** An unknown track whose event waits for its best frames. */
interface Waiting {
  track: Track;
  camera: string;
  frames: VisitFrame[];
  /** The best frame so far: what the event shows. */
  best: { quality: number; ts: number; face: RecordFace; faces: EventFace[]; image?: Buffer };
  /** Its frames with a descriptor and a picture: the pictures to enrol from the track are chosen here. */
  pictures: Array<{ quality: number; yaw: number | null; face: RecordFace; image: Buffer }>;
  /** When its last frame came (this machine's clock: frame times may be any). */
  lastArrival: number;
}

/** Feeds frames to a tracker and records the events it decides. */
export class EventRecorder {
  readonly tracker: Tracker;
  /** When a visitor error was last said (see {@link RecorderOptions.onVisitorError}). */
  private visitorWarned = 0;
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    readonly log: DetectionLog,
    private readonly opts: RecorderOptions,
  ) {
    this.tracker = new Tracker({ cooldownMs: opts.cooldown * 1000 });
  }

  /** Unknown tracks whose event is still waiting for their best frames. */
  get waitingTracks(): number {
    return this.waiting.size;
  }

  /** Takes one frame; resolves to the events it produced, in face order. */
  async frame(f: RecordFrame): Promise<Recorded[]> {
    const camera = f.camera ?? null;
    const decisions = this.tracker.observe(camera, f.ts, f.faces);
    // Every face of the frame, as the snapshot shows it; kept with each event so the picture can
    // be drawn when it is served, and an erased person's face found in other people's frames.
    const faces: EventFace[] = decisions.map((d) => ({
      box: f.faces[d.face].box,
      person: d.track.person ? { id: d.track.person.id, name: d.track.person.name } : null,
    }));
    const out: Recorded[] = [];
    const making: typeof decisions = [];
    const settle: Waiting[] = [];
    const book = this.opts.visitors;
    for (const d of decisions) {
      const face = f.faces[d.face];
      const t = d.track;
      const waiting = this.waiting.get(t.id);
      if (t.person) {
        // Named before its visitor was decided: its unknown event is not made at all.
        this.waiting.delete(t.id);
        if (d.reason) making.push(d);
        continue;
      }
      const wait = book && camera !== null && (waiting || (d.reason === 'track-start' && face.descriptor));
      if (!wait) {
        if (d.reason) making.push(d);
        continue;
      }
      const w: Waiting = waiting ?? {
        track: t,
        camera,
        frames: [],
        best: { quality: -1, ts: f.ts, face, faces },
        pictures: [],
        lastArrival: Date.now(),
      };
      this.waiting.set(t.id, w);
      w.lastArrival = Date.now();
      if (face.descriptor) {
        const quality = qualityScore(face.quality, face.score);
        w.frames.push({ descriptor: face.descriptor, quality });
        if (quality > w.best.quality) w.best = { quality, ts: f.ts, face, faces, image: f.image };
        if (this.opts.snapshots && f.image)
          w.pictures.push({ quality, yaw: face.quality?.yaw ?? null, face, image: f.image });
      }
      // Enough frames with a descriptor; or, should descriptors stop coming, enough frames at all.
      if (w.frames.length >= book.gallery.frames || t.frames >= 3 * book.gallery.frames) settle.push(w);
    }
    if (making.length)
      out.push(
        ...(await this.record(
          camera,
          f.ts,
          making.map((d) => ({ d, face: f.faces[d.face] })),
          faces,
          f.image,
        )),
      );
    for (const w of settle) out.push(...(await this.settle(w)));
    return out;
  }

  /**
   * Records the events of unknown tracks that stopped before their visitor was decided (no frame
   * for `visitWaitMs`): call it every second or so, and with `Infinity` before closing, so that no
   * waiting track is lost. Resolves to the events it recorded.
   */
  async flush(now: number = Date.now()): Promise<Recorded[]> {
    const wait = this.opts.visitWaitMs ?? 2000;
    const out: Recorded[] = [];
    for (const w of [...this.waiting.values()])
      if (now - w.lastArrival >= wait) out.push(...(await this.settle(w)));
    return out;
  }

  /** Records a waiting track's event with its best frame and the visitor its frames decide. */
  private async settle(w: Waiting): Promise<Recorded[]> {
    if (this.waiting.get(w.track.id) !== w) return [];
    this.waiting.delete(w.track.id);
    const b = w.best;
    const d = { face: 0, track: w.track, reason: 'track-start' as const };
    // The passage's other good frames, for enrolment from the track (the best is the event's crop).
    const others = passagePictures(w.pictures).filter((p) => p.face !== b.face);
    const samples: Buffer[] = [];
    for (const p of others.slice(0, VISITORS.passagePictures - 1))
      try {
        samples.push(p.face.crop ?? (await cropFace(p.image, p.face.box)));
      } catch {
        // A frame that cannot be cut is no picture to enrol from; the event does not depend on it.
      }
    const [recorded] = await this.record(
      w.camera,
      b.ts,
      [{ d, face: b.face }],
      b.faces,
      b.image,
      samples,
      async (event) => {
        try {
          const a = await this.opts.visitors?.assign({
            frames: w.frames,
            camera: w.camera,
            time: b.ts,
            event: event.id,
          });
          if (a) event.visitor = eventVisitor(a.visitor);
        } catch (err) {
          // Said once a minute at most: a database away for an hour is one problem, not thousands.
          if (Date.now() - this.visitorWarned < 60_000) return;
          this.visitorWarned = Date.now();
          (this.opts.onVisitorError ?? ((e: Error) => process.emitWarning(e.message)))(
            new Error(
              `unknown faces are recorded without a visitor id while the visitors cannot be reached: ${(err as Error).message}`,
            ),
          );
        }
      },
    );
    return recorded ? [recorded] : [];
  }

  /** Records the events of `making` (faces of one frame at `ts`). */
  private async record(
    camera: string | null,
    ts: number,
    making: Array<{ d: { track: Track; reason?: DetectionEvent['reason'] }; face: RecordFace }>,
    faces: EventFace[],
    image: Buffer | undefined,
    samples: Buffer[] = [],
    before?: (event: DetectionEvent) => Promise<void>,
  ): Promise<Recorded[]> {
    let snapshot: Buffer | null = null;
    let plain: Buffer | null = null;
    if (this.opts.snapshots && image) {
      plain = await plainFrame(image);
      snapshot = await drawSnapshot(plain, eventLabels(faces));
    }
    const out: Recorded[] = [];
    const time = new Date(ts);
    for (const { d, face } of making) {
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
      if (before) await before(event);
      let crop: Buffer | null = null;
      if (this.opts.snapshots && image) crop = face.crop ?? (await cropFace(image, face.box));
      const files = { snapshot: plain, crop, ...(samples.length ? { samples } : {}) };
      const { enrolled, follow } = this.opts;
      if (!enrolled && !follow) {
        out.push({ event: await this.log.record(event, files), snapshot });
        continue;
      }
      const recorded = await this.log.record(event, files, enrolled ?? (() => true), follow);
      if (!recorded) continue;
      // The drawn frame names everyone in it: not sent on when someone left it (or when it was
      // drawn with a visitor id that changed meanwhile).
      const whole =
        (recorded.faces?.length ?? 0) === faces.length && recorded.visitor?.id === event.visitor?.id;
      out.push({ event: recorded, snapshot: whole ? snapshot : null });
    }
    return out;
  }

  /**
   * Recorded events as they go out now: one whose visitor left the gallery after it was written
   * (its events erased or relabelled since) is relabelled, its drawn frame not sent, or left out.
   */
  followed(recorded: Recorded[]): Recorded[] {
    const follow = this.opts.follow;
    if (!follow) return recorded;
    return recorded.flatMap((r) => {
      const event = r.event.visitor ? follow(r.event) : r.event;
      if (!event) return [];
      return [event === r.event ? r : { event, snapshot: null }];
    });
  }

  /** Erases a person: the log's events and the tracker's memory of them. */
  async forgetPerson(id: string): Promise<number> {
    this.tracker.forgetPerson(id);
    return this.log.erasePerson(id);
  }
}
