/**
 * Synthetic CCTV clips for the motion-gating tests and benchmark, and the strangers clip of the
 * recurring visitors' end-to-end test, made with ffmpeg from the fixtures: a still background (a
 * blurred frame of the Hamilton clip, no face in it) with small temporal noise and a slow brightness
 * drift over the whole picture, and passages at known times: a face photo or a stretch of the
 * Hamilton clip moving across the frame. 640x360, 10 frames per second, H.264.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLIP } from './rtsp';
import { fixturePath } from './env';

const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';

/** A passage: something with a face crossing the frame from `start` to `end` seconds. */
export interface Passage {
  name: string;
  start: number;
  end: number;
}

/** The passages of the main clip (60 s). */
export const PASSAGES: readonly Passage[] = [
  { name: 'obama photo, left to right', start: 8, end: 11 },
  { name: 'Hamilton stretch, right to left', start: 24, end: 27 },
  { name: 'biden photo, right to left', start: 41, end: 44 },
];
export const CLIP_SECONDS = 60;
/** In the stand-still clip, the photo walks in from `WALK_IN` to `STAND` seconds and then stays. */
export const WALK_IN = 4;
export const STAND = 6;
export const STILL_CLIP_SECONDS = 40;

const W = 640;
const H = 360;

let dir: string | undefined;
function workDir(): string {
  if (!dir) {
    const d = mkdtempSync(path.join(os.tmpdir(), 'fw-motion-'));
    dir = d;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

function ffmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(FFMPEG, ['-v', 'error', '-y', ...args], { timeout: 300000 }, (err, _o, stderr) =>
      err ? reject(new Error(`ffmpeg failed: ${err.message} ${String(stderr)}`)) : resolve(),
    ),
  );
}

/** The background: the clip's first frame, blurred until no face can be found in it. */
async function background(): Promise<string> {
  const file = path.join(workDir(), 'background.png');
  await ffmpeg(['-i', CLIP, '-frames:v', '1', '-vf', `scale=${W}:${H},gblur=sigma=14`, file]);
  return file;
}

/** x of an overlay of width `w` crossing the frame from `t0` to `t1`, left to right or back. */
function across(t0: number, t1: number, leftToRight: boolean): string {
  const p = `(t-${t0})/${t1 - t0}`;
  return leftToRight ? `-w+${p}*(W+w)` : `W-${p}*(W+w)`;
}

/** Noise and drift over everything, then H.264 with a keyframe every second (for RTSP). */
const finish = (seconds: number): string =>
  `noise=alls=5:allf=t+u,eq=brightness='-0.05+0.1*t/${seconds}':eval=frame,format=yuv420p`;
const FINISH = finish(CLIP_SECONDS);
const ENCODE = ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '10', '-r', '10', '-an'];

let mainClip: Promise<string> | undefined;
/** The 60 s clip with PASSAGES (made once per process). */
export function motionClip(): Promise<string> {
  mainClip ??= (async () => {
    const bg = await background();
    const out = path.join(workDir(), 'motion.mp4');
    const [p1, p2, p3] = PASSAGES;
    const filter = [
      `[0:v]fps=10,trim=duration=${CLIP_SECONDS},setpts=PTS-STARTPTS[bg]`,
      `[1:v]scale=-2:240[a]`,
      `[2:v]scale=480:270,fps=10,setpts=PTS-STARTPTS+${p2.start}/TB[b]`,
      `[3:v]scale=-2:240[c]`,
      `[bg][a]overlay=x='${across(p1.start, p1.end, true)}':y=60:enable='between(t,${p1.start},${p1.end})'[v1]`,
      `[v1][b]overlay=x='${across(p2.start, p2.end, false)}':y=45:enable='between(t,${p2.start},${p2.end})':eof_action=pass[v2]`,
      `[v2][c]overlay=x='${across(p3.start, p3.end, false)}':y=70:enable='between(t,${p3.start},${p3.end})'[v3]`,
      `[v3]${FINISH}[out]`,
    ].join(';');
    await ffmpeg([
      ...['-loop', '1', '-framerate', '10', '-t', String(CLIP_SECONDS), '-i', bg],
      ...['-loop', '1', '-framerate', '10', '-t', String(CLIP_SECONDS)],
      ...['-i', fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg')],
      ...['-ss', '3', '-t', String(p2.end - p2.start), '-i', CLIP],
      ...['-loop', '1', '-framerate', '10', '-t', String(CLIP_SECONDS)],
      ...['-i', fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'biden', 'biden2.jpg')],
      ...['-filter_complex', filter, '-map', '[out]', ...ENCODE, '-t', String(CLIP_SECONDS), out],
    ]);
    return out;
  })();
  return mainClip;
}

let stillClip: Promise<string> | undefined;
/** The 30 s clip where a photo walks in (WALK_IN..STAND s) and then stands still (made once). */
export function standStillClip(): Promise<string> {
  stillClip ??= (async () => {
    const bg = await background();
    const out = path.join(workDir(), 'stand-still.mp4');
    const x = `'if(lt(t,${STAND}),-w+(t-${WALK_IN})/${STAND - WALK_IN}*(W/2),W/2-w)'`;
    const filter = [
      `[0:v]fps=10,setpts=PTS-STARTPTS[bg]`,
      `[1:v]scale=-2:240[a]`,
      `[bg][a]overlay=x=${x}:y=60:enable='gte(t,${WALK_IN})'[v]`,
      `[v]${FINISH}[out]`,
    ].join(';');
    await ffmpeg([
      ...['-loop', '1', '-framerate', '10', '-t', String(STILL_CLIP_SECONDS), '-i', bg],
      ...['-loop', '1', '-framerate', '10', '-t', String(STILL_CLIP_SECONDS)],
      ...['-i', fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg')],
      ...['-filter_complex', filter, '-map', '[out]', ...ENCODE, '-t', String(STILL_CLIP_SECONDS), out],
    ]);
    return out;
  })();
  return stillClip;
}

/** A photo crossing a passages clip slowly, from `start` to `end` seconds; `name` is who it is. */
export interface PhotoPassage extends Passage {
  photo: string;
  leftToRight: boolean;
}

const photoOf = (...p: string[]): string => fixturePath('face_recognition', 'examples', ...p);
const OBAMA_PHOTO = photoOf('knn_examples', 'train', 'obama', 'obama.jpg');
const KIT_PHOTO = photoOf('knn_examples', 'train', 'kit_harington', 'john1.jpeg');

/**
 * The strangers clip's passages: stranger A, stranger B, then A again (the same photo, the other
 * way): nobody enrolled, so A must get one visitor id for both passages and B another.
 */
export const STRANGERS: readonly PhotoPassage[] = [
  { name: 'stranger A', photo: OBAMA_PHOTO, start: 2, end: 10, leftToRight: true },
  { name: 'stranger B', photo: KIT_PHOTO, start: 14, end: 22, leftToRight: false },
  { name: 'stranger A', photo: OBAMA_PHOTO, start: 26, end: 34, leftToRight: false },
];
export const STRANGERS_SECONDS = 38;

/**
 * The returning clip's passages, for measuring visitors: three people, each passing twice, the
 * second time as another photo of them (another day, light and camera), people in between.
 */
export const RETURNING: readonly PhotoPassage[] = [
  { name: 'Barack Obama', photo: OBAMA_PHOTO, start: 2, end: 10, leftToRight: true },
  { name: 'Kit Harington', photo: KIT_PHOTO, start: 14, end: 22, leftToRight: false },
  {
    name: 'Rose Leslie',
    photo: photoOf('knn_examples', 'train', 'rose_leslie', 'img1.jpg'),
    start: 26,
    end: 34,
    leftToRight: true,
  },
  {
    name: 'Barack Obama',
    photo: photoOf('knn_examples', 'train', 'obama', 'obama2.jpg'),
    start: 38,
    end: 46,
    leftToRight: false,
  },
  {
    name: 'Kit Harington',
    photo: photoOf('knn_examples', 'train', 'kit_harington', 'john2.jpeg'),
    start: 50,
    end: 58,
    leftToRight: true,
  },
  {
    name: 'Rose Leslie',
    photo: photoOf('knn_examples', 'train', 'rose_leslie', 'img2.jpg'),
    start: 62,
    end: 70,
    leftToRight: false,
  },
];
export const RETURNING_SECONDS = 74;

const clips = new Map<string, Promise<string>>();
/** A clip of `passages` over the still background, `seconds` long (made once per process and name). */
export function passagesClip(
  name: string,
  passages: readonly PhotoPassage[],
  seconds: number,
): Promise<string> {
  let made = clips.get(name);
  if (!made) {
    made = (async () => {
      const bg = await background();
      const out = path.join(workDir(), `${name}.mp4`);
      const inputs: string[] = [];
      const filter = [`[0:v]fps=10,trim=duration=${seconds},setpts=PTS-STARTPTS[v0]`];
      passages.forEach((p, i) => {
        inputs.push('-loop', '1', '-framerate', '10', '-t', String(seconds), '-i', p.photo);
        filter.push(`[${i + 1}:v]scale=-2:240[p${i}]`);
        filter.push(
          `[v${i}][p${i}]overlay=x='${across(p.start, p.end, p.leftToRight)}':y=60:enable='between(t,${p.start},${p.end})'[v${i + 1}]`,
        );
      });
      filter.push(`[v${passages.length}]${finish(seconds)}[out]`);
      await ffmpeg([
        ...['-loop', '1', '-framerate', '10', '-t', String(seconds), '-i', bg],
        ...inputs,
        ...['-filter_complex', filter.join(';'), '-map', '[out]', ...ENCODE, '-t', String(seconds), out],
      ]);
      return out;
    })();
    clips.set(name, made);
  }
  return made;
}

/** The clip of {@link STRANGERS} (made once per process). */
export function strangersClip(): Promise<string> {
  return passagesClip('strangers', STRANGERS, STRANGERS_SECONDS);
}

/** A decoded frame of a clip, with its time in seconds. */
export interface ClipFrame {
  t: number;
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** The clip's frames at `fps` frames per second as raw RGB, decoded by ffmpeg as rtsp-source does. */
export function clipFrames(file: string, fps = 2): ClipFrame[] {
  const raw = execFileSync(
    FFMPEG,
    ['-v', 'error', '-i', file, '-vf', `fps=${fps}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    { maxBuffer: 1 << 30, timeout: 300000 },
  );
  const size = W * H * 3;
  const frames: ClipFrame[] = [];
  for (let i = 0; i + size <= raw.length; i += size) {
    frames.push({
      t: frames.length / fps,
      data: new Uint8Array(raw.buffer, raw.byteOffset + i, size),
      width: W,
      height: H,
      channels: 3,
    });
  }
  return frames;
}

/** The passage a time falls in (with `slack` seconds either side), if any. */
export function passageAt(
  t: number,
  slack = 0,
  passages: readonly Passage[] = PASSAGES,
): Passage | undefined {
  return passages.find((p) => t >= p.start - slack && t <= p.end + slack);
}
