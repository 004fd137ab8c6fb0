/**
 * The codec benchmark's cells, by group, and the loop that measures them. Each group runs in a
 * worker of its own (run.ts), with one msgpackr configuration, as a pipeline stage does: measured in
 * one thread after the plain-map and inline-structure decoders had run there, the batch reader
 * decoded at ~420 k events/s instead of ~750 k, because msgpackr's module-level reader had gone
 * polymorphic over the configurations.
 */

import { Packr, Unpackr, isNativeAccelerationEnabled } from 'msgpackr';
import { BatchReader, BatchWriter, Codec } from '../../src/runtime/codec.js';
import { HTTP_REQUEST_FIELDS, type HttpRequestEvent } from './event.js';

export interface Plan {
  warmupMs: number;
  measureMs: number;
  /** Every cell runs once per round, rounds interleaved; a row keeps its best round. */
  rounds: number;
}

export interface Row {
  group: Group;
  op: 'encode' | 'decode' | 'batch';
  name: string;
  eventsPerSec: number | null;
  note: string;
}

/** A row to measure: `step` does some work and returns how many events it handled, or says why it cannot run. */
export interface Cell {
  op: Row['op'];
  name: string;
  note: string;
  step: (() => number) | string;
}

export const GROUPS = ['plain maps', 'records, inline structure', 'records, shared', 'JS decoder', 'batch codec'] as const;
export type Group = (typeof GROUPS)[number];

/** Events per batch in the per-batch-structures rows: a busy zone's batch, and a quiet one's. */
export const EVENTS_PER_SMALL_BATCH = [256, 16] as const;

const STRUCTURES = { version: 1, structures: [[...HTTP_REQUEST_FIELDS]] };

/** The shared-structures rows use the Codec's options, on a raw Packr/Unpackr. */
const sharedOptions = () => ({ useRecords: true, structures: [[...HTTP_REQUEST_FIELDS]], maxSharedStructures: 1, mapsAsObjects: true });

/** Events per second of each cell over `ms` milliseconds (null for a cell that cannot run). */
export function measureRound(cells: readonly Cell[], ms: number): (number | null)[] {
  return cells.map((c) => (typeof c.step === 'string' ? null : rate(ms, c.step)));
}

export function cellsOf(group: Group, events: readonly HttpRequestEvent[], bytes: Record<string, number>): Cell[] {
  switch (group) {
    case 'plain maps':
      return formatCells(group, new Packr({ useRecords: false }), () => new Unpackr({ useRecords: false }), events, bytes);
    case 'records, inline structure':
      return formatCells(group, new Packr({ useRecords: true }), () => new Unpackr({ useRecords: true, mapsAsObjects: true }), events, bytes);
    case 'records, shared':
      return [...formatCells(group, new Packr(sharedOptions()), () => new Unpackr(sharedOptions()), events, bytes), ...structureCells(events)];
    case 'JS decoder':
      return jsDecoderCells(events);
    case 'batch codec':
      return batchCells(events, bytes);
    default:
      throw new Error(`unknown bench group ${JSON.stringify(group)}`);
  }
}

/** Events per second of `step` over `ms` milliseconds. */
function rate(ms: number, step: () => number): number {
  const start = performance.now();
  let events = 0;
  let now = start;
  while (now - start < ms) {
    events += step();
    now = performance.now();
  }
  return (events / (now - start)) * 1000;
}

/** Every event encoded into one buffer, with each one's end. */
interface Encoded {
  bytes: Uint8Array;
  ends: number[];
}

function concatenated(packr: Packr, events: readonly HttpRequestEvent[], shared: boolean): Encoded {
  const parts = events.map((e) => Uint8Array.from(packr.pack(e)));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const bytes = new Uint8Array(shared ? new SharedArrayBuffer(total) : new ArrayBuffer(total));
  const ends: number[] = [];
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
    ends.push(at);
  }
  return { bytes, ends };
}

/**
 * Decodes 256 events from `src` round-robin, with a new Unpackr every `perUnpackr` events when
 * asked (structures installed per batch). The error message instead when decoding throws.
 */
function decodeStep(unpackr: () => Unpackr, src: Encoded, perUnpackr = Infinity): (() => number) | string {
  const chunk = 256;
  let i = 0;
  let sink = 0;
  let current = unpackr();
  let used = 0;
  const range = { start: 0, end: 0 };
  const step = (): number => {
    for (let k = 0; k < chunk; k++) {
      if (used++ === perUnpackr) {
        current = unpackr();
        used = 1;
      }
      range.start = i === 0 ? 0 : src.ends[i - 1]!;
      range.end = src.ends[i]!;
      sink += (current.unpack(src.bytes, range) as HttpRequestEvent).EdgeResponseStatus as number;
      i = i + 1 === src.ends.length ? 0 : i + 1;
    }
    return chunk + (sink & 0);
  };
  try {
    step();
  } catch (error) {
    return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
  }
  return step;
}

function formatCells(group: Group, packr: Packr, unpackr: () => Unpackr, events: readonly HttpRequestEvent[], bytes: Record<string, number>): Cell[] {
  bytes[group] = avg(events.map((e) => packr.pack(e).length));
  let i = 0;
  const encode = (): number => {
    for (let k = 0; k < 256; k++) {
      packr.pack(events[i]!);
      i = i + 1 === events.length ? 0 : i + 1;
    }
    return 256;
  };
  return [
    { op: 'encode', name: group, note: `${bytes[group]!.toFixed(0)} B/event`, step: encode },
    { op: 'decode', name: `${group}, ArrayBuffer`, note: 'native extractor', step: decodeStep(unpackr, concatenated(packr, events, false)) },
  ];
}

/** The shared-structures alternatives: a structure block per batch, and decoding a SAB view directly. */
function structureCells(events: readonly HttpRequestEvent[]): Cell[] {
  const packr = new Packr(sharedOptions());
  return [
    // Structures carried per batch: the decoder installs each batch's block (a fresh Unpackr), so
    // msgpackr builds and compiles its record reader again for every batch.
    ...EVENTS_PER_SMALL_BATCH.map((perBatch) => ({
      op: 'decode' as const,
      name: `records, structures per batch of ${perBatch}`,
      note: `+${packr.pack([...HTTP_REQUEST_FIELDS]).length} B structure block per batch`,
      step: decodeStep(() => new Unpackr(sharedOptions()), concatenated(packr, events, false), perBatch),
    })),
    {
      op: 'decode',
      name: 'records, shared, SAB view',
      note: 'native extractor',
      step: decodeStep(() => new Unpackr(sharedOptions()), concatenated(packr, events, true)),
    },
  ];
}

/** Run where msgpackr was loaded without its native string extractor. */
function jsDecoderCells(events: readonly HttpRequestEvent[]): Cell[] {
  const packr = new Packr(sharedOptions());
  const note = isNativeAccelerationEnabled ? 'native extractor still on!' : 'msgpackr without its native extractor';
  return [false, true].map((shared) => ({
    op: 'decode' as const,
    name: `records, shared, ${shared ? 'SAB view' : 'ArrayBuffer'} (JS decoder)`,
    note,
    step: decodeStep(() => new Unpackr(sharedOptions()), concatenated(packr, events, shared)),
  }));
}

/** The batch codec: write, route, forward, read. */
function batchCells(events: readonly HttpRequestEvent[], bytes: Record<string, number>): Cell[] {
  const codec = new Codec(STRUCTURES);
  const writer = new BatchWriter(codec);
  const keys = events.map((e) => String(e.ZoneID));
  let next = 0;
  const fill = (): number => {
    writer.begin('http_requests');
    const from = next;
    for (;;) {
      const e = events[next % events.length]!;
      if (!writer.tryAddEvent(keys[next % events.length]!, e.EdgeStartTimestamp as number, e)) break;
      next++;
    }
    writer.finish();
    return next - from;
  };
  fill();
  const batch = Uint8Array.from(writer.finish());
  const inRing = new Uint8Array(new SharedArrayBuffer(batch.length + 64));
  inRing.set(batch, 64);
  const reader = new BatchReader(codec);
  const count = reader.reset(batch).count;
  bytes['batch: records, shared, with envelope'] = batch.length / count;
  const forward = new BatchWriter(codec);
  const readAll = (source: Uint8Array, at: number) => (): number => {
    reader.reset(source, at, batch.length);
    let sink = 0;
    for (let i = 0; i < reader.count; i++) sink += (reader.decode(i) as HttpRequestEvent).EdgeResponseStatus as number;
    return reader.count + (sink & 0);
  };
  return [
    { op: 'batch', name: 'BatchWriter.addEvent + finish (1 MiB batches)', note: `${count} events and ${reader.keyCount} keys per batch`, step: fill },
    {
      op: 'batch',
      name: 'BatchReader route: reset + keyIndex + timestamp',
      note: 'SAB; no payload decoded; the envelope is checked once per batch',
      step: () => {
        reader.reset(inRing, 64, batch.length);
        let sink = 0;
        for (let i = 0; i < reader.count; i++) sink += reader.keyIndex(i) + reader.timestamp(i);
        return reader.count + (sink & 0);
      },
    },
    {
      op: 'batch',
      name: 'BatchWriter.addFrom: forward every 2nd event',
      note: 'SAB; events read per second; payload bytes copied, not re-encoded',
      step: () => {
        reader.reset(inRing, 64, batch.length);
        forward.begin(reader.dataset);
        for (let i = 0; i < reader.count; i += 2) forward.addFrom(reader, i);
        forward.finish();
        return reader.count;
      },
    },
    { op: 'decode', name: 'BatchReader.decode, SAB (copy-out per batch)', note: 'reset, copy the payloads out once, decode each', step: readAll(inRing, 64) },
    { op: 'decode', name: 'BatchReader.decode, ArrayBuffer (in place)', note: 'reset, decode each', step: readAll(batch, 0) },
  ];
}

export function avg(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
