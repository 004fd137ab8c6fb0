/**
 * Errors of Logfwdr's configuration side. Each has a stable `code` that the config guard and tests
 * match on; messages name the source (a file path or URL), the path inside the document and what
 * was expected, in the wording of the runtime's spec errors ("… must be …, got …").
 */

import { describeValue } from '../../runtime/errors.js';

export type ConfigErrorCode =
  /** Blank text (only whitespace) or a null document: the incident's "blank configuration". */
  | 'ERR_CONFIG_BLANK'
  /** Neither JSON nor YAML. */
  | 'ERR_CONFIG_SYNTAX'
  /** Parsed, but not a valid Logfwdr config. */
  | 'ERR_CONFIG_INVALID'
  /** Past a size limit: bytes, jobs or zone entries. */
  | 'ERR_CONFIG_TOO_LARGE';

/** One problem found in a document: `path` as written in the message (`jobs[3].zones[0]`; '' is the document). */
export interface ConfigIssue {
  readonly path: string;
  /** The whole sentence, path included. */
  readonly message: string;
}

// A config generated from a broken template can hold a million errors: the message shows a few,
// `issues` keeps up to this many.
const MAX_KEPT_ISSUES = 100;
const MAX_SHOWN_ISSUES = 3;

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** Where the document came from: a file path, a URL, or a name the caller chose. */
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigErrorCode, source: string, issues: readonly ConfigIssue[], options?: ErrorOptions) {
    super(configMessage(source, issues), options);
    this.name = 'ConfigError';
    this.code = code;
    this.source = source;
    this.issues = Object.freeze(issues.slice(0, MAX_KEPT_ISSUES));
  }

  /** The path of the first problem. */
  get path(): string {
    return this.issues[0]?.path ?? '';
  }
}

function configMessage(source: string, issues: readonly ConfigIssue[]): string {
  const shown = issues.slice(0, MAX_SHOWN_ISSUES).map((issue) => issue.message);
  const more = issues.length > MAX_SHOWN_ISSUES ? `; and ${issues.length - MAX_SHOWN_ISSUES} more problems` : '';
  return `invalid logfwdr config from ${source}: ${shown.join('; ')}${more}`;
}

/** `jobs[3].zones[0]` from `['jobs', 3, 'zones', 0]`; keys that are not plain names are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${describeValue(typeof segment === 'symbol' ? segment.toString() : segment)}]`;
  }
  return out;
}

/** `jobs[3].zones[0] must be a positive integer, got -1`; an empty path is the document itself. */
export function mustBe(path: string, expected: string, got: unknown): ConfigIssue {
  const subject = path === '' ? 'the document' : path;
  const message = got === undefined ? `${subject} is required: ${expected}` : `${subject} must be ${expected}, got ${describeValue(got)}`;
  return { path, message };
}

export function blankError(source: string, what: string): ConfigError {
  return new ConfigError('ERR_CONFIG_BLANK', source, [{ path: '', message: `the document is blank (${what})` }]);
}

/** `the document is not valid JSON (nor YAML): Unexpected end of JSON input`. */
export function syntaxError(source: string, format: string, detail: string, cause?: unknown): ConfigError {
  const options = cause === undefined ? undefined : { cause };
  return new ConfigError('ERR_CONFIG_SYNTAX', source, [{ path: '', message: `the document is not valid ${format}: ${detail}` }], options);
}

/** `jobs holds 1200000 jobs; at most 1000000 are allowed (maxJobs)`. */
export function tooLargeError(source: string, path: string, what: string, actual: number, limit: number, limitName: string): ConfigError {
  const subject = path === '' ? 'the document' : path;
  return new ConfigError('ERR_CONFIG_TOO_LARGE', source, [
    { path, message: `${subject} holds ${actual} ${what}; at most ${limit} are allowed (${limitName})` },
  ]);
}
