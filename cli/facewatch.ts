#!/usr/bin/env node
/**
 * The `facewatch` command line: a thin dispatcher over cli/commands/<name>.
 * Each command module exports `usage` (one line) and `run(args)`, resolving to the exit code.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface CommandModule {
  usage: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS = ['detect', 'enrol', 'import', 'export', 'reembed', 'delete', 'identify', 'visitors', 'eval'];

function load(name: string): CommandModule | undefined {
  const file = path.join(__dirname, 'commands', name + path.extname(__filename));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return existsSync(file) ? (require(file) as CommandModule) : undefined;
}

function help(): string {
  const lines = ['usage: facewatch <command> [options]', '', 'commands:'];
  for (const name of COMMANDS) {
    const mod = load(name);
    if (mod) lines.push(`  ${mod.usage}`);
  }
  lines.push('', 'Run `facewatch <command> --help` for the options of one command.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name ? 0 : 2;
  }
  const mod = COMMANDS.includes(name) ? load(name) : undefined;
  if (!mod) {
    process.stderr.write(`facewatch: unknown command "${name}"\n\n${help()}\n`);
    return 2;
  }
  return mod.run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`facewatch: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
