/** Looking into data folders, as the erasure tests do: which files still hold a name or an id. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** A file listed by the walk was gone when it was read (a datafile's temporary copy, renamed). */
class Vanished extends Error {}

function walk(dir: string, bytes: Buffer): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(full, bytes));
    else if (e.isFile()) {
      let content: Buffer;
      try {
        content = readFileSync(full);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Vanished(full);
        throw err;
      }
      if (content.includes(bytes)) out.push(full);
    }
  }
  return out;
}

/**
 * Files under `dir` (recursively) whose bytes contain `needle`, like `grep -rlF`. A file that
 * vanishes between the listing and its reading (NeDB's `events.db~` while it compacts, say) starts
 * the whole walk over, so what was renamed into its place is read too: nothing is skipped.
 */
export function filesContaining(dir: string, needle: string | Buffer): string[] {
  const bytes = Buffer.isBuffer(needle) ? needle : Buffer.from(needle);
  for (let attempt = 1; ; attempt++) {
    try {
      return walk(dir, bytes);
    } catch (err) {
      if (!(err instanceof Vanished) || attempt >= 20) throw err;
    }
  }
}
