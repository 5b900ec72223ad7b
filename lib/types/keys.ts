/**
 * Names that must never become keys of a plain object: a person id, a person's name or a camera's
 * name from outside that reads `__proto__` would otherwise reach `Object.prototype` through a
 * statistics table or a lookup, for the whole Node-RED process. Such values are refused where they
 * enter (ids, names, camera names), and every table keyed by outside data is a `Map` or has no
 * prototype, so a value that slipped through still cannot reach a prototype.
 *
 * Isomorphic: the editor scripts and the web page use it too.
 */

/** The keys that reach an object's prototype or constructor when used as plain-object keys. */
export const RESERVED_KEYS: readonly string[] = Object.freeze(['__proto__', 'constructor', 'prototype']);

/** Whether `value` (trimmed, any case) is one of {@link RESERVED_KEYS}. */
export function isReservedKey(value: unknown): boolean {
  return typeof value === 'string' && RESERVED_KEYS.includes(value.trim().toLowerCase());
}

/**
 * The error message for a reserved value, e.g. `camera name "__proto__" is reserved: choose
 * another`; undefined when the value is not reserved.
 */
export function reservedKeyProblem(what: string, value: unknown): string | undefined {
  return isReservedKey(value)
    ? `${what} "${String(value).trim()}" is reserved (${RESERVED_KEYS.join(', ')} cannot be used): choose another`
    : undefined;
}

/** A table keyed by outside data, without a prototype (JSON.stringify shows it like `{}`). */
export function keyTable<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
