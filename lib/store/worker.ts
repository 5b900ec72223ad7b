/**
 * Search worker thread: scans the index's shared memory with the same kernel as the main thread,
 * in the worker's own scratch area. It only reads the rows; the main thread checks the index
 * version afterwards.
 */
import { parentPort } from 'node:worker_threads';
import { searchView, type IndexView } from './descriptor-index';

/** A search request from {@link SearchWorker}. */
export interface SearchRequest {
  seq: number;
  view: IndexView;
  query: Float32Array;
  k: number;
}

/** The answer: the k nearest slots with squared distances, or an error message. */
export interface SearchResponse {
  seq: number;
  slots?: number[];
  d2?: number[];
  error?: string;
}

let best = new Float64Array(0);

parentPort?.on('message', (req: SearchRequest) => {
  try {
    if (best.length < req.view.slotCount) best = new Float64Array(Math.max(16, req.view.slotCount * 2));
    const r = searchView(req.view, 1, req.query, best, req.k);
    parentPort?.postMessage({ seq: req.seq, slots: r.slots, d2: r.d2 } satisfies SearchResponse);
  } catch (err) {
    parentPort?.postMessage({ seq: req.seq, error: (err as Error).message } satisfies SearchResponse);
  }
});
