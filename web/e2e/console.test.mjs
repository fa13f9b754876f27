// End-to-end: a real geoconsole on the demo scenario, driven through Debian's Chromium. Screenshots land in
// target/e2e/.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { mapReady, openConsole, openPage, screenshotPath } from './harness.mjs';

let server;
let browser;
let session;

const count = async (page, id) => {
  const text = await page.locator(`#count-${id}`).textContent();
  return Number(text.replace(/,/g, ''));
};

/** Waits for counts asked for the current window and area (they load after a debounce, and an earlier
 * load may land first). */
const freshCounts = async (page) => {
  await page.waitForFunction(() => {
    const app = window.geoconsole;
    const w = app.timebar.window;
    const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
    const expected = `${w ? `${iso(w.start)}/${iso(w.end)}` : ''}|${app.state.area ? app.tools.areaFilter() : ''}`;
    return document.body.dataset.countsQuery === expected;
  }, null, { timeout: 30_000 });
};

const rendered = (page, layer) => page.evaluate((l) => {
  const map = window.geoconsole.map;
  return map.getLayer(l) ? map.queryRenderedFeatures({ layers: [l] }).length : -1;
}, layer);

describe('web console', { concurrency: false }, () => {
  before(async () => {
    ({ server, browser, session } = await openConsole());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  // A test that fails with the import dialog open would leave it over the page and fail the rest with
  // clicks it intercepts.
  afterEach(async () => {
    await session?.page.evaluate(() => {
      const dialog = document.getElementById('import-dialog');
      if (dialog?.open) dialog.close();
    });
  });

  it('loads the offline map with basemap, labels and data tiles, asking nothing outside loopback', async () => {
    const { page, problems, outside } = session;
    await page.waitForFunction(() => document.querySelector('#count-earthquakes')?.textContent?.match(/\d/), null, { timeout: 30_000 });
    assert.ok((await rendered(page, 'ds:earthquakes:points')) > 50, 'earthquake points are drawn');
    assert.ok((await rendered(page, 'ds:sites:points')) > 50, 'sites are drawn (as dots at world scale)');
    assert.ok((await rendered(page, 'bm-land')) > 0, 'basemap land is drawn');
    const labels = await page.evaluate(() => window.geoconsole.map.queryRenderedFeatures({ layers: ['bm-city-labels'] }).length);
    assert.ok(labels > 5, `city labels are placed (${labels}), so glyphs came from the console`);
    await page.screenshot({ path: screenshotPath('01-map.png') });
    assert.deepEqual(outside, [], 'no request leaves loopback');
    assert.deepEqual(problems, [], 'no console errors');
  });

  it('ranks sites by risk score with what made each score', async () => {
    const { page } = session;
    assert.equal(await page.locator('#sites-sort').inputValue(), 'risk');
    await page.waitForFunction(() => Number(document.body.dataset.riskLoaded) > 0, null, { timeout: 30_000 });
    const sites = page.locator('#sites button.site');
    const scores = await sites.locator('.score').allTextContents();
    assert.ok(scores.length > 3, 'scored sites are listed');
    const numbers = scores.slice(0, 10).map(Number);
    assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), 'highest first');
    assert.match(await sites.first().locator('.explain').first().textContent(), /^\d+\.\d of \d+ from /);
    await page.screenshot({ path: screenshotPath('01c-risk.png') });
  });

  it('ranks sites by exposure to the shown hazards, with reasons, and rings them on the map', async () => {
    const { page } = session;
    await page.selectOption('#sites-sort', 'exposure');
    await page.waitForFunction(() => Number(document.body.dataset.exposureLoaded) > 0, null, { timeout: 30_000 });
    const first = page.locator('#sites button.site').first();
    assert.match(await first.locator('.badge').textContent(), /\d+ threats?/);
    assert.match(await first.locator('.reason').textContent(), /(inside the area of|km away \(reaches)/);
    await page.waitForFunction(() => window.geoconsole.map.queryRenderedFeatures({ layers: ['exposed-sites'] }).length > 0);
    await page.screenshot({ path: screenshotPath('01b-exposure.png') });
  });

  it('draws an event layer as H3 density hexagons and back', async () => {
    const { page } = session;
    await page.locator('#more-earthquakes').click();
    const stamp = await page.evaluate(() => document.body.dataset.hexLoaded ?? '');
    await page.locator('#density-earthquakes').check();
    await page.waitForFunction((s) => (document.body.dataset.hexLoaded ?? '') !== s, stamp, { timeout: 30_000 });
    await page.waitForFunction(() => window.geoconsole.map.queryRenderedFeatures({ layers: ['h3:earthquakes:fill'] }).length > 10, null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.geoconsole.map.getLayer('ds:earthquakes:points')), undefined, 'points give way to hexagons');
    assert.match(await page.locator('[data-layer="earthquakes"] .legend').textContent(), /per hexagon/);
    await page.screenshot({ path: screenshotPath('01c-density.png') });
    await page.locator('#density-earthquakes').uncheck();
    await page.waitForFunction(() => !!window.geoconsole.map.getLayer('ds:earthquakes:points'));
    await page.locator('#more-earthquakes').click();
  });

  it('toggles a layer off and on', async () => {
    const { page } = session;
    await page.locator('#toggle-earthquakes').uncheck();
    await page.waitForFunction(() => window.geoconsole.map.getLayoutProperty('ds:earthquakes:points', 'visibility') === 'none');
    assert.equal(await rendered(page, 'ds:earthquakes:points'), 0);
    // The URL follows the state after a short debounce.
    await page.waitForFunction(() => /earthquakes:0/.test(location.hash));
    await page.locator('#toggle-earthquakes').check();
    await page.waitForFunction(() => window.geoconsole.map.queryRenderedFeatures({ layers: ['ds:earthquakes:points'] }).length > 0, null, { timeout: 30_000 });
  });

  it('narrows the time window and the visible counts follow', async () => {
    const { page } = session;
    await freshCounts(page);
    await page.waitForFunction(() => Number(document.querySelector('#count-earthquakes')?.textContent?.replace(/,/g, '')) > 0, null, { timeout: 30_000 });
    const before = await count(page, 'earthquakes');
    const drawnBefore = await rendered(page, 'ds:earthquakes:points');
    await page.locator('#time-canvas').focus();
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowDown');
    await freshCounts(page);
    const after = await count(page, 'earthquakes');
    assert.ok(after < before, `fewer earthquakes in a narrower window (${before} → ${after})`);
    await page.waitForFunction(() => window.geoconsole.map.areTilesLoaded());
    assert.ok((await rendered(page, 'ds:earthquakes:points')) < drawnBefore, 'fewer points drawn');
    assert.match(await page.evaluate(() => location.hash), /time=2023-/);
    await page.screenshot({ path: screenshotPath('02-time-window.png') });
    await page.locator('#time-all').click();
    await freshCounts(page);
  });

  it('filters every layer to a drawn box, and measures a distance', async () => {
    const { page } = session;
    await freshCounts(page);
    const before = await count(page, 'sites');
    await page.locator('#tool-box').click();
    const box = await page.locator('#map').boundingBox();
    // A box over Western Europe at the start view.
    const at = (lon, lat) => page.evaluate(([x, y]) => window.geoconsole.map.project([x, y]), [lon, lat]);
    const a = await at(-10, 36);
    const b = await at(20, 60);
    await page.mouse.click(box.x + a.x, box.y + a.y);
    await page.mouse.click(box.x + b.x, box.y + b.y);
    await page.waitForFunction(() => window.geoconsole.state.area !== null);
    await freshCounts(page);
    const inside = await count(page, 'sites');
    assert.ok(inside > 0 && inside < before, `sites in the box (${inside}) are fewer than in view (${before})`);
    assert.match(await page.evaluate(() => location.hash), /area=/);
    await page.waitForFunction(() => window.geoconsole.map.areTilesLoaded());
    await page.screenshot({ path: screenshotPath('03-area-filter.png') });
    await page.locator('#tool-clear').click();
    await freshCounts(page);
    assert.equal(await count(page, 'sites'), before);

    await page.keyboard.press('m');
    const paris = await at(2.35, 48.86);
    const berlin = await at(13.4, 52.52);
    await page.mouse.click(box.x + paris.x, box.y + paris.y);
    await page.mouse.click(box.x + berlin.x, box.y + berlin.y);
    await page.keyboard.press('Enter');
    // Paris–Berlin is about 878 km on the great circle.
    const hint = await page.locator('#tool-hint').textContent();
    const km = Number(/Distance: ([\d.,]+) km/.exec(hint)?.[1].replace(/,/g, ''));
    assert.ok(km > 860 && km < 895, hint);
  });

  it('imports a CSV dropped on the map, with a preview, and shows it as a layer', async () => {
    const { page } = session;
    const csv = 'name,lat,lon,when,severity\nDepot fire,48.85,2.35,2023-04-02T10:00:00Z,3\nRoad closure,51.5,-0.12,2023-04-03T08:30:00Z,2\nFlood,52.52,13.4,2023-04-04T12:00:00Z,4\n';
    await drop(page, 'field_reports.csv', csv);
    await previewShown(page);
    const summary = await page.locator('#import-summary').textContent();
    assert.match(summary, /CSV/);
    assert.match(summary, /3 Point/);
    assert.equal(await page.locator('#import-time').inputValue(), 'when');
    assert.equal(await page.locator('#import-lat').inputValue(), 'lat');
    await page.locator('#import-dataset').fill('field_reports');
    await page.screenshot({ path: screenshotPath('04-import-preview.png') });
    await page.locator('#import-go').click();
    await page.waitForFunction(() => document.body.dataset.lastImport === 'field_reports', null, { timeout: 30_000 });
    await page.waitForSelector('[data-layer="field_reports"]');
    await page.waitForFunction(() => window.geoconsole.map.areTilesLoaded() && window.geoconsole.map.queryRenderedFeatures({ layers: ['ds:field_reports:points'] }).length === 3, null, { timeout: 30_000 });
    await page.screenshot({ path: screenshotPath('05-imported.png') });
  });

  it('explains a bad file in plain words with its line, and imports nothing', async () => {
    const { page } = session;
    const csv = 'name,lat,lon\nok,10,10\nbad,95,10\n';
    await drop(page, 'broken.csv', csv);
    await previewShown(page);
    assert.match(await page.locator('.problems').textContent(), /line 3: .*latitude/);
    await page.locator('#import-dataset').fill('broken');
    await page.locator('#import-go').click();
    await page.waitForSelector('#import-error');
    assert.match(await page.locator('#import-error').textContent(), /broken\.csv: line 3: .*latitude/);
    await page.screenshot({ path: screenshotPath('06-import-error.png') });
    await page.keyboard.press('Escape');
    const collections = await (await fetch(`${server.url}/collections`)).json();
    assert.ok(!collections.collections.some((c) => c.id === 'broken'), 'nothing was imported');
  });

  it('says in the preview which polygons the import will repair', async () => {
    const { page } = session;
    const bowtie = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { name: 'crossed zone' }, geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]] } }] };
    await drop(page, 'zones.geojson', JSON.stringify(bowtie));
    await previewShown(page);
    assert.match(await page.locator('.preview-notes').textContent(), /zones\.geojson: feature 0: .*will be stored as 2 valid polygons/);
    await page.keyboard.press('Escape');
  });

  it('shows a change made by another client live, without reloading the page', async () => {
    const { page } = session;
    await page.evaluate(() => { window.__noReload = true; });
    const body = 'name,lat,lon,when,severity\nPort strike,50.85,4.35,2023-04-05T00:00:00Z,5\n';
    const staged = await (await fetch(`${server.url}/imports?name=more.csv`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body })).json();
    const started = await fetch(`${server.url}/imports/${staged.id}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dataset: 'field_reports', mode: 'append', kind: 'events' }) });
    assert.equal(started.status, 202);
    await page.waitForFunction(() => document.body.dataset.lastChange === 'field_reports@2', null, { timeout: 30_000 });
    await page.waitForFunction(() => window.geoconsole.map.areTilesLoaded() && window.geoconsole.map.queryRenderedFeatures({ layers: ['ds:field_reports:points'] }).length === 4, null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
    await page.screenshot({ path: screenshotPath('07-live-change.png') });
  });

  it('lists alerts, adds a new one live, and records who acknowledged and resolved it', async () => {
    const { page } = session;
    await page.waitForFunction(() => Number(document.body.dataset.openAlerts) > 0, null, { timeout: 30_000 });
    const before = Number(await page.evaluate(() => document.body.dataset.openAlerts));
    // A strong earthquake near Managua arrives from another client; the demo's rule alerts on it.
    const quake = { type: 'FeatureCollection', features: [{ type: 'Feature', id: 'e2e-quake', geometry: { type: 'Point', coordinates: [-86.2, 12.1] }, properties: { mag: 6.4, place: 'e2e quake near Managua', time: 1680843600000 } }] };
    const staged = await (await fetch(`${server.url}/imports?name=quake.geojson`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: JSON.stringify(quake) })).json();
    const started = await fetch(`${server.url}/imports/${staged.id}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dataset: 'earthquakes', mode: 'append', time: 'time' }) });
    assert.equal(started.status, 202);
    await page.waitForFunction((n) => Number(document.body.dataset.openAlerts) > n, before, { timeout: 30_000 });
    const newest = page.locator('#alerts-list li.alert').first();
    assert.match(await newest.locator('.alert-title').textContent(), /e2e quake near Managua/);
    const seq = await newest.getAttribute('data-seq');
    // Without a name the console asks for one; with it, the acknowledgement records it.
    await newest.getByRole('button', { name: 'Acknowledge' }).click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'alerts-by');
    await page.fill('#alerts-by', 'Operator Ana');
    await newest.locator('select').selectOption('relevant');
    await newest.getByRole('button', { name: 'Acknowledge' }).click();
    const item = page.locator(`#alerts-list li[data-seq="${seq}"]`);
    await page.waitForFunction((s) => document.querySelector(`#alerts-list li[data-seq="${s}"]`)?.dataset.state === 'acknowledged', seq);
    assert.match(await item.locator('.meta').textContent(), /acknowledged by Operator Ana \(relevant\)/);
    await item.getByRole('button', { name: 'Resolve' }).click();
    await page.waitForFunction((s) => !document.querySelector(`#alerts-list li[data-seq="${s}"]`), seq);
    const stored = await (await fetch(`${server.url}/alerts/${seq}`)).json();
    assert.equal(stored.state, 'resolved');
    assert.equal(stored.acknowledged_by, 'Operator Ana');
    assert.equal(stored.resolved_by, 'Operator Ana');
    await page.check('#alerts-resolved');
    await item.waitFor();
    await page.screenshot({ path: screenshotPath('08-alerts.png') });
    await page.uncheck('#alerts-resolved');
  });

  it('draws the impact circle of each point event reaching a site', async () => {
    const { page } = session;
    // The M6.4 quake the alerts test added near Managua reaches the Managua sites (magnitude model).
    await page.click('#time-all');
    await page.selectOption('#sites-sort', 'exposure');
    await page.fill('#sites-filter', 'Managua');
    const site = page.locator('#sites button.site', { hasText: 'e2e quake near Managua' }).first();
    await site.waitFor({ timeout: 30_000 });
    await site.click();
    await page.waitForFunction(() => Number(document.body.dataset.footprints) > 0);
    await page.waitForFunction(() => window.geoconsole.map.queryRenderedFeatures({ layers: ['footprints-line'] }).length > 0, null, { timeout: 30_000 });
    await page.screenshot({ path: screenshotPath('08b-footprints.png') });
    await page.fill('#sites-filter', '');
  });

  it('dry-runs a rule over the time window and shows where it would have fired', async () => {
    const { page } = session;
    await page.click('#time-all');
    await page.locator('details.rules summary').click();
    const rule = page.locator('#rules-list li', { hasText: 'Earthquake M4+ within 100 km of a site' });
    await rule.getByRole('button', { name: 'Dry run' }).click();
    await page.waitForFunction(() => /^quake_near_site:\d+$/.test(document.body.dataset.dryRun ?? ''), null, { timeout: 30_000 });
    const raised = Number((await page.evaluate(() => document.body.dataset.dryRun)).split(':')[1]);
    assert.ok(raised > 0, 'the demo week has earthquakes near sites');
    assert.match(await rule.locator('.meta').textContent(), new RegExp(`would have raised ${raised} alerts`));
    const stored = await (await fetch(`${server.url}/rules/quake_near_site`)).json();
    assert.equal(stored.id, 'quake_near_site', 'the dry run changed nothing');
    await page.evaluate(() => window.geoconsole.map.jumpTo({ center: [-86.5, 12.5], zoom: 5 }));
    await page.waitForFunction(() => window.geoconsole.map.queryRenderedFeatures({ layers: ['dry-run'] }).length > 0, null, { timeout: 30_000 });
    await page.screenshot({ path: screenshotPath('09-dry-run.png') });
  });

  it('restores view, layers and theme from a shared link', async () => {
    const { page, problems } = session;
    const hash = await page.evaluate(() => location.hash);
    const other = await openPage(browser);
    await other.page.goto(`${server.url}/console/${hash.replace('theme=dark', '')}&theme=dark`);
    await mapReady(other.page);
    assert.equal(await other.page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await other.page.locator('#toggle-field_reports').isChecked(), true);
    await other.page.screenshot({ path: screenshotPath('08-shared-dark.png') });
    assert.deepEqual(other.problems, []);
    await other.page.close();
    assert.deepEqual(problems, [], 'no console errors through the whole session');
  });

  it('is usable by keyboard: every control has a name, the map takes focus, Space plays', async () => {
    const { page } = session;
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select')]
      .filter((e) => !e.closest('[hidden]') && !(e.getAttribute('aria-label') || e.textContent.trim() || e.labels?.length || e.title || e.placeholder))
      .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unnamed, []);
    await page.locator('#map').focus();
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.body.dataset.playing === 'true');
    await page.waitForTimeout(1500);
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.body.dataset.playing === 'false');
  });

  it('imports a GPX dropped on the map like any other file', async () => {
    const { page } = session;
    const gpx = '<?xml version="1.0"?><gpx version="1.1" creator="e2e" xmlns="http://www.topografix.com/GPX/1/1">'
      + '<wpt lat="48.2" lon="16.37"><name>Vienna depot</name><time>2023-04-02T10:00:00Z</time></wpt>'
      + '<wpt lat="47.5" lon="19.04"><name>Budapest depot</name><time>2023-04-03T10:00:00Z</time></wpt></gpx>';
    await drop(page, 'depots.gpx', gpx);
    await previewShown(page);
    assert.match(await page.locator('#import-summary').textContent(), /GPX/i);
    await page.locator('#import-dataset').fill('depots');
    await page.locator('#import-go').click();
    await page.waitForFunction(() => document.body.dataset.lastImport === 'depots', null, { timeout: 30_000 });
    await page.waitForSelector('[data-layer="depots"]');
  });

  it('exports a layer to a GeoPackage in the background and offers the file', async () => {
    const { page } = session;
    await page.locator('#more-earthquakes').click();
    await page.locator('#export-format-earthquakes').selectOption('gpkg');
    await page.locator('#export-earthquakes').click();
    const link = page.locator('#export-download-earthquakes');
    await link.waitFor({ timeout: 60_000 });
    assert.match(await link.textContent(), /earthquakes\.gpkg \([\d,]+ features/);
    const bytes = new Uint8Array(await (await fetch(await link.getAttribute('href'))).arrayBuffer());
    assert.equal(new TextDecoder().decode(bytes.slice(0, 15)), 'SQLite format 3');
    await page.screenshot({ path: screenshotPath('10-export.png') });
    await page.locator('#more-earthquakes').click();
  });
});

/** Drops a file on the map the way a browser does: a DataTransfer holding a File. */
/** Waits for the import dialog's preview; a refusal shown instead fails at once with its words. */
async function previewShown(page) {
  await page.waitForSelector('#import-summary, #import-error');
  const error = page.locator('#import-error');
  if (await error.count()) assert.fail(`the import dialog shows an error instead of a preview: ${await error.textContent()}`);
}

async function drop(page, name, content) {
  const transfer = await page.evaluateHandle(([n, c]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([c], n, { type: 'text/csv' }));
    return dt;
  }, [name, content]);
  await page.dispatchEvent('.mapwrap', 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent('.mapwrap', 'drop', { dataTransfer: transfer });
}
