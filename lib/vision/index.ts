/** The vision engine: face detection, landmarks, descriptors and quality, off the main thread. */
export { FaceEngine, resolveDetectOptions } from './engine';
export type { EngineConfig, DetectCallOptions, EngineStats } from './engine';
export { ImageError, FrameDroppedError, EngineError } from './errors';
export type { ImageErrorCode, EngineErrorCode } from './errors';
export { acquireEngine, engines, EngineRegistry, DEFAULT_ENGINE_KEY } from './registry';
export type { EngineLease, EngineWorkerStats, WorkerStats } from './registry';
export { asJpeg, encodeJpeg, decodeImage, rawFrame, sniffFormat, DEFAULT_MAX_PIXELS } from './image';
export type { Frame, ImageFormat } from './image';
export { recognitionModelId, defaultModelPath, MODEL_MANIFESTS } from './models';
export { resolveBackendChoice, backendCandidates, BACKEND_ORDER } from './backend';
export type { Isolation } from './backend';
export { MotionDetector, motionThreshold } from './motion';
export type { MotionOptions, MotionResult } from './motion';
export { MotionGate, planRegions, cropFrame, facesToFrame } from './motion-gate';
export type { GateDecision, GateReason, GateSettings, RegionPlan } from './motion-gate';
