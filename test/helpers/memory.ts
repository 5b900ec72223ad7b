// Memory of a process as the kernel sees it (/proc), for the soak and the memory tests.

import { readFileSync } from 'node:fs';

const MB = 2 ** 20;

/**
 * The resident bytes of a process's mappings that are `sizes` long (to the next 4 MiB: V8 maps a
 * WASM memory in whole pages, a little over its size), each size matched once: which mapping holds
 * a WASM heap, found by its size, since nothing else tells its address.
 */
export function residentOfSize(pid: number, sizes: number[]): number {
  const left = [...sizes];
  let total = 0;
  let size = -1;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) {
      size = parseInt(range[2], 16) - parseInt(range[1], 16);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (!rss || size < 0) continue;
    const i = left.findIndex((h) => size >= h && size <= h + 4 * MB);
    if (i >= 0) {
      total += Number(rss[1]) * 1024;
      left.splice(i, 1);
    }
    size = -1;
  }
  return total;
}
