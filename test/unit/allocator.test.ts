/**
 * The allocator npm start and the soak run Node-RED with (scripts/allocator.mjs): jemalloc where it is
 * installed, glibc's malloc with two arenas where it is not or where FACEWATCH_MALLOC=glibc asks for it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { allocatorEnv, JEMALLOC_CONF, jemallocCandidates } from '../../scripts/allocator.mjs';

const LIB = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
const only =
  (...present: string[]) =>
  (p: string): boolean =>
    present.includes(p);

describe('allocator for Node-RED', () => {
  it('preloads jemalloc where it is installed, at two arenas purged in the background, and keeps glibc at two arenas besides', () => {
    const a = allocatorEnv({}, { platform: 'linux', arch: 'x64', exists: only(LIB) });
    assert.equal(a.allocator, 'jemalloc');
    assert.deepEqual(a.vars, { MALLOC_ARENA_MAX: '2', LD_PRELOAD: LIB, MALLOC_CONF: JEMALLOC_CONF });
    assert.match(JEMALLOC_CONF, /^narenas:2,background_thread:true,/);
    assert.equal(a.line, `jemalloc (${LIB})`);
  });

  it("puts jemalloc before a preload of the caller's own, and keeps the caller's MALLOC_ARENA_MAX and MALLOC_CONF", () => {
    const a = allocatorEnv(
      { LD_PRELOAD: '/opt/trace.so', MALLOC_ARENA_MAX: '4', MALLOC_CONF: 'narenas:8' },
      { platform: 'linux', arch: 'x64', exists: only(LIB) },
    );
    assert.deepEqual(a.vars, { MALLOC_ARENA_MAX: '4', LD_PRELOAD: `${LIB}:/opt/trace.so` });
  });

  it('keeps a jemalloc the caller preloads, and adds none', () => {
    const a = allocatorEnv(
      { LD_PRELOAD: '/opt/jemalloc/lib/libjemalloc.so.2' },
      { platform: 'linux', arch: 'x64', exists: only(LIB) },
    );
    assert.equal(a.allocator, 'jemalloc');
    assert.equal(a.vars.LD_PRELOAD, undefined, 'LD_PRELOAD is left as the caller set it');
    assert.match(a.line, /your LD_PRELOAD/);
  });

  it('without jemalloc: glibc with two arenas, and says how to install jemalloc', () => {
    const a = allocatorEnv({}, { platform: 'linux', arch: 'x64', exists: () => false });
    assert.equal(a.allocator, 'glibc');
    assert.deepEqual(a.vars, { MALLOC_ARENA_MAX: '2' });
    assert.match(a.line, /apt-get install libjemalloc2/);
  });

  it('FACEWATCH_MALLOC=glibc keeps glibc where jemalloc is installed', () => {
    const a = allocatorEnv(
      { FACEWATCH_MALLOC: 'glibc' },
      { platform: 'linux', arch: 'x64', exists: only(LIB) },
    );
    assert.equal(a.allocator, 'glibc');
    assert.deepEqual(a.vars, { MALLOC_ARENA_MAX: '2' });
    assert.match(a.line, /FACEWATCH_MALLOC=glibc/);
  });

  it('looks in the multiarch directory of the architecture first, then the common ones', () => {
    assert.equal(jemallocCandidates('arm64')[0], '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2');
    const a = allocatorEnv(
      {},
      { platform: 'linux', arch: 'arm64', exists: only('/usr/lib64/libjemalloc.so.2') },
    );
    assert.equal(a.vars.LD_PRELOAD, '/usr/lib64/libjemalloc.so.2');
  });

  it('changes nothing off Linux', () => {
    const a = allocatorEnv({}, { platform: 'darwin', exists: () => true });
    assert.deepEqual(a.vars, {});
    assert.equal(a.allocator, 'system');
  });

  it('on this machine: jemalloc exactly when one of the candidates exists', () => {
    const a = allocatorEnv({});
    if (process.platform !== 'linux') return;
    assert.equal(
      a.allocator === 'jemalloc',
      jemallocCandidates().some((p) => existsSync(p)),
    );
  });
});
