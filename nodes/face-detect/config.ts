import type { DetectOptions } from '../../lib/types';
import { DETECT, DETECT_NODE, MOTION } from '../../lib/types/defaults';
import type { FaceDetectSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';
import type { DetectNodeSettings } from './controller';

/**
 * Turns face-detect's saved settings into the controller's. Only the options the user set override
 * the engine's defaults: an empty detector, confidence, face size or face count is left out.
 * Motion gating settings absent from a flow saved before they existed read as their defaults.
 */
export function detectSettings(def: Partial<FaceDetectSettings>, warn?: Warn): DetectNodeSettings {
  const r = new SettingsReader(warn);
  const options: Partial<DetectOptions> = {
    landmarks: !!def.landmarks,
    descriptors: def.descriptors !== false,
    ageGender: !!def.ageGender,
    expressions: !!def.expressions,
    crop: !!def.crops,
  };
  if (def.detector) options.detector = r.choice('detector', DETECT.detector, def.detector);
  for (const key of ['minConfidence', 'minFaceSize', 'maxFaces'] as const) {
    const n = r.optionalNumber(key, DETECT[key], def[key]);
    if (n !== undefined) options[key] = n;
  }
  const mode = r.choice('motion', MOTION.mode, def.motion);
  return {
    options,
    keepImage: r.choice('keepImage', DETECT_NODE.keepImage, def.keepImage),
    motion:
      mode === 'off'
        ? undefined
        : {
            mode,
            sensitivity: r.number('motionSensitivity', MOTION.sensitivity, def.motionSensitivity),
            minArea: r.number('motionMinArea', MOTION.minArea, def.motionMinArea),
            keepAlive: r.number('motionKeepAlive', MOTION.keepAlive, def.motionKeepAlive),
            refresh: r.number('motionRefresh', MOTION.refresh, def.motionRefresh),
          },
    skipped: r.choice('motionSkipped', MOTION.skipped, def.motionSkipped),
  };
}
