/**
 * A job's filter, in Cloudflare Logpush's form: `{"where": {"and": [{key, operator, value}, ...]}}`,
 * with `and` / `or` nodes nested up to MAX_FILTER_DEPTH deep.
 *
 * The filter is checked once (validateFilter) and compiled once per job into a tree of closures
 * (compileFilter): testing an event is then a few property reads and comparisons, with no parsing
 * or operator dispatch per event.
 *
 * Semantics, for a condition on field `key`:
 * - No type coercion: `eq 200` does not match the string "200". A bigint field (msgpack's 64-bit
 *   integers) compares with numbers by value.
 * - A missing field, a null field, or a field of a type the operator does not apply to (a number
 *   under `startsWith`, a string under `lt`) makes the comparison false. Every `!` operator is the
 *   exact negation of its positive form, so it is true there: `ClientCountry !eq "ca"` keeps events
 *   without a ClientCountry. This is what a user writing "everything except ca" expects.
 * - String operators are case-sensitive.
 */

import { FILTER_OPERATORS, type Filter, type FilterCondition, type FilterNode, type FilterOperator } from '../job.js';
import { configError, configProblem } from './errors.js';
import { fieldReader, validateFieldName } from './fields.js';

export type EventPredicate = (event: Record<string, unknown>) => boolean;

/** and/or nodes nested deeper than this are refused: no real filter needs it, and it bounds recursion. */
export const MAX_FILTER_DEPTH = 8;
/** Conditions in one filter, all nodes together: each costs every event of the job a comparison. */
export const MAX_FILTER_CONDITIONS = 100;
/** Values in one `in` list (they go into a Set, so the cost per event does not grow with it). */
export const MAX_IN_VALUES = 1000;

export { FILTER_OPERATORS };

type PositiveOperator = 'eq' | 'lt' | 'leq' | 'gt' | 'geq' | 'startsWith' | 'endsWith' | 'contains' | 'in';

const KEEP_ALL: EventPredicate = () => true;

/**
 * Checks a filter from outside (a config file, an API call) and returns a copy of it. A string is
 * parsed as JSON first, as Cloudflare's API carries the filter. Throws ERR_LOGPUSH_CONFIG naming the
 * path and the value: unknown operator, a value of the wrong type for its operator, an `in` without
 * a non-empty array, an empty and/or, nesting deeper than MAX_FILTER_DEPTH, more than
 * MAX_FILTER_CONDITIONS conditions.
 */
export function validateFilter(input: unknown, path = 'filter'): Filter {
  let parsed = input;
  if (typeof input === 'string') {
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      throw configProblem(path, `is a string but not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (!isPlainObject(parsed)) throw configError(path, 'an object {"where": {...}}', parsed);
  for (const key of Object.keys(parsed)) {
    if (key !== 'where') throw configProblem(`${path}.${shownKey(key)}`, 'is not a known key of a filter; a filter has only "where"');
  }
  if (!('where' in parsed)) throw configProblem(path, 'has no "where"');
  const state = { conditions: 0 };
  return { where: validateNode(parsed.where, `${path}.where`, 0, state) };
}

/** Compiles a filter (validated here again: it is cheap, once per job) into a predicate. No filter keeps every event. */
export function compileFilter(filter: Filter | undefined): EventPredicate {
  if (filter === undefined) return KEEP_ALL;
  return compileNode(validateFilter(filter).where);
}

function validateNode(input: unknown, path: string, depth: number, state: { conditions: number }): FilterNode {
  if (!isPlainObject(input)) throw configError(path, 'an and/or node or a condition {key, operator, value}', input);
  const hasAnd = Object.hasOwn(input, 'and');
  const hasOr = Object.hasOwn(input, 'or');
  if (hasAnd || hasOr) {
    const which = hasAnd ? 'and' : 'or';
    for (const key of Object.keys(input)) {
      if (key !== which) {
        throw configProblem(`${path}.${shownKey(key)}`, `cannot stand beside "${which}": a node is either one and/or list or one condition`);
      }
    }
    if (depth + 1 > MAX_FILTER_DEPTH) {
      throw configProblem(path, `nests and/or nodes ${depth + 1} deep; at most ${MAX_FILTER_DEPTH} are allowed`);
    }
    const children: unknown = input[which];
    const at = `${path}.${which}`;
    if (!Array.isArray(children)) throw configError(at, 'an array of nodes', children);
    if (children.length === 0) throw configProblem(at, 'is empty; an and/or node needs at least one condition');
    const nodes: FilterNode[] = [];
    for (let i = 0; i < children.length; i++) nodes.push(validateNode(children[i], `${at}[${i}]`, depth + 1, state));
    return which === 'and' ? { and: nodes } : { or: nodes };
  }
  state.conditions++;
  if (state.conditions > MAX_FILTER_CONDITIONS) {
    throw configProblem(path, `is condition number ${state.conditions}; a filter may have at most ${MAX_FILTER_CONDITIONS}`);
  }
  return validateCondition(input, path);
}

function validateCondition(input: Record<string, unknown>, path: string): FilterCondition {
  for (const key of Object.keys(input)) {
    if (key !== 'key' && key !== 'operator' && key !== 'value') {
      throw configProblem(`${path}.${shownKey(key)}`, 'is not a known key of a condition; known keys: key, operator, value');
    }
  }
  const key = validateFieldName(input.key, `${path}.key`);
  const operator = input.operator;
  if (typeof operator !== 'string' || !(FILTER_OPERATORS as readonly string[]).includes(operator)) {
    throw configError(`${path}.operator`, `one of ${FILTER_OPERATORS.join(', ')}`, operator);
  }
  const op = operator as FilterOperator;
  const value = input.value;
  const at = `${path}.value`;
  switch (positiveOf(op)) {
    case 'eq':
      if (typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value)) return { key, operator: op, value };
      throw configError(at, `a string, a finite number or a boolean for operator ${op}`, value);
    case 'lt':
    case 'leq':
    case 'gt':
    case 'geq':
      if (isFiniteNumber(value)) return { key, operator: op, value };
      throw configError(at, `a finite number for operator ${op}`, value);
    case 'startsWith':
    case 'endsWith':
    case 'contains':
      if (typeof value === 'string') return { key, operator: op, value };
      throw configError(at, `a string for operator ${op}`, value);
    case 'in': {
      if (!Array.isArray(value) || value.length === 0) throw configError(at, `a non-empty array of strings and numbers for operator ${op}`, value);
      if (value.length > MAX_IN_VALUES) throw configProblem(at, `lists ${value.length} values; an ${op} list may have at most ${MAX_IN_VALUES}`);
      const values: (string | number)[] = [];
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item !== 'string' && !isFiniteNumber(item)) throw configError(`${at}[${i}]`, 'a string or a finite number', item);
        values.push(item);
      }
      return { key, operator: op, value: values };
    }
  }
}

function compileNode(node: FilterNode): EventPredicate {
  if ('and' in node) return allOf(node.and.map(compileNode));
  if ('or' in node) return anyOf(node.or.map(compileNode));
  const positive = compilePositive(positiveOf(node.operator), node.value, fieldReader(node.key));
  return node.operator.startsWith('!') ? (event) => !positive(event) : positive;
}

function compilePositive(op: PositiveOperator, value: FilterCondition['value'], read: (event: Record<string, unknown>) => unknown): EventPredicate {
  switch (op) {
    case 'eq': {
      if (typeof value !== 'number') return (event) => read(event) === value;
      const big = Number.isInteger(value) ? BigInt(value) : undefined;
      return (event) => {
        const x = read(event);
        return x === value || (typeof x === 'bigint' && x === big);
      };
    }
    // Relational operators compare a bigint with a number by value, as JS does; other types are false.
    case 'lt':
      return (event) => {
        const x = read(event);
        return (typeof x === 'number' || typeof x === 'bigint') && x < (value as number);
      };
    case 'leq':
      return (event) => {
        const x = read(event);
        return (typeof x === 'number' || typeof x === 'bigint') && x <= (value as number);
      };
    case 'gt':
      return (event) => {
        const x = read(event);
        return (typeof x === 'number' || typeof x === 'bigint') && x > (value as number);
      };
    case 'geq':
      return (event) => {
        const x = read(event);
        return (typeof x === 'number' || typeof x === 'bigint') && x >= (value as number);
      };
    case 'startsWith': {
      const s = value as string;
      return (event) => {
        const x = read(event);
        return typeof x === 'string' && x.startsWith(s);
      };
    }
    case 'endsWith': {
      const s = value as string;
      return (event) => {
        const x = read(event);
        return typeof x === 'string' && x.endsWith(s);
      };
    }
    case 'contains': {
      const s = value as string;
      return (event) => {
        const x = read(event);
        return typeof x === 'string' && x.includes(s);
      };
    }
    case 'in': {
      const values = value as (string | number)[];
      const set = new Set<unknown>(values);
      const bigs = new Set<bigint>();
      for (const v of values) if (typeof v === 'number' && Number.isInteger(v)) bigs.add(BigInt(v));
      return (event) => {
        const x = read(event);
        return set.has(x) || (typeof x === 'bigint' && bigs.has(x));
      };
    }
  }
}

function allOf(predicates: EventPredicate[]): EventPredicate {
  if (predicates.length === 1) return predicates[0]!;
  if (predicates.length === 2) {
    const [a, b] = predicates as [EventPredicate, EventPredicate];
    return (event) => a(event) && b(event);
  }
  return (event) => {
    for (let i = 0; i < predicates.length; i++) if (!predicates[i]!(event)) return false;
    return true;
  };
}

function anyOf(predicates: EventPredicate[]): EventPredicate {
  if (predicates.length === 1) return predicates[0]!;
  if (predicates.length === 2) {
    const [a, b] = predicates as [EventPredicate, EventPredicate];
    return (event) => a(event) || b(event);
  }
  return (event) => {
    for (let i = 0; i < predicates.length; i++) if (predicates[i]!(event)) return true;
    return false;
  };
}

function positiveOf(op: FilterOperator): PositiveOperator {
  return (op.startsWith('!') ? op.slice(1) : op) as PositiveOperator;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys come from config files: a strange one is shown quoted. */
function shownKey(key: string): string {
  return /^[A-Za-z0-9_$]{1,64}$/.test(key) ? key : JSON.stringify(key.slice(0, 64));
}
