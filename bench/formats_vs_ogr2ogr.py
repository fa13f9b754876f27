#!/usr/bin/env python3
"""Format benchmark: import and export throughput per file format, geoconsole vs GDAL's ogr2ogr, on the same
1 M-feature data in the same run.

Import: each format's file (written once by ogr2ogr from the same generated points, so the peer reads its own
kind of file) goes into a GeoPackage layer with typed columns and an R-tree, as a user would load it.
Export: both sides read the same GeoPackage (our store, which GDAL opens as any GeoPackage) and write the
format. GeoParquet has no driver in Debian's GDAL 3.6, so its peer is GeoPandas (pyogrio + pyarrow) when
installed. Each side runs several times, alternating; the table reports medians of wall time and peak RSS
(wait4). Memory as the dataset grows is bench/export_memory.py's.

Usage: python3 bench/formats_vs_ogr2ogr.py [--points 1000000] [--runs 3] [--only fgb,csv]
Needs a release build (cargo build --release) and gdal-bin.
"""

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from results_file import write_block
from timing import alternate, measure

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out" / "formats"
BEGIN, END = "<!-- formats-benchmark:begin -->", "<!-- formats-benchmark:end -->"

# name: (extension, GDAL driver, extra ogr2ogr options to write it)
FORMATS = {
    "fgb": ("fgb", "FlatGeobuf", []),
    "shapefile": ("shp", "ESRI Shapefile", []),
    "gpkg": ("gpkg", "GPKG", []),
    "geojson": ("geojson", "GeoJSON", []),
    "geojsonseq": ("geojsonl", "GeoJSONSeq", []),
    "csv": ("csv", "CSV", ["-lco", "GEOMETRY=AS_XY"]),
    "kml": ("kml", "KML", []),
    "gpx": ("gpx", "GPX", ["-dialect", "OGRSQL", "-sql", "SELECT category AS name, time FROM points"]),
}
IMPORTS = ["fgb", "shapefile", "gpkg", "geojson", "csv", "kml", "gpx", "geoparquet"]
EXPORTS = ["fgb", "gpkg", "geojson", "geojsonseq", "csv", "kml", "geoparquet"]


def remove(path):
    path = Path(path)
    for p in [path] + [path.with_suffix(s) for s in (".shx", ".dbf", ".prj", ".cpg")] + \
             [Path(str(path) + s) for s in ("-wal", "-shm", "-journal")]:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


def geopandas_available():
    return subprocess.run([sys.executable, "-c", "import geopandas, pyogrio, pyarrow"], capture_output=True).returncode == 0


GPD_IMPORT = "import sys, geopandas as g; g.read_parquet(sys.argv[1]).to_file(sys.argv[2], layer='points', driver='GPKG', engine='pyogrio')"
GPD_EXPORT = ("import sys, geopandas as g; g.read_file(sys.argv[1], layer='points', engine='pyogrio', use_arrow=True)"
              ".to_parquet(sys.argv[2])")


def count(path, layer=None):
    args = ["ogrinfo", "-ro", "-so", "-al", str(path)] if layer is None else ["ogrinfo", "-ro", "-so", str(path), layer]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    return sum(int(line.split(":")[1]) for line in out.splitlines() if line.startswith("Feature Count:"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="comma-separated formats to run")
    args = parser.parse_args()
    if not BIN.exists():
        raise SystemExit("build first: cargo build --release")
    OUT.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    gpd = geopandas_available()
    n = args.points
    source = DATA / f"points_{n}.geojson"
    if not source.exists():
        subprocess.run([str(BIN), "generate", "--points", str(n), "--output", str(source), "--quiet"], check=True)
    # The store both sides export from, and the per-format inputs both sides import.
    store = OUT / "store.gpkg"
    if not store.exists():
        subprocess.run([str(BIN), "--store", str(store), "import", str(source), "--dataset", "points", "--quiet"], check=True)
    inputs = {}
    for name, (ext, driver, extra) in FORMATS.items():
        path = DATA / f"points_{n}.{ext}" if name != "geojson" else source
        if not path.exists():
            subprocess.run(["ogr2ogr", "-f", driver, str(path), str(store), "points", "-nln", "points"] + extra, check=True)
        inputs[name] = path
    parquet = DATA / f"points_{n}.parquet"
    if not parquet.exists():
        subprocess.run([str(BIN), "--store", str(store), "export", "points", "--format", "geoparquet", "--output", str(parquet), "--quiet"], check=True)
    inputs["geoparquet"] = parquet

    def expect(total, layer=None):
        def check(side, out):
            got = count(out, layer)
            if got != total:
                raise SystemExit(f"{side} wrote {got} features to {out}, expected {total}")
            if layer is not None and "Geometry: None" in subprocess.run(
                    ["ogrinfo", "-ro", "-so", str(out), layer], capture_output=True, text=True).stdout:
                raise SystemExit(f"{side} wrote {out} without geometry")
        return check

    imports = []
    for name in IMPORTS:
        if only and name not in only:
            continue
        src = inputs[name]
        total = count(src, "waypoints") if name == "gpx" else (n if name == "geoparquet" else count(src))
        ours_out, peer_out = OUT / f"import_ours_{name}.gpkg", OUT / f"import_peer_{name}.gpkg"
        ours = [str(BIN), "--store", str(ours_out), "import", str(src), "--dataset", "points", "--quiet"]
        if name == "gpx":
            ours += ["--layer", "waypoints"]
        if name == "geoparquet":
            if not gpd:
                imports.append((name, src, total, None, "GeoPandas not installed"))
                continue
            peer_name, peer = "GeoPandas", [sys.executable, "-c", GPD_IMPORT, str(src), str(peer_out)]
        else:
            peer_name = "ogr2ogr"
            peer = ["ogr2ogr", "-f", "GPKG", str(peer_out), str(src), "-nln", "points"]
            if name == "gpx":
                peer += ["waypoints"]
            if name == "csv":
                peer += ["-oo", "X_POSSIBLE_NAMES=X,longitude", "-oo", "Y_POSSIBLE_NAMES=Y,latitude",
                         "-oo", "AUTODETECT_TYPE=YES", "-a_srs", "EPSG:4326"]
        result = alternate([("geoconsole", ours, ours_out), (peer_name, peer, peer_out)], args.runs, remove, expect(total, "points"))
        imports.append((name, src, total, result, peer_name))
        print("import", name, {k: round(v[0], 2) for k, v in result.items()}, file=sys.stderr, flush=True)

    exports = []
    for name in EXPORTS:
        if only and name not in only:
            continue
        ext = FORMATS[name][0] if name in FORMATS else "parquet"
        ours_out, peer_out = OUT / f"export_ours.{ext}", OUT / f"export_peer.{ext}"
        ours = [str(BIN), "--store", str(store), "export", "points", "--format", name, "--output", str(ours_out), "--quiet"]
        if name == "geoparquet":
            if not gpd:
                exports.append((name, None, "GeoPandas not installed"))
                continue
            peer_name, peer = "GeoPandas", [sys.executable, "-c", GPD_EXPORT, str(store), str(peer_out)]
            check = lambda side, out: None  # noqa: E731 (GDAL 3.6 cannot count Parquet; both sides' writers report)
        else:
            peer_name = "ogr2ogr"
            driver, extra = FORMATS[name][1], FORMATS[name][2]
            peer = ["ogr2ogr", "-f", driver, str(peer_out), str(store), "points", "-nln", "points"] + \
                   [e for e in extra if e != "-sql"]
            check = expect(n)
        result = alternate([("geoconsole", ours, ours_out), (peer_name, peer, peer_out)], args.runs, remove, check)
        exports.append((name, result, peer_name))
        print("export", name, {k: round(v[0], 2) for k, v in result.items()}, file=sys.stderr, flush=True)

    gdal_version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    ours_version = subprocess.run([str(BIN), "--version"], capture_output=True, text=True).stdout.strip()
    cmd = f"python3 bench/formats_vs_ogr2ogr.py --points {n} --runs {args.runs}"
    lines = [BEGIN, "## Formats: import and export per format, geoconsole vs ogr2ogr (GeoParquet: GeoPandas)", ""]
    lines.append(f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores; {ours_version}; {gdal_version}.")
    lines.append(f"Command: `{cmd}`")
    lines.append(f"({n:,} synthetic clustered points from `geoconsole generate`, 5 properties; each side run {args.runs}× "
                 "alternating, medians; peak RSS from wait4. Import = file → GeoPackage layer with typed columns and "
                 "R-tree. Export = the same GeoPackage → file.)")
    lines.append("")
    lines.append("### Import")
    lines.append("")
    lines.append("| format | input | features | geoconsole s | peer s | peer | speed-up | geoconsole features/s | peer features/s | RSS MiB ours / peer |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for name, src, total, r, peer in imports:
        size = src.stat().st_size / 1e6 if src.suffix != ".shp" else sum(
            src.with_suffix(s).stat().st_size for s in (".shp", ".shx", ".dbf")) / 1e6
        if r is None:
            lines.append(f"| {name} | {size:,.0f} MB | {total:,} | – | – | {peer} | – | – | – | – |")
            continue
        ot, om, _ = r["geoconsole"]
        pt, pm, _ = r[peer]
        lines.append(f"| {name} | {size:,.0f} MB | {total:,} | {ot:.2f} | {pt:.2f} | {peer} | {pt / ot:.2f}× | "
                     f"{total / ot:,.0f} | {total / pt:,.0f} | {om:.0f} / {pm:.0f} |")
    lines.append("")
    lines.append("### Export")
    lines.append("")
    lines.append("| format | features | geoconsole s | peer s | peer | speed-up | geoconsole features/s | peer features/s | RSS MiB ours / peer |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for name, r, peer in exports:
        if r is None:
            lines.append(f"| {name} | {n:,} | – | – | {peer} | – | – | – | – |")
            continue
        ot, om, _ = r["geoconsole"]
        pt, pm, _ = r[peer]
        lines.append(f"| {name} | {n:,} | {ot:.2f} | {pt:.2f} | {peer} | {pt / ot:.2f}× | {n / ot:,.0f} | {n / pt:,.0f} | {om:.0f} / {pm:.0f} |")
    lines.append("")
    lines.append("All runs (s): " + "; ".join(
        [f"import {f} {side} {', '.join(f'{t:.2f}' for t in r[side][2])}" for f, _, _, r, _ in imports if r for side in r] +
        [f"export {f} {side} {', '.join(f'{t:.2f}' for t in r[side][2])}" for f, r, _ in exports if r for side in r]))
    lines.append(END)
    block = "\n".join(lines)
    write_block(BEGIN, END, block)
    print(block)


if __name__ == "__main__":
    main()
