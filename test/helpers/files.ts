/** Looking into data folders, as the erasure tests do: which files still hold a name or an id. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Files under `dir` (recursively) whose bytes contain `needle`, like `grep -rlF`. */
export function filesContaining(dir: string, needle: string | Buffer): string[] {
  const bytes = Buffer.isBuffer(needle) ? needle : Buffer.from(needle);
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesContaining(full, bytes));
    else if (e.isFile() && readFileSync(full).includes(bytes)) out.push(full);
  }
  return out;
}
