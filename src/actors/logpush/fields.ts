/**
 * Event field names as jobs name them (output_options.field_names, filter keys), and the fields that
 * hold timestamps.
 */

import { FIELD_NAME_PATTERN } from '../job.js';
import { configError } from './errors.js';

/**
 * Field names (FIELD_NAME_PATTERN, job.ts): a letter, then up to 63 letters, digits or underscores
 * (Cloudflare's field names all fit). The formatter writes them into generated code, so this rule
 * is also what keeps a field name from ever being read as code.
 */
export { FIELD_NAME_PATTERN };

/** Fields holding unix nanoseconds (a number or a bigint); output_options.timestamp_format applies to them. */
export const TIMESTAMP_FIELDS: ReadonlySet<string> = new Set(['EdgeStartTimestamp', 'EdgeEndTimestamp', 'Datetime']);

export function validateFieldName(input: unknown, path: string): string {
  if (typeof input !== 'string' || !FIELD_NAME_PATTERN.test(input)) {
    throw configError(path, 'a field name (a letter, then up to 63 letters, digits or _)', input);
  }
  return input;
}

/**
 * Names that every plain object inherits (constructor, toString, valueOf, ...). Reading one of
 * them from an event that lacks the field would find Object.prototype's function, not a missing
 * field, so only these are read with an own-property check; every other name is a plain read.
 */
export function isInheritedName(name: string): boolean {
  return name in Object.prototype;
}

/** Reads field `name` of an event: own properties only, so a missing field reads as undefined. */
export function fieldReader(name: string): (event: Record<string, unknown>) => unknown {
  return isInheritedName(name)
    ? (event) => (Object.hasOwn(event, name) ? event[name] : undefined)
    : (event) => event[name];
}
