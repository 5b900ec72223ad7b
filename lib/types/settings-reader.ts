/**
 * Reading saved settings against their limits (lib/types/defaults.ts): the editor stores numbers as
 * numbers or, from text inputs, as strings, and an empty input as ''. A value out of range or not a
 * number falls back to the default and is reported through `warn` (node.warn at run time).
 * Isomorphic: no Node.js or Node-RED here.
 */
import { readChoice, readNumber, readOptionalNumber, type ChoiceLimit, type NumberLimit } from './defaults';

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
