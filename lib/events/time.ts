/**
 * Days and hours in a time zone: the detection log's "today", its daily files and its hourly
 * statistics follow the configured IANA zone (the original system ran in UTC+7), not the
 * process's, so a log read on another machine or after a move keeps its days.
 */

/** Whether `zone` is an IANA time zone name this Node.js knows ('' is the system's zone). */
export function isTimeZone(zone: string): boolean {
  if (zone === '') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The system's time zone name (e.g. `Etc/UTC`). */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Calendar days and hours of instants in one time zone. */
export class ZonedClock {
  /** The zone's IANA name. */
  readonly zone: string;
  private readonly fmt: Intl.DateTimeFormat;

  /** @param zone - an IANA name; '' or undefined for the system's. Throws a RangeError for an unknown name. */
  constructor(zone?: string) {
    this.zone = zone?.trim() || systemTimeZone();
    if (!isTimeZone(this.zone))
      throw new RangeError(`unknown time zone "${this.zone}": use an IANA name such as Asia/Bangkok`);
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: this.zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      hourCycle: 'h23',
    });
  }

  private parts(t: Date | number | string): { day: string; hour: number } {
    const p: Record<string, string> = {};
    for (const part of this.fmt.formatToParts(new Date(t))) p[part.type] = part.value;
    return { day: `${p.year}-${p.month}-${p.day}`, hour: Number(p.hour) % 24 };
  }

  /** The day of an instant in this zone, `YYYY-MM-DD`. */
  day(t: Date | number | string): string {
    return this.parts(t).day;
  }

  /** The hour (0-23) of an instant in this zone. */
  hour(t: Date | number | string): number {
    return this.parts(t).hour;
  }
}
