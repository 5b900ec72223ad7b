import { MATCH } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { FaceMatchSettings } from '../../../lib/types/node-settings';
import {
  applyLimits,
  CATEGORY,
  choiceSetting,
  COLOR,
  labelOf,
  migrateForm,
  numberSetting,
} from '../../shared/editor/common';

interface FaceMatchProps extends EditorNodeProperties, FaceMatchSettings {}

/** face-match's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  store: { value: '', type: 'face-store', required: true },
  threshold: numberSetting(MATCH.threshold),
  margin: numberSetting(MATCH.margin),
  candidates: numberSetting(MATCH.candidates),
  rule: choiceSetting(MATCH.rule),
  hold: numberSetting(MATCH.hold),
  outputs: { value: 1 },
  version: { value: SETTINGS_VERSION['face-match'] },
};

RED.nodes.registerType<FaceMatchProps>('face-match', {
  category: CATEGORY,
  color: COLOR,
  defaults,
  inputs: 1,
  outputs: 1,
  icon: 'face-match.svg',
  label: function () {
    return labelOf(this.name, 'face match');
  },
  paletteLabel: 'face match',
  inputLabels: 'faces',
  outputLabels: function (i: number) {
    if (this.outputs !== 2) return 'matched faces';
    return i === 0 ? 'known faces' : 'unknown faces';
  },
  oneditprepare: function () {
    applyLimits('node-input', {
      threshold: MATCH.threshold,
      margin: MATCH.margin,
      candidates: MATCH.candidates,
      hold: MATCH.hold,
    });
    migrateForm('face-match', this, 'node-input');
    $('#node-input-split')
      .prop('checked', Number(this.outputs) === 2)
      .on('change', function () {
        $('#node-input-outputs').val($(this).prop('checked') ? 2 : 1);
      });
  },
});
