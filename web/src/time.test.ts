import { describe, expect, it } from 'vitest';
import { SPEEDS, advance, clampWindow, formatDuration, formatInstant, parseDatetimeParam, step, ticks, toDatetimeParam, union } from './time';

const H = 3_600_000;
const domain = { start: Date.UTC(2023, 2, 31), end: Date.UTC(2023, 3, 7) };

describe('time windows', () => {
  it('round-trips the OGC datetime parameter', () => {
    const w = { start: Date.UTC(2023, 3, 1, 6), end: Date.UTC(2023, 3, 2) };
    expect(toDatetimeParam(w)).toBe('2023-04-01T06:00:00Z/2023-04-02T00:00:00Z');
    expect(parseDatetimeParam(toDatetimeParam(w))).toEqual(w);
    expect(parseDatetimeParam('2023-04-02/2023-04-01')).toBeNull();
    expect(parseDatetimeParam('garbage')).toBeNull();
  });

  it('keeps a window inside the domain without changing its length', () => {
    const w = clampWindow({ start: domain.end - H, end: domain.end + 5 * H }, domain);
    expect(w.end).toBe(domain.end);
    expect(w.end - w.start).toBe(6 * H);
    const wide = clampWindow({ start: 0, end: domain.end * 2 }, domain);
    expect(wide).toEqual(domain);
  });

  it('plays forward at the chosen speed, loops or stops at the end', () => {
    const w = { start: domain.start, end: domain.start + 24 * H };
    const oneHourPerSecond = SPEEDS[0];
    const next = advance(w, domain, 500, oneHourPerSecond, true);
    expect(next.window.start - w.start).toBe(H / 2);
    const atEnd = { start: domain.end - 24 * H, end: domain.end };
    expect(advance(atEnd, domain, 1000, oneHourPerSecond, true).window.start).toBe(domain.start);
    const stopped = advance(atEnd, domain, 1000, oneHourPerSecond, false);
    expect(stopped.stopped).toBe(true);
    expect(stopped.window.end).toBe(domain.end);
  });

  it('steps by the window length', () => {
    const w = { start: domain.start, end: domain.start + 24 * H };
    expect(step(w, domain, 1).start).toBe(domain.start + 24 * H);
    expect(step(w, domain, -1).start).toBe(domain.start);
  });

  it('labels instants, durations and ticks', () => {
    expect(formatInstant(Date.UTC(2023, 3, 1))).toBe('2023-04-01');
    expect(formatInstant(Date.UTC(2023, 3, 1, 13, 5))).toBe('2023-04-01 13:05');
    expect(formatDuration(3 * 24 * H)).toBe('3 days');
    expect(formatDuration(5 * H)).toBe('5 hours');
    const t = ticks(domain, 10);
    expect(t.length).toBeGreaterThan(3);
    expect(t.length).toBeLessThanOrEqual(10);
    expect(t.every((x) => x >= domain.start && x <= domain.end)).toBe(true);
    expect(union([])).toBeNull();
    expect(union([{ start: 5, end: 6 }, { start: 1, end: 3 }])).toEqual({ start: 1, end: 6 });
  });
});
