/**
 * Entry point of an inference worker, as a worker thread (wasm, cpu) or a child process (tfjs-node,
 * or when process isolation is asked). It answers the messages of protocol.ts one at a time.
 */
import { parentPort } from 'node:worker_threads';
import { FaceAnalyzer } from './analyzer';
import type { FromWorker, ToWorker } from './protocol';

/** The link to the engine: a worker thread's port or the child process's IPC channel. */
interface Link {
  send(msg: FromWorker, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (msg: ToWorker) => void): void;
}

function link(): Link {
  const port = parentPort;
  if (port) {
    return {
      send: (msg, transfer) => port.postMessage(msg, transfer ?? []),
      onMessage: (handler) => port.on('message', handler),
    };
  }
  if (!process.send)
    throw new Error('the vision worker must run as a worker thread or a forked child process');
  // An orphaned child would otherwise keep its models in memory forever.
  process.on('disconnect', () => process.exit(0));
  return {
    send: (msg) => {
      process.send?.(msg);
    },
    onMessage: (handler) => process.on('message', handler as (m: unknown) => void),
  };
}

/** Serves one engine: initialises the analyzer, then runs requests in arrival order. */
class WorkerHost {
  private analyzer?: FaceAnalyzer;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly link: Link) {
    link.onMessage((msg) => {
      // Requests run one after another: a worker is one inference at a time by design.
      this.chain = this.chain.then(() => this.handle(msg));
    });
  }

  private async handle(msg: ToWorker): Promise<void> {
    switch (msg.type) {
      case 'init':
        try {
          this.analyzer = await FaceAnalyzer.create(msg.backend, msg.modelPath, msg.preload);
          this.link.send({
            type: 'ready',
            backend: this.analyzer.backend,
            modelId: this.analyzer.modelId,
            numTensors: this.analyzer.numTensors(),
          });
        } catch (err) {
          this.link.send({ type: 'init-error', message: errorMessage(err) });
        }
        return;
      case 'detect': {
        const started = performance.now();
        try {
          if (!this.analyzer) throw new Error('worker not initialised');
          const faces = await this.analyzer.detect(msg.frame, msg.options, msg.full);
          const transfer = faces.flatMap((f) => (f.rawCrop ? [f.rawCrop.data.buffer as ArrayBuffer] : []));
          this.link.send(
            { type: 'result', id: msg.id, faces, inferenceMs: performance.now() - started },
            transfer,
          );
          // After the answer, so the frame that grew the heap does not wait for its pages.
          this.analyzer.prefaultWasmHeap();
        } catch (err) {
          this.link.send({ type: 'error', id: msg.id, message: errorMessage(err) });
        }
        return;
      }
      case 'stats': {
        const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
        this.link.send({
          type: 'stats',
          id: msg.id,
          numTensors: this.analyzer?.numTensors() ?? 0,
          memory: {
            rss,
            heapTotal,
            heapUsed,
            external,
            arrayBuffers,
            wasmHeap: this.analyzer?.wasmHeapBytes() ?? 0,
          },
        });
        return;
      }
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

new WorkerHost(link());
