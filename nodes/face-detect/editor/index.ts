import { DETECT, DETECT_NODE, MOTION } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceDetectSettings } from '../../../lib/types/node-settings';
import {
  applyLimits,
  CATEGORY,
  choiceSetting,
  choiceValidator,
  COLOR,
  labelOf,
  migrateForm,
  numberSetting,
  optionalValidator,
} from '../../shared/editor/common';

interface FaceDetectProps extends EditorNodeProperties, FaceDetectSettings {}

/**
 * face-detect's editor defaults (exported for the test that compares them with lib/types/defaults.ts).
 * Detector, confidence and face size are empty by default: the engine's settings apply.
 */
export const defaults = {
  name: { value: '' },
  engine: { value: '', type: 'face-engine', required: false },
  detector: { value: '' as const, validate: choiceValidator(DETECT.detector, true) },
  minConfidence: { value: '', validate: optionalValidator(DETECT.minConfidence) },
  minFaceSize: { value: '', validate: optionalValidator(DETECT.minFaceSize) },
  maxFaces: { value: '', validate: optionalValidator(DETECT.maxFaces) },
  landmarks: { value: false },
  descriptors: { value: true },
  ageGender: { value: false },
  expressions: { value: false },
  crops: { value: false },
  keepImage: choiceSetting(DETECT_NODE.keepImage),
  motion: choiceSetting(MOTION.mode),
  motionSensitivity: numberSetting(MOTION.sensitivity),
  motionMinArea: numberSetting(MOTION.minArea),
  motionKeepAlive: numberSetting(MOTION.keepAlive),
  motionRefresh: numberSetting(MOTION.refresh),
  motionSkipped: choiceSetting(MOTION.skipped),
  version: { value: SETTINGS_VERSION['face-detect'] },
};

RED.nodes.registerType<FaceDetectProps>('face-detect', {
  category: CATEGORY,
  color: COLOR,
  defaults,
  inputs: 1,
  outputs: 1,
  icon: 'face-detect.svg',
  label: function () {
    return labelOf(this.name, 'face detect');
  },
  paletteLabel: 'face detect',
  inputLabels: 'image or frame',
  outputLabels: 'faces',
  oneditprepare: function () {
    applyLimits('node-input', {
      motionSensitivity: MOTION.sensitivity,
      motionMinArea: MOTION.minArea,
      motionKeepAlive: MOTION.keepAlive,
      motionRefresh: MOTION.refresh,
    });
    migrateForm('face-detect', this, 'node-input');
    // The gate's own settings matter only while it is on.
    const mode = $('#node-input-motion');
    const showGate = (): void => {
      $('.face-detect-motion-row').toggle(mode.val() !== 'off');
    };
    mode.on('change', showGate);
    showGate();
  },
});
