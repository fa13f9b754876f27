// The one clock: a histogram of event counts across the domain, a draggable window, and playback. Every
// time-aware layer follows the window; the histogram is stacked by layer colour.

import type { TimeWindow } from './time';
import { SPEEDS, advance, clampWindow, formatInstant, formatWindow, step, ticks } from './time';

export interface HistogramSeries {
  colour: string;
  counts: number[];
}

export interface TimeBarEvents {
  /** The window moved; `settled` is false while dragging or playing. */
  onWindow(window: TimeWindow, settled: boolean): void;
  onPlaying(playing: boolean): void;
  onLive(live: boolean): void;
}

const HANDLE_PX = 6;

export class TimeBar {
  domain: TimeWindow | null = null;
  window: TimeWindow | null = null;
  playing = false;
  live = false;
  private series: HistogramSeries[] = [];
  private canvas: HTMLCanvasElement;
  private label: HTMLOutputElement;
  private playButton: HTMLButtonElement;
  private speed: HTMLSelectElement;
  private loop: HTMLInputElement;
  private liveBox: HTMLInputElement;
  private lastFrame = 0;
  private drag: { mode: 'new' | 'move' | 'start' | 'end'; anchor: number; original: TimeWindow } | null = null;
  private liveTimer: number | undefined;

  constructor(private events: TimeBarEvents) {
    this.canvas = document.getElementById('time-canvas') as HTMLCanvasElement;
    this.label = document.getElementById('time-label') as HTMLOutputElement;
    this.playButton = document.getElementById('time-play') as HTMLButtonElement;
    this.speed = document.getElementById('time-speed') as HTMLSelectElement;
    this.loop = document.getElementById('time-loop') as HTMLInputElement;
    this.liveBox = document.getElementById('time-live') as HTMLInputElement;
    SPEEDS.forEach((s, i) => this.speed.add(new Option(s.label, String(i), i === 1, i === 1)));
    this.playButton.addEventListener('click', () => this.setPlaying(!this.playing));
    document.getElementById('time-back')?.addEventListener('click', () => this.stepBy(-1));
    document.getElementById('time-forward')?.addEventListener('click', () => this.stepBy(1));
    document.getElementById('time-all')?.addEventListener('click', () => this.domain && this.setWindow({ ...this.domain }, true));
    this.liveBox.addEventListener('change', () => this.setLive(this.liveBox.checked));
    this.canvas.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.pointerMove(e));
    this.canvas.addEventListener('pointerup', (e) => this.pointerUp(e));
    this.canvas.addEventListener('keydown', (e) => this.key(e));
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  setDomain(domain: TimeWindow | null, window: TimeWindow | null): void {
    this.domain = domain;
    if (!domain) {
      this.window = null;
    } else {
      this.window = clampWindow(window ?? this.window ?? { ...domain }, domain);
    }
    this.updateLabel();
    this.draw();
  }

  setSeries(series: HistogramSeries[]): void {
    this.series = series;
    this.draw();
  }

  setWindow(w: TimeWindow, settled: boolean): void {
    if (!this.domain) return;
    this.window = clampWindow(w, this.domain);
    this.updateLabel();
    this.draw();
    this.events.onWindow(this.window, settled);
  }

  stepBy(direction: 1 | -1): void {
    if (this.domain && this.window) this.setWindow(step(this.window, this.domain, direction), true);
  }

  setPlaying(playing: boolean): void {
    if (!this.domain || !this.window) return;
    if (playing && this.live) this.setLive(false);
    this.playing = playing;
    this.playButton.textContent = playing ? '⏸' : '▶';
    this.playButton.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    this.events.onPlaying(playing);
    if (playing) {
      // A window as wide as the domain has nowhere to go: play through it a tenth at a time.
      if (this.window.end - this.window.start >= this.domain.end - this.domain.start) {
        const tenth = (this.domain.end - this.domain.start) / 10;
        this.window = { start: this.domain.start, end: this.domain.start + tenth };
      }
      this.lastFrame = performance.now();
      requestAnimationFrame((t) => this.frame(t));
    } else if (this.window) {
      this.events.onWindow(this.window, true);
    }
  }

  private frame(now: number): void {
    if (!this.playing || !this.domain || !this.window) return;
    const elapsed = Math.min(now - this.lastFrame, 100);
    this.lastFrame = now;
    const speed = SPEEDS[Number(this.speed.value)] ?? SPEEDS[1];
    const next = advance(this.window, this.domain, elapsed, speed, this.loop.checked);
    this.window = next.window;
    this.updateLabel();
    this.draw();
    this.events.onWindow(this.window, false);
    if (next.stopped) {
      this.setPlaying(false);
      return;
    }
    requestAnimationFrame((t) => this.frame(t));
  }

  /** Live: the window keeps its length and ends now, moving forward every few seconds. */
  setLive(live: boolean): void {
    this.live = live;
    this.liveBox.checked = live;
    window.clearInterval(this.liveTimer);
    if (live) {
      if (this.playing) this.setPlaying(false);
      const follow = () => {
        const now = Date.now();
        const length = this.window ? this.window.end - this.window.start : 24 * 3_600_000;
        const start = this.domain ? Math.min(this.domain.start, now - length) : now - length;
        this.domain = { start, end: now };
        this.setWindow({ start: now - length, end: now }, true);
      };
      follow();
      this.liveTimer = window.setInterval(follow, 5000);
    }
    this.events.onLive(live);
  }

  private x(t: number): number {
    if (!this.domain) return 0;
    const w = this.canvas.clientWidth;
    return ((t - this.domain.start) / Math.max(1, this.domain.end - this.domain.start)) * w;
  }

  private t(x: number): number {
    if (!this.domain) return 0;
    const w = Math.max(1, this.canvas.clientWidth);
    return this.domain.start + (x / w) * (this.domain.end - this.domain.start);
  }

  private pointerDown(e: PointerEvent): void {
    if (!this.domain || !this.window) return;
    this.canvas.setPointerCapture(e.pointerId);
    const x = e.offsetX;
    const [x0, x1] = [this.x(this.window.start), this.x(this.window.end)];
    const mode = Math.abs(x - x0) <= HANDLE_PX ? 'start' : Math.abs(x - x1) <= HANDLE_PX ? 'end' : x > x0 && x < x1 ? 'move' : 'new';
    this.drag = { mode, anchor: this.t(x), original: { ...this.window } };
    if (this.live) this.setLive(false);
  }

  private pointerMove(e: PointerEvent): void {
    if (!this.domain) return;
    if (!this.drag) {
      if (this.window) {
        const [x0, x1] = [this.x(this.window.start), this.x(this.window.end)];
        const x = e.offsetX;
        this.canvas.style.cursor = Math.abs(x - x0) <= HANDLE_PX || Math.abs(x - x1) <= HANDLE_PX ? 'ew-resize' : x > x0 && x < x1 ? 'grab' : 'crosshair';
      }
      return;
    }
    const t = this.t(e.offsetX);
    const { mode, anchor, original } = this.drag;
    const minimum = (this.domain.end - this.domain.start) / 500;
    let next: TimeWindow;
    if (mode === 'move') next = { start: original.start + (t - anchor), end: original.end + (t - anchor) };
    else if (mode === 'start') next = { start: Math.min(t, original.end - minimum), end: original.end };
    else if (mode === 'end') next = { start: original.start, end: Math.max(t, original.start + minimum) };
    else next = { start: Math.min(anchor, t), end: Math.max(anchor, t, Math.min(anchor, t) + minimum) };
    this.setWindow(next, false);
  }

  private pointerUp(e: PointerEvent): void {
    if (!this.drag) return;
    this.canvas.releasePointerCapture(e.pointerId);
    this.drag = null;
    if (this.window) this.events.onWindow(this.window, true);
  }

  private key(e: KeyboardEvent): void {
    if (!this.domain || !this.window) return;
    const length = this.window.end - this.window.start;
    const nudge = e.shiftKey ? length : length / 10;
    if (e.key === 'ArrowRight') this.setWindow({ start: this.window.start + nudge, end: this.window.end + nudge }, true);
    else if (e.key === 'ArrowLeft') this.setWindow({ start: this.window.start - nudge, end: this.window.end - nudge }, true);
    else if (e.key === 'ArrowUp') this.setWindow({ start: this.window.start - length / 4, end: this.window.end + length / 4 }, true);
    else if (e.key === 'ArrowDown') this.setWindow({ start: this.window.start + length / 4, end: this.window.end - length / 4 }, true);
    else if (e.key === 'Home') this.setWindow({ start: this.domain.start, end: this.domain.start + length }, true);
    else if (e.key === 'End') this.setWindow({ start: this.domain.end - length, end: this.domain.end }, true);
    else return;
    e.preventDefault();
  }

  private updateLabel(): void {
    this.label.textContent = this.window ? formatWindow(this.window) : 'No time-aware layer is shown';
    if (this.window) {
      this.canvas.setAttribute('aria-valuetext', formatWindow(this.window));
    }
  }

  draw(): void {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (w === 0 || h === 0) return;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const dark = document.documentElement.dataset.theme === 'dark';
    ctx.fillStyle = dark ? '#121a24' : '#f3f5f8';
    ctx.fillRect(0, 0, w, h);
    if (!this.domain) return;
    const axis = 16;
    const plot = h - axis;
    const bins = Math.max(0, ...this.series.map((s) => s.counts.length));
    if (bins > 0) {
      const totals = new Array<number>(bins).fill(0);
      for (const s of this.series) s.counts.forEach((c, i) => (totals[i] += c));
      const max = Math.max(1, ...totals);
      const bw = w / bins;
      const stacked = new Array<number>(bins).fill(0);
      for (const s of this.series) {
        ctx.fillStyle = s.colour;
        s.counts.forEach((c, i) => {
          if (c === 0) return;
          const y0 = (stacked[i] / max) * (plot - 4);
          const bh = Math.max(1, (c / max) * (plot - 4));
          ctx.fillRect(i * bw + 0.5, plot - y0 - bh, Math.max(1, bw - 1), bh);
          stacked[i] += c;
        });
      }
    }
    ctx.fillStyle = dark ? '#8a97a8' : '#5b6573';
    ctx.font = '10px "DejaVu Sans", system-ui, sans-serif';
    ctx.textBaseline = 'top';
    for (const t of ticks(this.domain, Math.max(2, Math.floor(w / 110)))) {
      const x = this.x(t);
      ctx.fillRect(x, plot, 1, 4);
      ctx.fillText(formatInstant(t), x + 3, plot + 3);
    }
    if (this.window) {
      const [x0, x1] = [this.x(this.window.start), this.x(this.window.end)];
      ctx.fillStyle = dark ? 'rgba(0,0,0,0.45)' : 'rgba(255,255,255,0.6)';
      ctx.fillRect(0, 0, x0, plot);
      ctx.fillRect(x1, 0, w - x1, plot);
      ctx.strokeStyle = dark ? '#e8eef5' : '#1f2937';
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x0, 0.75, Math.max(1, x1 - x0), plot - 1.5);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillRect(x0 - 2, plot / 2 - 8, 4, 16);
      ctx.fillRect(x1 - 2, plot / 2 - 8, 4, 16);
    }
  }
}
