/**
 * Runs one benchmark module, bench/<name>.ts, in this process: `node --import tsx bench/one.ts <name>
 * [--flags]`. bench/run.ts starts one such process per module (`npm run bench`). The process exits
 * once the module's `run()` is done, whatever it left running.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !/^[a-z]+$/.test(name)) throw new Error('usage: bench/one.ts <name> [--flags]');
  const file = path.join(__dirname, `${name}.ts`);
  if (!existsSync(file)) throw new Error(`no benchmark named ${name}`);
  // The module's own flags follow its name, as when it is run alone.
  process.argv.splice(2, 1);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { run(): Promise<unknown> };
  await mod.run();
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
