// The memory allocator Node-RED runs with under `npm start` (and the soak, which runs Node-RED as npm
// start does). glibc's malloc keeps memory that libvips (sharp) and the inference threads free: over an
// hour Node-RED's RSS grew 277 MB with glibc's defaults and 42 MB with two arenas (MALLOC_ARENA_MAX=2),
// and stayed flat with jemalloc (README "Hours of running"). So jemalloc is preloaded where it is
// installed (Debian and Ubuntu: `apt-get install libjemalloc2`), and glibc is capped at two arenas
// where it is not. FACEWATCH_MALLOC=glibc keeps glibc's malloc; an LD_PRELOAD of your own is kept.

import { existsSync } from 'node:fs';

/** jemalloc's settings under npm start and the soak, unless the caller sets MALLOC_CONF. */
export const JEMALLOC_CONF = 'narenas:2,background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0';

/** Debian's multiarch directory for this process's architecture. */
const MULTIARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf' };

/** Where distributions install jemalloc's shared library, most specific first. */
export function jemallocCandidates(arch = process.arch) {
  const dirs = [];
  if (MULTIARCH[arch]) dirs.push(`/usr/lib/${MULTIARCH[arch]}`);
  dirs.push('/usr/lib64', '/usr/lib', '/usr/local/lib');
  return dirs.map((d) => `${d}/libjemalloc.so.2`);
}

/**
 * The environment variables that choose Node-RED's allocator, given the caller's environment, and
 * a line saying which one it is. Never changes `env`.
 *
 * @param {Record<string, string | undefined>} env the environment Node-RED would get
 * @param {{ platform?: string, exists?: (p: string) => boolean, arch?: string }} [opts] for tests
 * @returns {{ vars: Record<string, string>, allocator: 'jemalloc' | 'glibc' | 'system', line: string }}
 */
export function allocatorEnv(env, opts = {}) {
  const platform = opts.platform ?? process.platform;
  const exists = opts.exists ?? existsSync;
  if (platform !== 'linux')
    return { vars: {}, allocator: 'system', line: `the system's malloc (${platform})` };
  // Ignored by jemalloc; caps glibc's arenas wherever glibc's malloc is the one used.
  const vars = { MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2' };
  const preload = (env.LD_PRELOAD ?? '').split(/[:\s]+/).filter(Boolean);
  const own = preload.find((p) => /libjemalloc\.so/.test(p));
  if (own) return { vars, allocator: 'jemalloc', line: `jemalloc (${own}, your LD_PRELOAD)` };
  const arenas = `glibc's malloc, ${vars.MALLOC_ARENA_MAX} arenas (MALLOC_ARENA_MAX)`;
  if ((env.FACEWATCH_MALLOC ?? '').toLowerCase() === 'glibc')
    return { vars, allocator: 'glibc', line: `${arenas}: FACEWATCH_MALLOC=glibc` };
  const lib = jemallocCandidates(opts.arch).find((p) => exists(p));
  if (!lib)
    return {
      vars,
      allocator: 'glibc',
      line: `${arenas}; install jemalloc (apt-get install libjemalloc2) for memory that stays flat over days`,
    };
  vars.LD_PRELOAD = [lib, ...preload].join(':');
  // Two arenas (not four per core: the inference threads, libvips and ffmpeg's pipes would spread
  // over eight here), purged by a background thread, dirty pages returned after 5 s: Node-RED starts
  // about 30 MB lower and its RSS settles sooner (docs/performance.md). A MALLOC_CONF of your own is kept.
  if (!env.MALLOC_CONF) vars.MALLOC_CONF = JEMALLOC_CONF;
  return { vars, allocator: 'jemalloc', line: `jemalloc (${lib})` };
}
