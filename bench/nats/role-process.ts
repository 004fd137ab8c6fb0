/** Runs role.ts as a child process and reads its JSON lines (the NATS benchmark and tests). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { workerModuleUrl } from '../../src/runtime/worker-module.js';
import type { LedgerEntry, LedgerSnapshot } from '../../src/actors/ledger.js';

const SCRIPT = fileURLToPath(workerModuleUrl(new URL('./role.ts', import.meta.url)));

export interface Final {
  clean: boolean;
  ledger: LedgerSnapshot;
  totals: LedgerEntry;
  balanced: boolean;
  produced: Record<string, number> | null;
  buftee: Record<string, unknown>;
}

export interface RoleProcess {
  child: ChildProcess;
  /** The newest { stats } line. */
  latest(): { totals: LedgerEntry; buftee: Record<string, unknown>; sent: number | null } | null;
  ready: Promise<void>;
  final: Promise<Final>;
  stop(): Promise<Final>;
  stderr(): string;
}

export function startRole(args: object): RoleProcess {
  // The arguments go in a file: a thousand jobs do not fit a command line.
  const file = join(mkdtempSync(join(tmpdir(), 'seatbelt-role-')), 'args.json');
  writeFileSync(file, JSON.stringify(args));
  const child = spawn(process.execPath, [SCRIPT, file], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.on('exit', () => rmSync(dirname(file), { recursive: true, force: true }));
  let latest: ReturnType<RoleProcess['latest']> = null;
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  let onReady: () => void = () => {};
  let onFinal: (f: Final) => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const final = new Promise<Final>((resolve, reject) => {
    onFinal = resolve;
    child.on('exit', (code) => reject(new Error(`process exited with ${code} before its final line; stderr: ${err.slice(-3000)}`)));
  });
  final.catch(() => {});
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const o = JSON.parse(line) as { ready?: boolean; stats?: ReturnType<RoleProcess['latest']>; final?: Final };
    if (o.ready) onReady();
    if (o.stats) latest = o.stats;
    if (o.final) onFinal(o.final);
  });
  return {
    child,
    latest: () => latest,
    ready,
    final,
    stop() {
      child.stdin!.write('stop\n');
      return final;
    },
    stderr: () => err,
  };
}

/** Waits until `check` holds, polling every 100 ms; throws after `ms` with `what`. */
export async function until(check: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
