/**
 * The structure of a job's filter, Cloudflare's form: `{"where": {"and": [...]}}`, `{"or": [...]}`
 * nested, with conditions `{key, operator, value}` at the leaves. Checked here structurally but
 * strictly (no unknown keys, known operators, scalar or list values, bounded size); whether an
 * operator suits its value and field is the filter module's business, where events are matched.
 */

import { FIELD_NAME_PATTERN, FILTER_OPERATORS, type FilterNode, type FilterOperator } from '../job.js';

export { FIELD_NAME_PATTERN, FILTER_OPERATORS };

export const FILTER_LIMITS = Object.freeze({
  maxDepth: 16,
  /** Conditions and and/or nodes in one filter. */
  maxNodes: 1024,
  /** Values in one list (the value of `in`). */
  maxListValues: 10_000,
});

export type FilterShapeResult =
  | { readonly ok: true; readonly node: FilterNode }
  | { readonly ok: false; readonly path: readonly (string | number)[]; readonly expected: string; readonly got: unknown };

const NODE_RULE = 'a filter node: {"and": [...]}, {"or": [...]} or a condition {"key", "operator", "value"}';
const CONDITION_KEYS = new Set(['key', 'operator', 'value']);
const OPERATORS: ReadonlySet<unknown> = new Set(FILTER_OPERATORS);

class ShapeFailure {
  constructor(
    readonly path: readonly (string | number)[],
    readonly expected: string,
    readonly got: unknown,
  ) {}
}

/** Checks a filter node (the value of `where`) and returns a copy of it, or the first problem found. */
export function checkFilterNode(input: unknown): FilterShapeResult {
  const counter = { nodes: 0 };
  try {
    return { ok: true, node: nodeAt(input, [], 1, counter) };
  } catch (error) {
    if (error instanceof ShapeFailure) return { ok: false, path: error.path, expected: error.expected, got: error.got };
    throw error;
  }
}

function nodeAt(input: unknown, path: readonly (string | number)[], depth: number, counter: { nodes: number }): FilterNode {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ShapeFailure(path, NODE_RULE, input);
  if (++counter.nodes > FILTER_LIMITS.maxNodes) {
    throw new ShapeFailure(path, `within the filter's limit of ${FILTER_LIMITS.maxNodes} nodes`, input);
  }
  const fields = input as Record<string, unknown>;
  const keys = Object.keys(fields);
  const op = keys.includes('and') ? 'and' : keys.includes('or') ? 'or' : undefined;
  if (op === undefined) return conditionAt(fields, keys, path);
  const other = keys.find((key) => key !== op);
  if (other !== undefined) {
    throw new ShapeFailure([...path, other], `absent (a node with "${op}" holds nothing else)`, fields[other]);
  }
  const children = fields[op];
  if (!Array.isArray(children) || children.length === 0) {
    throw new ShapeFailure([...path, op], 'an array of 1 or more filter nodes', children);
  }
  if (depth + 1 > FILTER_LIMITS.maxDepth) {
    throw new ShapeFailure([...path, op], `a list of conditions (filters nest at most ${FILTER_LIMITS.maxDepth} levels deep)`, children);
  }
  const nodes = children.map((child: unknown, index) => nodeAt(child, [...path, op, index], depth + 1, counter));
  return op === 'and' ? { and: nodes } : { or: nodes };
}

function conditionAt(fields: Record<string, unknown>, keys: readonly string[], path: readonly (string | number)[]): FilterNode {
  const unknown = keys.find((key) => !CONDITION_KEYS.has(key));
  if (unknown !== undefined) {
    throw new ShapeFailure([...path, unknown], 'absent (a condition has only key, operator and value)', fields[unknown]);
  }
  const { key, operator, value } = fields;
  if (typeof key !== 'string' || !FIELD_NAME_PATTERN.test(key)) {
    throw new ShapeFailure([...path, 'key'], 'a field name (a letter, then up to 63 letters, digits or _)', key);
  }
  if (!OPERATORS.has(operator)) {
    throw new ShapeFailure([...path, 'operator'], `one of ${FILTER_OPERATORS.join(' | ')}`, operator);
  }
  return { key, operator: operator as FilterOperator, value: valueAt(value, [...path, 'value']) };
}

function valueAt(value: unknown, path: readonly (string | number)[]): string | number | boolean | (string | number)[] {
  if (isScalar(value) || typeof value === 'boolean') return value;
  const rule = `a string, a finite number, a boolean, or an array of 1 to ${FILTER_LIMITS.maxListValues} strings and numbers`;
  if (!Array.isArray(value) || value.length === 0 || value.length > FILTER_LIMITS.maxListValues) throw new ShapeFailure(path, rule, value);
  const list = new Array<string | number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (!isScalar(item)) throw new ShapeFailure([...path, i], 'a string or a finite number', item);
    list[i] = item;
  }
  return list;
}

function isScalar(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
