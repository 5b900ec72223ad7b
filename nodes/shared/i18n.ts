import type { NodeAPI, Translate } from './red';

/**
 * A translator bound to one node type's catalog (locales/en-US/<type>.json), so a node writes
 * `t('status.ready')` and gets `RED._('<type>.status.ready')`.
 *
 * When a catalog lacks a key, Node-RED returns the key itself; the translator then returns the
 * `fallback` where one is given, so a status never shows a raw key.
 */
export function translator(RED: NodeAPI, type: string): Translate {
  return (key, subs) => {
    const full = `${type}.${key}`;
    const text = RED._(full, subs);
    return typeof text === 'string' && text !== full ? text : interpolate(key, subs);
  };
}

function interpolate(key: string, subs?: Record<string, string | number>): string {
  if (!subs) return key;
  return `${key} ${Object.entries(subs)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')}`;
}
