/** Editor-side constants and helpers shared by every FaceWatch node's editor script. */
import {
  inLimit,
  isChoice,
  type ChoiceLimit,
  type FaceWatchNodeType,
  type NumberLimit,
} from '../../../lib/types/defaults';
import { describeMigration, migrateSettings } from '../../../lib/types/migrate';

/** Palette category of every FaceWatch node. */
export const CATEGORY = 'facewatch';
/** Background colour of FaceWatch nodes in the workspace. */
export const COLOR = '#8fc9e8';

/**
 * A number input that must satisfy a limit of lib/types/defaults.ts (range, whole number, multiple).
 * Absent (a flow saved before the setting existed) is accepted, as choiceValidator accepts it: the
 * runtime uses the default, and the dialog fills it in; an emptied input is not.
 */
export function validator(limit: NumberLimit): (v: unknown) => boolean {
  return (v) => v === undefined || (v !== '' && v !== null && inLimit(limit, Number(v)));
}

/** Like {@link validator}, but empty is accepted too ("use the engine's default"). */
export function optionalValidator(limit: NumberLimit): (v: unknown) => boolean {
  const check = validator(limit);
  return (v) => v === '' || check(v);
}

/**
 * A select whose value must be one of the choice's values (or '' when `empty`). Absent (a flow
 * saved before the setting existed) is accepted: the runtime uses the default.
 */
export function choiceValidator(limit: ChoiceLimit, empty = false): (v: unknown) => boolean {
  return (v) => v === undefined || (empty && v === '') || isChoice(limit, v);
}

/** A `defaults` entry for a number setting: the module's default and its validator. */
export function numberSetting(limit: NumberLimit): { value: number; validate: (v: unknown) => boolean } {
  return { value: limit.default, validate: validator(limit) };
}

/** A `defaults` entry for a choice setting: the module's default and its validator. */
export function choiceSetting<T extends string>(
  limit: ChoiceLimit<T>,
): { value: T; validate: (v: unknown) => boolean } {
  return { value: limit.default, validate: choiceValidator(limit) };
}

/** Gives number inputs the min, max and step of their limits, so the form cannot drift from them. */
export function applyLimits(prefix: string, limits: Record<string, NumberLimit>): void {
  for (const [name, limit] of Object.entries(limits)) {
    $(`#${prefix}-${name}`).attr({
      min: limit.zeroOff ? 0 : limit.min,
      max: limit.max,
      step: limit.step ?? 'any',
    });
  }
}

/**
 * Upgrades the edited node's settings to the current settings version (lib/types/migrate.ts), in
 * the form: a node saved by an older version shows the values it runs with, and saving it stores
 * them with the current version. What changed is shown in a notification.
 */
export function migrateForm(type: FaceWatchNodeType, node: object, prefix: string): void {
  const m = migrateSettings(type, node);
  for (const c of m.changes) $(`#${prefix}-${c.setting}`).val(String(c.to));
  $(`#${prefix}-version`).val(String(m.to));
  const line = describeMigration(type, m);
  if (line) RED.notify(line, 'warning');
}

/** The node's name when set, else its translated default label. */
export function labelOf(name: string | undefined, fallback: string): string {
  return name && name.trim() ? name : fallback;
}
