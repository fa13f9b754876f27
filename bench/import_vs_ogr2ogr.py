#!/usr/bin/env python3
"""Import benchmark: geoconsole vs GDAL's ogr2ogr, GeoJSON and CSV into a GeoPackage, same files, same run.

Both sides produce what a user would get: a GeoPackage layer with typed attribute columns and an R-tree
spatial index. Each side runs several times in alternation; the table reports medians of wall time and peak
RSS (the process's own maximum resident set, from wait4). Results go to bench/RESULTS.md between markers.

Usage: python3 bench/import_vs_ogr2ogr.py [--points 1000000] [--runs 5] [--rss-points 1000000,3000000]
Needs a release build (cargo build --release) and gdal-bin.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from results_file import write_block
from timing import alternate

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- import-benchmark:begin -->", "<!-- import-benchmark:end -->"


# ogr2ogr as GDAL's own performance advice sets it up for a bulk load into SQLite/GeoPackage: one transaction
# for the whole layer (-gt unlimited; the default commits every 100,000 features), no fsync per commit
# (OGR_SQLITE_SYNCHRONOUS=OFF) and a 512 MB page cache (OGR_SQLITE_CACHE, in MB). geoconsole's import is one
# transaction too; it keeps SQLite's default synchronous setting.
GDAL_EXPERT = ["-gt", "unlimited", "--config", "OGR_SQLITE_SYNCHRONOUS", "OFF", "--config", "OGR_SQLITE_CACHE", "512"]


def count_features(gpkg, layer):
    out = subprocess.run(["ogrinfo", "-ro", "-so", str(gpkg), layer], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Feature Count: (\d+)", out).group(1))


def generate(points, suffix):
    path = DATA / f"points_{points}.{suffix}"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(BIN), "generate", "--points", str(points), "--output", str(path), "--quiet"], check=True)
    return path


def sides(source, fmt):
    ours_out, gdal_out = OUT / f"ours_{fmt}.gpkg", OUT / f"gdal_{fmt}.gpkg"
    ours = [str(BIN), "--store", str(ours_out), "import", str(source), "--dataset", "points", "--quiet"]
    gdal = ["ogr2ogr", "-f", "GPKG", str(gdal_out), str(source), "-nln", "points"] + GDAL_EXPERT
    if fmt == "csv":
        # KEEP_GEOM_COLUMNS=NO: the longitude and latitude become the geometry only, as on geoconsole's side
        # (GDAL otherwise also writes them as two attribute columns: more work, and not the same output).
        gdal += ["-oo", "X_POSSIBLE_NAMES=longitude", "-oo", "Y_POSSIBLE_NAMES=latitude", "-oo", "AUTODETECT_TYPE=YES",
                 "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs", "EPSG:4326"]
    return (ours, ours_out), (gdal, gdal_out)


def clean(path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def run_pair(source, fmt, runs, points):
    (ours, ours_out), (gdal, gdal_out) = sides(source, fmt)

    def check(name, out):
        got = count_features(out, "points")
        if got != points:
            raise SystemExit(f"{name} imported {got} features, expected {points}")

    return alternate([("geoconsole", ours, ours_out), ("ogr2ogr", gdal, gdal_out)], runs, clean, check)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rss-points", default="3000000",
                        help="larger files (comma-separated sizes) to show memory stays flat, one run each")
    args = parser.parse_args()
    if not BIN.exists():
        raise SystemExit("build first: cargo build --release")
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("install gdal-bin first")
    OUT.mkdir(parents=True, exist_ok=True)
    gdal_version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    ours_version = subprocess.run([str(BIN), "--version"], capture_output=True, text=True).stdout.strip()
    rows = []
    for fmt, suffix in (("geojson", "geojson"), ("csv", "csv")):
        source = generate(args.points, suffix)
        size_mb = source.stat().st_size / 1e6
        result = run_pair(source, fmt, args.runs, args.points)
        rows.append((fmt, size_mb, args.points, result))
        print(fmt, {k: (round(v[0], 2), round(v[1], 1)) for k, v in result.items()}, file=sys.stderr)
    memory_rows = []
    for points in (int(p) for p in args.rss_points.split(",")):
        big = generate(points, "geojson")
        memory_rows.append(("geojson (memory check)", big.stat().st_size / 1e6, points, run_pair(big, "geojson", 1, points)))
        print("memory check", points, {k: (round(v[0], 2), round(v[1], 1)) for k, v in memory_rows[-1][3].items()},
              file=sys.stderr)

    lines = [BEGIN, "## Import: file → GeoPackage (typed columns + R-tree), geoconsole vs ogr2ogr", ""]
    lines.append(f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores; {ours_version}; {gdal_version}.")
    lines.append(f"Command: `python3 bench/import_vs_ogr2ogr.py --points {args.points} --runs {args.runs} --rss-points {args.rss_points}`")
    lines.append("(synthetic clustered points from `geoconsole generate`, 5 properties + time; each side run "
                 f"{args.runs}× alternating, medians; peak RSS from wait4).")
    lines.append("ogr2ogr set up as for a bulk load: `" + " ".join(GDAL_EXPERT) + "` (one transaction, no fsync, "
                 "512 MB cache); CSV with `X_POSSIBLE_NAMES`/`Y_POSSIBLE_NAMES`, `AUTODETECT_TYPE=YES`, `KEEP_GEOM_COLUMNS=NO` "
                 "(the coordinates as the geometry only, the same columns as geoconsole's output) and the CRS.")
    lines.append("")
    lines.append("| input | file | features | geoconsole s | ogr2ogr s | speed-up | geoconsole features/s | ogr2ogr features/s | geoconsole peak RSS MiB | ogr2ogr peak RSS MiB |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for fmt, size_mb, points, r in rows + memory_rows:
        ours_t, ours_m, _ = r["geoconsole"]
        gdal_t, gdal_m, _ = r["ogr2ogr"]
        lines.append(f"| {fmt} | {size_mb:,.0f} MB | {points:,} | {ours_t:.2f} | {gdal_t:.2f} | {gdal_t / ours_t:.2f}× | "
                     f"{points / ours_t:,.0f} | {points / gdal_t:,.0f} | {ours_m:.0f} | {gdal_m:.0f} |")
    lines.append("")
    lines.append("All runs (s): " + "; ".join(
        f"{fmt} {side} {', '.join(f'{t:.2f}' for t in r[side][2])}" for fmt, _, _, r in rows for side in ("geoconsole", "ogr2ogr")))
    lines.append(END)
    block = "\n".join(lines)
    write_block(BEGIN, END, block)
    print(block)


if __name__ == "__main__":
    main()
