// The sites and threats panel: the organisation's sites (every dataset of kind `sites`) ranked by risk score
// as of the end of the time window (the server's explainable model, with what made each score), or by
// exposure to the shown hazard layers in the window (the impact models), each with its reasons; filtered by
// text and the drawn area, or sorted by criticality, name or type; one click to fly there.

import type { ExposureHit, GeoFeature, SiteScore } from './api';
import { allItems, exposure, risk } from './api';
import { insideRing } from './geo';
import type { ConsoleApp } from './main';

/** Sites listed at most; the filter narrows longer lists. */
const MAX_SHOWN = 200;

interface Site {
  dataset: string;
  id: string;
  name: string;
  type: string;
  criticality: number | null;
  place: string;
  position: [number, number];
}

export class SitesPanel {
  private sites: Site[] = [];
  private list: HTMLOListElement;
  private filter: HTMLInputElement;
  private sort: HTMLSelectElement;
  private note: HTMLElement;
  private hits = new Map<string, ExposureHit[]>();
  private scores = new Map<string, SiteScore>();
  private riskAbort: AbortController | null = null;
  /** What the shown scores were asked for: the window's end and the data's versions. */
  private riskAskedFor = '';
  private exposureAbort: AbortController | null = null;
  private exposureTimer: number | undefined;

  constructor(private app: ConsoleApp) {
    this.list = document.getElementById('sites') as HTMLOListElement;
    this.filter = document.getElementById('sites-filter') as HTMLInputElement;
    this.sort = document.getElementById('sites-sort') as HTMLSelectElement;
    this.sort.value = 'risk';
    this.note = document.getElementById('sites-note')!;
    this.filter.addEventListener('input', () => this.render());
    this.sort.addEventListener('change', () => this.render());
  }

  all(): Site[] {
    return this.sites;
  }

  async load(): Promise<void> {
    const ids = [...this.app.collections.values()].filter((c) => c.kind === 'sites').map((c) => c.id);
    const loaded: Site[] = [];
    for (const id of ids) {
      const features = await allItems(id, 50_000);
      for (const f of features) {
        const site = toSite(id, f);
        if (site) loaded.push(site);
      }
    }
    this.sites = loaded;
    this.render();
    this.scheduleExposure();
  }

  /** Recomputes exposure after the window, the shown layers or the data changed (debounced). */
  scheduleExposure(): void {
    window.clearTimeout(this.exposureTimer);
    this.exposureTimer = window.setTimeout(() => void this.loadExposure(), 400);
  }

  /** Scores as of the end of the time window (or now). */
  private async loadRisk(): Promise<void> {
    // Scores depend on the score's time and the data, not on which layers are shown: a layer toggle or a
    // pan asks for nothing (scoring every site is the heaviest request the console makes).
    const asOf = this.app.timebar.window?.end ?? null;
    const versions = [...this.app.collections.values()].map((c) => `${c.id}@${c.version}`).join(',');
    const key = `${asOf}|${versions}`;
    if (key === this.riskAskedFor) return;
    this.riskAskedFor = key;
    this.riskAbort?.abort();
    const abort = new AbortController();
    this.riskAbort = abort;
    try {
      const report = await risk(asOf, 500, abort.signal);
      if (abort.signal.aborted) return;
      this.scores = new Map(report.sites.map((s) => [`${s.dataset}/${s.site}`, s]));
      this.render();
      document.body.dataset.riskLoaded = String(report.sites.length);
    } catch (e) {
      if (!abort.signal.aborted) {
        this.riskAskedFor = '';
        this.app.notify((e as Error).message);
      }
    }
  }

  private async loadExposure(): Promise<void> {
    void this.loadRisk();
    this.exposureAbort?.abort();
    const abort = new AbortController();
    this.exposureAbort = abort;
    const siteSets = [...this.app.collections.values()].filter((c) => c.kind === 'sites').map((c) => c.id);
    const hazards = this.app.visibleIds().filter((id) => this.app.collections.get(id)?.kind === 'events');
    if (siteSets.length === 0 || hazards.length === 0) {
      this.hits.clear();
      this.app.showExposed([]);
      this.render();
      return;
    }
    try {
      const report = await exposure(siteSets, hazards, this.app.timebar.window, abort.signal);
      if (abort.signal.aborted) return;
      this.hits = new Map(report.exposed.map((e) => [`${e.dataset}/${e.site}`, e.hits]));
      this.app.showExposed(report.exposed.map((e) => ({ position: e.position, hits: e.hit_count ?? 1, name: e.name })));
      this.render();
      document.body.dataset.exposureLoaded = String(report.exposed.length);
    } catch (e) {
      if (!abort.signal.aborted) this.app.notify((e as Error).message);
    }
  }

  /** Flies to a site and draws the footprints of the events that reach it. */
  flyTo(site: Site): void {
    const hits = this.hits.get(`${site.dataset}/${site.id}`) ?? [];
    this.app.showFootprints(hits);
    document.body.dataset.footprints = String(hits.filter((h) => h.centre).length);
    const widest = Math.max(0, ...hits.filter((h) => h.centre).map((h) => h.reach_m));
    // Far enough out to see the widest footprint around the site.
    const zoom = widest > 0 ? Math.max(2, Math.min(9, Math.log2(40_000_000 / (widest * 6)))) : Math.max(this.app.map.getZoom(), 9);
    this.app.map.flyTo({ center: site.position, zoom, duration: 900 });
  }

  render(): void {
    const needle = this.filter.value.trim().toLowerCase();
    const area = this.app.state.area;
    const matches = this.sites.filter((s) => (!needle || `${s.name} ${s.type} ${s.place}`.toLowerCase().includes(needle))
      && (!area || insideRing(s.position, area)));
    const by = this.sort.value;
    const exposureOf = (s: Site) => this.hits.get(`${s.dataset}/${s.id}`) ?? [];
    const scoreOf = (s: Site) => this.scores.get(`${s.dataset}/${s.id}`)?.score ?? 0;
    matches.sort((a, b) =>
      by === 'risk' ? scoreOf(b) - scoreOf(a) || exposureOf(b).length - exposureOf(a).length || a.name.localeCompare(b.name)
        : by === 'exposure' ? exposureOf(b).length - exposureOf(a).length || (exposureOf(a)[0]?.distance_m ?? Infinity) - (exposureOf(b)[0]?.distance_m ?? Infinity) || (b.criticality ?? -1) - (a.criticality ?? -1) || a.name.localeCompare(b.name)
        : by === 'criticality' ? (b.criticality ?? -1) - (a.criticality ?? -1) || a.name.localeCompare(b.name)
        : by === 'type' ? a.type.localeCompare(b.type) || a.name.localeCompare(b.name)
          : a.name.localeCompare(b.name));
    const exposed = this.sites.filter((s) => exposureOf(s).length > 0).length;
    this.note.textContent = this.sites.length === 0
      ? 'No sites dataset yet: import one with kind "sites".'
      : `${exposed.toLocaleString('en')} exposed to the shown hazards in the time window. ${matches.length.toLocaleString('en')} of ${this.sites.length.toLocaleString('en')} sites${area ? ' in the drawn area' : ''}${matches.length > MAX_SHOWN ? `, first ${MAX_SHOWN} shown` : ''}.`;
    this.list.replaceChildren(...matches.slice(0, MAX_SHOWN).map((s) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'site';
      const name = document.createElement('strong');
      name.textContent = s.name;
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = [s.type, s.place, s.criticality !== null ? `criticality ${s.criticality}` : ''].filter(Boolean).join(' · ');
      const scored = this.scores.get(`${s.dataset}/${s.id}`);
      if (scored) {
        const score = document.createElement('span');
        score.className = 'score';
        score.title = 'Risk score (0–100) as of the end of the time window';
        score.textContent = scored.score.toFixed(1);
        b.append(score);
      }
      b.append(name, meta);
      if (scored && by === 'risk') {
        for (const line of scored.explanation.slice(0, 3)) {
          const explain = document.createElement('span');
          explain.className = 'explain';
          explain.textContent = line;
          b.append(explain);
        }
      }
      const hits = exposureOf(s);
      if (hits.length) {
        b.classList.add('exposed');
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.dataset.state = 'bad';
        badge.textContent = `${hits.length} threat${hits.length === 1 ? '' : 's'}`;
        const why = document.createElement('span');
        why.className = 'reason';
        // Successive advisories of one storm give the same reason: say each once.
        const reasons = [...new Set(hits.map((h) => h.reason))];
        why.textContent = reasons.slice(0, 2).join('; ') + (reasons.length > 2 ? `; and ${reasons.length - 2} more` : '');
        b.append(badge, why);
      }
      b.addEventListener('click', () => this.flyTo(s));
      li.append(b);
      return li;
    }));
  }
}

function toSite(dataset: string, f: GeoFeature): Site | null {
  if (!f.geometry) return null;
  const position = representative(f.geometry);
  if (!position) return null;
  const p = f.properties;
  const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
  const crit = p.criticality ?? p.priority;
  return {
    dataset,
    id: String(f.id ?? ''),
    name: text(p.name ?? p.site_name ?? p.title ?? f.id) || String(f.id ?? 'site'),
    type: text(p.site_type ?? p.type ?? p.category),
    criticality: typeof crit === 'number' ? crit : null,
    place: [text(p.city), text(p.country)].filter(Boolean).join(', '),
    position,
  };
}

function representative(g: { type: string; coordinates: unknown }): [number, number] | null {
  let c: unknown = g.coordinates;
  while (Array.isArray(c) && Array.isArray(c[0])) c = c[0];
  return Array.isArray(c) && typeof c[0] === 'number' && typeof c[1] === 'number' ? [c[0], c[1]] : null;
}
