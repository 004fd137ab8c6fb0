/**
 * What a config provider hands to the config guard: a candidate config (text to decode, a value
 * already decoded, or an error found while decoding it), word that nothing changed, or word that
 * the config could not be had at all. The last is the case the incident's fail-open was built for,
 * and it is distinct from a config that arrived and is wrong (blank, malformed, too large).
 */

export type Candidate =
  /** JSON or YAML text, decoded by the guard. */
  | { readonly kind: 'text'; readonly source: string; readonly text: string }
  /** A document already decoded (a function provider's return value). */
  | { readonly kind: 'value'; readonly source: string; readonly value: unknown }
  /** A config that arrived but could not be decoded, or was too large to read (a ConfigError, usually). */
  | { readonly kind: 'error'; readonly source: string; readonly error: unknown };

export type ProviderEvent =
  | { readonly type: 'candidate'; readonly candidate: Candidate }
  /** The provider is reachable and its config is the one it delivered last (same file stat, HTTP 304). */
  | { readonly type: 'unchanged'; readonly source: string }
  /** No config could be had: a missing file, a network error, a non-2xx status, a timeout. */
  | { readonly type: 'unavailable'; readonly source: string; readonly reason: string; readonly error?: unknown };
