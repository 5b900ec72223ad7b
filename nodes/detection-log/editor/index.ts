import { EVENTS } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import type { DetectionLogSettings } from '../../../lib/types/node-settings';
import {
  applyLimits,
  CATEGORY,
  COLOR,
  labelOf,
  migrateForm,
  numberSetting,
} from '../../shared/editor/common';

interface DetectionLogProps extends EditorNodeProperties, DetectionLogSettings {}

/** Whether the browser knows the IANA zone ('' is the system's). */
function validZone(v: unknown): boolean {
  if (v === '' || v === undefined) return true;
  try {
    if (typeof v !== 'string') return false;
    new Intl.DateTimeFormat('en-US', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}

/** detection-log's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  store: { value: '', type: 'face-store', required: true },
  cooldown: numberSetting(EVENTS.cooldown),
  snapshots: { value: true },
  retainKnownDays: numberSetting(EVENTS.retainKnownDays),
  retainUnknownDays: numberSetting(EVENTS.retainUnknownDays),
  maxDiskMB: numberSetting(EVENTS.maxDiskMB),
  timezone: { value: '', validate: validZone },
  dailyFiles: { value: false },
  visitors: { value: true },
  version: { value: SETTINGS_VERSION['detection-log'] },
};

RED.nodes.registerType<DetectionLogProps>('detection-log', {
  category: CATEGORY,
  color: COLOR,
  defaults,
  inputs: 1,
  outputs: 1,
  icon: 'face-match.svg',
  label: function () {
    return labelOf(this.name, 'detection log');
  },
  paletteLabel: 'detection log',
  inputLabels: 'matched faces, query, stats',
  outputLabels: 'events, answers',
  oneditprepare: function () {
    applyLimits('node-input', EVENTS);
    migrateForm('detection-log', this, 'node-input');
  },
});
