// End-to-end: a console with accounts, driven through Debian's Chromium. The login page stands in front of
// everything; a wrong password gets the server's refusal; a viewer sees no import button, can make only
// read tokens (shown once) and no admin pages, and the server refuses a viewer's write even when the page is
// bypassed; logout ends the session; an admin adds an account, changes its role, and reads the audit log.
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

async function logIn(page, user, password) {
  const dialog = page.getByRole('dialog', { name: 'Log in to geoconsole' });
  await dialog.waitFor();
  await dialog.getByLabel('Account').fill(user);
  await dialog.getByLabel('Password').fill(password);
  await dialog.getByRole('button', { name: 'Log in' }).click();
}

/** Page problems other than the refusals this test provokes on purpose. */
function unexpected(problems) {
  return problems.filter((p) => !/status of (401|403)/.test(p));
}

describe('accounts in the console', { concurrency: false }, () => {
  before(async () => {
    store = join(mkdtempSync(join(tmpdir(), 'geoconsole-accounts-')), 'ops.gpkg');
    geoconsole(['demo']);
    geoconsole(['users', 'add', 'ada', '--role', 'admin', '--password-stdin'], `${PASSWORD}\n`);
    geoconsole(['users', 'add', 'vic', '--role', 'viewer', '--password-stdin'], `${PASSWORD}\n`);
    server = await startConsole({ args: ['serve'], store });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('asks for a login, refuses a wrong password, and shows a viewer only what a viewer may use', async () => {
    const { page, problems, outside } = await openPage(browser);
    await page.goto(`${server.url}/console/`);
    await logIn(page, 'vic', 'not the password at all');
    await page.locator('#login-error', { hasText: 'wrong account name or password' }).waitFor();
    await page.screenshot({ path: screenshotPath('30-login.png') });
    await logIn(page, 'vic', PASSWORD);
    await mapReady(page);
    assert.equal(await page.locator('#account').textContent(), 'vic · viewer');
    assert.equal(await page.locator('#import-button').isVisible(), false, 'no import button for a viewer');
    // The page hides it; the server refuses it anyway, CSRF token and all.
    const status = await page.evaluate(async () => {
      const s = await (await fetch('/auth/session')).json();
      const r = await fetch('/rules', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: '{}' });
      return r.status;
    });
    assert.equal(status, 403);
    await page.locator('#account').click();
    const dialog = page.getByRole('dialog', { name: 'Account' });
    await dialog.waitFor();
    assert.equal(await dialog.getByRole('tab', { name: 'Users' }).isVisible(), false);
    assert.equal(await dialog.getByRole('tab', { name: 'Audit log' }).isVisible(), false);
    const scopes = await dialog.locator('#token-scope option').allTextContents();
    assert.deepEqual(scopes, ['read'], 'a viewer makes read tokens only');
    await dialog.getByLabel('Label').fill('grafana');
    await dialog.getByRole('button', { name: 'Make token' }).click();
    const secret = dialog.getByLabel('The new token (shown once)');
    await secret.waitFor();
    const token = await secret.inputValue();
    assert.match(token, /^gct_[0-9a-f]+_[0-9a-f]{64}$/);
    await dialog.locator('#tokens-table tr', { hasText: 'grafana' }).waitFor();
    assert.equal((await dialog.locator('#tokens-table').textContent()).includes(token.slice(-20)), false, 'listed without its secret');
    // The token works from outside the browser, read-only.
    const api = await fetch(`${server.url}/collections`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(api.status, 200);
    await page.screenshot({ path: screenshotPath('31-account-tokens.png') });
    // Logging out ends the session on the server: the login page is back, and the old cookie is worthless.
    const cookie = (await page.context().cookies()).find((c) => c.name === 'gc_session');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    await dialog.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('dialog', { name: 'Log in to geoconsole' }).waitFor();
    const replay = await fetch(`${server.url}/collections`, { headers: { Cookie: `gc_session=${cookie.value}` } });
    assert.equal(replay.status, 401);
    assert.deepEqual(outside, [], 'no request leaves loopback');
    assert.deepEqual(unexpected(problems), [], 'no console errors');
    await page.close();
  });

  it('lets an admin add an account, change its role and read the audit log', async () => {
    const { page, problems } = await openPage(browser);
    await page.goto(`${server.url}/console/`);
    await logIn(page, 'ada', PASSWORD);
    await mapReady(page);
    assert.equal(await page.locator('#import-button').isVisible(), true);
    await page.locator('#account').click();
    const dialog = page.getByRole('dialog', { name: 'Account' });
    await dialog.getByRole('tab', { name: 'Users' }).click();
    const form = dialog.getByRole('form', { name: 'Add an account' });
    await form.getByLabel('Name').fill('otto');
    await form.getByLabel('Role').selectOption('viewer');
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Add account' }).click();
    const row = dialog.locator('#users-table tr', { hasText: 'otto' });
    await row.waitFor();
    await row.getByLabel('Role of otto').selectOption('editor');
    await dialog.locator('#account-note', { hasText: 'otto is now editor' }).waitFor();
    assert.match(geoconsole(['users', 'list']), /otto\s+editor/);
    await dialog.getByRole('tab', { name: 'Audit log' }).click();
    const audit = dialog.locator('#audit-table');
    await audit.locator('tr', { hasText: 'PUT /users/{userName}' }).first().waitFor();
    const text = await audit.textContent();
    for (const expected of ['user:ada', 'POST /users', 'login', 'user:vic', 'refused 403', 'refused 401']) {
      assert.ok(text.includes(expected), `${expected} in the audit log`);
    }
    await page.screenshot({ path: screenshotPath('32-audit-log.png') });
    assert.deepEqual(unexpected(problems), [], 'no console errors');
    await page.close();
  });
});
