// The console's only way to the server: the same public HTTP API any client uses.

import type { components } from './api-types';
import type { TimeWindow } from './time';
import { toDatetimeParam } from './time';

/** Request bodies, as the server's /api document defines them (generated: `npm run gen:api`). */
type Schemas = components['schemas'];

export type DatasetKind = 'sites' | 'events' | 'areas' | 'reference';

export interface Collection {
  id: string;
  title: string;
  kind: DatasetKind;
  geometryType: string;
  featureCount: number;
  version: number;
  updated: string;
  bbox: [number, number, number, number] | null;
  time: TimeWindow | null;
}

interface RawCollection {
  id: string;
  title: string;
  kind: DatasetKind;
  geometryType: string;
  featureCount: number;
  version: number;
  updated: string;
  extent?: { spatial?: { bbox?: number[][] }; temporal?: { interval?: (string | null)[][] } };
}

export class ApiError extends Error {
  /** What the server said, without the console's "what was being done" prefix: its `description`, or the
   * status line when it gave none. */
  readonly reason: string;

  constructor(message: string, reason?: string) {
    super(message);
    this.reason = reason ?? message;
  }
}

let csrf: string | null = null;

/** The session's CSRF token, sent with every write (the server refuses a cookie-authenticated write
 * without it). */
export function setCsrf(token: string | null): void {
  csrf = token;
}

/** `fetch` for the console's API: writes carry the CSRF token. */
export function send(input: string, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase();
  if (csrf && method !== 'GET' && method !== 'HEAD') {
    const headers = new Headers(init.headers);
    headers.set('X-CSRF-Token', csrf);
    return fetch(input, { ...init, headers });
  }
  return fetch(input, init);
}

async function json<T>(response: Response, what: string): Promise<T> {
  if (response.status === 401) {
    // The session ended (logout elsewhere, idle, disabled): the page asks for a login again.
    window.dispatchEvent(new CustomEvent('geoconsole:unauthenticated'));
  }
  if (!response.ok) {
    let reason = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.description === 'string') reason = body.description;
    } catch {
      // the status says enough
    }
    throw new ApiError(`${what}: ${reason}`, reason);
  }
  return (await response.json()) as T;
}

export function parseCollection(raw: RawCollection): Collection {
  const bbox = raw.extent?.spatial?.bbox?.[0];
  const interval = raw.extent?.temporal?.interval?.[0];
  const start = interval?.[0] ? Date.parse(interval[0]) : NaN;
  const end = interval?.[1] ? Date.parse(interval[1]) : NaN;
  return {
    id: raw.id,
    title: raw.title,
    kind: raw.kind,
    geometryType: raw.geometryType,
    featureCount: raw.featureCount,
    version: raw.version,
    updated: raw.updated,
    bbox: bbox && bbox.length >= 4 ? [bbox[0], bbox[1], bbox[2], bbox[3]] : null,
    time: Number.isFinite(start) && Number.isFinite(end) ? { start, end } : null,
  };
}

export async function collections(): Promise<Collection[]> {
  const body = await json<{ collections: RawCollection[] }>(
    await send('/collections', { headers: { Accept: 'application/json' } }),
    'loading datasets',
  );
  return body.collections.map(parseCollection);
}

export interface Histogram {
  counts: number[];
}

export async function histogram(id: string, domain: TimeWindow, bins: number, signal?: AbortSignal): Promise<number[]> {
  const url = `/collections/${encodeURIComponent(id)}/histogram?datetime=${encodeURIComponent(toDatetimeParam(domain))}&bins=${bins}`;
  const body = await json<{ counts: number[] }>(await send(url, { signal }), `histogram of ${id}`);
  return body.counts;
}

export interface CountQuery {
  bbox: [number, number, number, number];
  window: TimeWindow | null;
  filter: string | null;
}

/** How many features of a dataset match, from the items endpoint's `numberMatched` (null when the server
 * found counting too expensive). */
export async function count(id: string, q: CountQuery, signal?: AbortSignal): Promise<number | null> {
  const params = new URLSearchParams({ limit: '1', bbox: q.bbox.map((v) => v.toFixed(5)).join(',') });
  if (q.window) params.set('datetime', toDatetimeParam(q.window));
  if (q.filter) params.set('filter', q.filter);
  const body = await json<{ numberMatched?: number }>(
    await send(`/collections/${encodeURIComponent(id)}/items?${params}`, { signal, headers: { Accept: 'application/geo+json' } }),
    `counting ${id}`,
  );
  return typeof body.numberMatched === 'number' ? body.numberMatched : null;
}

export interface GeoFeature {
  id?: string | number;
  geometry: { type: string; coordinates: unknown } | null;
  properties: Record<string, unknown>;
}

/** Every feature of a (small) dataset, page by page, up to `max`. */
export async function allItems(id: string, max: number): Promise<GeoFeature[]> {
  const out: GeoFeature[] = [];
  let url: string | null = `/collections/${encodeURIComponent(id)}/items?limit=${Math.min(max, 10000)}`;
  while (url && out.length < max) {
    const page: { features: GeoFeature[]; links?: { rel: string; href: string }[] } = await json(
      await send(url, { headers: { Accept: 'application/geo+json' } }),
      `loading ${id}`,
    );
    out.push(...page.features);
    const next = page.links?.find((l) => l.rel === 'next');
    url = next ? new URL(next.href, location.href).pathname + new URL(next.href, location.href).search : null;
  }
  return out.slice(0, max);
}

export interface ImportPreview {
  format: string;
  coordinates?: { lat_lon?: { lat: string; lon: string }; wkt?: { wkt: string } };
  time: string | null;
  time_end: string | null;
  columns: string[];
  geometry_types: Record<string, number>;
  sampled: number;
  rows: { at: string; geometry: string; position: [number, number] | null; time: string | null; properties: Record<string, unknown> }[];
  problems: { at: string; reason: string }[];
  suggested_dataset: string;
  suggested_kind: DatasetKind;
  /** What will be read despite a fault that costs no feature: a polygon to be repaired, an encoding. */
  warnings?: string[];
}

export interface Staged {
  id: string;
  file_name: string;
  bytes: number;
  preview: ImportPreview;
}

export interface ImportStatus {
  state: 'staged' | 'importing' | 'imported' | 'failed';
  bytes_total: number;
  bytes_read: number;
  features: number;
  rejected: number;
  error?: string;
  report?: { dataset: { id: string }; imported: number; rejected: number };
}

/** Stages a file; `layer` picks a GeoPackage table, GPX layer or zip member when there are several. */
export async function stageUpload(file: File, layer?: string, signal?: AbortSignal): Promise<Staged> {
  const params = new URLSearchParams({ name: file.name });
  if (layer) params.set('layer', layer);
  return json<Staged>(
    await send(`/imports?${params}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: file,
      signal,
    }),
    file.name,
  );
}

/** What to import a staged upload as (`POST /imports/{uploadId}`). */
export type ImportChoice = Schemas['ImportChoice'];

export async function startImport(id: string, choice: ImportChoice): Promise<ImportStatus> {
  return json<ImportStatus>(
    await send(`/imports/${encodeURIComponent(id)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(choice),
    }),
    'starting the import',
  );
}

export async function importStatus(id: string): Promise<ImportStatus> {
  return json<ImportStatus>(await send(`/imports/${encodeURIComponent(id)}`), 'import progress');
}

export async function discardUpload(id: string): Promise<void> {
  await send(`/imports/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** The formats exports write, as the server names them. */
export const EXPORT_FORMATS = ['gpkg', 'fgb', 'geoparquet', 'geojson', 'geojsonseq', 'csv', 'kml'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportStatus {
  id: string;
  state: 'running' | 'done' | 'failed';
  dataset: string;
  format: ExportFormat;
  file_name: string;
  features_written: number;
  features_at_most: number;
  progress: number;
  features?: number;
  bytes?: number;
  error?: string;
  links: { href: string; rel: string; type?: string; title?: string }[];
}

/** Starts a background export of a dataset (optionally only the time window). */
export async function startExport(dataset: string, format: ExportFormat, window: TimeWindow | null): Promise<ExportStatus> {
  const body: Schemas['ExportChoice'] = { dataset, format };
  if (window) body.datetime = toDatetimeParam(window);
  return json<ExportStatus>(
    await send('/exports', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    'starting the export',
  );
}

export async function exportStatus(id: string): Promise<ExportStatus> {
  return json<ExportStatus>(await send(`/exports/${encodeURIComponent(id)}`), 'export progress');
}

export interface ExposureHit {
  dataset: string;
  event: string;
  distance_m: number;
  reach_m: number;
  model: string;
  reason: string;
  /** A point event's position: with `reach_m`, its footprint circle. */
  centre?: [number, number];
}

export interface ExposureReport {
  sites_checked: number;
  events_checked: number;
  exposed: { dataset: string; site: string; name: string; position: [number, number]; hit_count?: number; hits: ExposureHit[] }[];
}

/** Sites within reach of the hazards' events (each hazard dataset's impact model) in the window. */
export async function exposure(sites: string[], hazards: string[], window: TimeWindow | null, signal?: AbortSignal): Promise<ExposureReport> {
  const params = new URLSearchParams({ sites: sites.join(','), hazards: hazards.join(',') });
  if (window) params.set('datetime', toDatetimeParam(window));
  return json<ExposureReport>(await send(`/analytics/exposure?${params}`, { signal }), 'site exposure');
}

/** Features per H3 cell in a box and window, as GeoJSON polygons with `cell` and `count`. */
export async function hexbins(id: string, resolution: number, bbox: [number, number, number, number], window: TimeWindow | null, signal?: AbortSignal): Promise<GeoJSON.FeatureCollection> {
  const params = new URLSearchParams({ collection: id, resolution: String(resolution), bbox: bbox.map((v) => v.toFixed(4)).join(',') });
  if (window) params.set('datetime', toDatetimeParam(window));
  return json<GeoJSON.FeatureCollection>(await send(`/analytics/h3?${params}`, { signal }), `density of ${id}`);
}

export interface SiteScore {
  dataset: string;
  site: string;
  name: string;
  score: number;
  explanation: string[];
}

/** Sites by risk score as of an instant (the console's configured model), each with its breakdown. */
export async function risk(asOf: number | null, limit: number, signal?: AbortSignal): Promise<{ as_of: string; sites: SiteScore[] }> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (asOf !== null) params.set('as_of', new Date(asOf).toISOString());
  return json(await send(`/analytics/risk?${params}`, { signal }), 'risk scores');
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type Disposition = NonNullable<Schemas['Decision']['disposition']>;

export interface Alert {
  seq: number;
  rule: string;
  severity: string;
  title: string;
  site?: string | null;
  event?: string | null;
  position?: [number, number] | null;
  raised: string;
  state: AlertState;
  disposition?: Disposition | null;
  acknowledged_by?: string | null;
  resolved_by?: string | null;
  detail?: { reason?: string };
}

export async function alerts(limit: number): Promise<Alert[]> {
  const body = await json<{ alerts: Alert[] }>(await send(`/alerts?limit=${limit}`), 'alerts');
  return body.alerts;
}

/** Acknowledges (with a disposition) or resolves an alert, as `by`. */
export async function decideAlert(seq: number, action: 'acknowledge' | 'resolve', by: string, disposition: Disposition | null): Promise<Alert> {
  const body: Schemas['Decision'] = { by };
  if (disposition) body.disposition = disposition;
  return json<Alert>(
    await send(`/alerts/${seq}/${action}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    `alert ${seq}`,
  );
}

/** An alert rule, as `GET /rules` lists it and `POST /rules` and `/rules/dry-run` take it. */
export type RuleDefinition = Schemas['Rule'];

/** What `/collections/{id}/queryables` answers: a JSON Schema of the properties a filter may use. */
export interface Queryables {
  properties?: Record<string, { type?: string; format?: string }>;
}

export async function queryables(id: string): Promise<Queryables> {
  return json<Queryables>(await send(`/collections/${encodeURIComponent(id)}/queryables`), `queryables of ${id}`);
}

export async function rules(): Promise<RuleDefinition[]> {
  return (await json<{ rules: RuleDefinition[] }>(await send('/rules'), 'alert rules')).rules;
}

/** What a rule would have raised on the stored events active in the window (nothing is stored or sent). */
export async function dryRun(rule: RuleDefinition, window: TimeWindow | null): Promise<{ would_raise: number; alerts: { title: string; position?: [number, number] | null }[] }> {
  const params = window ? `?datetime=${encodeURIComponent(toDatetimeParam(window))}` : '';
  return json(
    await send(`/rules/dry-run${params}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rule) }),
    `dry run of ${rule.id}`,
  );
}

export type FeedStatus = 'pending' | 'ok' | 'late' | 'failing' | 'paused';

export interface Feed {
  name: string;
  url: string;
  format: string;
  dataset: string;
  interval_s: number;
  enabled: boolean;
  status: FeedStatus;
  state: {
    last_success?: string | null;
    last_change?: string | null;
    last_error?: string | null;
    last_error_at?: string | null;
    failures: number;
    next_poll?: string | null;
    polls: number;
    added: number;
    updated: number;
    withdrawn: number;
    skipped: number;
    lag?: { median_s: number; max_s: number; items: number } | null;
    skipped_reasons: string[];
  };
}

export interface PollReport {
  feed: string;
  outcome: 'ok' | 'not_modified' | 'failed';
  added: number;
  updated: number;
  withdrawn: number;
  skipped: number;
  error?: string;
}

export async function feeds(): Promise<Feed[]> {
  return (await json<{ feeds: Feed[] }>(await send('/feeds'), 'feeds')).feeds;
}

/** Polls (`poll`), pauses or resumes a feed. */
export async function feedAction(name: string, action: 'poll' | 'pause' | 'resume'): Promise<PollReport | Feed> {
  return json(await send(`/feeds/${encodeURIComponent(name)}/${action}`, { method: 'POST' }), `feed ${name}`);
}

export interface FeedPreview {
  items: number;
  withdrawals: number;
  linked: number;
  skipped: number;
  skipped_reasons: string[];
  bytes: number;
}

/** What a feed holds now, read by the server without saving or writing anything. */
export type FeedSpec = Schemas['FeedSpec'];

export async function previewFeed(spec: FeedSpec): Promise<FeedPreview> {
  return json(
    await send('/feeds/preview', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(spec) }),
    'feed test',
  );
}

export async function addFeed(spec: FeedSpec): Promise<Feed> {
  return json(
    await send('/feeds', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(spec) }),
    'new feed',
  );
}

export async function deleteFeed(name: string): Promise<void> {
  const response = await send(`/feeds/${encodeURIComponent(name)}`, { method: 'DELETE' });
  if (!response.ok) await json(response, `feed ${name}`);
}

// The catalog of public sources (`/catalog`): browse, and add one as a feed.

export type CatalogKind = 'events' | 'areas' | 'reference';

/** A key, token or registered name a source asks for, and how to get it. */
export interface KeyRequirement {
  name: string;
  get_at: string;
  how: string;
  passed_as: { path?: string; query?: string; header?: string };
  /** The source works without it, within a smaller rate limit. */
  optional?: boolean;
}

export type SuggestedImpact =
  | { model: 'fixed'; radius_km: number }
  | { model: 'magnitude'; property: string; a?: number; b?: number; min_km?: number; max_km?: number }
  | { model: 'area'; buffer_km: number };

export interface CatalogStyle {
  symbol: 'circle' | 'line' | 'fill';
  colour: string;
  colour_by?: string;
  size_by?: string;
  density?: boolean;
  opacity?: number;
}

/** One catalog entry as `GET /catalog` shows it: the catalogued fields plus what this console makes of it. */
export interface CatalogEntry {
  name: string;
  title: string;
  publisher: string;
  url: string;
  docs?: string;
  protocol: string;
  kind: CatalogKind;
  hazard: string;
  coverage: string;
  licence: string;
  attribution: string;
  /** A number and a unit: 90s, 5m, 2h, 7d. */
  update_interval: string;
  dataset: string;
  needs_key?: KeyRequirement;
  suggested_impact?: SuggestedImpact;
  style: CatalogStyle;
  url_unsure?: boolean;
  notes?: string;
  /** A reader or connector here reads it. */
  addable: boolean;
  /** It cannot be used without a key (an optional key does not count). */
  requires_key: boolean;
  /** A feed of the entry's name exists. */
  added: boolean;
}

/** What the person adding a catalogued source may choose (`POST /catalog/{entryName}/add`). */
export type CatalogAdd = Schemas['CatalogAdd'];

/** Every catalog entry (the console filters them itself: there are dozens, not thousands). */
export async function catalog(): Promise<CatalogEntry[]> {
  return (await json<{ entries: CatalogEntry[] }>(await send('/catalog'), 'catalog')).entries;
}

/** Saves a catalog entry as a feed; the server's refusal (missing key, no reader yet, name taken) is the error. */
export async function addFromCatalog(name: string, choice: CatalogAdd): Promise<Feed> {
  return json(
    await send(`/catalog/${encodeURIComponent(name)}/add`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(choice),
    }),
    name,
  );
}

// Accounts, tokens and the audit log.

export type Role = Schemas['NewUser']['role'];

export interface Session {
  authenticated: boolean;
  accounts: boolean;
  user?: string;
  role?: Role;
  datasets?: Record<string, 'read' | 'write'> | null;
  via?: { kind: 'local' | 'session' | 'token' };
  csrf?: string | null;
  idle_minutes?: number;
}

export async function session(): Promise<Session> {
  return json<Session>(await send('/auth/session'), 'session');
}

export async function login(user: string, password: string): Promise<Session> {
  return json<Session>(
    await send('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password } satisfies Schemas['Login']) }),
    'login',
  );
}

export async function logout(): Promise<void> {
  await send('/auth/logout', { method: 'POST' });
}

export interface Token {
  id: string;
  user: string;
  label: string;
  scope: 'read' | 'write' | 'admin';
  datasets: string[] | null;
  created: string;
  expires: string | null;
  revoked: string | null;
  last_used: string | null;
  state: 'active' | 'revoked' | 'expired';
  token?: string;
}

export async function tokens(): Promise<Token[]> {
  return (await json<{ tokens: Token[] }>(await send('/auth/tokens'), 'tokens')).tokens;
}

export async function createToken(label: string, scope: Token['scope'], expiresInDays: number): Promise<Token> {
  return json<Token>(
    await send('/auth/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ label, scope, expires_in_days: expiresInDays } satisfies Schemas['NewTokenBody']),
    }),
    'new token',
  );
}

export async function revokeToken(id: string): Promise<Token> {
  return json<Token>(await send(`/auth/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }), `token ${id}`);
}

export interface Account {
  name: string;
  role: Role;
  disabled: boolean;
  datasets: Record<string, 'read' | 'write'> | null;
  created: string;
}

export async function users(): Promise<Account[]> {
  return (await json<{ users: Account[] }>(await send('/users'), 'accounts')).users;
}

export async function createUser(name: string, role: Role, password: string): Promise<Account> {
  return json<Account>(
    await send('/users', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, role, password } satisfies Schemas['NewUser']) }),
    `account ${name}`,
  );
}

export async function changeUser(name: string, change: Schemas['UserChange']): Promise<Account> {
  return json<Account>(
    await send(`/users/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(change) }),
    `account ${name}`,
  );
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  source: string;
  detail: unknown;
}

export async function audit(filter: { actor?: string; action?: string; before?: number; limit?: number }): Promise<AuditEntry[]> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== '') params.set(k, String(v));
  return (await json<{ entries: AuditEntry[] }>(await send(`/audit?${params}`), 'audit log')).entries;
}
