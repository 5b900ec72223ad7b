/**
 * Engines shared by key and counted by their users: every face-detect and face-register node and
 * admin route naming the same face-engine config node uses one pool, and nodes that name none share
 * the default engine. The last release closes the engine.
 */
import { FaceEngine, type EngineConfig } from './engine';

export type { EngineConfig } from './engine';

/** The key of the engine shared by every node that names no face-engine config node. */
export const DEFAULT_ENGINE_KEY = 'facewatch:default';

/** A user's hold on a shared engine. */
export interface EngineLease {
  engine: FaceEngine;
  /** Gives the hold back; the last one closes the engine. Calling it twice is harmless. */
  release(): Promise<void>;
}

interface Entry {
  engine: Promise<FaceEngine>;
  users: number;
}

/**
 * Shared engines by key. The config of the first user of a key creates the engine; later users of
 * the same key get that engine whatever config they pass (a config node re-deployed with new
 * settings releases its engine, then acquires a new one).
 */
export class EngineRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Engines still closing, per key: a new engine of that key waits for it (one pool at a time). */
  private readonly closing = new Map<string, Promise<void>>();

  async acquire(key: string, config: EngineConfig = {}): Promise<EngineLease> {
    let entry = this.entries.get(key);
    if (!entry) {
      const previous = this.closing.get(key) ?? Promise.resolve();
      const created = previous.then(() => FaceEngine.create(config));
      entry = { engine: created, users: 0 };
      this.entries.set(key, entry);
      const own = entry;
      // A failed creation is forgotten, so the next acquire tries again.
      created.catch(() => {
        if (this.entries.get(key) === own) this.entries.delete(key);
      });
    }
    entry.users++;
    let engine: FaceEngine;
    try {
      engine = await entry.engine;
    } catch (err) {
      entry.users--;
      throw err;
    }
    let released = false;
    const holder = entry;
    return {
      engine,
      release: async () => {
        if (released) return;
        released = true;
        if (--holder.users > 0 || this.entries.get(key) !== holder) return;
        this.entries.delete(key);
        const done = engine.close().finally(() => {
          if (this.closing.get(key) === done) this.closing.delete(key);
        });
        this.closing.set(key, done);
        await done;
      },
    };
  }

  /** Keys with a live engine. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** How many users hold the engine of `key` (0 when none). */
  users(key: string): number {
    return this.entries.get(key)?.users ?? 0;
  }
}

/** The process-wide registry used by the nodes, the admin routes and the CLI. */
export const engines = new EngineRegistry();

/** Acquires the shared engine of `key` from the process-wide registry (same key, same engine). */
export function acquireEngine(key: string, config: EngineConfig = {}): Promise<EngineLease> {
  return engines.acquire(key, config);
}
