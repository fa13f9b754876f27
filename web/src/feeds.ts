// Live feeds in the console: a badge per feed in the side panel (ok, late, failing, paused) with its lag and
// last error, a summary badge in the top bar, and a feeds page (a dialog) with every feed's health in full,
// poll now / pause / resume / delete, and a form to add one. Standings arrive live as `feed` events on
// `/events`; lag and ages are refreshed every 10 s. The source catalog (catalog.ts) opens from here.

import type { Feed, FeedSpec } from './api';
import { addFeed, deleteFeed, feedAction, feeds as loadFeeds, previewFeed } from './api';
import { CatalogPanel } from './catalog';

const REFRESH_MS = 10_000;
const FORMATS = [
  'usgs', 'nws_alerts', 'cap', 'cap_index', 'georss', 'firms',
  'geojson', 'geojsonseq', 'csv', 'kml', 'gpx', 'fgb', 'geoparquet', 'shapefile', 'gpkg',
];

/** Seconds as words: 45 s, 12 min, 3.2 h, 2.0 d. */
export function duration(s: number): string {
  const a = Math.abs(s);
  if (a < 120) return `${Math.round(s)} s`;
  if (a < 7200) return `${Math.round(s / 60)} min`;
  if (a < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

function since(at: string | null | undefined, now: number): string {
  return at ? `${duration((now - Date.parse(at)) / 1000)} ago` : 'never';
}

/** The badge's state colour for a feed status. */
export function badgeState(status: Feed['status']): string {
  return status === 'ok' ? 'ok' : status === 'failing' ? 'bad' : status === 'late' ? 'warn' : 'idle';
}

/** One line on a feed's health, for the side panel and screen readers. */
export function summary(feed: Feed, now: number): string {
  const lag = feed.state.lag ? `lag ${duration(feed.state.lag.median_s)}` : 'no lag yet';
  const parts = [`${feed.dataset}`, lag, `last ok ${since(feed.state.last_success, now)}`];
  if (feed.status === 'failing' && feed.state.last_error) parts.push(feed.state.last_error);
  return parts.join(' · ');
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function badge(feed: Feed): HTMLSpanElement {
  const b = el('span', feed.status, 'badge');
  b.dataset.state = badgeState(feed.status);
  return b;
}

export class FeedsPanel {
  private feeds: Feed[] = [];
  private list = document.getElementById('feeds') as HTMLUListElement;
  private top = document.getElementById('feeds-status') as HTMLButtonElement;
  private dialog = document.getElementById('feeds-page') as HTMLDialogElement;
  private table = document.getElementById('feeds-table') as HTMLTableSectionElement;
  private note = document.getElementById('feeds-note')!;
  private form = document.getElementById('feed-form') as HTMLFormElement;

  constructor() {
    this.top.addEventListener('click', () => this.open());
    document.getElementById('feeds-open')!.addEventListener('click', () => this.open());
    document.getElementById('feeds-close')!.addEventListener('click', () => this.dialog.close());
    const format = this.form.elements.namedItem('format') as HTMLSelectElement;
    format.replaceChildren(...FORMATS.map((f) => Object.assign(el('option', f), { value: f })));
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.add();
    });
    document.getElementById('feed-test')!.addEventListener('click', () => void this.test());
    // The catalog opens from this panel, and a feed made from it shows here at once.
    new CatalogPanel(() => void this.load());
    window.setInterval(() => void this.load(), REFRESH_MS);
  }

  async load(): Promise<void> {
    try {
      this.feeds = await loadFeeds();
    } catch (e) {
      this.list.replaceChildren(el('li', (e as Error).message));
      return;
    }
    this.render();
  }

  open(): void {
    if (!this.dialog.open) this.dialog.showModal();
    void this.load();
  }

  private render(): void {
    const now = Date.now();
    const counts = new Map<string, number>();
    for (const f of this.feeds) counts.set(f.status, (counts.get(f.status) ?? 0) + 1);
    const worst = ['failing', 'late', 'pending', 'ok', 'paused'].find((s) => counts.has(s));
    this.top.hidden = this.feeds.length === 0;
    this.top.dataset.state = worst ? badgeState(worst as Feed['status']) : 'idle';
    this.top.textContent = `Feeds: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`;
    this.list.replaceChildren(
      ...(this.feeds.length
        ? this.feeds.map((f) => {
            const li = el('li');
            li.dataset.feed = f.name;
            li.append(badge(f), el('strong', ` ${f.name}`), el('span', ` ${summary(f, now)}`));
            return li;
          })
        : [el('li', 'No live feeds. Add one from the feeds page.')]),
    );
    this.renderTable(now);
  }

  private renderTable(now: number): void {
    this.table.replaceChildren(
      ...this.feeds.map((f) => {
        const tr = el('tr');
        tr.dataset.feed = f.name;
        const s = f.state;
        const lag = s.lag ? `${duration(s.lag.median_s)} (max ${duration(s.lag.max_s)})` : '—';
        const name = el('td');
        name.append(el('strong', f.name), el('br'), el('small', f.url));
        const status = el('td');
        status.append(badge(f));
        const error = el('td', s.last_error ? `${s.last_error} (${s.failures}× since ${since(s.last_error_at, now)})` : '');
        if (s.skipped_reasons.length) error.append(el('br'), el('small', `skipped: ${s.skipped_reasons[0]}`));
        const actions = el('td');
        const button = (label: string, run: () => Promise<unknown>) => {
          const b = el('button', label);
          b.type = 'button';
          b.dataset.need = 'write';
          b.setAttribute('aria-label', `${label} ${f.name}`);
          b.addEventListener('click', () => {
            b.disabled = true;
            run()
              .then(() => this.load())
              .catch((e: Error) => (this.note.textContent = e.message))
              .finally(() => (b.disabled = false));
          });
          return b;
        };
        actions.append(
          button('Poll now', async () => {
            const r = (await feedAction(f.name, 'poll')) as { outcome: string; added: number; updated: number; error?: string };
            this.note.textContent =
              r.outcome === 'failed' ? `${f.name}: ${r.error}` : `${f.name}: ${r.outcome.replace('_', ' ')}, ${r.added} added, ${r.updated} updated`;
          }),
          button(f.enabled ? 'Pause' : 'Resume', () => feedAction(f.name, f.enabled ? 'pause' : 'resume')),
          button('Delete', async () => {
            if (window.confirm(`Delete feed ${f.name}? The data it brought stays.`)) await deleteFeed(f.name);
          }),
        );
        tr.append(
          name,
          status,
          el('td', `${f.format} → ${f.dataset}, every ${duration(f.interval_s)}`),
          el('td', since(s.last_success, now)),
          el('td', lag),
          el('td', `${s.added} / ${s.updated} / ${s.withdrawn}`),
          error,
          actions,
        );
        return tr;
      }),
    );
  }

  private spec(): FeedSpec {
    const data = new FormData(this.form);
    return {
      name: String(data.get('name') ?? '').trim(),
      url: String(data.get('url') ?? '').trim(),
      // The select offers only the server's formats (FORMATS), and the server refuses any other.
      format: String(data.get('format')) as FeedSpec['format'],
      dataset: String(data.get('dataset') ?? '').trim(),
      interval_s: Number(data.get('interval') ?? 60),
    };
  }

  /** Reads the feed in the form once, without adding it, and says what it holds. */
  private async test(): Promise<void> {
    if (!this.form.reportValidity()) return;
    this.note.textContent = 'testing…';
    try {
      const p = await previewFeed(this.spec());
      const parts = [`${p.items} items`];
      if (p.linked) parts.push(`${p.linked} linked alerts`);
      if (p.withdrawals) parts.push(`${p.withdrawals} cancels`);
      if (p.skipped) parts.push(`${p.skipped} skipped (${p.skipped_reasons[0]})`);
      this.note.textContent = `test: ${parts.join(', ')} in ${Math.round(p.bytes / 1024)} KB; nothing was saved`;
    } catch (e) {
      this.note.textContent = (e as Error).message;
    }
  }

  private async add(): Promise<void> {
    const spec = this.spec();
    try {
      const feed = await addFeed(spec);
      this.note.textContent = `added ${feed.name}; it is polled within seconds`;
      this.form.reset();
      await this.load();
    } catch (e) {
      this.note.textContent = (e as Error).message;
    }
  }

  /** A `feed` event from `/events`: a standing changed. */
  changed(): void {
    void this.load();
  }
}
