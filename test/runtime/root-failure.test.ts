import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workerModuleUrl } from '../../src/runtime/worker-module.js';

describe('an escalation reaching the root', () => {
  it('exits the process non-zero with a message naming the child and the causes', () => {
    const script = fileURLToPath(workerModuleUrl(new URL('./fixtures/root-failure.script.ts', import.meta.url)));
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('seatbelt: root supervisor "edge" failed');
    expect(run.stderr).toContain('child "parser"');
    expect(run.stderr).toContain('parser crashed on command');
  });
});
