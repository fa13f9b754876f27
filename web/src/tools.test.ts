import { describe, expect, it } from 'vitest';
import { boxRing, circleRing, destination, distanceMetres, formatDistance, insideRing, intersectsFilter, pathMetres } from './geo';
import { displayValue, propertyRows } from './inspect';

describe('geo helpers', () => {
  it('measures great-circle distances', () => {
    // Paris to London, about 344 km.
    const d = distanceMetres([2.3522, 48.8566], [-0.1276, 51.5072]);
    expect(d / 1000).toBeGreaterThan(340);
    expect(d / 1000).toBeLessThan(348);
    expect(pathMetres([[0, 0], [1, 0], [1, 1]])).toBeCloseTo(2 * distanceMetres([0, 0], [1, 0]), -2);
    expect(formatDistance(950)).toBe('950 m');
    expect(formatDistance(12_345)).toBe('12.35 km');
  });

  it('turns a drawn box into a CQL2 polygon filter', () => {
    const ring = boxRing([10, 5], [0, -5]);
    expect(ring[0]).toEqual([0, -5]);
    expect(intersectsFilter(ring)).toBe('S_INTERSECTS(geometry, POLYGON((0 -5, 10 -5, 10 5, 0 5, 0 -5)))');
    expect(insideRing([5, 0], ring)).toBe(true);
    expect(insideRing([11, 0], ring)).toBe(false);
    const l: [number, number][] = [[0, 0], [10, 0], [10, 2], [2, 2], [2, 10], [0, 10], [0, 0]];
    expect(insideRing([5, 5], l)).toBe(false);
    expect(insideRing([1, 5], l)).toBe(true);
  });
});

describe('inspect', () => {
  it('lists time first, hides tile bookkeeping, and keeps markup as text', () => {
    const rows = propertyRows({ name: '<img src=x onerror=alert(1)>', mag: 5.123456789, time_start: Date.UTC(2023, 3, 1), time_end: Date.UTC(2023, 3, 1), cluster: false, nothing: null });
    expect(rows[0]).toEqual(['time', '2023-04-01 UTC']);
    expect(rows.map((r) => r[0])).toEqual(['time', 'name', 'mag']);
    expect(rows[1][1]).toBe('<img src=x onerror=alert(1)>');
    expect(displayValue(1234567)).toBe('1,234,567');
    expect(displayValue({ a: 1 })).toBe('{"a":1}');
  });
});


describe('geodesic circles', () => {
  it('puts every vertex at the radius and closes the ring', () => {
    const centre: [number, number] = [179.9, 10];
    const ring = circleRing(centre, 50_000, 32);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    for (const p of ring) expect(Math.abs(distanceMetres(centre, [((p[0] + 540) % 360) - 180, p[1]]) - 50_000)).toBeLessThan(1);
    expect(Math.max(...ring.map((p) => p[0])) - Math.min(...ring.map((p) => p[0]))).toBeLessThan(2);
    expect(destination([0, 0], 90, 111_195)[0]).toBeCloseTo(1, 3);
  });
});
