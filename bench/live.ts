/**
 * Live view benchmark: what the Face Library's live view costs the camera pipeline. The Hamilton
 * clip over RTSP (GStreamer's server on loopback) runs through a real Node-RED runtime in this
 * process: face-camera → rtsp-source → face-detect (tiny, wasm) → face-match. Three phases of the
 * same length: no page open, two open pages (two pollers of the live long-poll and frame routes
 * over HTTP, as the page does), no page again. Per phase: frames through face-match per second,
 * CPU of this process (the inference workers included, ffmpeg not), event-loop delay p99, and the
 * hub's JPEG encodes per frame shown. Targets: no measurable cost with no page open (the hub only
 * looks up one map entry per frame), at most one JPEG encode per frame shown.
 * Writes bench/results/live.json. BENCH_SECONDS sets each phase's length (default 30; 5 for a
 * quick run), BENCH_LIVE_FPS the camera's frame rate (default 10).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { LiveCounters } from '../lib/live/hub';
import { LIBRARY } from '../lib/types/defaults';
import { builtNode, helper, startServer, stopServer, type TestNode } from '../test/helpers/red';
import { startRtspServer } from '../test/helpers/rtsp';
import { loopDelay } from './loop';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const FPS = Number(process.env.BENCH_LIVE_FPS ?? 10);
const POLLERS = 2;

const NODES = ['face-camera', 'rtsp-source', 'face-engine', 'face-detect', 'face-store', 'face-match'];

interface Phase {
  name: string;
  viewers: number;
  seconds: number;
  framesPerSecond: number;
  cpuPercent: number;
  eventLoopP99Ms: number;
  /** Frames the hub kept for viewers, JPEG encodes it ran, frames shown (each answered as JPEG at least once). */
  published: number;
  encodes: number;
  shown: number;
  encodesPerFrameShown: number | null;
  /** Frames each poller received (long-poll answer + its JPEG). */
  perPoller: number[];
}

type Registry = { live: { counters: LiveCounters } };

async function phase(
  name: string,
  viewers: number,
  out: TestNode,
  counters: LiveCounters,
  base: string,
): Promise<Phase> {
  let frames = 0;
  const count = (): void => void frames++;
  out.on('input', count);
  const before = { ...counters };
  const h = loopDelay(10);
  h.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = Date.now() + SECONDS * 1000;
  const perPoller = new Array<number>(viewers).fill(0);
  const pollers = perPoller.map(async (_, i) => {
    let after = 0;
    while (Date.now() < end) {
      const res = await fetch(`${base}/facewatch/api/cameras/src/live?after=${after}`);
      if (res.status !== 200) {
        await res.arrayBuffer();
        continue;
      }
      const frame = (await res.json()) as { seq: number };
      after = frame.seq;
      const img = await fetch(`${base}/facewatch/api/cameras/src/frame?seq=${frame.seq}`);
      await img.arrayBuffer();
      if (img.status === 200) perPoller[i]++;
    }
  });
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  await Promise.all(pollers);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  h.disable();
  out.off('input', count);
  const published = counters.published - before.published;
  const encodes = counters.encodes - before.encodes;
  const shown = counters.shown - before.shown;
  const row: Phase = {
    name,
    viewers,
    seconds: Math.round(wall / 100) / 10,
    framesPerSecond: Math.round((frames / (wall / 1000)) * 10) / 10,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 1000) / 10,
    eventLoopP99Ms: Math.round(h.percentile(99) * 10) / 10,
    published,
    encodes,
    shown,
    encodesPerFrameShown: shown ? Math.round((encodes / shown) * 100) / 100 : null,
    perPoller,
  };
  process.stdout.write(
    `${name}: ${row.framesPerSecond} frames/s, CPU ${row.cpuPercent} %, event loop p99 ${row.eventLoopP99Ms} ms, ` +
      `${shown} frames shown, ${encodes} encodes${row.encodesPerFrameShown !== null ? ` (${row.encodesPerFrameShown}/frame shown)` : ''}\n`,
  );
  return row;
}

export async function run(): Promise<unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-live-'));
  const rtsp = await startRtspServer();
  await startServer();
  let server: Server | undefined;
  try {
    await helper.load(NODES.map(builtNode), [
      { id: 'cam', type: 'face-camera', name: 'stage', url: rtsp.url, fps: FPS, width: 640 },
      { id: 'eng', type: 'face-engine', backend: 'wasm', detector: 'tiny', minConfidence: 0.3 },
      { id: 'st', type: 'face-store', file: path.join(dir, 'faces.db'), backups: 0 },
      { id: 'src', type: 'rtsp-source', camera: 'cam', autoStart: false, wires: [['fd'], []] },
      {
        id: 'fd',
        type: 'face-detect',
        engine: 'eng',
        descriptors: true,
        keepImage: 'faces',
        wires: [['fm']],
      },
      { id: 'fm', type: 'face-match', store: 'st', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    // The admin app the Face Library's routes are on, served over HTTP as Node-RED serves it.
    const app = (helper as unknown as { _httpAdmin: Parameters<typeof createServer>[0] })._httpAdmin;
    server = createServer(app);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const base = `http://127.0.0.1:${port}`;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const built = require(path.join(__dirname, '..', 'dist', 'nodes', 'library', 'registry.js')) as {
      libraryRegistry: (RED: { httpAdmin: unknown }) => Registry;
    };
    const { counters } = built.libraryRegistry({ httpAdmin: app }).live;
    const out = helper.getNode('out');
    helper.getNode('src').receive({ payload: 'start' });
    // Warm-up: the engine loads and the stream settles before anything is measured.
    await new Promise<void>((resolve) => {
      const first = (): void => {
        out.off('input', first);
        resolve();
      };
      out.on('input', first);
    });
    await new Promise((r) => setTimeout(r, 3000));
    const phases = [
      await phase('no page open', 0, out, counters, base),
      await phase(`${POLLERS} pages open`, POLLERS, out, counters, base),
    ];
    // A closed page stops costing once its last poll is older than the viewer timeout.
    await new Promise((r) => setTimeout(r, LIBRARY.viewerTimeout.default * 1000 + 1000));
    phases.push(await phase('no page open again', 0, out, counters, base));
    const idle = [phases[0], phases[2]];
    const open = phases[1];
    const idleFps = (idle[0].framesPerSecond + idle[1].framesPerSecond) / 2;
    const idleCpu = (idle[0].cpuPercent + idle[1].cpuPercent) / 2;
    const report = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      pipeline: `Hamilton clip, 640x360 H.264 over RTSP/TCP on loopback at ${FPS} frames/s → rtsp-source → face-detect (tiny, wasm, keepImage faces) → face-match`,
      liveCap: `${LIBRARY.liveFps.default} frames/s per camera`,
      secondsPerPhase: SECONDS,
      phases,
      idleEncodes: idle[0].encodes + idle[1].encodes,
      idlePublished: idle[0].published + idle[1].published,
      withPagesFpsChangePercent: idleFps
        ? Math.round(((open.framesPerSecond - idleFps) / idleFps) * 1000) / 10
        : null,
      withPagesCpuChangePoints: Math.round((open.cpuPercent - idleCpu) * 10) / 10,
      meetsTarget:
        idle[0].published + idle[1].published === 0 &&
        idle[0].encodes + idle[1].encodes === 0 &&
        (open.encodesPerFrameShown ?? 0) <= 1,
    };
    const outDir = path.join(__dirname, 'results');
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, 'live.json'), JSON.stringify(report, null, 2) + '\n');
    return report;
  } finally {
    await helper.unload();
    server?.close();
    await stopServer();
    await rtsp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
