import {
  acquireEngine,
  DEFAULT_ENGINE_KEY,
  type EngineConfig,
  type EngineLease,
} from '../../lib/vision/registry';
import type { Node, NodeAPI } from './red';
import { optionalNumber } from './settings';

/** The runtime face of a face-engine config node, as the nodes that use it see it. */
export interface EngineProvider extends Node {
  /** Leases the engine of this config node; the last release stops its workers. */
  acquire(): Promise<EngineLease>;
}

/** Engine settings for nodes that name no face-engine: all defaults, tunable by environment. */
export function defaultEngineConfig(): EngineConfig {
  const pool = optionalNumber(process.env.FACEWATCH_POOL_SIZE);
  return { poolSize: pool !== undefined && Number.isInteger(pool) && pool > 0 ? pool : undefined };
}

/**
 * Leases the engine a node should use: its face-engine config node's, or the one default engine
 * every node without a face-engine shares.
 */
export function leaseEngine(RED: NodeAPI, engineNodeId: string | undefined): Promise<EngineLease> {
  if (engineNodeId) {
    const provider = RED.nodes.getNode(engineNodeId) as EngineProvider | null;
    if (!provider) return Promise.reject(new Error('the selected face-engine is not deployed'));
    return provider.acquire();
  }
  return acquireEngine(DEFAULT_ENGINE_KEY, defaultEngineConfig());
}
