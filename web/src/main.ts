// The console: one map, its layers, one clock, and panels, wired to the server's public API.

import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource, LayerSpecification, MapGeoJSONFeature, StyleSpecification } from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
// MapLibre's worker is its own module; served from the console's assets, never a CDN.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import './style.css';
import * as api from './api';
import type { Collection } from './api';
import { drawSiteIcon } from './icons';
import { popupContent } from './inspect';
import type { ConsoleState, LayerStyle } from './state';
import { decodeState, defaultStyle, encodeState } from './state';
import type { LegendEntry, PropertyStats } from './styles';
import { DATASET_COLOURS, basemapStyle, colourBy, datasetLayers, hexLayers, hexResolution, hexSourceId, propertyStats, sizeBy, sourceId } from './styles';
import type { TimeWindow } from './time';
import { toDatetimeParam, union } from './time';
import { TimeBar } from './timebar';
import { Tools } from './tools';
import { Importer } from './importer';
import { circleRing } from './geo';
import { AlertsPanel } from './alerts';
import { FeedsPanel } from './feeds';
import { SitesPanel } from './sites';
import { Search } from './search';
import { LayersPanel } from './layers-panel';
import { AccountPanel } from './account';

/** Histogram steps across the time bar. */
const BINS = 120;
/** Kinds drawn when a dataset first appears, and their stacking (top first). */
const SHOWN_KINDS = new Set(['sites', 'events']);
const KIND_ORDER: Record<string, number> = { sites: 0, events: 1, areas: 2, reference: 3 };
/** Shortest time between map filter updates during playback: filters re-lay tiles out in workers. */
const PLAYBACK_FILTER_MS = 120;

interface Styling {
  colour: string;
  stats: Record<string, PropertyStats>;
  queryables: Record<string, string>;
}

export class ConsoleApp {
  map!: maplibregl.Map;
  collections = new Map<string, Collection>();
  state: ConsoleState;
  styling = new Map<string, Styling>();
  timebar: TimeBar;
  layersPanel!: LayersPanel;
  sites!: SitesPanel;
  alertsPanel!: AlertsPanel;
  feedsPanel!: FeedsPanel;
  tools!: Tools;
  counts = new Map<string, number | null>();
  /** The window tiles are requested for: the time bar's window at rest, its whole domain while playing,
   * so playback only filters what is loaded. */
  tilesWindow: TimeWindow | null = null;
  private lastFilterUpdate = 0;
  private pendingStyle: number | undefined;
  private countsTimer: number | undefined;
  private countsAbort: AbortController | null = null;
  private histogramAbort: AbortController | null = null;
  private hashTimer: number | undefined;
  private tileParams = '';
  /** What the map tools draw (area filter, shape in progress); part of the style like any other data. */
  private toolsData: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  /** Sites within reach of a shown hazard, ringed on the map. */
  private exposedData: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  private dryRunData: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  private footprintData: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  /** H3 cells per dataset drawn in density mode, for the current view and window. */
  hexData = new Map<string, GeoJSON.FeatureCollection>();
  private hexAbort: AbortController | null = null;

  constructor() {
    this.state = decodeState(location.hash);
    document.documentElement.dataset.theme = this.state.theme;
    this.timebar = new TimeBar({
      onWindow: (w, settled) => this.windowChanged(w, settled),
      onPlaying: (playing) => this.playingChanged(playing),
      onLive: () => this.saveHash(),
    });
  }

  async start(): Promise<void> {
    const list = await api.collections();
    for (const c of list) this.collections.set(c.id, c);
    this.placeNewDatasets();
    // Site icons follow a type property and scales follow sampled values: known before the first draw.
    await Promise.all(list.filter((c) => c.kind === 'sites').map((c) => this.queryables(c.id).catch(() => ({}))));
    await Promise.all(Object.entries(this.state.styles).flatMap(([id, st]) =>
      [st.colorBy, st.sizeBy].filter((p): p is string => !!p && this.collections.has(id)).map((p) => this.statsFor(id, p).catch(() => null))));
    const origin = location.origin;
    this.map = new maplibregl.Map({
      container: 'map',
      style: this.fullStyle(),
      center: this.state.view?.center ?? [10, 25],
      zoom: this.state.view?.zoom ?? 1.6,
      hash: false,
      attributionControl: { compact: true },
      fadeDuration: 0,
      transformRequest: (url, resourceType) => {
        if (resourceType === 'Tile' && url.startsWith(`${origin}/tiles/`)) return { url: this.tileUrl(url) };
        return { url };
      },
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    this.map.setMissingStyleImageResolver((id) => {
      if (!id.startsWith('site:') || this.map.hasImage(id)) return;
      const image = drawSiteIcon(id.slice(5));
      if (image) this.map.addImage(id, image, { pixelRatio: 1.4 });
    });
    this.map.on('moveend', () => {
      this.saveHash();
      this.scheduleCounts();
      void this.loadHexbins();
    });
    this.map.on('click', (e) => this.inspect(e.point));
    this.map.on('mousemove', (e) => {
      if (this.tools.active) return;
      const hits = this.map.queryRenderedFeatures(e.point, { layers: this.dataLayerIds() });
      this.map.getCanvas().style.cursor = hits.length ? 'pointer' : '';
    });
    this.layersPanel = new LayersPanel(this);
    this.tools = new Tools(this);
    this.sites = new SitesPanel(this);
    this.alertsPanel = new AlertsPanel(this);
    this.feedsPanel = new FeedsPanel();
    new Search(this);
    new Importer(this);
    document.getElementById('theme')?.addEventListener('click', () => this.toggleTheme());
    this.syncThemeButton();
    window.addEventListener('keydown', (e) => this.globalKeys(e));
    window.addEventListener('hashchange', () => this.hashChanged());
    this.map.on('load', () => {
      document.body.dataset.ready = 'true';
      this.scheduleCounts();
    });
    // First moment every visible tile is drawn: what the console benchmark calls "first map".
    this.map.once('idle', () => performance.mark('geoconsole:first-map'));
    this.resetTimeDomain(this.state.window);
    this.layersPanel.render();
    this.refreshFreshness();
    void this.sites.load();
    void this.alertsPanel.load();
    void this.feedsPanel.load();
    this.listen();
  }

  // ---- datasets and their layers ----

  /** Datasets not yet in the order go in by kind; events and sites are shown at first. */
  placeNewDatasets(): void {
    const fresh = [...this.collections.values()].filter((c) => !this.state.order.includes(c.id));
    fresh.sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9) || a.id.localeCompare(b.id));
    for (const c of fresh) {
      const index = this.state.order.findIndex((id) => (KIND_ORDER[this.collections.get(id)?.kind ?? ''] ?? 9) > (KIND_ORDER[c.kind] ?? 9));
      if (index < 0) this.state.order.push(c.id);
      else this.state.order.splice(index, 0, c.id);
      this.state.styles[c.id] ??= defaultStyle(SHOWN_KINDS.has(c.kind) && !(c.kind === 'events' && this.isLongSeries(c)));
    }
    this.state.order = this.state.order.filter((id) => this.collections.has(id));
    let i = 0;
    for (const id of this.state.order) {
      if (!this.styling.has(id)) this.styling.set(id, { colour: DATASET_COLOURS[i % DATASET_COLOURS.length], stats: {}, queryables: {} });
      i++;
    }
  }

  /** A dataset spanning far more time than the others (monthly counts over a year beside a week of events)
   * would stretch the clock; it starts hidden. */
  private isLongSeries(c: Collection): boolean {
    if (!c.time) return false;
    const spans = [...this.collections.values()].filter((o) => o.time && o.id !== c.id).map((o) => o.time!.end - o.time!.start);
    if (spans.length === 0) return false;
    spans.sort((a, b) => a - b);
    return c.time.end - c.time.start > 8 * spans[Math.floor(spans.length / 2)];
  }

  styleOf(id: string): LayerStyle {
    return (this.state.styles[id] ??= defaultStyle(false));
  }

  colourOf(id: string): string {
    return this.styling.get(id)?.colour ?? DATASET_COLOURS[0];
  }

  legendOf(id: string): LegendEntry[] {
    const style = this.styleOf(id);
    const stats = style.colorBy ? this.styling.get(id)?.stats[style.colorBy] : undefined;
    return style.colorBy && stats ? colourBy(style.colorBy, stats).legend : [];
  }

  async queryables(id: string): Promise<Record<string, string>> {
    const s = this.styling.get(id);
    if (s && Object.keys(s.queryables).length) return s.queryables;
    const body = await api.queryables(id);
    const out: Record<string, string> = {};
    for (const [name, schema] of Object.entries(body.properties ?? {})) {
      if (name === 'geometry' || name === 'datetime' || name === 'id') continue;
      out[name] = String(schema.type ?? (schema.format ? 'string' : 'geometry'));
    }
    if (s) s.queryables = out;
    return out;
  }

  /** Samples a property's values (first 2 000 features) to build a colour or size scale. */
  async statsFor(id: string, property: string): Promise<PropertyStats> {
    const s = this.styling.get(id)!;
    if (s.stats[property]) return s.stats[property];
    const features = await api.allItems(id, 2000);
    s.stats[property] = propertyStats(features.map((f) => f.properties[property]));
    return s.stats[property];
  }

  private siteTypeProperty(id: string): string | null {
    const q = this.styling.get(id)?.queryables ?? {};
    return ['site_type', 'type', 'category', 'kind'].find((p) => p in q) ?? null;
  }

  fullStyle(): StyleSpecification {
    const style = basemapStyle(this.state.theme, location.origin);
    const layers: LayerSpecification[] = [];
    for (const id of [...this.state.order].reverse()) {
      const collection = this.collections.get(id);
      if (!collection) continue;
      const st = this.styleOf(id);
      const styling = this.styling.get(id);
      style.sources[sourceId(id)] = {
        type: 'vector',
        tiles: [`${location.origin}/tiles/${id}/{z}/{x}/{y}.mvt`],
        minzoom: 0,
        maxzoom: 16,
      };
      if (st.density && this.canDensity(id)) {
        const data = this.hexData.get(id) ?? { type: 'FeatureCollection', features: [] };
        style.sources[hexSourceId(id)] = { type: 'geojson', data };
        const max = Math.max(0, ...data.features.map((f) => Number(f.properties?.count ?? 0)));
        layers.push(...hexLayers(id, max, st.opacity, st.visible));
        continue;
      }
      const colourStats = st.colorBy ? styling?.stats[st.colorBy] : undefined;
      const sizeStats = st.sizeBy ? styling?.stats[st.sizeBy] : undefined;
      layers.push(...datasetLayers({
        collection,
        style: st,
        colour: this.colourOf(id),
        colourExpression: st.colorBy && colourStats ? colourBy(st.colorBy, colourStats).expression : null,
        sizeExpression: st.sizeBy && sizeStats ? sizeBy(st.sizeBy, sizeStats) : null,
        window: this.timebar?.window ?? null,
        theme: this.state.theme,
        siteTypeProperty: this.siteTypeProperty(id),
      }));
    }
    // Data between the basemap's lines and its labels, so city names stay readable.
    const labelAt = style.layers.findIndex((l) => l.id === 'bm-city-dots');
    style.layers.splice(labelAt, 0, ...layers);
    style.sources.exposed = { type: 'geojson', data: this.exposedData };
    style.layers.push({
      id: 'exposed-sites', type: 'circle', source: 'exposed',
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 1, 5, 8, 11],
        'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-color': '#dc2626',
        'circle-stroke-width': ['interpolate', ['linear'], ['get', 'hits'], 1, 1.5, 10, 3],
      },
    });
    style.sources.footprints = { type: 'geojson', data: this.footprintData };
    style.layers.push(
      { id: 'footprints-fill', type: 'fill', source: 'footprints', paint: { 'fill-color': '#dc2626', 'fill-opacity': 0.06 } },
      { id: 'footprints-line', type: 'line', source: 'footprints', paint: { 'line-color': '#dc2626', 'line-width': 1.2, 'line-dasharray': [3, 2] } },
    );
    style.sources['dry-run'] = { type: 'geojson', data: this.dryRunData };
    style.layers.push({
      id: 'dry-run', type: 'circle', source: 'dry-run',
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 1, 4, 8, 9],
        'circle-color': '#7c3aed',
        'circle-opacity': 0.55,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1,
      },
    });
    style.sources.tools = { type: 'geojson', data: this.toolsData };
    style.layers.push(
      { id: 'tools-fill', type: 'fill', source: 'tools', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#ffbf00', 'fill-opacity': 0.12 } },
      { id: 'tools-line', type: 'line', source: 'tools', paint: { 'line-color': '#d97706', 'line-width': 2, 'line-dasharray': [2, 1] } },
      { id: 'tools-points', type: 'circle', source: 'tools', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#d97706', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } },
    );
    return style;
  }

  /** Applies the current state to the map (MapLibre diffs the style: only what changed is touched). */
  restyle(): void {
    if (!this.map) return;
    this.map.setStyle(this.fullStyle(), { diff: true });
    this.saveHash();
  }

  scheduleRestyle(): void {
    window.clearTimeout(this.pendingStyle);
    this.pendingStyle = window.setTimeout(() => this.restyle(), 0);
  }

  dataLayerIds(): string[] {
    if (!this.map?.getStyle()) return [];
    return this.map.getStyle().layers.filter((l) => l.id.startsWith('ds:') && this.map.getLayoutProperty(l.id, 'visibility') !== 'none').map((l) => l.id);
  }

  visibleIds(): string[] {
    return this.state.order.filter((id) => this.styleOf(id).visible);
  }

  // ---- tiles: time window and area filter travel as query parameters ----

  private tileUrl(url: string): string {
    const match = /\/tiles\/([a-z][a-z0-9_]*)\//.exec(url);
    const c = match ? this.collections.get(match[1]) : undefined;
    const params = new URLSearchParams();
    if (c?.time && this.tilesWindow) params.set('datetime', toDatetimeParam(this.tilesWindow));
    if (this.state.area) params.set('filter', this.tools.areaFilter());
    const query = params.toString();
    return query ? `${url}?${query}` : url;
  }

  /** Reloads tiles of every data source whose request parameters changed. */
  refreshTiles(ids: string[] = this.state.order): void {
    for (const id of ids) {
      if (this.map.getSource(sourceId(id))) this.map.refreshTiles(sourceId(id));
    }
  }

  private setTilesWindow(w: TimeWindow | null): void {
    const key = `${w ? toDatetimeParam(w) : ''}|${this.state.area ? this.tools.areaFilter() : ''}`;
    this.tilesWindow = w;
    if (key === this.tileParams) return;
    this.tileParams = key;
    this.refreshTiles(this.state.order.filter((id) => this.collections.get(id)?.time || this.state.area));
  }

  areaChanged(): void {
    this.sites.render();
    this.tileParams = '';
    this.setTilesWindow(this.tilesWindow);
    this.scheduleCounts();
    this.saveHash();
  }

  /** Density mode is for point events. */
  canDensity(id: string): boolean {
    const c = this.collections.get(id);
    return !!c && c.kind === 'events' && c.geometryType.toLowerCase().includes('point');
  }

  /** Reloads the hexagons of every dataset in density mode for the view and the window. */
  async loadHexbins(): Promise<void> {
    const ids = this.visibleIds().filter((id) => this.styleOf(id).density && this.canDensity(id));
    if (ids.length === 0 || !this.map) return;
    this.hexAbort?.abort();
    const abort = new AbortController();
    this.hexAbort = abort;
    const bbox = this.viewBbox();
    const resolution = hexResolution(this.map.getZoom());
    try {
      for (const id of ids) {
        const c = this.collections.get(id);
        const data = await api.hexbins(id, resolution, bbox, c?.time ? this.timebar.window : null, abort.signal);
        if (abort.signal.aborted) return;
        this.hexData.set(id, data);
      }
      this.restyle();
      this.layersPanel.render();
      document.body.dataset.hexLoaded = String(Date.now());
    } catch (e) {
      if (!abort.signal.aborted) this.notify((e as Error).message);
    }
  }

  showTools(data: GeoJSON.FeatureCollection): void {
    this.toolsData = data;
    (this.map?.getSource('tools') as GeoJSONSource | undefined)?.setData(data);
  }

  /** The view as a bbox the server takes: a view wider than the world asks for all of it; otherwise
   * longitudes wrap into -180..180 and the server reads west > east as crossing the antimeridian. */
  viewBbox(): [number, number, number, number] {
    const b = this.map.getBounds();
    const south = Math.max(-90, b.getSouth());
    const north = Math.min(90, b.getNorth());
    if (b.getEast() - b.getWest() >= 360) return [-180, south, 180, north];
    const wrap = (lon: number) => ((lon + 540) % 360) - 180;
    return [wrap(b.getWest()), south, wrap(b.getEast()), north];
  }

  showExposed(sites: { position: [number, number]; hits: number; name: string }[]): void {
    this.exposedData = {
      type: 'FeatureCollection',
      features: sites.map((s) => ({ type: 'Feature', properties: { hits: s.hits, name: s.name }, geometry: { type: 'Point', coordinates: s.position } })),
    };
    (this.map?.getSource('exposed') as GeoJSONSource | undefined)?.setData(this.exposedData);
  }

  /** The footprints (impact circles) of the events that reach one site, with the site's name. */
  showFootprints(hits: { centre?: [number, number]; reach_m: number; reason: string }[]): void {
    this.footprintData = {
      type: 'FeatureCollection',
      features: hits.filter((h) => h.centre).map((h) => ({
        type: 'Feature',
        properties: { reason: h.reason },
        geometry: { type: 'Polygon', coordinates: [circleRing(h.centre!, h.reach_m)] },
      })),
    };
    (this.map?.getSource('footprints') as GeoJSONSource | undefined)?.setData(this.footprintData);
  }

  /** Where a rule's dry run would have raised alerts (empty clears it). */
  showDryRun(points: { position: [number, number]; title: string }[]): void {
    this.dryRunData = {
      type: 'FeatureCollection',
      features: points.map((p) => ({ type: 'Feature', properties: { title: p.title }, geometry: { type: 'Point', coordinates: p.position } })),
    };
    (this.map?.getSource('dry-run') as GeoJSONSource | undefined)?.setData(this.dryRunData);
  }

  // ---- the clock ----

  /** The time bar spans the time-aware layers that are shown. */
  resetTimeDomain(window: TimeWindow | null = this.timebar.window): void {
    const shown = this.visibleIds().map((id) => this.collections.get(id)?.time).filter((t): t is TimeWindow => !!t);
    const domain = union(shown);
    const previous = this.timebar.domain;
    const keep = window && domain && previous && window.start === previous.start && window.end === previous.end ? domain : window;
    this.timebar.setDomain(domain, keep);
    this.setTilesWindow(this.timebar.playing ? this.timebar.domain : this.timebar.window);
    void this.loadHistogram();
  }

  private windowChanged(_w: TimeWindow, settled: boolean): void {
    const now = performance.now();
    if (settled || now - this.lastFilterUpdate >= PLAYBACK_FILTER_MS) {
      this.lastFilterUpdate = now;
      this.restyle();
    }
    if (settled) {
      this.setTilesWindow(this.timebar.playing ? this.timebar.domain : this.timebar.window);
      this.scheduleCounts();
      this.sites?.scheduleExposure();
      void this.loadHexbins();
      this.saveHash();
    }
  }

  private playingChanged(playing: boolean): void {
    document.body.dataset.playing = String(playing);
    this.setTilesWindow(playing ? this.timebar.domain : this.timebar.window);
  }

  async loadHistogram(): Promise<void> {
    this.histogramAbort?.abort();
    const domain = this.timebar.domain;
    if (!domain) {
      this.timebar.setSeries([]);
      return;
    }
    const abort = new AbortController();
    this.histogramAbort = abort;
    const ids = this.visibleIds().filter((id) => this.collections.get(id)?.time);
    try {
      const series = await Promise.all(ids.map(async (id) => ({ colour: this.colourOf(id), counts: await api.histogram(id, domain, BINS, abort.signal) })));
      if (!abort.signal.aborted) this.timebar.setSeries(series);
    } catch (e) {
      if (!abort.signal.aborted) this.notify(`Time histogram: ${(e as Error).message}`);
    }
  }

  // ---- counts per layer for the view and the window ----

  scheduleCounts(): void {
    window.clearTimeout(this.countsTimer);
    this.countsTimer = window.setTimeout(() => void this.loadCounts(), this.timebar.playing ? 1000 : 250);
  }

  private async loadCounts(): Promise<void> {
    if (!this.map) return;
    this.countsAbort?.abort();
    const abort = new AbortController();
    this.countsAbort = abort;
    const bbox = this.viewBbox();
    const filter = this.state.area ? this.tools.areaFilter() : null;
    // What these counts were asked for, so tests (and anyone watching) can tell stale counts from fresh.
    const query = `${this.timebar.window ? toDatetimeParam(this.timebar.window) : ''}|${filter ?? ''}`;
    await Promise.all(this.visibleIds().map(async (id) => {
      const c = this.collections.get(id);
      try {
        const n = await api.count(id, { bbox, window: c?.time ? this.timebar.window : null, filter }, abort.signal);
        if (!abort.signal.aborted) this.counts.set(id, n);
      } catch {
        if (!abort.signal.aborted) this.counts.set(id, null);
      }
    }));
    if (!abort.signal.aborted) {
      this.layersPanel.updateCounts();
      document.body.dataset.countsQuery = query;
      document.body.dataset.countsLoaded = String(Date.now());
    }
  }

  // ---- inspect ----

  private inspect(point: maplibregl.PointLike): void {
    if (this.tools.active) return;
    const p = point as maplibregl.Point;
    const box: [maplibregl.PointLike, maplibregl.PointLike] = [[p.x - 4, p.y - 4], [p.x + 4, p.y + 4]];
    const hits = this.map.queryRenderedFeatures(box, { layers: this.dataLayerIds() });
    if (hits.length === 0) return;
    const cluster = hits.find((h) => h.properties?.point_count !== undefined);
    if (cluster && hits.every((h) => h.properties?.point_count !== undefined)) {
      const [lon, lat] = (cluster.geometry as GeoJSON.Point).coordinates;
      this.map.easeTo({ center: [lon, lat], zoom: this.map.getZoom() + 2 });
      return;
    }
    const seen = new Set<string>();
    const unique: MapGeoJSONFeature[] = [];
    for (const h of hits) {
      const key = `${h.source}:${h.id ?? JSON.stringify(h.properties)}`;
      if (h.properties?.point_count !== undefined || seen.has(key)) continue;
      seen.add(key);
      unique.push(h);
    }
    const shown = unique.slice(0, 5).map((h) => {
      const id = h.sourceLayer ?? '';
      const title = this.collections.get(id)?.title ?? id;
      const name = h.properties?.name ?? h.properties?.title ?? h.properties?.id ?? '';
      return { layer: id, title: name ? `${title}: ${name}` : title, properties: h.properties ?? {} };
    });
    new maplibregl.Popup({ maxWidth: '360px', closeButton: true, focusAfterOpen: true })
      .setLngLat(this.map.unproject(p))
      .setDOMContent(popupContent(shown, unique.length - shown.length))
      .addTo(this.map);
  }

  // ---- live ----

  private listen(): void {
    const status = document.getElementById('live-status')!;
    const source = new EventSource('/events');
    source.addEventListener('hello', () => {
      status.textContent = 'live';
      status.dataset.state = 'ok';
    });
    source.addEventListener('error', () => {
      status.textContent = 'reconnecting…';
      status.dataset.state = 'warn';
    });
    source.addEventListener('change', (e) => {
      const change = JSON.parse((e as MessageEvent).data) as { dataset: string; change: string; version: number };
      void this.datasetChanged(change.dataset, change.change === 'dropped');
    });
    source.addEventListener('resync', () => void this.reloadCollections());
    source.addEventListener('feed', () => this.feedsPanel.changed());
  }

  /** A dataset changed on the server: its tiles, counts and histogram reload; view and styling stay. */
  async datasetChanged(id: string, dropped: boolean): Promise<void> {
    const known = this.collections.has(id);
    await this.reloadCollections();
    if (dropped || !this.collections.has(id)) return;
    if (known) this.refreshTiles([id]);
    this.scheduleCounts();
    void this.loadHistogram();
    if (this.collections.get(id)?.kind === 'sites') void this.sites.load();
    else this.sites.scheduleExposure();
    const flash = document.querySelector(`[data-layer="${id}"]`);
    flash?.classList.add('changed');
    window.setTimeout(() => flash?.classList.remove('changed'), 1500);
    document.body.dataset.lastChange = `${id}@${this.collections.get(id)?.version}`;
  }

  async reloadCollections(): Promise<void> {
    const list = await api.collections();
    this.collections = new Map(list.map((c) => [c.id, c]));
    this.placeNewDatasets();
    this.restyle();
    this.resetTimeDomain();
    this.layersPanel.render();
    this.refreshFreshness();
  }

  refreshFreshness(): void {
    const list = document.getElementById('freshness')!;
    list.replaceChildren();
    const now = Date.now();
    for (const c of [...this.collections.values()].filter((c) => c.kind === 'events')) {
      const li = document.createElement('li');
      const age = now - Date.parse(c.updated);
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.dataset.state = age < 3_600_000 ? 'ok' : age < 86_400_000 ? 'warn' : 'idle';
      badge.textContent = age < 3_600_000 ? 'fresh' : age < 86_400_000 ? 'today' : 'older';
      const text = document.createElement('span');
      text.textContent = ` ${c.title} — updated ${ago(age)}, version ${c.version}`;
      li.append(badge, text);
      list.append(li);
    }
  }

  // ---- view, theme, URL ----

  flyToBbox(bbox: [number, number, number, number] | null): void {
    if (!bbox) return;
    const [w, s, e, n] = bbox;
    if (w === e && s === n) this.map.flyTo({ center: [w, s], zoom: 9 });
    else this.map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 10, duration: 800 });
  }

  private toggleTheme(): void {
    this.state.theme = this.state.theme === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = this.state.theme;
    this.syncThemeButton();
    this.restyle();
    this.timebar.draw();
  }

  private syncThemeButton(): void {
    const b = document.getElementById('theme')!;
    b.setAttribute('aria-pressed', String(this.state.theme === 'dark'));
    b.textContent = this.state.theme === 'dark' ? 'Light' : 'Dark';
    b.title = this.state.theme === 'dark' ? 'Light map' : 'Dark map';
  }

  saveHash(): void {
    window.clearTimeout(this.hashTimer);
    this.hashTimer = window.setTimeout(() => {
      if (!this.map) return;
      const c = this.map.getCenter();
      this.state.view = { center: [c.lng, c.lat], zoom: this.map.getZoom() };
      this.state.window = this.timebar.window;
      const hash = `#${encodeState(this.state)}`;
      if (hash !== location.hash) history.replaceState(null, '', hash);
    }, 300);
  }

  private hashChanged(): void {
    const next = decodeState(location.hash);
    if (encodeState(next) === encodeState(this.state)) return;
    this.state = { ...next, order: next.order.length ? next.order : this.state.order };
    this.placeNewDatasets();
    if (next.view) this.map.jumpTo({ center: next.view.center, zoom: next.view.zoom });
    this.resetTimeDomain(next.window);
    this.restyle();
    this.layersPanel.render();
  }

  private globalKeys(e: KeyboardEvent): void {
    const target = e.target as HTMLElement;
    if (target.closest('input, select, textarea, dialog')) return;
    if (e.key === ' ' && !target.closest('button')) {
      e.preventDefault();
      this.timebar.setPlaying(!this.timebar.playing);
    } else if (e.key === '.') this.timebar.stepBy(1);
    else if (e.key === ',') this.timebar.stepBy(-1);
    else if (e.key === 'Escape') this.tools.cancel();
    else if (e.key === 'm' || e.key === 'M') this.tools.toggle('measure');
    else if (e.key === 'b' || e.key === 'B') this.tools.toggle('box');
    else if (e.key === 'p' || e.key === 'P') this.tools.toggle('polygon');
  }

  notify(message: string): void {
    const hint = document.getElementById('tool-hint')!;
    hint.textContent = message;
    hint.hidden = false;
    hint.dataset.kind = 'error';
    window.setTimeout(() => {
      if (hint.textContent === message) {
        hint.hidden = true;
        delete hint.dataset.kind;
      }
    }, 8000);
  }
}

function ago(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

maplibregl.setWorkerUrl(workerUrl);
// Start MapLibre's workers now, while the dataset list loads, instead of when the map is made.
maplibregl.prewarm();
const app = new ConsoleApp();
(window as unknown as { geoconsole: ConsoleApp }).geoconsole = app;
const account = new AccountPanel();
account.ensureSession().then(() => app.start()).catch((e: Error) => {
  document.body.dataset.ready = 'error';
  const hint = document.getElementById('tool-hint')!;
  hint.hidden = false;
  hint.dataset.kind = 'error';
  hint.textContent = `The console could not start: ${e.message}`;
});
