import { DETECT, ENGINE } from '../../lib/types/defaults';
import type { FaceEngineSettings } from '../../lib/types/node-settings';
import type { EngineConfig } from '../../lib/vision/registry';
import type { NodeDef } from '../shared/red';
import { SettingsReader, type Warn } from '../shared/settings';

export interface FaceEngineDef extends NodeDef, FaceEngineSettings {}

/** Turns the editor's settings into the engine's configuration, with the defaults of lib/types/defaults.ts. */
export function engineConfig(def: Partial<FaceEngineDef>, warn?: Warn): EngineConfig {
  const r = new SettingsReader(warn);
  const poolSize = r.number('poolSize', ENGINE.poolSize, def.poolSize);
  return {
    backend: r.choice('backend', ENGINE.backend, def.backend),
    poolSize: poolSize > 0 ? poolSize : undefined,
    modelPath: def.modelPath?.trim() || undefined,
    defaults: {
      detector: r.choice('detector', DETECT.detector, def.detector),
      inputSize: r.number('inputSize', DETECT.inputSize, def.inputSize),
      minConfidence: r.number('minConfidence', DETECT.minConfidence, def.minConfidence),
      minFaceSize: r.number('minFaceSize', DETECT.minFaceSize, def.minFaceSize),
      maxDimension: r.number('maxDimension', DETECT.maxDimension, def.maxDimension),
    },
  };
}
