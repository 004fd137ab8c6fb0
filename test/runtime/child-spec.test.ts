import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CHILD_DEFAULTS,
  SPEC_LIMITS,
  SUPERVISOR_DEFAULTS,
  validateSupervisorSpec,
  type NormalizedChildSpec,
  type NormalizedSupervisorSpec,
} from '../../src/runtime/child-spec.js';
import { SpecError } from '../../src/runtime/errors.js';

const worker = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  type: 'worker',
  module: './actors/echo.js',
  ...extra,
});
const tree = (extra: Record<string, unknown> = {}, children: unknown[] = [worker('a')]): Record<string, unknown> => ({
  id: 'root',
  type: 'supervisor',
  children,
  ...extra,
});

/** Validates `input` expecting a SpecError with exactly this path and message. */
function specFailure(input: unknown): SpecError {
  try {
    validateSupervisorSpec(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).code).toBe('ERR_SPEC');
    return error as SpecError;
  }
  throw new Error('expected a SpecError, the spec was accepted');
}

function expectSpecError(input: unknown, path: string, message: string): void {
  const error = specFailure(input);
  expect(error.message).toBe(message);
  expect(error.path).toBe(path);
}

const firstChild = (spec: NormalizedSupervisorSpec): NormalizedChildSpec => {
  const child = spec.children[0];
  if (child?.type !== 'worker') throw new Error('first child is not a worker');
  return child;
};

describe('validateSupervisorSpec: defaults', () => {
  it('fills in every default of a minimal tree', () => {
    expect(validateSupervisorSpec(tree())).toEqual({
      id: 'root',
      type: 'supervisor',
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 5000,
      backoff: { minMs: 10, maxMs: 2000, jitter: 0.2 },
      stableMs: 10_000,
      restart: 'permanent',
      shutdownMs: 5000,
      children: [
        {
          id: 'a',
          type: 'worker',
          module: './actors/echo.js',
          args: undefined,
          restart: 'permanent',
          shutdownMs: 5000,
          heartbeatTimeoutMs: 5000,
          resourceLimits: { maxOldGenerationSizeMb: 512 },
          sendsTo: [],
          mailboxBytes: 1 << 20,
        },
      ],
    });
    expect(SUPERVISOR_DEFAULTS.intensity).toBe(3);
    expect(CHILD_DEFAULTS.maxOldGenerationSizeMb).toBe(512);
  });

  it('keeps values that are given, and treats a key set to undefined as absent', () => {
    const spec = validateSupervisorSpec(
      tree({ strategy: 'rest_for_one', intensity: 0, periodMs: 1, stableMs: 0, restart: 'transient', shutdownMs: 0 }, [
        worker('a', {
          args: { n: 1 },
          restart: undefined,
          shutdownMs: 0,
          heartbeatTimeoutMs: 100,
          resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
          sendsTo: ['b'],
          mailboxBytes: 1024,
        }),
      ]),
    );
    expect(spec).toMatchObject({ strategy: 'rest_for_one', intensity: 0, periodMs: 1, stableMs: 0, restart: 'transient', shutdownMs: 0 });
    expect(firstChild(spec)).toMatchObject({
      args: { n: 1 },
      restart: 'permanent',
      shutdownMs: 0,
      heartbeatTimeoutMs: 100,
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
      sendsTo: ['b'],
      mailboxBytes: 1024,
    });
  });

  it('fills in the rest of a partial backoff and resourceLimits', () => {
    const spec = validateSupervisorSpec(tree({ backoff: { jitter: 0 } }, [worker('a', { resourceLimits: { maxYoungGenerationSizeMb: 16 } })]));
    expect(spec.backoff).toEqual({ minMs: 10, maxMs: 2000, jitter: 0 });
    expect(firstChild(spec).resourceLimits).toEqual({ maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 16 });
  });

  it('raises the default maxMs to a minMs above it instead of failing on a key never written', () => {
    expect(validateSupervisorSpec(tree({ backoff: { minMs: 5000 } })).backoff).toEqual({ minMs: 5000, maxMs: 5000, jitter: 0.2 });
  });

  it("gives a supervisor the sum of its children's shutdownMs by default, so the last child gets its turn", () => {
    const spec = validateSupervisorSpec(
      tree({}, [
        worker('a', { shutdownMs: 4000 }),
        { id: 'sub', type: 'supervisor', children: [worker('b', { shutdownMs: 3000 }), worker('c', { shutdownMs: 3000 })] },
      ]),
    );
    const sub = spec.children[1] as NormalizedSupervisorSpec;
    expect(sub.shutdownMs).toBe(6000);
    expect(spec.shutdownMs).toBe(10_000);
    expect(validateSupervisorSpec(tree({}, [])).shutdownMs).toBe(5000);
    expect(validateSupervisorSpec(tree({}, [worker('a', { shutdownMs: SPEC_LIMITS.maxDurationMs }), worker('b')])).shutdownMs).toBe(
      SPEC_LIMITS.maxDurationMs,
    );
  });

  it('validates nested supervisors with their own defaults', () => {
    const spec = validateSupervisorSpec(
      tree({ strategy: 'one_for_all' }, [{ id: 'sub', type: 'supervisor', children: [worker('a')] }, worker('b')]),
    );
    expect(spec.children.map((c) => [c.id, c.type])).toEqual([['sub', 'supervisor'], ['b', 'worker']]);
    expect(spec.children[0]).toMatchObject({ strategy: 'one_for_one', intensity: 3, restart: 'permanent' });
  });

  it('returns frozen data that does not share mutable state with the input', () => {
    const args = { zones: ['a'] };
    const module = new URL('file:///srv/actor.js');
    const input = tree({}, [worker('a', { args, module })]);
    const spec = validateSupervisorSpec(input);
    args.zones.push('b');
    module.pathname = '/elsewhere.js';
    const child = firstChild(spec);
    expect(child.args).toEqual({ zones: ['a'] });
    expect(String(child.module)).toBe('file:///srv/actor.js');
    expect(Object.isFrozen(spec) && Object.isFrozen(spec.children) && Object.isFrozen(child)).toBe(true);
    expect(Object.isFrozen(spec.backoff) && Object.isFrozen(child.resourceLimits)).toBe(true);
  });

  it('reads own properties only', () => {
    const inherited = Object.assign(Object.create({ restart: 'always', bogus: 1 }) as object, worker('a'));
    expect(firstChild(validateSupervisorSpec(tree({}, [inherited]))).restart).toBe('permanent');
  });

  it('accepts the limits themselves: depth 16, 1024 children, ids of 64 characters', () => {
    let spec: Record<string, unknown> = tree();
    for (let depth = 2; depth <= SPEC_LIMITS.maxDepth; depth++) spec = tree({ id: `s${depth}` }, [spec]);
    expect(() => validateSupervisorSpec(spec)).not.toThrow();
    const many = Array.from({ length: SPEC_LIMITS.maxChildren }, (_, i) => worker(`w${i}`));
    expect(validateSupervisorSpec(tree({}, many)).children).toHaveLength(1024);
    expect(validateSupervisorSpec(tree({ id: 'x'.repeat(64) })).id).toHaveLength(64);
    expect(validateSupervisorSpec(tree({ id: 'Log_fwdr-2.a' })).id).toBe('Log_fwdr-2.a');
  });
});

describe('validateSupervisorSpec: errors name the path and the value', () => {
  const cases: [string, unknown, string, string][] = [
    ['not an object', null, '', 'supervisor spec must be a supervisor spec object, got null'],
    ['an array', [], '', 'supervisor spec must be a supervisor spec object, got an array of length 0'],
    ['root of another type', tree({ type: 'worker' }), 'type', 'supervisor spec: type must be "supervisor" (the root of a tree is a supervisor), got "worker"'],
    ['missing id', tree({ id: undefined }), 'id', 'supervisor spec: id must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -, got undefined'],
    ['empty id', tree({ id: '' }), 'id', 'supervisor spec: id must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -, got ""'],
    ['id with a slash', tree({ id: 'a/b' }), 'id', 'supervisor spec: id must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -, got "a/b"'],
    ['id too long', tree({ id: 'x'.repeat(65) }), 'id', `supervisor spec: id must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -, got "${'x'.repeat(60)}"… (65 characters)`],
    ['id a number', tree({ id: 7 }), 'id', 'supervisor spec: id must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -, got 7'],
    ['strategy', tree({ strategy: 'one_for_rest' }), 'strategy', 'supervisor spec: strategy must be one of one_for_one | one_for_all | rest_for_one, got "one_for_rest"'],
    ['intensity fractional', tree({ intensity: 1.5 }), 'intensity', 'supervisor spec: intensity must be an integer >= 0 and <= 10000, got 1.5'],
    ['intensity negative', tree({ intensity: -1 }), 'intensity', 'supervisor spec: intensity must be an integer >= 0 and <= 10000, got -1'],
    ['intensity a string', tree({ intensity: '3' }), 'intensity', 'supervisor spec: intensity must be an integer >= 0 and <= 10000, got "3"'],
    ['intensity too large', tree({ intensity: 10_001 }), 'intensity', 'supervisor spec: intensity must be an integer >= 0 and <= 10000, got 10001'],
    ['periodMs zero', tree({ periodMs: 0 }), 'periodMs', 'supervisor spec: periodMs must be a number of ms > 0 and <= 2147483647, got 0'],
    ['periodMs NaN', tree({ periodMs: NaN }), 'periodMs', 'supervisor spec: periodMs must be a number of ms > 0 and <= 2147483647, got NaN'],
    ['periodMs Infinity', tree({ periodMs: Infinity }), 'periodMs', 'supervisor spec: periodMs must be a number of ms > 0 and <= 2147483647, got Infinity'],
    ['stableMs negative', tree({ stableMs: -5 }), 'stableMs', 'supervisor spec: stableMs must be a number of ms >= 0 and <= 2147483647, got -5'],
    ['shutdownMs past setTimeout', tree({ shutdownMs: 2 ** 31 }), 'shutdownMs', 'supervisor spec: shutdownMs must be a number of ms >= 0 and <= 2147483647, got 2147483648'],
    ['backoff not an object', tree({ backoff: 100 }), 'backoff', 'supervisor spec: backoff must be an object with minMs, maxMs and jitter, got 100'],
    ['backoff.minMs negative', tree({ backoff: { minMs: -1 } }), 'backoff.minMs', 'supervisor spec: backoff.minMs must be a number of ms >= 0 and <= 2147483647, got -1'],
    ['backoff.maxMs below minMs', tree({ backoff: { minMs: 100, maxMs: 50 } }), 'backoff.maxMs', 'supervisor spec: backoff.maxMs must be a number of ms >= backoff.minMs (100) and <= 2147483647, got 50'],
    ['backoff.maxMs below default minMs', tree({ backoff: { maxMs: 5 } }), 'backoff.maxMs', 'supervisor spec: backoff.maxMs must be a number of ms >= backoff.minMs (10) and <= 2147483647, got 5'],
    ['backoff.jitter above 1', tree({ backoff: { jitter: 1.5 } }), 'backoff.jitter', 'supervisor spec: backoff.jitter must be a number >= 0 and <= 1, got 1.5'],
    ['backoff.jitter negative', tree({ backoff: { jitter: -0.1 } }), 'backoff.jitter', 'supervisor spec: backoff.jitter must be a number >= 0 and <= 1, got -0.1'],
    ['children missing', tree({ children: undefined }), 'children', 'supervisor spec: children must be an array of at most 1024 child specs, got undefined'],
    ['children an object', tree({ children: {} }), 'children', 'supervisor spec: children must be an array of at most 1024 child specs, got {}'],
    ['too many children', tree({}, Array.from({ length: 1025 }, (_, i) => worker(`w${i}`))), 'children', 'supervisor spec: children must be an array of at most 1024 child specs, got an array of length 1025'],
    ['a child not an object', tree({}, [worker('a'), 'b']), 'children[1]', 'supervisor spec: children[1] must be a child spec object, got "b"'],
    ['a hole in children', tree({}, [worker('a'), undefined]), 'children[1]', 'supervisor spec: children[1] must be a child spec object, got undefined'],
    ['child type missing', tree({}, [{ id: 'a', module: 'm.js' }]), 'children[0].type', 'supervisor spec: children[0].type must be one of worker | supervisor, got undefined'],
    ['child type unknown', tree({}, [worker('a', { type: 'actor' })]), 'children[0].type', 'supervisor spec: children[0].type must be one of worker | supervisor, got "actor"'],
    ['child id', tree({}, [worker('a'), worker('b c')]), 'children[1].id', 'supervisor spec: children[1].id must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -, got "b c"'],
    ['module missing', tree({}, [worker('a', { module: undefined })]), 'children[0].module', 'supervisor spec: children[0].module must be a non-empty module path or a URL, got undefined'],
    ['module empty', tree({}, [worker('a', { module: '' })]), 'children[0].module', 'supervisor spec: children[0].module must be a non-empty module path or a URL, got ""'],
    ['module an object', tree({}, [worker('a', { module: { href: 'x' } })]), 'children[0].module', 'supervisor spec: children[0].module must be a non-empty module path or a URL, got {"href":"x"}'],
    ['restart', tree({}, [worker('a'), worker('b'), worker('c', { restart: 'always' })]), 'children[2].restart', 'supervisor spec: children[2].restart must be one of permanent | transient | temporary, got "always"'],
    ['supervisor restart', tree({ restart: true }), 'restart', 'supervisor spec: restart must be one of permanent | transient | temporary, got true'],
    ['child shutdownMs', tree({}, [worker('a', { shutdownMs: -1 })]), 'children[0].shutdownMs', 'supervisor spec: children[0].shutdownMs must be a number of ms >= 0 and <= 2147483647, got -1'],
    ['heartbeatTimeoutMs too short', tree({}, [worker('a', { heartbeatTimeoutMs: 99 })]), 'children[0].heartbeatTimeoutMs', 'supervisor spec: children[0].heartbeatTimeoutMs must be a number of ms >= 100 and <= 2147483647, got 99'],
    ['resourceLimits not an object', tree({}, [worker('a', { resourceLimits: [] })]), 'children[0].resourceLimits', 'supervisor spec: children[0].resourceLimits must be an object of worker resource limits, got an array of length 0'],
    ['old generation zero', tree({}, [worker('a', { resourceLimits: { maxOldGenerationSizeMb: 0 } })]), 'children[0].resourceLimits.maxOldGenerationSizeMb', 'supervisor spec: children[0].resourceLimits.maxOldGenerationSizeMb must be a finite number of MB > 0, got 0'],
    ['old generation unlimited', tree({}, [worker('a', { resourceLimits: { maxOldGenerationSizeMb: Infinity } })]), 'children[0].resourceLimits.maxOldGenerationSizeMb', 'supervisor spec: children[0].resourceLimits.maxOldGenerationSizeMb must be a finite number of MB > 0, got Infinity'],
    ['young generation', tree({}, [worker('a', { resourceLimits: { maxYoungGenerationSizeMb: '8' } })]), 'children[0].resourceLimits.maxYoungGenerationSizeMb', 'supervisor spec: children[0].resourceLimits.maxYoungGenerationSizeMb must be a finite number of MB > 0, got "8"'],
    ['args a function', tree({}, [worker('a', { args: { f: () => 1 } })]), 'children[0].args', 'supervisor spec: children[0].args must be structured-cloneable (() => 1 could not be cloned.), got {}'],
    ['args a symbol', tree({}, [worker('a', { args: Symbol('s') })]), 'children[0].args', 'supervisor spec: children[0].args must be structured-cloneable (Symbol(s) could not be cloned.), got Symbol(s)'],
    ['sendsTo not an array', tree({}, [worker('a', { sendsTo: 'b' })]), 'children[0].sendsTo', 'supervisor spec: children[0].sendsTo must be an array of at most 1024 actor ids, got "b"'],
    ['sendsTo with a bad id', tree({}, [worker('a', { sendsTo: ['b', 'c d'] })]), 'children[0].sendsTo[1]', 'supervisor spec: children[0].sendsTo[1] must be an actor id, got "c d"'],
    ['sendsTo with a hole', tree({}, [worker('a', { sendsTo: [, 'b'] })]), 'children[0].sendsTo[0]', 'supervisor spec: children[0].sendsTo[0] must be an actor id, got undefined'],
    ['sendsTo naming one twice', tree({}, [worker('a', { sendsTo: ['b', 'c', 'b'] })]), 'children[0].sendsTo[2]', 'supervisor spec: children[0].sendsTo[2] must be named once (children[0].sendsTo[0] names it too), got "b"'],
    ['mailboxBytes not a power of two', tree({}, [worker('a', { mailboxBytes: 3000 })]), 'children[0].mailboxBytes', 'supervisor spec: children[0].mailboxBytes must be a power of two from 1024 to 1073741824, got 3000'],
    ['mailboxBytes too small', tree({}, [worker('a', { mailboxBytes: 512 })]), 'children[0].mailboxBytes', 'supervisor spec: children[0].mailboxBytes must be a power of two from 1024 to 1073741824, got 512'],
    ['mailboxBytes too large', tree({}, [worker('a', { mailboxBytes: 2 ** 31 })]), 'children[0].mailboxBytes', 'supervisor spec: children[0].mailboxBytes must be a power of two from 1024 to 1073741824, got 2147483648'],
    ['nested error', tree({}, [worker('a'), { id: 'sub', type: 'supervisor', children: [{ id: 'deep', type: 'supervisor', intensity: -2, children: [] }] }]), 'children[1].children[0].intensity', 'supervisor spec: children[1].children[0].intensity must be an integer >= 0 and <= 10000, got -2'],
  ];

  it.each(cases)('%s', (_name, input, path, message) => expectSpecError(input, path, message));

  it('reports duplicate ids among siblings with both positions', () => {
    expectSpecError(
      tree({}, [worker('a'), worker('b'), worker('a')]),
      'children[2].id',
      'supervisor spec: children[2].id must be unique among its siblings (children[0] has the same id), got "a"',
    );
    expectSpecError(
      tree({}, [worker('a'), { id: 'a', type: 'supervisor', children: [] }]),
      'children[1].id',
      'supervisor spec: children[1].id must be unique among its siblings (children[0] has the same id), got "a"',
    );
  });

  it('allows the same id under different parents', () => {
    const spec = validateSupervisorSpec(tree({}, [worker('a'), { id: 'sub', type: 'supervisor', children: [worker('a')] }]));
    expect(spec.children).toHaveLength(2);
  });

  it('rejects unknown keys at every level, suggesting the key that was meant', () => {
    const known = 'known keys: id, type, module, args, restart, shutdownMs, heartbeatTimeoutMs, resourceLimits, sendsTo, mailboxBytes';
    expectSpecError(
      tree({}, [worker('a'), worker('b', { restrat: 'permanent' })]),
      'children[1].restrat',
      `supervisor spec: children[1].restrat is not a known key of a worker spec (did you mean "restart"?); ${known}`,
    );
    expectSpecError(
      tree({}, [worker('a', { resourceLimit: {} })]),
      'children[0].resourceLimit',
      `supervisor spec: children[0].resourceLimit is not a known key of a worker spec (did you mean "resourceLimits"?); ${known}`,
    );
    expectSpecError(
      tree({ Strategy: 'one_for_all' }),
      'Strategy',
      'supervisor spec: Strategy is not a known key of a supervisor spec (did you mean "strategy"?); known keys: id, type, strategy, intensity, periodMs, backoff, stableMs, restart, shutdownMs, children',
    );
    expectSpecError(
      tree({ backoff: { min: 1 } }),
      'backoff.min',
      'supervisor spec: backoff.min is not a known key of a backoff spec (did you mean "minMs"?); known keys: minMs, maxMs, jitter',
    );
    expectSpecError(
      tree({}, [worker('a', { resourceLimits: { stackSizeMb: 4 } })]),
      'children[0].resourceLimits.stackSizeMb',
      'supervisor spec: children[0].resourceLimits.stackSizeMb is not a known key of a resourceLimits spec; known keys: maxOldGenerationSizeMb, maxYoungGenerationSizeMb',
    );
    expectSpecError(
      tree({}, [worker('a', { children: [] })]),
      'children[0].children',
      'supervisor spec: children[0].children is not a known key of a worker spec; known keys: id, type, module, args, restart, shutdownMs, heartbeatTimeoutMs, resourceLimits, sendsTo, mailboxBytes',
    );
  });

  it('quotes and cuts short a pathological unknown key', () => {
    const error = specFailure(tree({ ['k'.repeat(5000)]: 1 }));
    expect(error.path).toBe(`"${'k'.repeat(60)}"… (5000 characters)`);
    expect(error.message.length).toBeLessThan(300);
  });

  it('bounds nesting at 16 supervisors, including a spec that contains itself', () => {
    let spec: Record<string, unknown> = tree();
    for (let depth = 2; depth <= SPEC_LIMITS.maxDepth + 1; depth++) spec = tree({ id: `s${depth}` }, [spec]);
    const path = Array.from({ length: 16 }, () => 'children[0]').join('.');
    expectSpecError(spec, path, `supervisor spec: ${path} nests supervisors 17 deep; at most 16 are allowed`);

    const cyclic: Record<string, unknown> = { id: 'loop', type: 'supervisor', children: [] };
    (cyclic.children as unknown[]).push(cyclic);
    expect(specFailure(cyclic).message).toMatch(/nests supervisors 17 deep; at most 16 are allowed$/);
  });

  it('throws only SpecErrors, whatever the input (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (input) => {
        expect(specFailure(input)).toBeInstanceOf(SpecError);
      }),
    );
    const fieldValue = fc.oneof(fc.anything(), fc.constantFrom('worker', 'supervisor', 'a', './m.js', -1, 0, 1, 100, NaN));
    const child = fc.dictionary(fc.constantFrom('id', 'type', 'module', 'restart', 'shutdownMs', 'children', 'args'), fieldValue);
    fc.assert(
      fc.property(fc.array(child, { maxLength: 4 }), fc.dictionary(fc.constantFrom('strategy', 'intensity', 'backoff'), fieldValue), (children, extra) => {
        try {
          validateSupervisorSpec(tree(extra, children));
        } catch (error) {
          expect(error).toBeInstanceOf(SpecError);
        }
      }),
    );
  });

  it('accepts its own output unchanged (property)', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
    const restart = fc.constantFrom('permanent', 'transient', 'temporary');
    const ms = fc.integer({ min: 0, max: SPEC_LIMITS.maxDurationMs });
    const workerSpec = fc.record(
      { id, type: fc.constant('worker'), module: fc.constant('./m.js'), args: fc.jsonValue(), restart, shutdownMs: ms },
      { requiredKeys: ['id', 'type', 'module'] },
    );
    const unique = fc.uniqueArray(workerSpec, { selector: (w) => w.id, maxLength: 5 });
    const spec = fc.record({
      id,
      type: fc.constant('supervisor'),
      strategy: fc.constantFrom('one_for_one', 'one_for_all', 'rest_for_one'),
      intensity: fc.integer({ min: 0, max: SPEC_LIMITS.maxIntensity }),
      periodMs: fc.integer({ min: 1, max: SPEC_LIMITS.maxDurationMs }),
      children: unique,
    });
    fc.assert(
      fc.property(spec, (input) => {
        const once = validateSupervisorSpec(input);
        expect(validateSupervisorSpec(once)).toEqual(once);
      }),
    );
  });
});
