import { DEFAULT_DETECT_OPTIONS as D } from '../../lib/types';
import type { FaceEngineSettings } from '../../lib/types/node-settings';
import type { EngineConfig } from '../../lib/vision/registry';
import type { NodeDef } from '../shared/red';
import { numberOr } from '../shared/settings';

export interface FaceEngineDef extends NodeDef, FaceEngineSettings {}

/** Turns the editor's settings into the engine's configuration. */
export function engineConfig(def: Partial<FaceEngineDef>): EngineConfig {
  const poolSize = numberOr(def.poolSize, 0);
  return {
    backend: def.backend ?? 'auto',
    poolSize: poolSize > 0 ? poolSize : undefined,
    modelPath: def.modelPath?.trim() || undefined,
    defaults: {
      detector: def.detector ?? D.detector,
      inputSize: numberOr(def.inputSize, D.inputSize),
      minConfidence: numberOr(def.minConfidence, D.minConfidence),
      minFaceSize: numberOr(def.minFaceSize, D.minFaceSize),
      maxDimension: numberOr(def.maxDimension, D.maxDimension),
    },
  };
}
