/**
 * What every CLI command shares: parsing options (defaults and limits from lib/types/defaults.ts,
 * so --help texts and checks cannot drift from the nodes), opening a store as the command line
 * (lock owner, audit actor), starting an engine only when a command needs one, and turning errors
 * into one clear line and an exit code.
 */
import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { BackendChoice, DetectOptions } from '../lib/types';
import {
  describeChoice,
  describeLimit,
  ENGINE,
  ENROL,
  inLimit,
  isChoice,
  type ChoiceLimit,
  type NumberLimit,
} from '../lib/types/defaults';
import type { EnrolEngine, EnrolOptions } from '../lib/store/enrol';
import { isStoreError } from '../lib/store/errors';
import path from 'node:path';
import { closeStore, openStore, type StoreOpenOptions } from '../lib/events/store-events';
import { FaceStore } from '../lib/store/face-store';
import { pgConnection } from '../lib/store/pg/settings';
import type { OpenStore } from '../lib/store/types';

/** Exit codes of the store commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3 } as const;

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** A configuration that cannot work (no model files, no backend): printed alone, exit code 2. */
export class ConfigError extends Error {}

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

/** True for a `--store` that names a PostgreSQL database rather than a datafile. */
export function isPgStore(store: string): boolean {
  return /^postgres(ql)?:\/\//i.test(store.trim());
}

/**
 * How a command opens `--store`: a datafile, or `postgres://[user@]host[:port]/database[?schema=name]`
 * (the password from `PGPASSWORD`, as psql takes it, so that it is never on the command line; the
 * schema `facewatch` unless `schema=` says otherwise). Throws a UsageError for a URL that cannot work.
 */
export function cliStoreOptions(store: string, command: string): StoreOpenOptions {
  const owner = `facewatch ${command} (command line)`;
  if (!isPgStore(store)) return { file: store, actor: cliActor(), owner };
  let url: URL;
  try {
    url = new URL(store.trim());
  } catch {
    throw new UsageError('--store: not a postgres:// URL');
  }
  const schema = url.searchParams.get('schema') ?? '';
  url.searchParams.delete('schema');
  let c;
  try {
    c = pgConnection({ url: url.href, schema, poolSize: 2 });
  } catch (err) {
    throw new UsageError(`--store: ${(err as Error).message}`);
  }
  return {
    backend: 'postgres',
    connection: c.connection,
    schema: c.schema,
    shown: c.shown,
    instance: `${owner} on ${os.hostname()}`,
    actor: cliActor(),
    eventsFile: path.resolve('facewatch', `pg-${c.schema}-events`, 'events.db'),
  };
}

/**
 * Opens a store for a CLI command, with its detection log (so that a deletion erases the person's
 * events too, and an erasure an earlier run left pending is finished); a datafile held by Node-RED
 * is refused with ESTORE_LOCKED (a PostgreSQL store is shared by design). Close it with
 * {@link closeCliStore}.
 */
export function openCliStore(file: string, command: string): Promise<OpenStore> {
  return openStore(cliStoreOptions(file, command));
}

/** Opens a datafile store (the commands that work on a datafile only). */
export async function openCliDatafile(file: string, command: string): Promise<FaceStore> {
  if (isPgStore(file))
    throw new UsageError(
      `${command} works on a datafile store; for PostgreSQL: facewatch export it, ${command} the datafile, facewatch import it back`,
    );
  const store = await openStore(cliStoreOptions(file, command));
  if (!(store instanceof FaceStore)) throw new Error('not a datafile store');
  return store;
}

/** Closes a store opened by {@link openCliStore}. */
export function closeCliStore(store: OpenStore): Promise<void> {
  return closeStore(store);
}

/** An engine the CLI can close. */
export interface CliEngine extends EnrolEngine {
  readonly modelId: string;
  close(): Promise<void>;
}

/** How a command starts its engine. */
export interface CliEngineOptions {
  /** --backend as given (checked here); default auto. */
  backend?: string;
  poolSize?: number;
  modelPath?: string;
  /** Detection defaults of the engine. */
  defaults?: Partial<DetectOptions>;
}

/** An engine that can also detect with options of its own (lib/vision's FaceEngine). */
export type CliDetectEngine = CliEngine & import('../lib/vision/engine').FaceEngine;

/** Starts lib/vision's engine (loaded only here, so commands without photos never load TensorFlow). */
export async function startEngine(opts: CliEngineOptions = {}): Promise<CliDetectEngine> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { FaceEngine } = require('../lib/vision/engine') as typeof import('../lib/vision/engine');
  const backend: BackendChoice = choiceOption(opts.backend, 'backend', ENGINE.backend);
  try {
    return await FaceEngine.create({
      backend,
      poolSize: opts.poolSize ?? Math.min(2, os.availableParallelism?.() ?? os.cpus().length),
      modelPath: opts.modelPath,
      defaults: opts.defaults,
    });
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err), { cause: err });
  }
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
  body: (store: OpenStore) => Promise<T>,
): Promise<T> {
  const store = await openCliStore(file, command);
  try {
    return await body(store);
  } finally {
    await closeCliStore(store);
  }
}

/** Starts an engine, runs `body` with it, and stops it whatever happens. */
export async function withEngine<T>(
  opts: CliEngineOptions,
  body: (engine: CliDetectEngine) => Promise<T>,
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
  return {
    duplicatePolicy: choiceOption(values['on-duplicate'], 'on-duplicate', ENROL.duplicatePolicy),
    existing: choiceOption(values['on-existing'], 'on-existing', {
      ...ENROL.existing,
      default: existingDefault,
    }),
  };
}

/**
 * A number option: the limit's default (or `fallback`) when absent; not a number, or outside the
 * limit, is a UsageError naming what is accepted.
 */
export function numberOption(
  v: string | undefined,
  name: string,
  limit: NumberLimit,
  fallback?: number,
): number;
/** A number option without limits, or the fallback; a non-number is a UsageError. */
export function numberOption(v: string | undefined, name: string, fallback: number): number;
export function numberOption(
  v: string | undefined,
  name: string,
  limitOrFallback: NumberLimit | number,
  fallback?: number,
): number {
  const limit = typeof limitOrFallback === 'number' ? undefined : limitOrFallback;
  if (v === undefined)
    return typeof limitOrFallback === 'number' ? limitOrFallback : (fallback ?? limitOrFallback.default);
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not "${v}"`);
  if (limit && !inLimit(limit, n))
    throw new UsageError(`--${name} must be ${describeLimit(limit)}, not ${v}`);
  return n;
}

/** A number option that may be absent (undefined then); checked against its limit. */
export function optionalNumberOption(
  v: string | undefined,
  name: string,
  limit: NumberLimit,
): number | undefined {
  return v === undefined ? undefined : numberOption(v, name, limit);
}

/** A choice option: the default when absent, else one of the allowed values (a UsageError otherwise). */
export function choiceOption<T extends string>(
  v: string | undefined,
  name: string,
  limit: ChoiceLimit<T>,
): T {
  if (v === undefined) return limit.default;
  if (!isChoice(limit, v)) throw new UsageError(`--${name} must be ${describeChoice(limit)}, not "${v}"`);
  return v;
}

/** "(default 0.5)" for a help text, from the limit, so that the text follows the defaults module. */
export function defaultText(limit: NumberLimit | ChoiceLimit, off?: string): string {
  const d = limit.default;
  return off !== undefined && d === 0 ? `(default 0: ${off})` : `(default ${d})`;
}

/** "refuse (default), add-sample, allow" for a help text. */
export function choicesText(limit: ChoiceLimit): string {
  return limit.values.map((v) => (v === limit.default ? `${v} (default)` : v)).join(', ');
}

/** One JSON line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/**
 * Runs a command body and maps failures to exit codes: usage errors print the usage (2), an engine
 * that cannot start says why (2), a locked store says who holds it (3), everything else prints its
 * message (1).
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
    if (err instanceof ConfigError) {
      process.stderr.write(`facewatch ${name}: ${err.message}\n`);
      return EXIT.usage;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`facewatch ${name}: ${msg}\n`);
    return isStoreError(err, 'ESTORE_LOCKED') ? EXIT.locked : EXIT.failed;
  }
}
