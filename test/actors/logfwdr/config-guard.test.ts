import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  ConfigGuard,
  configFingerprint,
  type ConfigGuardOptions,
  type GuardAlert,
  type GuardEvent,
  type OfferResult,
} from '../../../src/actors/logfwdr/config-guard.js';
import { tooLargeError } from '../../../src/actors/logfwdr/errors.js';
import type { Candidate } from '../../../src/actors/logfwdr/candidate.js';
import { configText, job, jobs } from './fixtures.js';

const SOURCE = '/etc/seatbelt/logfwdr.json';
const text = (body: string, source = SOURCE): Candidate => ({ kind: 'text', source, text: body });

/** A guard on a fake clock, recording its alerts and events. */
function setup(options: ConfigGuardOptions = {}) {
  const clock = { now: 1_000_000 };
  const alerts: GuardAlert[] = [];
  const events: GuardEvent[] = [];
  const guard = new ConfigGuard({
    now: () => clock.now,
    onAlert: (alert) => alerts.push(alert),
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { guard, clock, alerts, events };
}

function refused(result: OfferResult | undefined): Extract<OfferResult, { outcome: 'refused' }> {
  if (result?.outcome !== 'refused') throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  return result;
}

describe('ConfigGuard: accepting configs', () => {
  it('accepts a first config, numbering it generation 1, and routes by it', () => {
    const { guard, events } = setup();
    const result = guard.offer(text(configText([job('a', [1, 2]), job('b', [2])])));
    expect(result).toMatchObject({ outcome: 'accepted', addedJobs: 2, removedJobs: 0 });
    expect(guard.generation).toBe(1);
    expect(guard.current?.source).toBe(SOURCE);
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 1)).toBe('forward');
    expect(guard.decision('http_requests', 3)).toBe('drop-unconfigured');
    expect(guard.decision('firewall_events', 1)).toBe('drop-unconfigured');
    expect(guard.table.jobsFor('http_requests', 2)).toEqual(['a', 'b']);
    // Before its first config the guard forwarded nothing: the mode changes with it.
    expect(events.map((e) => e.type)).toEqual(['accepted', 'mode_changed']);
    expect(events[1]).toMatchObject({ mode: 'configured', previous: 'fail-closed' });
  });

  it('applies a valid change, increasing the generation', () => {
    const { guard, alerts } = setup();
    guard.offer(text(configText(jobs(4))));
    const result = guard.offer(text(configText([...jobs(3), job('new', [77])])));
    expect(result).toMatchObject({ outcome: 'accepted', addedJobs: 1, removedJobs: 1 });
    expect(guard.generation).toBe(2);
    expect(guard.decision('http_requests', 77)).toBe('forward');
    expect(guard.decision('http_requests', 1003)).toBe('drop-unconfigured');
    expect(alerts).toEqual([]);
  });

  it('calls a re-delivered config unchanged, even formatted differently, without a new generation', () => {
    const { guard } = setup();
    const body = configText(jobs(3));
    guard.offer(text(body));
    expect(guard.offer(text(body))).toEqual({ outcome: 'unchanged', generation: 1 });
    expect(guard.offer(text(JSON.stringify(JSON.parse(body), null, 2)))).toEqual({ outcome: 'unchanged', generation: 1 });
    expect(guard.offer({ kind: 'value', source: 'fn', value: JSON.parse(body) })).toEqual({ outcome: 'unchanged', generation: 1 });
    expect(guard.stats()).toMatchObject({ generation: 1, accepted: 1, unchanged: 3 });
  });

  it('accepts a value candidate as well as text', () => {
    const { guard } = setup();
    expect(guard.offer({ kind: 'value', source: 'generator', value: { jobs: jobs(2) } }).outcome).toBe('accepted');
    expect(guard.decision('http_requests', 1001)).toBe('forward');
  });
});

describe('configFingerprint', () => {
  const sha = (text: string): string => createHash('sha256').update(text).digest('base64url');
  /** Jobs stand for parsed ones: the fingerprint reads only their JSON. */
  const configArb = fc.record({
    generation: fc.option(fc.nat(), { nil: undefined }),
    jobs: fc.array(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), { maxLength: 6 }),
  });
  const fp = (config: { generation: number | undefined; jobs: readonly object[] }): string => configFingerprint(config as never);

  it('is equal for two configs exactly when their JSON is (property)', () => {
    fc.assert(
      fc.property(configArb, configArb, (a, b) => {
        expect(fp(a) === fp(b)).toBe(JSON.stringify(a) === JSON.stringify(b));
      }),
      { numRuns: 500 },
    );
    // A job's content moved across a job boundary is another config.
    expect(fp({ generation: 1, jobs: [{ a: 'x' }, { b: 'y' }] })).not.toBe(fp({ generation: 1, jobs: [{ a: 'x', b: 'y' }] }));
    expect(fp({ generation: 1, jobs: [] })).not.toBe(fp({ generation: 2, jobs: [] }));
  });

  it('hashes the generation, then each job on a line of its own, whatever the chunks it is hashed in', () => {
    // Jobs of ~40 KB and small ones: the 64 Ki-character chunks end mid-stream, and one job is
    // larger than a chunk.
    const jobs = Array.from({ length: 30 }, (_, i) => ({ id: `job-${i}`, pad: 'x'.repeat(i % 3 === 0 ? 40_000 : i * 7), big: i === 7 ? 'y'.repeat(100_000) : '' }));
    const expected = sha(`3${jobs.map((j) => `\n${JSON.stringify(j)}`).join('')}`);
    expect(fp({ generation: 3, jobs })).toBe(expected);
    expect(fp({ generation: undefined, jobs: [] })).toBe(sha('null'));
  });
});

describe('ConfigGuard: refusing configs, keeping the last known good', () => {
  it('refuses a blank config when the last known good has jobs (the incident), with an alert', () => {
    const { guard, alerts, events } = setup();
    guard.offer(text(configText(jobs(10))));
    for (const blank of ['', '  \n', configText([]), 'null']) {
      const result = refused(guard.offer(text(blank)));
      expect(result.reason).toBe('blank');
    }
    expect(guard.generation).toBe(1);
    expect(guard.table.jobIds).toHaveLength(10);
    expect(guard.decision('http_requests', 1005)).toBe('forward');
    expect(guard.decision('http_requests', 5)).toBe('drop-unconfigured');
    expect(guard.stats().refused.blank).toBe(4);
    expect(guard.stats().consecutiveRefusals).toBe(4);
    expect(alerts).toHaveLength(4);
    expect(alerts.every((a) => a.alert === 'config_refused' && a.reason === 'blank' && a.source === SOURCE)).toBe(true);
    expect(alerts[2]?.message).toBe(
      `refused blank config: config from ${SOURCE} has no jobs while the last known good has 10; keeping generation 1 (10 jobs, from ${SOURCE})`,
    );
    expect(events.filter((e) => e.type === 'refused')).toHaveLength(4);
  });

  it('refuses a config whose jobs are all disabled when the last known good has enabled ones', () => {
    const { guard } = setup();
    guard.offer(text(configText(jobs(3))));
    const result = refused(guard.offer(text(configText(jobs(3).map((j) => ({ ...j, enabled: false }))))));
    expect(result.reason).toBe('blank');
    expect(result.message).toContain('has no enabled jobs (of 3)');
  });

  it('accepts an empty config when there is nothing to lose', () => {
    const { guard } = setup();
    expect(guard.offer(text(configText([]))).outcome).toBe('accepted');
    expect(guard.offer(text(configText(jobs(2)))).outcome).toBe('accepted');
  });

  it('refuses a malformed config, naming the path, and keeps the last known good', () => {
    const { guard, alerts } = setup();
    guard.offer(text(configText(jobs(3))));
    const broken = jobs(3);
    broken[2] = { ...broken[2]!, zones: [1, -5] };
    const result = refused(guard.offer(text(configText(broken))));
    expect(result.reason).toBe('schema');
    expect(result.message).toBe(`invalid logfwdr config from ${SOURCE}: jobs[2].zones[1] must be a zone id (a positive integer), got -5`);
    expect(refused(guard.offer(text('{"jobs": ['))).reason).toBe('schema');
    expect(guard.generation).toBe(1);
    expect(guard.stats().refused.schema).toBe(2);
    expect(alerts[0]).toMatchObject({ alert: 'config_refused', reason: 'schema', generation: 1 });
  });

  it('refuses the same bad text again without parsing it again, counting each refusal, alerting once', () => {
    const { guard, alerts } = setup();
    guard.offer(text(configText(jobs(2))));
    const bad = configText([job('x y')]);
    const first = refused(guard.offer(text(bad)));
    const second = refused(guard.offer(text(bad)));
    expect(second.message).toBe(first.message);
    expect(guard.stats().refused.schema).toBe(2);
    // A provider polled every second repeating its bad config: one alert, every refusal counted.
    expect(alerts).toHaveLength(1);
    // Another refusal alerts; after an accepted config the first bad text alerts again.
    refused(guard.offer(text('')));
    expect(alerts).toHaveLength(2);
    guard.offer(text(configText(jobs(3))));
    refused(guard.offer(text(bad)));
    expect(alerts).toHaveLength(3);
  });

  it('refuses a config removing 90% of the jobs in one step', () => {
    const { guard, alerts } = setup();
    guard.offer(text(configText(jobs(10))));
    const result = refused(guard.offer(text(configText(jobs(1)))));
    expect(result.reason).toBe('mass_removal');
    expect(result.message).toBe(
      `config from ${SOURCE} removes 9 of 10 enabled jobs (90%) in one step, more than maxRemovedFraction 0.5 allows; an operator may force it ("j1", "j2", "j3", "j4", "j5", …)`,
    );
    expect(guard.table.jobIds).toHaveLength(10);
    expect(alerts).toMatchObject([{ alert: 'config_refused', reason: 'mass_removal' }]);
    expect(guard.stats().refused.mass_removal).toBe(1);
  });

  it('accepts a config removing 40% of the jobs', () => {
    const { guard } = setup();
    guard.offer(text(configText(jobs(10))));
    expect(guard.offer(text(configText(jobs(6))))).toMatchObject({ outcome: 'accepted', removedJobs: 4 });
    expect(guard.table.jobIds).toHaveLength(6);
  });

  it('refuses a config that keeps the jobs but strips most of their zones', () => {
    const { guard } = setup();
    const wide = Array.from({ length: 4 }, (_, i) => job(`j${i}`, Array.from({ length: 10 }, (_, z) => i * 100 + z + 1)));
    guard.offer(text(configText(wide)));
    const stripped = wide.map((j) => ({ ...j, zones: j.zones.slice(0, 2) }));
    const result = refused(guard.offer(text(configText(stripped))));
    expect(result.reason).toBe('mass_removal');
    expect(result.message).toContain('removes 32 of 40 (dataset, zone, job) routes (80%)');
  });

  it('lets an operator force a large removal, never a malformed or blank text', () => {
    const { guard } = setup();
    guard.offer(text(configText(jobs(10))));
    const forced = guard.offer(text(configText(jobs(1))), { force: true });
    expect(forced).toMatchObject({ outcome: 'accepted', removedJobs: 9 });
    expect(guard.current?.forced).toBe(true);
    expect(guard.stats().forced).toBe(1);
    expect(refused(guard.offer(text('{'), { force: true })).reason).toBe('schema');
    expect(refused(guard.offer(text(''), { force: true })).reason).toBe('blank');
  });

  it('refuses a config past the size limits: bytes and jobs', () => {
    const { guard } = setup({ limits: { maxBytes: 2000, maxJobs: 5 } });
    guard.offer(text(configText(jobs(3))));
    const big = refused(guard.offer(text(configText(jobs(3)) + ' '.repeat(2000))));
    expect(big.reason).toBe('too_large');
    expect(big.message).toContain('at most 2000 are allowed (maxBytes)');
    const many = refused(guard.offer({ kind: 'value', source: 'fn', value: { jobs: jobs(6) } }));
    expect(many.reason).toBe('too_large');
    expect(many.message).toContain('jobs holds 6 jobs; at most 5 are allowed (maxJobs)');
    const fromProvider = refused(guard.offer({ kind: 'error', source: 'http://c/', error: tooLargeError('http://c/', '', 'bytes', 1e9, 64, 'maxBytes') }));
    expect(fromProvider.reason).toBe('too_large');
    expect(guard.stats().refused.too_large).toBe(3);
  });

  it('refuses a config older than the last known good by its generation', () => {
    const { guard } = setup();
    guard.offer(text(configText(jobs(3), 12)));
    const result = refused(guard.offer(text(configText(jobs(4), 11))));
    expect(result.reason).toBe('stale');
    expect(result.message).toContain('has generation 11, older than the last known good\'s 12');
    expect(guard.offer(text(configText(jobs(4), 13))).outcome).toBe('accepted');
  });

  it('refuses a decoding error handed over by a provider', () => {
    const { guard } = setup();
    const result = refused(guard.offer({ kind: 'error', source: 'gen', error: new Error('bad gzip') }));
    expect(result.reason).toBe('schema');
    expect(result.message).toContain('could not be decoded: bad gzip');
  });
});

describe('ConfigGuard: when no valid config is at hand', () => {
  it('last-known-good: forwards nothing before a config, then keeps the last known good through an outage', () => {
    const { guard, clock, alerts } = setup({ unavailableGraceMs: 10_000 });
    expect(guard.mode).toBe('fail-closed');
    expect(guard.decision('http_requests', 1000)).toBe('drop-unconfigured');
    guard.offer(text(configText(jobs(2))));
    clock.now += 1000;
    guard.handle({ type: 'unavailable', source: SOURCE, reason: 'no file' });
    expect(alerts).toEqual([]);
    clock.now += 10_000;
    guard.handle({ type: 'unavailable', source: SOURCE, reason: 'no file' });
    guard.handle({ type: 'unavailable', source: SOURCE, reason: 'no file' });
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 1000)).toBe('forward');
    expect(guard.decision('http_requests', 5)).toBe('drop-unconfigured');
    expect(alerts.map((a) => a.alert)).toEqual(['config_unavailable']);
    expect(alerts[0]?.message).toContain('still in use (policy last-known-good)');
    expect(guard.stats()).toMatchObject({ providerAvailable: false, unavailable: 3 });
  });

  it('fail-open without any config forwards everything, flagged, with one alert for the episode', () => {
    const { guard, clock, alerts, events } = setup({ policy: 'fail-open' });
    expect(guard.mode).toBe('fail-open');
    expect(guard.decision('http_requests', 123)).toBe('forward-unconfigured');
    expect(guard.decision('firewall_events', 9)).toBe('forward-unconfigured');
    for (let i = 0; i < 5; i++) {
      clock.now += 5000;
      guard.handle({ type: 'unavailable', source: SOURCE, reason: 'connection refused' });
    }
    expect(alerts.filter((a) => a.alert === 'fail_open')).toHaveLength(1);
    expect(alerts.filter((a) => a.alert === 'config_unavailable')).toHaveLength(1);
    const startedAt = guard.stats().failOpen.startedAt;
    expect(startedAt).toBe(1_000_000);

    clock.now += 1000;
    guard.offer(text(configText(jobs(2))));
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 1000)).toBe('forward');
    expect(guard.decision('http_requests', 123)).toBe('drop-unconfigured');
    expect(guard.stats().failOpen).toEqual({ active: false, episodes: 1, startedAt, endedAt: clock.now });
    expect(events).toContainEqual({ type: 'mode_changed', mode: 'configured', previous: 'fail-open', at: clock.now, previousForMs: 26_000 });
  });

  it('fail-open after an outage past the grace period: configured zones forward, the rest is surplus, a second episode', () => {
    const { guard, clock, alerts } = setup({ policy: 'fail-open', unavailableGraceMs: 30_000 });
    guard.offer(text(configText(jobs(2))));
    clock.now += 29_999;
    guard.handle({ type: 'unavailable', source: SOURCE, reason: 'HTTP 503' });
    expect(guard.mode).toBe('configured');
    clock.now += 1;
    guard.handle({ type: 'unavailable', source: SOURCE, reason: 'HTTP 503' });
    expect(guard.mode).toBe('fail-open');
    expect(guard.decision('http_requests', 1001)).toBe('forward');
    expect(guard.decision('http_requests', 4)).toBe('forward-unconfigured');
    expect(alerts.map((a) => a.alert)).toEqual(['fail_open', 'config_unavailable', 'fail_open']);
    expect(guard.stats().failOpen).toMatchObject({ active: true, episodes: 2 });

    clock.now += 2000;
    guard.handle({ type: 'unchanged', source: SOURCE });
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 4)).toBe('drop-unconfigured');
    expect(guard.stats().failOpen).toMatchObject({ active: false, episodes: 2, endedAt: clock.now });
  });

  it('fail-open does not treat a refused (blank) config as no config: the incident cannot recur', () => {
    const { guard, alerts } = setup({ policy: 'fail-open' });
    guard.offer(text(configText(jobs(5))));
    alerts.length = 0;
    refused(guard.offer(text('')));
    refused(guard.offer(text(configText([]))));
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 42)).toBe('drop-unconfigured');
    expect(guard.decision('http_requests', 1002)).toBe('forward');
    expect(alerts.map((a) => a.alert)).toEqual(['config_refused', 'config_refused']);
  });

  it('blankIsNoConfig (how the drill replays the incident): a blank config starts a fail-open episode at once, a valid one ends it', () => {
    const { guard, clock, alerts, events } = setup({ policy: 'fail-open', blankIsNoConfig: true });
    guard.offer(text(configText(jobs(5))));
    alerts.length = 0;
    clock.now += 1000;
    refused(guard.offer(text(configText([]))));
    expect(guard.mode).toBe('fail-open');
    expect(guard.decision('http_requests', 1002)).toBe('forward');
    expect(guard.decision('http_requests', 42)).toBe('forward-unconfigured');
    // The same blank again: still one episode, no flapping.
    clock.now += 1000;
    refused(guard.offer(text(configText([]))));
    expect(alerts.map((a) => a.alert)).toEqual(['config_unavailable', 'config_refused', 'fail_open']);
    // Episode 1 was the start before any config (fail-open's rule); the blank is episode 2, and only 2.
    expect(guard.stats().failOpen).toMatchObject({ active: true, episodes: 2 });
    clock.now += 1000;
    guard.offer(text(configText(jobs(5))));
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 42)).toBe('drop-unconfigured');
    expect(events).toContainEqual(expect.objectContaining({ type: 'mode_changed', mode: 'configured', previous: 'fail-open', previousForMs: 2000 }));
    // Without the option the same blank keeps the last known good (the test above).
    const plain = setup({ policy: 'fail-open' });
    plain.guard.offer(text(configText(jobs(5))));
    refused(plain.guard.offer(text(configText([]))));
    expect(plain.guard.mode).toBe('configured');
  });

  it('fail-closed: forwards nothing while the provider is down, configured traffic again once it answers', () => {
    const { guard, clock, alerts, events } = setup({ policy: 'fail-closed', unavailableGraceMs: 1000 });
    expect(guard.decision('http_requests', 1000)).toBe('drop-unconfigured');
    guard.offer(text(configText(jobs(2))));
    expect(guard.decision('http_requests', 1000)).toBe('forward');
    clock.now += 1000;
    guard.handle({ type: 'unavailable', source: SOURCE, reason: 'timeout' });
    expect(guard.mode).toBe('fail-closed');
    expect(guard.decision('http_requests', 1000)).toBe('drop-unconfigured');
    expect(alerts.map((a) => a.alert)).toEqual(['config_unavailable', 'fail_closed']);
    clock.now += 500;
    guard.offer(text(configText(jobs(2))));
    expect(guard.mode).toBe('configured');
    expect(guard.decision('http_requests', 1000)).toBe('forward');
    expect(events).toContainEqual({ type: 'provider_restored', source: SOURCE, unavailableForMs: 500 });
  });

  it('says at once when the provider is unavailable and no config was ever accepted', () => {
    const { guard, alerts } = setup();
    guard.handle({ type: 'unavailable', source: SOURCE, reason: `no file at ${SOURCE}` });
    expect(alerts).toMatchObject([{ alert: 'config_unavailable', source: SOURCE }]);
    expect(alerts[0]?.message).toBe(`config provider ${SOURCE} is unavailable: no file at ${SOURCE}; no config has been accepted yet`);
  });
});

describe('ConfigGuard: options', () => {
  it('refuses options outside their ranges', () => {
    expect(() => new ConfigGuard({ maxRemovedFraction: 1.5 })).toThrow('maxRemovedFraction must be a number from 0 to 1, got 1.5');
    expect(() => new ConfigGuard({ policy: 'fail-sometimes' as never })).toThrow('policy must be one of last-known-good | fail-open | fail-closed');
    expect(() => new ConfigGuard({ unavailableGraceMs: -1 })).toThrow(RangeError);
    expect(() => new ConfigGuard({ limits: { maxJobs: 0 } })).toThrow(RangeError);
  });

  it('honours a stricter maxRemovedFraction', () => {
    const { guard } = setup({ maxRemovedFraction: 0.1 });
    guard.offer(text(configText(jobs(10))));
    expect(refused(guard.offer(text(configText(jobs(8))))).reason).toBe('mass_removal');
    expect(guard.offer(text(configText(jobs(9)))).outcome).toBe('accepted');
  });

  it('throws on an unknown provider event type', () => {
    const { guard } = setup();
    expect(() => guard.handle({ type: 'gone' } as never)).toThrow('unknown provider event type "gone"');
  });
});
