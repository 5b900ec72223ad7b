/**
 * Match benchmark: 1:N search over 1k, 10k, 100k and 1M random unit descriptors (128 numbers).
 *
 * Side by side in one run:
 * - FaceWatch's DescriptorIndex on the main thread (what `FaceStore.match` does),
 * - the same index searched by the worker thread over shared memory (what `FaceStore.matchAsync`
 *   does above `offloadRows`), with the main thread's event-loop delay measured meanwhile,
 * - the naive baseline: face-api's FaceMatcher (one LabeledFaceDescriptors per person), up to 100k.
 * Then load time and memory of real stores (NeDB datafile) of 10k and 100k people, each opened in
 * a fresh process.
 *
 * Targets (issue 4): 100k samples under 10 ms p50, and at least 5x faster than the baseline.
 * Writes bench/results/match.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DescriptorIndex } from '../lib/store/descriptor-index';
import { FaceStore } from '../lib/store/face-store';
import { SearchWorker } from '../lib/store/search-worker';
import { loopDelay } from './loop';

const DIM = 128;
const K = 3;

interface FaceApiMatcher {
  findBestMatch(q: Float32Array): { label: string; distance: number };
}
interface FaceApiModule {
  LabeledFaceDescriptors: new (label: string, d: Float32Array[]) => unknown;
  FaceMatcher: new (labelled: unknown[], threshold: number) => FaceApiMatcher;
}

/** Fills `out` with n random unit vectors (gaussian components, normalised). */
function randomUnits(n: number): Float32Array {
  const out = new Float32Array(n * DIM);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * DIM;
    for (let j = 0; j < DIM; j += 2) {
      // Box-Muller: gaussian components give directions uniform on the sphere.
      const u = 1 - Math.random();
      const v = Math.random();
      const m = Math.sqrt(-2 * Math.log(u));
      out[o + j] = m * Math.cos(2 * Math.PI * v);
      out[o + j + 1] = m * Math.sin(2 * Math.PI * v);
      s += out[o + j] ** 2 + out[o + j + 1] ** 2;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < DIM; j++) out[o + j] *= inv;
  }
  return out;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(times: number[]): { p50: number; p95: number; max: number; n: number } {
  const s = [...times].sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r(pct(s, 50)), p95: r(pct(s, 95)), max: r(s[s.length - 1]), n: s.length };
}

async function measureSizes(): Promise<unknown[]> {
  const rows: unknown[] = [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  const worker = new SearchWorker();
  for (const n of [1000, 10000, 100000, 1000000]) {
    const data = randomUnits(n);
    const index = new DescriptorIndex(DIM);
    index.reserve(n);
    for (let i = 0; i < n; i++) index.add(`P${i}`, `s${i}`, data.subarray(i * DIM, (i + 1) * DIM));
    const queries = n >= 1000000 ? 30 : 100;
    // Half the queries are noisy copies of stored people (a hit), half fresh vectors (a miss).
    const qs = randomUnits(queries);
    for (let q = 0; q < queries; q += 2) {
      const src = Math.floor(Math.random() * n) * DIM;
      for (let j = 0; j < DIM; j++) qs[q * DIM + j] = data[src + j] + qs[q * DIM + j] * 0.03;
    }
    const query = (q: number): Float32Array => qs.subarray(q * DIM, (q + 1) * DIM);

    for (let q = 0; q < 5; q++) index.search(query(q), K); // warm-up (JIT)
    const sync: number[] = [];
    for (let q = 0; q < queries; q++) {
      const t0 = performance.now();
      index.search(query(q), K);
      sync.push(performance.now() - t0);
    }

    for (let q = 0; q < 3; q++) await worker.search(index.view(), query(q), K);
    const viaWorker: number[] = [];
    const eld = loopDelay(1);
    eld.enable();
    for (let q = 0; q < queries; q++) {
      const t0 = performance.now();
      await worker.search(index.view(), query(q), K);
      viaWorker.push(performance.now() - t0);
    }
    eld.disable();

    let baseline: ReturnType<typeof summary> | null = null;
    let agree: number | null = null;
    if (n <= 100000) {
      const labelled = [];
      for (let i = 0; i < n; i++)
        labelled.push(new faceapi.LabeledFaceDescriptors(`P${i}`, [data.slice(i * DIM, (i + 1) * DIM)]));
      const matcher = new faceapi.FaceMatcher(labelled, 0.6);
      const bq = n >= 100000 ? 10 : n >= 10000 ? 30 : 100;
      const bt: number[] = [];
      agree = 0;
      matcher.findBestMatch(query(0));
      for (let q = 0; q < bq; q++) {
        const t0 = performance.now();
        const best = matcher.findBestMatch(query(q));
        bt.push(performance.now() - t0);
        // Same answer as the index (label, or 'unknown' beyond 0.6)?
        const hit = index.search(query(q), 1)[0];
        const mine = hit.distance < 0.6 ? hit.id : 'unknown';
        if (mine === best.label) agree++;
      }
      agree = agree / bq;
      baseline = summary(bt);
    }
    const s = summary(sync);
    const row = {
      samples: n,
      index_main_thread_ms: s,
      index_worker_ms: summary(viaWorker),
      // While searches ran in the worker: how long the main thread's event loop was held up.
      worker_event_loop_delay_ms: {
        p50: Math.round(eld.percentile(50) * 100) / 100,
        p99: Math.round(eld.percentile(99) * 100) / 100,
        max: Math.round(eld.max * 100) / 100,
      },
      // On the main thread a search blocks the event loop for its whole duration.
      main_thread_blocking_ms: { p50: s.p50, p95: s.p95, max: s.max },
      baseline_faceapi_facematcher_ms: baseline,
      speedup_vs_baseline_p50: baseline ? Math.round((baseline.p50 / s.p50) * 10) / 10 : null,
      same_answer_as_baseline: agree,
      index_mib: Math.round((index.bytes / 2 ** 20) * 10) / 10,
    };
    rows.push(row);
    process.stdout.write(
      `${String(n).padStart(8)} | index p50 ${s.p50.toFixed(2).padStart(8)} p95 ${s.p95.toFixed(2).padStart(8)} | ` +
        `worker p50 ${row.index_worker_ms.p50.toFixed(2).padStart(8)} loop-delay p99 ${row.worker_event_loop_delay_ms.p99.toFixed(2).padStart(6)} | ` +
        `FaceMatcher p50 ${baseline ? baseline.p50.toFixed(2).padStart(9) : '        -'} | x${row.speedup_vs_baseline_p50 ?? '-'}\n`,
    );
    index.clear();
  }
  await worker.close();
  return rows;
}

/** Builds a real store of n people (one sample each) and measures opening it in a fresh process. */
async function measureStore(n: number, dir: string): Promise<unknown> {
  const file = path.join(dir, `faces-${n}.db`);
  const store = await FaceStore.open({ file, backups: 0 });
  const data = randomUnits(n);
  const t0 = performance.now();
  await store.batch(async (tx) => {
    for (let i = 0; i < n; i++) {
      await tx.addPerson(
        { id: `P${i}`, name: `Person ${i}`, metadata: { role: 'visitor' } },
        { descriptor: data.subarray(i * DIM, (i + 1) * DIM), modelId: 'bench-model' },
      );
    }
  });
  const buildMs = performance.now() - t0;
  await store.close();
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--load', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const loaded = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>;
  const row = {
    people: n,
    datafile_mib: Math.round((statSync(file).size / 2 ** 20) * 10) / 10,
    build_s: Math.round(buildMs / 100) / 10,
    ...loaded,
  };
  process.stdout.write(`store ${n} people: ${JSON.stringify(row)}\n`);
  return row;
}

/** Child mode: open a store, report load time and memory growth. */
async function loadChild(file: string): Promise<void> {
  const before = process.memoryUsage();
  const t0 = performance.now();
  const store = await FaceStore.open({ file, backups: 0, lock: false });
  const loadMs = performance.now() - t0;
  const mem = process.memoryUsage();
  const mib = (x: number): number => Math.round((x / 2 ** 20) * 10) / 10;
  const size = store.size();
  await store.close();
  process.stdout.write(
    JSON.stringify({
      load_ms: Math.round(loadMs),
      people_loaded: size,
      rss_growth_mib: mib(mem.rss - before.rss),
      heap_used_growth_mib: mib(mem.heapUsed - before.heapUsed),
      array_buffers_mib: mib(mem.arrayBuffers),
    }) + '\n',
  );
}

export async function run(): Promise<unknown> {
  const load = os.loadavg();
  process.stdout.write(
    `load average at start: ${load.map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)\n`,
  );
  process.stdout.write(
    '  samples | FaceWatch index, main thread (ms)    | worker (ms) + main event-loop delay | face-api FaceMatcher | speed-up\n',
  );
  const sizes = await measureSizes();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-match-'));
  const stores: unknown[] = [];
  try {
    for (const n of [10000, 100000]) stores.push(await measureStore(n, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const result = {
    generated: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      loadavg_start: load,
      loadavg_end: os.loadavg(),
    },
    dim: DIM,
    k: K,
    targets: { p50_ms_at_100k: 10, speedup_vs_baseline: 5 },
    sizes,
    stores,
  };
  const outDir = path.join(__dirname, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'match.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

if (require.main === module) {
  const i = process.argv.indexOf('--load');
  const job = i > 0 ? loadChild(process.argv[i + 1]) : run().then(() => undefined);
  job.catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
