/**
 * An HTTP endpoint: each upload object is one POST, its body the object as it is (Content-Encoding:
 * gzip when compressed), Content-Type application/x-ndjson or text/csv. A 2xx acknowledges the
 * object, and only then does put() resolve. Network errors, timeouts, 5xx and 429 are retried as
 * retry-policy.ts decides; any other status rejects at once with ERR_DESTINATION_REJECTED carrying
 * the status and the start of the response body.
 *
 * Each put() is one request at a time; the caller decides how many objects a job has in flight.
 * The destination owns an undici Agent (keep-alive connections to the endpoint), closed by close().
 */

import { Agent, request, type Dispatcher } from 'undici';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { LogpushError, configError, configProblem, destinationClosedError, messageOf, stagedElsewhereError } from '../errors.js';
import type { UploadObject } from '../upload-object.js';
import type { Destination } from './destination.js';
import { decideRetry, resolveRetryPolicy, type AttemptOutcome, type RetryPolicy } from './retry-policy.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
/** A request that takes ten minutes is a stalled request. */
export const MAX_HTTP_TIMEOUT_MS = 600_000;
/** How much of an error response's body goes into the error message. */
const ERROR_BODY_CHARS = 512;
/** A response body read beyond this is cut off: acks carry no data worth a megabyte. */
const DRAIN_BYTES = 64 * 1024;

/** Headers that frame the body or the connection: set by this destination and undici, never by a job. */
const RESERVED_HEADERS = new Set([
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'host',
  'te',
  'trailer',
  'expect',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface HttpDestinationOptions {
  readonly url: string;
  /** Extra request headers (Authorization, ...). */
  readonly headers?: Record<string, string>;
  /** Per request, from sending to the end of the response. Default 30 s. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Waits between attempts; must reject when `signal` aborts (close). Default: a timer. */
  readonly sleep?: Sleep;
  /** For the backoff's jitter. Default Math.random. */
  readonly random?: () => number;
  /** Wall clock in ms, for Retry-After dates. Default Date.now. */
  readonly now?: () => number;
  /** Where requests go; default an Agent of the destination's own, closed with it. */
  readonly dispatcher?: Dispatcher;
}

const defaultSleep: Sleep = async (ms, signal) => {
  await sleepFor(ms, undefined, { signal });
};

export class HttpDestination implements Destination {
  readonly url: URL;
  /** The URL as messages show it: no query string or credentials, which may hold secrets. */
  readonly shownUrl: string;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  private readonly headers: Record<string, string>;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly closing = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: HttpDestinationOptions, path = 'destination') {
    this.url = validateUrl(options.url, `${path}.url`);
    this.shownUrl = `${this.url.origin}${this.url.pathname}`;
    this.headers = validateHeaders(options.headers, `${path}.headers`);
    const timeoutMs: unknown = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_HTTP_TIMEOUT_MS) {
      throw configError(`${path}.timeoutMs`, `an integer number of milliseconds from 1 to ${MAX_HTTP_TIMEOUT_MS}`, timeoutMs);
    }
    this.timeoutMs = timeoutMs;
    this.retry = resolveRetryPolicy(options.retry, `${path}.retry`);
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent();
  }

  put(object: UploadObject): Promise<void> {
    if (this.closing.signal.aborted) return Promise.reject(destinationClosedError(`POST ${this.shownUrl}`));
    if (object.staged !== undefined) return Promise.reject(stagedElsewhereError(`POST ${this.shownUrl} (object ${object.seq} of job "${object.jobId}")`));
    const done = this.deliver(object);
    this.inFlight.add(done);
    const forget = (): void => {
      this.inFlight.delete(done);
    };
    done.then(forget, forget);
    return done;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.inFlight]);
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async deliver(object: UploadObject): Promise<void> {
    const what = `POST ${this.shownUrl} (object ${object.seq} of job "${object.jobId}", ${object.body.byteLength} bytes)`;
    const headers: Record<string, string> = { 'content-type': object.contentType, ...this.headers };
    if (object.compression === 'gzip') headers['content-encoding'] = 'gzip';
    let last = '';
    let lastStatus: number | undefined;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      if (this.closing.signal.aborted) throw destinationClosedError(what);
      const outcome = await this.attempt(object.body, headers);
      let snippet = '';
      if (outcome.kind === 'response') {
        lastStatus = outcome.status;
        snippet = outcome.snippet;
        last = `HTTP ${outcome.status}${snippet === '' ? '' : `: ${snippet}`}`;
      } else {
        if (this.closing.signal.aborted) throw destinationClosedError(what);
        lastError = outcome.error;
        last = outcome.timedOut ? `no response within ${this.timeoutMs} ms` : messageOf(outcome.error);
      }
      const decision = decideRetry(outcome, attempt, this.retry, this.random, this.now());
      if (decision.action === 'ack') return;
      if (decision.action === 'give-up') {
        if (decision.permanent) {
          throw new LogpushError('ERR_DESTINATION_REJECTED', `${what} was refused with ${last}; not retried`, { status: lastStatus, retryable: false });
        }
        throw new LogpushError('ERR_DESTINATION_UNAVAILABLE', `${what} failed ${attempt} times; last: ${last}`, {
          status: lastStatus,
          retryable: true,
          cause: lastError,
        });
      }
      try {
        await this.sleep(decision.delayMs, this.closing.signal);
      } catch (error) {
        if (this.closing.signal.aborted) throw destinationClosedError(what);
        throw error;
      }
    }
  }

  /** One POST; never throws: what happened comes back as an outcome for the retry policy. */
  private async attempt(
    body: Uint8Array,
    headers: Record<string, string>,
  ): Promise<(AttemptOutcome & { kind: 'response'; snippet: string }) | (AttemptOutcome & { kind: 'error'; timedOut: boolean })> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = AbortSignal.any([this.closing.signal, timeout]);
    try {
      const response = await request(this.url, { method: 'POST', headers, body, signal, dispatcher: this.dispatcher });
      const status = response.statusCode;
      // Read to the end (keeping the start of an error's body for the message), so the
      // connection is reused.
      const snippet = await drain(response.body, status >= 200 && status <= 299 ? 0 : ERROR_BODY_CHARS);
      const retryAfter = response.headers['retry-after'];
      return { kind: 'response', status, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, snippet };
    } catch (error) {
      return { kind: 'error', error, timedOut: timeout.aborted };
    }
  }
}

/**
 * Consumes a response body, keeping its first `keepChars` characters (whitespace folded). A body
 * past DRAIN_BYTES is cut off (undici then closes the connection instead of reusing it), and a
 * body that fails half way changes nothing: the status has arrived already.
 */
async function drain(body: AsyncIterable<Buffer | string>, keepChars: number): Promise<string> {
  let text = '';
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (text.length < keepChars) text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      if (total > DRAIN_BYTES) break;
    }
  } catch {
    // See above: the outcome is the status.
  }
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > keepChars ? `${flat.slice(0, keepChars)}…` : flat;
}

function validateUrl(input: unknown, path: string): URL {
  if (typeof input !== 'string') throw configError(path, 'an http or https URL', input);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw configError(path, 'an http or https URL', input);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError(path, 'an http or https URL', `${url.protocol}…`);
  if (url.username !== '' || url.password !== '') {
    throw configProblem(path, 'has credentials in it; give them as a header (destination.headers.Authorization) instead');
  }
  return url;
}

function validateHeaders(input: unknown, path: string): Record<string, string> {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw configError(path, 'an object of header names to strings', input);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    const at = `${path}[${JSON.stringify(name.slice(0, 64))}]`;
    if (!HEADER_NAME.test(name)) throw configProblem(at, 'is not a valid header name');
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw configProblem(at, 'is set by the destination itself and cannot be configured');
    if (typeof value !== 'string') throw configError(at, 'a string', value);
    // The value itself stays out of the message: headers carry tokens.
    if (HEADER_VALUE_FORBIDDEN.test(value)) throw configProblem(at, 'must be a string without CR, LF or NUL');
    headers[name.toLowerCase()] = value;
  }
  return headers;
}
