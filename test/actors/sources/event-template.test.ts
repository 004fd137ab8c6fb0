import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Codec } from '../../../src/runtime/codec.js';
import { DATASETS } from '../../../src/actors/job.js';
import { EventTemplate, TIME_FIELDS } from '../../../src/actors/sources/event-template.js';
import { makeEdgeEvent, makeHttpRequestsEvent } from '../../../src/actors/sources/edge-events.js';
import { Random } from '../../../src/actors/sources/prng.js';
import { rayIdString } from '../../../src/actors/sources/ray-id.js';
import { PIPELINE_STRUCTURES } from '../../../src/actors/sources/structures.js';
import { SourceError } from '../../../src/actors/sources/errors.js';

const codec = new Codec(PIPELINE_STRUCTURES);

describe('EventTemplate', () => {
  it('finds the patched fields where msgpack puts their values: 0xcb float64, 0xce uint32, 0xb0 fixstr', () => {
    for (const dataset of DATASETS) {
      const template = new EventTemplate(codec, dataset, makeEdgeEvent(dataset, new Random(1), 7));
      for (const offset of template.timeOffsets) expect(template.bytes[offset - 1]).toBe(0xcb);
      expect(template.bytes[template.zoneOffset - 1]).toBe(0xce);
      expect(template.bytes[template.rayOffset - 1]).toBe(0xb0);
      expect(template.timeOffsets).toHaveLength(TIME_FIELDS[dataset].length);
    }
  });

  it('decodes a patched copy as the template event with the new time, zone and ray (property)', () => {
    const zone = fc.integer({ min: 0, max: 0xffffffff });
    const time = fc.integer({ min: 0, max: 2 ** 62 });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    for (const dataset of DATASETS) {
      const event = makeEdgeEvent(dataset, new Random(11), 1);
      const template = new EventTemplate(codec, dataset, event);
      const fields = TIME_FIELDS[dataset];
      const deltas = fields.map((f) => (event[f as keyof typeof event] as number) - (event[fields[0] as keyof typeof event] as number));
      fc.assert(
        fc.property(time, zone, u32, u32, (t, zoneId, hi, lo) => {
          const ray = { hi, lo };
          template.patch(t, zoneId, ray);
          const decoded = codec.decode(template.bytes) as Record<string, unknown>;
          const expected: Record<string, unknown> = { ...event, ZoneID: zoneId, RayID: rayIdString(ray) };
          fields.forEach((f, i) => (expected[f] = t + deltas[i]!));
          expect(decoded).toEqual(expected);
          expect(Object.keys(decoded)).toEqual(Object.keys(event));
        }),
        { numRuns: 200 },
      );
    }
  });

  it('keeps each later time field at its template distance from the event time (EdgeEnd after EdgeStart)', () => {
    const event = makeHttpRequestsEvent(new Random(4), 1);
    const template = new EventTemplate(codec, 'http_requests', event);
    expect(template.timeDeltasNs[0]).toBe(0);
    expect(template.timeDeltasNs[1]).toBe((event.EdgeEndTimestamp as number) - (event.EdgeStartTimestamp as number));
    expect(template.timeDeltasNs[1]).toBeGreaterThan(0);
  });

  it('refuses a template whose sentinel bytes appear twice, or that lacks a patched field', () => {
    const event = makeEdgeEvent('http_requests', new Random(1), 1);
    // ParentRayID holding the ray sentinel: two places would match, and the template cannot tell which.
    const twice = { ...event, ParentRayID: '5e47be17ca5e7a1d' };
    expect(() => new EventTemplate(codec, 'http_requests', twice)).toThrow(/RayID sentinel appears twice/);
    const { ZoneID: _zone, ...noZone } = event;
    expect(() => new EventTemplate(codec, 'http_requests', noZone)).toThrow(SourceError);
    expect(() => new EventTemplate(codec, 'http_requests', { ...event, EdgeStartTimestamp: 'soon' })).toThrow(/EdgeStartTimestamp must be a finite number/);
  });
});
