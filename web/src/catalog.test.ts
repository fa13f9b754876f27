import { describe, expect, it } from 'vitest';
import type { CatalogEntry, Feed } from './api';
import { NO_FILTER, addChoice, addedText, badges, facet, impactText, intervalText, matches, styleText, webHref, words } from './catalog';

const entry = (over: Partial<CatalogEntry> = {}): CatalogEntry => ({
  name: 'fema-nfhl-flood-zones',
  title: 'FEMA National Flood Hazard Layer: flood hazard zones',
  publisher: 'Federal Emergency Management Agency',
  url: 'https://hazards.fema.gov/arcgis/rest/services/public/NFHL/MapServer/28',
  docs: 'https://hazards.fema.gov/femaportal/wps/portal/NFHLWMS',
  protocol: 'arcgis',
  kind: 'areas',
  hazard: 'flood',
  coverage: 'United States (where digital FIRMs exist)',
  licence: 'Public domain (U.S. Government work)',
  attribution: 'FEMA National Flood Hazard Layer',
  update_interval: '7d',
  dataset: 'flood_zones',
  suggested_impact: { model: 'area', buffer_km: 0 },
  style: { symbol: 'fill', colour: '#3a86ff', colour_by: 'FLD_ZONE', opacity: 0.35 },
  notes: 'Millions of polygons nationwide: never sync it whole.',
  addable: true,
  requires_key: false,
  added: false,
  ...over,
});

const firmsKey = {
  name: 'NASA FIRMS MAP_KEY',
  get_at: 'https://firms.modaps.eosdis.nasa.gov/api/map_key/',
  how: 'Free: enter an e-mail address.',
  passed_as: { path: '{MAP_KEY}' },
};

describe('catalog filtering', () => {
  it('keeps entries whose text holds every word, in any case, as the API matches q', () => {
    expect(matches(entry(), { ...NO_FILTER, text: 'flood' })).toBe(true);
    expect(matches(entry(), { ...NO_FILTER, text: '  FEMA   zones ' })).toBe(true);
    expect(matches(entry(), { ...NO_FILTER, text: 'flood crime' })).toBe(false);
    // Publisher, coverage, dataset and notes count; licence does not (as on the server).
    expect(matches(entry(), { ...NO_FILTER, text: 'emergency' })).toBe(true);
    expect(matches(entry(), { ...NO_FILTER, text: 'firms' })).toBe(true);
    expect(matches(entry(), { ...NO_FILTER, text: 'flood_zones' })).toBe(true);
    expect(matches(entry(), { ...NO_FILTER, text: 'nationwide' })).toBe(true);
    expect(matches(entry(), { ...NO_FILTER, text: 'domain' })).toBe(false);
    expect(matches(entry(), NO_FILTER)).toBe(true);
  });

  it('applies kind, hazard, protocol and readable-only together', () => {
    const e = entry();
    expect(matches(e, { ...NO_FILTER, kind: 'areas', hazard: 'flood', protocol: 'arcgis' })).toBe(true);
    expect(matches(e, { ...NO_FILTER, kind: 'events' })).toBe(false);
    expect(matches(e, { ...NO_FILTER, hazard: 'wildfire' })).toBe(false);
    expect(matches(e, { ...NO_FILTER, protocol: 'socrata' })).toBe(false);
    expect(matches(entry({ addable: false, protocol: 'json' }), { ...NO_FILTER, readableOnly: true })).toBe(false);
    expect(matches(e, { ...NO_FILTER, readableOnly: true })).toBe(true);
  });

  it('offers each filter value once, with its count, in name order', () => {
    const list = [entry(), entry({ name: 'b', hazard: 'wildfire', protocol: 'firms' }), entry({ name: 'c', hazard: 'flood', protocol: 'socrata' })];
    expect(facet(list, 'hazard')).toEqual([{ value: 'flood', count: 2 }, { value: 'wildfire', count: 1 }]);
    expect(facet(list, 'protocol').map((f) => f.value)).toEqual(['arcgis', 'firms', 'socrata']);
  });
});

describe('catalog badges', () => {
  const labels = (e: CatalogEntry) => badges(e).map((b) => `${b.label}:${b.state}`);

  it('flags a needed key, an optional key, an unreadable protocol, an unsure URL and an added feed', () => {
    expect(labels(entry())).toEqual([]);
    expect(labels(entry({ needs_key: firmsKey, requires_key: true }))).toEqual(['key needed:warn']);
    expect(labels(entry({ needs_key: { ...firmsKey, optional: true }, requires_key: false }))).toEqual(['key optional:idle']);
    expect(labels(entry({ addable: false, protocol: 'json' }))).toEqual(['not readable yet:idle']);
    expect(labels(entry({ url_unsure: true, added: true }))).toEqual(['URL unsure:warn', 'added:ok']);
  });

  it('says why in the tooltip', () => {
    expect(badges(entry({ needs_key: firmsKey, requires_key: true }))[0].title).toContain(firmsKey.get_at);
    expect(badges(entry({ addable: false, protocol: 'json' }))[0].title).toContain('json');
  });
});

describe('catalog text', () => {
  it('says intervals, impacts and styles in short', () => {
    expect(intervalText('5m')).toBe('every 5 min');
    expect(intervalText('7d')).toBe('every 7 d');
    expect(intervalText('90s')).toBe('every 90 s');
    expect(intervalText('weekly')).toBe('weekly');
    expect(impactText({ model: 'fixed', radius_km: 10 })).toBe('fixed 10 km');
    expect(impactText({ model: 'magnitude', property: 'mag' })).toBe('magnitude(mag)');
    expect(impactText({ model: 'area', buffer_km: 0 })).toBe('area');
    expect(impactText({ model: 'area', buffer_km: 2 })).toBe('area + 2 km');
    expect(impactText(undefined)).toBe('none');
    expect(styleText(entry().style)).toBe('fill #3a86ff · colour by FLD_ZONE · opacity 0.35');
    expect(styleText({ symbol: 'circle', colour: '#e4572e', size_by: 'frp', density: true, opacity: 1 })).toBe('circle #e4572e · size by frp · H3 density');
    expect(words('tropical_cyclone')).toBe('tropical cyclone');
  });

  it('links only web addresses', () => {
    expect(webHref('https://example.org/docs')).toBe('https://example.org/docs');
    expect(webHref('javascript:alert(1)')).toBeNull();
    expect(webHref('not a url')).toBeNull();
    expect(webHref(undefined)).toBeNull();
  });
});

describe('adding from the catalog', () => {
  it('sends only what was filled in, the key trimmed and only to an entry that takes one', () => {
    const firms = entry({ name: 'firms-area-api', needs_key: firmsKey, requires_key: true });
    expect(addChoice(firms, { key: '  abc123 ', name: '', dataset: ' ', paused: false })).toEqual({ key: 'abc123' });
    expect(addChoice(firms, { key: '' })).toEqual({});
    expect(addChoice(entry(), { key: 'stray', name: 'la-flood', dataset: 'la_flood', paused: true })).toEqual({
      name: 'la-flood',
      dataset: 'la_flood',
      paused: true,
    });
  });

  it('reports the new feed without its URL, which may hold the key', () => {
    const feed = {
      name: 'firms-area-api',
      url: 'https://firms.modaps.eosdis.nasa.gov/api/area/csv/SECRET/VIIRS_NOAA20_NRT/world/1',
      format: 'firms',
      dataset: 'wildfire_hotspots',
      interval_s: 1800,
      enabled: true,
      status: 'pending',
      state: { failures: 0, polls: 0, added: 0, updated: 0, withdrawn: 0, skipped: 0, skipped_reasons: [] },
    } satisfies Feed;
    const text = addedText(entry({ name: 'firms-area-api' }), feed);
    expect(text).toBe('added firms-area-api as feed firms-area-api into dataset wildfire_hotspots; its first poll starts within seconds');
    expect(text).not.toContain('SECRET');
    expect(addedText(entry(), { ...feed, enabled: false })).toContain('paused until resumed');
  });
});
