/**
 * Search worker thread: scans the index's shared buffers with the same kernel as the main thread.
 * It only reads shared memory; the main thread checks the index version afterwards.
 */
import { parentPort } from 'node:worker_threads';
import { nearest } from './kernel';

/** A search request from {@link SearchWorker}. */
export interface SearchRequest {
  seq: number;
  data: Float32Array;
  rowSlot: Int32Array;
  rows: number;
  dim: number;
  slotCount: number;
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
    if (best.length < req.slotCount) best = new Float64Array(Math.max(16, req.slotCount * 2));
    const r = nearest(req.query, req.data, req.rowSlot, req.rows, req.dim, best, req.slotCount, req.k);
    parentPort?.postMessage({ seq: req.seq, slots: r.slots, d2: r.d2 } satisfies SearchResponse);
  } catch (err) {
    parentPort?.postMessage({ seq: req.seq, error: (err as Error).message } satisfies SearchResponse);
  }
});
