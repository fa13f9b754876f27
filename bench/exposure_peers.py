#!/usr/bin/env python3
"""The Python-side peers of the exposure benchmark (run by exposure_vs_postgis.py with the venv that has them):
GeoPandas `sjoin` and SedonaDB, asked the same question as geoconsole and PostGIS: every site with its number
of events within R metres on the sphere, and its nearest one.

Each is set up as its expert users would ask a geodesic question:
- GeoPandas (planar): `sjoin` within a degree distance wide enough for the highest site latitude, then the exact
  haversine filter (mean Earth radius, as geoconsole and PostGIS's sphere) and the per-site grouping.
- SedonaDB, two ways, and the faster one counts: (a) a planar join of each event against a box per site sized
  for that site's own latitude (so the box is as small as the question allows), then haversine; (b) its
  geography join, `ST_DWithin` on `ST_GeogPoint` values with `ST_Distance` for the nearest.
Data is loaded once, before timing.

Usage: exposure_peers.py STORE.gpkg --km 10 50 --runs 5  → JSON on stdout: {peer: {km: {runs, sites, pairs}}}
"""

import argparse
import json
import math
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd

R = 6_371_008.8


def degrees_for(metres, max_lat):
    # A degree of longitude shrinks with latitude; the widest search any site needs covers every site.
    lat = min(89.0, max_lat + metres / 111_195.0)
    return metres / 111_195.0 / math.cos(math.radians(lat))


def haversine(x1, y1, x2, y2):
    p1, p2 = np.radians(y1), np.radians(y2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(x2 - x1) / 2) ** 2
    return 2 * R * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def geopandas_side(sites, events, metres, deg):
    joined = gpd.sjoin(sites, events, predicate="dwithin", distance=deg, how="inner")
    d = haversine(joined["sx"].to_numpy(), joined["sy"].to_numpy(),
                  events["ex"].to_numpy()[joined["index_right"].to_numpy()],
                  events["ey"].to_numpy()[joined["index_right"].to_numpy()])
    near = pd.DataFrame({"site": joined.index.to_numpy(), "d": d})[d <= metres]
    per_site = near.groupby("site")["d"].agg(["count", "min"])
    return len(per_site), int(per_site["count"].sum())


SEDONA_BOX_SQL = """
SELECT count(*) AS sites, sum(n) AS pairs FROM (
  SELECT site, count(*) AS n, min(d) AS nearest FROM (
    SELECT s.fid AS site,
      2 * {r} * asin(sqrt(least(1.0,
        power(sin(radians(ST_Y(e.geometry) - s.sy) / 2), 2)
        + cos(radians(s.sy)) * cos(radians(ST_Y(e.geometry)))
          * power(sin(radians(ST_X(e.geometry) - s.sx) / 2), 2)))) AS d
    FROM site_boxes s JOIN events e ON ST_Intersects(e.geometry, s.box)
  ) pairs WHERE d <= {m} GROUP BY site
) x
"""

SEDONA_GEOGRAPHY_SQL = """
SELECT count(*) AS sites, sum(n) AS pairs FROM (
  SELECT s.fid AS site, count(*) AS n, min(ST_Distance(s.geog, e.geog)) AS nearest
  FROM site_geogs s JOIN event_geogs e ON ST_DWithin(s.geog, e.geog, {m})
  GROUP BY s.fid
) x
"""



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--km", type=float, nargs="+", default=[10, 50])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peers", nargs="+", default=["geopandas", "sedonadb"],
                    help="geopandas is never the fastest peer and takes minutes per radius; leave it out for quick runs")
    args = ap.parse_args()
    sites = gpd.read_file(args.store, layer="sites", columns=[])
    events = gpd.read_file(args.store, layer="events", columns=[])
    sites["fid"] = np.arange(len(sites))
    sites["sx"], sites["sy"] = sites.geometry.x, sites.geometry.y
    events["ex"], events["ey"] = events.geometry.x, events.geometry.y
    events = events.reset_index(drop=True)
    max_lat = float(np.abs(sites["sy"]).max())

    import sedonadb
    sd = sedonadb.connect()
    prefix = args.store.rsplit(".", 1)[0]
    sites[["fid", "geometry"]].to_parquet(f"{prefix}.sites.parquet")
    events[["geometry"]].to_parquet(f"{prefix}.events.parquet")
    sd.read_parquet(f"{prefix}.sites.parquet").to_view("sites")
    sd.read_parquet(f"{prefix}.events.parquet").to_view("events")

    sd.sql("SELECT fid, ST_GeogPoint(ST_X(geometry), ST_Y(geometry)) AS geog FROM sites").to_memtable().to_view("site_geogs")
    sd.sql("SELECT ST_GeogPoint(ST_X(geometry), ST_Y(geometry)) AS geog FROM events").to_memtable().to_view("event_geogs")

    def site_boxes(metres):
        # Each site's own box: a degree of longitude shrinks with that site's latitude, not the highest one.
        dy = metres / 111_195.0
        lat = np.minimum(89.0, np.abs(sites["sy"].to_numpy()) + dy)
        dx = np.minimum(180.0, dy / np.cos(np.radians(lat)))
        frame = pd.DataFrame({"fid": sites["fid"].to_numpy(), "sx": sites["sx"].to_numpy(), "sy": sites["sy"].to_numpy(),
                              "x0": sites["sx"].to_numpy() - dx, "y0": sites["sy"].to_numpy() - dy,
                              "x1": sites["sx"].to_numpy() + dx, "y1": sites["sy"].to_numpy() + dy})
        sd.create_data_frame(frame).to_view("site_frame", overwrite=True)
        sd.sql("SELECT fid, sx, sy, ST_SetSRID(ST_MakeEnvelope(x0, y0, x1, y1), 4326) AS box FROM site_frame").to_memtable().to_view("site_boxes", overwrite=True)

    out = {"geopandas": {}, "sedonadb": {}, "sedonadb_box": {}, "sedonadb_geography": {}, "versions": {"geopandas": gpd.__version__, "sedonadb": sedonadb.__version__}}
    for km in args.km:
        metres = km * 1000
        deg = degrees_for(metres, max_lat)
        site_boxes(metres)
        names = (["geopandas"] if "geopandas" in args.peers else []) + (["sedonadb_box", "sedonadb_geography"] if "sedonadb" in args.peers else [])
        for name in names:
            runs, answer = [], None
            for _ in range(args.runs):
                t = time.perf_counter()
                if name == "geopandas":
                    answer = geopandas_side(sites, events, metres, deg)
                else:
                    sql = SEDONA_BOX_SQL if name == "sedonadb_box" else SEDONA_GEOGRAPHY_SQL
                    row = sd.sql(sql.format(r=R, m=metres)).to_pandas().iloc[0]
                    answer = (int(row["sites"]), int(row["pairs"] or 0))
                runs.append(time.perf_counter() - t)
            out[name][str(int(km))] = {"runs": runs, "sites": answer[0], "pairs": answer[1]}
            print(f"[peers] {name} {km} km: {sorted(runs)[len(runs) // 2]:.3f} s, {answer}", file=sys.stderr, flush=True)
        if "sedonadb" not in args.peers:
            continue
        # The faster of SedonaDB's two set-ups is the one its users would keep.
        best = min(["sedonadb_box", "sedonadb_geography"], key=lambda n: sorted(out[n][str(int(km))]["runs"])[args.runs // 2])
        out["sedonadb"][str(int(km))] = {**out[best][str(int(km))], "how": best}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
