import type { FaceEngineSettings } from '../../../lib/types/node-settings';
import { labelOf, numberIn } from '../../shared/editor/common';

interface FaceEngineProps extends EditorNodeProperties, FaceEngineSettings {}

RED.nodes.registerType<FaceEngineProps>('face-engine', {
  category: 'config',
  defaults: {
    name: { value: '' },
    backend: { value: 'auto' },
    poolSize: { value: 0, validate: numberIn(0, 64) },
    modelPath: { value: '' },
    detector: { value: 'ssd' },
    inputSize: { value: 416, validate: (v: unknown) => numberIn(128, 608)(v) && Number(v) % 32 === 0 },
    minConfidence: { value: 0.5, validate: numberIn(0.05, 1) },
    minFaceSize: { value: 50, validate: numberIn(0, 10000) },
    maxDimension: { value: 0, validate: numberIn(0, 10000) },
  },
  label: function () {
    return labelOf(this.name, `${this.detector} · ${this.backend}`);
  },
  paletteLabel: 'face engine',
  oneditprepare: function () {
    const toggle = (): void => {
      $('.fw-tiny-only').toggle($('#node-config-input-detector').val() === 'tiny');
    };
    $('#node-config-input-detector').on('change', toggle);
    toggle();
  },
});
