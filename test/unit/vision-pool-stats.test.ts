/**
 * The inference workers' own figures, as the soak reads them once a minute: tensors alive and the
 * worker's memory (process.memoryUsage() in the worker), per worker of a pool, and for every engine
 * of the process through the engine registry. Real models, real workers (threads and processes).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { FaceEngine } from '../../lib/vision/engine';
import { EngineRegistry } from '../../lib/vision/registry';
import { faceApiSample } from '../helpers/env';

describe('inference worker stats', () => {
  let engine: FaceEngine;
  before(async () => {
    engine = await FaceEngine.create({ poolSize: 2, backend: 'wasm' });
  });
  after(async () => {
    await engine?.close();
  });

  it("reports each thread worker's tensors and its own heap", async () => {
    const stats = await engine.workerStats();
    assert.equal(stats.length, 2);
    const ids = engine.workerIds();
    for (const [i, s] of stats.entries()) {
      assert.equal(s.index, i);
      assert.equal(s.id, ids[i]);
      assert.equal(s.isolation, 'thread');
      assert.ok(s.numTensors > 0, `worker ${i} holds the models' tensors (${s.numTensors})`);
      assert.ok(s.memory, `worker ${i} answered with its memory`);
      assert.ok(s.memory.heapUsed > 0 && s.memory.heapTotal >= s.memory.heapUsed);
      assert.ok(s.memory.rss > 0);
    }
    // The same count workerTensors() has always reported: one request behind both.
    assert.deepEqual(
      stats.map((s) => s.numTensors),
      await engine.workerTensors(),
    );
  });

  it('reports the same tensors after detections (nothing leaks per frame)', async () => {
    const before = (await engine.workerStats()).map((s) => s.numTensors);
    const photo = await readFile(faceApiSample(1));
    for (let i = 0; i < 6; i++) await engine.detect(photo, { descriptors: true });
    const after = (await engine.workerStats()).map((s) => s.numTensors);
    assert.deepEqual(after, before);
  });

  it("reports a process worker's own resident memory, not its parent's", async () => {
    const isolated = await FaceEngine.create({ poolSize: 1, backend: 'wasm', isolation: 'process' });
    try {
      const [s] = await isolated.workerStats();
      assert.equal(s.isolation, 'process');
      assert.equal(s.id, isolated.workerIds()[0]);
      assert.notEqual(s.id, process.pid);
      assert.ok(s.numTensors > 0);
      assert.ok(s.memory && s.memory.rss > 0);
      const status = await readFile(`/proc/${s.id}/status`, 'utf8');
      const vmRss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
      // The worker's own RSS (read from /proc a moment later), not the test process's.
      assert.ok(Math.abs(s.memory.rss - vmRss) < 0.2 * vmRss, `${s.memory.rss} vs /proc ${vmRss}`);
    } finally {
      await isolated.close();
    }
  });

  it('reports every engine of a registry, by key', async () => {
    const registry = new EngineRegistry();
    const a = await registry.acquire('a', { poolSize: 1, backend: 'wasm' }, 'test-a');
    const b = await registry.acquire('b', { poolSize: 1, backend: 'wasm' }, 'test-b');
    try {
      const all = await registry.workerStats();
      assert.deepEqual(all.map((e) => e.key).sort(), ['a', 'b']);
      for (const e of all) {
        assert.equal(e.workers.length, 1);
        assert.ok(e.workers[0].numTensors > 0);
      }
    } finally {
      await a.release();
      await b.release();
    }
    assert.deepEqual(await registry.workerStats(), []);
  });
});
