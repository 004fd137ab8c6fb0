import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BatchReader, BatchWriter, Codec } from '../../../src/runtime/codec.js';
import { DATASETS } from '../../../src/actors/job.js';
import {
  EdgeGenerator,
  expectedEvents,
  type EdgeEventId,
  type EdgeGeneratorOptions,
} from '../../../src/actors/sources/edge-generator.js';
import { DATASET_FIELDS, TIMESTAMP_FIELD } from '../../../src/actors/sources/structures.js';
import { SourceError } from '../../../src/actors/sources/errors.js';

const NOW = 1_764_000_000_000_000_000;

interface Written extends EdgeEventId {
  key: string;
  timestamp: number;
  event: Record<string, unknown>;
}

/** Runs the generator the way a source would: allocate per tick, one or more batches per dataset. */
function run(generator: EdgeGenerator, total: number, perTick: number, writer = new BatchWriter(generator.codec)): Written[] {
  const reader = new BatchReader(generator.codec);
  const out: Written[] = [];
  let now = NOW;
  for (let done = 0; done < total; done += perTick) {
    const counts = generator.allocate(Math.min(perTick, total - done));
    for (const dataset of DATASETS) {
      let left = counts[dataset];
      while (left > 0) {
        writer.begin(dataset);
        const added = generator.fillBatch(writer, dataset, left, now, 1_000_000);
        expect(added).toBeGreaterThan(0);
        left -= added;
        reader.reset(writer.finish());
        expect(reader.count).toBe(added);
        for (let i = 0; i < reader.count; i++) {
          const event = reader.decode(i) as Record<string, unknown>;
          out.push({ dataset, zoneId: event.ZoneID as number, rayId: event.RayID as string, key: reader.key(i), timestamp: reader.timestamp(i), event });
        }
      }
    }
    now += 1_000_000;
  }
  return out;
}

function identities(events: readonly EdgeEventId[]): EdgeEventId[] {
  return events.map(({ dataset, zoneId, rayId }) => ({ dataset, zoneId, rayId }));
}

/** Stream order: each dataset's events in order, datasets in DATASETS order (expectedEvents' order). */
function byStream(events: readonly EdgeEventId[]): EdgeEventId[] {
  return DATASETS.flatMap((d) => events.filter((e) => e.dataset === d));
}

describe('EdgeGenerator', () => {
  it('makes the same events from the same seed, and other events from another', () => {
    const a = run(new EdgeGenerator({ seed: 5, zones: 1000 }), 3000, 700);
    const b = run(new EdgeGenerator({ seed: 5, zones: 1000 }), 3000, 700);
    const c = run(new EdgeGenerator({ seed: 6, zones: 1000 }), 3000, 700);
    expect(b).toEqual(a);
    expect(identities(c)).not.toEqual(identities(a));
  });

  it('patches every event: key = String(ZoneID), timestamp = its time field, unique RayIDs over 100,000 events', () => {
    const generator = new EdgeGenerator({ seed: 1 });
    const events = run(generator, 100_000, 4096);
    expect(events).toHaveLength(100_000);
    const rays = new Set<string>();
    const problems: string[] = [];
    for (const e of events) {
      rays.add(e.rayId);
      if (!/^[0-9a-f]{16}$/.test(e.rayId)) problems.push(`ray ${e.rayId}`);
      if (e.key !== String(e.zoneId)) problems.push(`key ${e.key} for zone ${e.zoneId}`);
      if (!(Number.isInteger(e.zoneId) && e.zoneId >= 1 && e.zoneId <= 40_000)) problems.push(`zone ${e.zoneId}`);
      if (e.event[TIMESTAMP_FIELD[e.dataset]] !== e.timestamp) problems.push(`time ${String(e.event[TIMESTAMP_FIELD[e.dataset]])} vs ${e.timestamp}`);
      if (!(e.timestamp >= NOW && e.timestamp < NOW + 30_000_000)) problems.push(`timestamp ${e.timestamp}`);
      if (e.dataset === 'http_requests' && !((e.event.EdgeEndTimestamp as number) > e.timestamp)) problems.push('EdgeEndTimestamp not after start');
      if (Object.keys(e.event).join() !== DATASET_FIELDS[e.dataset].join()) problems.push(`fields of a ${e.dataset} event`);
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(rays.size).toBe(100_000);
  });

  it('recomputes exactly what fillBatch wrote with expectedEvents, from the seed and the counts alone', () => {
    const options: EdgeGeneratorOptions = { seed: 77, zones: 5000, zipfExponent: 1.2, mix: { http_requests: 3, firewall_events: 1 } };
    const generator = new EdgeGenerator(options);
    const written = run(generator, 20_000, 3333);
    expect(generator.produced).toEqual({
      http_requests: written.filter((e) => e.dataset === 'http_requests').length,
      firewall_events: written.filter((e) => e.dataset === 'firewall_events').length,
    });
    expect(expectedEvents(options, generator.produced)).toEqual(byStream(identities(written)));
  });

  it('gives the same streams however the events are cut into batches and ticks (property)', () => {
    const options = { seed: 3, zones: 500 };
    const reference = expectedEvents(options, { http_requests: 400, firewall_events: 100 });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1024, max: 40_000 }), (cuts, maxBytes) => {
        const generator = new EdgeGenerator(options);
        const writer = new BatchWriter(generator.codec, { maxBytes });
        const counts = { http_requests: 400, firewall_events: 100 };
        const out: EdgeEventId[] = [];
        const reader = new BatchReader(generator.codec);
        let cut = 0;
        for (const dataset of DATASETS) {
          let left = counts[dataset];
          while (left > 0) {
            writer.begin(dataset);
            const added = generator.fillBatch(writer, dataset, Math.min(left, cuts[cut++ % cuts.length]!), NOW);
            left -= added;
            reader.reset(writer.finish());
            for (let i = 0; i < reader.count; i++) {
              const e = reader.decode(i) as Record<string, unknown>;
              out.push({ dataset, zoneId: e.ZoneID as number, rayId: e.RayID as string });
            }
          }
        }
        expect(out).toEqual(reference);
      }),
      { numRuns: 25 },
    );
  });

  it('stops at a full batch, returns how many it added, and starts the next call with the event that did not fit', () => {
    const generator = new EdgeGenerator({ seed: 9 });
    const writer = new BatchWriter(generator.codec, { maxBytes: 8192 });
    writer.begin('http_requests');
    const first = generator.fillBatch(writer, 'http_requests', 1000, NOW);
    expect(first).toBeGreaterThan(5);
    expect(first).toBeLessThan(1000);
    writer.finish();
    writer.begin('http_requests');
    const second = generator.fillBatch(writer, 'http_requests', 1000, NOW);
    expect(generator.produced.http_requests).toBe(first + second);
    const reader = new BatchReader(generator.codec).reset(writer.finish());
    const firstOfSecond = reader.decode(0) as Record<string, unknown>;
    const expected = expectedEvents({ seed: 9 }, { http_requests: first + 1 });
    expect(firstOfSecond.RayID).toBe(expected[first]!.rayId);
  });

  it('nextEvent walks the same streams as fillBatch, following the mix', () => {
    const options = { seed: 21, zones: 300 };
    const generator = new EdgeGenerator(options);
    const codec = generator.codec;
    const events = Array.from({ length: 200 }, () => generator.nextEvent(NOW));
    for (const e of events) {
      const decoded = codec.decode(e.payload) as Record<string, unknown>;
      expect(decoded.ZoneID).toBe(e.zoneId);
      expect(decoded.RayID).toBe(e.rayId);
      expect(decoded[TIMESTAMP_FIELD[e.dataset]]).toBe(NOW);
      expect(e.key).toBe(String(e.zoneId));
    }
    expect(events.filter((e) => e.dataset === 'firewall_events')).toHaveLength(20);
    expect(byStream(identities(events))).toEqual(expectedEvents(options, generator.produced));
    // One firewall event in every ten, evenly: the 6th, 16th, ... (rounded shares, not random).
    const firewall = events.flatMap((e, i) => (e.dataset === 'firewall_events' ? [i] : []));
    expect(firewall).toEqual(Array.from({ length: 20 }, (_, k) => 5 + 10 * k));
  });

  it('sends the busiest zone its Zipf share of the traffic', () => {
    const generator = new EdgeGenerator({ seed: 4, zones: 40_000, zipfExponent: 1.1 });
    const ids = expectedEvents({ seed: 4 }, { http_requests: 200_000 });
    const top = ids.filter((e) => e.zoneId === generator.firstZoneId).length / ids.length;
    const p0 = generator.sampler.probability(0);
    expect(Math.abs(top - p0)).toBeLessThan(5 * Math.sqrt((p0 * (1 - p0)) / ids.length));
    // Every zone is generator.firstZoneId + rank.
    expect(ids.every((e) => e.zoneId >= 1 && e.zoneId <= 40_000)).toBe(true);
  });
});

describe('EdgeGenerator.allocate', () => {
  it('splits by the mix, exactly over a run however the totals are cut (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 30 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), (totals, wh, wf) => {
        fc.pre(wh + wf > 0);
        const mix = { http_requests: wh, firewall_events: wf };
        const cut = new EdgeGenerator({ zones: 10, templates: 1, mix });
        const sum = { http_requests: 0, firewall_events: 0 };
        for (const total of totals) {
          const counts = cut.allocate(total);
          expect(counts.http_requests + counts.firewall_events).toBe(total);
          sum.http_requests += counts.http_requests;
          sum.firewall_events += counts.firewall_events;
        }
        const all = totals.reduce((a, b) => a + b, 0);
        expect(new EdgeGenerator({ zones: 10, templates: 1, mix }).allocate(all)).toEqual(sum);
        expect(Math.abs(sum.http_requests - (all * wh) / (wh + wf))).toBeLessThanOrEqual(1);
        if (wf === 0) expect(sum.firewall_events).toBe(0);
      }),
    );
  });

  it('defaults to 90% http_requests and 10% firewall_events', () => {
    expect(new EdgeGenerator({ zones: 10, templates: 1 }).allocate(100_000)).toEqual({ http_requests: 90_000, firewall_events: 10_000 });
  });
});

describe('EdgeGenerator options and misuse', () => {
  it('refuses options out of range with the path and the value', () => {
    expect(() => new EdgeGenerator({ zones: 0 })).toThrow(/edge generator: zones must be an integer from 1 to \d+, got 0/);
    expect(() => new EdgeGenerator({ zones: 10, firstZoneId: 0xffffffff })).toThrow(/firstZoneId/);
    expect(() => new EdgeGenerator({ mix: { http_requests: 0, firewall_events: 0 } })).toThrow(/mix must be weights with a positive sum/);
    expect(() => new EdgeGenerator({ mix: { dns_logs: 1 } as never })).toThrow(/mix\.dns_logs/);
    expect(() => new EdgeGenerator({ mix: { http_requests: -1 } })).toThrow(/mix\.http_requests must be a finite number >= 0, got -1/);
    expect(() => new EdgeGenerator({ templates: 0 })).toThrow(SourceError);
    expect(() => new EdgeGenerator({ seed: 1.5 })).toThrow(/seed must be an integer from 0 to 4294967295, got 1.5/);
    expect(() => new EdgeGenerator({ seed: 2 ** 32 })).toThrow(/seed/);
  });

  it('refuses a writer begun for another dataset, or built on other structures', () => {
    const generator = new EdgeGenerator({ zones: 10, templates: 2 });
    const writer = new BatchWriter(generator.codec).begin('firewall_events');
    expect(() => generator.fillBatch(writer, 'http_requests', 1, NOW)).toThrow(/begun for dataset "firewall_events"/);
    const other = new BatchWriter(new Codec({ version: 1, structures: [['a']] })).begin('http_requests');
    expect(() => generator.fillBatch(other, 'http_requests', 1, NOW)).toThrow(/structures version/);
    expect(() => generator.fillBatch(new BatchWriter(generator.codec).begin('http_requests'), 'http_requests', -1, NOW)).toThrow(/count/);
    expect(generator.produced).toEqual({ http_requests: 0, firewall_events: 0 });
  });

  it('spreads timestamps over [nowNs, nowNs + spanNs)', () => {
    const generator = new EdgeGenerator({ zones: 10, templates: 2 });
    const writer = new BatchWriter(generator.codec).begin('http_requests');
    generator.fillBatch(writer, 'http_requests', 100, 1_000_000_000, 1_000_000);
    const reader = new BatchReader(generator.codec).reset(writer.finish());
    const times = Array.from({ length: reader.count }, (_, i) => reader.timestamp(i));
    expect(times[0]).toBe(1_000_000_000);
    expect(times[99]).toBe(1_000_990_000);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
  });
});
