import { describe, expect, it } from 'vitest';
import { toEvent } from '../../../src/actors/sources/ndjson.js';

const NOW = 1_764_000_000_000_000_000;

describe('toEvent', () => {
  it('routes an event by String(ZoneID) and times it by its dataset\'s time field', () => {
    const event = { ZoneID: 42, EdgeStartTimestamp: 1_700_000_000_000_000_000, RayID: 'x' };
    expect(toEvent('http_requests', event, NOW)).toEqual({
      ok: true,
      event: { dataset: 'http_requests', zoneId: 42, key: '42', timestamp: 1_700_000_000_000_000_000, event },
    });
    const firewall = toEvent('firewall_events', { ZoneID: 7, Datetime: '2024-11-14T16:00:00.123Z' }, NOW);
    expect(firewall.ok && firewall.event.timestamp).toBe(Date.parse('2024-11-14T16:00:00.123Z') * 1e6);
  });

  it('times an event without a time field by its arrival', () => {
    const result = toEvent('http_requests', { ZoneID: 1 }, NOW);
    expect(result.ok && result.event.timestamp).toBe(NOW);
  });

  it('refuses, as malformed, events that are no object, lack a positive integer ZoneID, or carry a bad time', () => {
    const cases: [unknown, RegExp][] = [
      [[1], /must be an object \(a JSON object or msgpack map\), got an array/],
      [null, /got null/],
      ['text', /got a string/],
      [{}, /ZoneID must be a positive integer, got none/],
      [{ ZoneID: '42' }, /ZoneID must be a positive integer, got "42"/],
      [{ ZoneID: 0 }, /got 0/],
      [{ ZoneID: 1.5 }, /got 1.5/],
      [{ ZoneID: 2 ** 53 }, /ZoneID/],
      [{ ZoneID: 1, EdgeStartTimestamp: -5 }, /EdgeStartTimestamp must be unix ns or an RFC 3339 time, got -5/],
      [{ ZoneID: 1, EdgeStartTimestamp: 'yesterday' }, /EdgeStartTimestamp/],
      [{ ZoneID: 1, EdgeStartTimestamp: '1' }, /EdgeStartTimestamp/],
      [{ ZoneID: 1, EdgeStartTimestamp: true }, /EdgeStartTimestamp/],
    ];
    for (const [value, message] of cases) {
      const result = toEvent('http_requests', value, NOW);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toBe('malformed');
        expect(result.message).toMatch(message);
      }
    }
  });

  it('counts a well-formed dataset the pipeline does not carry as unconfigured, a bad dataset name as malformed', () => {
    expect(toEvent('dns_logs', { ZoneID: 1 }, NOW)).toMatchObject({ ok: false, reason: 'unconfigured', message: expect.stringMatching(/dns_logs/) });
    expect(toEvent('dns_logs', 'not even an object', NOW)).toMatchObject({ ok: false, reason: 'unconfigured' });
    expect(toEvent('../etc', { ZoneID: 1 }, NOW)).toMatchObject({ ok: false, reason: 'malformed', message: expect.stringMatching(/not a valid name/) });
    expect(toEvent('', { ZoneID: 1 }, NOW)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
