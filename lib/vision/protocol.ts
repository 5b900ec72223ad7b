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
}

export interface MemoryRequest {
  type: 'memory';
  id: number;
}

export type ToWorker = InitRequest | DetectRequest | MemoryRequest;

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

export interface MemoryReply {
  type: 'memory';
  id: number;
  numTensors: number;
}

export type FromWorker = ReadyReply | InitErrorReply | ResultReply | ErrorReply | MemoryReply;
