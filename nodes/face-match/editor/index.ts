import type { FaceMatchSettings } from '../../../lib/types/node-settings';
import { CATEGORY, COLOR, labelOf, numberIn } from '../../shared/editor/common';

interface FaceMatchProps extends EditorNodeProperties, FaceMatchSettings {}

RED.nodes.registerType<FaceMatchProps>('face-match', {
  category: CATEGORY,
  color: COLOR,
  defaults: {
    name: { value: '' },
    store: { value: '', type: 'face-store', required: true },
    threshold: { value: 0.6, validate: numberIn(0.05, 2) },
    margin: { value: 0.05, validate: numberIn(0, 1) },
    candidates: { value: 3, validate: numberIn(1, 20) },
    outputs: { value: 1 },
  },
  inputs: 1,
  outputs: 1,
  icon: 'font-awesome/fa-id-badge',
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
    $('#node-input-split')
      .prop('checked', Number(this.outputs) === 2)
      .on('change', function () {
        $('#node-input-outputs').val($(this).prop('checked') ? 2 : 1);
      });
  },
});
