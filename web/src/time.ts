// Time arithmetic for the time bar: windows, playback, steps, labels. Pure, so it is unit-tested.

/** A closed window of time in epoch milliseconds. */
export interface TimeWindow {
  start: number;
  end: number;
}

export interface Speed {
  label: string;
  /** Milliseconds of data time per second of playback. */
  rate: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const SPEEDS: Speed[] = [
  { label: '1 hour/s', rate: HOUR },
  { label: '6 hours/s', rate: 6 * HOUR },
  { label: '1 day/s', rate: DAY },
  { label: '1 week/s', rate: 7 * DAY },
];

export function clampWindow(w: TimeWindow, domain: TimeWindow): TimeWindow {
  const length = Math.min(w.end - w.start, domain.end - domain.start);
  let start = Math.max(domain.start, Math.min(w.start, domain.end - length));
  if (!Number.isFinite(start)) start = domain.start;
  return { start, end: start + length };
}

export interface Advance {
  window: TimeWindow;
  /** The window reached the end and playback should stop (no loop). */
  stopped: boolean;
}

/** Moves the window forward by `elapsedMs` of wall time at `speed`; wraps to the start when looping. */
export function advance(w: TimeWindow, domain: TimeWindow, elapsedMs: number, speed: Speed, loop: boolean): Advance {
  const length = w.end - w.start;
  const shift = (elapsedMs / 1000) * speed.rate;
  let start = w.start + shift;
  if (start + length > domain.end) {
    if (!loop) return { window: { start: domain.end - length, end: domain.end }, stopped: true };
    start = domain.start;
  }
  return { window: { start, end: start + length }, stopped: false };
}

/** One step back or forward by the window's own length, kept inside the domain. */
export function step(w: TimeWindow, domain: TimeWindow, direction: 1 | -1): TimeWindow {
  const length = w.end - w.start;
  return clampWindow({ start: w.start + direction * length, end: w.end + direction * length }, domain);
}

/** The union of windows, or null when there are none. */
export function union(windows: TimeWindow[]): TimeWindow | null {
  if (windows.length === 0) return null;
  return {
    start: Math.min(...windows.map((w) => w.start)),
    end: Math.max(...windows.map((w) => w.end)),
  };
}

/** `start/end` in RFC 3339, as OGC API `datetime` takes it. */
export function toDatetimeParam(w: TimeWindow): string {
  return `${iso(w.start)}/${iso(w.end)}`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function parseDatetimeParam(text: string): TimeWindow | null {
  const [a, b] = text.split('/');
  if (!a || !b) return null;
  const start = Date.parse(a);
  const end = Date.parse(b);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return null;
  return { start, end };
}

/** A short UTC label: date, and the time when it is not midnight. */
export function formatInstant(ms: number): string {
  const text = iso(ms);
  const [date, time] = text.split('T');
  const hm = time.slice(0, 5);
  return hm === '00:00' ? date : `${date} ${hm}`;
}

export function formatWindow(w: TimeWindow): string {
  return `${formatInstant(w.start)} – ${formatInstant(w.end)} UTC (${formatDuration(w.end - w.start)})`;
}

export function formatDuration(ms: number): string {
  if (ms >= 2 * DAY) return `${Math.round((ms / DAY) * 10) / 10} days`;
  if (ms >= 2 * HOUR) return `${Math.round((ms / HOUR) * 10) / 10} hours`;
  return `${Math.max(1, Math.round(ms / 60_000))} min`;
}

/** Tick positions at a round step giving at most `maxTicks` ticks across the domain. */
export function ticks(domain: TimeWindow, maxTicks: number): number[] {
  const steps = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];
  const span = domain.end - domain.start;
  const size = steps.find((s) => span / s <= maxTicks) ?? steps[steps.length - 1];
  const out: number[] = [];
  for (let t = Math.ceil(domain.start / size) * size; t <= domain.end; t += size) out.push(t);
  return out;
}
