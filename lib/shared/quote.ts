/**
 * A value from outside as a short quote for an error: text cut at 40 characters (a field can be
 * megabytes long, and the error goes to the status, the log and every Catch node), anything else by
 * its type. Never calls the value's own methods.
 */
export function quoteValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (Buffer.isBuffer(v)) return 'a Buffer';
  return Array.isArray(v) ? 'an array' : `a value of type ${typeof v}`;
}
