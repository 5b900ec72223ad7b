/**
 * What the store's CLI commands share: opening a store as the command line (lock owner, audit
 * actor), starting an engine only when a command needs one, parsing options, and turning errors
 * into one clear line and an exit code.
 */
import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { BackendChoice } from '../types';
import type { EnrolEngine, EnrolOptions } from './enrol';
import { isStoreError } from './errors';
import { FaceStore } from './face-store';

/** Exit codes of the store commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3 } as const;

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** `--help` or `-h` was given: {@link runCommand} prints the command's help, exit code 0. */
class HelpRequested extends Error {}

/** Who the CLI is, in the audit log. */
export function cliActor(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return `cli:${user}`;
}

/** Opens a store for a CLI command; a store held by Node-RED is refused with ESTORE_LOCKED. */
export function openCliStore(file: string, command: string): Promise<FaceStore> {
  return FaceStore.open({ file, actor: cliActor(), owner: `facewatch ${command} (command line)` });
}

/** An engine the CLI can close. */
export interface CliEngine extends EnrolEngine {
  readonly modelId: string;
  close(): Promise<void>;
}

/** Starts lib/vision's engine (loaded only here, so commands without photos never load TensorFlow). */
export async function startEngine(opts: { backend?: string; poolSize?: number } = {}): Promise<CliEngine> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { FaceEngine } = require('../vision/engine') as typeof import('../vision/engine');
  return FaceEngine.create({
    backend: (opts.backend as BackendChoice | undefined) ?? 'auto',
    poolSize: opts.poolSize ?? Math.min(2, os.availableParallelism?.() ?? os.cpus().length),
  });
}

/**
 * parseArgs with strict options and positionals; unknown options become a UsageError, and
 * `--help` ends the command with its help text.
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  const parsed = (() => {
    try {
      return parseArgs({
        args,
        options: { ...options, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  })();
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested();
  return parsed;
}

/** Opens a store for a command, runs `body` with it, and closes it whatever happens. */
export async function withStore<T>(
  file: string,
  command: string,
  body: (store: FaceStore) => Promise<T>,
): Promise<T> {
  const store = await openCliStore(file, command);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** Starts an engine, runs `body` with it, and stops it whatever happens. */
export async function withEngine<T>(
  opts: { backend?: string; poolSize?: number },
  body: (engine: CliEngine) => Promise<T>,
): Promise<T> {
  const engine = await startEngine(opts);
  try {
    return await body(engine);
  } finally {
    await engine.close();
  }
}

/**
 * Runs `each` for every file in turn. A file that fails prints `{file, error, code}` and the others
 * go on; resolves to the exit code (1 when any failed).
 */
export async function eachFile(
  files: string[],
  each: (file: string, index: number) => Promise<void>,
): Promise<number> {
  let failed = 0;
  for (const [i, file] of files.entries()) {
    try {
      await each(file, i);
    } catch (err) {
      failed++;
      const e = err as Error & { code?: string };
      printJson({ file, error: e.message, code: e.code ?? 'ERROR' });
    }
  }
  return failed ? EXIT.failed : EXIT.ok;
}

/** The duplicate and existing-id policies of `enrol` and `import`, checked. */
export function enrolPolicies(
  values: { 'on-duplicate'?: string; 'on-existing'?: string },
  existingDefault: EnrolOptions['existing'],
): Pick<EnrolOptions, 'duplicatePolicy' | 'existing'> {
  const duplicatePolicy = values['on-duplicate'] ?? 'refuse';
  const existing = values['on-existing'] ?? existingDefault;
  if (!['refuse', 'add-sample', 'allow'].includes(duplicatePolicy))
    throw new UsageError('--on-duplicate must be refuse, add-sample or allow');
  if (!['add-sample', 'update', 'refuse'].includes(existing))
    throw new UsageError('--on-existing must be add-sample, update or refuse');
  return {
    duplicatePolicy: duplicatePolicy as EnrolOptions['duplicatePolicy'],
    existing: existing as EnrolOptions['existing'],
  };
}

/** A number option, or the fallback; a non-number is a UsageError. */
export function numberOption(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not "${v}"`);
  return n;
}

/** One JSON line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/**
 * Runs a command body and maps failures to exit codes: usage errors print the usage (2), a locked
 * store says who holds it (3), everything else prints its message (1).
 */
export async function runCommand(name: string, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(usage + '\n');
      return EXIT.ok;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`facewatch ${name}: ${err.message}\n${usage}\n`);
      return EXIT.usage;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`facewatch ${name}: ${msg}\n`);
    return isStoreError(err, 'ESTORE_LOCKED') ? EXIT.locked : EXIT.failed;
  }
}
