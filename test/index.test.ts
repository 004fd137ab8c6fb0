import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { workerModuleUrl } from '../src/runtime/worker-module.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the README embedding example', () => {
  it('is in the README verbatim and runs', () => {
    for (const file of ['main.ts', 'counter.actor.ts']) {
      const source = readFileSync(new URL(`../examples/embedding/${file}`, import.meta.url), 'utf8');
      expect(readme).toContain(source.trim());
    }
    const main = fileURLToPath(workerModuleUrl(new URL('../examples/embedding/main.ts', import.meta.url)));
    const run = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toEqual({ label: 'demo', batches: 100, bytes: 790 });
  });
});

describe('the public API', () => {
  it('exports exactly what the README documents', () => {
    const documented = (name: string): boolean => new RegExp('`(new )?' + name + '\\b').test(readme);
    expect(Object.keys(api).filter((name) => !documented(name))).toEqual([]);
  });
});
