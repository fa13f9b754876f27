// Import by drag-and-drop (or the Import button): the file is staged on the server, which previews what it
// found; the person checks the detected columns and names the dataset; the import runs with a progress
// bar; the new layer appears (through the same live change event every client gets).

import type { DatasetKind, ImportChoice, Staged } from './api';
import { discardUpload, importStatus, stageUpload, startImport } from './api';
import type { ConsoleApp } from './main';

const KINDS: DatasetKind[] = ['events', 'sites', 'areas', 'reference'];

export class Importer {
  private dialog: HTMLDialogElement;
  private staged: Staged | null = null;
  private layer: string | undefined;
  private busy = false;

  constructor(private app: ConsoleApp) {
    this.dialog = document.getElementById('import-dialog') as HTMLDialogElement;
    const input = document.getElementById('import-file') as HTMLInputElement;
    document.getElementById('import-button')?.addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      input.value = '';
      if (file) void this.stage(file);
    });
    const target = document.querySelector('.mapwrap') as HTMLElement;
    const hint = document.getElementById('drop-hint')!;
    const hasFile = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    target.addEventListener('dragover', (e) => {
      if (!hasFile(e)) return;
      e.preventDefault();
      hint.hidden = false;
    });
    target.addEventListener('dragleave', (e) => {
      if (e.target === target || !target.contains(e.relatedTarget as Node)) hint.hidden = true;
    });
    target.addEventListener('drop', (e) => {
      if (!hasFile(e)) return;
      e.preventDefault();
      hint.hidden = true;
      const file = e.dataTransfer?.files[0];
      if (file) void this.stage(file);
    });
    this.dialog.addEventListener('close', () => {
      if (this.staged && !this.busy) void discardUpload(this.staged.id);
      this.staged = null;
    });
  }

  private async stage(file: File, layer?: string): Promise<void> {
    this.show([para(`Reading ${file.name} (${bytes(file.size)})…`), progress('import-upload')]);
    try {
      this.staged = await stageUpload(file, layer);
      this.layer = layer;
      this.preview(this.staged);
    } catch (e) {
      const message = (e as Error).message;
      const layers = layersIn(message);
      if (layers.length) this.chooseLayer(file, message, layers);
      else this.fail(file.name, message);
    }
  }

  /** A GeoPackage with several tables, a zip with several files, a GPX file: which one to import. */
  private chooseLayer(file: File, message: string, layers: string[]): void {
    const form = document.createElement('form');
    form.id = 'import-layer-form';
    const pick = field('Layer', choices('import-layer', layers, layers[0]));
    const go = document.createElement('button');
    go.type = 'submit';
    go.id = 'import-layer-go';
    go.textContent = 'Preview this layer';
    form.append(para(message), pick.label, go);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.stage(file, (pick.control as HTMLSelectElement).value);
    });
    this.show([form]);
    (pick.control as HTMLSelectElement).focus();
  }

  private show(children: HTMLElement[]): void {
    const title = document.createElement('h2');
    title.id = 'import-title';
    title.textContent = 'Import';
    this.dialog.replaceChildren(title, ...children);
    if (!this.dialog.open) this.dialog.showModal();
  }

  private fail(name: string, message: string): void {
    const p = para(message);
    p.className = 'error';
    p.id = 'import-error';
    p.setAttribute('role', 'alert');
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'Close';
    close.addEventListener('click', () => this.dialog.close());
    this.show([para(`${name} was not imported; nothing was changed.`), p, close]);
    close.focus();
  }

  private preview(staged: Staged): void {
    const p = staged.preview;
    const form = document.createElement('form');
    form.method = 'dialog';
    form.className = 'import-form';
    const summary = para(`${staged.file_name}: ${bytes(staged.bytes)}, ${p.format.toUpperCase()}, ${Object.entries(p.geometry_types).map(([t, n]) => `${n} ${t}`).join(', ') || 'no valid geometry'} in the first ${p.sampled} features read.`);
    summary.id = 'import-summary';

    const fields = document.createElement('div');
    fields.className = 'fields';
    const dataset = field('Dataset id', input('import-dataset', p.suggested_dataset, '^[a-z][a-z0-9_]{0,62}$'));
    const title = field('Title', input('import-title-input', staged.file_name.replace(/\.[^.]+$/, ''), null));
    const kind = field('Kind', choices('import-kind', KINDS, p.suggested_kind));
    const mode = field('If it exists', choices('import-mode', ['create', 'append', 'replace', 'upsert'], 'create'));
    const columns = ['', ...p.columns];
    const time = field('Time column', choices('import-time', columns, p.time ?? ''));
    const timeEnd = field('End time column', choices('import-time-end', columns, p.time_end ?? ''));
    fields.append(dataset.label, title.label, kind.label, mode.label, time.label, timeEnd.label);
    let lat: HTMLSelectElement | null = null;
    let lon: HTMLSelectElement | null = null;
    const coords = p.coordinates?.lat_lon;
    if (coords) {
      const all = [coords.lat, coords.lon, ...p.columns];
      const la = field('Latitude column', choices('import-lat', all, coords.lat));
      const lo = field('Longitude column', choices('import-lon', all, coords.lon));
      lat = la.control as HTMLSelectElement;
      lon = lo.control as HTMLSelectElement;
      fields.append(la.label, lo.label);
    }

    const table = document.createElement('table');
    table.className = 'preview';
    const caption = document.createElement('caption');
    caption.textContent = `First ${p.rows.length} rows`;
    const head = document.createElement('tr');
    const shownColumns = p.columns.slice(0, 6);
    for (const h of ['at', 'geometry', 'time', ...shownColumns]) head.append(cell('th', h));
    table.append(caption, head);
    for (const row of p.rows) {
      const tr = document.createElement('tr');
      tr.append(cell('td', row.at), cell('td', row.position ? `${row.geometry} ${row.position.map((v) => v.toFixed(4)).join(', ')}` : row.geometry), cell('td', row.time ?? ''));
      for (const c of shownColumns) tr.append(cell('td', text(row.properties[c])));
      table.append(tr);
    }
    const wrap = document.createElement('div');
    wrap.className = 'preview-wrap';
    wrap.append(table);

    const problems = document.createElement('ul');
    problems.className = 'problems';
    for (const pr of p.problems) {
      const li = document.createElement('li');
      li.textContent = `${pr.at}: ${pr.reason}`;
      problems.append(li);
    }

    const notes = document.createElement('ul');
    notes.className = 'preview-notes';
    for (const w of p.warnings ?? []) {
      const li = document.createElement('li');
      li.textContent = w;
      notes.append(li);
    }

    const actions = document.createElement('div');
    actions.className = 'actions';
    const go = document.createElement('button');
    go.type = 'submit';
    go.id = 'import-go';
    go.textContent = 'Import';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => this.dialog.close());
    actions.append(go, cancel);

    form.append(summary, fields, wrap);
    if (p.problems.length) {
      const h = para(`Problems in the first rows (the import stops at the first one; fix the file or they will be reported again):`);
      h.className = 'error';
      form.append(h, problems);
    }
    if (notes.children.length) form.append(para('Notes on the first rows (imported, with these changes):'), notes);
    form.append(actions);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const choice: ImportChoice = {
        dataset: (dataset.control as HTMLInputElement).value.trim(),
        title: (title.control as HTMLInputElement).value.trim() || undefined,
        kind: (kind.control as HTMLSelectElement).value as DatasetKind,
        mode: (mode.control as HTMLSelectElement).value as ImportChoice['mode'],
        time: (time.control as HTMLSelectElement).value || undefined,
        time_end: (timeEnd.control as HTMLSelectElement).value || undefined,
        lat: lat?.value || undefined,
        lon: lon?.value || undefined,
        layer: this.layer,
      };
      void this.run(staged, choice);
    });
    this.show([form]);
    (dataset.control as HTMLInputElement).focus();
  }

  private async run(staged: Staged, choice: ImportChoice): Promise<void> {
    this.busy = true;
    const bar = progress('import-progress');
    const status = para('Starting…');
    status.id = 'import-status';
    status.setAttribute('aria-live', 'polite');
    this.show([para(`Importing ${staged.file_name} into ${choice.dataset}`), bar, status]);
    try {
      let s = await startImport(staged.id, choice);
      while (s.state === 'importing' || s.state === 'staged') {
        bar.max = Math.max(1, s.bytes_total);
        bar.value = s.bytes_read;
        status.textContent = `${s.features.toLocaleString('en')} features read (${Math.round((100 * s.bytes_read) / Math.max(1, s.bytes_total))} %)`;
        await new Promise((r) => setTimeout(r, 200));
        s = await importStatus(staged.id);
      }
      this.busy = false;
      if (s.state === 'failed') {
        this.staged = null;
        await discardUpload(staged.id);
        this.fail(staged.file_name, s.error ?? 'the import failed');
        return;
      }
      bar.value = bar.max;
      const id = s.report?.dataset.id ?? choice.dataset;
      await discardUpload(staged.id);
      this.staged = null;
      this.dialog.close();
      await this.app.reloadCollections();
      const st = this.app.styleOf(id);
      st.visible = true;
      this.app.restyle();
      this.app.resetTimeDomain();
      this.app.layersPanel.render();
      this.app.flyToBbox(this.app.collections.get(id)?.bbox ?? null);
      this.app.notify(`Imported ${s.report?.imported.toLocaleString('en') ?? ''} features into ${id}.`);
      document.body.dataset.lastImport = id;
    } catch (e) {
      this.busy = false;
      this.fail(staged.file_name, (e as Error).message);
    }
  }
}

function para(textContent: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.textContent = textContent;
  return p;
}

function progress(id: string): HTMLProgressElement {
  const p = document.createElement('progress');
  p.id = id;
  return p;
}

function cell(tag: 'td' | 'th', textContent: string): HTMLElement {
  const c = document.createElement(tag);
  c.textContent = textContent;
  return c;
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function input(id: string, value: string, pattern: string | null): HTMLInputElement {
  const i = document.createElement('input');
  i.id = id;
  i.value = value;
  i.required = pattern !== null;
  if (pattern) {
    i.pattern = pattern;
    i.title = 'lowercase letters, digits and _, starting with a letter';
  }
  return i;
}

function choices(id: string, values: string[], selected: string): HTMLSelectElement {
  const s = document.createElement('select');
  s.id = id;
  for (const v of [...new Set(values)]) s.add(new Option(v || '(none)', v, false, v === selected));
  return s;
}

function field(label: string, control: HTMLElement): { label: HTMLLabelElement; control: HTMLElement } {
  const wrap = document.createElement('label');
  wrap.className = 'field';
  const span = document.createElement('span');
  span.textContent = label;
  wrap.append(span, control);
  return { label: wrap, control };
}

/** The layer names a refusal lists when a file holds several ("(tables: a, b)", "(a.shp, b.kml)",
 * "(layers: waypoints, …)"). */
export function layersIn(message: string): string[] {
  if (!/--layer|layer '/.test(message)) return [];
  const list = /\((?:tables: |layers: |members: )?([^()]+)\)/.exec(message.replace(/\(`layer` in the API\)/, ''));
  if (!list) return [];
  return list[1].split(',').map((name) => name.trim().replace(/\.(shp|kml|gpx|fgb|gpkg|parquet|geojson|json|csv|geojsonl|ndjson)$/i, '')).filter(Boolean);
}
