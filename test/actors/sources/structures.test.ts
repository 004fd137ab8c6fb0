import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { Codec, validateStructures } from '../../../src/runtime/codec.js';
import { DATASETS } from '../../../src/actors/job.js';
import {
  DATASET_FIELDS,
  FIREWALL_EVENTS_FIELDS,
  HTTP_REQUESTS_FIELDS,
  PIPELINE_STRUCTURES,
  TIMESTAMP_FIELD,
} from '../../../src/actors/sources/structures.js';
import { makeEdgeEvent } from '../../../src/actors/sources/edge-events.js';
import { Random } from '../../../src/actors/sources/prng.js';

describe('PIPELINE_STRUCTURES', () => {
  it('is version 1 and passes the codec boundary check unchanged', () => {
    expect(PIPELINE_STRUCTURES.version).toBe(1);
    expect(validateStructures(PIPELINE_STRUCTURES)).toEqual(PIPELINE_STRUCTURES);
    expect(PIPELINE_STRUCTURES.structures).toEqual([HTTP_REQUESTS_FIELDS, FIREWALL_EVENTS_FIELDS]);
    expect(Object.isFrozen(PIPELINE_STRUCTURES)).toBe(true);
  });

  it('lists the Cloudflare http_requests fields the issue names, 30 of them', () => {
    const named = [
      'ClientIP', 'ClientRequestHost', 'ClientRequestMethod', 'ClientRequestURI', 'ClientRequestUserAgent', 'EdgeStartTimestamp',
      'EdgeEndTimestamp', 'EdgeResponseStatus', 'EdgeResponseBytes', 'ZoneID', 'RayID', 'CacheCacheStatus', 'ClientCountry',
      'ClientDeviceType', 'ClientRequestProtocol', 'ClientRequestReferer', 'ClientSSLProtocol', 'EdgeColoCode',
      'EdgeResponseContentType', 'OriginIP', 'OriginResponseStatus', 'OriginResponseTime', 'SecurityLevel', 'WAFAction',
      'WorkerSubrequest', 'ClientASN', 'ClientRequestBytes', 'ClientSrcPort', 'EdgeServerIP', 'ParentRayID',
    ];
    expect([...HTTP_REQUESTS_FIELDS].sort()).toEqual([...named].sort());
  });

  it('lists the Cloudflare firewall_events fields the issue names', () => {
    const named = [
      'Action', 'ClientASN', 'ClientCountry', 'ClientIP', 'ClientRequestHost', 'ClientRequestMethod', 'ClientRequestPath',
      'ClientRequestQuery', 'ClientRequestUserAgent', 'Datetime', 'EdgeColoCode', 'EdgeResponseStatus', 'Kind', 'MatchIndex',
      'OriginResponseStatus', 'RayID', 'RuleID', 'Source', 'ZoneID',
    ];
    for (const field of named) expect(FIREWALL_EVENTS_FIELDS).toContain(field);
  });

  it('gives every dataset of the pipeline a field list with ZoneID, RayID and its time field', () => {
    for (const dataset of DATASETS) {
      const fields = DATASET_FIELDS[dataset];
      expect(fields).toContain('ZoneID');
      expect(fields).toContain('RayID');
      expect(fields).toContain(TIMESTAMP_FIELD[dataset]);
    }
  });

  it('encodes each dataset\'s events as records: a one-byte record id, no keys, about half the bytes of a map', () => {
    const codec = new Codec(PIPELINE_STRUCTURES);
    for (const [id, dataset] of DATASETS.entries()) {
      const event = makeEdgeEvent(dataset, new Random(3), 123_456);
      expect(Object.keys(event)).toEqual(DATASET_FIELDS[dataset]);
      const bytes = codec.encode(event);
      expect(bytes[0]).toBe(0x40 + id);
      expect(bytes.length).toBeLessThan(0.6 * pack(event).length);
      expect(codec.decode(bytes)).toEqual(event);
    }
  });
});
