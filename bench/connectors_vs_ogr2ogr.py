#!/usr/bin/env python3
"""Connector benchmark: a whole service layer into a GeoPackage, `geoconsole sources sync` vs ogr2ogr (GDAL's
ESRIJSON, OAPIF and WFS drivers) on the same layer served from 127.0.0.1, same run.

The layer comes from the test kit's scripted ArcGIS REST origin (`target/release/origins`, the one the
connector tests use): N point rows with 7 attributes (a coded-value domain, dates in epoch ms), served as
Esri JSON to both sides (the layer does not offer geoJSON here, so both parse the same bytes), at most
--page rows a request. Each side starts from an empty store and is run --runs times in alternation; the
wall time includes the process start, as a cron job pays it. Counts are checked equal (ogrinfo) after
every run.

ogr2ogr is set up as for a bulk load: `-oo FEATURE_SERVER_PAGING=YES` with `orderByFields` and
`resultRecordCount` in the URL (the driver then pages by resultOffset), `-gt unlimited`,
`--config OGR_SQLITE_SYNCHRONOUS OFF`, `--config OGR_SQLITE_CACHE 512`. geoconsole writes with fsync on.

The same N sites are served as an OGC API – Features collection (GeoJSON pages linked by `rel=next`, at most
--page a page) and as a WFS 2.0 feature type (GML 3.2 only, so both sides parse the same GML; result paging by
STARTINDEX/COUNT, at most --page a page); ogr2ogr reads them with `-oo PAGE_SIZE=<page>` (and
`PAGING_ALLOWED=ON` for WFS), as a bulk load would.

A Socrata dataset of the same size is synced by geoconsole too; GDAL has no driver that pages SODA, so it
has no peer row.

Usage: python3 bench/connectors_vs_ogr2ogr.py [--rows 100000] [--page 2000] [--runs 3]
Needs: cargo build --release -p geoconsole -p geoconsole-bench, and gdal-bin.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
ORIGINS = ROOT / "target" / "release" / "origins"
OUT = ROOT / "bench" / "out" / "connectors"
BEGIN = "<!-- connectors-benchmark:begin -->"
END = "<!-- connectors-benchmark:end -->"


def timed(cmd, cwd=None, env=None):
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def feature_count(gpkg, layer):
    out = subprocess.run(["ogrinfo", "-so", "-ro", str(gpkg), layer], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Feature Count:"):
            return int(line.split(":")[1])
    raise SystemExit(f"ogrinfo could not read {layer} in {gpkg}:\n{out}")


def fresh(name):
    path = OUT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / "geoconsole.toml").write_text('[network]\nallow = ["127.0.0.1"]\n')
    return path


def env():
    e = dict(os.environ)
    for k in ["GEOCONSOLE_STORE", "GEOCONSOLE_CONFIG", "GEOCONSOLE_LOG"]:
        e.pop(k, None)
    return e


def ours(kind, url, rows, page):
    work = fresh(f"ours-{kind}")
    args = [str(BIN), "--quiet", "--store", "s.gpkg", "sources", "add", "--kind", kind, "--url", url,
            "--dataset", "layer"]
    if kind in ("socrata", "oapif", "wfs"):
        args += ["--page-size", str(page)]
    if kind == "wfs":
        args += ["--layer", "ms:sites"]
    timed(args, cwd=work, env=env())
    elapsed, _ = timed([str(BIN), "--quiet", "--store", "s.gpkg", "sources", "sync", "layer"], cwd=work, env=env())
    count = feature_count(work / "s.gpkg", "layer")
    if count != rows:
        raise SystemExit(f"geoconsole stored {count} of {rows} {kind} rows")
    return elapsed


def gdal(kind, url, rows, page):
    work = fresh(f"ogr2ogr-{kind}")
    if kind == "arcgis":
        query = (f"{url}/query?where=1%3D1&outFields=*&orderByFields=OBJECTID%20ASC"
                 f"&resultRecordCount={page}&outSR=4326&f=json")
        source = [f"ESRIJSON:{query}", "-oo", "FEATURE_SERVER_PAGING=YES"]
    elif kind == "oapif":
        source = [f"OAPIF:{url}", "-oo", f"PAGE_SIZE={page}"]
    else:
        source = [f"WFS:{url}", "ms:sites", "-oo", "PAGING_ALLOWED=ON", "-oo", f"PAGE_SIZE={page}"]
    elapsed, _ = timed(["ogr2ogr", "-f", "GPKG", str(work / "o.gpkg"), *source,
                        "-nln", "layer", "-gt", "unlimited",
                        "--config", "OGR_SQLITE_SYNCHRONOUS", "OFF", "--config", "OGR_SQLITE_CACHE", "512"],
                       cwd=work)
    count = feature_count(work / "o.gpkg", "layer")
    if count != rows:
        raise SystemExit(f"ogr2ogr stored {count} of {rows} rows")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in [BIN, ORIGINS]:
        if not tool.exists():
            raise SystemExit(f"{tool} is missing: cargo build --release -p geoconsole -p geoconsole-bench")
    origins = subprocess.Popen([str(ORIGINS), str(args.rows), str(args.page)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        urls = json.loads(origins.stdout.readline())
        times = {k: [] for k in ["arcgis", "ogr2ogr", "oapif", "ogr2ogr-oapif", "wfs", "ogr2ogr-wfs", "socrata"]}
        for run in range(args.runs):
            times["arcgis"].append(ours("arcgis", urls["arcgis"], args.rows, args.page))
            times["ogr2ogr"].append(gdal("arcgis", urls["arcgis"], args.rows, args.page))
            for kind in ["oapif", "wfs"]:
                times[kind].append(ours(kind, urls[kind], args.rows, args.page))
                times[f"ogr2ogr-{kind}"].append(gdal(kind, urls[kind], args.rows, args.page))
            times["socrata"].append(ours("socrata", urls["socrata"], args.rows, args.page))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    finally:
        origins.stdin.close()
        origins.wait(timeout=10)

    med = {k: statistics.median(v) for k, v in times.items()}
    gdal_version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    rate = lambda s: f"{args.rows / s:,.0f}"
    block = "\n".join([
        BEGIN,
        "## Connectors: a whole service layer into a GeoPackage, geoconsole vs ogr2ogr",
        "",
        f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores; {gdal_version}.",
        f"Command: `python3 bench/connectors_vs_ogr2ogr.py --rows {args.rows} --page {args.page} --runs {args.runs}`",
        f"(the test kit's scripted ArcGIS REST, OGC API – Features, WFS 2.0 and Socrata origins on 127.0.0.1, {args.rows:,} point rows, "
        f"{args.page} a page, Esri JSON, GeoJSON (OGC API) and GML 3.2 (WFS) to both sides; each side {args.runs}× alternating, medians, process start included; "
        "counts checked with ogrinfo after every run).",
        "ogr2ogr set up as for a bulk load: ESRIJSON driver with `FEATURE_SERVER_PAGING=YES`, `orderByFields` and "
        "`resultRecordCount` in the URL; OAPIF driver with `PAGE_SIZE`; WFS driver with `PAGING_ALLOWED=ON` and `PAGE_SIZE`; "
        "all with `-gt unlimited`, `OGR_SQLITE_SYNCHRONOUS OFF`, `OGR_SQLITE_CACHE 512`. "
        "geoconsole: `sources sync` (full sync, one transaction, fsync on, data-protection guard and fingerprints).",
        "",
        "| protocol | rows | geoconsole s | ogr2ogr s | speed-up | geoconsole features/s | ogr2ogr features/s |",
        "|---|---|---|---|---|---|---|",
        f"| ArcGIS FeatureServer (Esri JSON) | {args.rows:,} | {med['arcgis']:.2f} | {med['ogr2ogr']:.2f} | "
        f"{med['ogr2ogr'] / med['arcgis']:.2f}× | {rate(med['arcgis'])} | {rate(med['ogr2ogr'])} |",
        *[f"| {label} | {args.rows:,} | {med[k]:.2f} | {med['ogr2ogr-' + k]:.2f} | {med['ogr2ogr-' + k] / med[k]:.2f}× | "
          f"{rate(med[k])} | {rate(med['ogr2ogr-' + k])} |"
          for k, label in [("oapif", "OGC API – Features (GeoJSON, next links)"), ("wfs", "WFS 2.0 (GML 3.2, STARTINDEX)")]],
        f"| Socrata SODA | {args.rows:,} | {med['socrata']:.2f} | no GDAL driver pages SODA | - | {rate(med['socrata'])} | - |",
        "",
        "All runs (s): " + "; ".join(f"{k} " + ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()),
        END,
    ])
    write_block(BEGIN, END, block, heading="Connectors")
    print(block)


if __name__ == "__main__":
    main()
