/**
 * Motion-gating benchmark: eight cameras at 2 frames per second through face-detect's controller
 * (the node's own code: gate, region crops, backpressure), with gating off and on, with the tiny and
 * the SSD detector, one after the other in one run on the same streams.
 *
 * The streams: the synthetic CCTV clip of the tests (test/helpers/motion-clip.ts: a still background
 * with noise and a brightness drift, three passages of a face crossing the frame per minute), looped,
 * each camera starting at a different offset, each served by its own GStreamer RTSP server on loopback
 * (test/helpers/rtsp.ts) and read by FaceWatch's CameraStream (ffmpeg) at 2 frames per second.
 *
 * Per configuration: detector runs, frames dropped by backpressure (and how many of them outside the
 * passages and their keep-alive seconds), passages found of those shown, CPU used (Node with its inference threads, or worker
 * processes, plus the cameras' ffmpeg), and the event-loop delay p99. Targets (issue 11): with gating on
 * and tiny, 8 cameras at 2 fps with no passage missed, no frame dropped outside passages, event-loop
 * p99 under 20 ms, and at least 5x fewer detector runs than without gating.
 *
 * BENCH_SECONDS sets each configuration's length (default 120: two passes of the clip; 20 for a short
 * check), BENCH_CAMERAS the number of cameras (default 8), BENCH_MOTION_CONFIGS a comma-separated
 * subset of tiny-off,tiny-frame,tiny-regions,ssd-off,ssd-frame. Writes bench/results/motion.json.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CameraStream, type CameraFrame } from '../lib/camera/stream';
import type { DetectorName } from '../lib/types';
import { MOTION, type MotionMode } from '../lib/types/defaults';
import { FaceEngine, FrameDroppedError } from '../lib/vision/engine';
import { MotionDetector } from '../lib/vision/motion';
import { CameraDetector } from '../lib/vision/camera-detector';
import { CLIP_SECONDS, clipFrames, motionClip, PASSAGES } from '../test/helpers/motion-clip';
import { startRtspServer, type RtspServer } from '../test/helpers/rtsp';
import { loopDelay } from './loop';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 120);
const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 8);
const FPS = 2;
const TARGET_LOOP_P99_MS = 20;
const TARGET_RUN_RATIO = 5;
/** A frame's place in the clip is known to about a second (RTSP start-up): passages get this slack. */
const SLACK_S = 1.5;
const TICKS = 100; // Linux clock ticks per second (USER_HZ)
const ALL_CONFIGS = ['tiny-off', 'tiny-frame', 'tiny-regions', 'ssd-off', 'ssd-frame'];
const CONFIGS = (process.env.BENCH_MOTION_CONFIGS ?? ALL_CONFIGS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r3 = (n: number): number => Math.round(n * 1000) / 1000;

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** Camera i's copy of the clip: starting `offset` seconds in, looped, stream-copied (keyframe each second). */
function cameraClip(clip: string, i: number, offset: number): Promise<string> {
  const file = path.join(path.dirname(clip), `camera-${i}.mp4`);
  const loops = Math.ceil((SECONDS + offset + 30) / CLIP_SECONDS) + 1;
  return new Promise((resolve, reject) =>
    execFile(
      process.env.FFMPEG_PATH || 'ffmpeg',
      [
        ...['-v', 'error', '-y', '-stream_loop', String(loops), '-i', clip],
        ...['-ss', String(offset), '-an', '-c', 'copy', file],
      ],
      { timeout: 120000 },
      (err) => (err ? reject(new Error(`ffmpeg: ${err.message}`)) : resolve(file)),
    ),
  );
}

/**
 * Which passage (loop and index) a time of a camera's stream falls in, with the slack; `after` extends
 * the window past the passage's end (the keep-alive's frames belong to the passage).
 */
function occurrenceAt(streamT: number, after = 0): string | undefined {
  const loop = Math.floor(streamT / CLIP_SECONDS);
  for (const l of [loop - 1, loop, loop + 1]) {
    for (let p = 0; p < PASSAGES.length; p++) {
      const start = l * CLIP_SECONDS + PASSAGES[p].start - SLACK_S;
      const end = l * CLIP_SECONDS + PASSAGES[p].end + SLACK_S + after;
      if (streamT >= start && streamT <= end) return `${l}:${p}`;
    }
  }
  return undefined;
}

interface ConfigResult {
  config: string;
  detector: DetectorName;
  motion: MotionMode;
  cameras: number;
  seconds: number;
  framesIn: number;
  detectorRuns: number;
  /** Gated frames by the gate's reason (motion, recent-faces, refresh, no-motion). */
  reasons: Record<string, number>;
  skippedByGate: number;
  droppedByBackpressure: number;
  droppedOutsidePassages: number;
  passagesShown: number;
  passagesFound: number;
  cpuCores: number;
  nodeCpu: number;
  ffmpegCpu: number;
  loopP99Ms: number;
  slowestCameraFps: number;
}

async function measure(config: string, urls: string[], offsets: number[]): Promise<ConfigResult> {
  const [detector, motion] = config.split('-') as [DetectorName, MotionMode];
  const engine = await FaceEngine.create({ defaults: { detector } });
  const streams: CameraStream[] = [];
  try {
    // Warm the workers (models loaded, first inference done) before the cameras start.
    const warm = clipFrames(await motionClip(), FPS)[0];
    await Promise.all(Array.from({ length: engine.poolSize }, () => engine.detect(warm)));
    const base = engine.stats();
    const gated = new CameraDetector(engine, {
      options: { descriptors: true },
      motion:
        motion === 'off'
          ? undefined
          : {
              mode: motion,
              sensitivity: MOTION.sensitivity.default,
              minArea: MOTION.minArea.default,
              keepAlive: MOTION.keepAlive.default,
              refresh: MOTION.refresh.default,
            },
    });
    let framesIn = 0;
    let failed = 0;
    let skippedByGate = 0;
    let detectorRuns = 0;
    const reasons: Record<string, number> = {};
    const sent: Array<Map<number, number>> = urls.map(() => new Map<number, number>()); // seq → stream time
    const answered: Array<Set<number>> = urls.map(() => new Set());
    const shown = new Set<string>();
    const found = new Set<string>();
    const perCamera = urls.map(() => 0);
    let measuring = false;
    const streamTime = (i: number, seq: number): number => offsets[i] + (seq - 1) / FPS;
    urls.forEach((url, i) => {
      const s = new CameraStream({ name: `cam${i}`, url, fps: FPS, width: 640, stopGraceMs: 500 });
      s.on('frame', (f: CameraFrame) => {
        if (!measuring) return;
        framesIn++;
        perCamera[i]++;
        const t = streamTime(i, f.seq);
        sent[i].set(f.seq, t);
        const occ = occurrenceAt(t);
        if (occ) shown.add(`${i}:${occ}`);
        // As face-detect does: per-camera backpressure, the camera's name keys its gate.
        gated
          .detect({ image: f, camera: `cam${i}`, ts: f.ts, source: `camera:cam${i}` })
          .then((m) => {
            answered[i].add(f.seq);
            if (m.timing.skipped) skippedByGate++;
            else detectorRuns++;
            if (m.timing.reason) reasons[m.timing.reason] = (reasons[m.timing.reason] ?? 0) + 1;
            if (m.faces.length) {
              const o = occurrenceAt(t);
              if (o) found.add(`${i}:${o}`);
            }
          })
          .catch((err: unknown) => {
            // A frame a newer one replaced is dropped by backpressure, as face-detect drops it.
            if (!(err instanceof FrameDroppedError)) failed++;
          });
      });
      streams.push(s);
    });
    for (const s of streams) s.start();
    // Wait for every camera's first frame, then measure.
    const firstDeadline = Date.now() + 30000;
    const started = urls.map(() => false);
    streams.forEach((s, i) => s.once('frame', () => (started[i] = true)));
    while (!started.every(Boolean) && Date.now() < firstDeadline) await sleep(100);
    const ffmpegPids = streams.map((s) => s.pid ?? 0);
    const workerPids = engine.backend === 'tfjs-node' ? engine.workerIds() : [];
    const f0 = ffmpegPids.map(cpuOf);
    const w0 = workerPids.map(cpuOf);
    const n0 = process.cpuUsage();
    const h = loopDelay(10);
    h.enable();
    measuring = true;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    h.disable();
    const n = process.cpuUsage(n0);
    const ffmpegCpu = ffmpegPids.reduce((sum, pid, k) => sum + cpuOf(pid) - f0[k], 0) / seconds;
    const workerCpu = workerPids.reduce((sum, pid, k) => sum + cpuOf(pid) - w0[k], 0) / seconds;
    const nodeCpu = (n.user + n.system) / 1e6 / seconds + workerCpu;
    // Frames still in flight finish (they count), then the cameras stop.
    await Promise.all(streams.map((s) => s.stop()));
    const settle = Date.now() + 30000;
    while (engine.stats().inFlight > 0 && Date.now() < settle) await sleep(100);
    await sleep(500);
    const stats = engine.stats();
    let droppedOutside = 0;
    sent.forEach((m, i) => {
      for (const [seq, t] of m)
        if (!answered[i].has(seq) && !occurrenceAt(t, MOTION.keepAlive.default)) droppedOutside++;
    });
    // A passage counts as shown only when its whole window was inside the measurement.
    const complete = [...shown].filter((key) => {
      const [cam, loop, p] = key.split(':').map(Number);
      const times = [...sent[cam].values()];
      const first = Math.min(...times);
      const last = Math.max(...times);
      return (
        loop * CLIP_SECONDS + PASSAGES[p].start - SLACK_S >= first &&
        loop * CLIP_SECONDS + PASSAGES[p].end + SLACK_S <= last
      );
    });
    const result: ConfigResult = {
      config,
      detector,
      motion,
      cameras: urls.length,
      seconds: r3(seconds),
      framesIn,
      detectorRuns,
      reasons,
      skippedByGate,
      droppedByBackpressure: stats.dropped - base.dropped,
      droppedOutsidePassages: droppedOutside,
      passagesShown: complete.length,
      passagesFound: complete.filter((k) => found.has(k)).length,
      cpuCores: r3(nodeCpu + ffmpegCpu),
      nodeCpu: r3(nodeCpu),
      ffmpegCpu: r3(ffmpegCpu),
      loopP99Ms: r3(h.percentile(99)),
      slowestCameraFps: r3(Math.min(...perCamera) / seconds),
    };
    if (failed) process.stdout.write(`  ${failed} frames failed\n`);
    return result;
  } finally {
    await Promise.all(streams.map((s) => s.stop()));
    await engine.close();
  }
}

/** The motion detector's own cost per 640x360 frame of the clip (main thread, after warm-up). */
async function motionCost(): Promise<{ meanMs: number; medianMs: number; p99Ms: number; frames: number }> {
  const frames = clipFrames(await motionClip(), FPS);
  const d = new MotionDetector();
  for (const f of frames) d.update(f, f.t * 1000);
  const times: number[] = [];
  for (let round = 1; round <= 5; round++) {
    const fresh = new MotionDetector();
    for (const f of frames) times.push(fresh.update(f, (round * CLIP_SECONDS + f.t) * 1000).ms);
  }
  times.sort((a, b) => a - b);
  return {
    meanMs: r3(times.reduce((a, b) => a + b, 0) / times.length),
    medianMs: r3(times[Math.floor(times.length / 2)]),
    p99Ms: r3(times[Math.floor(times.length * 0.99)]),
    frames: times.length,
  };
}

export async function run(): Promise<unknown> {
  process.stdout.write('making the synthetic CCTV clip…\n');
  const clip = await motionClip();
  const cost = await motionCost();
  process.stdout.write(
    `motion detector: ${cost.medianMs} ms a frame (median; mean ${cost.meanMs}, p99 ${cost.p99Ms} ms), 640x360\n`,
  );
  const offsets = Array.from({ length: CAMERAS }, (_, i) => (i * 7) % CLIP_SECONDS);
  const servers: RtspServer[] = [];
  const results: ConfigResult[] = [];
  try {
    const files = await Promise.all(offsets.map((o, i) => cameraClip(clip, i, o)));
    for (const file of files) servers.push(await startRtspServer({ file, mount: '/cctv' }));
    const urls = servers.map((s) => s.url);
    for (const config of CONFIGS) {
      if (!ALL_CONFIGS.includes(config)) throw new Error(`unknown configuration ${config}`);
      process.stdout.write(`${config}: ${CAMERAS} cameras at ${FPS} fps for ${SECONDS} s…\n`);
      const r = await measure(config, urls, offsets);
      results.push(r);
      process.stdout.write(
        `  detector runs ${r.detectorRuns} of ${r.framesIn} frames, dropped ${r.droppedByBackpressure} (${r.droppedOutsidePassages} outside passages), passages ${r.passagesFound}/${r.passagesShown}, CPU ${r.cpuCores} cores (Node ${r.nodeCpu}, ffmpeg ${r.ffmpegCpu}), event-loop p99 ${r.loopP99Ms} ms\n`,
      );
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  const find = (c: string) => results.find((r) => r.config === c);
  const compare = (detector: DetectorName, gated: 'frame' | 'regions') => {
    const off = find(`${detector}-off`);
    const on = find(`${detector}-${gated}`);
    if (!off || !on) return undefined;
    const runRatio = on.detectorRuns > 0 ? off.detectorRuns / on.detectorRuns : Infinity;
    // Ungated, the detector runs on every frame it can take: runs plus frames dropped are what it was asked.
    const askedOff = off.detectorRuns + off.droppedByBackpressure;
    const askedRatio = on.detectorRuns > 0 ? askedOff / on.detectorRuns : Infinity;
    return {
      gated,
      detectorRunsOff: off.detectorRuns,
      detectorRunsOn: on.detectorRuns,
      runRatio: r3(runRatio),
      framesAskedOff: askedOff,
      askedRatio: r3(askedRatio),
      targets: {
        noPassageMissed: on.passagesFound === on.passagesShown && on.passagesShown > 0,
        // Runs of different lengths show different passages: compare the shares found.
        asManyPassagesAsUngated:
          on.passagesFound * Math.max(1, off.passagesShown) >=
          off.passagesFound * Math.max(1, on.passagesShown),
        noDropOutsidePassages: on.droppedOutsidePassages === 0,
        loopP99Under20ms: on.loopP99Ms < TARGET_LOOP_P99_MS,
        fiveTimesFewerRuns: askedRatio >= TARGET_RUN_RATIO,
        camerasAt2fps: on.slowestCameraFps >= FPS * 0.9,
      },
    };
  };
  const tiny = compare('tiny', 'frame');
  const report = {
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      loadavg: os.loadavg().map(r3),
    },
    clip: `${CLIP_SECONDS} s synthetic CCTV clip (640x360, 10 fps, H.264), ${PASSAGES.length} passages a minute (${PASSAGES.map((p) => `${p.name} ${p.start}-${p.end} s`).join('; ')}), noise and a brightness drift; camera i starts ${offsets.join(', ')} s in`,
    cameras: CAMERAS,
    fps: FPS,
    secondsPerConfig: SECONDS,
    motionDetector: cost,
    settings: {
      sensitivity: MOTION.sensitivity.default,
      minArea: MOTION.minArea.default,
      keepAlive: MOTION.keepAlive.default,
      refresh: MOTION.refresh.default,
    },
    results,
    comparisons: {
      tiny,
      tinyRegions: compare('tiny', 'regions'),
      ssd: compare('ssd', 'frame'),
    },
    // The issue's targets: gating on, tiny, all cameras at 2 fps.
    targetsMet: tiny ? Object.values(tiny.targets).every(Boolean) : undefined,
  };
  const out = path.join(__dirname, 'results');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'motion.json'), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(
    `targets met (tiny, gated): ${report.targetsMet === undefined ? 'n/a (needs tiny-off and tiny-frame)' : String(report.targetsMet)}\n`,
  );
  return report;
}
