/**
 * `npm run bench [-- name...]`: runs each benchmark module bench/<name>.ts in turn.
 * Every module exports `run()`, measures FaceWatch against a baseline in the same run,
 * and writes bench/results/<name>.json. Arguments starting with `--` are the modules' own
 * (`npm run bench -- soak --minutes 10`). The soak runs only when named: it takes an hour.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

const ALL = ['detect', 'match', 'ingest', 'events', 'live', 'motion'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // A flag's value (`--minutes 10`) is not a benchmark's name either.
  const named = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && /^--[^=]+$/.test(args[i - 1])));
  const names = named.length ? named : ALL;
  for (const name of names) {
    const file = path.join(__dirname, `${name}.ts`);
    if (!existsSync(file)) throw new Error(`no benchmark named ${name}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as { run(): Promise<unknown> };
    process.stdout.write(`\n=== bench ${name}\n`);
    await mod.run();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
