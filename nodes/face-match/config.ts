import { MATCH } from '../../lib/types/defaults';
import type { FaceMatchSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';
import type { MatchSettings } from './controller';

/** Turns face-match's saved settings into the controller's, with the defaults of lib/types/defaults.ts. */
export function matchSettings(def: Partial<FaceMatchSettings>, warn?: Warn): MatchSettings {
  const r = new SettingsReader(warn);
  return {
    threshold: r.number('threshold', MATCH.threshold, def.threshold),
    margin: r.number('margin', MATCH.margin, def.margin),
    candidates: r.number('candidates', MATCH.candidates, def.candidates),
    rule: r.choice('rule', MATCH.rule, def.rule),
    hold: r.number('hold', MATCH.hold, def.hold),
    split: Number(def.outputs) === 2,
  };
}
