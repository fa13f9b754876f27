// End-to-end: the source catalog in the console, driven through Debian's Chromium against a real server with
// accounts. An editor opens the catalog from the feeds page, searches it, sees an entry's licence and
// attribution, adds FEMA's flood zones (no key) and finds the new feed in the feeds panel; NASA FIRMS asks for
// its key in a password field, and a key the server refuses is answered in the server's words and never
// shown. A viewer browses the same catalog without any Add button.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { binary, launchBrowser, mapReady, openPage, screenshotPath, startConsole } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let browser;
let store;

function geoconsole(args, input) {
  const run = spawnSync(binary(), ['--quiet', '--store', store, ...args], { input, encoding: 'utf8' });
  assert.equal(run.status, 0, `geoconsole ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

async function logIn(page, user) {
  await page.goto(`${server.url}/console/`);
  const dialog = page.getByRole('dialog', { name: 'Log in to geoconsole' });
  await dialog.getByLabel('Account').fill(user);
  await dialog.getByLabel('Password').fill(PASSWORD);
  await dialog.getByRole('button', { name: 'Log in' }).click();
  await mapReady(page);
}

/** Page problems other than the refusal this test provokes on purpose (a key the server turns down). */
function unexpected(problems) {
  return problems.filter((p) => !/status of 400/.test(p));
}

describe('the source catalog in the console', { concurrency: false }, () => {
  before(async () => {
    store = join(mkdtempSync(join(tmpdir(), 'geoconsole-catalog-')), 'ops.gpkg');
    geoconsole(['demo']);
    geoconsole(['users', 'add', 'ed', '--role', 'editor', '--password-stdin'], `${PASSWORD}\n`);
    geoconsole(['users', 'add', 'vic', '--role', 'viewer', '--password-stdin'], `${PASSWORD}\n`);
    server = await startConsole({ args: ['serve'], store });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('searches the catalog, shows licences, and adds a source as a feed that appears in the feeds panel', async () => {
    const { page, problems, outside } = await openPage(browser);
    await logIn(page, 'ed');
    await page.getByRole('button', { name: 'all feeds…' }).click();
    const feedsPage = page.getByRole('dialog', { name: 'Live feeds' });
    await feedsPage.getByRole('button', { name: 'Source catalog…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Source catalog' });
    const count = dialog.locator('#catalog-count');
    await count.filter({ hasText: /^\d+ of \d+ sources$/ }).waitFor();
    const total = Number(/of (\d+)/.exec(await count.textContent())[1]);
    assert.ok(total >= 40, `${total} sources in the catalog`);

    await dialog.getByRole('searchbox', { name: 'Search' }).fill('flood');
    await count.filter({ hasText: new RegExp(`^\\d+ of ${total} sources$`) }).waitFor();
    const shown = Number(/^(\d+)/.exec(await count.textContent())[1]);
    assert.ok(shown > 0 && shown < total, `${shown} flood sources of ${total}`);
    const fema = dialog.locator('li[data-entry="fema-nfhl-flood-zones"]');
    await fema.waitFor();
    const text = await fema.textContent();
    assert.match(text, /FEMA National Flood Hazard Layer/);
    assert.match(text, /Licence: Public domain \(U\.S\. Government work\) · Attribution: FEMA National Flood Hazard Layer/);
    assert.match(text, /every 7 d → flood_zones/);
    // Every entry left says flood somewhere in its text, its hazard or its notes.
    for (const item of await dialog.locator('li[data-entry]').all()) assert.match((await item.textContent()).toLowerCase(), /flood/);

    // A filter narrows further; its options count the entries.
    await dialog.getByLabel('Kind').selectOption('areas');
    assert.equal(await fema.isVisible(), true);
    await dialog.getByLabel('Kind').selectOption('events');
    await fema.waitFor({ state: 'detached' });
    await dialog.getByLabel('Kind').selectOption('');

    await fema.getByText('Details').click();
    assert.match(await fema.locator('dl').textContent(), /hazards\.fema\.gov\/arcgis\/rest\/services\/public\/NFHL\/MapServer\/28.*Suggested impactarea.*Suggested stylefill #3a86ff · colour by FLD_ZONE/s);

    await fema.getByRole('button', { name: 'Add fema-nfhl-flood-zones' }).click();
    const form = fema.getByRole('form', { name: 'Add fema-nfhl-flood-zones as a feed' });
    await form.waitFor();
    assert.equal(await form.locator('input[type=password]').count(), 0, 'FEMA takes no key');
    await form.getByRole('button', { name: 'Add feed' }).click();
    await dialog.locator('#catalog-note', { hasText: 'added fema-nfhl-flood-zones as feed fema-nfhl-flood-zones into dataset flood_zones' }).waitFor();
    await fema.locator('.badge', { hasText: 'added' }).waitFor();
    await page.screenshot({ path: screenshotPath('40-catalog.png') });

    // Behind the catalog, the feeds page and the side panel already list the new feed.
    await dialog.getByRole('button', { name: 'Close the catalog' }).click();
    await feedsPage.locator('tr[data-feed="fema-nfhl-flood-zones"]', { hasText: 'arcgis → flood_zones' }).waitFor();
    await page.getByRole('button', { name: 'Close the feeds page' }).click();
    await page.locator('#feeds li[data-feed="fema-nfhl-flood-zones"]', { hasText: 'flood_zones' }).waitFor();
    assert.deepEqual(outside, [], 'no request leaves loopback');
    assert.deepEqual(unexpected(problems), [], 'no console errors');
    await page.close();
  });

  it('asks for a key where a source needs one, and shows the server\'s refusal without the key', async () => {
    const { page, problems, outside } = await openPage(browser);
    const adds = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().includes('/catalog/')) adds.push(r.postData() ?? '');
    });
    await logIn(page, 'ed');
    await page.getByRole('button', { name: 'catalog…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Source catalog' });
    await dialog.getByRole('searchbox', { name: 'Search' }).fill('firms');
    const firms = dialog.locator('li[data-entry="firms-area-api"]');
    await firms.locator('.badge', { hasText: 'key needed' }).waitFor();
    await firms.getByRole('button', { name: 'Add firms-area-api' }).click();
    const form = firms.getByRole('form', { name: 'Add firms-area-api as a feed' });
    const key = form.getByLabel('NASA FIRMS MAP_KEY');
    await key.waitFor();
    assert.equal(await key.getAttribute('type'), 'password', 'the key is typed into a password field');
    assert.match(await form.textContent(), /Get one at https:\/\/firms\.modaps\.eosdis\.nasa\.gov\/api\/map_key\//);

    // Without a key the form does not go: the field says it is required.
    await form.getByRole('button', { name: 'Add feed' }).click();
    assert.equal(await key.evaluate((k) => k.validity.valueMissing), true);
    assert.deepEqual(adds, [], 'nothing sent without the key');

    // A key the server cannot use: its own words come back; the key leaves the page.
    await key.fill('not/a/key');
    await form.getByRole('button', { name: 'Add feed' }).click();
    const alert = form.getByRole('alert');
    await alert.filter({ hasText: 'the key goes in the URL\'s path' }).waitFor();
    assert.equal(await alert.textContent(), "'firms-area-api': the key goes in the URL's path, so it must be printable ASCII without / ? # % { }");
    assert.equal(adds.length, 1);
    assert.deepEqual(JSON.parse(adds[0]), { key: 'not/a/key' });
    assert.equal(await key.inputValue(), '');
    assert.equal(await key.getAttribute('aria-invalid'), 'true');
    assert.equal((await page.content()).includes('not/a/key'), false, 'the key is not shown anywhere');
    assert.equal(await firms.locator('.badge', { hasText: 'added' }).count(), 0);
    await page.screenshot({ path: screenshotPath('41-catalog-key.png') });
    assert.deepEqual(outside, [], 'no request leaves loopback');
    assert.deepEqual(unexpected(problems), [], 'no console errors');
    await page.close();
  });

  it('lets a viewer browse the catalog but not add from it', async () => {
    const { page, problems } = await openPage(browser);
    await logIn(page, 'vic');
    await page.getByRole('button', { name: 'catalog…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Source catalog' });
    await dialog.locator('#catalog-count').filter({ hasText: /sources$/ }).waitFor();
    const fema = dialog.locator('li[data-entry="fema-nfhl-flood-zones"]');
    await fema.locator('.badge', { hasText: 'added' }).waitFor();
    assert.match(await fema.textContent(), /Licence: Public domain/);
    assert.ok((await dialog.locator('li[data-entry]').count()) >= 40);
    assert.equal(await dialog.getByRole('button', { name: /^Add / }).count(), 0, 'no Add button for a viewer');
    assert.equal(await dialog.locator('form.catalog-add input').filter({ visible: true }).count(), 0);
    await page.screenshot({ path: screenshotPath('42-catalog-viewer.png') });
    assert.deepEqual(problems, [], 'no console errors');
    await page.close();
  });
});
