/**
 * Reading node settings at run time: upgrading them to the current settings version and resolving
 * `${VAR}`s. Reading values against their limits is lib/types/settings-reader.ts (re-exported here);
 * a refused value is reported once, through node.warn, when the node starts.
 */
import type { FaceWatchNodeType } from '../../lib/types/defaults';
import { describeMigration, migrateSettings } from '../../lib/types/migrate';
import type { Warn } from '../../lib/types/settings-reader';
import type { Node, NodeAPI } from './red';

export { optionalNumber, SettingsReader, type Warn } from '../../lib/types/settings-reader';

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
