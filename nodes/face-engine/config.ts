import type { BackendChoice, DetectorName } from '../../lib/types';
import type { EngineConfig } from '../../lib/vision/registry';
import type { NodeDef } from '../shared/red';

export interface FaceEngineDef extends NodeDef {
  backend: BackendChoice;
  poolSize: number | string;
  modelPath: string;
  detector: DetectorName;
  inputSize: number | string;
  minConfidence: number | string;
  minFaceSize: number | string;
  maxDimension: number | string;
}

function num(v: number | string | undefined, fallback: number): number {
  const n = Number(v);
  return v === '' || v === undefined || !Number.isFinite(n) ? fallback : n;
}

/** Turns the editor's settings into the engine's configuration. */
export function engineConfig(def: Partial<FaceEngineDef>): EngineConfig {
  const poolSize = num(def.poolSize, 0);
  return {
    backend: def.backend ?? 'auto',
    poolSize: poolSize > 0 ? poolSize : undefined,
    modelPath: def.modelPath?.trim() || undefined,
    defaults: {
      detector: def.detector ?? 'ssd',
      inputSize: num(def.inputSize, 416),
      minConfidence: num(def.minConfidence, 0.5),
      minFaceSize: num(def.minFaceSize, 50),
      maxDimension: num(def.maxDimension, 0),
    },
  };
}
