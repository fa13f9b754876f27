import { describe, expect, it } from 'vitest';
import type { Collection } from './api';
import { basemapStyle, colourBy, datasetLayers, hexLayers, hexResolution, propertyStats, sizeBy, timeFilter } from './styles';
import { defaultStyle } from './state';

const quakes: Collection = {
  id: 'earthquakes', title: 'Quakes', kind: 'events', geometryType: 'point', featureCount: 3, version: 1,
  updated: '2023-04-07T00:00:00Z', bbox: [-10, -10, 10, 10], time: { start: 0, end: 1000 },
};

describe('styles', () => {
  it('serves the basemap and glyphs from the console itself', () => {
    const style = basemapStyle('dark', 'http://127.0.0.1:8080');
    expect(style.glyphs).toBe('http://127.0.0.1:8080/basemap/fonts/{fontstack}/{range}.pbf');
    expect(JSON.stringify(style.sources)).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect(style.layers.map((l) => l.id)).toContain('bm-city-labels');
  });

  it('classes numbers into quantile steps and text into top categories', () => {
    const numeric = propertyStats([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, null]);
    expect(numeric.kind).toBe('numeric');
    expect(numeric.min).toBe(1);
    expect(numeric.max).toBe(10);
    expect(numeric.breaks).toEqual([3, 5, 7, 9]);
    const { expression, legend } = colourBy('mag', numeric);
    expect(expression[0]).toBe('step');
    expect(legend).toHaveLength(5);
    const text = propertyStats(['a', 'b', 'a', 'c', 'a', 'b', 1]);
    expect(text.kind).toBe('categorical');
    expect(text.categories.slice(0, 2)).toEqual(['a', 'b']);
    const cat = colourBy('kind', text);
    expect(cat.expression[0]).toBe('match');
    expect(cat.legend.at(-1)?.label).toBe('other');
    expect(sizeBy('mag', numeric)).toEqual(['interpolate', ['linear'], ['to-number', ['get', 'mag'], 1], 1, 3, 10, 14]);
  });

  it('filters time-aware layers by the window and leaves clusters and timeless features alone', () => {
    const f = timeFilter({ start: 10, end: 20 });
    expect(JSON.stringify(f)).toContain('"time_start"');
    const layers = datasetLayers({
      collection: quakes, style: defaultStyle(true), colour: '#f00', colourExpression: null, sizeExpression: null,
      window: { start: 10, end: 20 }, theme: 'light', siteTypeProperty: null,
    });
    const points = layers.find((l) => l.id === 'ds:earthquakes:points');
    expect(JSON.stringify(points && 'filter' in points ? points.filter : null)).toContain('time_end');
    const clusters = layers.find((l) => l.id === 'ds:earthquakes:clusters');
    expect(clusters && 'filter' in clusters ? clusters.filter : null).toEqual(['has', 'point_count']);
    const hidden = datasetLayers({
      collection: { ...quakes, time: null }, style: { ...defaultStyle(false), opacity: 0.5 }, colour: '#f00', colourExpression: null,
      sizeExpression: null, window: { start: 10, end: 20 }, theme: 'dark', siteTypeProperty: null,
    });
    expect(hidden.every((l) => l.layout?.visibility === 'none')).toBe(true);
    expect(JSON.stringify(hidden)).not.toContain('time_start');
  });
});

describe('density mode', () => {
  it('picks coarser hexagons when zoomed out and keeps colour stops increasing', () => {
    expect(hexResolution(0)).toBe(1);
    expect(hexResolution(6)).toBe(4);
    expect(hexResolution(30)).toBe(9);
    for (const max of [0, 1, 2, 5, 1000]) {
      const [fill] = hexLayers('q', max, 1, true);
      const expr = (fill.paint as Record<string, unknown>)['fill-color'] as unknown[];
      const stops = expr.slice(3).filter((_, i) => i % 2 === 0) as number[];
      expect(stops.every((v, i) => i === 0 || v > stops[i - 1])).toBe(true);
    }
  });
});
