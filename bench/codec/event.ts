/**
 * A realistic CDN request event, shaped like Cloudflare's http_requests dataset: 30 fields, about
 * 1 KB as JSON. Deterministic from a seed, so every run (and every thread) makes the same events.
 */

import { HTTP_REQUESTS_FIELDS } from '../../src/actors/sources/structures.js';

/** The field order of every generated event: the record structure the codec is given (the pipeline's). */
export const HTTP_REQUEST_FIELDS = HTTP_REQUESTS_FIELDS;

export type HttpRequestEvent = Record<(typeof HTTP_REQUEST_FIELDS)[number], string | number | boolean>;

/** mulberry32: small, fast, and the same sequence on every platform. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

function int(rng: () => number, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function hex(rng: () => number, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += '0123456789abcdef'[Math.floor(rng() * 16)];
  return out;
}

function ipv4(rng: () => number): string {
  return `${int(rng, 1, 223)}.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`;
}

function ipv6(rng: () => number): string {
  return `2a06:98c0:${hex(rng, 4)}:${hex(rng, 4)}::${hex(rng, 3)}`;
}

/** One event of `zones` possible zones; timestamps advance from `baseNs`. */
export function makeHttpRequestEvent(rng: () => number, zones = 1000, baseNs = 1_731_600_000_000_000_000): HttpRequestEvent {
  const zone = int(rng, 1, zones);
  const host = `www.zone-${zone}.example.com`;
  const start = baseNs + int(rng, 0, 3_600_000) * 1_000_000;
  const originTimeNs = int(rng, 0, 800) * 1_000_000;
  const status = pick(rng, STATUSES);
  const path = pick(rng, PATHS);
  return {
    ClientIP: rng() < 0.2 ? ipv6(rng) : ipv4(rng),
    ClientRequestHost: host,
    ClientRequestMethod: pick(rng, METHODS),
    ClientRequestURI: `${path}?id=${int(rng, 1, 1e6)}&session=${hex(rng, 16)}&utm_source=newsletter`,
    ClientRequestUserAgent: pick(rng, AGENTS),
    EdgeStartTimestamp: start,
    EdgeEndTimestamp: start + originTimeNs + int(rng, 1, 50) * 1_000_000,
    EdgeResponseStatus: status,
    EdgeResponseBytes: int(rng, 200, 2_000_000),
    ZoneID: 100_000_000 + zone,
    RayID: hex(rng, 16),
    CacheCacheStatus: pick(rng, CACHE),
    ClientCountry: pick(rng, COUNTRIES),
    ClientDeviceType: pick(rng, DEVICES),
    ClientRequestProtocol: pick(rng, PROTOCOLS),
    ClientRequestReferer: rng() < 0.3 ? '' : `https://www.zone-${int(rng, 1, zones)}.example.com${pick(rng, PATHS)}`,
    ClientSSLProtocol: pick(rng, TLS),
    EdgeColoCode: pick(rng, COLOS),
    EdgeResponseContentType: pick(rng, CONTENT_TYPES),
    OriginIP: ipv4(rng),
    OriginResponseStatus: status === 304 ? 200 : status,
    OriginResponseTime: originTimeNs,
    SecurityLevel: pick(rng, SECURITY),
    WAFAction: pick(rng, WAF),
    WorkerSubrequest: rng() < 0.05,
    ClientASN: int(rng, 1, 400_000),
    ClientRequestBytes: int(rng, 300, 8000),
    ClientSrcPort: int(rng, 1024, 65535),
    EdgeServerIP: `172.${int(rng, 64, 71)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`,
    ParentRayID: '00',
  };
}

/** `count` events from `seed`. */
export function makeHttpRequestEvents(count: number, seed = 1): HttpRequestEvent[] {
  const rng = createRng(seed);
  const out: HttpRequestEvent[] = [];
  for (let i = 0; i < count; i++) out.push(makeHttpRequestEvent(rng));
  return out;
}
