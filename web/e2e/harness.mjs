// Shared by the end-to-end tests and the console benchmark: starts a real geoconsole on the demo data on
// 127.0.0.1 and Debian's Chromium through playwright-core, with background networking off (the browser
// may talk to the console only).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
export const shots = join(repo, 'target', 'e2e');

export function binary() {
  return process.env.GEOCONSOLE_BIN ?? join(repo, 'target', 'debug', 'geoconsole');
}

/** Starts `geoconsole demo --serve` without its live feed (or other args) on a free port; resolves with its URLs. */
export async function startConsole({ args = ['demo', '--serve', '--no-live-feed'], store } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'geoconsole-e2e-'));
  // The tests stage files of a few hundred bytes: the console's 1 GiB disk reserve is the Rust tests' subject,
  // and a CI disk with less free would refuse every upload here.
  const child = spawn(binary(), ['--quiet', '--store', store ?? join(dir, 'demo.gpkg'), ...args, '--bind', '127.0.0.1:0', '--staging-keep-free-mb', '64'], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`console did not start:\n${output}`)), 120_000);
    const read = (chunk) => {
      output += chunk;
      const m = /console: (http:\/\/127\.0\.0\.1:\d+)\/console\//.exec(output);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => fail(new Error(`console exited with ${code}:\n${output}`)));
  });
  // A console that dies mid-suite fails every later test with a symptom far from the cause (a dialog that
  // never fills, a refused fetch): say so at once, with what it printed last.
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`geoconsole exited unexpectedly (code ${code}, signal ${signal}); its last output:\n${output.slice(-8000)}`);
  });
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${url}/readyz`).catch(() => null);
    if (r?.ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    async stop() {
      stopping = true;
      if (/panicked at/.test(output)) console.error(`geoconsole panicked during the tests:\n${output.slice(-8000)}`);
      if (child.exitCode !== null || child.signalCode !== null) return rmSync(dir, { recursive: true, force: true });
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    ],
  });
}

/** A page at 1366×768 that records console errors, page errors and requests that left loopback. */
export async function openPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const problems = [];
  const outside = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['127.0.0.1', 'localhost'].includes(u.hostname) && !['data:', 'blob:'].includes(u.protocol)) outside.push(r.url());
  });
  return { page, problems, outside };
}

export async function mapReady(page) {
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
  await page.waitForFunction(() => {
    const map = window.geoconsole?.map;
    return map && map.loaded() && map.areTilesLoaded();
  }, null, { timeout: 60_000 });
}

export function screenshotPath(name) {
  mkdirSync(shots, { recursive: true });
  return join(shots, name);
}

/** A console, a browser and a page on the console with its map loaded; `close()` ends all three. */
export async function openConsole(options) {
  const server = await startConsole(options);
  const browser = await launchBrowser();
  const session = await openPage(browser);
  await session.page.goto(`${server.url}/console/`);
  await mapReady(session.page);
  return {
    server,
    browser,
    session,
    async close() {
      await browser.close();
      await server.stop();
    },
  };
}
