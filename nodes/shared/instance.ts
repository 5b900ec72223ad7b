import os from 'node:os';
import type { NodeAPI } from './red';

/**
 * This Node-RED's name among the instances that share a PostgreSQL store: recorded with its changes,
 * audit lines and events. `FACEWATCH_INSTANCE` when set, else `<host name>:<editor port>` (two
 * instances on one machine differ by port).
 */
export function instanceName(RED: NodeAPI): string {
  const given = process.env.FACEWATCH_INSTANCE?.trim();
  if (given) return given.slice(0, 100);
  const port = (RED.settings as { uiPort?: unknown }).uiPort;
  return `${os.hostname()}:${typeof port === 'number' || typeof port === 'string' ? port : 1880}`;
}
