/**
 * NDJSON and msgpack over HTTP, on the main thread: `POST /ingest/<dataset>` with a body of
 * events (http-body.ts says what a body may be), handed to the sink (`Pipeline.ingest`).
 *
 * Answers (JSON bodies; every refusal names its reason and values):
 *   200  {accepted, refused, reasons, messages?}: the body was read; some events may be refused
 *   400  nothing usable in the body (malformed msgpack, no valid line)
 *   404  another path, or a dataset that is not a name (NAME_PATTERN)
 *   405  /ingest/<dataset> with a method other than POST (Allow: POST)
 *   413  Content-Length or the body past maxBodyBytes, or more than maxEvents events
 *   415  a Content-Type that is neither NDJSON nor msgpack
 *   503  Retry-After: 1; maxInFlight requests are being ingested already (answered before a
 *        byte of the body is read), or the sink did not answer within ingestTimeoutMs, or failed
 *
 * Backpressure: a request holds an in-flight slot from its headers until the sink has answered
 * for its events, so the source holds at most maxInFlight bodies (maxInFlight × maxBodyBytes,
 * 16 × 16 MiB by default) and never queues a request: past the limit the client is told to come
 * back (503), which is where an HTTP client's retry and backoff belong. Sink calls go one at a
 * time (exclusiveSink), so a slot may be waiting for its turn; ingestTimeoutMs counts that wait.
 * A request whose sink call outlasts ingestTimeoutMs is answered 503 but keeps its slot until the
 * sink answers, and its events may still be delivered: the answer says so, since a client that
 * retries may send them twice (at-least-once).
 *
 * Ledger: what parseHttpBody refuses (malformed, oversized, unconfigured; a 413 or 415 body counts
 * as one entry) goes to `onRefused`; the sink counts its own refusals. 404, 405 and 503 are not
 * counted: no event was taken, and the client was told. A body cut off by its client is not
 * counted either: it was never received.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { NAME_PATTERN } from '../job.js';
import { optionError, stateError } from './errors.js';
import { BodyCollector, DEFAULT_MAX_BODY_BYTES, bodyFormatOf, parseHttpBody, tooLargeResult, type BodyReason, type HttpBodyOptions, type HttpBodyResult } from './http-body.js';
import { countInto, exclusiveSink, type IngestResult, type IngestSink, type OnRefused, boundPort, listenOn } from './ingest-sink.js';

export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_MAX_IN_FLIGHT = 16;
export const DEFAULT_HTTP_INGEST_TIMEOUT_MS = 30_000;
export const DEFAULT_HTTP_MAX_CONNECTIONS = 256;
/** Time for a whole request to arrive: 16 MiB at 280 KB/s. */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 60_000;
export const RETRY_AFTER_SECONDS = 1;

export interface HttpSourceOptions extends HttpBodyOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port (see `port` once listening). */
  port?: number;
  /** Requests being read or ingested at once; more are answered 503. Default 16. */
  maxInFlight?: number;
  /** How long a request waits for the sink before a 503. Default 30 s. */
  ingestTimeoutMs?: number;
  /** Connections open at once; more are closed as they come. Default 256. */
  maxConnections?: number;
  /** Time for a request's headers and body to arrive. Default 60 s. */
  requestTimeoutMs?: number;
  /** How long close() waits for requests in flight before closing their connections. Default ingestTimeoutMs. */
  closeTimeoutMs?: number;
  onRefused?: OnRefused;
  /** A sink failure (the request is answered 503). */
  onError?: (error: Error) => void;
}

export interface HttpSourceStats {
  requests: number;
  /** Answers by status code. */
  responses: Record<string, number>;
  /** Requests holding a slot now, and the most ever. */
  inFlight: number;
  peakInFlight: number;
  /** 503s for maxInFlight. */
  busy: number;
  /** 503s for a sink slower than ingestTimeoutMs. */
  timeouts: number;
  /** Body bytes read. */
  bytes: number;
  /** Events the sink accepted. */
  accepted: number;
  /** Refused events (or bodies) by reason: parseHttpBody's and the sink's. */
  refused: Record<string, number>;
  sinkFailures: number;
  /** Connections closed as they came, past maxConnections. */
  connectionsDropped: number;
}

const INGEST_PATH = /^\/ingest\/([^/]*)\/?$/;
const MAX_PORT = 65_535;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class HttpSource {
  readonly host: string;
  readonly maxInFlight: number;
  readonly ingestTimeoutMs: number;
  readonly maxBodyBytes: number;
  private readonly requestedPort: number;
  private readonly closeTimeoutMs: number;
  private readonly bodyOptions: HttpBodyOptions;
  private readonly server: Server;
  /** Requests holding a slot, each settling when it lets it go. */
  private readonly slots = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;
  private readonly tally: Omit<HttpSourceStats, 'inFlight' | 'responses' | 'refused'> = {
    requests: 0,
    peakInFlight: 0,
    busy: 0,
    timeouts: 0,
    bytes: 0,
    accepted: 0,
    sinkFailures: 0,
    connectionsDropped: 0,
  };
  private readonly responses: Record<string, number> = {};
  private readonly refused: Record<string, number> = {};

  private readonly sink: IngestSink;

  constructor(
    sink: IngestSink,
    private readonly options: HttpSourceOptions = {},
  ) {
    // One sink call at a time over every source of this sink (see exclusiveSink for why).
    this.sink = exclusiveSink(sink);
    this.host = options.host ?? DEFAULT_HTTP_HOST;
    this.requestedPort = checkInteger('port', options.port ?? 0, 0, MAX_PORT);
    this.maxInFlight = checkInteger('maxInFlight', options.maxInFlight ?? DEFAULT_HTTP_MAX_IN_FLIGHT, 1, 1 << 16);
    this.ingestTimeoutMs = checkInteger('ingestTimeoutMs', options.ingestTimeoutMs ?? DEFAULT_HTTP_INGEST_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    this.closeTimeoutMs = checkInteger('closeTimeoutMs', options.closeTimeoutMs ?? this.ingestTimeoutMs, 0, MAX_TIMEOUT_MS);
    const maxConnections = checkInteger('maxConnections', options.maxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS, 1, 1 << 20);
    const requestTimeout = checkInteger('requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.bodyOptions = { maxBodyBytes: this.maxBodyBytes, maxEvents: options.maxEvents, maxLineBytes: options.maxLineBytes };
    // Checks the body limits once, here, rather than on the first request.
    parseHttpBody({ dataset: 'http_requests', contentType: 'application/x-ndjson', body: new Uint8Array(0), receivedNs: 0 }, this.bodyOptions);
    this.server = createServer({ requestTimeout, headersTimeout: Math.min(requestTimeout, 60_000) }, (req, res) => this.handle(req, res));
    this.server.maxConnections = maxConnections;
    this.server.on('drop', () => this.tally.connectionsDropped++);
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.closing !== null) throw stateError('http source: listen() after close()');
    await listenOn(this.server, this.requestedPort, this.host);
    return this.port;
  }

  /** The bound port (the ephemeral one when port was 0). */
  get port(): number {
    const port = boundPort(this.server);
    if (port === null) throw stateError('http source: not listening');
    return port;
  }

  /**
   * Stops accepting, waits (up to closeTimeoutMs) for the requests in flight to be answered and
   * their sink calls to end, then closes every connection; resolves when the last is closed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.closeTimeoutMs)));
      await Promise.race([Promise.all(this.slots), deadline]);
      clearTimeout(timer);
      this.server.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  stats(): HttpSourceStats {
    return { ...this.tally, inFlight: this.slots.size, responses: { ...this.responses }, refused: { ...this.refused } };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.tally.requests++;
    try {
      this.route(req, res);
    } catch (error) {
      // Only a bug gets here: bad input is answered above. The request is answered all the same.
      this.reply(req, res, 500, { error: `internal error: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const match = INGEST_PATH.exec(path);
    if (match === null) return this.reply(req, res, 404, { error: `no such endpoint ${JSON.stringify(path)}: events go to POST /ingest/<dataset>` });
    const dataset = match[1]!;
    if (!NAME_PATTERN.test(dataset)) {
      return this.reply(req, res, 404, { error: `dataset ${JSON.stringify(dataset)} is not a valid name (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)` });
    }
    if (req.method !== 'POST') return this.reply(req, res, 405, { error: `${req.method ?? 'this method'} is not allowed on ${path}: use POST` }, { allow: 'POST' });
    if (this.closing !== null || this.slots.size >= this.maxInFlight) {
      this.tally.busy++;
      const why = this.closing !== null ? 'the source is closing' : `${this.slots.size} requests are being ingested, the most at once is ${this.maxInFlight}`;
      return this.reply(req, res, 503, { error: `busy: ${why}; retry after ${RETRY_AFTER_SECONDS} s` }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    }
    const contentType = req.headers['content-type'];
    if (bodyFormatOf(contentType) === null) {
      const result = parseHttpBody({ dataset, contentType, body: new Uint8Array(0), receivedNs: 0 }, this.bodyOptions);
      this.count(result);
      return this.answerRefused(req, res, result);
    }
    if (BodyCollector.refusesLength(req.headers['content-length'], this.maxBodyBytes)) {
      const result = tooLargeResult(contentType, this.maxBodyBytes);
      this.count(result);
      return this.answerRefused(req, res, result);
    }
    let release!: () => void;
    const slot = new Promise<void>((resolve) => (release = resolve));
    this.slots.add(slot);
    if (this.slots.size > this.tally.peakInFlight) this.tally.peakInFlight = this.slots.size;
    void slot.then(() => this.slots.delete(slot));
    this.receive(req, res, dataset, contentType, release);
  }

  /** Reads the body (up to maxBodyBytes), then parses and ingests it; calls `release` once done. */
  private receive(req: IncomingMessage, res: ServerResponse, dataset: string, contentType: string | undefined, release: () => void): void {
    const collector = new BodyCollector(this.maxBodyBytes);
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      release();
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      this.tally.bytes += chunk.length;
      if (collector.push(chunk)) return;
      // Past the limit: answer now, and keep the connection while the rest of the body is read
      // and let go (not buffered; bounded by requestTimeoutMs), so the client reads the 413
      // instead of a reset in the middle of its upload: answering with `connection: close` shut
      // the socket while the client still wrote, and it saw EPIPE before the answer now and then.
      const result = tooLargeResult(contentType, this.maxBodyBytes);
      this.count(result);
      this.answerRefused(req, res, result, true);
      settle();
    });
    req.on('end', () => {
      if (settled) return;
      void this.ingest(req, res, dataset, contentType, collector.body())
        .catch((error: unknown) => this.reply(req, res, 500, { error: `internal error: ${error instanceof Error ? error.message : String(error)}` }))
        .finally(settle);
    });
    // A client gone before its body ended: nothing was received, nothing is counted.
    req.on('close', () => {
      if (!req.complete) settle();
    });
    req.on('error', () => settle());
  }

  private async ingest(req: IncomingMessage, res: ServerResponse, dataset: string, contentType: string | undefined, body: Uint8Array): Promise<void> {
    const parsed = parseHttpBody({ dataset, contentType, body, receivedNs: Date.now() * 1e6 }, this.bodyOptions);
    this.count(parsed);
    if (parsed.status !== 200 || parsed.events.length === 0) return this.answerRefused(req, res, parsed);
    const events = parsed.events.map((e) => e.event);
    // exclusiveSink makes a sink that throws instead of rejecting a rejection too.
    const call = this.sink.ingest(dataset, events).then(
      (result) => {
        this.tally.accepted += result.accepted;
        for (const [reason, n] of Object.entries(result.reasons)) countInto(this.refused, reason, n);
        return result;
      },
      (error: unknown) => {
        this.tally.sinkFailures++;
        const failure = error instanceof Error ? error : new Error(String(error));
        this.options.onError?.(failure);
        return failure;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.ingestTimeoutMs)));
    const outcome: IngestResult | Error | 'timeout' = await Promise.race([call, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.tally.timeouts++;
      this.reply(req, res, 503, { error: `the pipeline did not take the ${events.length} events within ${this.ingestTimeoutMs} ms; they may still be delivered, so a retry may deliver them twice` }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
      // The slot stays taken until the sink answers: its events are still held.
      await call;
      return;
    }
    if (outcome instanceof Error) {
      this.reply(req, res, 503, { error: `the pipeline failed to take the events: ${outcome.message}` }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
      return;
    }
    const reasons: Record<string, number> = {};
    for (const [reason, n] of Object.entries(parsed.dropped)) countInto(reasons, reason, n);
    for (const [reason, n] of Object.entries(outcome.reasons)) countInto(reasons, reason, n);
    const refused = Object.values(reasons).reduce((a, b) => a + b, 0);
    this.reply(req, res, 200, { accepted: outcome.accepted, refused, reasons, ...(parsed.messages.length > 0 ? { messages: parsed.messages } : {}) });
  }

  /** Counts a body's refusals (parseHttpBody's, one entry for a 413 or 415 body). */
  private count(result: HttpBodyResult): void {
    for (const [reason, n] of Object.entries(result.dropped) as [BodyReason, number][]) {
      if (n === 0) continue;
      countInto(this.refused, reason, n);
      this.options.onRefused?.(reason, n);
    }
  }

  /** Answers a body with nothing to ingest (400, 413, 415, or 200 with no event); count() it first. */
  private answerRefused(req: IncomingMessage, res: ServerResponse, result: HttpBodyResult, drain = false): void {
    const reasons: Record<string, number> = {};
    for (const [reason, n] of Object.entries(result.dropped)) countInto(reasons, reason, n);
    const refused = Object.values(reasons).reduce((a, b) => a + b, 0);
    const answer = { accepted: 0, refused, reasons, messages: result.messages };
    this.reply(req, res, result.status, result.status === 200 ? answer : { error: result.messages[0] ?? `refused with ${result.status}`, ...answer }, {}, drain);
  }

  /** `drain`: the request's body is being read to its end (and let go): the connection may stay. */
  private reply(req: IncomingMessage, res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}, drain = false): void {
    if (res.headersSent || res.destroyed) return;
    countInto(this.responses, String(status), 1);
    const text = `${JSON.stringify(body)}\n`;
    const head: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers };
    // A body not read to its end (refused before reading it) is let go and the connection
    // closed after the answer, rather than read as the next request; one refused while reading
    // (`drain`) is read to its end and let go, so the connection may stay.
    if ((!req.complete && !drain) || this.closing !== null) head.connection = 'close';
    res.writeHead(status, head).end(text);
  }
}

function checkInteger(path: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw optionError('http source', path, `an integer from ${min} to ${max}`, value);
  return value;
}
