// Builds the package into dist/: tsc for the runtime (lib, nodes, cli), a type check of the editor
// scripts, one esbuild bundle per node's editor script, and the editor html Node-RED loads beside each
// node's js (script + form template), with the node's locales and the package's icons copied next to it,
// and the Face Library page (web/) into dist/web.
// A type error anywhere fails the build.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args) {
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`build: tsc ${args.join(' ')} failed`);
    process.exit(1);
  }
}

rmSync(dist, { recursive: true, force: true });
run(['-p', 'tsconfig.json']);
run(['-p', 'tsconfig.editor.json', '--noEmit']);
run(['-p', 'tsconfig.web.json', '--noEmit']);

const nodesDir = path.join(root, 'nodes');
// The node types: package.json's node-red.nodes (the list test/unit/defaults.test.ts checks
// against lib/types/node-types.ts); nodes/shared and nodes/library are not node types.
const types = Object.keys(
  JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))['node-red'].nodes,
);

for (const type of types) {
  const src = path.join(nodesDir, type);
  const out = path.join(dist, 'nodes', type);
  mkdirSync(out, { recursive: true });
  const editorEntry = path.join(src, 'editor', 'index.ts');
  const template = path.join(src, 'editor', 'template.html');
  if (!existsSync(editorEntry) || !existsSync(template)) {
    console.error(`build: ${type} needs editor/index.ts and editor/template.html`);
    process.exit(1);
  }
  const bundle = await build({
    entryPoints: [editorEntry],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    minify: false,
    legalComments: 'none',
    logLevel: 'error',
  });
  const script = bundle.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
  const html = [
    `<script type="text/javascript">\n${script}</script>`,
    `<script type="text/html" data-template-name="${type}">\n${readFileSync(template, 'utf8').trim()}\n</script>`,
    '',
  ].join('\n');
  writeFileSync(path.join(out, `${type}.html`), html);
  const locales = path.join(src, 'locales');
  if (existsSync(locales)) cpSync(locales, path.join(out, 'locales'), { recursive: true });
  // Node-RED looks for a module's icons only beside each node's js file: the top-level icons/
  // folder is copied next to every node.
  cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });
}

// The Face Library page (web/): its script bundled into one file (the page's CSP allows no inline
// script), beside its HTML shell and stylesheet; nodes/library/page.ts serves them.
const webOut = path.join(dist, 'web');
mkdirSync(webOut, { recursive: true });
await build({
  entryPoints: [path.join(root, 'web', 'src', 'main.ts')],
  outfile: path.join(webOut, 'app.js'),
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
});
for (const file of ['index.html', 'style.css']) cpSync(path.join(root, 'web', file), path.join(webOut, file));

const cli = path.join(dist, 'cli', 'facewatch.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
console.log(`build: ${types.length} node types built into dist/`);
