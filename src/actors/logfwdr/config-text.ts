/**
 * A config document's text to a value: the size and blank checks first (so a huge or empty text is
 * refused before any decoding), then JSON, or YAML when the text is not JSON.
 */

import { parse as parseYaml } from 'yaml';
import { describeValue } from '../../runtime/errors.js';
import { CONFIG_LIMITS, type ConfigLimits } from './config-limits.js';
import { blankError, syntaxError, tooLargeError } from './errors.js';

/** The size and blank checks of parseConfigText, then JSON or YAML decoding, without the schema. */
export function decodeConfigText(text: string, source: string, limits: ConfigLimits = CONFIG_LIMITS): unknown {
  const bytes = bytesOver(text, limits.maxBytes);
  if (bytes !== undefined) throw tooLargeError(source, '', 'bytes', bytes, limits.maxBytes, 'maxBytes');
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) throw blankError(source, 'empty');
  if (/^\s*$/.test(body)) throw blankError(source, `${body.length} characters of whitespace`);
  const first = /\S/.exec(body)?.[0];
  let jsonError: unknown;
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(body) as unknown;
    } catch (error) {
      // A YAML flow mapping such as {jobs: []} is not JSON; YAML gets its turn below.
      jsonError = error;
    }
  }
  try {
    // Aliases are capped so a "billion laughs" document cannot expand to gigabytes.
    return parseYaml(body, { maxAliasCount: 100, merge: false, uniqueKeys: true, prettyErrors: true }) as unknown;
  } catch (yamlError) {
    const shown = jsonError ?? yamlError;
    const firstLine = shown instanceof Error ? (shown.message.split('\n')[0] ?? '').replace(/:$/, '') : describeValue(shown);
    throw syntaxError(source, jsonError === undefined ? 'YAML' : 'JSON (nor YAML)', firstLine, shown);
  }
}

/** The UTF-8 length of `text` when it is past `limit`, else undefined. */
function bytesOver(text: string, limit: number): number | undefined {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts are decided without counting.
  if (text.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > limit ? bytes : undefined;
}
