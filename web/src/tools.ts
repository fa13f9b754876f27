// Map tools: measure a path's distance, and draw a box or polygon that filters every layer (sent to the
// server as a CQL2 S_INTERSECTS filter, so tiles and counts agree).

import type { MapMouseEvent } from 'maplibre-gl';
import type { LngLat } from './geo';
import { boxRing, closeRing, formatDistance, intersectsFilter, pathMetres } from './geo';
import type { ConsoleApp } from './main';

type Mode = 'measure' | 'box' | 'polygon';

const HINTS: Record<Mode, string> = {
  measure: 'Measuring: click points along a path; double-click or Enter to finish, Esc to cancel.',
  box: 'Box filter: click two opposite corners; Esc cancels.',
  polygon: 'Polygon filter: click the corners; double-click or Enter to finish, Esc to cancel.',
};

export class Tools {
  active: Mode | null = null;
  private points: LngLat[] = [];
  private hover: LngLat | null = null;
  private hint: HTMLElement;
  private measured = '';

  constructor(private app: ConsoleApp) {
    this.hint = document.getElementById('tool-hint')!;
    for (const mode of ['measure', 'box', 'polygon'] as Mode[]) {
      document.getElementById(`tool-${mode}`)?.addEventListener('click', () => this.toggle(mode));
    }
    document.getElementById('tool-clear')?.addEventListener('click', () => this.clearArea());
    const map = app.map;
    map.on('click', (e) => this.click(e));
    map.on('dblclick', (e) => {
      if (this.active === 'measure' || this.active === 'polygon') {
        e.preventDefault();
        this.finish();
      }
    });
    map.on('mousemove', (e) => {
      if (!this.active || this.points.length === 0) return;
      this.hover = [e.lngLat.lng, e.lngLat.lat];
      this.draw();
    });
    window.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && this.active && !(e.target as HTMLElement).closest('input, select, textarea, dialog')) this.finish();
    });
    this.syncButtons();
    map.once('load', () => this.draw());
  }

  areaFilter(): string {
    return this.app.state.area ? intersectsFilter(this.app.state.area) : '';
  }

  toggle(mode: Mode): void {
    if (this.active === mode) {
      this.cancel();
      return;
    }
    this.active = mode;
    this.points = [];
    this.hover = null;
    this.measured = '';
    this.app.map.doubleClickZoom.disable();
    this.app.map.getCanvas().style.cursor = 'crosshair';
    this.say(HINTS[mode]);
    this.syncButtons();
    this.draw();
  }

  cancel(): void {
    this.active = null;
    this.points = [];
    this.hover = null;
    this.app.map.doubleClickZoom.enable();
    this.app.map.getCanvas().style.cursor = '';
    if (!this.measured) this.say('');
    this.syncButtons();
    this.draw();
  }

  private click(e: MapMouseEvent): void {
    if (!this.active) return;
    const p: LngLat = [e.lngLat.lng, e.lngLat.lat];
    this.points.push(p);
    if (this.active === 'box' && this.points.length === 2) {
      this.setArea(boxRing(this.points[0], this.points[1]));
      return;
    }
    if (this.active === 'measure') {
      this.measured = `Distance: ${formatDistance(pathMetres(this.points))}`;
      this.say(`${this.measured} (great circle). Double-click or Enter to finish.`);
    }
    this.draw();
  }

  private finish(): void {
    if (this.active === 'polygon' && this.points.length >= 3) {
      this.setArea(closeRing(this.points));
      return;
    }
    if (this.active === 'measure' && this.points.length >= 2) {
      const path = this.points;
      this.measured = `Distance: ${formatDistance(pathMetres(path))}`;
      this.active = null;
      this.app.map.doubleClickZoom.enable();
      this.app.map.getCanvas().style.cursor = '';
      this.say(`${this.measured} (great circle)`);
      this.points = path;
      this.hover = null;
      this.syncButtons();
      this.draw(true);
      return;
    }
    this.cancel();
  }

  private setArea(ring: LngLat[]): void {
    this.app.state.area = ring;
    this.measured = '';
    this.cancel();
    this.say('Every layer is filtered to the drawn area. "Clear area" removes the filter.');
    this.app.areaChanged();
  }

  clearArea(): void {
    this.app.state.area = null;
    this.say('');
    this.syncButtons();
    this.draw();
    this.app.areaChanged();
  }

  private syncButtons(): void {
    for (const mode of ['measure', 'box', 'polygon'] as Mode[]) {
      document.getElementById(`tool-${mode}`)?.setAttribute('aria-pressed', String(this.active === mode));
    }
    const clear = document.getElementById('tool-clear') as HTMLButtonElement | null;
    if (clear) clear.disabled = !this.app.state.area;
  }

  private say(text: string): void {
    this.hint.textContent = text;
    this.hint.hidden = !text;
    delete this.hint.dataset.kind;
  }

  /** Draws the area filter, and the shape being drawn or measured. */
  draw(keepMeasure = false): void {
    const features: GeoJSON.Feature[] = [];
    if (this.app.state.area) {
      features.push({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [closeRing(this.app.state.area)] } });
    }
    const live = this.hover && this.active ? [...this.points, this.hover] : this.points;
    if (this.active || keepMeasure) {
      if (this.active === 'box' && live.length === 2) {
        features.push({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [boxRing(live[0], live[1])] } });
      } else if (live.length >= 2) {
        features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: live } });
      }
      for (const p of this.points) features.push({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: p } });
    }
    this.app.showTools({ type: 'FeatureCollection', features });
  }
}
