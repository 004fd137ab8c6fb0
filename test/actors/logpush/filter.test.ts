import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Filter, FilterCondition, FilterNode, FilterOperator } from '../../../src/actors/job.js';
import {
  FILTER_OPERATORS,
  MAX_FILTER_CONDITIONS,
  MAX_FILTER_DEPTH,
  compileFilter,
  validateFilter,
} from '../../../src/actors/logpush/filter.js';
import { LogpushError } from '../../../src/actors/logpush/errors.js';

const where = (node: FilterNode): Filter => ({ where: node });
const cond = (key: string, operator: FilterOperator, value: FilterCondition['value']): FilterCondition => ({ key, operator, value });
const test1 = (c: FilterCondition, event: Record<string, unknown>): boolean => compileFilter(where(c))(event);

/** The validation error for `input`, checked to be ours and to carry a path. */
function refusal(input: unknown): LogpushError {
  try {
    validateFilter(input);
  } catch (error) {
    expect(error).toBeInstanceOf(LogpushError);
    expect((error as LogpushError).code).toBe('ERR_LOGPUSH_CONFIG');
    return error as LogpushError;
  }
  throw new Error(`filter ${JSON.stringify(input)} was accepted`);
}

describe('compileFilter: operators', () => {
  const event = { ClientCountry: 'ca', EdgeResponseStatus: 404, Big: 1731578400123456789n, Cached: true, Host: 'www.example.com' };

  it('keeps every event without a filter', () => {
    expect(compileFilter(undefined)({})).toBe(true);
  });

  it('eq and !eq compare strictly: no coercion between "404" and 404', () => {
    expect(test1(cond('ClientCountry', 'eq', 'ca'), event)).toBe(true);
    expect(test1(cond('ClientCountry', 'eq', 'us'), event)).toBe(false);
    expect(test1(cond('EdgeResponseStatus', 'eq', 404), event)).toBe(true);
    expect(test1(cond('EdgeResponseStatus', 'eq', '404'), event)).toBe(false);
    expect(test1(cond('Cached', 'eq', true), event)).toBe(true);
    expect(test1(cond('ClientCountry', '!eq', 'ca'), event)).toBe(false);
    expect(test1(cond('ClientCountry', '!eq', 'us'), event)).toBe(true);
  });

  it('compares bigint fields with numbers by value', () => {
    expect(test1(cond('Big', 'gt', 1731578400000000000), event)).toBe(true);
    expect(test1(cond('Big', 'lt', 1731578400000000000), event)).toBe(false);
    expect(test1(cond('Small', 'eq', 7), { Small: 7n })).toBe(true);
    expect(test1(cond('Small', 'in', [1, 7]), { Small: 7n })).toBe(true);
    expect(test1(cond('Small', '!in', [1, 7]), { Small: 7n })).toBe(false);
  });

  it('lt, leq, gt, geq on numbers; other types never match', () => {
    expect(test1(cond('EdgeResponseStatus', 'lt', 500), event)).toBe(true);
    expect(test1(cond('EdgeResponseStatus', 'lt', 404), event)).toBe(false);
    expect(test1(cond('EdgeResponseStatus', 'leq', 404), event)).toBe(true);
    expect(test1(cond('EdgeResponseStatus', 'gt', 404), event)).toBe(false);
    expect(test1(cond('EdgeResponseStatus', 'gt', 400), event)).toBe(true);
    expect(test1(cond('EdgeResponseStatus', 'geq', 404), event)).toBe(true);
    expect(test1(cond('EdgeResponseStatus', 'geq', 405), event)).toBe(false);
    expect(test1(cond('ClientCountry', 'lt', 5), event)).toBe(false);
    expect(test1(cond('ClientCountry', 'geq', 5), event)).toBe(false);
  });

  it('startsWith, endsWith, contains and their negations, case-sensitively', () => {
    expect(test1(cond('Host', 'startsWith', 'www.'), event)).toBe(true);
    expect(test1(cond('Host', 'startsWith', 'WWW.'), event)).toBe(false);
    expect(test1(cond('Host', '!startsWith', 'www.'), event)).toBe(false);
    expect(test1(cond('Host', 'endsWith', '.com'), event)).toBe(true);
    expect(test1(cond('Host', '!endsWith', '.com'), event)).toBe(false);
    expect(test1(cond('Host', '!endsWith', '.org'), event)).toBe(true);
    expect(test1(cond('Host', 'contains', 'example'), event)).toBe(true);
    expect(test1(cond('Host', 'contains', 'Example'), event)).toBe(false);
    expect(test1(cond('Host', '!contains', 'example'), event)).toBe(false);
    // A number under a string operator: the comparison is false, its negation true.
    expect(test1(cond('EdgeResponseStatus', 'startsWith', '4'), event)).toBe(false);
    expect(test1(cond('EdgeResponseStatus', '!startsWith', '4'), event)).toBe(true);
  });

  it('in and !in', () => {
    expect(test1(cond('ClientCountry', 'in', ['us', 'ca']), event)).toBe(true);
    expect(test1(cond('ClientCountry', 'in', ['us', 'gb']), event)).toBe(false);
    expect(test1(cond('EdgeResponseStatus', 'in', [403, 404]), event)).toBe(true);
    expect(test1(cond('EdgeResponseStatus', 'in', ['404']), event)).toBe(false);
    expect(test1(cond('ClientCountry', '!in', ['us', 'ca']), event)).toBe(false);
    expect(test1(cond('ClientCountry', '!in', ['us', 'gb']), event)).toBe(true);
  });

  it('a missing or null field: every comparison false, every negation true', () => {
    for (const e of [{}, { Missing: null }]) {
      for (const [op, value] of [
        ['eq', 'x'],
        ['lt', 1],
        ['leq', 1],
        ['gt', 1],
        ['geq', 1],
        ['startsWith', ''],
        ['endsWith', ''],
        ['contains', ''],
        ['in', ['x', 1]],
      ] as const) {
        expect(test1(cond('Missing', op, value as FilterCondition['value']), e)).toBe(false);
        // lt, leq, gt, geq have no negated form.
        if (FILTER_OPERATORS.includes(`!${op}` as FilterOperator)) {
          expect(test1(cond('Missing', `!${op}` as FilterOperator, value as FilterCondition['value']), e)).toBe(true);
        }
      }
    }
  });

  it('reads inherited names (constructor, toString) as missing unless the event has them', () => {
    expect(test1(cond('constructor', 'eq', 'x'), {})).toBe(false);
    expect(test1(cond('constructor', '!eq', 'x'), {})).toBe(true);
    expect(test1(cond('toString', 'contains', ''), {})).toBe(false);
    expect(test1(cond('constructor', 'eq', 'x'), { constructor: 'x' })).toBe(true);
  });
});

describe('compileFilter: and/or', () => {
  const errors = where({
    and: [
      cond('ClientCountry', 'in', ['us', 'ca']),
      { or: [cond('EdgeResponseStatus', 'geq', 500), { and: [cond('EdgeResponseStatus', 'eq', 404), cond('Path', 'startsWith', '/api')] }] },
    ],
  });
  const keep = compileFilter(errors);

  it('nests and inside or inside and', () => {
    expect(keep({ ClientCountry: 'us', EdgeResponseStatus: 502 })).toBe(true);
    expect(keep({ ClientCountry: 'ca', EdgeResponseStatus: 404, Path: '/api/v1' })).toBe(true);
    expect(keep({ ClientCountry: 'ca', EdgeResponseStatus: 404, Path: '/static' })).toBe(false);
    expect(keep({ ClientCountry: 'gb', EdgeResponseStatus: 502 })).toBe(false);
    expect(keep({ ClientCountry: 'us', EdgeResponseStatus: 200 })).toBe(false);
  });

  it('handles one, two and many children alike', () => {
    const t = cond('A', 'eq', 1);
    const f = cond('A', 'eq', 2);
    for (const n of [1, 2, 3, 7]) {
      const allTrue = Array.from({ length: n }, () => t);
      const lastFalse = [...allTrue.slice(1), f];
      expect(compileFilter(where({ and: allTrue }))({ A: 1 })).toBe(true);
      expect(compileFilter(where({ and: lastFalse }))({ A: 1 })).toBe(false);
      expect(compileFilter(where({ or: lastFalse }))({ A: 1 })).toBe(n > 1);
      expect(compileFilter(where({ or: lastFalse.map(() => f) }))({ A: 1 })).toBe(false);
    }
  });

  it('accepts the filter as Cloudflare API JSON text', () => {
    const text = JSON.stringify({ where: { and: [{ key: 'ClientCountry', operator: '!eq', value: 'ca' }] } });
    expect(validateFilter(text)).toEqual({ where: { and: [cond('ClientCountry', '!eq', 'ca')] } });
  });
});

describe('validateFilter', () => {
  it('refuses an unknown operator, naming the path and the value', () => {
    const error = refusal({ where: { and: [cond('A', 'eq', 1), { key: 'B', operator: 'like', value: 'x' }] } });
    expect(error.path).toBe('filter.where.and[1].operator');
    expect(error.message).toContain('"like"');
    expect(error.message).toContain('filter.where.and[1].operator');
  });

  it('refuses a value of the wrong type for its operator', () => {
    expect(refusal(where(cond('A', 'lt', '5'))).path).toBe('filter.where.value');
    expect(refusal(where(cond('A', 'startsWith', 5))).message).toMatch(/a string for operator startsWith, got 5/);
    expect(refusal(where(cond('A', 'eq', [1]))).path).toBe('filter.where.value');
    expect(refusal(where({ key: 'A', operator: 'eq', value: null } as unknown as FilterNode)).message).toContain('got null');
    expect(refusal(where(cond('A', 'gt', Number.NaN))).path).toBe('filter.where.value');
  });

  it('needs a non-empty array of strings and numbers for in and !in', () => {
    expect(refusal(where(cond('A', 'in', 'us'))).message).toContain('non-empty array');
    expect(refusal(where(cond('A', '!in', []))).path).toBe('filter.where.value');
    expect(refusal(where(cond('A', 'in', ['us', true] as unknown as string[]))).path).toBe('filter.where.value[1]');
  });

  it('refuses an empty and/or', () => {
    expect(refusal({ where: { and: [] } }).message).toMatch(/filter\.where\.and is empty/);
    expect(refusal({ where: { or: [cond('A', 'eq', 1), { or: [] }] } }).path).toBe('filter.where.or[1].or');
  });

  it(`refuses and/or nested deeper than ${MAX_FILTER_DEPTH}`, () => {
    const nest = (levels: number): FilterNode => {
      let node: FilterNode = cond('A', 'eq', 1);
      for (let i = 0; i < levels; i++) node = { and: [node] };
      return node;
    };
    expect(() => validateFilter(where(nest(MAX_FILTER_DEPTH)))).not.toThrow();
    const error = refusal(where(nest(MAX_FILTER_DEPTH + 1)));
    expect(error.message).toContain(`${MAX_FILTER_DEPTH + 1} deep`);
  });

  it(`refuses more than ${MAX_FILTER_CONDITIONS} conditions`, () => {
    const many = (n: number): Filter => where({ or: Array.from({ length: n }, (_, i) => cond('A', 'eq', i)) });
    expect(() => validateFilter(many(MAX_FILTER_CONDITIONS))).not.toThrow();
    const error = refusal(many(MAX_FILTER_CONDITIONS + 1));
    expect(error.path).toBe(`filter.where.or[${MAX_FILTER_CONDITIONS}]`);
    expect(error.message).toContain(`at most ${MAX_FILTER_CONDITIONS}`);
  });

  it('refuses malformed nodes, keys and field names', () => {
    expect(refusal(null).path).toBe('filter');
    expect(refusal({}).message).toContain('no "where"');
    expect(refusal({ where: cond('A', 'eq', 1), limit: 3 }).path).toBe('filter.limit');
    expect(refusal({ where: { and: [cond('A', 'eq', 1)], or: [cond('A', 'eq', 1)] } }).path).toBe('filter.where.or');
    expect(refusal({ where: { ...cond('A', 'eq', 1), extra: 1 } }).path).toBe('filter.where.extra');
    expect(refusal({ where: { and: cond('A', 'eq', 1) } }).path).toBe('filter.where.and');
    expect(refusal(where(cond('1abc', 'eq', 1))).path).toBe('filter.where.key');
    expect(refusal(where(cond('a.b', 'eq', 1))).path).toBe('filter.where.key');
    expect(refusal('{"where": ').message).toContain('not JSON');
  });

  it('compileFilter validates too', () => {
    expect(() => compileFilter(where(cond('A', 'like' as FilterOperator, 1)))).toThrow(/operator/);
  });
});

// ---- property: compiled closures against a plain tree-walking interpreter ----

const KEYS = ['a', 'b', 'c', 'constructor'];
const STRINGS = ['', 'a', 'b', 'ab', 'ba', 'abc', 'ca'];

function interpret(node: FilterNode, event: Record<string, unknown>): boolean {
  if ('and' in node) return node.and.every((child) => interpret(child, event));
  if ('or' in node) return node.or.some((child) => interpret(child, event));
  const x = Object.hasOwn(event, node.key) ? event[node.key] : undefined;
  const negated = node.operator.startsWith('!');
  const op = negated ? node.operator.slice(1) : node.operator;
  const v = node.value;
  const sameAs = (a: unknown, b: unknown): boolean =>
    a === b || (typeof a === 'bigint' && typeof b === 'number' && Number.isInteger(b) && a === BigInt(b));
  const numeric = typeof x === 'number' || typeof x === 'bigint';
  let result: boolean;
  switch (op) {
    case 'eq':
      result = sameAs(x, v);
      break;
    case 'in':
      result = (v as (string | number)[]).some((item) => sameAs(x, item));
      break;
    case 'lt':
      result = numeric && Number(x) < (v as number);
      break;
    case 'leq':
      result = numeric && Number(x) <= (v as number);
      break;
    case 'gt':
      result = numeric && Number(x) > (v as number);
      break;
    case 'geq':
      result = numeric && Number(x) >= (v as number);
      break;
    case 'startsWith':
      result = typeof x === 'string' && x.slice(0, (v as string).length) === v;
      break;
    case 'endsWith':
      result = typeof x === 'string' && x.length >= (v as string).length && x.slice(x.length - (v as string).length) === v;
      break;
    case 'contains':
      result = typeof x === 'string' && x.indexOf(v as string) !== -1;
      break;
    default:
      throw new Error(`interpreter: unknown operator ${node.operator}`);
  }
  return negated ? !result : result;
}

const smallInt = fc.integer({ min: -3, max: 3 });
const fieldValue = fc.oneof(
  fc.constantFrom(...STRINGS),
  smallInt,
  fc.double({ min: -3, max: 3, noNaN: true }),
  fc.boolean(),
  smallInt.map((n) => BigInt(n)),
  fc.constant(null),
);
const event = fc.dictionary(fc.constantFrom(...KEYS), fieldValue, { maxKeys: 4 });

const condition: fc.Arbitrary<FilterCondition> = fc.constantFrom(...FILTER_OPERATORS).chain((operator) => {
  const key = fc.constantFrom(...KEYS);
  const base = operator.replace('!', '');
  const value: fc.Arbitrary<FilterCondition['value']> =
    base === 'eq'
      ? fc.oneof(fc.constantFrom(...STRINGS), smallInt, fc.boolean())
      : base === 'in'
        ? fc.array(fc.oneof(fc.constantFrom(...STRINGS), smallInt), { minLength: 1, maxLength: 4 })
        : ['lt', 'leq', 'gt', 'geq'].includes(base)
          ? fc.oneof(smallInt, fc.double({ min: -3, max: 3, noNaN: true }))
          : fc.constantFrom(...STRINGS);
  return fc.record({ key, operator: fc.constant(operator), value });
});

const { node } = fc.letrec<{ node: FilterNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    condition,
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }).map((and) => ({ and })),
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }).map((or) => ({ or })),
  ),
}));

describe('compileFilter (property)', () => {
  it('agrees with a tree-walking interpreter on random filters and events', () => {
    fc.assert(
      fc.property(node, fc.array(event, { minLength: 1, maxLength: 20 }), (tree, events) => {
        const filter = where(tree);
        let valid = true;
        try {
          validateFilter(filter);
        } catch {
          valid = false; // a random tree may exceed the depth or condition limits
        }
        fc.pre(valid);
        const keep = compileFilter(filter);
        for (const e of events) expect(keep(e)).toBe(interpret(tree, e));
      }),
      { numRuns: 2000 },
    );
  });

  it('every negated operator is the exact negation of its positive form', () => {
    fc.assert(
      fc.property(condition, event, (c, e) => {
        fc.pre(!['lt', 'leq', 'gt', 'geq'].includes(c.operator));
        const negated = (c.operator.startsWith('!') ? c.operator.slice(1) : `!${c.operator}`) as FilterOperator;
        expect(test1(c, e)).toBe(!test1({ ...c, operator: negated }, e));
      }),
      { numRuns: 2000 },
    );
  });
});
