// The demo camera `npm start` gives the example flow: a short clip of face-api's sample photos (people
// nobody has enrolled yet), made once with ffmpeg and kept in the user directory. face-camera plays a
// file in a loop at its own rate, so the clip becomes a camera that never ends.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Seconds each photo stays on screen, and the clip's frame rate (the example camera reads 2/s). */
const SECONDS_PER_PHOTO = 3;
const FPS = 2;
/** 4:3, the shape of the photos; the example camera scales frames to 640 wide anyway. */
const WIDTH = 640;
const HEIGHT = 480;

/** The ffmpeg FaceWatch runs (FFMPEG_PATH, or ffmpeg on the PATH). */
export function ffmpegPath() {
  return process.env.FFMPEG_PATH?.trim() || 'ffmpeg';
}

/** Whether that ffmpeg runs. */
export function hasFfmpeg() {
  const run = spawnSync(ffmpegPath(), ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 10000 });
  return run.status === 0;
}

/** How to install ffmpeg, for the terminal. */
export const INSTALL_FFMPEG = [
  'ffmpeg not found: the demo camera needs it (the photo part of the example flow works without it).',
  'Install it and run npm start again:',
  '  Debian/Ubuntu: sudo apt-get install ffmpeg',
  '  Fedora: sudo dnf install ffmpeg    Alpine: apk add ffmpeg    macOS: brew install ffmpeg',
  '  Windows: winget install ffmpeg',
  'or set FFMPEG_PATH to an ffmpeg executable.',
].join('\n');

/**
 * The clip at `file`, made from `photos` unless it is already there: each photo for a few seconds,
 * scaled into 640x480, as MJPEG (an encoder every ffmpeg build has). Written beside and renamed, so
 * an interrupted run leaves no half clip behind.
 */
export function demoClip(photos, file) {
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.part.mkv`;
  const inputs = photos.flatMap((p) => [
    '-loop',
    '1',
    '-framerate',
    String(FPS),
    '-t',
    String(SECONDS_PER_PHOTO),
    '-i',
    p,
  ]);
  const fit = `scale=${WIDTH}:${HEIGHT}:force_original_aspect_ratio=decrease,pad=${WIDTH}:${HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1`;
  const filter =
    photos.map((_, i) => `[${i}:v]${fit}[v${i}]`).join(';') +
    `;${photos.map((_, i) => `[v${i}]`).join('')}concat=n=${photos.length}:v=1:a=0[out]`;
  const run = spawnSync(
    ffmpegPath(),
    [
      '-hide_banner',
      '-v',
      'error',
      '-y',
      ...inputs,
      '-filter_complex',
      filter,
      '-map',
      '[out]',
      '-c:v',
      'mjpeg',
      '-q:v',
      '3',
      '-pix_fmt',
      'yuvj420p',
      tmp,
    ],
    { encoding: 'utf8', timeout: 120000 },
  );
  if (run.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`ffmpeg could not make the demo clip: ${run.stderr || run.error?.message}`);
  }
  renameSync(tmp, file);
  return file;
}
