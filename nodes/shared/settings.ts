/**
 * Reading node settings. The editor stores numbers as numbers or, from text inputs, as strings,
 * and an empty input as ''.
 */

/** The setting as a number, or undefined when it is empty or not a number. */
export function optionalNumber(v: unknown): number | undefined {
  if (v === '' || v === undefined || v === null || typeof v === 'boolean') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** The setting as a number, or `fallback` when it is empty or not a number. */
export function numberOr(v: unknown, fallback: number): number {
  return optionalNumber(v) ?? fallback;
}
