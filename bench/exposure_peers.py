#!/usr/bin/env python3
"""The Python-side peers of the exposure benchmark (run by exposure_vs_postgis.py with the venv that has them):
GeoPandas `sjoin` and SedonaDB, asked the same question as geoconsole and PostGIS: every site with its number
of events within R metres on the sphere, and its nearest one.

Both are planar engines, so each does what a user of it would for a geodesic answer: a planar join within a
degree distance wide enough for the highest site latitude, then the exact haversine filter (mean Earth radius,
as geoconsole and PostGIS's sphere) and the per-site grouping. Data is loaded once, before timing.

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


SEDONA_SQL = """
SELECT count(*) AS sites, sum(n) AS pairs FROM (
  SELECT site, count(*) AS n, min(d) AS nearest FROM (
    SELECT s.fid AS site,
      2 * {r} * asin(sqrt(least(1.0,
        power(sin(radians(ST_Y(e.geometry) - ST_Y(s.geometry)) / 2), 2)
        + cos(radians(ST_Y(s.geometry))) * cos(radians(ST_Y(e.geometry)))
          * power(sin(radians(ST_X(e.geometry) - ST_X(s.geometry)) / 2), 2)))) AS d
    FROM sites s JOIN events e ON ST_DWithin(s.geometry, e.geometry, {deg})
  ) pairs WHERE d <= {m} GROUP BY site
) x
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--km", type=float, nargs="+", default=[10, 50])
    ap.add_argument("--runs", type=int, default=5)
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

    out = {"geopandas": {}, "sedonadb": {}, "versions": {"geopandas": gpd.__version__, "sedonadb": sedonadb.__version__}}
    for km in args.km:
        metres = km * 1000
        deg = degrees_for(metres, max_lat)
        for name in ["geopandas", "sedonadb"]:
            runs, answer = [], None
            for _ in range(args.runs):
                t = time.perf_counter()
                if name == "geopandas":
                    answer = geopandas_side(sites, events, metres, deg)
                else:
                    row = sd.sql(SEDONA_SQL.format(r=R, deg=deg, m=metres)).to_pandas().iloc[0]
                    answer = (int(row["sites"]), int(row["pairs"] or 0))
                runs.append(time.perf_counter() - t)
            out[name][str(int(km))] = {"runs": runs, "sites": answer[0], "pairs": answer[1]}
            print(f"[peers] {name} {km} km: {sorted(runs)[len(runs) // 2]:.3f} s, {answer}", file=sys.stderr, flush=True)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
