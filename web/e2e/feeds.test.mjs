// End-to-end: the demo with its live feed (the USGS week replayed by a local simulator), driven through
// Debian's Chromium: feed badges turn ok with a lag, new quakes arrive on the map without a reload, the feeds
// page polls on demand, and a feed added through the page that cannot connect turns failing with its error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openConsole, screenshotPath } from './harness.mjs';

let server;
let browser;
let session;

describe('live feeds in the console', { concurrency: false }, () => {
  before(async () => {
    ({ server, browser, session } = await openConsole({ args: ['demo', '--serve', '--feed-speed', '1200'] }));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the demo feed ok with its lag, and its quakes arrive live', async () => {
    const { page, problems, outside } = session;
    const row = page.locator('#feeds li[data-feed="demo-usgs-replay"]');
    await row.locator('.badge', { hasText: 'ok' }).waitFor({ timeout: 40_000 });
    assert.match(await row.textContent(), /earthquakes · lag \d+ s · last ok \d+ s ago/);
    assert.match(await page.locator('#feeds-status').textContent(), /Feeds: 1 ok/);
    const before = await page.evaluate(() => document.body.dataset.lastChange ?? '');
    // The next poll (every 10 s) writes new quakes; the page hears the change and reloads that layer.
    await page.waitForFunction((b) => (document.body.dataset.lastChange ?? '').startsWith('earthquakes@') && document.body.dataset.lastChange !== b, before, { timeout: 30_000 });
    await page.screenshot({ path: screenshotPath('20-feeds-panel.png') });
    assert.deepEqual(outside, [], 'no request leaves loopback');
    assert.deepEqual(problems, [], 'no console errors');
  });

  it('polls from the feeds page and shows a failing feed with its error', async () => {
    const { page } = session;
    await page.getByRole('button', { name: /Feeds:/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Live feeds' });
    await dialog.waitFor();
    const demo = dialog.locator('tr[data-feed="demo-usgs-replay"]');
    await demo.getByRole('button', { name: 'Poll now demo-usgs-replay' }).click();
    await page.locator('#feeds-note').filter({ hasText: /demo-usgs-replay: (ok|not modified)/ }).waitFor({ timeout: 20_000 });
    assert.match(await demo.textContent(), /usgs → earthquakes/);

    // Testing a definition reads the feed once and saves nothing.
    const form = dialog.getByRole('form', { name: 'Add a feed' });
    const simulator = (await demo.locator('small').textContent()).trim();
    await form.getByLabel('Name').fill('try-it');
    await form.getByLabel('URL').fill(simulator);
    await form.getByLabel('Format').selectOption('usgs');
    await form.getByLabel('Dataset').fill('tried');
    await form.getByRole('button', { name: 'Test' }).click();
    await page.locator('#feeds-note').filter({ hasText: /test: \d+ items in \d+ KB; nothing was saved/ }).waitFor({ timeout: 10_000 });
    assert.equal(await dialog.locator('tr[data-feed="try-it"]').count(), 0);

    // A feed nobody answers: saved (the demo allows its own loopback simulator), polled, failing.
    await form.getByLabel('Name').fill('nobody-home');
    await form.getByLabel('URL').fill('http://127.0.0.1:9/alerts.geojson');
    await form.getByLabel('Format').selectOption('geojson');
    await form.getByLabel('Dataset').fill('nowhere');
    await form.getByRole('button', { name: 'Add feed' }).click();
    await page.locator('#feeds-note').filter({ hasText: 'added nobody-home' }).waitFor({ timeout: 10_000 });
    const broken = dialog.locator('tr[data-feed="nobody-home"]');
    await broken.locator('.badge', { hasText: 'failing' }).waitFor({ timeout: 30_000 });
    assert.match(await broken.textContent(), /cannot|connect|refused/i, 'the error says why');
    await page.screenshot({ path: screenshotPath('21-feeds-page.png') });

    // A URL inside the network that is not allowed is refused with the reason, and nothing is added.
    await form.getByLabel('Name').fill('metadata');
    await form.getByLabel('URL').fill('http://169.254.169.254/latest/meta-data/');
    await form.getByLabel('Dataset').fill('x');
    await form.getByRole('button', { name: 'Add feed' }).click();
    await page.locator('#feeds-note').filter({ hasText: 'link-local' }).waitFor({ timeout: 10_000 });
    assert.equal(await dialog.locator('tr[data-feed="metadata"]').count(), 0);

    await broken.getByRole('button', { name: 'Pause nobody-home' }).click();
    await broken.locator('.badge', { hasText: 'paused' }).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Close the feeds page' }).click();
    assert.match(await page.locator('#feeds li[data-feed="nobody-home"]').textContent(), /paused/);
  });
});
