/**
 * bench/scale runs every measurement in a fresh Node process, so one's heap, workers and garbage
 * never weigh on the next, and a run that exhausts memory fails alone. A child prints its result
 * as one line starting with RESULT_PREFIX; everything else it writes passes through to stderr.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { workerModuleUrl } from '../../src/runtime/worker-module.js';

export const RESULT_PREFIX = 'SCALE_RESULT ';
/** A line naming what the child is doing now, so a failure can say where it happened. */
export const PHASE_PREFIX = 'SCALE_PHASE ';
const NATIVE_FRAME = /^\s*\d+: 0x[0-9a-f]+ /;

export type ChildOutcome<T> =
  | { ok: true; result: T; seconds: number }
  | { ok: false; error: string; seconds: number; exitCode: number | null; signal: string | null; timedOut: boolean };

export interface ChildOptions {
  /** Flags for node before the script (e.g. --expose-gc). */
  nodeArgs?: readonly string[];
  /** Killed (SIGKILL) after this long; reported as timed out. */
  timeoutMs: number;
}

/** Runs `dist/bench/scale/<script>.js args...` and resolves with its result line, or why there is none. */
export function runChild<T>(script: string, args: readonly string[], options: ChildOptions): Promise<ChildOutcome<T>> {
  const path = fileURLToPath(workerModuleUrl(new URL(`./${script}.ts`, import.meta.url)));
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let result: T | undefined;
    let phase: string | null = null;
    let pending = '';
    const tail: string[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
        else if (line.startsWith(PHASE_PREFIX)) phase = line.slice(PHASE_PREFIX.length);
        else process.stderr.write(`    ${line}\n`);
      }
    });
    child.stderr.setEncoding('utf8');
    let errPending = '';
    child.stderr.on('data', (chunk: string) => {
      errPending += chunk;
      let nl: number;
      while ((nl = errPending.indexOf('\n')) >= 0) {
        const line = errPending.slice(0, nl);
        errPending = errPending.slice(nl + 1);
        // V8's native stack of a fatal error says nothing a reader of the bench can use.
        if (NATIVE_FRAME.test(line)) continue;
        process.stderr.write(`${line}\n`);
        tail.push(line);
        while (tail.length > 40) tail.shift();
      }
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code === 0 && result !== undefined) {
        resolve({ ok: true, result, seconds });
        return;
      }
      if (errPending !== '') tail.push(errPending);
      // The fatal line when V8 gave up (out of memory), else the last few lines written.
      const fatal = tail.find((l) => l.startsWith('FATAL ERROR'));
      const lastLines = fatal ?? tail.filter((l) => l.trim() !== '' && !l.startsWith('----- ')).slice(-3).join(' | ');
      const why = timedOut
        ? `killed after ${Math.round(options.timeoutMs / 1000)} s (time limit)`
        : signal !== null
          ? `killed by ${signal}`
          : code === 0
            ? 'exited without a result'
            : `exited with code ${code}`;
      const where = phase === null ? '' : ` during ${phase}`;
      resolve({ ok: false, error: `${why}${where}${lastLines === '' ? '' : `: ${lastLines.slice(0, 400)}`}`, seconds, exitCode: code, signal, timedOut });
    });
  });
}
