/** Runs the real `facewatch` command line from the sources, as the CLI tests do. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './env';

/** tsx's loader by its path, so that the command runs from any folder. */
const TSX = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/**
 * Runs `facewatch <args>` (in `cwd`, default the project: a command on a PostgreSQL store keeps its
 * outbox there); resolves with exit code and output (never rejects on a non-zero exit).
 */
export function cli(
  args: string[],
  cwd: string = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'cli', 'facewatch.ts'), ...args],
      { cwd, timeout: 180000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
