/**
 * The synthetic edge: events of many zones, Zipf-distributed, in both datasets, as batch payloads.
 *
 * Each dataset is a stream of its own: event n of a stream has a zone (a Zipf rank), a template
 * and a RayID that depend only on the seed, the dataset and n. So what a run produced is known
 * from how many events of each dataset it produced, however they were cut into batches or
 * interleaved, and `expectedEvents` recomputes it without a pipeline. Timestamps come from the
 * caller's clock and are not part of that promise.
 *
 * Cost per event: two draws for the zone (alias table), one for the template, a four-round
 * Feistel for the ray, up to 36 bytes patched and one copy of ~420 bytes into the batch. No encoding:
 * each dataset's templates are encoded once (event-template.ts). Measured on the shared 2-core
 * machine (1 s runs, 4096 events per tick, 90/10 mix, 40,000 zones): fillBatch 0.9-1.75 M events/s,
 * about half of it in BatchWriter.tryAdd; encoding each event with addEvent instead gave
 * 0.27-0.44 M/s, which alone would use up the pipeline's 400 k/s budget.
 *
 * Zones are `firstZoneId + rank`: zone firstZoneId is the busiest, as Zipf's rank 1. A zone's
 * routing key is String(ZoneID).
 */

import { Codec, type CodecStructures } from '../../runtime/codec.js';
import type { BatchWriter } from '../../runtime/batch-writer.js';
import { DATASETS, type Dataset } from '../job.js';
import { optionError, stateError } from './errors.js';
import { makeEdgeEvent } from './edge-events.js';
import { EventTemplate } from './event-template.js';
import { Random } from './prng.js';
import { RayIdPermutation, rayIdString, type RayBits } from './ray-id.js';
import { PIPELINE_STRUCTURES } from './structures.js';
import { MAX_ZIPF_RANKS, ZipfSampler } from './zipf-sampler.js';

export const DEFAULT_ZONES = 40_000;
export const DEFAULT_ZIPF_EXPONENT = 1.1;
/** 90% http_requests, 10% firewall_events. */
export const DEFAULT_MIX: { readonly [D in Dataset]: number } = { http_requests: 0.9, firewall_events: 0.1 };
export const DEFAULT_TEMPLATES = 64;
export const MAX_TEMPLATES = 4096;
const MAX_ZONE_ID = 0xffffffff;

export type DatasetCounts = { [D in Dataset]: number };

export interface EdgeGeneratorOptions {
  /** Distinct zones. Default 40,000. */
  zones?: number;
  /** Zipf exponent s: P(rank k) ∝ k^-s. Default 1.1. */
  zipfExponent?: number;
  /** Same seed, same events (zones, RayIDs, templates); a uint32. Default 1. */
  seed?: number;
  /** Weights of the datasets in `allocate` and `nextEvent` (normalized; 0 leaves one out). Default 9:1. */
  mix?: Partial<Record<Dataset, number>>;
  /** Templates per dataset. Default 64. */
  templates?: number;
  /** ZoneID of the busiest zone; the others follow. Default 1. */
  firstZoneId?: number;
  /** Structures to encode templates with: the pipeline's. Default PIPELINE_STRUCTURES. */
  structures?: CodecStructures;
}

/** What identifies a generated event, and what `expectedEvents` recomputes. */
export interface EdgeEventId {
  dataset: Dataset;
  zoneId: number;
  rayId: string;
}

export interface GeneratedEvent extends EdgeEventId {
  /** The routing key: String(zoneId). */
  key: string;
  /** The event time in unix ns (EdgeStartTimestamp, or Datetime): the batch timestamp. */
  timestamp: number;
  /** The event's msgpack bytes, a copy of its own. */
  payload: Uint8Array;
}

/** One dataset's event stream. */
interface Stream {
  readonly dataset: Dataset;
  readonly index: number;
  readonly random: Random;
  readonly templates: readonly EventTemplate[];
  /** Events committed so far: the serial of the next one. */
  serial: number;
  /** Whether the next event's zone and template are drawn (one was drawn but did not fit a batch). */
  drawn: boolean;
  rank: number;
  template: number;
}

export class EdgeGenerator {
  readonly zones: number;
  readonly seed: number;
  readonly firstZoneId: number;
  readonly codec: Codec;
  readonly sampler: ZipfSampler;
  /** The mix as cumulative fractions over DATASETS; the last is exactly 1. */
  private readonly cumulative: Float64Array;
  private readonly streams: readonly Stream[];
  private readonly rays: RayIdPermutation;
  private readonly ray: RayBits = { hi: 0, lo: 0 };
  /** Events handed out by `allocate` so far. */
  private allocated = 0;

  constructor(options: EdgeGeneratorOptions = {}) {
    const zones = options.zones ?? DEFAULT_ZONES;
    if (!Number.isInteger(zones) || zones < 1 || zones > MAX_ZIPF_RANKS) fail('zones', `an integer from 1 to ${MAX_ZIPF_RANKS}`, zones);
    const firstZoneId = options.firstZoneId ?? 1;
    const lastAllowed = MAX_ZONE_ID - zones + 1;
    if (!Number.isInteger(firstZoneId) || firstZoneId < 1 || firstZoneId > lastAllowed) {
      fail('firstZoneId', `an integer from 1 to ${lastAllowed} (zone ids are uint32)`, firstZoneId);
    }
    const seed = options.seed ?? 1;
    if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) fail('seed', 'an integer from 0 to 4294967295', seed);
    const templateCount = options.templates ?? DEFAULT_TEMPLATES;
    if (!Number.isInteger(templateCount) || templateCount < 1 || templateCount > MAX_TEMPLATES) {
      fail('templates', `an integer from 1 to ${MAX_TEMPLATES}`, templateCount);
    }
    this.zones = zones;
    this.seed = seed;
    this.firstZoneId = firstZoneId;
    this.cumulative = cumulativeMix(options.mix ?? DEFAULT_MIX);
    this.sampler = new ZipfSampler(zones, options.zipfExponent ?? DEFAULT_ZIPF_EXPONENT);
    this.codec = new Codec(options.structures ?? PIPELINE_STRUCTURES);
    this.rays = new RayIdPermutation(seed);
    this.streams = DATASETS.map((dataset, index) => {
      const contentRandom = new Random(seed, DATASETS.length + index);
      const templates: EventTemplate[] = [];
      for (let t = 0; t < templateCount; t++) {
        templates.push(new EventTemplate(this.codec, dataset, makeEdgeEvent(dataset, contentRandom, firstZoneId)));
      }
      return { dataset, index, random: new Random(seed, index), templates, serial: 0, drawn: false, rank: 0, template: 0 };
    });
  }

  /** Events of each dataset produced so far (added to a batch or returned by nextEvent). */
  get produced(): DatasetCounts {
    const out = {} as DatasetCounts;
    for (const stream of this.streams) out[stream.dataset] = stream.serial;
    return out;
  }

  /**
   * Splits `total` events between the datasets by the mix. Deterministic, and exact over a run: the
   * counts of all calls so far sum, per dataset, to the share of all events allocated rounded to
   * the nearest integer (off by at most one), whatever the totals of the single calls.
   */
  allocate(total: number): DatasetCounts {
    if (!Number.isSafeInteger(total) || total < 0) fail('allocate(total)', 'a non-negative safe integer', total);
    const before = this.allocated;
    const after = before + total;
    this.allocated = after;
    const out = {} as DatasetCounts;
    const last = DATASETS.length - 1;
    let below = 0;
    for (let d = 0; d <= last; d++) {
      const c = this.cumulative[d]!;
      const upTo = d === last ? total : Math.floor(after * c + 0.5) - Math.floor(before * c + 0.5);
      out[DATASETS[d]!] = upTo - below;
      below = upTo;
    }
    return out;
  }

  /**
   * Adds up to `count` new `dataset` events to `writer` (begun with that dataset, built on the same
   * structures), each with key String(ZoneID) and its event time as timestamp. Times are spread
   * evenly over [nowNs, nowNs + spanNs). Returns how many were added: fewer than `count` when the
   * batch is full. An event that did not fit is the first of the next call, so the stream is the
   * same however it is cut.
   */
  fillBatch(writer: BatchWriter, dataset: Dataset, count: number, nowNs: number, spanNs = 0): number {
    const stream = this.streamOf(dataset);
    if (writer.dataset !== dataset) throw stateError(`fillBatch(${dataset}) given a writer begun for dataset ${JSON.stringify(writer.dataset)}`);
    if (writer.codec.fingerprint !== this.codec.fingerprint || writer.codec.version !== this.codec.version) {
      throw stateError(
        `fillBatch given a writer whose codec has structures version ${writer.codec.version} (fingerprint ${writer.codec.fingerprint}); ` +
          `the generator's templates have version ${this.codec.version} (fingerprint ${this.codec.fingerprint})`,
      );
    }
    if (!Number.isSafeInteger(count) || count < 0) fail('fillBatch(count)', 'a non-negative safe integer', count);
    checkTime(nowNs, spanNs);
    let added = 0;
    for (; added < count; added++) {
      const timestamp = spanNs === 0 ? nowNs : nowNs + Math.floor((added * spanNs) / count);
      const template = this.prepare(stream, timestamp);
      // By number: the key's bytes are the zone's digits either way (BatchWriter.tryAddZone).
      if (!writer.tryAddZone(this.firstZoneId + stream.rank, timestamp, template.bytes)) break;
      this.commit(stream);
    }
    return added;
  }

  /** The next event of the mix (one `allocate(1)`), as bytes of its own. For tests and small sources. */
  nextEvent(nowNs = Date.now() * 1e6): GeneratedEvent {
    checkTime(nowNs, 0);
    const counts = this.allocate(1);
    const stream = this.streams.find((s) => counts[s.dataset] === 1)!;
    const template = this.prepare(stream, nowNs);
    const zoneId = this.firstZoneId + stream.rank;
    const event: GeneratedEvent = {
      dataset: stream.dataset,
      zoneId,
      rayId: rayIdString(this.ray),
      key: String(zoneId),
      timestamp: nowNs,
      payload: template.bytes.slice(),
    };
    this.commit(stream);
    return event;
  }

  /** The ZoneID of a Zipf rank (0-based). */
  zoneIdOf(rank: number): number {
    return this.firstZoneId + rank;
  }

  /** Advances `dataset`'s stream by `count` events without batching them; appends their identities to `out`. */
  advance(dataset: Dataset, count: number, out: EdgeEventId[] = []): EdgeEventId[] {
    const stream = this.streamOf(dataset);
    for (let i = 0; i < count; i++) {
      this.draw(stream);
      this.rays.bits(stream.serial * DATASETS.length + stream.index, this.ray);
      out.push({ dataset, zoneId: this.firstZoneId + stream.rank, rayId: rayIdString(this.ray) });
      this.commit(stream);
    }
    return out;
  }

  private streamOf(dataset: Dataset): Stream {
    const index = DATASETS.indexOf(dataset);
    const stream = this.streams[index];
    if (stream === undefined) throw stateError(`unknown dataset ${JSON.stringify(dataset)}; the edge generates ${DATASETS.join(', ')}`);
    return stream;
  }

  /** Draws the stream's next zone and template, unless drawn already. */
  private draw(stream: Stream): void {
    if (stream.drawn) return;
    stream.rank = this.sampler.sample(stream.random);
    stream.template = stream.random.below(stream.templates.length);
    stream.drawn = true;
  }

  /** Patches the stream's next event into its template and returns the template. */
  private prepare(stream: Stream, timestamp: number): EventTemplate {
    this.draw(stream);
    // Serials interleave the datasets, so no two events of one generator share a ray.
    this.rays.bits(stream.serial * DATASETS.length + stream.index, this.ray);
    const template = stream.templates[stream.template]!;
    template.patch(timestamp, this.firstZoneId + stream.rank, this.ray);
    return template;
  }

  private commit(stream: Stream): void {
    stream.drawn = false;
    stream.serial++;
  }

}

/**
 * The events a generator with `options` produced when it produced `counts` events of each dataset:
 * per dataset in DATASETS order, in stream order. Timestamps are the caller's clock, so not here.
 */
export function expectedEvents(options: EdgeGeneratorOptions, counts: Partial<DatasetCounts>): EdgeEventId[] {
  const generator = new EdgeGenerator({ ...options, templates: 1 });
  const out: EdgeEventId[] = [];
  for (const dataset of DATASETS) generator.advance(dataset, counts[dataset] ?? 0, out);
  return out;
}

function cumulativeMix(mix: Partial<Record<Dataset, number>>): Float64Array {
  if (typeof mix !== 'object' || mix === null) fail('mix', 'an object of dataset weights', mix);
  for (const key of Object.keys(mix)) {
    if (!(DATASETS as readonly string[]).includes(key)) fail(`mix.${key}`, `a dataset (${DATASETS.join(', ')})`, key);
  }
  let total = 0;
  const weights = DATASETS.map((dataset) => {
    const w = mix[dataset] ?? 0;
    if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) fail(`mix.${dataset}`, 'a finite number >= 0', w);
    total += w;
    return w;
  });
  if (!(total > 0)) fail('mix', 'weights with a positive sum', mix);
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let d = 0; d < weights.length; d++) {
    sum += weights[d]!;
    out[d] = sum / total;
  }
  out[weights.length - 1] = 1;
  return out;
}

function checkTime(nowNs: number, spanNs: number): void {
  if (!(typeof nowNs === 'number' && Number.isFinite(nowNs) && nowNs >= 0)) fail('nowNs', 'a finite number of unix ns >= 0', nowNs);
  if (!(typeof spanNs === 'number' && Number.isFinite(spanNs) && spanNs >= 0)) fail('spanNs', 'a finite number of ns >= 0', spanNs);
}

function fail(path: string, expected: string, got: unknown): never {
  throw optionError('edge generator', path, expected, got);
}
