/**
 * The machine a benchmark ran on, as every bench/results/*.json records it, so that a result taken
 * on a busy or another machine can be told apart.
 */
import os from 'node:os';

/** Cores, CPU model, Node version and load average (1, 5, 15 minutes) now. */
export function machine(): { cpus: number; model: string | undefined; node: string; loadavg: number[] } {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() };
}
