/** choosePlan: every benchmark's `--quick`, and an unknown argument named with the options the benchmark has. */
import { describe, expect, it } from 'vitest';
import { choosePlan } from '../bench/plan.js';

describe('choosePlan', () => {
  it('takes the full plan without arguments and the quick one with --quick', () => {
    expect(choosePlan([], 'full', 'quick')).toBe('full');
    expect(choosePlan(['--quick'], 'full', 'quick')).toBe('quick');
  });

  it('refuses an unknown argument, naming every option of the benchmark', () => {
    expect(() => choosePlan(['--fast'], 1, 2)).toThrow('unknown argument "--fast"; the options are --quick');
    // bench:pipeline takes --dir D out of argv first: a misspelt option names it too.
    expect(() => choosePlan(['--dri', '/tmp'], 1, 2, ['--dir D'])).toThrow('unknown argument "--dri"; the options are --quick, --dir D');
  });
});
