/**
 * Where a worker thread's code comes from. Workers always load compiled JavaScript from dist/
 * (built by `npm run build`, which `npm ci`, `npm test`, `npm start` and every bench script run
 * first): Node 20 cannot run .ts, and a TypeScript loader in each worker cost ~250 ms of start-up
 * per worker on this machine against ~55 ms for plain JS, which restart latency cannot afford.
 *
 * Code running from source (vitest) names its worker modules by their .ts URL; this maps such a
 * URL to the compiled file, so tests, benchmarks and the CLI spawn the very same JS.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { relative, resolve, sep } from 'node:path';

const here = fileURLToPath(import.meta.url);
const compiled = here.includes(`${sep}dist${sep}src${sep}`);
/** The project root: two levels above src/runtime, three above dist/src/runtime. */
export const PROJECT_ROOT = resolve(here, compiled ? '../../../..' : '../../..');

export class WorkerModuleError extends Error {
  readonly code = 'ERR_WORKER_MODULE';
  constructor(message: string) {
    super(message);
    this.name = 'WorkerModuleError';
  }
}

/** Maps a module URL or path to the compiled JavaScript a worker can load. */
export function workerModuleUrl(module: string | URL): URL {
  const url = typeof module === 'string' && !module.startsWith('file:') ? pathToFileURL(resolve(module)) : new URL(module);
  const path = fileURLToPath(url);
  if (!path.endsWith('.ts')) return url;
  const rel = relative(PROJECT_ROOT, path);
  // Compiled code names its sibling modules by their source name too: they sit beside it as .js.
  if (rel.startsWith(`dist${sep}`)) return pathToFileURL(path.replace(/\.ts$/, '.js'));
  if (rel.startsWith('..')) {
    throw new WorkerModuleError(`worker module ${path} is TypeScript outside the project; compile it to JavaScript first`);
  }
  const target = resolve(PROJECT_ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
  if (!existsSync(target)) {
    throw new WorkerModuleError(`worker module ${path} has no compiled ${target}; run "npm run build"`);
  }
  return pathToFileURL(target);
}
