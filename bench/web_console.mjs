// Web console benchmark (issue 4): time to first rendered map of the demo on localhost, frame times while
// panning over 1 M points served as tiles, and the console's own bundle size. Headless Chromium renders
// with software GL here, so frame times are for comparing runs, not absolutes.
//
//   ./scripts/build-web.sh && cargo build --release --locked -p geoconsole
//   node bench/web_console.mjs [--runs 5] [--points 1000000]
//
// Writes bench/out/web/results.json and the "Web console" section of bench/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchBrowser, repo, startConsole } from '../web/e2e/harness.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 5);
const POINTS = arg('points', 1_000_000);
process.env.GEOCONSOLE_BIN ??= join(repo, 'target', 'release', 'geoconsole');
const BIN = process.env.GEOCONSOLE_BIN;
const out = join(repo, 'bench', 'out', 'web');
mkdirSync(out, { recursive: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

function bundle() {
  const dir = join(repo, 'web', 'dist', 'assets');
  const files = readdirSync(dir).filter((f) => /\.(m?js|css)$/.test(f));
  const size = (f) => gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
  const ours = files.filter((f) => !f.startsWith('maplibre'));
  const theirs = files.filter((f) => f.startsWith('maplibre') && !f.includes('worker'));
  return {
    console_gzip_bytes: ours.reduce((n, f) => n + size(f), 0),
    maplibre_gzip_bytes: theirs.reduce((n, f) => n + size(f), 0),
    files: ours,
  };
}

async function firstMap(url, hash = '') {
  const browser = await launchBrowser();
  const times = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      // A new context each run: empty cache, as a first visit.
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      const page = await context.newPage();
      await page.goto(`${url}/console/${hash}`);
      const handle = await page.waitForFunction(() => performance.getEntriesByName('geoconsole:first-map')[0]?.startTime, null, { timeout: 60_000, polling: 50 });
      times.push(await handle.jsonValue());
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return times;
}

/** In the page: records frame times, long tasks and long-animation-frame script time for 6 s while the
 * console plays its clock (`play`) or pans the map every frame (`pan`). */
function recordFrames(mode) {
  return new Promise((done) => {
    const map = window.geoconsole.map;
    const frames = [];
    const longTasks = [];
    const scripts = [];
    const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration)));
    observer.observe({ type: 'longtask', buffered: false });
    // Long animation frames split a slow frame into script time (ours and MapLibre's) and the rest
    // (style, layout, and here above all software GL).
    const loaf = new PerformanceObserver((list) => list.getEntries().forEach((e) => scripts.push(e.scripts.reduce((n, s) => n + s.duration, 0))));
    loaf.observe({ type: 'long-animation-frame', buffered: false });
    const play = () => document.getElementById('time-play').click();
    if (mode === 'play') play();
    let last = performance.now();
    const started = last;
    const tick = (now) => {
      frames.push(now - last);
      last = now;
      if (mode === 'pan') map.panBy([6, 1], { duration: 0 });
      if (now - started < 6000) {
        requestAnimationFrame(tick);
        return;
      }
      observer.disconnect();
      loaf.disconnect();
      if (mode === 'play') play();
      const big = map.getStyle().layers.filter((l) => l.id.startsWith('ds:big')).map((l) => l.id);
      const visible = mode === 'pan' ? map.queryRenderedFeatures({ layers: big }).reduce((n, f) => n + (f.properties.point_count ?? 1), 0) : 0;
      done({ frames: frames.slice(1), longTasks, scripts, visible });
    };
    requestAnimationFrame(tick);
  });
}

/** RUNS fresh browser contexts at `path`, each recording frames in `mode` once the first map is drawn. */
async function frameRuns(url, path, mode, prepare = async () => {}) {
  const browser = await launchBrowser();
  const runs = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      const page = await context.newPage();
      await page.goto(`${url}${path}`);
      await page.waitForFunction(() => performance.getEntriesByName('geoconsole:first-map').length > 0, null, { timeout: 120_000 });
      await prepare(page);
      runs.push(await page.evaluate(recordFrames, mode));
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return runs;
}

/** Plays the demo's week at one day per second, as the time bar animates and every time-aware layer is
 * filtered. */
const playback = (url) => frameRuns(url, '/console/', 'play', (page) => page.selectOption('#time-speed', '2'));

/** Pans over only the million points, from the region they are densest in. */
const panning = (url) => frameRuns(url, '/console/#map=3/35/0&layers=big:1', 'pan');

function bigStore() {
  const dir = join(out, 'big');
  mkdirSync(dir, { recursive: true });
  const store = join(dir, `big-${POINTS}.gpkg`);
  if (!existsSync(store)) {
    const data = join(dir, `big-${POINTS}.geojsonl`);
    execFileSync(BIN, ['--quiet', 'generate', '--points', String(POINTS), '--output', data], { stdio: 'inherit' });
    execFileSync(BIN, ['--quiet', '--store', store, 'import', data, '--dataset', 'big', '--kind', 'events'], { stdio: 'inherit' });
  }
  return store;
}

const sizes = bundle();
const demo = await startConsole();
let first;
let floor;
let plays;
try {
  first = await firstMap(demo.url);
  // The same page with every data layer hidden: what MapLibre and the basemap alone cost on this machine.
  floor = await firstMap(demo.url, '#layers=sites:0,earthquakes:0,storm_tracks:0,storm_wind_radii:0,weather_warnings:0,wildfire_hotspots:0');
  plays = await playback(demo.url);
} finally {
  await demo.stop();
}
const big = await startConsole({ args: ['serve'], store: bigStore() });
let pans;
try {
  pans = await panning(big.url);
} finally {
  await big.stop();
}

const frameStats = (r) => ({
  frames: r.frames.length,
  fps: 1000 / median(r.frames),
  median_ms: median(r.frames),
  p95_ms: pct(r.frames, 0.95),
  max_ms: Math.max(...r.frames),
  long_tasks: r.longTasks.length,
  longest_task_ms: r.longTasks.length ? Math.max(...r.longTasks) : 0,
  longest_script_ms: r.scripts.length ? Math.max(...r.scripts) : 0,
  frames_script_over_50ms: r.scripts.filter((t) => t > 50).length,
});
const playRuns = plays.map(frameStats);
const perRun = pans.map((r) => ({ ...frameStats(r), points_visible: r.visible }));
const results = {
  machine: execFileSync('uname', ['-srm']).toString().trim(),
  chromium: execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version']).toString().trim(),
  runs: RUNS,
  first_map_ms: first,
  first_map_median_ms: median(first),
  basemap_only_first_map_ms: floor,
  basemap_only_first_map_median_ms: median(floor),
  pan: perRun,
  pan_median: {
    fps: median(perRun.map((r) => r.fps)),
    p95_ms: median(perRun.map((r) => r.p95_ms)),
    long_tasks: median(perRun.map((r) => r.long_tasks)),
    longest_task_ms: Math.max(...perRun.map((r) => r.longest_task_ms)),
    longest_script_ms: Math.max(...perRun.map((r) => r.longest_script_ms)),
    frames_script_over_50ms: median(perRun.map((r) => r.frames_script_over_50ms)),
    points_visible: median(perRun.map((r) => r.points_visible)),
  },
  playback: playRuns,
  playback_median: {
    fps: median(playRuns.map((r) => r.fps)),
    p95_ms: median(playRuns.map((r) => r.p95_ms)),
    long_tasks: median(playRuns.map((r) => r.long_tasks)),
    longest_task_ms: Math.max(...playRuns.map((r) => r.longest_task_ms)),
    longest_script_ms: Math.max(...playRuns.map((r) => r.longest_script_ms)),
    frames_script_over_50ms: median(playRuns.map((r) => r.frames_script_over_50ms)),
  },
  bundle: sizes,
  points: POINTS,
};
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));

const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const ok = (yes) => (yes ? 'met' : 'missed');
const section = `<!-- web-benchmark:begin -->
## Web console (issue 4)

\`node bench/web_console.mjs --runs ${RUNS} --points ${POINTS}\` (release binary, ${results.chromium}, headless with
software GL, 1366×768, ${results.machine}; medians of ${RUNS} runs, each in a fresh browser context).

| Measure | Result | Goal |
|---|---|---|
| First rendered map of the demo (navigation → every visible tile drawn) | ${median(first).toFixed(0)} ms (runs: ${first.map((t) => t.toFixed(0)).join(', ')}) | < 1500 ms: ${ok(median(first) < 1500)} |
| The same with every data layer hidden (MapLibre + basemap only: this machine's floor) | ${median(floor).toFixed(0)} ms (runs: ${floor.map((t) => t.toFixed(0)).join(', ')}) | |
| Frame rate while playing the demo week at 1 day/s (time bar animating, every time-aware layer filtered) | ${results.playback_median.fps.toFixed(1)} fps median, p95 frame ${results.playback_median.p95_ms.toFixed(1)} ms | compare runs |
| Long tasks (> 50 ms) while playing | ${results.playback_median.long_tasks} median per 6 s run, longest ${results.playback_median.longest_task_ms.toFixed(0)} ms | none: ${ok(results.playback_median.long_tasks === 0)} |
| Script time (console + MapLibre JS) in the slowest frame while playing | ${results.playback_median.longest_script_ms.toFixed(0)} ms; frames with > 50 ms of script: ${results.playback_median.frames_script_over_50ms} | < 50 ms: ${ok(results.playback_median.longest_script_ms < 50)} |
| Frame rate while panning over ${POINTS.toLocaleString('en')} points (tiles, clustered where dense) | ${results.pan_median.fps.toFixed(1)} fps median, p95 frame ${results.pan_median.p95_ms.toFixed(1)} ms | compare runs |
| Long tasks (> 50 ms) on the main thread while panning | ${results.pan_median.long_tasks} median per 6 s run, longest ${results.pan_median.longest_task_ms.toFixed(0)} ms | none: ${ok(results.pan_median.long_tasks === 0)} |
| Script time in the slowest frame while panning | ${results.pan_median.longest_script_ms.toFixed(0)} ms; frames with > 50 ms of script: ${results.pan_median.frames_script_over_50ms} | < 50 ms: ${ok(results.pan_median.longest_script_ms < 50)} |
| Points represented in the last frame (clusters count their members) | ${results.pan_median.points_visible.toLocaleString('en')} | |
| Console JS + CSS, gzipped (MapLibre excluded) | ${kb(sizes.console_gzip_bytes)} | < 400 KB: ${ok(sizes.console_gzip_bytes < 400 * 1024)} |
| MapLibre GL JS (main chunk + CSS), gzipped, for reference | ${kb(sizes.maplibre_gzip_bytes)} | |
<!-- web-benchmark:end -->`;
const resultsPath = join(repo, 'bench', 'RESULTS.md');
const md = readFileSync(resultsPath, 'utf8');
const begin = md.indexOf('<!-- web-benchmark:begin -->');
const end = md.indexOf('<!-- web-benchmark:end -->');
const next = begin >= 0 && end > begin ? md.slice(0, begin) + section + md.slice(end + '<!-- web-benchmark:end -->'.length) : `${md.trimEnd()}\n\n${section}\n`;
writeFileSync(resultsPath, next);
console.log(JSON.stringify(results.pan_median), `first map ${median(first).toFixed(0)} ms`, `bundle ${kb(sizes.console_gzip_bytes)}`);
