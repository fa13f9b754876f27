// The layers panel: every dataset as a layer with visibility, order, opacity, colour and size by property,
// its legend and how many of its features are in the view and the time window.

import type { ExportFormat, ExportStatus } from './api';
import { EXPORT_FORMATS, exportStatus, startExport } from './api';
import type { ConsoleApp } from './main';
import type { TimeWindow } from './time';

export class LayersPanel {
  private list: HTMLOListElement;
  private open = new Set<string>();

  constructor(private app: ConsoleApp) {
    this.list = document.getElementById('layers') as HTMLOListElement;
  }

  render(): void {
    const focused = document.activeElement?.id;
    this.list.replaceChildren(...this.app.state.order.map((id, index) => this.item(id, index)));
    if (focused) document.getElementById(focused)?.focus();
    this.updateCounts();
  }

  updateCounts(): void {
    for (const id of this.app.state.order) {
      const out = document.getElementById(`count-${id}`);
      if (!out) continue;
      const visible = this.app.styleOf(id).visible;
      const n = this.app.counts.get(id);
      out.textContent = !visible ? '' : n === undefined ? '…' : n === null ? 'many' : n.toLocaleString('en');
      out.title = visible ? 'Features in view (and in the time window)' : '';
    }
  }

  private item(id: string, index: number): HTMLLIElement {
    const app = this.app;
    const c = app.collections.get(id)!;
    const st = app.styleOf(id);
    const li = document.createElement('li');
    li.className = 'layer';
    li.dataset.layer = id;

    const row = document.createElement('div');
    row.className = 'layer-row';
    const toggle = document.createElement('input');
    toggle.type = 'checkbox';
    toggle.id = `toggle-${id}`;
    toggle.checked = st.visible;
    toggle.addEventListener('change', () => {
      st.visible = toggle.checked;
      app.restyle();
      app.resetTimeDomain();
      app.scheduleCounts();
      app.sites.scheduleExposure();
      this.updateCounts();
    });
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = app.colourOf(id);
    const label = document.createElement('label');
    label.htmlFor = toggle.id;
    label.textContent = c.title;
    label.title = `${c.id} · ${c.kind} · ${c.geometryType} · ${c.featureCount.toLocaleString('en')} features`;
    const count = document.createElement('output');
    count.id = `count-${id}`;
    count.className = 'count';
    const more = document.createElement('button');
    more.type = 'button';
    more.className = 'icon';
    more.id = `more-${id}`;
    more.textContent = this.open.has(id) ? '▾' : '▸';
    more.setAttribute('aria-expanded', String(this.open.has(id)));
    more.setAttribute('aria-label', `Style of ${c.title}`);
    more.addEventListener('click', () => {
      if (this.open.has(id)) this.open.delete(id);
      else this.open.add(id);
      this.render();
    });
    row.append(toggle, swatch, label, count, more);
    li.append(row);

    const legend = st.density && app.canDensity(id) ? densityLegend(app.hexData.get(id)) : app.legendOf(id);
    if (legend.length) {
      const ul = document.createElement('ul');
      ul.className = 'legend';
      ul.setAttribute('aria-label', `Legend of ${c.title}`);
      for (const entry of legend) {
        const item = document.createElement('li');
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = entry.colour;
        const text = document.createElement('span');
        text.textContent = entry.label;
        item.append(sw, text);
        ul.append(item);
      }
      li.append(ul);
    }
    if (this.open.has(id)) li.append(this.details(id, index));
    return li;
  }

  private details(id: string, index: number): HTMLElement {
    const app = this.app;
    const st = app.styleOf(id);
    const c = app.collections.get(id)!;
    const box = document.createElement('div');
    box.className = 'layer-details';

    const order = document.createElement('div');
    order.className = 'row';
    const up = button(`up-${id}`, 'Move up', '↑', index === 0, () => this.move(id, -1));
    const down = button(`down-${id}`, 'Move down', '↓', index === app.state.order.length - 1, () => this.move(id, 1));
    const zoom = button(`zoom-${id}`, 'Zoom to layer', 'Zoom to', !c.bbox, () => app.flyToBbox(c.bbox));
    order.append(up, down, zoom);

    const opacityLabel = document.createElement('label');
    opacityLabel.textContent = 'Opacity ';
    const opacity = document.createElement('input');
    opacity.type = 'range';
    opacity.min = '0';
    opacity.max = '1';
    opacity.step = '0.05';
    opacity.value = String(st.opacity);
    opacity.id = `opacity-${id}`;
    opacity.addEventListener('input', () => {
      st.opacity = Number(opacity.value);
      app.scheduleRestyle();
    });
    opacityLabel.append(opacity);

    const colour = select(`colour-${id}`, 'Colour by');
    const size = select(`size-${id}`, 'Size by');
    void app.queryables(id).then((q) => {
      for (const [name, type] of Object.entries(q)) {
        colour.select.add(new Option(name, name, false, st.colorBy === name));
        if (type === 'number' || type === 'integer') size.select.add(new Option(name, name, false, st.sizeBy === name));
      }
    });
    colour.select.addEventListener('change', async () => {
      const p = colour.select.value || null;
      if (p) await app.statsFor(id, p);
      st.colorBy = p;
      app.restyle();
      this.render();
    });
    size.select.addEventListener('change', async () => {
      const p = size.select.value || null;
      if (p) await app.statsFor(id, p);
      st.sizeBy = p;
      app.restyle();
    });
    box.append(order, opacityLabel, colour.label, size.label);
    if (app.canDensity(id)) {
      const density = document.createElement('label');
      const check = document.createElement('input');
      check.type = 'checkbox';
      check.id = `density-${id}`;
      check.checked = st.density;
      check.addEventListener('change', () => {
        st.density = check.checked;
        app.restyle();
        void app.loadHexbins();
        this.render();
      });
      density.append(check, ' Density (H3 hexagons)');
      box.append(density);
    }
    if (!c.geometryType.toLowerCase().includes('point')) size.label.hidden = true;
    box.append(exportRow(app, id, Boolean(c.time)));
    return box;
  }

  private move(id: string, by: -1 | 1): void {
    const order = this.app.state.order;
    const i = order.indexOf(id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    this.app.restyle();
    this.render();
    document.getElementById(`${by < 0 ? 'up' : 'down'}-${id}`)?.focus();
  }
}

function button(id: string, label: string, text: string, disabled: boolean, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.id = id;
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.title = label;
  b.disabled = disabled;
  b.addEventListener('click', onClick);
  return b;
}

function select(id: string, text: string): { label: HTMLLabelElement; select: HTMLSelectElement } {
  const label = document.createElement('label');
  label.textContent = `${text} `;
  const s = document.createElement('select');
  s.id = id;
  s.add(new Option('—', ''));
  label.append(s);
  return { label, select: s };
}

function densityLegend(data: GeoJSON.FeatureCollection | undefined): { label: string; colour: string }[] {
  const max = Math.max(0, ...(data?.features ?? []).map((f) => Number(f.properties?.count ?? 0)));
  return [
    { label: '1 per hexagon', colour: '#fde725' },
    { label: `${max.toLocaleString('en')} per hexagon (most here)`, colour: '#440154' },
  ];
}

/** Export: a format, optionally only the time bar's window, a background job with progress, then a link. */
function exportRow(app: ConsoleApp, id: string, timed: boolean): HTMLElement {
  const row = document.createElement('div');
  row.className = 'row export-row';
  const format = document.createElement('select');
  format.id = `export-format-${id}`;
  format.setAttribute('aria-label', 'Export format');
  for (const f of EXPORT_FORMATS) format.add(new Option(EXPORT_LABELS[f], f));
  const windowOnly = document.createElement('label');
  const check = document.createElement('input');
  check.type = 'checkbox';
  check.id = `export-window-${id}`;
  windowOnly.append(check, ' Time window only');
  windowOnly.hidden = !timed;
  const status = document.createElement('output');
  status.id = `export-status-${id}`;
  status.setAttribute('role', 'status');
  const go = button(`export-${id}`, 'Export this layer to a file', 'Export', false, () => {
    go.disabled = true;
    void runExport(id, format.value as ExportFormat, check.checked ? app.timebar.window : null, status).finally(() => {
      go.disabled = false;
    });
  });
  row.append(format, go, windowOnly, status);
  return row;
}

const EXPORT_LABELS: Record<ExportFormat, string> = {
  gpkg: 'GeoPackage',
  fgb: 'FlatGeobuf',
  geoparquet: 'GeoParquet',
  geojson: 'GeoJSON',
  geojsonseq: 'GeoJSON lines',
  csv: 'CSV',
  kml: 'KML',
};

async function runExport(id: string, format: ExportFormat, window: TimeWindow | null, status: HTMLOutputElement): Promise<void> {
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  status.replaceChildren(bar);
  try {
    let job: ExportStatus = await startExport(id, format, window);
    while (job.state === 'running') {
      bar.value = job.progress;
      bar.textContent = `${Math.round(job.progress * 100)}%`;
      await new Promise((r) => setTimeout(r, 400));
      job = await exportStatus(job.id);
    }
    if (job.state === 'failed') throw new Error(job.error ?? 'export failed');
    const link = document.createElement('a');
    link.href = job.links.find((l) => l.rel === 'enclosure')?.href ?? `/exports/${job.id}/download`;
    link.download = job.file_name;
    link.id = `export-download-${id}`;
    link.textContent = `Download ${job.file_name} (${(job.features ?? 0).toLocaleString('en')} features, ${sizeOf(job.bytes ?? 0)})`;
    status.replaceChildren(link);
  } catch (e) {
    const error = document.createElement('span');
    error.className = 'error';
    error.textContent = (e as Error).message;
    status.replaceChildren(error);
  }
}

function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
