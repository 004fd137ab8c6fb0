/** choosePlan: every benchmark's `--quick`, and an unknown argument named with the options the benchmark has; takeOption: a benchmark's own options. */
import { describe, expect, it } from 'vitest';
import { choosePlan, takeOption, wholeNumber } from '../bench/plan.js';

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

describe('takeOption', () => {
  it('takes an option and its value out of argv, leaving the rest for choosePlan', () => {
    const argv = ['--runs', '3', '--quick', '--settle', '0'];
    expect(takeOption(argv, '--runs', 'a whole number from 1 to 9', 1, wholeNumber(1, 9))).toBe(3);
    expect(takeOption(argv, '--settle', 'seconds', 60, wholeNumber(0, 600))).toBe(0);
    expect(argv).toEqual(['--quick']);
    expect(choosePlan(argv, 'full', 'quick')).toBe('quick');
  });

  it('gives the fallback when the option is not there', () => {
    const argv = ['--quick'];
    expect(takeOption(argv, '--settle', 'seconds', 60, wholeNumber(0, 600))).toBe(60);
    expect(argv).toEqual(['--quick']);
  });

  it('refuses a missing or out-of-range value, naming the option and what it takes', () => {
    const whole = wholeNumber(1, 9);
    expect(() => takeOption(['--runs'], '--runs', 'a whole number from 1 to 9', 1, whole)).toThrow('--runs needs a whole number from 1 to 9, got null');
    expect(() => takeOption(['--runs', '--quick'], '--runs', 'a whole number from 1 to 9', 1, whole)).toThrow('got "--quick"');
    for (const bad of ['0', '10', '2.5', '-1', '1e0', ' 3', '']) {
      expect(() => takeOption(['--runs', bad], '--runs', 'a whole number from 1 to 9', 1, whole)).toThrow(`--runs needs a whole number from 1 to 9, got ${JSON.stringify(bad)}`);
    }
    expect(() => takeOption(['--settle', '601'], '--settle', 'a whole number of seconds from 0 to 600', null, wholeNumber(0, 600))).toThrow('--settle needs a whole number of seconds from 0 to 600, got "601"');
  });
});
