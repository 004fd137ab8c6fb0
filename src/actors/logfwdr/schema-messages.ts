/**
 * How zod's issues become ConfigIssues in the wording of the runtime's spec errors: every issue's
 * message is what was expected ("an integer from 1 to 300 (seconds)"), so the sentence reads
 * "<path> must be <expected>, got <value>"; an unknown key reads "<path> is not a known key of …".
 */

import { closestKey } from '../../runtime/errors.js';
import { z } from 'zod';
import { describeValue } from '../../runtime/errors.js';
import { formatPath, mustBe, type ConfigIssue } from './errors.js';

/** A strict object whose unknown keys get a message naming the known ones and the likely one meant. */
export function strict<Shape extends z.ZodRawShape>(kind: string, shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const [first, ...others] = issue.keys;
      const near = closestKey(first ?? '', known);
      const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
      const also = others.length === 0 ? '' : `; nor are ${others.map((k) => describeValue(k)).join(', ')}`;
      return `is not a known key of ${kind}${hint}${also}; known keys: ${known.join(', ')}`;
    },
  });
}


type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/**
 * The per-parse error map: every issue's message is what was expected ("an integer from 1 to 300
 * (seconds)"), so toConfigIssue can say "… must be <expected>, got <value>". Messages set in the
 * schema itself take precedence over this one.
 */
export function expectedOf(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return article(String(issue.expected));
    case 'invalid_value':
      return issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      return Array.isArray(options) ? `one of ${options.map((v) => JSON.stringify(v)).join(' | ')}` : 'one of the forms this value takes';
    }
    case 'too_small':
      return bound(issue.origin, issue.inclusive === false ? 'more than' : 'at least', issue.minimum);
    case 'too_big':
      return bound(issue.origin, issue.inclusive === false ? 'less than' : 'at most', issue.maximum);
    case 'invalid_format':
      return issue.format === 'regex' ? `a string matching ${String((issue as { pattern?: unknown }).pattern)}` : `a valid ${issue.format}`;
    default:
      return undefined;
  }
}

function article(type: string): string {
  if (type === 'int') return 'an integer';
  if (type === 'array' || type === 'object') return `an ${type}`;
  return `a ${type}`;
}

function bound(origin: string, relation: string, limit: number | bigint): string {
  switch (origin) {
    case 'array':
      return `an array of ${relation} ${limit} items`;
    case 'string':
      return `a string of ${relation} ${limit} characters`;
    default:
      return `a number ${relation} ${limit}`;
  }
}

export function toConfigIssue(issue: Issue): ConfigIssue {
  if (issue.code === 'unrecognized_keys') {
    const path = formatPath([...issue.path, issue.keys[0] ?? '']);
    return { path, message: `${path} ${issue.message}` };
  }
  let got: unknown = issue.input;
  const discriminator = (issue as { discriminator?: unknown }).discriminator;
  // A bad discriminator is reported at `…type` with the whole object as input: show the type.
  if (issue.code === 'invalid_union' && typeof discriminator === 'string' && typeof got === 'object' && got !== null) {
    got = (got as Record<string, unknown>)[discriminator];
  }
  return mustBe(formatPath(issue.path), issue.message, got);
}
