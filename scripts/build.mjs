// Compiles (overwriting in place, so a build running beside a test run never removes a file it
// loads) every TypeScript file of src/, test/, bench/ and examples/ to dist/ with esbuild, keeping the tree.
// Worker threads load this compiled JS (Node 20 cannot run .ts, and a TypeScript loader in each
// worker cost ~250 ms of start-up per worker here, against ~55 ms for plain JS).
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(rel));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const entryPoints = ['src', 'test', 'bench', 'examples'].flatMap(walk).map((f) => join(root, f));
await build({
  entryPoints,
  outdir: join(root, 'dist'),
  outbase: root,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
