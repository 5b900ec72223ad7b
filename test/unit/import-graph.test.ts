/**
 * The house's rules, read from the import graph of the sources (test/helpers/import-graph.ts): no
 * import cycle anywhere (type-only imports count: they are how a cycle starts), and the layering the
 * README's "Development" section describes: lib/ imports neither Node-RED nor the nodes; lib/types,
 * the editor scripts and the web page are isomorphic and read only the shared types; the benchmarks
 * and the CLI reach the domain through lib/, never through a node.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cycles, importsOf, sources } from '../helpers/import-graph';

const FILES = sources();
const edges = FILES.flatMap((f) => importsOf(f).local);
const packagesOf = (f: string): string[] => importsOf(f).packages;

/** The imports from `from` files that break `allowed`, as "from -> to". */
function breaking(from: (f: string) => boolean, allowed: (to: string) => boolean): string[] {
  return edges.filter((e) => from(e.from) && !allowed(e.to)).map((e) => `${e.from} -> ${e.to}`);
}

describe('the import graph', () => {
  it('is read: every source folder has files and imports', () => {
    for (const dir of ['lib/', 'nodes/', 'cli/', 'web/', 'bench/', 'test/'])
      assert.ok(
        FILES.some((f) => f.startsWith(dir)),
        `${dir} has sources`,
      );
    assert.ok(edges.length > 300, `${edges.length} relative imports found`);
    // The graph sees type-only imports and re-exports, and resolves folders and .mjs files.
    const has = (from: string, to: string): boolean => edges.some((e) => e.from === from && e.to === to);
    assert.ok(has('lib/store/face-store.ts', 'lib/store/types.ts'), 'a re-export is an edge');
    assert.ok(has('lib/types/defaults.ts', 'lib/types/detect.ts'), 'an import type is an edge');
    assert.ok(has('test/helpers/soak.ts', 'scripts/allocator.mjs'), 'an .mjs import is an edge');
  });

  it('finds every cycle where there is one, and none where there is none', () => {
    const graph: Record<string, string[]> = {
      a: ['b'],
      b: ['c', 'x'],
      c: ['a'],
      d: ['d'],
      e: ['a', 'f'],
      f: ['g'],
      g: [],
      x: [],
    };
    const found = cycles(Object.keys(graph), (f) => graph[f]);
    assert.deepEqual(found.sort(), [['a', 'b', 'c'], ['d']]);
    assert.deepEqual(
      cycles(['e', 'f', 'g', 'x'], (f) => graph[f]),
      [],
    );
  });

  it('has no cycle', () => {
    assert.deepEqual(cycles(FILES), []);
  });

  it('lib/ imports neither Node-RED nor anything outside lib/', () => {
    assert.deepEqual(
      breaking(
        (f) => f.startsWith('lib/'),
        (to) => to.startsWith('lib/'),
      ),
      [],
    );
    const red = FILES.filter((f) => f.startsWith('lib/')).filter((f) =>
      packagesOf(f).some((p) => p === 'node-red' || p.startsWith('@node-red/')),
    );
    assert.deepEqual(red, []);
  });

  it('lib/types, the editor scripts and the web page read only the shared types, and no package', () => {
    const isomorphic = (f: string): boolean =>
      f.startsWith('lib/types/') || f.startsWith('web/') || f.includes('/editor/');
    assert.deepEqual(
      breaking(
        (f) => f.startsWith('lib/types/'),
        (to) => to.startsWith('lib/types/'),
      ),
      [],
    );
    assert.deepEqual(
      breaking(
        (f) => f.startsWith('web/'),
        (to) => to.startsWith('web/') || to.startsWith('lib/types/'),
      ),
      [],
    );
    assert.deepEqual(
      breaking(
        (f) => f.includes('/editor/'),
        (to) => to.includes('/editor/') || to.startsWith('lib/types/'),
      ),
      [],
    );
    assert.deepEqual(
      FILES.filter(isomorphic).filter((f) => packagesOf(f).length > 0),
      [],
    );
  });

  it('the benchmarks and the CLI reach the domain through lib/, never through a node', () => {
    assert.deepEqual(
      breaking(
        (f) => f.startsWith('bench/') || f.startsWith('cli/'),
        (to) => !to.startsWith('nodes/'),
      ),
      [],
    );
    assert.deepEqual(
      breaking(
        (f) => f.startsWith('nodes/') || f.startsWith('cli/'),
        (to) => !/^(test|bench|scripts)\//.test(to),
      ),
      [],
    );
  });
});
