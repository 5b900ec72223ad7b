/**
 * The pool's failure paths and the engine registry, with real workers and small engines (one worker
 * each): a child-process worker killed by a signal, a frame past the job timeout, the forced cpu
 * backend, closing with frames in flight, and shared engines counted by key.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { RawImage } from '../../lib/types';
import { FaceEngine } from '../../lib/vision/engine';
import { EngineError } from '../../lib/vision/errors';
import { DEFAULT_ENGINE_KEY, EngineRegistry } from '../../lib/vision/registry';
import { faceApiSample } from '../helpers/env';

async function raw(file: string): Promise<RawImage> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof EngineError, String(err));
    assert.equal(err.code, code);
    return true;
  };
}

async function waitFor(test: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('inference pool failures', () => {
  it('replaces a child-process worker killed by SIGKILL; its frame fails, the next works', async () => {
    const engine = await FaceEngine.create({ poolSize: 1, isolation: 'process' });
    try {
      const [pid] = engine.workerIds();
      assert.notEqual(pid, process.pid);
      process.kill(pid, 0); // a real process of its own
      const frame = await raw(faceApiSample(1));
      const inFlight = engine.detect(frame);
      await new Promise((r) => setImmediate(r));
      assert.equal(engine.stats().inFlight, 1);
      process.kill(pid, 'SIGKILL');
      await assert.rejects(inFlight, (err: unknown) => {
        isCode('WORKER_CRASHED')(err);
        assert.match((err as Error).message, /SIGKILL/);
        return true;
      });
      await waitFor(() => engine.workerIds()[0] !== pid);
      const r = await engine.detect(await readFile(faceApiSample(2)));
      assert.ok(r.faces.length >= 1);
      assert.equal(engine.stats().failed, 1);
    } finally {
      await engine.close();
    }
  });

  it('kills and replaces a worker whose frame runs past the job timeout', async () => {
    const engine = await FaceEngine.create({ poolSize: 1, jobTimeoutMs: 30 });
    try {
      const [id] = engine.workerIds();
      // SSD on a 1920x1280 photo takes far longer than 30 ms.
      await assert.rejects(engine.detect(await raw(faceApiSample(1))), isCode('WORKER_TIMEOUT'));
      await waitFor(() => engine.workerIds()[0] !== id);
    } finally {
      await engine.close();
    }
  });

  it('uses and reports a forced backend (cpu)', async () => {
    const engine = await FaceEngine.create({ poolSize: 1, backend: 'cpu', defaults: { detector: 'tiny' } });
    try {
      assert.equal(engine.backend, 'cpu');
      const image = await sharp(faceApiSample(2)).resize(960).jpeg().toBuffer();
      const r = await engine.detect(image, { descriptors: false });
      assert.equal(r.backend, 'cpu');
      assert.ok(r.faces.length >= 1);
    } finally {
      await engine.close();
    }
  });

  it('refuses a bad configuration with a clear message', async () => {
    await assert.rejects(FaceEngine.create({ modelPath: '/nonexistent/models' }), (err: unknown) => {
      isCode('INVALID_CONFIG')(err);
      assert.match((err as Error).message, /model file not found/);
      return true;
    });
    await assert.rejects(FaceEngine.create({ poolSize: 0 }), isCode('INVALID_CONFIG'));
    await assert.rejects(FaceEngine.create({ backend: 'gpu' as 'cpu' }), isCode('INVALID_CONFIG'));
  });
});

describe('engine registry', () => {
  it('shares one engine per key, counts its users and closes it on the last release', async () => {
    const registry = new EngineRegistry();
    const config = { poolSize: 1, defaults: { detector: 'tiny' as const, descriptors: false } };
    const [a, b] = await Promise.all([
      registry.acquire('engine-1', config),
      registry.acquire('engine-1', config),
    ]);
    assert.equal(a.resource, b.resource);
    assert.equal(registry.users('engine-1'), 2);
    const image = await readFile(faceApiSample(3));

    await a.release();
    await a.release(); // a second release of the same lease counts once
    assert.equal(registry.users('engine-1'), 1);
    assert.ok((await b.resource.detect(image)).faces.length >= 1);

    // Frames queued behind the one in flight fail with ENGINE_CLOSED when the last user leaves.
    const pending = Promise.allSettled([
      b.resource.detect(image),
      b.resource.detect(image),
      b.resource.detect(image),
    ]);
    await b.release();
    assert.equal(b.resource.isClosed, true);
    assert.deepEqual(registry.keys(), []);
    const settled = await pending;
    assert.ok(settled.some((s) => s.status === 'rejected'));
    for (const s of settled) if (s.status === 'rejected') isCode('ENGINE_CLOSED')(s.reason);
    await assert.rejects(b.resource.detect(image), isCode('ENGINE_CLOSED'));

    const c = await registry.acquire('engine-1', config);
    assert.notEqual(c.resource, a.resource);
    assert.ok((await c.resource.detect(image)).faces.length >= 1);
    await c.release();
    assert.equal(typeof DEFAULT_ENGINE_KEY, 'string');
  });

  it('forgets a key whose engine failed to start, so the next user tries again', async () => {
    const registry = new EngineRegistry();
    await assert.rejects(registry.acquire('broken', { modelPath: '/nonexistent' }), isCode('INVALID_CONFIG'));
    assert.deepEqual(registry.keys(), []);
    assert.equal(registry.users('broken'), 0);
  });
});
