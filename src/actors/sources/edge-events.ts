/**
 * What the synthetic edge's events say: realistic Cloudflare http_requests and firewall_events
 * content (about 1 KB and 0.9 KB as JSON), drawn from a seeded Random. The edge generator encodes a
 * few dozen of these once, as templates, and patches each copy's timestamps, RayID and ZoneID.
 *
 * Fields come in the order of structures.ts, so the codec writes them as records. Values follow
 * bench/codec/event.ts (the codec benchmark's event), whose figures the pipeline's were measured on.
 */

import type { Dataset } from '../job.js';
import type { Random } from './prng.js';
import type { FirewallEventsEvent, HttpRequestsEvent } from './structures.js';

/** 2024-11-14T16:00:00Z in unix ns (only templates carry it; every event gets its own time). */
export const TEMPLATE_EPOCH_NS = 1_731_600_000_000_000_000;

export type EdgeEvent = HttpRequestsEvent | FirewallEventsEvent;

const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'HEAD', 'PUT', 'OPTIONS'];
const CACHE = ['hit', 'hit', 'miss', 'dynamic', 'expired', 'revalidated', 'bypass'];
const COUNTRIES = ['us', 'de', 'gb', 'fr', 'jp', 'br', 'in', 'ca', 'au', 'nl', 'sg', 'pt'];
const DEVICES = ['desktop', 'mobile', 'tablet'];
const PROTOCOLS = ['HTTP/1.1', 'HTTP/2', 'HTTP/3'];
const TLS = ['TLSv1.3', 'TLSv1.2', 'none'];
const COLOS = ['SJC', 'LHR', 'FRA', 'AMS', 'NRT', 'GRU', 'LIS', 'SIN', 'IAD', 'CDG'];
const CONTENT_TYPES = ['text/html', 'application/json', 'image/webp', 'text/css', 'application/javascript', 'image/png'];
const SECURITY = ['med', 'high', 'low', 'essentially_off'];
const WAF = ['unknown', 'allow', 'block', 'challenge', 'simulate'];
const STATUSES = [200, 200, 200, 200, 200, 304, 301, 404, 403, 500, 502];
const PATHS = ['/api/v1/users', '/static/js/app.bundle.js', '/images/products/hero-banner.webp', '/cdn-cgi/trace', '/checkout/cart', '/blog/2024/11/overload-safe-logging'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'curl/8.5.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
];
/** firewall_events: what the firewall did, which product decided it, and how the visitor's IP is classed. */
const FIREWALL_ACTIONS = ['block', 'block', 'managedchallenge', 'challenge', 'jschallenge', 'log', 'allow', 'skip'];
const FIREWALL_SOURCES = ['firewallManaged', 'firewallCustom', 'ratelimit', 'bic', 'securitylevel', 'uablock', 'waf', 'botFight'];
const IP_CLASSES = ['noRecord', 'noRecord', 'unknown', 'badHost', 'searchEngine', 'monitoringService', 'scan', 'tor'];
const ASN_NAMES = ['CLOUDFLARENET', 'GOOGLE', 'AMAZON-02', 'COMCAST-7922', 'DTAG', 'OVH', 'HETZNER-AS', 'MICROSOFT-CORP-MSN-AS-BLOCK'];
const RULE_DESCRIPTIONS = [
  'SQLi - Comment',
  'XSS - JavaScript Events',
  'Block requests from known bad bots',
  'Rate limit login attempts',
  'Challenge traffic from high-risk countries',
  'Log suspicious user agents',
];
const SCHEMES = ['https', 'https', 'https', 'http'];

export function makeEdgeEvent(dataset: Dataset, random: Random, zoneId: number): EdgeEvent {
  switch (dataset) {
    case 'http_requests':
      return makeHttpRequestsEvent(random, zoneId);
    case 'firewall_events':
      return makeFirewallEventsEvent(random, zoneId);
    default:
      throw new Error(`no event content for dataset ${JSON.stringify(dataset satisfies never)}`);
  }
}

export function makeHttpRequestsEvent(random: Random, zoneId: number): HttpRequestsEvent {
  const site = random.int(1, 9999);
  const start = TEMPLATE_EPOCH_NS + random.int(0, 3_600_000) * 1_000_000;
  const originTimeNs = random.int(0, 800) * 1_000_000;
  const status = random.pick(STATUSES);
  return {
    ClientIP: random.next() < 0.2 ? ipv6(random) : ipv4(random),
    ClientRequestHost: `www.site-${site}.example.com`,
    ClientRequestMethod: random.pick(METHODS),
    ClientRequestURI: `${random.pick(PATHS)}?id=${random.int(1, 1e6)}&session=${hex(random, 16)}&utm_source=newsletter`,
    ClientRequestUserAgent: random.pick(AGENTS),
    EdgeStartTimestamp: start,
    EdgeEndTimestamp: start + originTimeNs + random.int(1, 50) * 1_000_000,
    EdgeResponseStatus: status,
    EdgeResponseBytes: random.int(200, 2_000_000),
    ZoneID: zoneId,
    RayID: hex(random, 16),
    CacheCacheStatus: random.pick(CACHE),
    ClientCountry: random.pick(COUNTRIES),
    ClientDeviceType: random.pick(DEVICES),
    ClientRequestProtocol: random.pick(PROTOCOLS),
    ClientRequestReferer: random.next() < 0.3 ? '' : `https://www.site-${random.int(1, 9999)}.example.com${random.pick(PATHS)}`,
    ClientSSLProtocol: random.pick(TLS),
    EdgeColoCode: random.pick(COLOS),
    EdgeResponseContentType: random.pick(CONTENT_TYPES),
    OriginIP: ipv4(random),
    OriginResponseStatus: status === 304 ? 200 : status,
    OriginResponseTime: originTimeNs,
    SecurityLevel: random.pick(SECURITY),
    WAFAction: random.pick(WAF),
    WorkerSubrequest: random.next() < 0.05,
    ClientASN: random.int(1, 400_000),
    ClientRequestBytes: random.int(300, 8000),
    ClientSrcPort: random.int(1024, 65535),
    EdgeServerIP: `172.${random.int(64, 71)}.${random.int(0, 255)}.${random.int(1, 254)}`,
    ParentRayID: '00',
  };
}

export function makeFirewallEventsEvent(random: Random, zoneId: number): FirewallEventsEvent {
  const site = random.int(1, 9999);
  const refererSite = random.int(1, 9999);
  const hasReferer = random.next() < 0.6;
  const rule = random.int(0, RULE_DESCRIPTIONS.length - 1);
  return {
    Action: random.pick(FIREWALL_ACTIONS),
    ClientASN: random.int(1, 400_000),
    ClientASNDescription: random.pick(ASN_NAMES),
    ClientCountry: random.pick(COUNTRIES),
    ClientIP: random.next() < 0.2 ? ipv6(random) : ipv4(random),
    ClientIPClass: random.pick(IP_CLASSES),
    ClientRefererHost: hasReferer ? `www.site-${refererSite}.example.com` : '',
    ClientRefererPath: hasReferer ? random.pick(PATHS) : '',
    ClientRefererQuery: hasReferer && random.next() < 0.5 ? `?ref=${hex(random, 8)}` : '',
    ClientRefererScheme: hasReferer ? random.pick(SCHEMES) : '',
    ClientRequestHost: `www.site-${site}.example.com`,
    ClientRequestMethod: random.pick(METHODS),
    ClientRequestPath: random.pick(PATHS),
    ClientRequestProtocol: random.pick(PROTOCOLS),
    ClientRequestQuery: `?id=${random.int(1, 1e6)}&q=${encodeURIComponent("' OR 1=1 --")}`,
    ClientRequestScheme: random.pick(SCHEMES),
    ClientRequestUserAgent: random.pick(AGENTS),
    Datetime: TEMPLATE_EPOCH_NS + random.int(0, 3_600_000) * 1_000_000,
    Description: RULE_DESCRIPTIONS[rule]!,
    EdgeColoCode: random.pick(COLOS),
    EdgeResponseStatus: random.pick([403, 403, 429, 503, 200]),
    Kind: 'firewall',
    MatchIndex: random.int(0, 3),
    OriginResponseStatus: random.pick([0, 0, 200, 404]),
    OriginatorRayID: '00',
    RayID: hex(random, 16),
    Ref: `ref-${hex(random, 6)}`,
    RuleID: hex(random, 32),
    Source: random.pick(FIREWALL_SOURCES),
    ZoneID: zoneId,
  };
}

function hex(random: Random, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += '0123456789abcdef'[random.below(16)];
  return out;
}

function ipv4(random: Random): string {
  return `${random.int(1, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
}

function ipv6(random: Random): string {
  return `2a06:98c0:${hex(random, 4)}:${hex(random, 4)}::${hex(random, 3)}`;
}
