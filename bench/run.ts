/**
 * `npm run bench [-- name...]`: runs each benchmark module bench/<name>.ts in turn.
 * Every module exports `run()`, measures FaceWatch against a baseline in the same run,
 * and writes bench/results/<name>.json.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

const ALL = ['detect', 'match', 'ingest', 'events', 'live', 'motion'];

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
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
