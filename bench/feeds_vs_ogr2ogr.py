#!/usr/bin/env python3
"""Feed polling benchmark: a geoconsole poll vs what a GDAL user would cron instead (ogr2ogr reading the
feed URL into a GeoPackage), on the same real feed bodies served from 127.0.0.1, same run.

Feeds: the USGS "all week" summary (2,389 events, 3.2 MB GeoJSON) and a GDACS RSS/GeoRSS body, both from
../shared/realdata (copied to bench/data). Python's http.server answers If-Modified-Since with 304, so the
conditional GET path is real.

Cases per feed, each side run --runs times in alternation, medians of wall time (process start included on
both sides, as a cron job pays it):
  first poll      empty store; geoconsole: fetch, parse, upsert; ogr2ogr: fetch, parse, create the layer
  unchanged body  the body is served again with a new Last-Modified; geoconsole reads it and recognises
                  every item (nothing written); ogr2ogr -overwrite rewrites the layer (it cannot tell)
  not modified    geoconsole sends If-Modified-Since and gets 304; ogr2ogr has no conditional GET and
                  reads and rewrites everything again (-overwrite)

Usage: python3 bench/feeds_vs_ogr2ogr.py [--runs 5]
Needs a release build (cargo build --release) and gdal-bin. Results go to bench/RESULTS.md between markers.
"""

import argparse
import datetime
import functools
import http.server
import os
import platform
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
REALDATA = ROOT.parent / "shared" / "realdata" / "feeds"
DATA = ROOT / "bench" / "data" / "feeds"
OUT = ROOT / "bench" / "out" / "feeds"
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- feeds-benchmark:begin -->", "<!-- feeds-benchmark:end -->"

FEEDS = [
    # (file, geoconsole format, label, items)
    ("usgs_all_week_2023-04-07.geojson", "usgs", "USGS all-week GeoJSON (2,389 events, 3.2 MB)"),
    ("gdacs_rss_2019-12-30.xml", "georss", "GDACS RSS/GeoRSS (4 events, 54 KB)"),
]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(cmd, env=None):
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def clean(path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def touch(path):
    # A Last-Modified strictly later than any before (HTTP dates have whole seconds), so the next poll reads
    # the body again.
    later = max(time.time(), path.stat().st_mtime) + 2
    os.utime(path, (later, later))


def ours(store, config, *args):
    return [str(BIN), "--quiet", "--store", str(store), "--config", str(config), *args]


def run_feed(port, name, fmt, runs):
    url = f"http://127.0.0.1:{port}/{name}"
    store, gdal_out = OUT / "ours.gpkg", OUT / "gdal.gpkg"
    config = OUT / "geoconsole.toml"
    config.write_text('[network]\nallow = ["127.0.0.1"]\n')
    cases = {c: {"geoconsole": [], "ogr2ogr": []} for c in ("first", "unchanged", "not_modified")}
    outcomes = {}
    gdal = ["ogr2ogr", "-f", "GPKG", str(gdal_out), url, "-nln", "feed"]
    for _ in range(runs):
        clean(store)
        timed(ours(store, config, "feeds", "add", "--name", "f", "--url", url, "--format", fmt, "--dataset", "feed"))
        t, out = timed(ours(store, config, "feeds", "poll-now", "f"))
        cases["first"]["geoconsole"].append(t)
        outcomes["first"] = out.strip()
        touch(DATA / name)
        t, out = timed(ours(store, config, "feeds", "poll-now", "f"))
        cases["unchanged"]["geoconsole"].append(t)
        outcomes["unchanged"] = out.strip()
        t, out = timed(ours(store, config, "feeds", "poll-now", "f"))
        cases["not_modified"]["geoconsole"].append(t)
        outcomes["not_modified"] = out.strip()

        clean(gdal_out)
        t, _ = timed(gdal)
        cases["first"]["ogr2ogr"].append(t)
        touch(DATA / name)
        t, _ = timed(gdal + ["-overwrite"])
        cases["unchanged"]["ogr2ogr"].append(t)
        t, _ = timed(gdal + ["-overwrite"])
        cases["not_modified"]["ogr2ogr"].append(t)
    counts = subprocess.run(["ogrinfo", "-ro", "-so", str(gdal_out), "feed"], capture_output=True, text=True).stdout
    gdal_count = next((l.split(":")[1].strip() for l in counts.splitlines() if "Feature Count" in l), "?")
    return cases, outcomes, gdal_count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not BIN.exists():
        raise SystemExit("build first: cargo build --release")
    DATA.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, _, _ in FEEDS:
        if not (DATA / name).exists():
            shutil.copy(REALDATA / name, DATA / name)
    server = serve(DATA)
    port = server.server_address[1]
    rows = []
    notes = []
    for name, fmt, label in FEEDS:
        cases, outcomes, gdal_count = run_feed(port, name, fmt, args.runs)
        for case, title in (("first", "first poll"), ("unchanged", "same body again"), ("not_modified", "not modified (304)")):
            o = statistics.median(cases[case]["geoconsole"])
            g = statistics.median(cases[case]["ogr2ogr"])
            rows.append(f"| {label} | {title} | **{o * 1000:.0f} ms** | {g * 1000:.0f} ms | {g / o:.1f}× |")
            print(rows[-1], flush=True)
        notes.append(f"- {label}: geoconsole said `{outcomes['first']}`, then `{outcomes['unchanged']}`, then "
                     f"`{outcomes['not_modified']}`; ogr2ogr's layer held {gdal_count} features.")
    server.shutdown()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    gdal_version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    block = "\n".join([
        BEGIN,
        f"Feed polls, one process per poll as a cron job would run it (`python3 bench/feeds_vs_ogr2ogr.py --runs {args.runs}`, "
        f"{stamp}, {platform.machine()}, {os.cpu_count()} cores, {gdal_version}; medians of {args.runs}):",
        "",
        "| feed | case | geoconsole `feeds poll-now` | ogr2ogr URL → GPKG | ogr2ogr / ours |",
        "|---|---|---|---|---|",
        *rows,
        "",
        *notes,
        END,
    ])
    write_block(BEGIN, END, block, heading="Live feeds")


if __name__ == "__main__":
    main()
