/**
 * Config providers: each regenerates Logfwdr's config periodically from one place (a file, an HTTP
 * endpoint, a function) and hands what it finds to `onEvent`, usually the config guard's handle().
 * A provider never judges a config; it tells apart "here is a candidate" (even a blank or broken
 * one), "nothing changed" and "no config could be had" (a missing file, a refused connection, a
 * 500, a timeout), because the guard treats them differently.
 */

import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { ProviderEvent } from './candidate.js';
import { tooLargeError } from './errors.js';
import { checkMs, createPoller, PROVIDER_DEFAULTS, reasonOf, type Provider, type ProviderOptions } from './poller.js';

export { PROVIDER_DEFAULTS, type Provider, type ProviderOptions } from './poller.js';

export interface FileProviderOptions extends ProviderOptions {
  /** Reread this long after the last change fs.watch reports. Default 100. */
  debounceMs?: number;
  /** Default 64 MiB. */
  maxBytes?: number;
  /** Watch the file's directory for changes between polls. Default true. */
  watch?: boolean;
}

/**
 * Rereads `path` every intervalMs, and soon after fs.watch reports a change. Writers should write
 * a new file and rename it over the old one: a file read while half written is a (refused) candidate.
 */
export function fileProvider(path: string, options: FileProviderOptions): Provider {
  const source = resolve(path);
  const name = basename(source);
  const debounceMs = checkMs('debounceMs', options.debounceMs, PROVIDER_DEFAULTS.debounceMs, 0);
  const maxBytes = checkBytes(options.maxBytes);
  // The file's identity and version as of the last read: an unchanged stat skips the read.
  let lastStat: string | undefined;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const unavailable = (reason: string, error?: unknown): ProviderEvent => {
    lastStat = undefined;
    return error === undefined ? { type: 'unavailable', source, reason } : { type: 'unavailable', source, reason, error };
  };

  const read = async (signal: AbortSignal, force: boolean): Promise<ProviderEvent> => {
    ensureWatch();
    let handle;
    try {
      handle = await open(source, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return unavailable(code === 'ENOENT' ? `no file at ${source}` : reasonOf(error), error);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return unavailable(`${source} is not a regular file`);
      const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
      if (!force && key === lastStat) return { type: 'unchanged', source };
      lastStat = key;
      if (stat.size > maxBytes) return tooLarge(source, stat.size, maxBytes);
      const bytes = await handle.readFile({ signal });
      // The file may have grown between the stat and the read.
      if (bytes.length > maxBytes) return tooLarge(source, bytes.length, maxBytes);
      return { type: 'candidate', candidate: { kind: 'text', source, text: bytes.toString('utf8') } };
    } finally {
      await handle.close();
    }
  };

  const poller = createPoller(source, read, options, {
    onStart: ensureWatch,
    onStop() {
      if (debounce !== undefined) clearTimeout(debounce);
      debounce = undefined;
      watcher?.close();
      watcher = undefined;
    },
  });

  function ensureWatch(): void {
    if (options.watch === false || watcher !== undefined || !poller.started) return;
    try {
      // The directory, not the file: a rename over the file replaces the inode a file watch would follow.
      // Not persistent, so the watcher never holds the process open.
      watcher = watch(dirname(source), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        if (debounce !== undefined) clearTimeout(debounce);
        debounce = setTimeout(() => {
          debounce = undefined;
          if (poller.started) void poller.refresh();
        }, debounceMs);
        debounce.unref();
      });
      watcher.on('error', () => {
        // A watched directory that goes away: polls go on, and the next one watches again.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      // No directory yet: polls go on, and the next one tries again.
      watcher = undefined;
    }
  }

  return poller;
}

export interface HttpProviderOptions extends ProviderOptions {
  /** For the whole request, body included. Default 10 000. */
  timeoutMs?: number;
  /** Default 64 MiB. */
  maxBytes?: number;
  /** Sent with each request (an authorization header, say). */
  headers?: Record<string, string>;
}

/**
 * Polls `url` with fetch. A 2xx body is a candidate; a 304 (the provider sends the last ETag or
 * Last-Modified) is "unchanged"; any other status, a network error or a timeout is "unavailable".
 */
export function httpProvider(url: string | URL, options: HttpProviderOptions): Provider {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new TypeError(`httpProvider needs an http: or https: URL, got ${target.protocol} (${target.origin})`);
  }
  // fetch refuses a URL with credentials in it: they become a Basic authorization header instead.
  const basic =
    target.username === '' && target.password === ''
      ? undefined
      : `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
  target.username = '';
  target.password = '';
  // Alerts and logs name the source: without credentials or a query string, which may hold tokens.
  const source = `${target.origin}${target.pathname}`;
  const timeoutMs = checkMs('timeoutMs', options.timeoutMs, PROVIDER_DEFAULTS.httpTimeoutMs);
  const maxBytes = checkBytes(options.maxBytes);
  let validators: { etag: string | null; lastModified: string | null } | undefined;

  const read = async (signal: AbortSignal, force: boolean): Promise<ProviderEvent> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers = new Headers(options.headers);
    if (basic !== undefined && !headers.has('authorization')) headers.set('authorization', basic);
    headers.set('accept', 'application/json, application/yaml;q=0.9, */*;q=0.1');
    if (!force && validators?.etag) headers.set('if-none-match', validators.etag);
    else if (!force && validators?.lastModified) headers.set('if-modified-since', validators.lastModified);
    try {
      const response = await fetch(target, { headers, signal: AbortSignal.any([signal, timeout]) });
      if (response.status === 304 && !force && validators !== undefined) {
        await response.body?.cancel();
        return { type: 'unchanged', source };
      }
      if (!response.ok) {
        await response.body?.cancel();
        validators = undefined;
        return { type: 'unavailable', source, reason: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}` };
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (declared > maxBytes) {
        await response.body?.cancel();
        return tooLarge(source, declared, maxBytes);
      }
      const body = await readLimited(response, maxBytes);
      if (typeof body === 'number') return tooLarge(source, body, maxBytes);
      validators = { etag: response.headers.get('etag'), lastModified: response.headers.get('last-modified') };
      return { type: 'candidate', candidate: { kind: 'text', source, text: body } };
    } catch (error) {
      validators = undefined;
      if (timeout.aborted && !signal.aborted) return { type: 'unavailable', source, reason: `no complete response within ${timeoutMs} ms`, error };
      throw error;
    }
  };

  return createPoller(source, read, options);
}

/** The body as text, or the number of bytes read when they passed `maxBytes` (the rest is not read). */
async function readLimited(response: Response, maxBytes: number): Promise<string | number> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return total;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

export interface FunctionProviderOptions extends ProviderOptions {
  /** How alerts name it. Default `function <name>`. */
  source?: string;
  /** A call still pending after this is "unavailable" (its signal is aborted). Default 30 000. */
  timeoutMs?: number;
}

/**
 * Calls `fn` every intervalMs. A string it returns is config text (JSON or YAML); any other value
 * is a decoded document. A throw, a rejection or a timeout is "unavailable".
 */
export function functionProvider(fn: (signal: AbortSignal) => unknown, options: FunctionProviderOptions): Provider {
  const source = options.source ?? `function ${fn.name === '' ? '(anonymous)' : fn.name}`;
  const timeoutMs = checkMs('timeoutMs', options.timeoutMs, PROVIDER_DEFAULTS.functionTimeoutMs);

  const read = async (signal: AbortSignal): Promise<ProviderEvent> => {
    const call = new AbortController();
    const stop = (): void => call.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`no answer within ${timeoutMs} ms`);
        call.abort(error);
        reject(error);
      }, timeoutMs);
      timer.unref();
    });
    try {
      const value = await Promise.race([Promise.resolve().then(() => fn(call.signal)), timedOut]);
      const candidate = typeof value === 'string' ? { kind: 'text' as const, source, text: value } : { kind: 'value' as const, source, value };
      return { type: 'candidate', candidate };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
  };

  return createPoller(source, read, options);
}

function checkBytes(value: number | undefined): number {
  const bytes = value ?? PROVIDER_DEFAULTS.maxBytes;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${String(bytes)}`);
  return bytes;
}

/** A config that arrived but is too large to read: a candidate the guard refuses as too_large. */
function tooLarge(source: string, bytes: number, maxBytes: number): ProviderEvent {
  return { type: 'candidate', candidate: { kind: 'error', source, error: tooLargeError(source, '', 'bytes', bytes, maxBytes, 'maxBytes') } };
}
