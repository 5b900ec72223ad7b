/**
 * Reading node settings. The editor stores numbers as numbers or, from text inputs, as strings,
 * and an empty input as ''. Defaults and limits come from lib/types/defaults.ts; a value out of
 * range or not a number falls back to the default and is reported once, through node.warn, when
 * the node starts.
 */
import {
  readChoice,
  readNumber,
  readOptionalNumber,
  type ChoiceLimit,
  type FaceWatchNodeType,
  type NumberLimit,
} from '../../lib/types/defaults';
import { describeMigration, migrateSettings } from '../../lib/types/migrate';
import type { Node, NodeAPI } from './red';

/** The setting as a number, or undefined when it is empty or not a number. */
export function optionalNumber(v: unknown): number | undefined {
  if (v === '' || v === undefined || v === null || typeof v === 'boolean') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Where a settings parser reports a value it did not accept (node.warn at runtime). */
export type Warn = (message: string) => void;

/** Reads settings against their limits, reporting each refused value through `warn`. */
export class SettingsReader {
  constructor(private readonly warn: Warn = () => undefined) {}

  /** A number setting: '' gives the default; a bad value the default, with a warning. */
  number(name: string, limit: NumberLimit, v: unknown): number {
    return this.report(readNumber(limit, v, `setting ${name}`));
  }

  /** A number setting that may stay empty ('' gives undefined: the engine's default). */
  optionalNumber(name: string, limit: NumberLimit, v: unknown): number | undefined {
    return this.report(readOptionalNumber(limit, v, `setting ${name}`));
  }

  /** A choice setting: '' gives the default; an unknown value the default, with a warning. */
  choice<T extends string>(name: string, limit: ChoiceLimit<T>, v: unknown): T {
    return this.report(readChoice(limit, v, `setting ${name}`));
  }

  private report<T>(r: { value: T; problem?: string }): T {
    if (r.problem) this.warn(r.problem);
    return r.value;
  }
}

/**
 * A node's settings upgraded to the current settings version (lib/types/migrate.ts), before they
 * are read. What the upgrade changed is reported once through `warn`.
 */
export function upgradeSettings<T extends object>(
  type: FaceWatchNodeType,
  def: T,
  warn: Warn,
): T & { version: number } {
  const m = migrateSettings(type, def);
  const line = describeMigration(type, m);
  if (line) warn(line);
  return m.settings;
}

/**
 * A text setting with every `${VAR}` in it replaced by the variable's value as Node-RED resolves it
 * for `node` (flow, group and global environment, then the process's). Node-RED itself substitutes
 * only a setting that is one `${VAR}` as a whole; addresses such as `rtsp://${CAM_HOST}/stream` need
 * this. A variable without a value is left as written, so the address's own check names it.
 */
export function substituteEnv(RED: NodeAPI, node: Node, text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
    const value: unknown = RED.util.getSetting(node, name);
    return typeof value === 'string' || typeof value === 'number' ? String(value) : whole;
  });
}

/**
 * The `${VAR}`s of a text setting that have no value for `node` (unset, or set to nothing). A node
 * whose address is such a variable says so in its status rather than failing on the literal text.
 */
export function unsetEnv(RED: NodeAPI, node: Node, text: string): string[] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)]
    .map((m) => m[1])
    .filter((name) => {
      const value: unknown = RED.util.getSetting(node, name);
      return value === undefined || value === null || value === '';
    });
}
