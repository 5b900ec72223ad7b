import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { RtspSourceSettings } from '../../../lib/types/node-settings';
import { CATEGORY, COLOR, labelOf, migrateForm } from '../../shared/editor/common';

interface RtspSourceProps extends EditorNodeProperties, RtspSourceSettings {}

/** rtsp-source's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  camera: { value: '', type: 'face-camera', required: true },
  autoStart: { value: true },
  version: { value: SETTINGS_VERSION['rtsp-source'] },
};

RED.nodes.registerType<RtspSourceProps>('rtsp-source', {
  category: CATEGORY,
  color: COLOR,
  defaults,
  inputs: 1,
  outputs: 2,
  icon: 'rtsp-source.svg',
  label: function () {
    const camera = RED.nodes.node(this.camera) as { name?: string } | null;
    return labelOf(this.name, camera?.name ? `camera ${camera.name}` : 'rtsp source');
  },
  paletteLabel: 'rtsp source',
  inputLabels: 'start / stop / restart',
  outputLabels: ['frames', 'connection events'],
  oneditprepare: function () {
    migrateForm('rtsp-source', this, 'node-input');
  },
});
