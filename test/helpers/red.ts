/**
 * Typed access to node-red-node-test-helper, which runs flows in a real Node-RED runtime
 * (nodes, wires, Catch/Status/Complete nodes, the admin express app) without the editor.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { NODE_RED_DIR, ROOT } from './env';

export interface TestNode extends EventEmitter {
  id: string;
  type: string;
  receive(msg: Record<string, unknown>): void;
  error: (...args: unknown[]) => void;
  status: (s: unknown) => void;
}

interface SupertestLike {
  get(url: string): Promise<{ status: number; body: unknown; text: string }>;
  post(url: string): { send(body: unknown): Promise<{ status: number; body: unknown; text: string }> };
}

export interface Helper {
  init(redPath: string, settings?: Record<string, unknown>): void;
  settings(s: Record<string, unknown>): Record<string, unknown>;
  load(nodes: unknown, flow: object[], credentials?: object): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
  startServer(cb: () => void): void;
  stopServer(cb: () => void): void;
  request(): SupertestLike;
  clearFlows(): Promise<void>;
  /** The spy on Node-RED's log during the current flow: `.args` holds every call's arguments. */
  log(): { args: unknown[][] };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper = require('node-red-node-test-helper') as Helper;
helper.init(require.resolve(NODE_RED_DIR));

export function startServer(): Promise<void> {
  return new Promise((resolve) => helper.startServer(resolve));
}
export function stopServer(): Promise<void> {
  return new Promise((resolve) => helper.stopServer(resolve));
}

/** The built node module of a FaceWatch node type, as Node-RED loads it. */
export function builtNode(type: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(ROOT, 'dist', 'nodes', type, `${type}.js`));
}

/** Waits for the next `input` message a helper node receives. */
export async function nextMessage<T = Record<string, unknown>>(
  node: TestNode,
  timeoutMs = 30000,
): Promise<T> {
  const [msg] = await collect<T>(node, 1, timeoutMs);
  return msg;
}

/** Collects messages a helper node receives until `count` arrived. */
export function collect<T = Record<string, unknown>>(
  node: TestNode,
  count: number,
  timeoutMs = 30000,
): Promise<T[]> {
  const got: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${got.length}/${count} messages at ${node.id} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const on = (msg: T): void => {
      got.push(msg);
      if (got.length >= count) {
        clearTimeout(timer);
        node.off('input', on);
        resolve(got);
      }
    };
    node.on('input', on);
  });
}
