/**
 * Ingest benchmark: what one camera costs in CPU (ffmpeg and Node together) when FaceWatch reads a
 * 1280x720 H.264 stream over RTSP at 2 and 5 frames per second, and how many such cameras this machine
 * ingests at 2 frames per second while the main thread's event-loop delay p99 stays under 20 ms.
 *
 * The floor, measured side by side (at the same time, on the same stream): ffmpeg alone decoding it to
 * nothing (`-f null -`), which any reader of an H.264 camera pays. Target: FaceWatch's ingest costs at most
 * 1.2x the floor per camera. The stream is made from the Hamilton clip with ffmpeg (scaled to 720p,
 * looped) and served by GStreamer's RTSP server on loopback (test/helpers/rtsp.ts). Writes
 * bench/results/ingest.json. BENCH_SECONDS sets each measurement's length (default 30), BENCH_MAX_CAMERAS
 * the most cameras tried (default 32; tried as 1, 2, 4, 8, 12, 16, 24, 32 until one fails).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CameraStream } from '../lib/camera/stream';
import { CAMERA, type DescribeFrom } from '../lib/types/defaults';
import { CLIP, startRtspServer, type RtspServer } from '../test/helpers/rtsp';
import { loopDelay } from './loop';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const MAX_CAMERAS = Number(process.env.BENCH_MAX_CAMERAS ?? 32);
const TARGET_RATIO = 1.2;
/** The full picture beside each frame may cost at most this much more than the frame alone. */
const FULL_PICTURE_TARGET = 1.3;
const TARGET_LOOP_P99_MS = 20;
const TICKS = 100; // Linux clock ticks per second (USER_HZ)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** The 720p stream: the clip scaled and looped (about 2 minutes), H.264 with a keyframe each second. */
function make720p(dir: string): Promise<string> {
  const file = path.join(dir, 'hamilton-720p.mp4');
  return new Promise((resolve, reject) =>
    execFile(
      process.env.FFMPEG_PATH || 'ffmpeg',
      [
        '-v',
        'error',
        '-y',
        '-stream_loop',
        '11',
        '-i',
        CLIP,
        '-an',
        '-vf',
        'scale=1280:720',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-profile:v',
        'main',
        '-g',
        '30',
        '-pix_fmt',
        'yuv420p',
        file,
      ],
      { timeout: 600000 },
      (err) =>
        err ? reject(new Error(`ffmpeg could not make the 720p stream: ${err.message}`)) : resolve(file),
    ),
  );
}

interface Cost {
  /** CPU seconds per wall second (1 = one core busy). */
  cpu: number;
  ffmpegCpu: number;
  nodeCpu: number;
  fps: number;
}

/** The floor: ffmpeg alone decoding the whole stream to nothing. */
function startFloor(url: string) {
  return spawn(
    process.env.FFMPEG_PATH || 'ffmpeg',
    ['-v', 'error', '-nostdin', '-rtsp_transport', 'tcp', '-i', url, '-an', '-f', 'null', '-'],
    { stdio: 'ignore' },
  );
}

/**
 * FaceWatch: CameraStreams reading the stream at `fps`, frames at `width` (0 = 1280), with the
 * full picture of each frame as JPEG (`describeFrom` full, the default) or without.
 */
async function facewatch(
  url: string,
  fps: number,
  width: number,
  cameras = 1,
  withFloor = false,
  describeFrom: DescribeFrom = CAMERA.describeFrom.default,
): Promise<Cost & { loopP99: number; perCameraFps: number[]; floorCpu: number }> {
  // The floor runs at the same time, on the same stream, so both see the same machine and server.
  const floorChild = withFloor ? startFloor(url) : undefined;
  const streams = Array.from(
    { length: cameras },
    (_, i) => new CameraStream({ name: `cam${i}`, url, fps, width, describeFrom, stopGraceMs: 500 }),
  );
  const counts = streams.map(() => 0);
  streams.forEach((s, i) => {
    s.on('frame', () => counts[i]++);
    s.start();
  });
  try {
    await sleep(4000);
    const pids = streams.map((s) => s.pid!);
    const f0 = pids.map(cpuOf);
    const floor0 = floorChild ? cpuOf(floorChild.pid!) : 0;
    const n0 = process.cpuUsage();
    const frames0 = [...counts];
    // The event-loop monitor wakes the loop 100 times a second: it runs only where its figure is
    // wanted (the camera count), not while the per-camera cost is measured.
    const h = loopDelay(10);
    if (!withFloor) h.enable();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    h.disable();
    const seconds = (performance.now() - t0) / 1000;
    const ffmpegCpu = pids.reduce((sum, pid, i) => sum + cpuOf(pid) - f0[i], 0) / seconds;
    const floorCpu = floorChild ? (cpuOf(floorChild.pid!) - floor0) / seconds : 0;
    const n = process.cpuUsage(n0);
    const nodeCpu = (n.user + n.system) / 1e6 / seconds;
    const perCameraFps = counts.map((c, i) => (c - frames0[i]) / seconds);
    return {
      cpu: (ffmpegCpu + nodeCpu) / cameras,
      ffmpegCpu: ffmpegCpu / cameras,
      nodeCpu: nodeCpu / cameras,
      fps: perCameraFps.reduce((a, b) => a + b, 0) / cameras,
      loopP99: withFloor ? NaN : h.percentile(99),
      perCameraFps,
      floorCpu,
    };
  } finally {
    floorChild?.kill('SIGKILL');
    await Promise.all(streams.map((s) => s.stop()));
  }
}

const r3 = (n: number): number => Math.round(n * 1000) / 1000;

export async function run(): Promise<unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-ingest-'));
  let server: RtspServer | undefined;
  try {
    process.stdout.write('making the 720p stream…\n');
    const file = await make720p(dir);
    server = await startRtspServer({ file });
    const url = server.url;
    const perCamera: Array<Record<string, number | boolean>> = [];
    // At 640 px both ways side by side: the full picture as JPEG beside each frame (the default), and
    // the frame alone (as before); at the camera's width there is no full picture to send.
    const ways: Array<[number, DescribeFrom]> = [
      [640, 'frame'],
      [640, 'full'],
      [0, 'frame'],
    ];
    for (const fps of [2, 5]) {
      for (const [width, describeFrom] of ways) {
        const fw = await facewatch(url, fps, width, 1, true, describeFrom);
        const base = { cpu: fw.floorCpu };
        const ratio = fw.cpu / base.cpu;
        const row = {
          fps,
          width: width || 1280,
          fullPicture: width > 0 && describeFrom === 'full',
          floorCpu: r3(base.cpu),
          facewatchCpu: r3(fw.cpu),
          ffmpegCpu: r3(fw.ffmpegCpu),
          nodeCpu: r3(fw.nodeCpu),
          deliveredFps: r3(fw.fps),
          ratio: r3(ratio),
          meetsTarget: ratio <= TARGET_RATIO,
        };
        perCamera.push(row);
        process.stdout.write(
          `${fps} fps at ${row.width} px${row.fullPicture ? ' + full picture' : ''}: FaceWatch ${row.facewatchCpu} cores (ffmpeg ${row.ffmpegCpu}, Node ${row.nodeCpu}), floor ${row.floorCpu}, ratio ${row.ratio} (target ≤ ${TARGET_RATIO})\n`,
        );
      }
    }
    // The full picture's price: FaceWatch with it against without it, at 640 px, same run.
    const fullPictureCost = [2, 5].map((fps) => {
      const row = (full: boolean) =>
        perCamera.find((r) => r.fps === fps && r.width === 640 && r.fullPicture === full);
      const ratio = Number(row(true)?.facewatchCpu) / Number(row(false)?.facewatchCpu);
      return { fps, ratio: r3(ratio), meetsTarget: ratio <= FULL_PICTURE_TARGET };
    });
    for (const c of fullPictureCost)
      process.stdout.write(
        `full picture at ${c.fps} fps: ${c.ratio}x the frame alone (target ≤ ${FULL_PICTURE_TARGET})\n`,
      );
    const scaling: Array<Record<string, number | boolean>> = [];
    let capacity = 0;
    for (const n of [1, 2, 4, 8, 12, 16, 24, 32].filter((k) => k <= MAX_CAMERAS)) {
      const fw = await facewatch(url, 2, 640, n);
      const slowest = Math.min(...fw.perCameraFps);
      const ok = fw.loopP99 < TARGET_LOOP_P99_MS && slowest >= 2 * 0.95;
      scaling.push({
        cameras: n,
        loopP99: r3(fw.loopP99),
        slowestFps: r3(slowest),
        cpuPerCamera: r3(fw.cpu),
        ok,
      });
      process.stdout.write(
        `${n} camera(s) at 2 fps: event-loop p99 ${fw.loopP99.toFixed(1)} ms, slowest camera ${slowest.toFixed(2)} fps, ${fw.cpu.toFixed(3)} cores each${ok ? '' : ' ✗'}\n`,
      );
      if (!ok) break;
      capacity = n;
    }
    const report = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      stream:
        '1280x720 H.264 (libx264 veryfast, keyframe every 30 frames) at 29.97 fps over RTSP/TCP on loopback',
      seconds: SECONDS,
      targetRatio: TARGET_RATIO,
      perCamera,
      fullPictureTarget: FULL_PICTURE_TARGET,
      fullPictureCost,
      scaling,
      camerasAt2fps: capacity,
      camerasLimit: capacity === MAX_CAMERAS ? `at least ${MAX_CAMERAS} (BENCH_MAX_CAMERAS)` : 'measured',
    };
    const out = path.join(__dirname, 'results');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'ingest.json'), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(
      `cameras ingested at 2 fps with event-loop p99 < ${TARGET_LOOP_P99_MS} ms: ${capacity}\n`,
    );
    return report;
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
