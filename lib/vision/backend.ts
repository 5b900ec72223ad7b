/**
 * Choosing the TensorFlow.js backend: a setting, else the FACEWATCH_BACKEND environment variable,
 * else `auto` (tfjs-node when it is installed and loads, else WASM, else the pure-JS cpu backend).
 */
import type { BackendChoice, BackendName } from '../types';
import { EngineError } from './errors';

/** Backends in the order `auto` tries them: fastest first. */
export const BACKEND_ORDER: readonly BackendName[] = ['tfjs-node', 'wasm', 'cpu'];

const CHOICES: readonly BackendChoice[] = ['auto', ...BACKEND_ORDER];

/** Where a worker runs. tfjs-node misbehaves in worker threads, so it gets child processes. */
export type Isolation = 'thread' | 'process';

function isChoice(value: string): value is BackendChoice {
  return (CHOICES as readonly string[]).includes(value);
}

/**
 * The backend choice in force: `setting` unless it is empty or `auto`, else FACEWATCH_BACKEND, else
 * `auto`. An unknown value is an error (INVALID_CONFIG) rather than a silent fallback.
 */
export function resolveBackendChoice(
  setting: BackendChoice | undefined,
  env: NodeJS.ProcessEnv = process.env,
): BackendChoice {
  if (setting && setting !== 'auto') {
    if (!isChoice(setting))
      throw new EngineError(
        'INVALID_CONFIG',
        `unknown backend "${String(setting)}": use ${CHOICES.join(', ')}`,
      );
    return setting;
  }
  const fromEnv = env.FACEWATCH_BACKEND?.trim();
  if (fromEnv) {
    if (!isChoice(fromEnv))
      throw new EngineError(
        'INVALID_CONFIG',
        `FACEWATCH_BACKEND="${fromEnv}" is not a backend: use ${CHOICES.join(', ')}`,
      );
    return fromEnv;
  }
  return 'auto';
}

/** Whether the tfjs-node package is installed (whether its native library loads is tried in a worker). */
export function tfjsNodeInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** The backends to try, in order, for a choice. A forced backend is tried alone. */
export function backendCandidates(choice: BackendChoice): BackendName[] {
  if (choice !== 'auto') return [choice];
  return BACKEND_ORDER.filter((b) => b !== 'tfjs-node' || tfjsNodeInstalled());
}

/** Where workers of a backend run unless told otherwise. */
export function defaultIsolation(backend: BackendName): Isolation {
  return backend === 'tfjs-node' ? 'process' : 'thread';
}
