#!/usr/bin/env python3
"""Exposure benchmark (issue 5): which of 10 k sites lie within R km of any of 1 M events, how many pairs,
and each site's nearest event: geoconsole's /analytics/exposure vs PostGIS on the same data in the same run.

Data: `geoconsole generate` (events clustered around real cities, seed 42) for 1 M events and, with another
seed, 10 k sites; imported into a GeoPackage and copied with ogr2ogr into a private PostgreSQL/PostGIS
cluster of its own (port 55433, so it can run beside serve_vs_peers.py) with GiST indexes on geography.

- geoconsole: the server (release build) with its in-memory index warm; GET
  /analytics/exposure?radius_km=R&hits=nearest (exposed sites with their hit counts and nearest event).
- PostGIS: the same answer in SQL: ST_DWithin on geography (sphere, as geoconsole measures), grouped per
  site with count(*) and the nearest distance.

- GeoPandas `sjoin` and SedonaDB (bench/exposure_peers.py), when a Python with both is at
  bench/out/venv (`python3 -m venv bench/out/venv && bench/out/venv/bin/pip install sedonadb geopandas
  geoarrow-pyarrow`): planar engines, so a planar join within a degree distance wide enough for the highest
  site, then the exact haversine filter; data loaded before timing.

geoconsole and PostGIS runs alternate; the Python peers run after them in the same run. Medians are reported
with the answers' sizes (they must agree).
Usage: python3 bench/exposure_vs_postgis.py [--runs 5] [--events 1000000] [--sites 10000]
Needs: a release build (cargo build --release -p geoconsole), gdal-bin, postgresql-15-postgis-3 (Debian).
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "geoconsole"
OUT = ROOT / "bench" / "out" / "exposure"
PGDATA = ROOT / "bench" / "out" / "exposure" / "pgdata"
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- exposure-benchmark:begin -->", "<!-- exposure-benchmark:end -->"
PG_PORT, OURS_PORT = 55433, 18191
PSQL = ["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]


def log(msg):
    print(f"[exposure] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def data(events, sites):
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / f"exposure_{sites}_{events}.gpkg"
    if store.exists():
        return store
    log(f"generating {events:,} events and {sites:,} sites")
    ev, st = OUT / f"events_{events}.geojsonl", OUT / f"sites_{sites}.geojsonl"
    run([str(BIN), "--quiet", "generate", "--points", str(events), "--seed", "42", "-o", str(ev)])
    run([str(BIN), "--quiet", "generate", "--points", str(sites), "--seed", "7", "-o", str(st)])
    run([str(BIN), "--quiet", "--store", str(store), "import", str(ev), "--dataset", "events", "--kind", "events"])
    run([str(BIN), "--quiet", "--store", str(store), "import", str(st), "--dataset", "sites", "--kind", "sites"])
    return store


def postgis(store):
    bindir = Path("/usr/lib/postgresql/15/bin")
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if not PGDATA.exists():
        PGDATA.mkdir(parents=True)
        if user:
            shutil.chown(PGDATA, "postgres", "postgres")
        run(user + [str(bindir / "initdb"), "-D", str(PGDATA), "-U", "postgres", "--auth=trust"], stdout=subprocess.DEVNULL)
    run(user + [str(bindir / "pg_ctl"), "-D", str(PGDATA), "-o", f"-p {PG_PORT} -k /tmp -c shared_buffers=1GB -c jit=off",
                "-l", str(PGDATA / "log.txt"), "-w", "start"], stdout=subprocess.DEVNULL)
    db = store.stem
    exists = subprocess.run(PSQL + ["-tAc", f"SELECT 1 FROM pg_database WHERE datname='{db}'"], capture_output=True, text=True).stdout.strip()
    if exists != "1":
        log("loading the same data into PostGIS")
        run(PSQL + ["-c", f"CREATE DATABASE {db}"])
        run(PSQL + ["-d", db, "-c", "CREATE EXTENSION postgis"])
        for layer in ["events", "sites"]:
            run(["ogr2ogr", "-f", "PostgreSQL", f"PG:host=127.0.0.1 port={PG_PORT} user=postgres dbname={db}", str(store), layer,
                 "-nln", layer, "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "SPATIAL_INDEX=NONE", "--config", "PG_USE_COPY", "YES"])
            # As an expert keeps it: the geography stored (not cast per row), its GiST index, rows CLUSTERed in index
            # order so one site's neighbours share pages, statistics fresh.
            for statement in [f"ALTER TABLE {layer} ADD COLUMN geog geography(Point, 4326)", f"UPDATE {layer} SET geog = geom::geography",
                              f"CREATE INDEX {layer}_geog ON {layer} USING gist (geog)", f"CLUSTER {layer} USING {layer}_geog",
                              f"VACUUM ANALYZE {layer}"] + (
                    # The sites table is small (about 1 MB), below the size PostgreSQL plans parallel scans for by
                    # itself; told to, it splits the sites over both cores, each probing the events' index.
                    ["ALTER TABLE sites SET (parallel_workers = 2)"] if layer == "sites" else []):
                run(PSQL + ["-d", db, "-c", statement])
    stop = lambda: subprocess.run(user + [str(bindir / "pg_ctl"), "-D", str(PGDATA), "-m", "fast", "stop"], stdout=subprocess.DEVNULL)
    return db, stop


def postgis_query(db, metres):
    sql = f"""\\timing on
SELECT count(*), sum(n) FROM (
  SELECT s.fid, count(*) AS n, min(ST_Distance(s.geog, e.geog, false)) AS nearest
  FROM sites s JOIN events e ON ST_DWithin(s.geog, e.geog, {metres}, false)
  GROUP BY s.fid) x;"""
    out = subprocess.run(PSQL + ["-d", db, "-tA"], input=sql, capture_output=True, text=True, check=True).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    sites, pairs = lines[0].split("|")
    ms = float(lines[-1].split("Time: ")[1].split(" ms")[0])
    return ms / 1000, int(sites), int(pairs or 0)


def postgis_exists_query(db, metres):
    """The cheaper question, exposed sites only (no counts), as PostGIS answers it best: EXISTS per site."""
    sql = f"""\\timing on
SELECT count(*) FROM sites s WHERE EXISTS (SELECT 1 FROM events e WHERE ST_DWithin(s.geog, e.geog, {metres}, false));"""
    out = subprocess.run(PSQL + ["-d", db, "-tA"], input=sql, capture_output=True, text=True, check=True).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    ms = float(lines[-1].split("Time: ")[1].split(" ms")[0])
    return ms / 1000, int(lines[0]), 0


def serve(store):
    log_file = open(OUT / "geoconsole.log", "w")
    proc = subprocess.Popen([str(BIN), "--store", str(store), "serve", "--bind", f"127.0.0.1:{OURS_PORT}"], stdout=log_file, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{OURS_PORT}/readyz", timeout=2).status == 200:
                return proc
        except Exception:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("geoconsole did not become ready")


def ours_query(km, hits="nearest"):
    url = f"http://127.0.0.1:{OURS_PORT}/analytics/exposure?sites=sites&hazards=events&radius_km={km}&hits={hits}"
    t = time.perf_counter()
    body = json.load(urllib.request.urlopen(url, timeout=600))
    elapsed = time.perf_counter() - t
    return elapsed, len(body["exposed"]), sum(s.get("hit_count", 0) for s in body["exposed"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--peers", nargs="+", default=["geopandas", "sedonadb"], help="Python peers to run (see exposure_peers.py)")
    args = ap.parse_args()
    store = data(args.events, args.sites)
    db, stop_pg = postgis(store)
    server = serve(store)
    rows = []
    try:
        for km in [10, 50]:
            ours, theirs, ours_any, theirs_exists = [], [], [], []
            for _ in range(args.runs):
                ours.append(ours_query(km))
                theirs.append(postgis_query(db, km * 1000))
                ours_any.append(ours_query(km, "any"))
                theirs_exists.append(postgis_exists_query(db, km * 1000))
            o = statistics.median(t for t, _, _ in ours)
            p = statistics.median(t for t, _, _ in theirs)
            rows.append({"km": km, "ours_s": o, "postgis_s": p, "ours_runs": [t for t, _, _ in ours], "postgis_runs": [t for t, _, _ in theirs],
                         "ours_sites": ours[0][1], "ours_pairs": ours[0][2], "postgis_sites": theirs[0][1], "postgis_pairs": theirs[0][2],
                         "ours_any_s": statistics.median(t for t, _, _ in ours_any), "ours_any_runs": [t for t, _, _ in ours_any],
                         "ours_any_sites": ours_any[0][1],
                         "postgis_exists_s": statistics.median(t for t, _, _ in theirs_exists),
                         "postgis_exists_runs": [t for t, _, _ in theirs_exists], "postgis_exists_sites": theirs_exists[0][1]})
            log(f"{km} km: ours {o:.3f} s ({ours[0][1]} sites, {ours[0][2]} pairs), PostGIS {p:.3f} s ({theirs[0][1]} sites, {theirs[0][2]} pairs)")
    finally:
        server.terminate()
        server.wait()
        stop_pg()
    venv = ROOT / "bench" / "out" / "venv" / "bin" / "python"
    peers = {}
    if venv.exists():
        log("GeoPandas and SedonaDB on the same data")
        out = subprocess.run([str(venv), str(ROOT / "bench" / "exposure_peers.py"), str(store), "--km", *[str(r["km"]) for r in rows],
                              "--runs", str(args.runs), "--peers", *args.peers], stdout=subprocess.PIPE, text=True, check=True).stdout
        peers = json.loads(out)
    for r in rows:
        for name in ["geopandas", "sedonadb"]:
            got = peers.get(name, {}).get(str(r["km"]))
            if got:
                r[f"{name}_s"] = statistics.median(got["runs"])
                r[f"{name}_sites"], r[f"{name}_pairs"] = got["sites"], got["pairs"]
    (OUT / "results.json").write_text(json.dumps(rows, indent=2))
    pg_version = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    table = [
        BEGIN,
        "## Site exposure (issue 5)",
        "",
        f"`python3 bench/exposure_vs_postgis.py --runs {args.runs} --events {args.events} --sites {args.sites}"
        f"{' --peers ' + ' '.join(args.peers) if args.peers != ['geopandas', 'sedonadb'] else ''}` "
        f"({platform.machine()}, {os.cpu_count()} cores; {pg_version}, PostGIS 3; medians of {args.runs} alternating runs). "
        f"{args.sites:,} sites × {args.events:,} clustered events; the answer: every exposed site with its number of events within R and its nearest one.",
        "",
        "| radius | geoconsole `/analytics/exposure` (HTTP, index warm) | PostGIS (stored geography, GiST, CLUSTERed; sites drive, split over 2 workers) | SedonaDB (faster of its box and geography joins) | GeoPandas `sjoin` dwithin + haversine | fastest peer / ours | exposed sites (ours / PostGIS / SedonaDB / GeoPandas) | pairs (ours / PostGIS / SedonaDB / GeoPandas) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        peer_times = [r[k] for k in ["postgis_s", "sedonadb_s", "geopandas_s"] if k in r]
        ratio = min(peer_times) / r["ours_s"] if r["ours_s"] else float("nan")
        # A peer missing from the table was either left out of this run (--peers) or is not in the venv.
        absent = lambda k: "not run" if k.split("_")[0] not in args.peers else "not installed"
        opt = lambda k, fmt: (fmt.format(r[k]) if k in r else absent(k))
        table.append(f"| {r['km']} km | {r['ours_s']:.3f} s | {r['postgis_s']:.3f} s | {opt('sedonadb_s', '{:.3f} s')} | {opt('geopandas_s', '{:.3f} s')} | {ratio:.1f}× | "
                     f"{r['ours_sites']:,} / {r['postgis_sites']:,} / {opt('sedonadb_sites', '{:,}')} / {opt('geopandas_sites', '{:,}')} | "
                     f"{r['ours_pairs']:,} / {r['postgis_pairs']:,} / {opt('sedonadb_pairs', '{:,}')} / {opt('geopandas_pairs', '{:,}')} |")
    table += ["", "The cheaper question, which sites are exposed (no counts): geoconsole `hits=any` against PostGIS `EXISTS` per site.", "",
              "| radius | geoconsole `hits=any` | PostGIS `EXISTS` | PostGIS / ours | exposed sites (ours / PostGIS) |", "|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['km']} km | {r['ours_any_s']:.3f} s | {r['postgis_exists_s']:.3f} s | {r['postgis_exists_s'] / r['ours_any_s']:.1f}× | "
                     f"{r['ours_any_sites']:,} / {r['postgis_exists_sites']:,} |")
    table.append("")
    table.append("All runs (s): " + "; ".join(
        f"{r['km']} km ours {', '.join(f'{t:.3f}' for t in r['ours_runs'])} / PostGIS {', '.join(f'{t:.3f}' for t in r['postgis_runs'])} / "
        f"ours any {', '.join(f'{t:.3f}' for t in r['ours_any_runs'])} / PostGIS EXISTS {', '.join(f'{t:.3f}' for t in r['postgis_exists_runs'])}"
        for r in rows))
    if peers:
        v = peers.get("versions", {})
        table.append("")
        how = {str(r["km"]): peers.get("sedonadb", {}).get(str(r["km"]), {}).get("how") for r in rows}
        table.append(f"Peers: SedonaDB {v.get('sedonadb')} (faster set-up per radius: {', '.join(f'{k} km {h}' for k, h in how.items())}), "
                     f"GeoPandas {v.get('geopandas')} (shapely 2, GEOS STRtree). How each was set up is in the prose below; the answer columns show what each found (SedonaDB's geography join uses a slightly different sphere radius and can differ by a few pairs at the edge).")
    table.append(END)
    write_block(BEGIN, END, "\n".join(table))


if __name__ == "__main__":
    main()
