/**
 * The soak: FaceWatch's whole example pipeline running for a long time under scheduled faults, with
 * its resources measured once a minute. Used by `npm run soak` (bench/soak.ts, 60 minutes by
 * default) and by its 2-minute version in the test suite (test/e2e/soak.test.ts).
 *
 * What runs: 8 cameras, each a GStreamer RTSP server on loopback serving a looped clip with faces
 * (the Hamilton clip on even cameras, the synthetic CCTV clip of test/helpers/motion-clip.ts on odd
 * ones, each at its own offset), read at 2 frames/s by the example flow (examples/flows.json as
 * shipped, its face-camera and rtsp-source copied for cameras 2..8): face-camera → rtsp-source →
 * face-detect (motion gating, its default) → face-match → detection-log (snapshots) → face-mqtt,
 * publishing into a private Mosquitto started on a free port, with persistence so that a restart
 * keeps the measuring subscriber's session.
 *
 * Faults on a schedule: the broker stopped and started again, one camera's server killed (SIGKILL)
 * and brought back on the same port (round robin), a person enrolled through the Face Library's REST
 * API and the previous one deleted, malformed uploads (garbage bytes, a truncated JPEG, a photo sent
 * as a form).
 *
 * Measured at every sample: RSS, heap and event-loop delay of Node-RED and each inference worker's
 * tensors and memory (through the bench-only node in bench/nodes, which answers
 * GET /facewatch/soak/stats from inside Node-RED), Node-RED's open file descriptors and its ffmpeg
 * children (from /proc), the cameras' states, the people in the store. At the end: every event in
 * the log against every event received on MQTT (by id), each erasure grepped for in Node-RED's user
 * directory and in the broker's retained messages, and no process left once Node-RED has stopped.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import type { DetectionEvent } from '../../lib/types/events';
import { allocatorEnv } from '../../scripts/allocator.mjs';
import { fixturePath, faceApiSample, ROOT } from './env';
import { residentOfSize } from './memory';
import { retainedNow, startMosquitto, type Mosquitto } from './mosquitto';
import { CLIP_SECONDS, motionClip } from './motion-clip';
import { startNodeRed, waitForLog, type RunningNodeRed } from './nodered';
import { loopedClip, startRtspServer, type RtspServer } from './rtsp';

const MB = 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** When each fault happens: at `first` seconds after the start, then every `every` seconds, before the end. */
export interface Recurring {
  first: number;
  every: number;
}

/** How long a soak runs and when its faults happen (seconds from the measured start). */
export interface SoakSchedule {
  minutes: number;
  /** RSS growth is measured from this minute on. */
  warmupMinutes: number;
  sampleEveryS: number;
  broker: Recurring & { downS: number };
  camera: Recurring & { downS: number };
  /** Each tick deletes the person enrolled at the previous tick and enrols the next one. */
  enrol: Recurring;
  /** Each tick sends one upload of each malformed kind. */
  malformed: Recurring;
}

/** The schedule of `npm run soak`: the issue's, over `minutes` (default 60). */
export function hourSchedule(minutes = 60): SoakSchedule {
  return {
    minutes,
    warmupMinutes: 5,
    sampleEveryS: 60,
    broker: { first: 300, every: 300, downS: 10 },
    camera: { first: 420, every: 420, downS: 30 },
    enrol: { first: 0, every: 30 },
    malformed: { first: 60, every: 60 },
  };
}

/**
 * The 2-minute schedule of the test suite: the broker restarted once, one camera killed and back
 * once, an enrolment and a deletion every 30 s, one malformed upload of each kind.
 */
export function compressedSchedule(): SoakSchedule {
  return {
    minutes: 2,
    warmupMinutes: 0,
    sampleEveryS: 60,
    broker: { first: 35, every: 1e9, downS: 5 },
    camera: { first: 50, every: 1e9, downS: 15 },
    enrol: { first: 0, every: 30 },
    malformed: { first: 60, every: 1e9 },
  };
}

function times(r: Recurring, endS: number): number[] {
  const out: number[] = [];
  for (let t = r.first; t < endS; t += r.every) out.push(t);
  return out;
}

export interface SoakOptions {
  schedule: SoakSchedule;
  /** Cameras (default 8). */
  cameras?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** More environment for Node-RED, for experiments (a malloc setting, say). */
  nodeRedEnv?: Record<string, string>;
}

/** A worker's figures at one sample. */
export interface WorkerSample {
  engine: string;
  index: number;
  id: number;
  isolation: string;
  numTensors: number;
  rss: number | null;
  heapUsed: number | null;
  /** The worker's V8 heap as reserved (new and old space): what its heap takes of the RSS. */
  heapTotal: number | null;
  /** Memory outside the worker's heap that V8 knows of: its ArrayBuffers and WebAssembly memory. */
  external: number | null;
  /** The WASM backend's heap (its linear memory, part of `external`), bytes; 0 on other backends. */
  wasmHeap?: number | null;
}

/** One sample of every figure. */
export interface SoakSample {
  label: string;
  /** Seconds since the measured start. */
  t: number;
  pid: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Node-RED's resident memory by kind (/proc/<pid>/status: RssAnon, RssFile, RssShmem), bytes. */
  rssAnon: number;
  rssFile: number;
  /** Node-RED's RSS plus the RSS of worker processes (process isolation only). */
  totalRss: number;
  /**
   * Node-RED's RSS as the median of its readings of /proc/<pid>/status every 2 s since the sample
   * before (about 30 a minute; five over a second for the first sample), plus the worker processes'
   * (process isolation only): one reading moves ±15 MB with frames in flight and the allocator giving
   * memory back in bursts, which a one-hour slope cannot tell from growth. The RSS target reads this.
   */
  rssMedian?: number;
  /** How many readings {@link rssMedian} is the median of. */
  rssReadings?: number;
  /**
   * The resident part of the worker threads' WASM heaps: the RSS of Node-RED's mappings whose size
   * is a worker's heap (/proc/<pid>/smaps). Absent for worker processes and older reports.
   */
  rssWasm?: number;
  /** Event-loop delay over the window since the previous sample, ms beyond the sampling interval. */
  loopP99Ms: number;
  loopMaxMs: number;
  windowS: number;
  /** CPU of Node-RED (its worker threads included) over the window, in cores. */
  cpuCores: number;
  activeResources: number;
  workers: WorkerSample[];
  tensors: number;
  /**
   * Node-RED's open file descriptors, less the connections the harness itself has open to Node-RED's
   * HTTP port (its requests' keep-alive sockets come and go with its own timing).
   */
  fds: number;
  /** Every open file descriptor, by kind (file, socket, pipe, anon_inode, http: the harness's connections). */
  fdKinds: Record<string, number>;
  fdFiles: string[];
  ffmpeg: number;
  /** ffmpeg processes per camera (by the port in their command line). */
  ffmpegPerCamera: number[];
  /** Whether each camera's server was up, and for how long (s). */
  serverUpS: (number | null)[];
  cameraStates: string[];
  people: number;
  samples: number;
  eventsReceived: number;
  /** Bytes of Node-RED's facewatch folder (face store, detection log and its pictures): flat once the log is at its cap. */
  facewatchBytes?: number;
}

/** One erasure and what the grep found after it. */
export interface ErasureCheck {
  id: string;
  name: string;
  photo: string;
  enrolledAt: number;
  deletedAt: number;
  status: number;
  answer: unknown;
  eventsBefore: number;
  needles: { descriptors: number; crops: number; events: number };
  filesGrepped: number;
  mbGrepped: number;
  hits: string[];
  retainedHits: string[];
  retainedChecked: boolean;
  /** Events naming them received on MQTT in all, and of those how many arrived after the deletion's answer. */
  received?: number;
  receivedAfterDeletion?: number;
}

/** An answer of the Face Library to one request of the schedule. */
export interface Exchange {
  t: number;
  what: string;
  status: number;
  ok: boolean;
  body?: string;
}

/** One target: its measured value, its limit and whether it was met (null: not measured). */
export interface Target {
  pass: boolean | null;
  value: unknown;
  limit?: string;
  note?: string;
}

export interface SoakReport {
  machine: { cpus: number; model?: string; node: string; loadAverage: number[] };
  startedAt: string;
  minutes: number;
  cameras: number;
  clips: string[];
  pipeline: string;
  /** The malloc Node-RED ran with (scripts/allocator.mjs). */
  allocator: 'jemalloc' | 'glibc' | 'system';
  /** Whether Node-RED's process had jemalloc mapped (/proc/<pid>/maps), read at the first sample. */
  jemallocLoaded?: boolean;
  schedule: SoakSchedule;
  /** Every figure at t=0 (after the priming cycle), each minute, and once settled after the end. */
  samples: SoakSample[];
  faults: {
    brokerRestarts: { t: number; downS: number }[];
    cameraKills: { t: number; camera: number; downS: number; backAfterS: number | null }[];
    enrolments: Exchange[];
    malformed: Exchange[];
  };
  erasures: ErasureCheck[];
  /** Every erased person grepped for once more at the end, over every file of the user directory. */
  finalGrep: { files: number; mb: number; hits: string[]; retainedHits: string[] };
  events: {
    received: number;
    duplicatesOnMqtt: number;
    logged: number;
    /** Received events naming a person erased later: erased from the log with that person. */
    erasedWithTheirPerson: number;
    /** What the DELETE answers said they erased. */
    erasedPerDeleteAnswers: number;
    /**
     * Received, not in the log, and older than its oldest event: removed by the disk cap (which
     * removes the oldest events first), not lost.
     */
    removedByCap: number;
    /** Received, not erased, not in the log, and not removed by the disk cap. */
    missingFromLog: string[];
    /** In the log, never received on MQTT. */
    missingOnMqtt: string[];
    /** Events in the log naming an erased person. */
    loggedOfErased: string[];
  };
  log: {
    errors: number;
    warnings: number;
    unexpectedErrors: string[];
    expectedErrors: number;
    /** Each distinct warning and error text (numbers blanked) with how often it was logged. */
    distinct: { level: string; text: string; count: number }[];
  };
  crashed: string | null;
  orphans: string[];
  stopSeconds: number | null;
  harnessErrors: string[];
  targets: Record<string, Target>;
  pass: boolean;
}

/** A photo enrolled by the schedule, in turn. */
const PHOTOS = [
  fixturePath('face_recognition', 'examples', 'lin-manuel-miranda.png'),
  fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
  fixturePath('face_recognition', 'examples', 'biden.jpg'),
];

function imageType(file: string): string {
  return file.endsWith('.png') ? 'image/png' : 'image/jpeg';
}

/** Processes by pid: parent, command name, command line (from /proc). */
interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const rest = stat.slice(close + 2).split(' ');
      out.push({
        pid: Number(name),
        ppid: Number(rest[1]),
        comm: stat.slice(open + 1, close),
        cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' '),
      });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Every descendant of `pid`. */
function descendants(pid: number, all = processes()): Proc[] {
  const out: Proc[] = [];
  const parents = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all)
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        out.push(p);
        grew = true;
      }
  }
  return out;
}

/** Inodes of the established TCP connections whose local port is `port` (from /proc/<pid>/net). */
function connectionsTo(pid: number, port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt(f[1].split(':')[1] ?? '', 16);
      // 0A is LISTEN: Node-RED's own server socket, not a connection.
      if (local === port && f[3] !== '0A') inodes.add(f[9]);
    }
  }
  return inodes;
}

interface Descriptors {
  own: number;
  kinds: Record<string, number>;
  /** The files (not sockets or pipes) open. */
  files: string[];
}

/** A process's open file descriptors by kind; `http` counts connections to `httpPort`. */
function descriptorsOnce(pid: number, httpPort: number): Descriptors {
  const http = connectionsTo(pid, httpPort);
  const kinds: Record<string, number> = {};
  const files: string[] = [];
  let own = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    const kind = socket
      ? http.has(socket[1])
        ? 'http'
        : 'socket'
      : /^(pipe|anon_inode):/.test(target)
        ? target.split(':')[0]
        : 'file';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    if (kind === 'file') files.push(target);
    if (kind !== 'http') own++;
  }
  return { own, kinds, files };
}

/**
 * The fewest descriptors of five readings over a second: a snapshot or an upload being written holds
 * a file open for a moment, a leaked descriptor stays.
 */
async function descriptors(pid: number, httpPort: number): Promise<Descriptors> {
  let best = descriptorsOnce(pid, httpPort);
  for (let i = 0; i < 4; i++) {
    await sleep(250);
    const d = descriptorsOnce(pid, httpPort);
    if (d.own < best.own) best = d;
  }
  return best;
}

/** The median of `n` readings of Node-RED's VmRSS, `gapMs` apart (bytes; -1 when unreadable). */
async function medianRss(pid: number, n = 5, gapMs = 200): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = procStatus(pid).VmRSS;
    if (v !== undefined) values.push(v);
    if (i < n - 1) await new Promise((r) => setTimeout(r, gapMs));
  }
  if (!values.length) return -1;
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)];
}

/**
 * Node-RED's VmRSS read every `everyMs` in the background, so that a minute's sample can be the
 * median of the whole minute rather than of one second of it.
 */
class RssMeter {
  private readings: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pid = -1;

  constructor(private readonly everyMs = 2000) {}

  /** Reads `pid` from now on (a new pid starts afresh). */
  follow(pid: number): void {
    if (pid === this.pid) return;
    this.stop();
    this.pid = pid;
    this.readings = [];
    this.timer = setInterval(() => {
      const v = procStatus(pid).VmRSS;
      if (v !== undefined) this.readings.push(v);
    }, this.everyMs);
    this.timer.unref();
  }

  /** The readings since the last call, sorted, and a fresh start. */
  take(): number[] {
    const out = this.readings.sort((a, b) => a - b);
    this.readings = [];
    return out;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pid = -1;
  }
}

/** The `kB` fields of /proc/<pid>/status, in bytes. */
function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm))
      out[m[1]] = Number(m[2]) * 1024;
  } catch {
    // Gone.
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The least-squares line of y over x: its slope, and the means and sums both figures need. */
function fit(points: { x: number; y: number }[]): { b: number; mx: number; my: number; den: number } | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den ? { b: num / den, mx, my, den } : null;
}

/** The least-squares slope of y over x. */
export function slope(points: { x: number; y: number }[]): number | null {
  return fit(points)?.b ?? null;
}

/**
 * The standard error of {@link slope}: how far the slope of a line through points this noisy may be
 * from the true one (about two of it either way), null with fewer than three points.
 */
export function slopeError(points: { x: number; y: number }[]): number | null {
  const line = fit(points);
  if (!line || points.length < 3) return null;
  const { b, mx, my, den } = line;
  const sse = points.reduce((s, p) => s + (p.y - my - b * (p.x - mx)) ** 2, 0);
  return Math.sqrt(sse / (points.length - 2) / den);
}

/** Files under `dir` (not following links), with their size and change time. */
function walk(dir: string): { file: string; size: number; ctimeMs: number }[] {
  const out: { file: string; size: number; ctimeMs: number }[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(full));
    else if (e.isFile()) {
      try {
        const st = statSync(full);
        out.push({ file: full, size: st.size, ctimeMs: st.ctimeMs });
      } catch {
        // Removed meanwhile.
      }
    }
  }
  return out;
}

/** What to look for of one erased person. */
interface Needles {
  id: string;
  name: string;
  /** Descriptors as stored (base64) and as their raw float32 bytes. */
  descriptors: string[];
  /** The face crops of their samples. */
  crops: Buffer[];
  /**
   * Their events' ids. Not their events' crop bytes: the cameras loop one clip, so the same face in
   * the same frame comes back as an unknown visitor's event after the deletion, byte for byte.
   */
  events: string[];
}

/**
 * The audit log records each deletion with the person's id and name by design (README, "Where data
 * is stored"): only descriptors and pictures count there.
 */
const AUDIT = /faces\.audit\.jsonl$/;

/** Which needles of `n` a file's bytes hold, as `file: what` lines. */
function grepFile(file: string, bytes: Buffer, n: Needles): string[] {
  const hits: string[] = [];
  const audit = AUDIT.test(file);
  if (!audit && bytes.includes(n.id)) hits.push(`${file}: id ${n.id}`);
  if (!audit && bytes.includes(n.name)) hits.push(`${file}: name ${n.name}`);
  for (const d of n.descriptors) {
    if (bytes.includes(d)) hits.push(`${file}: descriptor (base64) of ${n.id}`);
    if (bytes.includes(Buffer.from(d, 'base64'))) hits.push(`${file}: descriptor (raw float32) of ${n.id}`);
  }
  n.crops.forEach((c, i) => {
    if (bytes.includes(c)) hits.push(`${file}: face crop of sample ${i} of ${n.id}`);
  });
  for (const e of n.events) {
    if (file.includes(e)) hits.push(`${file}: named after event ${e} of ${n.id}`);
    if (bytes.includes(e)) hits.push(`${file}: event ${e} of ${n.id}`);
  }
  return hits;
}

/**
 * Greps every file under `dir` changed since `sinceMs` (0: every file) for each person's needles.
 * A file unchanged since before a person was enrolled cannot hold anything of that enrolment, and
 * was grepped clean for the earlier ones already, so the check of each deletion reads only the files
 * written since that person's enrolment; the final check reads them all.
 */
function grepTree(
  dir: string,
  people: Needles[],
  sinceMs = 0,
): { files: number; mb: number; hits: string[] } {
  let files = 0;
  let bytes = 0;
  const hits: string[] = [];
  for (const f of walk(dir)) {
    if (f.ctimeMs < sinceMs) continue;
    let data: Buffer;
    try {
      data = readFileSync(f.file);
    } catch {
      continue;
    }
    files++;
    bytes += data.length;
    for (const n of people) hits.push(...grepFile(path.relative(dir, f.file), data, n));
  }
  return { files, mb: Math.round((bytes / MB) * 10) / 10, hits };
}

/** Retained topics or payloads on the broker that name one of `people`. */
async function retainedHits(url: string, people: Needles[]): Promise<string[]> {
  const retained = await retainedNow(url, ['#'], 800);
  const hits: string[] = [];
  for (const [topic, payload] of retained) {
    if (!payload.length) continue;
    for (const n of people)
      for (const [what, needle] of [
        ['id', n.id],
        ['name', n.name],
      ])
        if (topic.includes(needle) || payload.includes(needle))
          hits.push(`retained ${topic}: ${what} ${needle}`);
  }
  return hits;
}

/** Log lines of Node-RED: `5 Dec 04:49:34 - [error] ...`, with their time. */
function logLines(log: string): { at: number; level: string; text: string }[] {
  const out: { at: number; level: string; text: string }[] = [];
  const year = new Date().getFullYear();
  for (const line of log.split('\n')) {
    const m = /^(\d{1,2} \w{3} \d{2}:\d{2}:\d{2}) - \[(\w+)\] (.*)$/.exec(line);
    if (m) out.push({ at: Date.parse(`${m[1]} ${year}`), level: m[2], text: m[3] });
    else if (/Uncaught|Unhandled|FATAL|Segmentation fault|Aborted|heap out of memory/i.test(line))
      out.push({ at: Date.now(), level: 'fatal', text: line });
  }
  return out;
}

async function clipsFor(cameras: number, seconds: number): Promise<{ files: string[]; names: string[] }> {
  // Every copy is long enough for the whole run: a server that reaches the end of its file would be
  // a camera failure the schedule did not ask for.
  const hamilton = loopedClip(Math.ceil((seconds + 900) / 10));
  const motion = await motionClip();
  const files: string[] = [];
  const names: string[] = [];
  const odd = Math.ceil(cameras / 2);
  for (let i = 0; i < cameras; i++) {
    if (i % 2 === 0) {
      files.push(hamilton);
      names.push('Hamilton clip (looped)');
      continue;
    }
    const offset = Math.round(((i - 1) / 2) * (CLIP_SECONDS / odd));
    const file = path.join(path.dirname(motion), `soak-camera-${i}.mp4`);
    const loops = Math.ceil((seconds + 900 + offset) / CLIP_SECONDS) + 1;
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.env.FFMPEG_PATH || 'ffmpeg',
        [
          ...['-v', 'error', '-y', '-stream_loop', String(loops), '-i', motion],
          ...['-ss', String(offset), '-an', '-c', 'copy', file],
        ],
        { timeout: 300000 },
        (err) => (err ? reject(new Error(`ffmpeg: ${err.message}`)) : resolve()),
      ),
    );
    files.push(file);
    names.push(`synthetic CCTV clip (looped, from ${offset} s)`);
  }
  return { files, names };
}

/**
 * The detection-log's disk cap in the soak: reached within the warm-up by eight busy cameras (about
 * 200 events a minute, about 20 KB each), so that what the RSS slope measures from minute 5 is not
 * the log filling to its cap. The log keeps an index entry of each event it holds in memory, so
 * until its cap (or retention) it grows by design; with a cap of 50 MB it filled until about minute
 * 12, and Node-RED's heap in use rose by about 2 MB meanwhile (heap snapshots at minutes 5 and 23:
 * the datafile's index nodes tripled, no other kind of object grew but compiled code).
 */
export const SOAK_DISK_CAP_MB = 10;

/** Bytes of the files under `dir` (du); undefined when it cannot be read. */
function diskBytes(dir: string): number | undefined {
  // A file removed while du reads makes it complain, and still count the rest.
  const n = Number(spawnSync('du', ['-sb', dir], { encoding: 'utf8' }).stdout?.split('\t')[0]);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * The example flow as shipped (but for a disk cap on its detection-log), with its face-camera and
 * rtsp-source copied for cameras 2..n. The
 * first camera keeps `${FACEWATCH_CAMERA_URL}`; the copies get their URLs written in.
 */
function soakFlow(urls: string[]): { flow: object[]; sources: string[] } {
  const flow = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as Record<
    string,
    unknown
  >[];
  const camera = flow.find((n) => n.type === 'face-camera');
  const source = flow.find((n) => n.type === 'rtsp-source' && n.camera === camera?.id);
  if (!camera || !source) throw new Error('examples/flows.json has no face-camera with an rtsp-source');
  // A disk cap, as an installation that runs for months sets one: the log keeps its events in
  // memory, so without one its data (by design, not a leak) grows with every event until retention.
  const log = flow.find((n) => n.type === 'detection-log');
  if (log) log.maxDiskMB = SOAK_DISK_CAP_MB;
  const sources = [String(source.id)];
  for (let i = 1; i < urls.length; i++) {
    const cam = { ...structuredClone(camera), id: `soak.camera.${i + 1}`, name: `cam${i + 1}`, url: urls[i] };
    const src = {
      ...structuredClone(source),
      id: `soak.source.${i + 1}`,
      camera: cam.id,
      y: Number(source.y ?? 0) + 20 * i,
    };
    flow.push(cam, src);
    sources.push(src.id);
  }
  return { flow, sources };
}

interface ProbeAnswer {
  pid: number;
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  window: { seconds: number; loopP99Ms: number; loopMaxMs: number; cpu: { user: number; system: number } };
  activeResources: number;
  engines: {
    key: string;
    workers: {
      index: number;
      id: number;
      isolation: string;
      numTensors: number;
      memory?: { rss: number; heapTotal: number; heapUsed: number; external: number; wasmHeap?: number };
    }[];
  }[];
}

/** Runs the soak and returns its report; it throws only when it cannot start at all. */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const { schedule } = opts;
  const ncam = opts.cameras ?? 8;
  const say = opts.log ?? (() => undefined);
  const endS = schedule.minutes * 60;
  const tag = randomBytes(3).toString('hex');
  // Node-RED's allocator, chosen as npm start chooses it (FACEWATCH_MALLOC=glibc for glibc's malloc).
  const ALLOCATOR = allocatorEnv(process.env);
  const report: SoakReport = {
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      loadAverage: os.loadavg(),
    },
    startedAt: new Date().toISOString(),
    minutes: schedule.minutes,
    cameras: ncam,
    clips: [],
    pipeline: `examples/flows.json as shipped (face-camera → rtsp-source → face-detect, motion gating → face-match → detection-log with snapshots, a ${SOAK_DISK_CAP_MB} MB disk cap → face-mqtt), its camera copied for each camera, 2 frames/s, 640 px, RTSP/TCP on loopback, a private Mosquitto (persistence on), Node-RED run as npm start runs it (${ALLOCATOR.line})`,
    allocator: ALLOCATOR.allocator,
    schedule,
    samples: [],
    faults: { brokerRestarts: [], cameraKills: [], enrolments: [], malformed: [] },
    erasures: [],
    finalGrep: { files: 0, mb: 0, hits: [], retainedHits: [] },
    events: {
      received: 0,
      removedByCap: 0,
      duplicatesOnMqtt: 0,
      logged: 0,
      erasedWithTheirPerson: 0,
      erasedPerDeleteAnswers: 0,
      missingFromLog: [],
      missingOnMqtt: [],
      loggedOfErased: [],
    },
    log: { errors: 0, warnings: 0, unexpectedErrors: [], expectedErrors: 0, distinct: [] },
    crashed: null,
    orphans: [],
    stopSeconds: null,
    harnessErrors: [],
    targets: {},
    pass: false,
  };

  const { files, names } = await clipsFor(ncam, endS);
  report.clips = names;
  let broker: Mosquitto | undefined;
  let sub: mqtt.MqttClient | undefined;
  let nr: RunningNodeRed | undefined;
  let stopMeter = (): void => undefined;
  const servers: (RtspServer | undefined)[] = [];
  const ports: number[] = [];
  const upSince: (number | null)[] = [];
  /** Fault windows (wall-clock ms) for telling injected errors from others in the log. */
  const windows: { kind: 'broker' | 'camera'; camera?: number; from: number; to: number }[] = [];
  const received = new Map<string, DetectionEvent>();
  /** When each event arrived on MQTT (wall-clock ms). */
  const arrived = new Map<string, number>();
  /** When each DELETE was answered (wall-clock ms), by person id. */
  const answeredAt = new Map<string, number>();
  const ffmpegSeen = new Set<number>();
  const workerPidsSeen = new Set<number>();
  const erased: Needles[] = [];
  const erasedIds = new Set<string>();
  let t0 = 0;
  const now = (): number => Math.round((Date.now() - t0) / 100) / 10;
  const harness = (what: string, err: unknown): void => {
    const line = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    report.harnessErrors.push(line);
    say(`harness error: ${line}`);
  };

  try {
    broker = await startMosquitto({ persistence: true });
    // A persistent session (QoS 1, clean false): the broker keeps the events that arrive for it while
    // it reconnects after a restart, so the count measures FaceWatch, not the subscriber.
    sub = await mqtt.connectAsync(broker.url, {
      clientId: `fw-soak-sub-${tag}`,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 500,
    });
    sub.on('error', () => undefined);
    sub.on('message', (topic, payload) => {
      if (topic !== 'facewatch/events') return;
      try {
        const e = JSON.parse(payload.toString()) as DetectionEvent;
        if (received.has(e.id)) report.events.duplicatesOnMqtt++;
        else {
          received.set(e.id, e);
          arrived.set(e.id, Date.now());
        }
      } catch (err) {
        harness('an unreadable event on MQTT', err);
      }
    });
    await sub.subscribeAsync('facewatch/events', { qos: 1 });

    for (let i = 0; i < ncam; i++) {
      const s = await startRtspServer({ file: files[i] });
      servers.push(s);
      ports.push(s.port);
      upSince.push(Date.now());
    }
    const { flow, sources } = soakFlow(servers.map((s) => s!.url));
    nr = await startNodeRed({
      flows: flow,
      nodesDir: path.join(ROOT, 'bench', 'nodes'),
      env: {
        FACEWATCH_CAMERA_URL: servers[0]!.url,
        FACEWATCH_MQTT_URL: broker.url,
        FACEWATCH_SAMPLES: path.dirname(faceApiSample(1)),
        // As npm start runs Node-RED (scripts/start.mjs): jemalloc where installed, else two glibc arenas.
        ...ALLOCATOR.vars,
        ...opts.nodeRedEnv,
      },
    });
    const red = nr;
    await waitForLog(red, /Started flows/);
    const api = `${red.url}/facewatch/api`;

    const request = async (
      route: string,
      init: { method?: string; body?: Buffer; type?: string } = {},
    ): Promise<{ status: number; text: string; bytes: Buffer }> => {
      const res = await fetch(`${api}/${route}`, {
        method: init.method ?? 'GET',
        body: init.body as BodyInit | undefined,
        headers: init.type ? { 'content-type': init.type } : {},
        signal: AbortSignal.timeout(120000),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      return { status: res.status, text: bytes.toString('utf8'), bytes };
    };
    const json = async <T>(route: string): Promise<T> => {
      const r = await request(route);
      if (r.status !== 200) throw new Error(`GET ${route}: ${r.status} ${r.text.slice(0, 300)}`);
      return JSON.parse(r.text) as T;
    };
    const cameraStates = async (): Promise<string[]> => {
      const list = await json<{ id: string; state: string }[]>('cameras');
      return sources.map((id) => list.find((c) => c.id === id)?.state ?? 'missing');
    };
    const storeFile = async (): Promise<string> =>
      (await json<{ file: string }[]>('stores'))[0]?.file ?? path.join(red.userDir, 'facewatch', 'faces.db');

    // --- the figures of one sample
    let probeFailures = 0;
    const rssMeter = new RssMeter();
    stopMeter = () => rssMeter.stop();
    const sample = async (label: string): Promise<SoakSample | undefined> => {
      let probe: ProbeAnswer;
      try {
        const res = await fetch(`${red.url}/facewatch/soak/stats`, { signal: AbortSignal.timeout(120000) });
        if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
        probe = (await res.json()) as ProbeAnswer;
        probeFailures = 0;
      } catch (err) {
        if (++probeFailures >= 2) report.crashed ??= `Node-RED did not answer at ${label}: ${String(err)}`;
        harness(`sample ${label}`, err);
        return undefined;
      }
      const first = report.samples[0];
      if (first && probe.pid !== first.pid)
        report.crashed ??= `Node-RED's pid changed from ${first.pid} to ${probe.pid}`;
      const all = processes();
      const children = descendants(probe.pid, all);
      const ffmpeg = children.filter((p) => p.comm === 'ffmpeg');
      for (const p of ffmpeg) ffmpegSeen.add(p.pid);
      const perCamera = ports.map(
        (port) => ffmpeg.filter((p) => p.cmdline.includes(`127.0.0.1:${port}/`)).length,
      );
      const workers: WorkerSample[] = probe.engines.flatMap((e) =>
        e.workers.map((w) => ({
          engine: e.key,
          index: w.index,
          id: w.id,
          isolation: w.isolation,
          numTensors: w.numTensors,
          rss: w.memory?.rss ?? null,
          heapUsed: w.memory?.heapUsed ?? null,
          heapTotal: w.memory?.heapTotal ?? null,
          external: w.memory?.external ?? null,
          wasmHeap: w.memory?.wasmHeap ?? null,
        })),
      );
      for (const w of workers) if (w.isolation === 'process') workerPidsSeen.add(w.id);
      let fds: Descriptors = { own: -1, kinds: {}, files: [] };
      try {
        fds = await descriptors(probe.pid, red.port);
      } catch (err) {
        harness('reading the file descriptors', err);
      }
      const status = procStatus(probe.pid);
      rssMeter.follow(probe.pid);
      const readings = rssMeter.take();
      const vmRss =
        readings.length >= 10 ? readings[Math.floor(readings.length / 2)] : await medianRss(probe.pid);
      let rssWasm: number | undefined;
      try {
        const heaps = workers
          .filter((w) => w.isolation === 'thread' && w.wasmHeap)
          .map((w) => w.wasmHeap ?? 0);
        if (heaps.length) rssWasm = residentOfSize(probe.pid, heaps);
      } catch (err) {
        harness("reading Node-RED's mappings", err);
      }
      if (!first) {
        // Which malloc Node-RED really runs with: jemalloc shows in its mapped libraries.
        try {
          report.jemallocLoaded = /libjemalloc\.so/.test(readFileSync(`/proc/${probe.pid}/maps`, 'utf8'));
        } catch (err) {
          harness("reading Node-RED's mapped libraries", err);
        }
      }
      const [states, people] = await Promise.all([
        cameraStates().catch((err: unknown) => (harness('cameras', err), [] as string[])),
        json<{ samples: number }[]>('faces').catch(
          (err: unknown) => (harness('faces', err), [] as { samples: number }[]),
        ),
      ]);
      const s: SoakSample = {
        label,
        t: now(),
        pid: probe.pid,
        rss: probe.memory.rss,
        heapUsed: probe.memory.heapUsed,
        heapTotal: probe.memory.heapTotal,
        external: probe.memory.external,
        arrayBuffers: probe.memory.arrayBuffers,
        rssAnon: status.RssAnon ?? -1,
        rssFile: status.RssFile ?? -1,
        totalRss:
          probe.memory.rss +
          workers.filter((w) => w.isolation === 'process').reduce((n, w) => n + (w.rss ?? 0), 0),
        rssMedian:
          vmRss < 0
            ? undefined
            : vmRss + workers.filter((w) => w.isolation === 'process').reduce((n, w) => n + (w.rss ?? 0), 0),
        rssReadings: readings.length >= 10 ? readings.length : 5,
        rssWasm,
        loopP99Ms: Math.round(probe.window.loopP99Ms * 10) / 10,
        loopMaxMs: Math.round(probe.window.loopMaxMs * 10) / 10,
        windowS: Math.round(probe.window.seconds * 10) / 10,
        cpuCores:
          Math.round(((probe.window.cpu.user + probe.window.cpu.system) / 1e6 / probe.window.seconds) * 100) /
          100,
        activeResources: probe.activeResources,
        workers,
        tensors: workers.reduce((n, w) => n + w.numTensors, 0),
        fds: fds.own,
        fdKinds: fds.kinds,
        fdFiles: fds.files,
        ffmpeg: ffmpeg.length,
        ffmpegPerCamera: perCamera,
        serverUpS: upSince.map((u) => (u === null ? null : Math.round((Date.now() - u) / 1000))),
        cameraStates: states,
        people: people.length,
        samples: people.reduce((n, p) => n + p.samples, 0),
        eventsReceived: received.size,
        facewatchBytes: diskBytes(path.join(red.userDir, 'facewatch')),
      };
      report.samples.push(s);
      say(
        `[${label}] t=${s.t}s rss ${(s.rss / MB).toFixed(1)} MB heap ${(s.heapUsed / MB).toFixed(1)} MB ` +
          `loop p99 ${s.loopP99Ms} ms cpu ${s.cpuCores} tensors ${s.tensors} fds ${s.fds} ffmpeg ${s.ffmpeg} ` +
          `[${perCamera.join('')}] people ${s.people} events ${s.eventsReceived} disk ${((s.facewatchBytes ?? 0) / MB).toFixed(1)} MB`,
      );
      return s;
    };

    /** False while the schedule has the broker stopped. */
    let brokerIsUp = true;

    // --- enrolment and deletion through the REST API
    let enrolled: { id: string; name: string; photo: string; at: number } | undefined;
    let nth = 0;
    const enrolNext = async (): Promise<void> => {
      const photo = PHOTOS[nth % PHOTOS.length];
      nth++;
      const id = `soak-${String(nth).padStart(4, '0')}-${tag}`;
      const name = `Soak Person ${nth} ${tag}`;
      const at = Date.now();
      const r = await request(`register?name=${encodeURIComponent(name)}&id=${id}`, {
        method: 'POST',
        body: readFileSync(photo),
        type: imageType(photo),
      });
      const ok = r.status === 201;
      report.faults.enrolments.push({
        t: now(),
        what: `enrol ${id} from ${path.basename(photo)}`,
        status: r.status,
        ok,
        ...(ok ? {} : { body: r.text.slice(0, 500) }),
      });
      if (ok) enrolled = { id, name, photo: path.basename(photo), at };
      else say(`enrolment of ${id} answered ${r.status}: ${r.text.slice(0, 200)}`);
    };
    const deleteEnrolled = async (): Promise<void> => {
      const person = enrolled;
      if (!person) return;
      enrolled = undefined;
      // What of them is on disk and on the broker before the deletion: descriptors as stored, the
      // samples' face crops, their events.
      const needles: Needles = { id: person.id, name: person.name, descriptors: [], crops: [], events: [] };
      const detail = await json<{ samples: { id: string }[] }>(`faces/${person.id}`);
      for (const s of detail.samples) {
        const img = await request(`faces/${person.id}/samples/${s.id}/image`);
        if (img.status === 200) needles.crops.push(img.bytes);
      }
      const theirs = await json<{ events: DetectionEvent[] }>(
        `events?person=${encodeURIComponent(person.id)}&limit=1000`,
      );
      needles.events = theirs.events.map((e) => e.id);
      for (const line of readFileSync(await storeFile(), 'utf8').split('\n')) {
        if (!line.includes(person.id)) continue;
        try {
          const doc = JSON.parse(line) as { _id?: string; samples?: unknown };
          if (doc._id !== person.id) continue;
          // Every long base64 string of the person's document: descriptors, whatever their field.
          JSON.stringify(doc.samples ?? [], (_k, v: unknown) => {
            if (typeof v === 'string' && v.length >= 256 && /^[A-Za-z0-9+/]+=*$/.test(v))
              if (!needles.descriptors.includes(v)) needles.descriptors.push(v);
            return v;
          });
        } catch {
          // Not a JSON line.
        }
      }
      const deletedAt = Date.now();
      const r = await request(`faces/${person.id}`, { method: 'DELETE' });
      answeredAt.set(person.id, Date.now());
      let answer: unknown = r.text.slice(0, 500);
      try {
        answer = JSON.parse(r.text);
      } catch {
        // Kept as text.
      }
      if (r.status === 200) {
        erased.push(needles);
        erasedIds.add(person.id);
        const count = (answer as { events?: unknown }).events;
        if (typeof count === 'number') report.events.erasedPerDeleteAnswers += count;
      }
      const grep = grepTree(red.userDir, [needles], person.at - 2000);
      let retained: string[] = [];
      let retainedChecked = false;
      if (broker && brokerIsUp) {
        // Clearing retained topics is published after the answer: give it a moment.
        await sleep(2000);
        try {
          retained = await retainedHits(broker.url, [needles]);
          retainedChecked = true;
        } catch {
          // The broker went down meanwhile: the final check covers it.
        }
      }
      const check: ErasureCheck = {
        id: person.id,
        name: person.name,
        photo: person.photo,
        enrolledAt: Math.round((person.at - t0) / 100) / 10,
        deletedAt: Math.round((deletedAt - t0) / 100) / 10,
        status: r.status,
        answer,
        eventsBefore: theirs.events.length,
        needles: {
          descriptors: needles.descriptors.length,
          crops: needles.crops.length,
          events: needles.events.length,
        },
        filesGrepped: grep.files,
        mbGrepped: grep.mb,
        hits: grep.hits,
        retainedHits: retained,
        retainedChecked,
      };
      report.erasures.push(check);
      if (r.status !== 200 || grep.hits.length || retained.length)
        say(`erasure of ${person.id}: ${r.status}, hits ${JSON.stringify([...grep.hits, ...retained])}`);
    };

    // --- malformed uploads
    const malformed = async (): Promise<void> => {
      const jpeg = readFileSync(PHOTOS[2]);
      const kinds: [string, Buffer, string][] = [
        ['garbage bytes as image/jpeg', randomBytes(64 * 1024), 'image/jpeg'],
        ['a truncated JPEG', jpeg.subarray(0, Math.floor(jpeg.length * 0.4)), 'image/jpeg'],
        ['a JPEG sent as a form (multipart/form-data)', jpeg, 'multipart/form-data; boundary=soak'],
      ];
      for (const [what, body, type] of kinds) {
        const r = await request(`register?name=${encodeURIComponent(`Malformed ${tag}`)}`, {
          method: 'POST',
          body,
          type,
        });
        // A malformed upload is refused with a 4xx and a message, never enrolled, never a 5xx.
        const ok = r.status >= 400 && r.status < 500;
        report.faults.malformed.push({ t: now(), what, status: r.status, ok, body: r.text.slice(0, 300) });
        if (!ok) say(`malformed upload (${what}) answered ${r.status}: ${r.text.slice(0, 200)}`);
      }
    };

    // --- broker and camera faults
    const restartBroker = async (downS: number): Promise<void> => {
      const from = Date.now();
      brokerIsUp = false;
      await broker!.stop();
      await sleep(downS * 1000);
      await broker!.start();
      brokerIsUp = true;
      windows.push({ kind: 'broker', from, to: Date.now() });
      report.faults.brokerRestarts.push({ t: Math.round((from - t0) / 100) / 10, downS });
    };
    const killCamera = async (i: number, downS: number): Promise<void> => {
      const from = Date.now();
      const old = servers[i];
      servers[i] = undefined;
      upSince[i] = null;
      await old?.kill();
      await sleep(downS * 1000);
      let back: RtspServer | undefined;
      for (let attempt = 0; !back; attempt++) {
        try {
          back = await startRtspServer({ file: files[i], port: ports[i] });
        } catch (err) {
          if (attempt >= 10) throw err;
          await sleep(1000);
        }
      }
      servers[i] = back;
      upSince[i] = Date.now();
      windows.push({ kind: 'camera', camera: i, from, to: Date.now() });
      const kill = {
        t: Math.round((from - t0) / 100) / 10,
        camera: i + 1,
        downS,
        backAfterS: null as number | null,
      };
      report.faults.cameraKills.push(kill);
      // How long until FaceWatch had the camera again (its rtsp-source connected).
      const until = Date.now() + 180000;
      while (Date.now() < until) {
        await sleep(1000);
        const states = await cameraStates().catch(() => []);
        if (states[i] === 'connected') {
          kill.backAfterS = Math.round((Date.now() - (upSince[i] ?? Date.now())) / 100) / 10;
          break;
        }
      }
    };

    // --- start: every camera connected and events flowing
    say(`waiting for ${ncam} cameras and the first event`);
    const readyBy = Date.now() + 240000;
    for (;;) {
      const states = await cameraStates();
      if (states.every((s) => s === 'connected') && received.size > 0) break;
      if (Date.now() > readyBy)
        throw new Error(
          `not ready after 240 s: cameras ${states.join(',')}, ${received.size} events\n${red.log()}`,
        );
      await sleep(1000);
    }
    // A priming cycle before the baseline, so that what every path opens once (an upload folder,
    // a font, a lazily loaded network) is in the baseline and only growth per cycle counts.
    t0 = Date.now();
    await enrolNext();
    await sleep(3000);
    await deleteEnrolled();
    await malformed();
    report.faults.enrolments.forEach((e) => (e.what = `${e.what} (priming)`));
    report.faults.malformed.forEach((e) => (e.what = `${e.what} (priming)`));
    await sleep(5000);
    t0 = Date.now();
    await sample('start');
    say(`soak started: ${schedule.minutes} min`);

    // --- the schedule
    const tasks: Promise<void>[] = [];
    const at = (s: number, what: string, fn: () => Promise<void>): void => {
      tasks.push(
        (async () => {
          const wait = t0 + s * 1000 - Date.now();
          if (wait > 0) await sleep(wait);
          try {
            await fn();
          } catch (err) {
            harness(what, err);
          }
        })(),
      );
    };
    // Enrolments and deletions run one after the other, as an operator's would.
    let enrolChain = Promise.resolve();
    for (const s of times(schedule.enrol, endS))
      at(s, 'enrolment', () => {
        enrolChain = enrolChain.then(async () => {
          try {
            await deleteEnrolled();
            await enrolNext();
          } catch (err) {
            harness('enrolment and deletion', err);
          }
        });
        return enrolChain;
      });
    for (const s of times(schedule.malformed, endS)) at(s, 'malformed upload', malformed);
    for (const s of times(schedule.broker, endS))
      at(s, 'broker restart', () => restartBroker(schedule.broker.downS));
    times(schedule.camera, endS).forEach((s, k) =>
      at(s, 'camera kill', () => killCamera(k % ncam, schedule.camera.downS)),
    );
    for (let s = schedule.sampleEveryS; s <= endS; s += schedule.sampleEveryS)
      at(s, 'sample', async () => void (await sample(`minute ${Math.round(s / 60)}`)));
    await Promise.all(tasks);
    await enrolChain;
    await deleteEnrolled().catch((err: unknown) => harness('the last deletion', err));

    // --- settle: every camera back and connected, then the closing figures
    const settleBy = Date.now() + 180000;
    for (;;) {
      const states = await cameraStates().catch(() => [] as string[]);
      if (states.length === ncam && states.every((s) => s === 'connected')) break;
      if (Date.now() > settleBy) {
        harness('settling', new Error(`cameras not all connected 180 s after the end: ${states.join(',')}`));
        break;
      }
      await sleep(1000);
    }
    await sleep(10000);
    await sample('end');

    // --- events: stop the cameras, let the queue drain, then the log against MQTT
    try {
      for (const id of sources) await request(`cameras/${id}/stop`, { method: 'POST' });
      const logged = new Map<string, DetectionEvent>();
      const readLog = async (): Promise<void> => {
        logged.clear();
        let to: string | undefined;
        for (;;) {
          const q = new URLSearchParams({ limit: '1000' });
          if (to) q.set('to', to);
          const page = await json<{ events: DetectionEvent[] }>(`events?${q.toString()}`);
          let fresh = 0;
          for (const e of page.events)
            if (!logged.has(e.id)) {
              logged.set(e.id, e);
              fresh++;
            }
          if (page.events.length < 1000 || fresh === 0) break;
          // `to` is exclusive: the next page starts at the oldest one's millisecond (seen ones are skipped).
          to = new Date(Date.parse(page.events[page.events.length - 1].time) + 1).toISOString();
        }
      };
      const drainBy = Date.now() + 90000;
      let lastCount = -1;
      for (;;) {
        await sleep(3000);
        await readLog();
        const unreceived = [...logged.keys()].filter((id) => !received.has(id)).length;
        if (unreceived === 0 && received.size === lastCount) break;
        lastCount = received.size;
        if (Date.now() > drainBy) break;
      }
      const ev = report.events;
      ev.received = received.size;
      ev.logged = logged.size;
      const oldest = [...logged.values()].reduce((t, e) => (e.time < t ? e.time : t), '9999');
      for (const [id, e] of received) {
        if (e.person && erasedIds.has(e.person.id)) ev.erasedWithTheirPerson++;
        else if (logged.has(id)) continue;
        else if (e.time <= oldest) ev.removedByCap++;
        else ev.missingFromLog.push(id);
      }
      for (const x of report.erasures) {
        const theirs = [...received.values()].filter((e) => e.person?.id === x.id);
        x.received = theirs.length;
        const answered = answeredAt.get(x.id) ?? Infinity;
        x.receivedAfterDeletion = theirs.filter((e) => (arrived.get(e.id) ?? 0) > answered).length;
      }
      for (const [id, e] of logged) {
        if (!received.has(id)) ev.missingOnMqtt.push(id);
        if (e.person && erasedIds.has(e.person.id)) ev.loggedOfErased.push(id);
      }
    } catch (err) {
      harness('comparing the events', err);
    }

    // --- every erased person, once more, everywhere
    try {
      const final = grepTree(red.userDir, erased);
      report.finalGrep = { ...final, retainedHits: await retainedHits(broker.url, erased) };
    } catch (err) {
      harness('the final grep', err);
    }

    // --- the log: errors that are not the injected faults
    const lines = logLines(red.log());
    report.log.warnings = lines.filter((l) => l.level === 'warn').length;
    const distinct = new Map<string, { level: string; text: string; count: number }>();
    for (const l of lines.filter((x) => x.level !== 'info')) {
      const text = l.text.replace(/\d+/g, 'N');
      const d = distinct.get(`${l.level} ${text}`) ?? { level: l.level, text, count: 0 };
      d.count++;
      distinct.set(`${l.level} ${text}`, d);
    }
    report.log.distinct = [...distinct.values()];
    const errors = lines.filter((l) => l.level === 'error' || l.level === 'fatal');
    report.log.errors = errors.length;
    const graceMs = 120000;
    for (const l of errors) {
      const ofBroker = /\[face-mqtt(-broker)?:/.test(l.text);
      const camera = /\[(rtsp-source|face-camera):/.exec(l.text);
      const expected = windows.some(
        (w) =>
          l.at >= w.from - 2000 &&
          l.at <= w.to + graceMs &&
          ((w.kind === 'broker' && ofBroker) ||
            (w.kind === 'camera' && camera && l.text.includes(`cam${(w.camera ?? 0) + 1}`))),
      );
      if (expected) report.log.expectedErrors++;
      else report.log.unexpectedErrors.push(l.text);
      if (l.level === 'fatal') report.crashed ??= l.text;
    }

    // --- stop Node-RED: nothing of it may outlive it
    const stopStart = Date.now();
    nr = undefined;
    await red.stop();
    report.stopSeconds = Math.round((Date.now() - stopStart) / 100) / 10;
    const gone = Date.now() + 10000;
    let left: string[] = [];
    do {
      const procs = processes();
      left = [
        ...procs
          .filter(
            (p) => p.comm === 'ffmpeg' && ports.some((port) => p.cmdline.includes(`127.0.0.1:${port}/`)),
          )
          .map((p) => `ffmpeg ${p.pid}: ${p.cmdline}`),
        ...[...ffmpegSeen].filter(alive).map((pid) => `ffmpeg ${pid} (seen as Node-RED's child) still runs`),
        ...[...workerPidsSeen].filter(alive).map((pid) => `inference worker ${pid} still runs`),
      ];
      if (!left.length) break;
      await sleep(500);
    } while (Date.now() < gone);
    report.orphans = [...new Set(left)];
  } finally {
    stopMeter();
    await nr?.stop().catch(() => undefined);
    await sub?.endAsync().catch(() => undefined);
    for (const s of servers) await s?.stop().catch(() => undefined);
    await broker?.dispose().catch(() => undefined);
  }
  report.targets = targets(report);
  report.pass = Object.values(report.targets).every((t) => t.pass !== false);
  return report;
}

/** The issue's targets, each with its value and a pass or fail (null where the run was too short). */
export function targets(r: SoakReport): Record<string, Target> {
  const s = r.schedule;
  const minutes = r.samples.filter((x) => x.label.startsWith('minute'));
  const start = r.samples.find((x) => x.label === 'start');
  const end = r.samples.find((x) => x.label === 'end');
  const out: Record<string, Target> = {};

  const warm = [start, ...minutes].filter((x): x is SoakSample => !!x && x.t >= s.warmupMinutes * 60 - 5);
  // The median of the minute's readings where the report has it (older reports: of five readings
  // over a second, or one reading).
  const rssPoints = warm.map((x) => ({ x: x.t / 3600, y: (x.rssMedian ?? x.totalRss) / MB }));
  const rssSlope = slope(rssPoints);
  const rssError = slopeError(rssPoints);
  const readings = warm.map((x) => x.rssReadings ?? (x.rssMedian === undefined ? 1 : 5));
  const readingsSaid =
    Math.min(...readings) >= 10
      ? `the median of its readings every 2 s over each minute, ${Math.min(...readings)} to ${Math.max(...readings)}`
      : readings.every((n) => n === 5)
        ? 'the median of five readings over a second each minute'
        : 'one reading a minute';
  const heapSlope = slope(warm.map((x) => ({ x: x.t / 3600, y: x.heapUsed / MB })));
  const lessWasmSlope = slope(
    warm
      .filter((x) => x.rssWasm !== undefined)
      .map((x) => ({ x: x.t / 3600, y: ((x.rssMedian ?? x.totalRss) - (x.rssWasm ?? 0)) / MB })),
  );
  const anonSlope = slope(
    warm.filter((x) => x.rssAnon > 0).map((x) => ({ x: x.t / 3600, y: x.rssAnon / MB })),
  );
  // What V8 reserves for its heaps, Node-RED's and every worker thread's (new space grows under load).
  const heapsSlope = slope(
    warm
      .filter((x) => x.workers.every((w) => w.heapTotal !== null && w.heapTotal !== undefined))
      .map((x) => ({
        x: x.t / 3600,
        y: (x.heapTotal + x.workers.reduce((n, w) => n + (w.heapTotal ?? 0), 0)) / MB,
      })),
  );
  out.rssGrowth = {
    pass: warm.length >= 10 && rssSlope !== null ? rssSlope < 5 : null,
    value: rssSlope === null ? null : Math.round(rssSlope * 100) / 100,
    limit: '< 5 MB/hour',
    note: `least-squares slope of Node-RED's RSS (worker threads included; ${readingsSaid}) over ${warm.length} samples from minute ${s.warmupMinutes}, standard error ${rssError === null ? 'n/a' : rssError.toFixed(2)} MB/hour; heap slope ${heapSlope === null ? 'n/a' : heapSlope.toFixed(2)} MB/hour; anonymous RSS slope ${anonSlope === null ? 'n/a' : anonSlope.toFixed(2)} MB/hour; V8 heaps reserved (Node-RED and workers) slope ${heapsSlope === null ? 'n/a' : heapsSlope.toFixed(2)} MB/hour; RSS less the WASM heaps' resident pages slope ${lessWasmSlope === null ? 'n/a' : lessWasmSlope.toFixed(2)} MB/hour${warm.length < 10 ? '; too few samples to judge' : ''}`,
  };

  const tensorsOf = (x?: SoakSample): Record<string, number> => {
    const by: Record<string, number> = {};
    for (const w of x?.workers ?? []) by[w.engine] = (by[w.engine] ?? 0) + w.numTensors;
    return by;
  };
  const t0 = tensorsOf(start);
  const t1 = tensorsOf(end);
  out.tensors = {
    pass:
      start && end
        ? Object.keys(t0).length > 0 &&
          Object.keys(t0).every((k) => t1[k] === t0[k]) &&
          !end.workers.some((w) => w.numTensors < 0)
        : null,
    value: { start: t0, end: t1 },
    limit: 'end == start, per engine',
  };
  out.fileDescriptors = {
    pass: start && end ? end.fds === start.fds && start.fds > 0 : null,
    value: { start: start?.fds, end: end?.fds, max: Math.max(...r.samples.map((x) => x.fds)) },
    limit: 'end == start',
  };
  // One ffmpeg per running camera: never two for one camera, and exactly one for every camera whose
  // server has been up long enough for the reconnection backoff (a minute at most) to have run.
  const ffmpegBad: string[] = [];
  for (const x of r.samples)
    x.ffmpegPerCamera.forEach((n, i) => {
      const up = x.serverUpS[i];
      if (n > 1) ffmpegBad.push(`${x.label}: camera ${i + 1} has ${n} ffmpeg`);
      else if (n === 0 && up !== null && up >= 90)
        ffmpegBad.push(`${x.label}: camera ${i + 1} up ${up} s without ffmpeg`);
    });
  out.ffmpegPerCamera = {
    pass: r.samples.length ? ffmpegBad.length === 0 && end?.ffmpeg === r.cameras : null,
    value: { end: end?.ffmpeg, problems: ffmpegBad },
    limit: `exactly 1 per running camera (${r.cameras} at the end)`,
  };
  const worst = minutes.reduce((m, x) => Math.max(m, x.loopP99Ms), 0);
  out.eventLoopP99 = {
    pass: minutes.length ? minutes.every((x) => x.loopP99Ms < 50) : null,
    value: {
      worst,
      over: minutes.filter((x) => x.loopP99Ms >= 50).map((x) => `${x.label}: ${x.loopP99Ms} ms`),
    },
    limit: '< 50 ms in every minute',
  };
  const e = r.events;
  out.noEventLost = {
    pass: e.received > 0 && e.missingFromLog.length === 0 && e.missingOnMqtt.length === 0,
    value: {
      logged: e.logged,
      received: e.received,
      erasedWithTheirPerson: e.erasedWithTheirPerson,
      removedByCap: e.removedByCap,
      missingFromLog: e.missingFromLog.length,
      missingOnMqtt: e.missingOnMqtt.length,
    },
    limit:
      'logged == received (less the events erased with their person, and the oldest ones the disk cap removed)',
  };
  out.noCrash = { pass: r.crashed === null, value: r.crashed };
  out.noUnexpectedError = {
    pass:
      r.log.unexpectedErrors.length === 0 &&
      r.harnessErrors.length === 0 &&
      r.faults.enrolments.every((x) => x.ok) &&
      r.faults.malformed.every((x) => x.ok),
    value: {
      logErrors: r.log.unexpectedErrors,
      harness: r.harnessErrors,
      enrolmentsRefused: r.faults.enrolments.filter((x) => !x.ok),
      malformedAnswers: r.faults.malformed.filter((x) => !x.ok),
    },
    note: `${r.log.expectedErrors} error lines in Node-RED's log belong to injected faults`,
  };
  const dirty = r.erasures.filter((x) => x.status !== 200 || x.hits.length || x.retainedHits.length);
  out.erasuresClean = {
    pass:
      r.erasures.length > 0 &&
      dirty.length === 0 &&
      r.finalGrep.hits.length === 0 &&
      r.finalGrep.retainedHits.length === 0 &&
      e.loggedOfErased.length === 0,
    value: {
      erasures: r.erasures.length,
      failed: dirty.map((x) => ({ id: x.id, status: x.status, hits: [...x.hits, ...x.retainedHits] })),
      finalHits: [...r.finalGrep.hits, ...r.finalGrep.retainedHits],
      eventsLeftOfErased: e.loggedOfErased.length,
    },
  };
  out.peopleBack = {
    pass: start && end ? end.people === start.people && end.samples === start.samples : null,
    value: { start: start && [start.people, start.samples], end: end && [end.people, end.samples] },
    limit: 'people and samples (descriptors) in the store: end == start',
  };
  out.noOrphan = { pass: r.orphans.length === 0, value: r.orphans };
  return out;
}
