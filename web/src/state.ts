// The console's shareable state, kept in the URL's hash: view, layers (order, visibility, style), time
// window, area filter and theme. Pure encode/decode, so links survive refactors (and are unit-tested).

import type { TimeWindow } from './time';
import { parseDatetimeParam, toDatetimeParam } from './time';

export interface LayerStyle {
  visible: boolean;
  opacity: number;
  /** Property to colour by, or null for the dataset's own colour. */
  colorBy: string | null;
  /** Property to size points by, or null. */
  sizeBy: string | null;
  /** Draw event points as H3 hexagon density (when the analytics API offers it) instead of points. */
  density: boolean;
}

export interface ViewState {
  center: [number, number];
  zoom: number;
}

export interface ConsoleState {
  view: ViewState | null;
  /** Dataset ids, top of the map first; a dataset missing here is placed by its kind. */
  order: string[];
  styles: Record<string, LayerStyle>;
  window: TimeWindow | null;
  theme: 'light' | 'dark';
  /** Area filter ring, [lon, lat] pairs. */
  area: [number, number][] | null;
}

export const defaultStyle = (visible: boolean): LayerStyle => ({
  visible,
  opacity: 1,
  colorBy: null,
  sizeBy: null,
  density: false,
});

export function emptyState(): ConsoleState {
  return { view: null, order: [], styles: {}, window: null, theme: 'light', area: null };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** Escapes only what would end or change a hash parameter, so links stay readable (`layers=quakes:1`).
 * Names inside a value are already percent-encoded on their own, so separators in them survive. */
function escapeValue(value: string): string {
  return value.replace(/%/g, '%25').replace(/&/g, '%26').replace(/#/g, '%23').replace(/\+/g, '%2B').replace(/ /g, '+');
}

export function encodeState(s: ConsoleState): string {
  const p = new Map<string, string>();
  if (s.view) p.set('map', `${round(s.view.zoom, 2)}/${round(s.view.center[1], 4)}/${round(s.view.center[0], 4)}`);
  if (s.order.length) {
    p.set('layers', s.order.map((id) => {
      const st = s.styles[id] ?? defaultStyle(false);
      const parts = [id, st.visible ? '1' : '0', String(round(st.opacity, 2)), st.colorBy ?? '', st.sizeBy ?? '', st.density ? 'h' : ''];
      while (parts.length > 2 && parts[parts.length - 1] === '') parts.pop();
      return parts.map(encodeURIComponent).join(':');
    }).join(','));
  }
  if (s.window) p.set('time', toDatetimeParam(s.window));
  if (s.theme !== 'light') p.set('theme', s.theme);
  if (s.area) p.set('area', s.area.map(([x, y]) => `${round(x, 5)} ${round(y, 5)}`).join(','));
  return [...p.entries()].map(([k, v]) => `${k}=${escapeValue(v)}`).join('&');
}

export function decodeState(hash: string): ConsoleState {
  const s = emptyState();
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const map = p.get('map')?.split('/').map(Number);
  if (map && map.length === 3 && map.every(Number.isFinite) && Math.abs(map[1]) <= 90) {
    s.view = { zoom: Math.max(0, Math.min(22, map[0])), center: [((map[2] + 540) % 360) - 180, map[1]] };
  }
  for (const entry of (p.get('layers') ?? '').split(',').filter(Boolean)) {
    const [id, visible, opacity, colorBy, sizeBy, density] = entry.split(':').map(decodeURIComponent);
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(id)) continue;
    const o = Number(opacity);
    s.order.push(id);
    s.styles[id] = {
      visible: visible !== '0',
      opacity: Number.isFinite(o) && opacity !== undefined && opacity !== '' ? Math.max(0, Math.min(1, o)) : 1,
      colorBy: colorBy || null,
      sizeBy: sizeBy || null,
      density: density === 'h',
    };
  }
  const time = p.get('time');
  if (time) s.window = parseDatetimeParam(time);
  if (p.get('theme') === 'dark') s.theme = 'dark';
  const area = p.get('area');
  if (area) {
    const ring = area.split(',').map((pair) => pair.trim().split(/\s+/).map(Number) as [number, number]);
    if (ring.length >= 3 && ring.every((c) => c.length === 2 && c.every(Number.isFinite))) s.area = ring;
  }
  return s;
}
