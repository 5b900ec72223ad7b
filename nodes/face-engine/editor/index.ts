import { DETECT, ENGINE } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceEngineSettings } from '../../../lib/types/node-settings';
import { applyLimits, choiceSetting, labelOf, migrateForm, numberSetting } from '../../shared/editor/common';

interface FaceEngineProps extends EditorNodeProperties, FaceEngineSettings {}

/** face-engine's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  backend: choiceSetting(ENGINE.backend),
  poolSize: numberSetting(ENGINE.poolSize),
  modelPath: { value: '' },
  detector: choiceSetting(DETECT.detector),
  inputSize: numberSetting(DETECT.inputSize),
  minConfidence: numberSetting(DETECT.minConfidence),
  minFaceSize: numberSetting(DETECT.minFaceSize),
  maxDimension: numberSetting(DETECT.maxDimension),
  version: { value: SETTINGS_VERSION['face-engine'] },
};

RED.nodes.registerType<FaceEngineProps>('face-engine', {
  category: 'config',
  defaults,
  label: function () {
    return labelOf(this.name, `${this.detector} · ${this.backend}`);
  },
  paletteLabel: 'face engine',
  oneditprepare: function () {
    const { inputSize, minConfidence, minFaceSize, maxDimension } = DETECT;
    applyLimits('node-config-input', {
      poolSize: ENGINE.poolSize,
      inputSize,
      minConfidence,
      minFaceSize,
      maxDimension,
    });
    migrateForm('face-engine', this, 'node-config-input');
    const toggle = (): void => {
      $('.fw-tiny-only').toggle($('#node-config-input-detector').val() === 'tiny');
    };
    $('#node-config-input-detector').on('change', toggle);
    toggle();
  },
});
