/** Runs the real `facewatch` command line from the sources, as the CLI tests do. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './env';

/** Runs `facewatch <args>`; resolves with exit code and output (never rejects on a non-zero exit). */
export function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'cli', 'facewatch.ts'), ...args],
      { cwd: ROOT, timeout: 180000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
