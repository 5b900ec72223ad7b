/**
 * Engines shared by key and counted by their users: every face-detect and face-register node and
 * admin route naming the same face-engine config node uses one pool, and nodes that name none share
 * the default engine. The last release closes the engine. The counting itself is the generic
 * {@link ResourceOwner}'s.
 */
import { ResourceOwner, type Lease, type StateChange } from '../shared/owner';
import { FaceEngine, type EngineConfig } from './engine';
import type { WorkerStats } from './pool';

export type { EngineConfig } from './engine';
export type { WorkerStats } from './pool';

/** The workers' figures of one engine of a registry. */
export interface EngineWorkerStats {
  key: string;
  backend: string;
  workers: WorkerStats[];
}

/** The key of the engine shared by every node that names no face-engine config node. */
export const DEFAULT_ENGINE_KEY = 'facewatch:default';

/** A user's hold on a shared engine (`resource`); the last release closes it. */
export type EngineLease = Lease<FaceEngine>;

/**
 * Shared engines by key. The config of the first user of a key creates the engine; later users of
 * the same key get that engine whatever config they pass (a config node re-deployed with new
 * settings releases its engine, then acquires a new one, which waits for the old pool to stop).
 */
export class EngineRegistry {
  /** The owner behind the registry: its `watch` reports each engine's state changes. */
  readonly owner = new ResourceOwner<FaceEngine>({ close: (engine) => engine.close() });

  /** Leases the engine of `key` for `user`, creating it from `config` if nobody holds it. */
  acquire(key: string, config: EngineConfig = {}, user = 'anonymous'): Promise<EngineLease> {
    return this.owner.acquire(key, user, () => FaceEngine.create(config));
  }

  /** Keys with a live engine. */
  keys(): string[] {
    return this.owner.keys();
  }

  /** How many users hold the engine of `key` (0 when none). */
  users(key: string): number {
    return this.owner.count(key);
  }

  /** Who holds the engine of `key`, one entry per lease. */
  holders(key: string): string[] {
    return this.owner.users(key);
  }

  /**
   * Tensors and memory of every worker of every open engine (see {@link FaceEngine.workerStats}),
   * for watching a long-running process: the soak reads them once a minute.
   */
  async workerStats(): Promise<EngineWorkerStats[]> {
    const out: EngineWorkerStats[] = [];
    for (const key of this.owner.keys()) {
      const engine = this.owner.resource(key);
      if (!engine || engine.isClosed) continue;
      out.push({ key, backend: engine.backend, workers: await engine.workerStats() });
    }
    return out;
  }

  /** Calls `listener` on each state change of the engine of `key`; returns the function that stops it. */
  watch(key: string, listener: (change: StateChange<FaceEngine>) => void): () => void {
    return this.owner.watch(key, listener);
  }
}

/** The process-wide registry used by the nodes, the admin routes and the CLI. */
export const engines = new EngineRegistry();

/** Acquires the shared engine of `key` from the process-wide registry (same key, same engine). */
export function acquireEngine(key: string, config: EngineConfig = {}, user?: string): Promise<EngineLease> {
  return engines.acquire(key, config, user);
}
