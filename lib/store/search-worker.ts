/**
 * Runs index searches in a worker thread over the index's shared memory, so a search over a
 * large store does not block the event loop. The memory is shared, not copied: a request costs
 * a message, not a transfer of the index.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { KernelResult } from './kernel';
import type { IndexView } from './descriptor-index';
import type { SearchRequest, SearchResponse } from './worker';

interface Pending {
  resolve(r: KernelResult): void;
  reject(err: Error): void;
}

export class SearchWorker {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  private start(): Worker {
    // Resolved beside this file so it works compiled (.js in dist) and under tsx (.ts).
    const ext = path.extname(__filename);
    const file = path.join(__dirname, 'worker' + ext);
    // Under tsx (.ts sources) Node 20 does not apply `--import tsx` to a worker's entry file, so
    // the worker gets tsx's CommonJS hook instead; compiled (.js) it needs nothing.
    const execArgv = ext === '.ts' ? ['--require', 'tsx/cjs'] : undefined;
    const w = new Worker(file, execArgv ? { execArgv } : {});
    w.on('message', (res: SearchResponse) => {
      const p = this.pending.get(res.seq);
      if (!p) return;
      this.pending.delete(res.seq);
      if (this.pending.size === 0) w.unref();
      if (res.error || !res.slots || !res.d2)
        p.reject(new Error(`search worker: ${res.error ?? 'empty answer'}`));
      else p.resolve({ slots: res.slots, d2: res.d2 });
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = null;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`search worker exited with code ${code}`)));
    w.unref();
    return w;
  }

  /** Searches `view` for `query`; a crashed worker is replaced on the next call. */
  search(view: IndexView, query: Float32Array, k: number): Promise<KernelResult> {
    this.worker ??= this.start();
    const w = this.worker;
    const seq = ++this.seq;
    return new Promise<KernelResult>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      // Keep the process alive while a search is in flight; idle, the worker must not hold it open.
      w.ref();
      const req: SearchRequest = { seq, view, query, k };
      w.postMessage(req);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
