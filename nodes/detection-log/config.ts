import { isTimeZone } from '../../lib/events/time';
import { EVENTS } from '../../lib/types/defaults';
import type { DetectionLogSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';

/** detection-log's settings as its controller uses them. */
export interface LogSettings {
  /** Seconds. */
  cooldown: number;
  snapshots: boolean;
  retainKnownDays: number;
  retainUnknownDays: number;
  /** 0 = no cap. */
  maxDiskMB: number;
  /** IANA name; '' = the system's. */
  timezone: string;
  dailyFiles: boolean;
  /** Recurring visitor ids for unknown faces (lib/events/visitors.ts). */
  visitors: boolean;
}

/** Turns detection-log's saved settings into the controller's, with the defaults of lib/types/defaults.ts. */
export function logSettings(def: Partial<DetectionLogSettings>, warn: Warn = () => undefined): LogSettings {
  const r = new SettingsReader(warn);
  let timezone = typeof def.timezone === 'string' ? def.timezone.trim() : '';
  if (!isTimeZone(timezone)) {
    warn(`setting timezone "${timezone}" is not an IANA time zone name: using the system's`);
    timezone = '';
  }
  return {
    cooldown: r.number('cooldown', EVENTS.cooldown, def.cooldown),
    snapshots: def.snapshots !== false && (def.snapshots as unknown) !== 'false',
    retainKnownDays: r.number('retainKnownDays', EVENTS.retainKnownDays, def.retainKnownDays),
    retainUnknownDays: r.number('retainUnknownDays', EVENTS.retainUnknownDays, def.retainUnknownDays),
    maxDiskMB: r.number('maxDiskMB', EVENTS.maxDiskMB, def.maxDiskMB),
    timezone,
    dailyFiles: def.dailyFiles === true || (def.dailyFiles as unknown) === 'true',
    visitors: def.visitors !== false && (def.visitors as unknown) !== 'false',
  };
}
