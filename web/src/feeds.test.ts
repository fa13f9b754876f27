import { describe, expect, it } from 'vitest';
import type { Feed } from './api';
import { badgeState, duration, summary } from './feeds';

const feed = (over: Partial<Feed>, state: Partial<Feed['state']> = {}): Feed => ({
  name: 'usgs',
  url: 'https://example.com/q.geojson',
  format: 'usgs',
  dataset: 'earthquakes',
  interval_s: 60,
  enabled: true,
  status: 'ok',
  state: { failures: 0, polls: 3, added: 10, updated: 1, withdrawn: 0, skipped: 0, skipped_reasons: [], ...state },
  ...over,
});

describe('feed health text', () => {
  it('says durations in the unit a person reads', () => {
    expect(duration(45)).toBe('45 s');
    expect(duration(720)).toBe('12 min');
    expect(duration(3 * 3600 + 720)).toBe('3.2 h');
    expect(duration(2 * 86_400)).toBe('2.0 d');
  });

  it('colours failing red, late amber, ok green and the rest grey', () => {
    expect(badgeState('failing')).toBe('bad');
    expect(badgeState('late')).toBe('warn');
    expect(badgeState('ok')).toBe('ok');
    expect(badgeState('paused')).toBe('idle');
    expect(badgeState('pending')).toBe('idle');
  });

  it('summarises lag, last success, and the error only when failing', () => {
    const now = Date.parse('2026-05-01T12:00:00Z');
    const ok = feed({}, { lag: { median_s: 42, max_s: 90, items: 3 }, last_success: '2026-05-01T11:59:30Z', last_error: 'old' });
    expect(summary(ok, now)).toBe('earthquakes · lag 42 s · last ok 30 s ago');
    const failing = feed({ status: 'failing' }, { last_error: 'the server answered 503' });
    expect(summary(failing, now)).toBe('earthquakes · no lag yet · last ok never · the server answered 503');
  });
});
