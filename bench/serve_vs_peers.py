#!/usr/bin/env python3
"""Serving benchmark: geoconsole vs Martin (tiles, over PostGIS) and pygeoapi (items, over PostGIS).

Same data on every side: 1 M clustered points (`geoconsole generate`) and 50 k polygons, imported into a
geoconsole GeoPackage and copied from it with ogr2ogr into a private PostgreSQL/PostGIS cluster (GiST
indexes, ANALYZE). Load comes from loopback: wrk with a Lua script walking a fixed list of URLs for timed runs, and
bench's own `walk` client (src/bin/walk.rs) for "each URL exactly once":

- cold tiles: every tile of a fixed z2–z14 list once; geoconsole with its tile cache off
  (`--tile-cache-mb 0`), Martin with `-C 0`;
- warm tiles: the same list repeated for a fixed time, both caches on;
- dense tiles: the densest z6 tiles, cold, one at a time (latency of the worst tiles);
- items: bbox and property queries, geoconsole vs pygeoapi (gunicorn, (2 x cores) + 1 workers, `max_items`
  raised to 1 000 so a page holds what it asks for), with `walk` so that slow requests count too;
- items like for like (`--items-like-for-like`, its own block): bbox pages of 100 and of 1 000 features, both
  sides checked to return the same number of features, and the same features where a box holds fewer than
  the limit;
- like for like (`--like-for-like`, its own block in RESULTS.md, first): only the points layer, only z10–z14
  tiles (no tile there holds more than the 4 000 points above which geoconsole clusters, and the run checks
  it by decoding every tile of both sides: same feature count per tile, no cluster), both caches off, once
  through the list with `walk` and then for a fixed time under wrk. Martin gets the expert set-up: its own
  copy of the table with the geometry stored in EPSG:3857 (no ST_Transform per tile), a GiST index, the
  table CLUSTERed on it, ANALYZE, and a pool and workers sized for this machine.

Each side runs several times in alternation; medians are reported. Results go to bench/RESULTS.md between
markers.

Usage: python3 bench/serve_vs_peers.py [--runs 3] [--warm-seconds 10] [--items-seconds 10]
       python3 bench/serve_vs_peers.py --like-for-like [--runs 5] [--wrk-seconds 10]
       python3 bench/serve_vs_peers.py --items-like-for-like [--runs 3] [--items-seconds 10]
Needs: a release build (`cargo build --release -p geoconsole -p geoconsole-bench`), gdal-bin, wrk, postgresql-15-postgis-3 (Debian), martin 1.14
(`cargo install martin --locked --version 1.14.0 --no-default-features --features postgres,...`),
and pygeoapi with psycopg2-binary, SQLAlchemy, GeoAlchemy2 from PyPI; `--like-for-like` needs
mapbox-vector-tile from PyPI (to decode both sides' tiles) instead of pygeoapi. `MARTIN=/path/to/martin`
picks the binary (default: `martin` on PATH), `GEOCONSOLE_BIN=/path/to/geoconsole` ours (default: the release
build in the cargo target folder).
"""

import argparse
import datetime
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
# Binaries from the cargo target folder (CARGO_TARGET_DIR when set, as cargo itself does).
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = Path(os.environ.get("GEOCONSOLE_BIN", TARGET / "release" / "geoconsole"))
DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out" / "serve"
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- serve-benchmark:begin -->", "<!-- serve-benchmark:end -->"
PG_PORT, OURS_PORT, MARTIN_PORT, PYGEOAPI_PORT = 55432, 18181, 18182, 18183
PG_URL = f"postgresql://postgres@127.0.0.1:{PG_PORT}/bench"
MARTIN = os.environ.get("MARTIN", "martin")
LFL_BEGIN, LFL_END = "<!-- serve-like-for-like:begin -->", "<!-- serve-like-for-like:end -->"
ITEMS_BEGIN, ITEMS_END = "<!-- items-like-for-like:begin -->", "<!-- items-like-for-like:end -->"
# gunicorn's own advice for sync workers: (2 x cores) + 1; they wait on PostgreSQL, so more than the cores pay.
PYGEOAPI_WORKERS = 2 * (os.cpu_count() or 1) + 1
PYGEOAPI_MAX_ITEMS = 1000
# Martin's expert set-up for this machine: actix workers = cores, and the pool size that served the like-for-like
# tile list fastest here (2026-12-03, 2 runs each of the list in a loop for 8 s: pool 2 1,668 req/s, 4 1,774,
# 8 1,963, 16 2,012), so PostgreSQL always has queries queued.
MARTIN_WORKERS = os.cpu_count() or 2
MARTIN_POOL = 8 * MARTIN_WORKERS

WALK = TARGET / "release" / "walk"
WRK_SCRIPT = r"""
-- Walks the URL list in `paths.txt` round and round for the run's duration, thread k taking paths k,
-- k + T, k + 2T, ... for T threads. T comes from the environment: each thread runs in a Lua state of its
-- own, where the `threads` table filled by `setup` (in the main state) is empty, so counting it there gave a
-- step of 0 and every request of a thread asked for the same path (the bug behind the wrk rows before
-- 2026-12-04).
local paths, counter = {}, 0
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local step = tonumber(os.getenv("WRK_THREADS"))
local created = 0
function setup(thread)
  thread:set("id", created)
  created = created + 1
end
function init(args)
  counter = id
end
function request()
  local path = paths[(counter % #paths) + 1]
  counter = counter + step
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_REPORT"), "w")
  out:write(string.format('{"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, "max_us": %d, "non2xx": %d, "errors": %d, "bytes": %d}',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.bytes))
  out:close()
end
"""


def log(message):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


def wait_http(url, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} never answered")


# ---------------------------------------------------------------- data


def polygons(path, count, seed=7):
    """Irregular polygons (5–9 vertices, 2–40 km across) around the same clusters as the points."""
    rng = random.Random(seed)
    centres = [(-74.0, 40.7), (2.35, 48.85), (139.7, 35.7), (77.2, 28.6), (-46.6, -23.5), (31.2, 30.0),
               (151.2, -33.9), (-99.1, 19.4), (28.9, 41.0), (116.4, 39.9), (3.4, 6.5), (-0.1, 51.5)]
    with open(path, "w") as out:
        for i in range(count):
            cx, cy = rng.choice(centres)
            x, y = cx + rng.gauss(0, 6), max(-80, min(80, cy + rng.gauss(0, 4)))
            r = rng.uniform(0.01, 0.2)
            n = rng.randint(5, 9)
            ring = []
            for k in range(n):
                a = 2 * math.pi * k / n
                rr = r * rng.uniform(0.6, 1.0)
                ring.append([round(x + rr * math.cos(a) / max(0.2, math.cos(math.radians(y))), 6), round(y + rr * math.sin(a), 6)])
            ring.append(ring[0])
            feature = {"type": "Feature", "id": f"z{i}", "geometry": {"type": "Polygon", "coordinates": [ring]},
                       "properties": {"name": f"zone {i}", "category": f"c{i % 7}", "value": rng.randint(0, 1000)}}
            out.write(json.dumps(feature) + "\n")


def prepare(points):
    DATA.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    csv = DATA / f"points_{points}.csv"
    if not csv.exists():
        log(f"generating {points} points")
        run([str(BIN), "generate", "--points", str(points), "--output", str(csv), "--quiet"])
    zones = DATA / "zones_50000.geojsonl"
    if not zones.exists():
        log("generating 50 000 polygons")
        polygons(zones, 50_000)
    store = OUT / f"serve_{points}.gpkg"
    if not store.exists():
        log("importing into geoconsole")
        run([str(BIN), "--store", str(store), "import", str(csv), "--dataset", "points", "--quiet"])
        run([str(BIN), "--store", str(store), "import", str(zones), "--dataset", "zones", "--kind", "areas", "--quiet"])
    return store, csv


# ---------------------------------------------------------------- PostGIS


def start_postgis(store):
    pgdata = OUT / "pgdata"
    bindir = Path("/usr/lib/postgresql/15/bin")
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    fresh = not pgdata.exists()
    if fresh:
        pgdata.mkdir(parents=True)
        if user:
            shutil.chown(pgdata, "postgres", "postgres")
        run(user + [str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust"], stdout=subprocess.DEVNULL)
    run(user + [str(bindir / "pg_ctl"), "-D", str(pgdata), "-o", f"-p {PG_PORT} -k /tmp -c shared_buffers=1GB -c max_connections=200 -c jit=off",
                "-l", str(pgdata / "log.txt"), "-w", "start"], stdout=subprocess.DEVNULL)
    psql = ["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
    exists = subprocess.run(psql + ["-tAc", "SELECT 1 FROM pg_database WHERE datname='bench'"], capture_output=True, text=True).stdout.strip()
    if exists != "1":
        log("loading the same data into PostGIS")
        run(psql + ["-c", "CREATE DATABASE bench"])
        run(psql + ["-d", "bench", "-c", "CREATE EXTENSION postgis"])
        for layer in ["points", "zones"]:
            run(["ogr2ogr", "-f", "PostgreSQL", f"PG:host=127.0.0.1 port={PG_PORT} user=postgres dbname=bench", str(store), layer,
                 "-nln", layer, "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "SPATIAL_INDEX=GIST", "--config", "PG_USE_COPY", "YES"])
        run(psql + ["-d", "bench", "-c", "CREATE INDEX ON points (category); ANALYZE"])
    return lambda: subprocess.run(user + [str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "stop"], stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- servers


class Server:
    def __init__(self, name, cmd, ready_url, env=None, cwd=None):
        self.name = name
        log_file = open(OUT / f"{name}.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd,
                                     start_new_session=True)
        wait_http(ready_url)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def ours(store, cache_mb, extra=()):
    return Server("geoconsole", [str(BIN), "--store", str(store), "serve", "--bind", f"127.0.0.1:{OURS_PORT}",
                                 "--tile-cache-mb", str(cache_mb), *extra], f"http://127.0.0.1:{OURS_PORT}/readyz",
                  env={"GEOCONSOLE_LOG": "warn"})


def martin(cache_mb):
    return Server("martin", [MARTIN, "-l", f"127.0.0.1:{MARTIN_PORT}", "-C", str(cache_mb), PG_URL],
                  f"http://127.0.0.1:{MARTIN_PORT}/catalog", env={"RUST_LOG": "warn"})


def pygeoapi():
    config = OUT / "pygeoapi.yml"
    provider = lambda table, id_field: {  # noqa: E731
        "type": "feature", "name": "PostgreSQL", "data": {"host": "127.0.0.1", "port": PG_PORT, "dbname": "bench", "user": "postgres",
                                                          "password": "", "search_path": ["public"]},
        "id_field": id_field, "table": table, "geom_field": "geom"}
    resource = lambda title, table: {  # noqa: E731
        "type": "collection", "title": title, "description": title, "keywords": ["bench"],
        "extents": {"spatial": {"bbox": [-180, -90, 180, 90], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "providers": [provider(table, "fid")]}
    cfg = {
        "server": {"bind": {"host": "127.0.0.1", "port": PYGEOAPI_PORT}, "url": f"http://127.0.0.1:{PYGEOAPI_PORT}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   # pygeoapi 0.21 caps every page at `max_items` (10 when unset): without it a `limit=1000` page
                   # returns 10 features and the two sides do different work.
                   "limits": {"default_items": 10, "max_items": PYGEOAPI_MAX_ITEMS},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"], "keywords_type": "theme",
                                        "terms_of_service": "none", "url": "http://example.org"},
                     "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
                     "provider": {"name": "bench", "url": "http://example.org"},
                     "contact": {"name": "bench", "position": "bench", "address": "x", "city": "x", "stateorprovince": "x",
                                 "postalcode": "x", "country": "x", "phone": "x", "fax": "x", "email": "x@example.org",
                                 "url": "http://example.org", "hours": "x", "instructions": "x", "role": "pointOfContact"}},
        "resources": {"points": resource("points", "points"), "zones": resource("zones", "zones")},
    }
    config.write_text(json.dumps(cfg))  # YAML is a superset of JSON
    openapi = OUT / "pygeoapi-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    with open(openapi, "w") as out:
        run(["pygeoapi", "openapi", "generate", str(config)], stdout=out, env={**os.environ, **env})
    return Server("pygeoapi", ["gunicorn", "-w", str(PYGEOAPI_WORKERS), "-b", f"127.0.0.1:{PYGEOAPI_PORT}", "pygeoapi.flask_app:APP"],
                  f"http://127.0.0.1:{PYGEOAPI_PORT}/conformance", env=env)


# ---------------------------------------------------------------- load


def walk(base, paths, mode, seconds, connections):
    paths_file = OUT / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    out = subprocess.run([str(WALK), base, str(paths_file), mode, str(seconds), str(connections)],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    result["rps"] = result["requests"] / result["seconds"]
    return result


def wrk(base, paths, mode, seconds, threads, connections):
    """Loop mode: wrk for the duration. Once mode (cold caches): every path exactly once with bench's own
    `walk` client, since a wrk run always lasts its full duration."""
    paths_file, report, script = OUT / "paths.txt", OUT / "wrk.json", OUT / "walk.lua"
    paths_file.write_text("\n".join(paths) + "\n")
    if mode == "once":
        return walk(base, paths, mode, seconds, connections)
    script.write_text(WRK_SCRIPT)
    if report.exists():
        report.unlink()
    env = {**os.environ, "WRK_PATHS": str(paths_file), "WRK_REPORT": str(report), "WRK_THREADS": str(threads)}
    run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s", "-s", str(script), base],
        env=env, stdout=subprocess.DEVNULL)
    result = json.loads(report.read_text())
    result["rps"] = result["requests"] / result["seconds"]
    return result


def tile_of(lon, lat, z):
    n = 2 ** z
    lat = max(-85.0511, min(85.0511, lat))
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return min(x, n - 1), min(y, n - 1)


def tile_lists(csv, per_zoom=120, seed=3):
    rng = random.Random(seed)
    coords = []
    with open(csv) as f:
        next(f)
        for i, line in enumerate(f):
            if i % 50 == 0:
                parts = line.split(",")
                coords.append((float(parts[1]), float(parts[2])))
    tiles = []
    for z in range(2, 15):
        seen = set()
        for lon, lat in rng.sample(coords, min(len(coords), per_zoom * 4)):
            seen.add(tile_of(lon, lat, z))
            if len(seen) >= per_zoom:
                break
        tiles += [(z, x, y) for x, y in sorted(seen)]
    counts = {}
    for lon, lat in coords:
        t = tile_of(lon, lat, 6)
        counts[t] = counts.get(t, 0) + 1
    dense = [(6, x, y) for (x, y), _ in sorted(counts.items(), key=lambda kv: -kv[1])[:5]]
    return tiles, dense


def item_queries(csv, count=300, seed=5):
    rng = random.Random(seed)
    coords = []
    with open(csv) as f:
        next(f)
        for i, line in enumerate(f):
            if i % 97 == 0:
                parts = line.split(",")
                coords.append((float(parts[1]), float(parts[2])))
    bbox, prop = [], []
    for lon, lat in rng.sample(coords, count):
        bbox.append(f"/collections/points/items?f=json&limit=100&bbox={lon - 0.25:.4f},{lat - 0.25:.4f},{lon + 0.25:.4f},{lat + 0.25:.4f}")
    for i in range(count):
        category = ["flood", "outage", "fire", "theft", "vandalism", "road%20closure"][i % 6]
        prop.append(f"/collections/points/items?f=json&limit=100&category={category}&verified=true")
    return bbox, prop


def cpu_seconds(pids):
    """User + system CPU the processes have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def postgres_pids():
    """Every process of the benchmark's PostgreSQL (the backends Martin's pool opened included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def side_pids(side, server):
    """What does one side's work: geoconsole alone; Martin and PostgreSQL, which makes Martin's tiles."""
    return [server.proc.pid] if side == "ours" else [server.proc.pid, *postgres_pids()]


def median_of(results, key):
    return statistics.median(r[key] for r in results)


# ---------------------------------------------------------------- like for like


def expert_table():
    """The points copied into a table of their own, stored the way a Martin expert stores tiles' data: in
    EPSG:3857 (no ST_Transform per tile), GiST-indexed, the rows CLUSTERed in index order, vacuumed, frozen,
    analysed and pre-warmed into shared buffers, generic plans for the prepared tile query; and each column
    drawn in the type geoconsole draws it, so both sides encode the same values (`time_start`/`time_end` as
    epoch milliseconds, `time` as the source's text, `text` rather than `varchar`, which ST_AsMVT writes on a
    faster path) instead of PostgreSQL formatting a timestamp per feature."""
    psql = ["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-d", "bench"]
    kind = subprocess.run(psql + ["-tAc", "SELECT data_type FROM information_schema.columns "
                                  "WHERE table_name = 'points_3857' AND column_name = 'time_start'"],
                          capture_output=True, text=True).stdout.strip()
    if kind == "bigint":
        # Every time, not only when the table is made: a restarted PostgreSQL starts with cold buffers.
        run(psql + ["-c", "SELECT pg_prewarm('points_3857'), pg_prewarm('points_3857_geom')",
                    "-c", "ALTER DATABASE bench RESET plan_cache_mode"], stdout=subprocess.DEVNULL)
        return
    log("expert set-up for Martin: points_3857 (EPSG:3857, drawn types, GiST, CLUSTER, VACUUM, prewarm)")
    # One `-c` per statement: psql runs several in one `-c` as a transaction, which VACUUM refuses.
    statements = [statement.strip() for statement in """
        DROP TABLE IF EXISTS points_3857;
        CREATE TABLE points_3857 AS SELECT fid, feature_id, id::text AS id, category::text AS category, reports, severity,
            to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time,
            (extract(epoch FROM time_start) * 1000)::int8 AS time_start,
            (extract(epoch FROM time_end) * 1000)::int8 AS time_end,
            verified, ST_Transform(geom, 3857)::geometry(Point, 3857) AS geom
          FROM points;
        ALTER TABLE points_3857 ADD PRIMARY KEY (fid);
        CREATE INDEX points_3857_geom ON points_3857 USING gist (geom);
        CLUSTER points_3857 USING points_3857_geom;
        VACUUM (FREEZE, ANALYZE) points_3857;
        CREATE EXTENSION IF NOT EXISTS pg_prewarm;
        SELECT pg_prewarm('points_3857'), pg_prewarm('points_3857_geom');
    """.split(";") if statement.strip()]
    run(psql + [arg for statement in statements for arg in ("-c", statement)])


# One client on loopback asking thousands of tiles a second is what the benchmark is, not abuse: geoconsole's
# per-client rate limit (which Martin does not have) is off, or it would answer 429s.
NO_RATE_LIMIT = ("--rate-limit", "0")


# The columns both sides draw: geoconsole writes the feature's id and time span as `id`, `time_start` and
# `time_end`, and the GeoPackage copy holds them as columns, so Martin publishes exactly these.
EXPERT_PROPERTIES = {"category": "text", "id": "text", "reports": "int8", "severity": "float8",
                     "time": "text", "time_end": "int8", "time_start": "int8", "verified": "bool"}


def expert_martin_config(pool=None):
    """Martin's configuration file as an expert writes it for this table: one explicitly declared table source
    (no auto-publishing, so no catalogue discovery), the primary key as the MVT feature id (`id_column`, which
    also keeps it out of the properties), only the columns the map shows as properties, the SRID and geometry
    type stated, Martin's tile defaults spelled out."""
    config = {
        "listen_addresses": f"127.0.0.1:{MARTIN_PORT}",
        "worker_processes": MARTIN_WORKERS,
        "cache_size_mb": 0,
        "postgres": {
            # Generic plans for the prepared tile query on Martin's own connections only (set on the database
            # it would also change the other benchmarks' Martin rows).
            "connection_string": PG_URL + "?sslmode=disable&options=-c%20plan_cache_mode%3Dforce_generic_plan",
            "pool_size": pool or MARTIN_POOL,
            "auto_publish": False,
            "tables": {
                "points_3857": {
                    "schema": "public", "table": "points_3857", "srid": 3857, "geometry_column": "geom",
                    "geometry_type": "POINT", "id_column": "fid", "extent": 4096, "buffer": 64, "clip_geom": True,
                    "properties": EXPERT_PROPERTIES,
                },
            },
        },
    }
    path = OUT / "martin-expert.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def expert_martin(pool=None):
    return Server("martin", [MARTIN, "--config", str(expert_martin_config(pool))],
                  f"http://127.0.0.1:{MARTIN_PORT}/catalog", env={"RUST_LOG": "warn"})


def decode_counts(base, paths):
    """Features per tile and the property names seen, decoded with mapbox-vector-tile."""
    import mapbox_vector_tile
    counts, names, clusters = [], set(), 0
    for path in paths:
        with urllib.request.urlopen(base + path, timeout=60) as r:
            body = r.read()
        tile = mapbox_vector_tile.decode(body) if body else {}
        n = 0
        for layer in tile.values():
            n += len(layer["features"])
            for f in layer["features"]:
                names.update(f["properties"].keys())
                clusters += "point_count" in f["properties"]
        counts.append(n)
    return counts, names, clusters


# Timed single passes per server start (their median is the run's figure).
PASSES = 3


def like_for_like(args, store, csv):
    expert_table()
    tiles, _ = tile_lists(csv, per_zoom=args.tiles_per_zoom)
    tiles = [t for t in tiles if 10 <= t[0] <= 14]
    paths = {"ours": [f"/tiles/points/{z}/{x}/{y}.mvt" for z, x, y in tiles],
             "martin": [f"/points_3857/{z}/{x}/{y}" for z, x, y in tiles]}
    rows = {}
    for run_index in range(args.runs):
        # Alternating which side goes first cancels a drift of the machine over the run.
        for side in (["ours", "martin"] if run_index % 2 == 0 else ["martin", "ours"]):
            log(f"run {run_index + 1}: {side}, z10-z14 like for like ({len(tiles)} tiles)")
            server = ours(Path(store), 0, NO_RATE_LIMIT) if side == "ours" else expert_martin()
            base = f"http://127.0.0.1:{OURS_PORT if side == 'ours' else MARTIN_PORT}"
            try:
                # Untimed: opens both sides' connections (Martin opens its pool's lazily, each a PostgreSQL
                # backend to start) and warms what is not a tile cache; caches stay off.
                walk(base, paths[side], "once", 600, 16)
                # One pass lasts well under a second on the faster side: the median of several per start.
                pids = side_pids(side, server)
                before = cpu_seconds(pids)
                passes = [walk(base, paths[side], "once", 600, 8) for _ in range(PASSES)]
                once = sorted(passes, key=lambda r: r["rps"])[len(passes) // 2]
                once["cpu_us"] = (cpu_seconds(pids) - before) * 1e6 / sum(r["requests"] for r in passes)
                rows.setdefault((side, "once"), []).append(once)
                before = cpu_seconds(pids)
                loaded = wrk(base, paths[side], "loop", args.wrk_seconds, 2, 32)
                loaded["cpu_us"] = (cpu_seconds(pids) - before) * 1e6 / max(1, loaded["requests"])
                rows.setdefault((side, "wrk"), []).append(loaded)
            finally:
                server.stop()
    log("checking both sides draw the same features")
    decoded = {}
    for side in ["ours", "martin"]:
        server = ours(Path(store), 0, NO_RATE_LIMIT) if side == "ours" else expert_martin()
        try:
            decoded[side] = decode_counts(f"http://127.0.0.1:{OURS_PORT if side == 'ours' else MARTIN_PORT}", paths[side])
        finally:
            server.stop()
    write_like_for_like(args, rows, tiles, decoded)


def write_like_for_like(args, rows, tiles, decoded):
    def med(side, kind, key):
        return median_of(rows[(side, kind)], key)

    (ours_counts, ours_names, ours_clusters), (martin_counts, martin_names, _) = decoded["ours"], decoded["martin"]
    equal = sum(a == b for a, b in zip(ours_counts, martin_counts))
    differing = [(f"{z}/{x}/{y}", a, b) for (z, x, y), a, b in zip(tiles, ours_counts, martin_counts) if a != b]
    # A run that did different work, or failed requests (fast failures inflate req/s), publishes nothing.
    failures = {f"{side} {kind}": sum(r.get("non2xx", 0) + r.get("errors", 0) for r in results)
                for (side, kind), results in rows.items()}
    problems = [f"{name}: {n} failed requests" for name, n in failures.items() if n]
    if ours_clusters:
        problems.append(f"geoconsole drew {ours_clusters} clusters")
    # Points exactly on the buffer's edge fall differently on the two sides (PostGIS's box test in Mercator
    # metres, ours in degrees): a feature or two of a dense tile, never more than 1 % of it, and 0.05 %
    # of all features.
    problems += [f"tile {t}: {a} vs {b} features" for t, a, b in differing if abs(a - b) > max(2, 0.01 * max(a, b))]
    if abs(sum(ours_counts) - sum(martin_counts)) > 0.0005 * sum(martin_counts):
        problems.append(f"{sum(ours_counts)} vs {sum(martin_counts)} features in all")
    if ours_names != martin_names:
        problems.append(f"properties differ: {sorted(ours_names)} vs {sorted(martin_names)}")
    if problems:
        raise SystemExit("like-for-like run not written: " + "; ".join(problems[:10]))
    ratios = {kind: [o["rps"] / m["rps"] for o, m in zip(rows[("ours", kind)], rows[("martin", kind)])]
              for kind in ["once", "wrk"]}
    martin_version = subprocess.run([MARTIN, "--version"], capture_output=True, text=True).stdout.strip()
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-tAc", "SELECT version()"],
                        capture_output=True, text=True).stdout.strip().split(",")[0]
    per_zoom = ", ".join(f"z{z} {sum(1 for t in tiles if t[0] == z)}" for z in range(10, 15))
    lines = [
        LFL_BEGIN,
        "## Tiles like for like: geoconsole vs Martin (expert set-up), points only, z10–z14, caches off",
        "",
        f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores (servers, PostgreSQL and the load generator share them); "
        f"{martin_version} over {pg} + PostGIS 3.",
        f"Command: `python3 bench/serve_vs_peers.py --like-for-like --points {args.points} --runs {args.runs} --wrk-seconds {args.wrk_seconds} --tiles-per-zoom {args.tiles_per_zoom}`",
        f"Data: the same {args.points:,} clustered points on both sides (`geoconsole generate`, imported into a GeoPackage, copied into "
        f"PostGIS with ogr2ogr). Tiles: {len(tiles)} distinct tiles at data points ({per_zoom}), the `points` layer only. "
        "single pass = each tile once, bench's `walk`, 8 connections; under wrk = wrk, 2 threads, 32 connections, the same list round "
        f"and round for {args.wrk_seconds} s; geoconsole with `--rate-limit 0` (one loopback client is the whole load). Both caches off in both tests (geoconsole `--tile-cache-mb 0`, Martin `-C 0`): every request "
        f"makes its tile. Medians of {args.runs} runs, the side that goes first alternating from run to run, each on a freshly started "
        "server; the ratio is the median of the runs' own ratios. CPU per tile: user + system CPU of the side's processes over the timed "
        "requests (geoconsole; Martin and every PostgreSQL process), read from /proc, which the load generator's share of the two cores "
        "does not move. Under wrk the load is closed-loop, so p50 there is about connections ÷ req/s, not a latency of its own.",
        "",
        "How the peer was configured (the expert set-up, revised after an outside review of it): the points are copied into their own "
        "table `points_3857` with the geometry stored in Web Mercator (`ST_Transform(geom, 3857)::geometry(Point, 3857)`, so no tile "
        "transforms a row) and each drawn column in the type geoconsole draws it (`time_start`/`time_end` as epoch-ms `int8`, `time` as "
        "the source's text, `text` rather than `varchar`), so ST_AsMVT formats no timestamp per feature; a primary key on `fid`, a GiST "
        "index on `geom`, `CLUSTER points_3857 USING` that index (rows of one tile sit on neighbouring pages), `VACUUM (FREEZE, ANALYZE)`, "
        "`pg_prewarm` of the table and its index before every run, `plan_cache_mode = force_generic_plan` on Martin's connections (no "
        f"re-planning of the prepared tile query); every server start is followed by one untimed pass of the list with 16 connections, on both sides (Martin opens "
        f"its pool's connections lazily); Martin from a configuration file (`bench/out/serve/martin-expert.yaml`): "
        f"`worker_processes: {MARTIN_WORKERS}` (= cores), `cache_size_mb: 0`, `pool_size: {MARTIN_POOL}` (the fastest of 2, 4, 8 and 16 "
        "on this list), `auto_publish: false` and one declared table source with `srid: 3857`, `geometry_type: POINT`, "
        "`id_column: fid` (the key as the MVT feature id, as geoconsole writes its key) and `properties:` listing only the eight "
        "columns geoconsole also draws (not `fid` and `feature_id`), extent 4096, buffer 64, clipping on (Martin's defaults, spelled out), "
        "PostgreSQL with `shared_buffers=1GB`, `jit=off` (JIT compiling costs more than these short queries run) and the whole table in memory after the first run.",
        "",
        "| test (z10–z14, points, caches off) | geoconsole req/s | Martin req/s | ratio (median of runs, min–max) | geoconsole p50 ms | Martin p50 ms | geoconsole p99 ms | Martin p99 ms | geoconsole CPU µs/tile | Martin + PostgreSQL CPU µs/tile |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, label in [("once", f"single pass (each tile once; median of {PASSES} passes per start)"),
                        ("wrk", f"under wrk ({args.wrk_seconds} s, 32 connections)")]:
        a, b = med("ours", kind, "rps"), med("martin", kind, "rps")
        r = ratios[kind]
        lines.append(f"| {label} | {a:,.0f} | {b:,.0f} | {statistics.median(r):.2f}× ({min(r):.2f}–{max(r):.2f}) | "
                     f"{fmt_ms(med('ours', kind, 'p50_us'))} | {fmt_ms(med('martin', kind, 'p50_us'))} | "
                     f"{fmt_ms(med('ours', kind, 'p99_us'))} | {fmt_ms(med('martin', kind, 'p99_us'))} | "
                     f"{med('ours', kind, 'cpu_us'):,.0f} | {med('martin', kind, 'cpu_us'):,.0f} |")
    lines += [
        "",
        f"Same answers: every tile of the list decoded on both sides (mapbox-vector-tile): {equal} of {len(tiles)} tiles have the same "
        f"feature count; {sum(ours_counts):,} features drawn by geoconsole, {sum(martin_counts):,} by Martin; clusters drawn by "
        f"geoconsole: {ours_clusters}; bytes per response, headers included (under wrk): geoconsole "
        f"{med('ours', 'wrk', 'bytes') / med('ours', 'wrk', 'requests'):,.0f}, Martin "
        f"{med('martin', 'wrk', 'bytes') / med('martin', 'wrk', 'requests'):,.0f}. A run with any failed request, any "
        "cluster, other property names, a tile differing by more than 2 features and 1 % or all tiles by more than 0.05 % is refused, "
        "not written."
        + (f" Differing tiles (tile: geoconsole, Martin): {', '.join(f'{t}: {a}, {b}' for t, a, b in differing[:10])}." if differing else ""),
        f"Properties per feature: geoconsole {', '.join(sorted(ours_names))}; Martin {', '.join(sorted(martin_names))} "
        "(the same columns with the same types: the feature's id as `id`, its time span as `time_start`/`time_end` in epoch ms).",
        "",
        "All runs (req/s): " + "; ".join(f"{side} {kind} " + ", ".join(f"{r['rps']:,.0f}" for r in results)
                                         for (side, kind), results in sorted(rows.items())),
        "",
        "Errors and non-2xx responses: " + ", ".join(f"{side} {kind} {sum(r.get('non2xx', 0) + r.get('errors', 0) for r in results)}"
                                                      for (side, kind), results in sorted(rows.items())),
        LFL_END,
    ]
    block = "\n".join(lines)
    write_block(LFL_BEGIN, LFL_END, block)
    print(block)


def get_json(url):
    return json.loads(urllib.request.urlopen(url, timeout=120).read())


def item_ids(side, page):
    """The features' own ids: ours are the feature ids; pygeoapi's are the table's key, so the stored id
    column (the same text on both sides) is read from its properties."""
    if side == "ours":
        return {f["id"] for f in page["features"]}
    return {f["properties"].get("feature_id", f["id"]) for f in page["features"]}


def items_like_for_like(args, store, csv):
    rng = random.Random(17)
    coords = []
    with open(csv) as f:
        next(f)
        for i, line in enumerate(f):
            if i % 97 == 0:
                parts = line.split(",")
                coords.append((float(parts[1]), float(parts[2])))
    sample = rng.sample(coords, 300)
    bbox = lambda x, y, h: f"{x - h:.4f},{y - h:.4f},{x + h:.4f},{y + h:.4f}"  # noqa: E731
    queries = {
        100: [f"/collections/points/items?f=json&limit=100&bbox={bbox(x, y, 0.25)}" for x, y in sample],
        1000: [f"/collections/points/items?f=json&limit=1000&bbox={bbox(x, y, 1.0)}" for x, y in sample],
    }
    bases = {"ours": f"http://127.0.0.1:{OURS_PORT}", "pygeoapi": f"http://127.0.0.1:{PYGEOAPI_PORT}"}
    rows, checks = {}, {}
    for run_index in range(args.runs):
        for side in ["ours", "pygeoapi"]:
            server = ours(Path(store), 0, NO_RATE_LIMIT) if side == "ours" else pygeoapi()
            try:
                if run_index == 0:
                    # Same work: the same number of features per page, and the same features where the box
                    # holds no more than the page.
                    returned = {limit: [len(get_json(bases[side] + q)["features"]) for q in qs[:30]] for limit, qs in queries.items()}
                    whole = {}
                    for x, y in sample[:60]:
                        q = f"/collections/points/items?f=json&limit=1000&bbox={bbox(x, y, 0.02)}"
                        whole[q] = item_ids(side, get_json(bases[side] + q))
                    checks[side] = (returned, whole)
                for limit, qs in queries.items():
                    log(f"run {run_index + 1}: {side} items limit {limit}")
                    rows.setdefault((side, limit), []).append(walk(bases[side], qs, "loop", args.items_seconds, 8))
            finally:
                server.stop()
    write_items_like_for_like(args, rows, checks)


def write_items_like_for_like(args, rows, checks):
    def med(side, limit, key):
        return median_of(rows[(side, limit)], key)

    (ours_returned, ours_whole), (their_returned, their_whole) = checks["ours"], checks["pygeoapi"]
    same_counts = all(ours_returned[l] == their_returned[l] for l in ours_returned)
    same_sets = sum(ours_whole[q] == their_whole[q] for q in ours_whole)
    features_compared = sum(len(v) for v in ours_whole.values())
    version = subprocess.run(["pygeoapi", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        ITEMS_BEGIN,
        "## Items like for like: geoconsole vs pygeoapi (expert set-up), bbox pages of 100 and 1 000",
        "",
        f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores (servers, PostgreSQL and the load generator share them); {version}.",
        f"Command: `python3 bench/serve_vs_peers.py --items-like-for-like --points {args.points} --runs {args.runs} --items-seconds {args.items_seconds}`",
        f"Data: the same {args.points:,} clustered points on both sides. Queries: 300 bbox pages at data points, `limit=100` over 0.5° boxes and "
        "`limit=1000` over 2° boxes (every box holds more than the page), GeoJSON; bench's `walk`, 8 connections, "
        f"{args.items_seconds} s, every request sent counted however long it takes. geoconsole `--tile-cache-mb 0 --rate-limit 0`. "
        f"Medians of {args.runs} alternating runs, each on a freshly started server.",
        "",
        f"How the peer was configured: pygeoapi's PostgreSQL provider over the points copied into PostGIS with ogr2ogr (primary key `fid`, GiST "
        f"on `geom`, `ANALYZE`, `shared_buffers=1GB`, `jit=off`); `server.limits.max_items: {PYGEOAPI_MAX_ITEMS}` (pygeoapi 0.21 caps pages at 10 without it); "
        f"gunicorn with {PYGEOAPI_WORKERS} sync workers ((2 x cores) + 1, gunicorn's advice; the workers wait on PostgreSQL); logging at ERROR.",
        "",
        "| bbox page | geoconsole req/s | pygeoapi req/s | ratio | geoconsole p50 ms | pygeoapi p50 ms | geoconsole p99 ms | pygeoapi p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for limit in sorted({l for _, l in rows}):
        a, b = med("ours", limit, "rps"), med("pygeoapi", limit, "rps")
        lines.append(f"| limit {limit} | {a:,.0f} | {b:,.1f} | {a / b:.1f}× | {fmt_ms(med('ours', limit, 'p50_us'))} | "
                     f"{fmt_ms(med('pygeoapi', limit, 'p50_us'))} | {fmt_ms(med('ours', limit, 'p99_us'))} | {fmt_ms(med('pygeoapi', limit, 'p99_us'))} |")
    lines += [
        "",
        f"Same work: features per page on the first 30 queries of each limit {'equal on both sides' if same_counts else 'DIFFER'} "
        f"({', '.join(f'limit {l}: {min(v)}–{max(v)}' for l, v in ours_returned.items())}); 60 small boxes answered whole: "
        f"{same_sets} of {len(ours_whole)} with the same feature ids ({features_compared:,} features).",
        "",
        "All runs (req/s): " + "; ".join(f"{side} limit {limit} " + ", ".join(f"{r['rps']:,.1f}" for r in results)
                                         for (side, limit), results in sorted(rows.items())),
        "",
        "Errors and non-2xx responses: " + ", ".join(f"{side} limit {limit} {sum(r.get('non2xx', 0) + r.get('errors', 0) for r in results)}"
                                                      for (side, limit), results in sorted(rows.items())),
        ITEMS_END,
    ]
    block = "\n".join(lines)
    write_block(ITEMS_BEGIN, ITEMS_END, block)
    print(block)


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm-seconds", type=int, default=10)
    parser.add_argument("--items-seconds", type=int, default=10)
    parser.add_argument("--skip-items", action="store_true")
    parser.add_argument("--like-for-like", action="store_true",
                        help="only the like-for-like tiles (points, z10-z14, caches off) vs Martin's expert set-up")
    parser.add_argument("--items-like-for-like", action="store_true",
                        help="only bbox item pages of 100 and 1 000 features vs pygeoapi's expert set-up")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    # 120 per zoom makes a single pass of 600 tiles that lasts a tenth of a second on geoconsole's side, too
    # short to measure on a noisy machine; more distinct tiles keep "each tile once" and last longer.
    parser.add_argument("--tiles-per-zoom", type=int, default=120,
                        help="distinct tiles sampled per zoom for --like-for-like (each requested once per pass)")
    parser.add_argument("--big", type=int, default=0,
                        help="only measure index load, memory and bbox latency over this many points")
    args = parser.parse_args()
    if args.big:
        return big_index(args.big)
    store, csv = prepare(args.points)
    stop_pg = start_postgis(store)
    if args.like_for_like or args.items_like_for_like:
        try:
            return like_for_like(args, store, csv) if args.like_for_like else items_like_for_like(args, store, csv)
        finally:
            stop_pg()
    tiles, dense = tile_lists(csv)
    layers = {"ours": lambda z, x, y: f"/tiles/points,zones/{z}/{x}/{y}.mvt", "martin": lambda z, x, y: f"/points,zones/{z}/{x}/{y}"}
    rows = {}
    try:
        for run_index in range(args.runs):
            for side in ["ours", "martin"]:
                log(f"run {run_index + 1}: {side} cold tiles ({len(tiles)})")
                server = ours(store, 0) if side == "ours" else martin(0)
                port = OURS_PORT if side == "ours" else MARTIN_PORT
                base = f"http://127.0.0.1:{port}"
                try:
                    cold = wrk(base, [layers[side](*t) for t in tiles], "once", 600, 2, 8)
                    dense_runs = [wrk(base, [layers[side](*t)], "once", 60, 1, 1) for t in dense]
                finally:
                    server.stop()
                rows.setdefault((side, "cold"), []).append(cold)
                rows.setdefault((side, "dense"), []).append({"max_us": max(d["max_us"] for d in dense_runs),
                                                             "p50_us": statistics.median(d["p50_us"] for d in dense_runs),
                                                             "bytes": max(d["bytes"] for d in dense_runs)})
                log(f"run {run_index + 1}: {side} warm tiles")
                server = ours(store, 512) if side == "ours" else martin(512)
                try:
                    wrk(base, [layers[side](*t) for t in tiles], "once", 600, 2, 8)  # fill the cache
                    warm = wrk(base, [layers[side](*t) for t in tiles], "loop", args.warm_seconds, 2, 32)
                finally:
                    server.stop()
                rows.setdefault((side, "warm"), []).append(warm)
        if not args.skip_items:
            bbox, prop = item_queries(csv)
            for run_index in range(args.runs):
                for side in ["ours", "pygeoapi"]:
                    log(f"run {run_index + 1}: {side} items")
                    server = ours(store, 0) if side == "ours" else pygeoapi()
                    port = OURS_PORT if side == "ours" else PYGEOAPI_PORT
                    try:
                        for kind, paths in [("bbox", bbox), ("property", prop)]:
                            # `walk` counts every request sent before the deadline, however long it takes
                            # (wrk leaves out the ones still running when its time is up).
                            result = walk(f"http://127.0.0.1:{port}", paths, "loop", args.items_seconds, 8)
                            rows.setdefault((side, kind), []).append(result)
                    finally:
                        server.stop()
    finally:
        stop_pg()
    write_results(args, rows, len(tiles), dense)


def big_index(points):
    """Index load time and memory from the server's own log line, then bbox pages of 1 000 features."""
    DATA.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    csv = DATA / f"points_{points}.csv"
    if not csv.exists():
        log(f"generating {points} points")
        run([str(BIN), "generate", "--points", str(points), "--output", str(csv), "--quiet"])
    store = OUT / f"big_{points}.gpkg"
    if not store.exists():
        log("importing")
        run([str(BIN), "--store", str(store), "import", str(csv), "--dataset", "points", "--quiet"])
    loads = []
    for _ in range(3):
        server = Server("big", [str(BIN), "--store", str(store), "serve", "--bind", f"127.0.0.1:{OURS_PORT}", "--log-json"],
                        f"http://127.0.0.1:{OURS_PORT}/readyz", env={"GEOCONSOLE_LOG": "info"})
        try:
            events = [json.loads(line) for line in (OUT / "big.log").read_text().splitlines() if line.startswith("{")]
            indexed = dict(next(e["fields"] for e in events if e["fields"].get("message") == "dataset indexed"))
            # A serving console also keeps the properties for tiles (a second read, logged apart): counted in.
            kept = next((e["fields"] for e in events if e["fields"].get("message") == "dataset properties kept for tiles"), None)
            indexed["index_bytes"] = indexed["bytes"]
            if kept:
                indexed["ms"] += kept["ms"]
                indexed["bytes"] = kept["bytes"]
            loads.append(indexed)
            rng = random.Random(11)
            coords = []
            with open(csv) as f:
                next(f)
                for i, line in enumerate(f):
                    if i % 997 == 0:
                        parts = line.split(",")
                        coords.append((float(parts[1]), float(parts[2])))
            paths = [f"/collections/points/items?limit=1000&bbox={x - 1:.4f},{y - 1:.4f},{x + 1:.4f},{y + 1:.4f}"
                     for x, y in rng.sample(coords, 300)]
            sequential = walk(f"http://127.0.0.1:{OURS_PORT}", paths, "loop", 10, 1)
            returned = [len(json.loads(urllib.request.urlopen(f"http://127.0.0.1:{OURS_PORT}{p}").read())["features"]) for p in paths[:20]]
            # Boxes that hold about a thousand features: shrink each box until numberMatched is at most 1 500.
            fitted = []
            for x, y in rng.sample(coords, 150):
                for half in [1.0, 0.5, 0.25, 0.12, 0.06, 0.03, 0.015]:
                    q = f"/collections/points/items?limit=1000&bbox={x - half:.4f},{y - half:.4f},{x + half:.4f},{y + half:.4f}"
                    n = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{OURS_PORT}{q.replace('limit=1000', 'limit=1')}").read())["numberMatched"]
                    if n <= 1500:
                        if n >= 500:
                            fitted.append((q, n))
                        break
            fitted_run = walk(f"http://127.0.0.1:{OURS_PORT}", [q for q, _ in fitted], "loop", 10, 1)
        finally:
            server.stop()
    ms = statistics.median(l["ms"] for l in loads)
    per_point = statistics.median(l["bytes"] for l in loads) / points
    index_per_point = statistics.median(l["index_bytes"] for l in loads) / points
    runs_text = ", ".join(f"{l['ms'] / 1000:.1f}" for l in loads)
    block = "\n".join([
        "<!-- index-benchmark:begin -->",
        f"## Index: {points:,} points loaded from the GeoPackage, and bbox pages over them",
        "",
        f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores. Command: `python3 bench/serve_vs_peers.py --big {points}`",
        f"(server started 3 times; load time and bytes from its own `dataset indexed` log event; then `walk`, 1 connection, 10 s of",
        f"`bbox` pages with `limit=1000` over 2°×2° boxes at data points: {min(returned)}–{max(returned)} features per page).",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| index load (scan + R-tree bulk load + the property table for tiles), median | {ms / 1000:.1f} s (runs: {runs_text}) | ≤ 10 s |",
        f"| index memory per point, without the property table | {index_per_point:.1f} bytes ({index_per_point - 16:.1f} beyond the 16 bytes of coordinates) | ≤ 48 beyond |",
        f"| memory per point, all included (index + ids and properties kept for tiles) | {per_point:.1f} bytes | |",
        f"| bbox matching 500–1 500 features ({len(fitted)} boxes fitted by halving), whole answer (GeoJSON, up to 1 000), sequential | p50 {fitted_run['p50_us'] / 1000:.1f} ms, p99 {fitted_run['p99_us'] / 1000:.1f} ms, {fitted_run['rps']:.0f} req/s | p99 ≤ 5 ms |",
        f"| 2°×2° bbox at a data point (tens of thousands of matches), first page of 1 000, sequential | p50 {sequential['p50_us'] / 1000:.1f} ms, p99 {sequential['p99_us'] / 1000:.1f} ms, {sequential['rps']:.0f} req/s | |",
        "<!-- index-benchmark:end -->",
    ])
    write_block("<!-- index-benchmark:begin -->", "<!-- index-benchmark:end -->", block)
    print(block)


def fmt_ms(us):
    return f"{us / 1000:.1f}"


def write_results(args, rows, tile_count, dense):
    def med(side, kind, key):
        return median_of(rows[(side, kind)], key)

    gdal = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True).stdout.strip()
    martin_version = subprocess.run([MARTIN, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        BEGIN,
        "## Serving: geoconsole vs Martin (tiles) and pygeoapi (items), same data, same run",
        "",
        f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores; {martin_version} over PostgreSQL 15 + PostGIS 3; "
        f"pygeoapi under gunicorn ({PYGEOAPI_WORKERS} workers) over the same PostGIS; {gdal}.",
        f"Command: `python3 bench/serve_vs_peers.py --points {args.points} --runs {args.runs} --warm-seconds {args.warm_seconds} "
        f"--items-seconds {args.items_seconds}`",
        f"Data: {args.points:,} clustered points + 50,000 polygons; tiles carry both layers (`points,zones`). Load on loopback: "
        f"cold = {tile_count} distinct z2–z14 tiles once each (bench's `walk`, 8 connections, caches off), warm = wrk, 2 threads, the same list "
        f"for {args.warm_seconds} s (32 connections, caches on), dense = the 5 densest z6 tiles one at a time, cold; "
        f"items = `walk`, 8 connections, {args.items_seconds} s, 300 bbox queries (0.5° boxes at data points) and 300 "
        f"`category=…&verified=true` queries, limit 100, every request sent counted however long it takes. "
        f"Medians of {args.runs} alternating runs.",
        "",
        "| test | geoconsole req/s | peer req/s | ratio | geoconsole p50 ms | peer p50 ms | geoconsole p99 ms | peer p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # Not like for like: at z2–z9 geoconsole draws dense points as grid clusters where Martin sends every point
    # (the like-for-like block above compares the same work).
    for kind, peer, label in [("cold", "martin", "cold z2–z14 tiles vs Martin (`-C 0`); different work: geoconsole clusters dense low-zoom tiles"),
                              ("warm", "martin", "warm z2–z14 tiles vs Martin; different work, as above")]:
        a, b = med("ours", kind, "rps"), med(peer, kind, "rps")
        lines.append(f"| {label} | {a:,.0f} | {b:,.0f} | {a / b:.1f}× | {fmt_ms(med('ours', kind, 'p50_us'))} | {fmt_ms(med(peer, kind, 'p50_us'))} | "
                     f"{fmt_ms(med('ours', kind, 'p99_us'))} | {fmt_ms(med(peer, kind, 'p99_us'))} |")
    if ("pygeoapi", "bbox") in rows:
        for kind, label in [("bbox", "items, bbox (limit 100) vs pygeoapi"), ("property", "items, property equality (limit 100) vs pygeoapi")]:
            a, b = med("ours", kind, "rps"), med("pygeoapi", kind, "rps")
            lines.append(f"| {label} | {a:,.0f} | {b:,.1f} | {a / b:.0f}× | {fmt_ms(med('ours', kind, 'p50_us'))} | {fmt_ms(med('pygeoapi', kind, 'p50_us'))} | "
                         f"{fmt_ms(med('ours', kind, 'p99_us'))} | {fmt_ms(med('pygeoapi', kind, 'p99_us'))} |")
    lines += [
        "",
        f"Dense z6 tiles ({', '.join(f'{z}/{x}/{y}' for z, x, y in dense)}), slowest of the five, median over runs: "
        f"geoconsole {fmt_ms(med('ours', 'dense', 'max_us'))} ms (largest response {med('ours', 'dense', 'bytes') / 1024:.0f} KiB), "
        f"Martin {fmt_ms(med('martin', 'dense', 'max_us'))} ms (largest {med('martin', 'dense', 'bytes') / 1024:.0f} KiB).",
        "",
        "All runs (req/s): " + "; ".join(f"{side} {kind} " + ", ".join(f"{r['rps']:,.0f}" for r in results)
                                         for (side, kind), results in sorted(rows.items()) if kind != "dense"),
        "",
        "Errors and non-2xx responses: " + ", ".join(f"{side} {kind} {sum(r.get('non2xx', 0) + r.get('errors', 0) for r in results)}"
                                                      for (side, kind), results in sorted(rows.items()) if kind != "dense"),
        END,
    ]
    block = "\n".join(lines)
    write_block(BEGIN, END, block)
    print(block)


if __name__ == "__main__":
    sys.exit(main())
