/**
 * Messages between the engine (main thread) and its inference workers (threads or child processes).
 */
import type { BackendName, DetectOptions, DetectedFace } from '../types';
import type { Frame } from './image';
import type { ModelName } from './models';

/** Which networks a worker loads at start; the others load on first use. */
export type ModelSet = Partial<Record<ModelName, boolean>>;

export interface InitRequest {
  type: 'init';
  backend: BackendName;
  modelPath: string;
  preload: ModelSet;
}

export interface DetectRequest {
  type: 'detect';
  id: number;
  frame: Frame;
  options: DetectOptions;
  /** The same moment at a higher resolution: landmarks and descriptors are computed from it. */
  full?: Frame;
}

/** Asks a worker for its figures: tensors alive and its own memory use. */
export interface StatsRequest {
  type: 'stats';
  id: number;
}

export type ToWorker = InitRequest | DetectRequest | StatsRequest;

/** Packed RGB pixels of a face crop (margin included), encoded to JPEG on the main thread by sharp. */
export interface RawCrop {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A face as the worker reports it: no model id (the engine adds it), a raw crop instead of a JPEG. */
export type WorkerFace = Omit<DetectedFace, 'crop' | 'modelId' | 'match'> & { rawCrop?: RawCrop };

export interface ReadyReply {
  type: 'ready';
  backend: BackendName;
  modelId: string;
  numTensors: number;
}

export interface InitErrorReply {
  type: 'init-error';
  message: string;
}

export interface ResultReply {
  type: 'result';
  id: number;
  faces: WorkerFace[];
  inferenceMs: number;
}

export interface ErrorReply {
  type: 'error';
  id: number;
  message: string;
}

/**
 * A worker's figures. `memory` is `process.memoryUsage()` as the worker sees it: in a worker thread
 * the heap figures are the thread's own isolate and `rss` is the whole process's; in a child process
 * every figure is the worker's own.
 */
export interface StatsReply {
  type: 'stats';
  id: number;
  /** `tf.memory().numTensors` (0 before the models are loaded). */
  numTensors: number;
  memory: WorkerMemory;
}

/** The fields of `process.memoryUsage()`, in bytes. */
export interface WorkerMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Bytes of the WASM backend's heap (part of `external`); 0 on the other backends. */
  wasmHeap?: number;
}

export type FromWorker = ReadyReply | InitErrorReply | ResultReply | ErrorReply | StatsReply;
