// The source catalog in the console: a page (a dialog, opened from the feeds panel) listing the public
// services the server knows (`GET /catalog`), searchable and filtered by kind, hazard and protocol, each
// with its licence and attribution, update interval, badges (key needed or optional, not readable here
// yet, already added) and its details. Accounts that may write add an entry as a feed in one request
// (`POST /catalog/{name}/add`), giving its key when it needs one; the server's answer is shown as it is.

import type { CatalogAdd, CatalogEntry, CatalogStyle, Feed, SuggestedImpact } from './api';
import { ApiError, addFromCatalog, catalog as loadCatalog } from './api';

export interface CatalogFilter {
  /** Words that must all appear, as the API's `q`. */
  text: string;
  /** '' for any. */
  kind: string;
  hazard: string;
  protocol: string;
  /** Only entries a reader or connector here reads. */
  readableOnly: boolean;
}

export const NO_FILTER: CatalogFilter = { text: '', kind: '', hazard: '', protocol: '', readableOnly: false };

/** Whether an entry passes the filter; the words are matched as the server matches `q` (every word, any
 * case, in the name, title, publisher, coverage, hazard, dataset or notes). */
export function matches(entry: CatalogEntry, filter: CatalogFilter): boolean {
  if (filter.kind && entry.kind !== filter.kind) return false;
  if (filter.hazard && entry.hazard !== filter.hazard) return false;
  if (filter.protocol && entry.protocol !== filter.protocol) return false;
  if (filter.readableOnly && !entry.addable) return false;
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [entry.name, entry.title, entry.publisher, entry.coverage, entry.hazard, entry.dataset, entry.notes ?? '']
    .join('\n')
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

export interface Badge {
  label: string;
  /** The badge colour, as the feeds' badges use it. */
  state: 'ok' | 'warn' | 'bad' | 'idle';
  /** Why, for the tooltip. */
  title: string;
}

/** What to flag on an entry, most limiting first: not readable here, key needed or optional, URL unsure,
 * already added. */
export function badges(entry: CatalogEntry): Badge[] {
  const out: Badge[] = [];
  if (!entry.addable) {
    out.push({ label: 'not readable yet', state: 'idle', title: `Served as ${entry.protocol}, which no reader or connector here reads yet` });
  }
  const key = entry.needs_key;
  if (key && entry.requires_key) out.push({ label: 'key needed', state: 'warn', title: `Needs a ${key.name} (${key.get_at})` });
  else if (key) out.push({ label: 'key optional', state: 'idle', title: `Takes a ${key.name}; works without it within a smaller rate limit` });
  if (entry.url_unsure) out.push({ label: 'URL unsure', state: 'warn', title: 'The exact URL could not be confirmed; the notes say what is in doubt' });
  if (entry.added) out.push({ label: 'added', state: 'ok', title: `A feed named ${entry.name} exists` });
  return out;
}

/** Words for a catalog value: `tropical_cyclone` → `tropical cyclone`. */
export function words(value: string): string {
  return value.replace(/_/g, ' ');
}

const UNITS: Record<string, string> = { s: 's', m: 'min', h: 'h', d: 'd' };

/** An update interval as the catalog writes it (`5m`, `7d`) in words: `every 5 min`, `every 7 d`. */
export function intervalText(interval: string): string {
  const m = /^(\d+)([smhd])$/.exec(interval);
  return m ? `every ${m[1]} ${UNITS[m[2]]}` : interval;
}

/** A suggested impact model in short: `fixed 10 km`, `magnitude(mag)`, `area + 2 km` (as the CLI says it). */
export function impactText(impact: SuggestedImpact | undefined): string {
  if (!impact) return 'none';
  switch (impact.model) {
    case 'fixed':
      return `fixed ${impact.radius_km} km`;
    case 'magnitude':
      return `magnitude(${impact.property})`;
    case 'area':
      return impact.buffer_km ? `area + ${impact.buffer_km} km` : 'area';
  }
}

/** A suggested style in short: `fill #3a86ff · colour by FLD_ZONE · opacity 0.35`. */
export function styleText(style: CatalogStyle): string {
  const parts = [`${style.symbol} ${style.colour}`];
  if (style.colour_by) parts.push(`colour by ${style.colour_by}`);
  if (style.size_by) parts.push(`size by ${style.size_by}`);
  if (style.density) parts.push('H3 density');
  if (style.opacity !== undefined && style.opacity !== 1) parts.push(`opacity ${style.opacity}`);
  return parts.join(' · ');
}

/** The values of a field across the entries with how many have each, in name order: a filter's options. */
export function facet(entries: CatalogEntry[], field: 'hazard' | 'protocol' | 'kind'): { value: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e[field], (counts.get(e[field]) ?? 0) + 1);
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => a.value.localeCompare(b.value));
}

/** A link target only when it is a web address (the catalog is curated, but a page never links a `javascript:`). */
export function webHref(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/** The request body from the add form's values: blanks left out (the server's defaults apply), the key
 * trimmed and sent only to an entry that takes one. */
export function addChoice(entry: CatalogEntry, values: { key?: string; name?: string; dataset?: string; paused?: boolean }): CatalogAdd {
  const choice: CatalogAdd = {};
  const key = values.key?.trim();
  if (key && entry.needs_key) choice.key = key;
  const name = values.name?.trim();
  if (name) choice.name = name;
  const dataset = values.dataset?.trim();
  if (dataset) choice.dataset = dataset;
  if (values.paused) choice.paused = true;
  return choice;
}

/** What adding said, for the page's status line (never the feed's URL: a key may sit in it). */
export function addedText(entry: CatalogEntry, feed: Feed): string {
  const when = feed.enabled ? 'its first poll starts within seconds' : 'paused until resumed';
  return `added ${entry.name} as feed ${feed.name} into dataset ${feed.dataset}; ${when}`;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function link(href: string | null, text: string): HTMLElement {
  if (!href) return el('span', text);
  const a = el('a', text);
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function option(value: string, label: string): HTMLOptionElement {
  return new Option(label, value);
}

export class CatalogPanel {
  private entries: CatalogEntry[] = [];
  private loaded = false;
  /** The entry whose add form is open. */
  private adding: string | null = null;
  private dialog = document.getElementById('catalog-page') as HTMLDialogElement;
  private list = document.getElementById('catalog-list') as HTMLUListElement;
  private count = document.getElementById('catalog-count')!;
  private note = document.getElementById('catalog-note')!;
  private filterForm = document.getElementById('catalog-filter') as HTMLFormElement;

  /** `added` runs after a feed is made from an entry (the feeds panel reloads). */
  constructor(private added: (feed: Feed) => void) {
    for (const id of ['catalog-open', 'catalog-open-side']) document.getElementById(id)?.addEventListener('click', () => this.open());
    document.getElementById('catalog-close')!.addEventListener('click', () => this.dialog.close());
    this.filterForm.addEventListener('input', () => this.render());
    this.filterForm.addEventListener('submit', (e) => e.preventDefault());
  }

  open(): void {
    if (!this.dialog.open) this.dialog.showModal();
    (this.filterForm.elements.namedItem('q') as HTMLInputElement).focus();
    void this.load();
  }

  /** Reads the catalog again: `added` changes as feeds come and go. */
  async load(): Promise<void> {
    try {
      this.entries = await loadCatalog();
    } catch (e) {
      this.count.textContent = '';
      this.list.replaceChildren(el('li', (e as Error).message, 'error'));
      return;
    }
    if (!this.loaded) this.fillFacets();
    this.loaded = true;
    this.render();
  }

  private fillFacets(): void {
    for (const field of ['kind', 'hazard', 'protocol'] as const) {
      const select = this.filterForm.elements.namedItem(field) as HTMLSelectElement;
      select.replaceChildren(
        option('', 'any'),
        ...facet(this.entries, field).map((f) => option(f.value, `${words(f.value)} (${f.count})`)),
      );
    }
  }

  filter(): CatalogFilter {
    const data = new FormData(this.filterForm);
    return {
      text: String(data.get('q') ?? ''),
      kind: String(data.get('kind') ?? ''),
      hazard: String(data.get('hazard') ?? ''),
      protocol: String(data.get('protocol') ?? ''),
      readableOnly: data.get('readable') !== null,
    };
  }

  private render(): void {
    const filter = this.filter();
    const shown = this.entries.filter((e) => matches(e, filter));
    this.count.textContent = `${shown.length} of ${this.entries.length} sources`;
    this.list.replaceChildren(
      ...(shown.length ? shown.map((e) => this.item(e)) : [el('li', 'No source matches; clear the search or a filter to see more.', 'note')]),
    );
  }

  private item(entry: CatalogEntry): HTMLLIElement {
    const li = el('li', undefined, 'catalog-entry');
    li.dataset.entry = entry.name;
    li.tabIndex = -1;
    const titleId = `catalog-${entry.name}`;
    li.setAttribute('aria-labelledby', titleId);

    const head = el('div', undefined, 'entry-head');
    const swatch = el('span', undefined, 'swatch');
    swatch.style.background = entry.style.colour;
    swatch.setAttribute('aria-hidden', 'true');
    const title = el('strong', entry.title);
    title.id = titleId;
    head.append(swatch, title);
    for (const b of badges(entry)) {
      const badge = el('span', b.label, 'badge');
      badge.dataset.state = b.state;
      badge.title = b.title;
      head.append(badge);
    }
    li.append(head);

    li.append(
      el('span', `${entry.name} · ${entry.kind} · ${words(entry.hazard)} · ${entry.protocol} · ${intervalText(entry.update_interval)} → ${entry.dataset}`, 'meta'),
      el('span', `Licence: ${entry.licence} · Attribution: ${entry.attribution}`, 'licence'),
    );

    const details = el('details');
    details.append(el('summary', 'Details'));
    const dl = el('dl');
    const row = (term: string, value: string | Node) => {
      const dd = el('dd');
      dd.append(value);
      dl.append(el('dt', term), dd);
    };
    row('Publisher', entry.publisher);
    row('Coverage', entry.coverage);
    row('URL', el('code', entry.url));
    if (entry.docs) row('Documentation', link(webHref(entry.docs), entry.docs));
    row('Reads as', entry.addable ? entry.protocol : `${entry.protocol} (no reader here yet)`);
    row('Into', `${entry.dataset} (${entry.kind}), ${intervalText(entry.update_interval)}`);
    if (entry.needs_key) {
      const key = el('span');
      key.append(`${entry.needs_key.name} (${entry.requires_key ? 'required' : 'optional'}): ${entry.needs_key.how} `, link(webHref(entry.needs_key.get_at), 'Get one'));
      row('Key', key);
    }
    row('Suggested impact', impactText(entry.suggested_impact));
    row('Suggested style', styleText(entry.style));
    if (entry.notes) row(entry.url_unsure ? 'Notes (URL unsure)' : 'Notes', entry.notes);
    details.append(dl);
    li.append(details);

    if (entry.addable) {
      const button = el('button', entry.added ? 'Add again…' : 'Add…');
      button.type = 'button';
      button.dataset.need = 'write';
      button.setAttribute('aria-label', `Add ${entry.name}`);
      button.setAttribute('aria-expanded', String(this.adding === entry.name));
      const formId = `catalog-add-${entry.name}`;
      button.setAttribute('aria-controls', formId);
      const form = this.addForm(entry, formId);
      form.hidden = this.adding !== entry.name;
      button.addEventListener('click', () => {
        this.adding = form.hidden ? entry.name : null;
        form.hidden = !form.hidden;
        button.setAttribute('aria-expanded', String(!form.hidden));
        if (!form.hidden) (form.querySelector('input') as HTMLInputElement | null)?.focus();
      });
      const actions = el('div', undefined, 'entry-actions');
      actions.append(button);
      li.append(actions, form);
    }
    return li;
  }

  /** The add form: the key (when the entry takes one, as a password field), and optional name and dataset. */
  private addForm(entry: CatalogEntry, id: string): HTMLFormElement {
    const form = el('form', undefined, 'feed-form catalog-add');
    form.id = id;
    form.dataset.need = 'write';
    form.setAttribute('aria-label', `Add ${entry.name} as a feed`);
    const field = (label: string, input: HTMLInputElement) => {
      const l = el('label', `${label} `);
      l.append(input);
      form.append(l);
      return input;
    };
    const key = entry.needs_key;
    if (key) {
      const input = document.createElement('input');
      input.name = 'key';
      input.type = 'password';
      input.autocomplete = 'off';
      input.spellcheck = false;
      input.required = entry.requires_key;
      input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
      field(`${key.name}${entry.requires_key ? '' : ' (optional)'}`, input);
      const how = el('p', `${key.how} `, 'meta key-how');
      how.append(link(webHref(key.get_at), `Get one at ${key.get_at}`));
      form.append(how);
    }
    const name = document.createElement('input');
    name.name = 'name';
    name.pattern = '[A-Za-z0-9_\\-]{1,64}';
    name.placeholder = entry.name;
    // A feed of the entry's name exists: another needs a name of its own.
    name.required = entry.added;
    field(entry.added ? 'Feed name' : 'Feed name (optional)', name);
    const dataset = document.createElement('input');
    dataset.name = 'dataset';
    dataset.pattern = '[a-z][a-z0-9_]{0,62}';
    dataset.placeholder = entry.dataset;
    field('Dataset (optional)', dataset);
    const paused = document.createElement('input');
    paused.type = 'checkbox';
    paused.name = 'paused';
    const pausedLabel = el('label');
    pausedLabel.append(paused, ' Add paused');
    form.append(pausedLabel);
    const submit = el('button', 'Add feed');
    submit.type = 'submit';
    const cancel = el('button', 'Cancel');
    cancel.type = 'button';
    cancel.addEventListener('click', () => {
      this.adding = null;
      this.render();
    });
    const error = el('p', undefined, 'error');
    error.setAttribute('role', 'alert');
    form.append(submit, cancel, error);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.add(entry, form, submit, error);
    });
    return form;
  }

  private async add(entry: CatalogEntry, form: HTMLFormElement, submit: HTMLButtonElement, error: HTMLElement): Promise<void> {
    const data = new FormData(form);
    const choice = addChoice(entry, {
      key: data.get('key')?.toString(),
      name: data.get('name')?.toString(),
      dataset: data.get('dataset')?.toString(),
      paused: data.get('paused') !== null,
    });
    submit.disabled = true;
    error.textContent = '';
    try {
      const feed = await addFromCatalog(entry.name, choice);
      this.adding = null;
      this.note.textContent = addedText(entry, feed);
      this.added(feed);
      await this.load();
      this.list.querySelector<HTMLElement>(`li[data-entry="${CSS.escape(entry.name)}"]`)?.focus();
    } catch (e) {
      // The server's own words: what is missing, and where to get it.
      error.textContent = e instanceof ApiError ? e.reason : (e as Error).message;
      const key = form.elements.namedItem('key') as HTMLInputElement | null;
      if (key && /key/i.test(error.textContent)) {
        // The key was refused: it leaves the page, and the field asks for another.
        key.value = '';
        key.setAttribute('aria-invalid', 'true');
        key.focus();
      }
    } finally {
      submit.disabled = false;
    }
  }
}
