/**
 * The project's import graph, read from the sources (TypeScript's pre-processor: no type checking):
 * every relative import, `import type` and `export … from` of lib/, nodes/, cli/, web/, bench/, test/
 * and scripts/, resolved to files. For the layering and cycle checks (test/unit/import-graph.test.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from './env';

const DIRS = ['lib', 'nodes', 'cli', 'web', 'bench', 'test', 'scripts'];
const SKIP = new Set(['node_modules', 'dist', 'results', 'fixtures', 'vendor']);

/** Every .ts, .mts and .mjs source under the project's own folders, relative to the root. */
export function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(path.join(ROOT, dir))) {
      if (SKIP.has(name)) continue;
      const rel = path.posix.join(dir, name);
      if (statSync(path.join(ROOT, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const d of DIRS) if (existsSync(path.join(ROOT, d))) walk(d);
  return out.sort();
}

/** The file a relative specifier of `from` names, or undefined when it is not one of ours. */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const stem = base.replace(/\.(js|mjs|ts)$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.mts`, `${stem}.mjs`, `${base}/index.ts`, `${stem}.d.mts`])
    if (existsSync(path.join(ROOT, c)) && statSync(path.join(ROOT, c)).isFile())
      // A .d.mts stands for the .mjs beside it.
      return c.endsWith('.d.mts') ? c.replace(/\.d\.mts$/, '.mjs') : c;
  return undefined;
}

export interface ImportEdge {
  from: string;
  to: string;
  /** The specifier as written. */
  spec: string;
}

/** Every import of every source: relative ones resolved to files, packages as written (`to` empty). */
export function importsOf(file: string): { local: ImportEdge[]; packages: string[] } {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const local: ImportEdge[] = [];
  const packages: string[] = [];
  for (const ref of info.importedFiles) {
    const to = resolve(file, ref.fileName);
    if (to) local.push({ from: file, to, spec: ref.fileName });
    else if (!ref.fileName.startsWith('.')) packages.push(ref.fileName);
  }
  return { local, packages };
}

/**
 * The cycles of the graph among `files`, each as the sorted files of one strongly connected
 * component. `importsFrom` gives a file's imports (the sources' own by default).
 */
export function cycles(
  files: string[],
  importsFrom: (file: string) => string[] = (f) => importsOf(f).local.map((e) => e.to),
): string[][] {
  const graph = new Map<string, string[]>();
  for (const f of files) graph.set(f, [...new Set(importsFrom(f))]);
  // Tarjan's strongly connected components; a component of more than one file, or a file importing
  // itself, holds a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const f of graph.keys()) if (!idx.has(f)) visit(f);
  return out;
}
