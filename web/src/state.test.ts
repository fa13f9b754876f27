import { describe, expect, it } from 'vitest';
import { decodeState, emptyState, encodeState } from './state';

describe('shareable state', () => {
  it('round-trips view, layers, styles, time, theme and area', () => {
    const s = emptyState();
    s.view = { center: [12.5, 41.9], zoom: 5.25 };
    s.order = ['earthquakes', 'sites'];
    s.styles = {
      earthquakes: { visible: true, opacity: 0.6, colorBy: 'mag', sizeBy: 'mag', density: false },
      sites: { visible: false, opacity: 1, colorBy: null, sizeBy: null, density: false },
    };
    s.window = { start: Date.UTC(2023, 3, 1), end: Date.UTC(2023, 3, 3) };
    s.theme = 'dark';
    s.area = [[0, 0], [10, 0], [10, 10], [0, 0]];
    const hash = encodeState(s);
    expect(hash).toContain('layers=earthquakes:1:0.6:mag:mag,sites:0:1');
    expect(hash).toContain('map=5.25/41.9/12.5');
    const back = decodeState(`#${hash}`);
    expect(back).toEqual(s);
  });

  it('ignores what it cannot trust', () => {
    const s = decodeState('#map=abc&layers=DROP%20TABLE:1,ok_id:1:7&theme=neon&area=1 2,3');
    expect(s.view).toBeNull();
    expect(s.order).toEqual(['ok_id']);
    expect(s.styles.ok_id.opacity).toBe(1);
    expect(s.theme).toBe('light');
    expect(s.area).toBeNull();
  });

  it('keeps property names with separators intact', () => {
    const s = emptyState();
    s.order = ['x'];
    s.styles.x = { visible: true, opacity: 1, colorBy: 'a:b,c', sizeBy: null, density: false };
    expect(decodeState(encodeState(s)).styles.x.colorBy).toBe('a:b,c');
  });
});
