// Map styles: the offline basemap (light and dark) and each dataset's layers, as MapLibre style objects.
// Pure functions of their inputs, so the expressions they build are unit-tested.

import type {
  ExpressionSpecification,
  FilterSpecification,
  LayerSpecification,
  StyleSpecification,
} from 'maplibre-gl';
import type { Collection } from './api';
import type { LayerStyle } from './state';
import type { TimeWindow } from './time';

export type Theme = 'light' | 'dark';
export const FONT = ['DejaVu Sans'];

interface Palette {
  water: string;
  land: string;
  coast: string;
  border: string;
  graticule: string;
  label: string;
  halo: string;
  city: string;
}

const PALETTES: Record<Theme, Palette> = {
  light: { water: '#cfe0ee', land: '#f6f4ee', coast: '#8fa9bf', border: '#b3a9b8', graticule: '#b9cadb', label: '#333a44', halo: '#ffffff', city: '#555f6b' },
  dark: { water: '#0d1520', land: '#1e2630', coast: '#3d5268', border: '#4e5563', graticule: '#1f2c3b', label: '#d6dde6', halo: '#0d1520', city: '#9aa7b6' },
};

/** Colours for datasets, in order of appearance; distinguishable on both themes. */
export const DATASET_COLOURS = ['#e4572e', '#3a86ff', '#f3a712', '#2bb673', '#a846a0', '#17bebb', '#ff6f91', '#8c5e58', '#6a4c93', '#c2a83e'];
/** Categories beyond this many share the "other" colour. */
export const MAX_CATEGORIES = 8;
const CATEGORY_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const OTHER_COLOUR = '#9a9a9a';
/** Light to dark (viridis-like): reads as "more" on both themes. */
const RAMP = ['#fde725', '#5ec962', '#21918c', '#3b528b', '#440154'];

export function basemapStyle(theme: Theme, origin: string): StyleSpecification {
  const c = PALETTES[theme];
  return {
    version: 8,
    name: `geoconsole ${theme}`,
    glyphs: `${origin}/basemap/fonts/{fontstack}/{range}.pbf`,
    sources: {
      basemap: {
        type: 'vector',
        tiles: [`${origin}/basemap/{z}/{x}/{y}`],
        maxzoom: 8,
        attribution: 'Natural Earth (public domain), via world-atlas',
      },
    },
    layers: [
      { id: 'bm-water', type: 'background', paint: { 'background-color': c.water } },
      { id: 'bm-land', type: 'fill', source: 'basemap', 'source-layer': 'land', paint: { 'fill-color': c.land } },
      {
        id: 'bm-graticule', type: 'line', source: 'basemap', 'source-layer': 'graticule',
        paint: { 'line-color': c.graticule, 'line-width': ['case', ['==', ['%', ['get', 'degrees'], 30], 0], 0.8, 0.4] },
      },
      { id: 'bm-coastline', type: 'line', source: 'basemap', 'source-layer': 'coastline', paint: { 'line-color': c.coast, 'line-width': 0.7 } },
      {
        id: 'bm-borders', type: 'line', source: 'basemap', 'source-layer': 'borders',
        paint: { 'line-color': c.border, 'line-width': ['interpolate', ['linear'], ['zoom'], 1, 0.4, 6, 1.2], 'line-dasharray': [3, 2] },
      },
      {
        id: 'bm-city-dots', type: 'circle', source: 'basemap', 'source-layer': 'cities', minzoom: 1,
        paint: { 'circle-radius': ['case', ['get', 'capital'], 2.5, 1.8], 'circle-color': c.city },
      },
      {
        id: 'bm-city-labels', type: 'symbol', source: 'basemap', 'source-layer': 'cities', minzoom: 1,
        layout: {
          'text-field': ['get', 'name'],
          'text-font': FONT,
          'text-size': ['case', ['get', 'capital'], 12, 11],
          'text-anchor': 'left',
          'text-offset': [0.4, 0],
          'text-max-width': 8,
        },
        paint: { 'text-color': c.label, 'text-halo-color': c.halo, 'text-halo-width': 1.2 },
      },
    ],
  };
}

/** Distinct values seen for a property, and numbers' class breaks. */
export interface PropertyStats {
  kind: 'categorical' | 'numeric';
  categories: string[];
  breaks: number[];
  min: number;
  max: number;
}

/** Summarises sampled values: numbers get quantile breaks for 5 classes, anything else its most common
 * values. */
export function propertyStats(values: unknown[]): PropertyStats {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  const numbers = present.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (numbers.length > 0 && numbers.length === present.length) {
    const sorted = [...numbers].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    const breaks = [...new Set([q(0.2), q(0.4), q(0.6), q(0.8)])].filter((b) => b > sorted[0]);
    return { kind: 'numeric', categories: [], breaks, min: sorted[0], max: sorted[sorted.length - 1] };
  }
  const counts = new Map<string, number>();
  for (const v of present) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  const categories = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, MAX_CATEGORIES).map(([k]) => k);
  return { kind: 'categorical', categories, breaks: [], min: 0, max: 0 };
}

export interface LegendEntry {
  label: string;
  colour: string;
}

/** The colour expression for a property, and its legend. */
export function colourBy(property: string, stats: PropertyStats): { expression: ExpressionSpecification; legend: LegendEntry[] } {
  if (stats.kind === 'numeric') {
    const stops: (number | string)[] = [];
    const legend: LegendEntry[] = [];
    const bounds = [stats.min, ...stats.breaks, stats.max];
    stats.breaks.forEach((b, i) => stops.push(b, RAMP[i + 1]));
    for (let i = 0; i <= stats.breaks.length; i++) {
      legend.push({ label: `${fmt(bounds[i])} – ${fmt(bounds[i + 1])}`, colour: RAMP[i] });
    }
    const value: ExpressionSpecification = ['to-number', ['get', property], stats.min];
    const expression = (stops.length ? ['step', value, RAMP[0], ...stops] : ['literal', RAMP[0]]) as ExpressionSpecification;
    return { expression, legend };
  }
  if (stats.categories.length === 0) return { expression: ['literal', OTHER_COLOUR] as ExpressionSpecification, legend: [] };
  const pairs: string[] = [];
  const legend: LegendEntry[] = [];
  stats.categories.forEach((c, i) => {
    pairs.push(c, CATEGORY_COLOURS[i]);
    legend.push({ label: c, colour: CATEGORY_COLOURS[i] });
  });
  legend.push({ label: 'other', colour: OTHER_COLOUR });
  const expression = ['match', ['to-string', ['get', property]], ...pairs, OTHER_COLOUR] as unknown as ExpressionSpecification;
  return { expression, legend };
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en') : Number(v.toPrecision(3)).toString();
}

/** Point radius by a numeric property, 3 to 14 pixels across its range. */
export function sizeBy(property: string, stats: PropertyStats): ExpressionSpecification {
  if (stats.kind !== 'numeric' || stats.max <= stats.min) return ['literal', 5] as ExpressionSpecification;
  return ['interpolate', ['linear'], ['to-number', ['get', property], stats.min], stats.min, 3, stats.max, 14];
}

/** Keeps features active during the window; features without a time (and clusters) always pass. */
export function timeFilter(w: TimeWindow): FilterSpecification {
  return ['any',
    ['!', ['has', 'time_start']],
    ['all', ['<=', ['get', 'time_start'], w.end], ['>=', ['get', 'time_end'], w.start]],
  ] as FilterSpecification;
}

export interface DatasetLayerOptions {
  collection: Collection;
  style: LayerStyle;
  colour: string;
  colourExpression: ExpressionSpecification | null;
  sizeExpression: ExpressionSpecification | null;
  window: TimeWindow | null;
  theme: Theme;
  /** Property naming a site's type, for its icon. */
  siteTypeProperty: string | null;
}

export const sourceId = (id: string) => `ds:${id}`;
export const hexSourceId = (id: string) => `h3:${id}`;

/** H3 resolution for a zoom: hexagons about 20–30 pixels across on 512-pixel tiles. */
export function hexResolution(zoom: number): number {
  return Math.max(0, Math.min(9, Math.floor(zoom / 2) + 1));
}

/** Density layers for a dataset drawn as H3 hexagons, coloured by count on the same ramp as numbers. */
export function hexLayers(id: string, maxCount: number, opacity: number, visible: boolean): LayerSpecification[] {
  const top = Math.max(2, maxCount);
  const stops = [1, RAMP[0], Math.max(1.5, top ** 0.25), RAMP[1], Math.max(2, top ** 0.5), RAMP[2], Math.max(3, top ** 0.75), RAMP[3], top, RAMP[4]];
  const layout = { visibility: visible ? 'visible' : 'none' } as const;
  return [
    { id: `h3:${id}:fill`, type: 'fill', source: hexSourceId(id), layout, paint: { 'fill-color': ['interpolate', ['linear'], ['get', 'count'], ...dedupeStops(stops)] as ExpressionSpecification, 'fill-opacity': 0.7 * opacity } },
    { id: `h3:${id}:outline`, type: 'line', source: hexSourceId(id), layout, paint: { 'line-color': '#ffffff', 'line-width': 0.4, 'line-opacity': 0.6 * opacity } },
  ];
}

/** Interpolation stops must increase strictly. */
function dedupeStops(stops: (number | string)[]): (number | string)[] {
  const out: (number | string)[] = [];
  for (let i = 0; i < stops.length; i += 2) {
    const at = stops[i] as number;
    if (out.length && at <= (out[out.length - 2] as number)) continue;
    out.push(at, stops[i + 1]);
  }
  return out;
}
/** Zoom from which sites are drawn as icons by type (dots below). */
export const SITE_ICON_ZOOM = 3;

/** The style layers that draw one dataset, bottom first; each id starts with `ds:{id}:`. */
export function datasetLayers(o: DatasetLayerOptions): LayerSpecification[] {
  const id = o.collection.id;
  const base = { source: sourceId(id), 'source-layer': id };
  const visibility = o.style.visible ? 'visible' : 'none';
  const colour = o.colourExpression ?? o.colour;
  const opacity = o.style.opacity;
  const outline = o.theme === 'dark' ? '#0d1520' : '#ffffff';
  const timed = o.collection.time && o.window ? timeFilter(o.window) : null;
  const notCluster: FilterSpecification = ['!', ['has', 'point_count']];
  const withTime = (f: FilterSpecification): FilterSpecification => (timed ? (['all', f, timed] as FilterSpecification) : f);
  const g = o.collection.geometryType.toLowerCase();
  const isType = (...types: string[]): FilterSpecification => ['in', ['geometry-type'], ['literal', types]] as FilterSpecification;
  const layers: LayerSpecification[] = [];
  if (g.includes('polygon')) {
    layers.push(
      { id: `ds:${id}:fill`, type: 'fill', ...base, layout: { visibility }, filter: withTime(isType('Polygon', 'MultiPolygon')), paint: { 'fill-color': colour, 'fill-opacity': 0.28 * opacity } },
      { id: `ds:${id}:outline`, type: 'line', ...base, layout: { visibility }, filter: withTime(isType('Polygon', 'MultiPolygon')), paint: { 'line-color': colour, 'line-width': 1.2, 'line-opacity': opacity } },
    );
  }
  if (g.includes('line') || g === 'geometry' || g === 'geometrycollection') {
    layers.push({ id: `ds:${id}:line`, type: 'line', ...base, layout: { visibility, 'line-cap': 'round', 'line-join': 'round' }, filter: withTime(isType('LineString', 'MultiLineString')), paint: { 'line-color': colour, 'line-width': 2.2, 'line-opacity': opacity } });
  }
  if (g.includes('point') || g === 'geometry' || g === 'geometrycollection') {
    layers.push(
      {
        id: `ds:${id}:clusters`, type: 'circle', ...base, layout: { visibility }, filter: ['has', 'point_count'],
        paint: {
          'circle-color': o.colour,
          'circle-opacity': 0.55 * opacity,
          'circle-radius': ['interpolate', ['linear'], ['get', 'point_count'], 2, 7, 100, 13, 10000, 24],
          'circle-stroke-color': outline,
          'circle-stroke-width': 1,
        },
      },
      {
        id: `ds:${id}:cluster-count`, type: 'symbol', ...base, layout: { visibility, 'text-field': ['to-string', ['get', 'point_count']], 'text-font': FONT, 'text-size': 10, 'text-allow-overlap': false }, filter: ['has', 'point_count'],
        paint: { 'text-color': o.theme === 'dark' ? '#ffffff' : '#1b1f24' },
      },
    );
    if (o.collection.kind === 'sites' && !o.colourExpression) {
      // Icons cost symbol layout and placement; at world scale thousands of them overlap anyway, so sites are
      // dots there and icons from SITE_ICON_ZOOM.
      layers.push({
        id: `ds:${id}:points`, type: 'circle', ...base, maxzoom: SITE_ICON_ZOOM, layout: { visibility }, filter: withTime(['all', notCluster, isType('Point', 'MultiPoint')] as FilterSpecification),
        paint: { 'circle-color': o.colour, 'circle-opacity': 0.85 * opacity, 'circle-radius': o.sizeExpression ?? 2.5, 'circle-stroke-color': outline, 'circle-stroke-width': 0.5 },
      });
      layers.push({
        id: `ds:${id}:icons`, type: 'symbol', ...base, minzoom: SITE_ICON_ZOOM, filter: withTime(['all', notCluster, isType('Point', 'MultiPoint')] as FilterSpecification),
        layout: {
          visibility,
          'icon-image': ['concat', 'site:', o.siteTypeProperty ? ['to-string', ['coalesce', ['get', o.siteTypeProperty], 'site']] : 'site'],
          'icon-size': o.sizeExpression ? ['/', o.sizeExpression, 8] : ['interpolate', ['linear'], ['zoom'], SITE_ICON_ZOOM, 0.7, 8, 1],
          'icon-allow-overlap': true,
        },
        paint: { 'icon-opacity': opacity },
      });
    } else {
      layers.push({
        id: `ds:${id}:points`, type: 'circle', ...base, layout: { visibility }, filter: withTime(['all', notCluster, isType('Point', 'MultiPoint')] as FilterSpecification),
        paint: {
          'circle-color': colour,
          'circle-opacity': 0.85 * opacity,
          'circle-radius': o.sizeExpression ?? ['interpolate', ['linear'], ['zoom'], 1, 2.5, 8, 5],
          'circle-stroke-color': outline,
          'circle-stroke-width': 0.6,
          'circle-stroke-opacity': opacity,
        },
      });
    }
  }
  return layers;
}
