import type { FaceEngine } from '../../lib/vision/engine';
import {
  acquireEngine,
  DEFAULT_ENGINE_KEY,
  engines,
  type EngineConfig,
  type EngineLease,
} from '../../lib/vision/registry';
import { watchedUsers, type Provider, type ProviderUsers, type ResourceNode } from './provider';
import type { Node, NodeAPI } from './red';
import { optionalNumber } from './settings';

/** The runtime face of a face-engine config node, as the nodes that use it see it. */
export interface EngineProvider extends ResourceNode<FaceEngine> {
  /** Leases the engine of this config node for `user`; the last release stops its workers. */
  acquire(user?: string): Promise<EngineLease>;
}

/** Engine settings for nodes that name no face-engine: all defaults, tunable by environment. */
export function defaultEngineConfig(): EngineConfig {
  const pool = optionalNumber(process.env.FACEWATCH_POOL_SIZE);
  return { poolSize: pool !== undefined && Number.isInteger(pool) && pool > 0 ? pool : undefined };
}

let defaultUsers: ProviderUsers<FaceEngine> | undefined;

/**
 * The provider of the engine a node uses: its face-engine config node, or (for nodes naming none)
 * the users of the one default engine, which no config node owns. Undefined when the named
 * face-engine is not deployed (leaseEngine reports that).
 */
export function engineProvider(
  RED: NodeAPI,
  engineNodeId: string | undefined,
): Provider<FaceEngine> | undefined {
  if (engineNodeId) return (RED.nodes.getNode(engineNodeId) as EngineProvider | null) ?? undefined;
  // The default engine lives as long as the process's nodes use it: this one watcher never stops.
  defaultUsers ??= watchedUsers(engines.owner, DEFAULT_ENGINE_KEY).users;
  return defaultUsers;
}

/**
 * Leases the engine a node should use: its face-engine config node's, or the one default engine
 * every node without a face-engine shares. The lease names `user` (the node) as its holder.
 */
export function leaseEngine(
  RED: NodeAPI,
  engineNodeId: string | undefined,
  user?: Node,
): Promise<EngineLease> {
  if (engineNodeId) {
    const provider = RED.nodes.getNode(engineNodeId) as EngineProvider | null;
    if (!provider) return Promise.reject(new Error('the selected face-engine is not deployed'));
    return provider.acquire(user?.id);
  }
  return acquireEngine(DEFAULT_ENGINE_KEY, defaultEngineConfig(), user?.id);
}
