/**
 * Realistic CDN request events for the benchmarks: the pipeline's own http_requests events
 * (src/actors/sources/edge-events.ts: 30 fields, about 1 KB as JSON), deterministic from a seed.
 */

import { makeHttpRequestsEvent } from '../../src/actors/sources/edge-events.js';
import { Random } from '../../src/actors/sources/prng.js';
import { HTTP_REQUESTS_FIELDS, type HttpRequestsEvent } from '../../src/actors/sources/structures.js';

/** The field order of every generated event: the record structure the codec is given (the pipeline's). */
export const HTTP_REQUEST_FIELDS = HTTP_REQUESTS_FIELDS;

export type HttpRequestEvent = HttpRequestsEvent;

/** `count` events from `seed`, over `zones` zones. */
export function makeHttpRequestEvents(count: number, seed = 1, zones = 1000): HttpRequestEvent[] {
  const random = new Random(seed);
  const out: HttpRequestEvent[] = [];
  for (let i = 0; i < count; i++) out.push(makeHttpRequestsEvent(random, random.int(1, zones)));
  return out;
}
