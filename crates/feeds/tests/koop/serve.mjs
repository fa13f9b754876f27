#!/usr/bin/env node
// Koop FeatureServer fixture: serves ONE GeoJSON file as layer 0 of a FeatureServer on 127.0.0.1.
//   node serve.mjs --file data.geojson [--port 0] [--name data] [--max-record-count 2000]
//                  [--id-field site_id | --hash-ids] [--no-cap] [--exit-on-stdin-close]
//   (env fallbacks: KOOP_FILE, KOOP_PORT)
// Prints exactly one stdout line when ready:
//   listening 127.0.0.1:PORT http://127.0.0.1:PORT/file-geojson/rest/services/NAME/FeatureServer/0
// Everything else (Koop logs, errors) goes to stderr.  Exit 1 on bad args / unreadable file.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

// stdout carries only the ready line: route any library console output to stderr.
for (const k of ['log', 'info', 'warn', 'debug']) console[k] = console.error;
let server;
const stop = () => {
  if (!server) process.exit(0);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

const { values: a } = parseArgs({
  options: {
    file: { type: 'string', default: process.env.KOOP_FILE },
    port: { type: 'string', default: process.env.KOOP_PORT || '0' },
    name: { type: 'string' },                                    // service id in the URL
    'max-record-count': { type: 'string', default: '2000' },
    'id-field': { type: 'string' },   // use an existing integer property as objectIdField
    'hash-ids': { type: 'boolean', default: false }, // Koop default: OBJECTID = hash(feature)
    'no-cap': { type: 'boolean', default: false },   // don't clamp resultRecordCount to max
    'exit-on-stdin-close': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
  },
});
const die = (msg) => { process.stderr.write(`serve.mjs: ${msg}\n`); process.exit(1); };
if (!a.file) die('--file (or KOOP_FILE) is required');
const port = Number(a.port);
const maxRecordCount = Number(a['max-record-count']);
if (!Number.isInteger(port) || port < 0 || port > 65535) die(`bad --port ${a.port}`);
if (!Number.isInteger(maxRecordCount) || maxRecordCount < 1) die(`bad --max-record-count ${a['max-record-count']}`);
const name = a.name || path.basename(a.file).replace(/\.(geo)?json$/i, '').replace(/[^\w.-]/g, '_');

// Keep node-config (used by koop-core) from reading ./config of whatever cwd we run in.
process.env.NODE_CONFIG_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '.no-config');
process.env.SUPPRESS_NO_CONFIG_WARNING = 'true';
// winnow converts Date fields with new Date(str): zone-less strings ("2024-01-15 10:30:00") would
// otherwise be read in the host's local time zone.
process.env.TZ = 'UTC';
// --hash-ids: use murmurhash (pure JS) rather than the optional native farmhash, so hashed
// OBJECTIDs do not depend on whether farmhash got installed/compiled.
process.env.OBJECTID_FEATURE_HASH ??= 'javascript';

// ---- load the file once ----------------------------------------------------------------------
let gj;
try { gj = JSON.parse(fs.readFileSync(a.file, 'utf8')); } catch (e) { die(`cannot read ${a.file}: ${e.message}`); }
if (gj?.type === 'Feature') gj = { type: 'FeatureCollection', features: [gj] };
if (gj?.type !== 'FeatureCollection' || !Array.isArray(gj.features)) die('not a GeoJSON FeatureCollection');
const features = gj.features;
const metadata = { name, title: name, description: `GeoJSON from ${path.basename(a.file)}`,
  maxRecordCount, ...(gj.metadata || {}) };   // a top-level "metadata" object in the file wins
if (a['id-field']) metadata.idField = a['id-field'];
else if (!a['hash-ids'] && !metadata.idField && !features.some((f) => f.properties?.OBJECTID != null)) {
  // default: ArcGIS-like OBJECTID = 1..N in file order (first attribute)
  features.forEach((f, i) => { f.properties = { OBJECTID: i + 1, ...(f.properties || {}) }; });
}
if (!metadata.geometryType) metadata.geometryType = features.find((f) => f.geometry)?.geometry.type;

// ---- logger: all to stderr ---------------------------------------------------------------------
const LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];
const lvl = LEVELS.indexOf(a['log-level']);
const fmt = (x) => (x instanceof Error ? x.stack : typeof x === 'string' ? x : JSON.stringify(x));
const logger = Object.fromEntries(LEVELS.map((l, i) => [l, (...m) => {
  if (i <= lvl) process.stderr.write(`${l}: ${m.map(fmt).join(' ')}\n`);
}]));
logger.log = (l, ...m) => (logger[l] || logger.info)(...m);

// ---- provider: returns ALL features; output-geoservices (winnow) applies where/order/paging ----
class Model {
  async getData(req) {
    const { id, layer } = req.params;
    if (id !== name || (layer !== undefined && layer !== '0')) {
      throw Object.assign(new Error('Invalid URL'), { code: 400, details: ['Invalid URL'] });
    }
    return { type: 'FeatureCollection', features, metadata };
  }
}
const provider = { type: 'provider', name: 'file-geojson', version: '1.0.0', Model };

const truthy = (v) => v === true || v === 'true';
// ArcGIS caps every feature query at maxRecordCount; Koop does not (no resultRecordCount => all
// features, exceededTransferLimit=false).  Emulate ArcGIS unless --no-cap.
async function before(req) {
  if (a['no-cap'] || !/\/query$/.test(req.path)) return;
  const p = { ...req.body, ...req.query };
  if (truthy(p.returnIdsOnly) || truthy(p.returnCountOnly) || truthy(p.returnExtentOnly) || p.outStatistics) return;
  const n = Number(p.resultRecordCount);
  if (!(n > 0) || n > maxRecordCount) req.query.resultRecordCount = String(maxRecordCount);
}

const { default: Koop } = await import('@koopjs/koop-core');
// authInfo: without it /rest/info advertises isTokenBasedSecurity:true + an https token URL.
const koop = new Koop({ logger, authInfo: { isTokenBasedSecurity: false }, geoservicesDefaults: { maxRecordCount } });
koop.register(provider, { before });

server = koop.server.listen(port, '127.0.0.1', () => {
  const p = server.address().port;
  process.stdout.write(`listening 127.0.0.1:${p} http://127.0.0.1:${p}/file-geojson/rest/services/${name}/FeatureServer/0\n`);
});
server.on('error', (e) => die(e.message));
if (a['exit-on-stdin-close']) process.stdin.on('end', stop).on('error', stop).resume();
