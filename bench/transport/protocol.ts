/**
 * What main and the bench workers share: the control words, the coded messages, and the data each
 * worker boots with. Both sides import this file, so a code means the same thing on both.
 *
 * Control words, one Int32Array over a small SharedArrayBuffer per cell:
 *
 *   byte 0    ┌────────────────────────────────────────────────────────────────────┐
 *             │ PHASE i32    main → every thread: IDLE, WARMUP, MEASURE, STOP      │
 *   byte 128  ├────────────────────────────────────────────────────────────────────┤
 *             │ ACKED i32    consumer → producer: records consumed (postMessage)   │
 *   byte 256  ├────────────────────────────────────────────────────────────────────┤
 *             │ ACK_SLEEPING i32 │ ACK_SEQ i32   doorbell: producer waits for acks │
 *   byte 384  └────────────────────────────────────────────────────────────────────┘
 *
 * Each word the two sides write has a 128-byte line pair to itself, as in the ring's own layout, so
 * the ack traffic does not slow the phase reads down.
 */

import type { MessagePort } from 'node:worker_threads';

export const PHASE_OFFSET = 0;
export const ACKED_OFFSET = 128;
export const ACK_SLEEPING_OFFSET = 256;
export const ACK_SEQ_OFFSET = 260;
export const CONTROL_BYTES = 384;

export const PHASE_INDEX = PHASE_OFFSET >> 2;
export const ACKED_INDEX = ACKED_OFFSET >> 2;
export const ACK_SLEEPING_INDEX = ACK_SLEEPING_OFFSET >> 2;
export const ACK_SEQ_INDEX = ACK_SEQ_OFFSET >> 2;

/** The phases of one cell, in order; threads compare them with < and >=. */
export const PHASE_IDLE = 0;
export const PHASE_WARMUP = 1;
export const PHASE_MEASURE = 2;
export const PHASE_STOP = 3;

/** Messages from a worker to main. */
export const MSG_READY = 1;
export const MSG_CONSUMED = 2;
export const MSG_PRODUCED = 3;
export const MSG_ECHO_DONE = 4;

/** Messages from main to a worker. */
export const CMD_STOP = 101;

export function messageName(code: number): string {
  switch (code) {
    case MSG_READY:
      return 'ready';
    case MSG_CONSUMED:
      return 'consumed';
    case MSG_PRODUCED:
      return 'produced';
    case MSG_ECHO_DONE:
      return 'echo-done';
    case CMD_STOP:
      return 'stop';
    default:
      return `unknown message code ${code}`;
  }
}

export interface ReadyMessage {
  code: typeof MSG_READY;
}

/** The consumer's count over the measurement window, and what its checks found. */
export interface ConsumedMessage {
  code: typeof MSG_CONSUMED;
  records: number;
  elapsedMs: number;
  /** Records consumed over the whole cell, warm-up included. */
  totalRecords: number;
  errors: number;
  firstError: string;
}

export interface ProducedMessage {
  code: typeof MSG_PRODUCED;
  records: number;
}

export interface EchoDoneMessage {
  code: typeof MSG_ECHO_DONE;
  echoed: number;
  /** Sleeps on the doorbell that ended with a notify (the doorbell-wake run counts these). */
  woken: number;
}

export type WorkerMessage = ReadyMessage | ConsumedMessage | ProducedMessage | EchoDoneMessage;

export interface StopCommand {
  code: typeof CMD_STOP;
}

/** How a consumer worker receives its records. */
export type ConsumerTransport = 'ring' | 'fan-in' | 'port-copy' | 'port-transfer' | 'ringbuf.js';

export interface ConsumerData {
  transport: ConsumerTransport;
  /** Payload bytes of every record. */
  bytes: number;
  /** How many producers write (each stamps its own sequence, told apart by record type). */
  producers: number;
  checksum: boolean;
  control: SharedArrayBuffer;
  /** Seatbelt rings ('ring': one, 'fan-in': one per producer) or the ringbuf.js storage. */
  rings: SharedArrayBuffer[];
  /** The data port of the postMessage transports. */
  port: MessagePort | null;
}

export interface ProducerData {
  ring: SharedArrayBuffer;
  /** 0-based; the producer writes records of type `producer + 1`. */
  producer: number;
  bytes: number;
  control: SharedArrayBuffer;
}

export type EchoMode = 'ring' | 'ring-doorbell' | 'port';

export interface EchoData {
  mode: EchoMode;
  control: SharedArrayBuffer;
  /** main → worker ring and worker → main ring (ring modes). */
  ping: SharedArrayBuffer | null;
  pong: SharedArrayBuffer | null;
  port: MessagePort | null;
}

/** Records between two acks of a postMessage consumer. */
export const ACK_EVERY = 256;
/** Ring capacity for every bench ring: its largest record is capacity / 8 = 512 KiB. */
export const RING_CAPACITY = 4 * 1024 * 1024;

/**
 * Records a ring consumer reads between two releases (and two phase checks): at most 256, and at
 * most a sixteenth of the ring. Releasing only after a whole ring's worth (64 records of 64 KiB)
 * made producer and consumer take turns: the producer waited for the ring to drain, then the
 * consumer waited for it to refill (measured: 0.74 M records/s at 4 KiB with 256-record batches,
 * producer waits of 250 µs median).
 */
export function readBatch(recordBytes: number): number {
  return Math.max(1, Math.min(256, Math.floor(RING_CAPACITY / 16 / recordBytes)));
}
