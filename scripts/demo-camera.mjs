// The demo camera `npm start` gives the example flow: a short clip of face-api's sample photos (people
// nobody has enrolled yet), made once with ffmpeg and kept in the user directory, served from npm
// start's own process as an MJPEG-over-HTTP camera on 127.0.0.1, as a cheap IP camera serves its
// stream: one ffmpeg reads the clip in a loop at its own rate, and a small HTTP server sends each
// picture to every client. The example flow's face-camera reads it as the network camera it is.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import http from 'node:http';
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

/** The multipart boundary of the demo camera's stream (ffmpeg's mpjpeg muxer writes it). */
const BOUNDARY = 'facewatchdemo';
/** A client that has this much unsent is a slow reader: it misses pictures until it catches up. */
const SLOW_CLIENT_BYTES = 1 << 20;

/**
 * Cuts ffmpeg's mpjpeg output (`--boundary`, headers with Content-length, a blank line, the JPEG)
 * into pictures. Returns a function to feed it chunks; `onPicture` gets each whole JPEG.
 */
function pictureCutter(onPicture) {
  let buffer = Buffer.alloc(0);
  return (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = buffer.subarray(0, headerEnd).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(header)?.[1]);
      if (!Number.isInteger(length)) {
        // Not a part header (a stray line): skip past it.
        buffer = buffer.subarray(headerEnd + 4);
        continue;
      }
      const start = headerEnd + 4;
      if (buffer.length < start + length) return;
      onPicture(Buffer.from(buffer.subarray(start, start + length)));
      buffer = buffer.subarray(start + length);
    }
  };
}

/**
 * Serves `clip` (MJPEG, as demoClip makes it) in a loop as an MJPEG camera at
 * http://127.0.0.1:<free port>/video. Resolves with its URL and `close()`, which stops ffmpeg and
 * the server. ffmpeg is started again if it ever ends while the camera is open.
 */
export async function startDemoCamera(clip, { host = '127.0.0.1', log = console.log } = {}) {
  const clients = new Set();
  let closing = false;
  let ffmpeg;
  let restartTimer;
  /** Seconds before ffmpeg is started again: 1, doubling up to 30 while it keeps failing at once. */
  let retryDelay = 1;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/video') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found: the demo camera streams /video\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
      'Cache-Control': 'no-store',
      Connection: 'close',
    });
    // The headers go at once, as a camera's do, before the next picture.
    res.flushHeaders();
    clients.add(res);
    const drop = () => clients.delete(res);
    req.on('close', drop);
    res.on('error', drop);
  });
  const send = (jpeg) => {
    const part = Buffer.concat([
      Buffer.from(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`),
      jpeg,
      Buffer.from('\r\n'),
    ]);
    for (const res of clients) if (res.writableLength < SLOW_CLIENT_BYTES) res.write(part);
  };
  const run = () => {
    const child = spawn(
      ffmpegPath(),
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-re',
        '-stream_loop',
        '-1',
        '-i',
        clip,
        '-an',
        '-c:v',
        'copy',
        '-f',
        'mpjpeg',
        '-boundary_tag',
        BOUNDARY,
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    ffmpeg = child;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.stdout.on('data', pictureCutter(send));
    child.on('error', (err) => log(`demo camera: ffmpeg failed: ${err.message}`));
    const started = Date.now();
    child.on('close', (code, signal) => {
      if (ffmpeg === child) ffmpeg = undefined;
      if (closing) return;
      retryDelay = Date.now() - started > 60000 ? 1 : Math.min(retryDelay * 2, 30);
      log(
        `demo camera: ffmpeg ended (${signal ?? code})${stderr ? `: ${stderr.trim()}` : ''}; starting it again in ${retryDelay} s`,
      );
      restartTimer = setTimeout(run, retryDelay * 1000);
    });
  };
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  run();
  const { port } = server.address();
  return {
    url: `http://${host}:${port}/video`,
    close: async () => {
      closing = true;
      clearTimeout(restartTimer);
      const child = ffmpeg;
      if (child && child.exitCode === null && child.signalCode === null) {
        await new Promise((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
          child.once('close', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }
      for (const res of clients) res.end();
      clients.clear();
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
