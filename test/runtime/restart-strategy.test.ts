import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { childrenToRestart, shouldRestart } from '../../src/runtime/restart-strategy.js';
import { RESTART_TYPES, STRATEGIES, type RestartType, type Strategy } from '../../src/runtime/child-spec.js';
import { RuntimeError } from '../../src/runtime/errors.js';

const ids = ['logfwdr', 'logreceiver', 'buftee', 'logpush'];

/** The definitions, written as membership rather than slicing. */
function reference(strategy: Strategy, childIds: readonly string[], failedId: string): string[] {
  const failedAt = childIds.indexOf(failedId);
  return childIds.filter((id, i) => {
    if (strategy === 'one_for_one') return id === failedId;
    if (strategy === 'one_for_all') return true;
    return i >= failedAt;
  });
}

describe('childrenToRestart', () => {
  const table: [Strategy, string, string[]][] = [
    ['one_for_one', 'logfwdr', ['logfwdr']],
    ['one_for_one', 'buftee', ['buftee']],
    ['one_for_one', 'logpush', ['logpush']],
    ['one_for_all', 'logfwdr', ids],
    ['one_for_all', 'buftee', ids],
    ['one_for_all', 'logpush', ids],
    ['rest_for_one', 'logfwdr', ids],
    ['rest_for_one', 'logreceiver', ['logreceiver', 'buftee', 'logpush']],
    ['rest_for_one', 'logpush', ['logpush']],
  ];

  it.each(table)('%s with %s failing restarts %j', (strategy, failed, expected) => {
    expect(childrenToRestart(strategy, ids, failed)).toEqual(expected);
  });

  it('handles a supervisor with a single child under every strategy', () => {
    for (const strategy of STRATEGIES) expect(childrenToRestart(strategy, ['only'], 'only')).toEqual(['only']);
  });

  it('returns a fresh array the caller may change', () => {
    const children = ['a', 'b'];
    const result = childrenToRestart('one_for_all', children, 'a');
    result.pop();
    expect(children).toEqual(['a', 'b']);
  });

  it('refuses a failure of a child it does not hold, naming the ids it has', () => {
    expect(() => childrenToRestart('one_for_one', ['a', 'b'], 'c')).toThrow(
      'child "c" is not a child of this supervisor; it has "a", "b"',
    );
    try {
      childrenToRestart('rest_for_one', [], 'c');
    } catch (error) {
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as RuntimeError).code).toBe('ERR_UNKNOWN_CHILD');
      expect((error as RuntimeError).message).toBe('child "c" is not a child of this supervisor; it has none');
    }
  });

  it('fails loudly on a strategy it does not know', () => {
    expect(() => childrenToRestart('simple_one_for_one' as Strategy, ['a'], 'a')).toThrow('unknown strategy "simple_one_for_one"');
  });

  it('matches the reference, in start order, always including the failed child (property)', () => {
    const scenario = fc
      .uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 30 })
      .chain((children) => fc.tuple(fc.constant(children), fc.constantFrom(...children), fc.constantFrom(...STRATEGIES)));
    fc.assert(
      fc.property(scenario, ([children, failed, strategy]) => {
        const result = childrenToRestart(strategy, children, failed);
        expect(result).toEqual(reference(strategy, children, failed));
        expect(result).toContain(failed);
        const positions = result.map((id) => children.indexOf(id));
        expect(positions).toEqual([...positions].sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });
});

describe('shouldRestart', () => {
  const table: [RestartType, boolean, boolean][] = [
    ['permanent', true, true],
    ['permanent', false, true],
    ['transient', true, false],
    ['transient', false, true],
    ['temporary', true, false],
    ['temporary', false, false],
  ];

  it.each(table)('%s child, normal exit %s: restart %s', (restart, normal, expected) => {
    expect(shouldRestart(restart, normal)).toBe(expected);
  });

  it('covers every restart type', () => {
    expect(new Set(table.map(([restart]) => restart))).toEqual(new Set(RESTART_TYPES));
  });

  it('fails loudly on a restart type it does not know', () => {
    expect(() => shouldRestart('always' as RestartType, false)).toThrow('unknown restart type "always"');
  });
});
