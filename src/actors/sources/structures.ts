/**
 * The pipeline's record structures: one field list per dataset, in the order the sources write
 * them, with Cloudflare's field names (developers.cloudflare.com/logs/reference/log-fields/zone/).
 *
 * The supervisor builds one `Codec` per thread from `PIPELINE_STRUCTURES` (see codec.ts for why the
 * list is agreed at spawn). An event whose keys come in exactly this order encodes as a record
 * (a one-byte id, then the values); any other shape still round-trips, as a slower inline record.
 * Changing a list, or the order of its fields, means bumping `version`: batches carry it, and a
 * reader refuses a batch of another version instead of misreading it.
 */

import type { CodecStructures } from '../../runtime/codec.js';
import type { Dataset } from '../job.js';

/** `http_requests`: one event per HTTP request seen at the edge. */
export const HTTP_REQUESTS_FIELDS = [
  'ClientIP',
  'ClientRequestHost',
  'ClientRequestMethod',
  'ClientRequestURI',
  'ClientRequestUserAgent',
  'EdgeStartTimestamp',
  'EdgeEndTimestamp',
  'EdgeResponseStatus',
  'EdgeResponseBytes',
  'ZoneID',
  'RayID',
  'CacheCacheStatus',
  'ClientCountry',
  'ClientDeviceType',
  'ClientRequestProtocol',
  'ClientRequestReferer',
  'ClientSSLProtocol',
  'EdgeColoCode',
  'EdgeResponseContentType',
  'OriginIP',
  'OriginResponseStatus',
  'OriginResponseTime',
  'SecurityLevel',
  'WAFAction',
  'WorkerSubrequest',
  'ClientASN',
  'ClientRequestBytes',
  'ClientSrcPort',
  'EdgeServerIP',
  'ParentRayID',
] as const;

/**
 * `firewall_events`: one event per security rule that matched a request. In Cloudflare's data a
 * request that matched three rules gives three events (MatchIndex 0..2) sharing its RayID; the
 * synthetic edge gives every event a RayID of its own. Cloudflare's zone-scoped dataset leaves
 * ZoneID out (the job names the zone); ours carries it, as every event's routing key. Metadata (a
 * nested object) is left out.
 */
export const FIREWALL_EVENTS_FIELDS = [
  'Action',
  'ClientASN',
  'ClientASNDescription',
  'ClientCountry',
  'ClientIP',
  'ClientIPClass',
  'ClientRefererHost',
  'ClientRefererPath',
  'ClientRefererQuery',
  'ClientRefererScheme',
  'ClientRequestHost',
  'ClientRequestMethod',
  'ClientRequestPath',
  'ClientRequestProtocol',
  'ClientRequestQuery',
  'ClientRequestScheme',
  'ClientRequestUserAgent',
  'Datetime',
  'Description',
  'EdgeColoCode',
  'EdgeResponseStatus',
  'Kind',
  'MatchIndex',
  'OriginResponseStatus',
  'OriginatorRayID',
  'RayID',
  'Ref',
  'RuleID',
  'Source',
  'ZoneID',
] as const;

export type HttpRequestsField = (typeof HTTP_REQUESTS_FIELDS)[number];
export type FirewallEventsField = (typeof FIREWALL_EVENTS_FIELDS)[number];

/** Field values as Cloudflare types them: strings, ints (timestamps are unix nanoseconds), bools. */
export type HttpRequestsEvent = Record<HttpRequestsField, string | number | boolean>;
export type FirewallEventsEvent = Record<FirewallEventsField, string | number | boolean>;

/** Each dataset's field list. */
export const DATASET_FIELDS: { readonly [D in Dataset]: readonly string[] } = {
  http_requests: HTTP_REQUESTS_FIELDS,
  firewall_events: FIREWALL_EVENTS_FIELDS,
};

/**
 * The field that holds each dataset's event time (unix ns): the batch timestamp of an event.
 * Cloudflare names it EdgeStartTimestamp in http_requests and Datetime in firewall_events.
 */
export const TIMESTAMP_FIELD: { readonly [D in Dataset]: string } = {
  http_requests: 'EdgeStartTimestamp',
  firewall_events: 'Datetime',
};

/** Version 1: the two lists above, http_requests first (record id 0), firewall_events second (id 1). */
export const PIPELINE_STRUCTURES: CodecStructures = Object.freeze({
  version: 1,
  structures: Object.freeze([HTTP_REQUESTS_FIELDS, FIREWALL_EVENTS_FIELDS]),
});
