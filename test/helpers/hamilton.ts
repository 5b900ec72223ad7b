/**
 * The Hamilton clip (`short_hamilton_clip.mp4` of the fixtures) as the naming tests and the
 * recognition benchmark read it: every frame decoded by ffmpeg as rtsp-source would, each face
 * found at the camera detection settings and matched by the threshold alone, then the frames of
 * Lin-Manuel Miranda's near-frontal stretch (3.58–7.88 s, 129 frames) counted as face-match names
 * them, with and without holding a name along the track (lib/events/hold.ts).
 */
import { execFileSync } from 'node:child_process';
import { NameHolder } from '../../lib/events/hold';
import type { RecordFace } from '../../lib/events/recorder';
import type { OpenStore } from '../../lib/store/types';
import { MATCH } from '../../lib/types/defaults';
import type { FaceEngine } from '../../lib/vision/engine';
import { fixturePath } from './env';

export const HAMILTON_CLIP = fixturePath('face_recognition', 'examples', 'short_hamilton_clip.mp4');
const W = 640;
const H = 360;
const FPS = 2997 / 100;
/** His near-frontal stretch, 3.58–7.88 s: frames 108 to 236 (129 frames). */
const STRETCH = { first: Math.ceil(3.58 * FPS), last: Math.floor(7.88 * FPS) };
/** From the close-up of other people before his shot (1.51 s) on, outside his stretch: nobody is him. */
const OTHERS = { first: Math.ceil(1.51 * FPS) };
/** The camera detection settings (README "Recognition"): the microphone lowers SSD's scores. */
export const CAMERA_DETECT = { minFaceSize: 40, minConfidence: 0.3 };

/** Every frame of the clip as packed RGB (640x360). */
export function hamiltonFrames(): Uint8Array[] {
  const out = execFileSync(
    process.env.FFMPEG_PATH || 'ffmpeg',
    ['-v', 'error', '-i', HAMILTON_CLIP, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { maxBuffer: W * H * 3 * 400 },
  );
  const n = out.length / (W * H * 3);
  if (!Number.isInteger(n) || n < 200) throw new Error(`the Hamilton clip decoded to ${n} frames`);
  return Array.from(
    { length: n },
    (_, i) => new Uint8Array(out.subarray(i * W * H * 3, (i + 1) * W * H * 3)),
  );
}

/** One frame of the clip as face-match leaves it: its time (by its place in the clip) and faces. */
export interface SeenFrame {
  ts: number;
  faces: RecordFace[];
}

/** Every frame's faces found and matched against `store` by the threshold alone, in order. */
export async function describeHamilton(engine: FaceEngine, store: OpenStore): Promise<SeenFrame[]> {
  const seen: SeenFrame[] = [];
  for (const [i, data] of hamiltonFrames().entries()) {
    const r = await engine.detect({ data, width: W, height: H, channels: 3 }, CAMERA_DETECT);
    const faces: RecordFace[] = [];
    for (const f of r.faces) {
      const match = await store.matchAsync(f.descriptor ?? [], f.modelId, {
        threshold: MATCH.threshold.default,
        margin: MATCH.margin.default,
        k: MATCH.candidates.default,
      });
      faces.push({ box: f.box, quality: f.quality, descriptor: f.descriptor, match });
    }
    seen.push({ ts: Date.parse('2026-01-01T12:00:00Z') + Math.round((i * 1000) / FPS), faces });
  }
  return seen;
}

/** Frames of his stretch named him, faces named someone else, frames of the other shots named him. */
export interface StretchCount {
  stretch: number;
  frames: number;
  wrong: number;
  others: number;
}

/** The frames named as face-match names a camera's frames with `hold` (0: the threshold alone), every `step`-th frame. */
export function stretchNamed(seen: SeenFrame[], him: string, hold: number, step: number): StretchCount {
  const holder = new NameHolder({ hold, threshold: MATCH.threshold.default, margin: MATCH.margin.default });
  const out: StretchCount = { stretch: 0, frames: 0, wrong: 0, others: 0 };
  for (let i = 0; i < seen.length; i += step) {
    const copies = seen[i].faces.map((f) => ({ box: f.box, match: { ...f.match! } }));
    holder.apply('stage', seen[i].ts, copies);
    const named = copies.some((f) => f.match.known && f.match.person?.id === him);
    out.wrong += copies.filter((f) => f.match.known && f.match.person?.id !== him).length;
    if (i >= STRETCH.first && i <= STRETCH.last) {
      out.frames++;
      if (named) out.stretch++;
    } else if (i >= OTHERS.first && named) out.others++;
  }
  return out;
}

/** Threshold alone against face-match's default hold, at the clip's rate and at 2 frames/s. */
export function holdTable(seen: SeenFrame[], him: string): Record<string, Record<string, StretchCount>> {
  return {
    everyFrame: {
      threshold: stretchNamed(seen, him, 0, 1),
      hold: stretchNamed(seen, him, MATCH.hold.default, 1),
    },
    twoPerSecond: {
      threshold: stretchNamed(seen, him, 0, 15),
      hold: stretchNamed(seen, him, MATCH.hold.default, 15),
    },
  };
}
