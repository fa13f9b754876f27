#!/usr/bin/env python3
"""Stores benchmark (issue 9): the same console on its GeoPackage store and on PostgreSQL/PostGIS, with one
and with two instances, and the migration between the two.

Data: `geoconsole generate` (events clustered around real cities, seed 42) and, with another seed, sites;
imported into a GeoPackage, then copied into PostGIS (a database made by scripts/postgres.sh, schema
`bench_stores`) with `geoconsole migrate`, which is timed both ways.

For each setup (GeoPackage × 1, PostGIS × 1, PostGIS × 2) and each run, alternating:
- ready: seconds from `serve` to /readyz (every dataset read from the store into the index);
- items: bench's `walk` client, 8 connections, for --seconds, over 300 bbox pages (0.5° boxes at data
  points, limit 100); with two instances the list alternates between them (a client-side balancer);
- tiles: the same over 600 z4–z12 tiles of both layers with the tile caches off, so every request renders;
- exposure: /analytics/exposure?radius_km=10&hits=nearest once (sites × events, index warm);
- commit → other instance: with two instances, an append of one feature through one instance until the
  other's items show it (the NOTIFY path), median of 5.
- push-down: PostGIS × 1 with `--index-max-features 100000`, so the million events are not loaded into memory:
  their items come through PostGIS's GiST index and their tiles from ST_AsMVT.
Memory is the first instance's resident set after loading. Medians of the runs are reported. The load generator shares the 2 cores with the servers and PostgreSQL, so
two instances here measure the cost of sharing, not the gain of a second machine.

Usage: python3 bench/stores.py [--points 1000000] [--sites 10000] [--runs 3] [--seconds 10]
Needs: a release build (cargo build --release -p geoconsole -p geoconsole-bench), postgresql-15-postgis-3.
"""

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
WALK = ROOT / "target" / "release" / "walk"
OUT = ROOT / "bench" / "out" / "stores"
BEGIN, END = "<!-- stores-benchmark:begin -->", "<!-- stores-benchmark:end -->"
PORTS = [18191, 18192]
SCHEMA = "bench_stores"


def log(msg):
    print(f"[stores] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def timed(cmd):
    started = time.perf_counter()
    run(cmd, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def data(points, sites):
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / f"stores_{sites}_{points}.gpkg"
    ev = OUT / f"events_{points}.geojsonl"
    if not store.exists():
        log(f"generating {points:,} events and {sites:,} sites")
        st = OUT / f"sites_{sites}.geojsonl"
        run([BIN, "--quiet", "generate", "--points", points, "--seed", "42", "-o", ev])
        run([BIN, "--quiet", "generate", "--points", sites, "--seed", "7", "-o", st])
        run([BIN, "--quiet", "--store", store, "import", ev, "--dataset", "events", "--kind", "events"])
        run([BIN, "--quiet", "--store", store, "import", st, "--dataset", "sites", "--kind", "sites"])
    coords = []
    with open(ev) as f:
        for i, line in enumerate(f):
            if i % 97 == 0:
                c = json.loads(line)["geometry"]["coordinates"]
                coords.append((c[0], c[1]))
    return store, coords


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    lat_r = math.radians(max(min(lat, 85.0511), -85.0511))
    y = int((1 - math.asinh(math.tan(lat_r)) / math.pi) / 2 * n)
    return min(x, n - 1), min(y, n - 1)


def paths(coords, seed=3):
    rng = random.Random(seed)
    sample = rng.sample(coords, 300)
    items = [f"/collections/events/items?limit=100&bbox={x - 0.25:.4f},{y - 0.25:.4f},{x + 0.25:.4f},{y + 0.25:.4f}" for x, y in sample]
    tiles = []
    for z in range(4, 13):
        seen = set()
        for lon, lat in rng.sample(coords, 400):
            seen.add(tile_of(lon, lat, z))
            if len(seen) >= 67:
                break
        tiles += [f"/tiles/events,sites/{z}/{x}/{y}.mvt" for x, y in sorted(seen)]
    return items, tiles


def wait_ready(port, timeout=600):
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                return time.perf_counter() - started
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f"instance on {port} never became ready")


def start(store, instances, extra=()):
    procs = []
    for port in PORTS[:instances]:
        logf = open(OUT / f"serve_{port}.log", "w")
        procs.append(subprocess.Popen([str(BIN), "--store", store, "serve", "--bind", f"127.0.0.1:{port}", "--tile-cache-mb", "0", "--rate-limit", "0", *extra],
                                      stdout=logf, stderr=subprocess.STDOUT, env={**os.environ, "GEOCONSOLE_LOG": "warn"},
                                      start_new_session=True))
    ready = max(wait_ready(port) for port in PORTS[:instances])
    return procs, ready


def rss_mib(proc):
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(procs):
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def walk(urls, seconds, connections=8):
    f = OUT / "paths.txt"
    f.write_text("\n".join(urls) + "\n")
    out = subprocess.run([str(WALK), "", str(f), "loop", str(seconds), str(connections)], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    r["rps"] = r["requests"] / r["seconds"]
    return r


def spread(paths_, instances):
    return [f"http://127.0.0.1:{PORTS[i % instances]}{p}" for i, p in enumerate(paths_)]


def exposure(port):
    url = f"http://127.0.0.1:{port}/analytics/exposure?sites=sites&hazards=events&radius_km=10&hits=nearest"
    t = time.perf_counter()
    body = json.load(urllib.request.urlopen(url, timeout=600))
    return time.perf_counter() - t, len(body["exposed"]), sum(s["hit_count"] for s in body["exposed"])


def propagation(n=5):
    """Appends one feature through the first instance and waits until the second serves it."""
    out = []
    for i in range(n):
        fid = f"propagation-{time.time_ns()}-{i}"
        body = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "id": fid,
                           "geometry": {"type": "Point", "coordinates": [10.0, 50.0]}, "properties": {"time": "2024-01-01T00:00:00Z"}}]}).encode()
        staged = json.load(urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{PORTS[0]}/imports?name=one.geojson", data=body, headers={"content-type": "application/octet-stream"})))
        req = urllib.request.Request(f"http://127.0.0.1:{PORTS[0]}/imports/{staged['id']}", method="POST",
                                     data=json.dumps({"dataset": "pings", "mode": "append"}).encode(),
                                     headers={"content-type": "application/json"})
        urllib.request.urlopen(req)
        while True:
            status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORTS[0]}/imports/{staged['id']}"))
            if status["state"] != "importing":
                break
            time.sleep(0.005)
        committed = time.perf_counter()
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{PORTS[1]}/collections/pings/items/{fid}", timeout=5).status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.002)
        out.append(time.perf_counter() - committed)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    gpkg, coords = data(args.points, args.sites)
    base = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "geoconsole_bench"], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    pg = f"{base}?schema={SCHEMA}"
    psql = ["psql", base, "-qAtc"]
    run(psql + [f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"])
    log("migrating GeoPackage → PostGIS")
    to_pg = timed([BIN, "--quiet", "--store", gpkg, "migrate", "--to", pg])
    back = OUT / "back.gpkg"
    for suffix in ["", "-wal", "-shm"]:
        Path(f"{back}{suffix}").unlink(missing_ok=True)
    log("migrating PostGIS → GeoPackage")
    to_gpkg = timed([BIN, "--quiet", "--store", pg, "migrate", "--to", back])
    items, tiles = paths(coords)
    # The last setup serves the million events from PostGIS itself (push-down): only the sites are indexed.
    push_down = ["--index-max-features", "100000"]
    setups = [("GeoPackage", gpkg, 1, ()), ("PostGIS", pg, 1, ()), ("PostGIS", pg, 2, ()), ("PostGIS, events pushed down", pg, 1, push_down)]
    results = {i: {"ready": [], "items": [], "tiles": [], "items_p99": [], "tiles_p99": [], "exposure": [], "answer": None, "propagation": [], "rss": []}
               for i in range(len(setups))}
    for r in range(args.runs):
        for i, (name, store, n, extra) in enumerate(setups):
            log(f"run {r + 1}: {name} × {n}")
            procs, ready = start(store, n, extra)
            try:
                res = results[i]
                res["ready"].append(ready)
                it = walk(spread(items, n), args.seconds)
                ti = walk(spread(tiles, n), args.seconds)
                res["items"].append(it["rps"])
                res["items_p99"].append(it["p99_us"] / 1000)
                res["tiles"].append(ti["rps"])
                res["tiles_p99"].append(ti["p99_us"] / 1000)
                res["rss"].append(rss_mib(procs[0]))
                t, sites, pairs = exposure(PORTS[0])
                res["exposure"].append(t)
                res["answer"] = (sites, pairs)
                if n == 2:
                    res["propagation"].append(propagation())
                errors = it["errors"] + ti["errors"] + it["non2xx"] + ti["non2xx"]
                if errors:
                    raise SystemExit(f"{errors} failed requests on {name} × {n}")
                log(f"  ready {ready:.1f} s, items {it['rps']:.0f}/s, tiles {ti['rps']:.0f}/s, exposure {t:.2f} s ({sites} sites, {pairs} pairs)")
            finally:
                stop(procs)
    answers = {results[i]["answer"] for i in results}
    if len(answers) != 1:
        raise SystemExit(f"the stores disagree on exposure: {answers}")
    (OUT / "results.json").write_text(json.dumps({"setups": [s[0] + f" x{s[2]}" for s in setups], "results": results}, indent=2, default=str))
    med = statistics.median
    gp = results[0]
    lines = [
        BEGIN,
        "## Stores: GeoPackage vs PostGIS, one and two instances (issue 9)",
        "",
        f"`python3 bench/stores.py --points {args.points} --sites {args.sites} --runs {args.runs} --seconds {args.seconds}` "
        f"({platform.machine()}, {os.cpu_count()} cores, PostgreSQL 15 + PostGIS 3 on the same machine; release build; medians of {args.runs} alternating runs). "
        f"{args.points:,} clustered events + {args.sites:,} sites. Items: 300 bbox pages (limit 100); tiles: 600 z4–z12 tiles of both layers, "
        "tile cache off; `walk`, 8 connections, the URL list alternating between instances when there are two.",
        "",
        "| setup | ready (index loaded) s | memory after load MiB | items req/s | items p99 ms | tiles req/s | tiles p99 ms | exposure 10 km s | commit → other instance ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, (name, _, n, _) in enumerate(setups):
        res = results[i]
        prop = f"{med(res['propagation']) * 1000:.0f}" if res["propagation"] else "—"
        lines.append(f"| {name} × {n} | {med(res['ready']):.1f} | {med(res['rss']):,.0f} | {med(res['items']):,.0f} | {med(res['items_p99']):.1f} | "
                     f"{med(res['tiles']):,.0f} | {med(res['tiles_p99']):.1f} | {med(res['exposure']):.2f} | {prop} |")
    lines += [
        "",
        f"Ratios to GeoPackage × 1: " + "; ".join(
            f"{setups[i][0]} × {setups[i][2]} items {med(results[i]['items']) / med(gp['items']):.2f}×, tiles {med(results[i]['tiles']) / med(gp['tiles']):.2f}×, "
            f"ready {med(results[i]['ready']) / med(gp['ready']):.2f}× the time" for i in (1, 2, 3)) + ".",
        "",
        f"Exposure answer, identical on every setup: {answers.pop()[0]:,} exposed sites, pairs as counted. "
        f"`geoconsole migrate`: GeoPackage → PostGIS {to_pg:.1f} s, PostGIS → GeoPackage {to_gpkg:.1f} s for {args.points + args.sites:,} features "
        "(both counted back in the target).",
        "",
        "All runs: " + "; ".join(f"{setups[i][0]} × {setups[i][2]}: items {', '.join(f'{v:,.0f}' for v in results[i]['items'])}, "
                                  f"tiles {', '.join(f'{v:,.0f}' for v in results[i]['tiles'])}, ready {', '.join(f'{v:.1f}' for v in results[i]['ready'])}"
                                  for i in range(len(setups))),
        END,
    ]
    write_block(BEGIN, END, "\n".join(lines), heading=None)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
