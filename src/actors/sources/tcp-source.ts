/**
 * NDJSON over TCP, on the main thread: one listener, one dataset; each connection is split into
 * lines (ndjson.ts) and its events are handed to the sink (`Pipeline.ingest`) in batches.
 *
 * Backpressure, up to the client: while the sink has a batch of a connection (the pipeline waits
 * while Logfwdr's mailbox is full), that socket is paused. Node then stops reading it, the
 * kernel's receive window fills, and the client's writes stay in its own buffers: a slow pipeline
 * slows its clients instead of growing a queue here. Per connection the source holds at most the
 * events of one chunk (a socket read is at most 64 KiB) and the splitter's unfinished line (at most
 * maxLineBytes); across connections, maxConnections times that. Sink calls go one at a time over
 * all connections (exclusiveSink, which says why), in the order their chunks arrived.
 *
 * Closing: a client that half-closes (FIN) gets the source's FIN only after the sink has answered
 * for every line it sent, so a client that waits for the source's end knows its events reached the
 * pipeline or were refused and counted. A connection idle for idleTimeoutMs (no byte from the
 * client while the source is not waiting on the sink) is closed; so is every connection on
 * close(), after what was read from it went to the sink. An unfinished line at that point is
 * taken as the last line (and is likely refused as malformed: counted, not lost silently).
 *
 * Refusals: lines that are not JSON objects (`malformed`) or too long (`oversized`) never reach the
 * sink; `onRefused` reports them (point it at the ledger with `ledgerRefusals`). Events the sink
 * refuses (no ZoneID, bad timestamp) are counted by the sink. Both appear in stats().refused.
 * A sink that fails (throws) ends the connection with a reset, so the client sees that what it
 * sent may not have arrived; `onError` gets the error, and the events the connection held are
 * counted in stats().sinkFailedEvents (not in the ledger: how much of a failed call the pipeline
 * took is unknowable here).
 */

import { createServer, type Server, type Socket } from 'node:net';
import { optionError, stateError } from './errors.js';
import { checkDataset } from './ingest-event.js';
import { countInto, exclusiveSink, type IngestSink, type OnRefused, boundPort, listenOn } from './ingest-sink.js';
import { DEFAULT_MAX_LINE_BYTES, NdjsonSplitter, type NdjsonItem, type NdjsonReason } from './ndjson.js';

export const DEFAULT_TCP_HOST = '127.0.0.1';
export const DEFAULT_TCP_DATASET = 'http_requests';
export const DEFAULT_TCP_MAX_CONNECTIONS = 256;
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_TCP_BATCH_EVENTS = 1024;

export interface TcpSourceOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port (see `port` once listening). */
  port?: number;
  /** The dataset of every event on this listener. Default http_requests. */
  dataset?: string;
  /** Connections open at once; more are closed as they come. Default 256. */
  maxConnections?: number;
  /** A connection that sends nothing for this long is closed. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Longest line accepted, in bytes. Default 1 MiB. */
  maxLineBytes?: number;
  /** Most events in one sink call. Default 1024. */
  batchEvents?: number;
  onRefused?: OnRefused;
  /** A sink failure (the connection it happened on is reset). */
  onError?: (error: Error) => void;
}

export interface TcpSourceStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since the start. */
  connectionsTotal: number;
  /** Connections closed as they came: over maxConnections, or while closing. */
  connectionsRefused: number;
  /** Connections closed for idleness. */
  connectionsIdle: number;
  /** Lines read to their end, blank and refused ones included. */
  lines: number;
  bytes: number;
  /** Events the sink accepted. */
  accepted: number;
  /** Refused events by reason: the source's (malformed, oversized) and the sink's. */
  refused: Record<string, number>;
  /** Events read and not yet answered by the sink, over all connections. */
  pendingEvents: number;
  /** The most pendingEvents ever was. */
  peakPendingEvents: number;
  /** The largest chunk a socket read gave. */
  peakChunkBytes: number;
  sinkCalls: number;
  sinkFailures: number;
  /** Events of the batches whose sink call failed. */
  sinkFailedEvents: number;
}

interface Connection {
  readonly socket: Socket;
  readonly splitter: NdjsonSplitter;
  /** Events read and not yet given to the sink. */
  pending: unknown[];
  /** The loop handing `pending` to the sink, while it runs. */
  flushing: Promise<void> | null;
  readonly idle: NodeJS.Timeout;
  /** No more reading: the source is closing it, or its sink call failed. */
  closing: boolean;
  /** A sink call failed: the connection was reset, and what it still held is lost (and counted). */
  failed: boolean;
}

const MAX_PORT = 65_535;
/** Timers beyond this fire at once (Node clamps them to 1 ms). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class TcpSource {
  readonly host: string;
  readonly dataset: string;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly maxLineBytes: number;
  readonly batchEvents: number;
  private readonly requestedPort: number;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private closing: Promise<void> | null = null;
  /** Splitter counts of connections gone. */
  private readonly retired = { lines: 0 };
  private readonly tally: Omit<TcpSourceStats, 'connections' | 'lines' | 'refused'> = {
    connectionsTotal: 0,
    connectionsRefused: 0,
    connectionsIdle: 0,
    bytes: 0,
    accepted: 0,
    pendingEvents: 0,
    peakPendingEvents: 0,
    peakChunkBytes: 0,
    sinkCalls: 0,
    sinkFailures: 0,
    sinkFailedEvents: 0,
  };
  private readonly refused: Record<string, number> = {};

  private readonly sink: IngestSink;

  constructor(
    sink: IngestSink,
    private readonly options: TcpSourceOptions = {},
  ) {
    // One sink call at a time over every source of this sink (see exclusiveSink for why).
    this.sink = exclusiveSink(sink);
    this.host = options.host ?? DEFAULT_TCP_HOST;
    this.requestedPort = checkInteger('port', options.port ?? 0, 0, MAX_PORT);
    this.dataset = options.dataset ?? DEFAULT_TCP_DATASET;
    const datasetRefusal = checkDataset(this.dataset);
    if (datasetRefusal !== null) throw optionError('tcp source', 'dataset', `a dataset the pipeline carries (${datasetRefusal.message})`, this.dataset);
    this.maxConnections = checkInteger('maxConnections', options.maxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS, 1, 1 << 20);
    this.idleTimeoutMs = checkInteger('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.batchEvents = checkInteger('batchEvents', options.batchEvents ?? DEFAULT_TCP_BATCH_EVENTS, 1, 1 << 20);
    // Checks maxLineBytes once, here, rather than on the first connection.
    new NdjsonSplitter({ maxLineBytes: this.maxLineBytes });
    // allowHalfOpen: the source ends its side itself, after the sink has answered (see the top).
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.closing !== null) throw stateError('tcp source: listen() after close()');
    await listenOn(this.server, this.requestedPort, this.host);
    return this.port;
  }

  /** The bound port (the ephemeral one when port was 0). */
  get port(): number {
    const port = boundPort(this.server);
    if (port === null) throw stateError('tcp source: not listening');
    return port;
  }

  /**
   * Stops accepting, hands what was read from every connection to the sink, closes them all, and
   * resolves when the last is closed. Waits for sink calls in progress (Pipeline.ingest gives up
   * after its own timeout when Logfwdr's mailbox stays full).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all([...this.connections].map((c) => this.shut(c)));
      await closed;
    })();
    return this.closing;
  }

  stats(): TcpSourceStats {
    let lines = this.retired.lines;
    for (const c of this.connections) lines += c.splitter.counts.lines;
    return { connections: this.connections.size, lines, refused: { ...this.refused }, ...this.tally };
  }

  private accept(socket: Socket): void {
    // 'error' before 'close' (a reset by the peer) is an ordinary end here: 'close' follows.
    socket.on('error', () => {});
    if (this.closing !== null || this.connections.size >= this.maxConnections) {
      this.tally.connectionsRefused++;
      socket.destroy();
      return;
    }
    this.tally.connectionsTotal++;
    const conn: Connection = {
      socket,
      splitter: new NdjsonSplitter({ maxLineBytes: this.maxLineBytes }),
      pending: [],
      flushing: null,
      idle: setTimeout(() => this.onIdle(conn), this.idleTimeoutMs),
      closing: false,
      failed: false,
    };
    this.connections.add(conn);
    socket.on('data', (chunk: Buffer) => {
      conn.idle.refresh();
      this.tally.bytes += chunk.length;
      if (chunk.length > this.tally.peakChunkBytes) this.tally.peakChunkBytes = chunk.length;
      this.take(conn, conn.splitter.push(chunk));
    });
    socket.on('end', () => void this.onEnd(conn));
    socket.on('close', () => void this.onClose(conn));
  }

  /** Queues a chunk's events for the sink, pausing the socket until the sink has them all. */
  private take(conn: Connection, items: NdjsonItem[]): void {
    let malformed = 0;
    let oversized = 0;
    let events = 0;
    for (const item of items) {
      if (item.ok) {
        conn.pending.push(item.value);
        events++;
      } else if (item.reason === 'malformed') malformed++;
      else oversized++;
    }
    this.refuse('malformed', malformed);
    this.refuse('oversized', oversized);
    if (events === 0) return;
    if (conn.failed) {
      // The last line of a connection reset after a sink failure: lost with the rest.
      conn.pending = [];
      this.tally.sinkFailedEvents += events;
      return;
    }
    this.tally.pendingEvents += events;
    if (this.tally.pendingEvents > this.tally.peakPendingEvents) this.tally.peakPendingEvents = this.tally.pendingEvents;
    if (conn.flushing !== null) return;
    conn.socket.pause();
    conn.flushing = this.flush(conn);
  }

  private refuse(reason: NdjsonReason, n: number): void {
    if (n === 0) return;
    countInto(this.refused, reason, n);
    this.options.onRefused?.(reason, n);
  }

  /**
   * Hands `pending` to the sink, a batch at a time, until it is empty; then resumes the socket.
   * `flushing` is cleared right after the loop's last check, with no await between, so events
   * taken from then on start a flush of their own and none is left behind.
   */
  private async flush(conn: Connection): Promise<void> {
    while (conn.pending.length > 0) {
      const batch = conn.pending.splice(0, this.batchEvents);
      this.tally.sinkCalls++;
      try {
        const result = await this.sink.ingest(this.dataset, batch);
        this.tally.accepted += result.accepted;
        for (const [reason, n] of Object.entries(result.reasons)) countInto(this.refused, reason, n);
      } catch (error) {
        const lost = batch.length + conn.pending.length;
        this.tally.sinkFailures++;
        this.tally.sinkFailedEvents += lost;
        this.tally.pendingEvents -= lost;
        conn.pending = [];
        conn.closing = true;
        conn.failed = true;
        if (!conn.socket.destroyed) conn.socket.resetAndDestroy();
        this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this.tally.pendingEvents -= batch.length;
    }
    conn.flushing = null;
    if (!conn.closing) {
      conn.idle.refresh();
      conn.socket.resume();
    }
  }

  /** The client half-closed: its last line, then the source's FIN once the sink has answered. */
  private async onEnd(conn: Connection): Promise<void> {
    this.take(conn, conn.splitter.end());
    await conn.flushing;
    if (!conn.socket.destroyed) conn.socket.end();
  }

  private async onClose(conn: Connection): Promise<void> {
    conn.closing = true;
    clearTimeout(conn.idle);
    // A reset mid-line: that line is taken as it is, as on close().
    this.take(conn, conn.splitter.end());
    await conn.flushing;
    if (!this.connections.delete(conn)) return;
    this.retired.lines += conn.splitter.counts.lines;
  }

  private onIdle(conn: Connection): void {
    // Waiting on the sink is the source's doing, not the client's idleness.
    if (conn.flushing !== null) {
      conn.idle.refresh();
      return;
    }
    this.tally.connectionsIdle++;
    void this.shut(conn);
  }

  /** Stops reading, hands what was read to the sink, then closes the connection. */
  private async shut(conn: Connection): Promise<void> {
    conn.closing = true;
    clearTimeout(conn.idle);
    conn.socket.pause();
    this.take(conn, conn.splitter.end());
    await conn.flushing;
    if (conn.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      conn.socket.once('close', () => resolve());
      conn.socket.destroy();
    });
  }
}

function checkInteger(path: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw optionError('tcp source', path, `an integer from ${min} to ${max}`, value);
  return value;
}
