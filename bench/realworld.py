#!/usr/bin/env python3
"""Real-world files against GDAL: every file of fixtures/realworld/ (every layer of a multi-layer file) read
by GDAL's ogr2ogr as the reference and imported by geoconsole, then compared feature by feature.

    python3 bench/realworld.py [--bin target/release/geoconsole] [--only SUBSTRING] [--no-write]

For each file (or layer) the outcome is one of
  matched                  same feature count, every attribute GDAL has, every geometry within tolerance
  refused-as-GDAL-refuses  the reference cannot read it either, and neither do we
  read-where-GDAL-refuses  the reference cannot read it, we import something (listed, not judged)
  refused                  GDAL reads it, geoconsole refuses (the reason is its first error line)
  differing                both read it, counts, values or geometries differ (the first differences)

The reference
  ogr2ogr -f GeoJSON OUT SRC [LAYER] -t_srs EPSG:4326 -lco RFC7946=NO -lco SIGNIFICANT_FIGURES=17
          -nlt CONVERT_TO_LINEAR
  (null and empty geometries are kept by ogr2ogr; where GDAL knows no code page for a DBF it writes the
  DBF's bytes as they are, which is not UTF-8, and the reference reads that output as Latin-1; a layer without a CRS is converted without -t_srs, i.e.
  taken as WGS84 as geoconsole takes it). Zips are read as /vsizip/FILE[/FOLDER]. CSV adds
  -oo X_POSSIBLE_NAMES=... -oo Y_POSSIBLE_NAMES=... (the names geoconsole detects) and -oo KEEP_GEOM_COLUMNS=NO;
  types are not auto-detected (GDAL keeps CSV cells as text, so leading zeros survive). KML/KMZ: GDAL makes
  one layer per folder, geoconsole one dataset per file, so all GDAL layers are concatenated in order.
  GPX: geoconsole is run with --layer for each of GDAL's five layers. GeoParquet: this GDAL (3.6, Debian)
  has no Parquet driver, so the reference is pyarrow with the file's `geo` metadata and a WKB decoder here
  (a file without `geo` metadata is not GeoParquet: the reference refuses it).

Our side
  geoconsole --store TMP.gpkg --json -q import FILE --dataset d [--layer L]
  geoconsole --store TMP.gpkg export d --output - --format geojson

Normalisation (what is NOT counted as a difference)
  * field names are compared without case; a field GDAL reports as null may be absent on our side; fields
    we add that GDAL does not have (e.g. KML `folder`, GPX `gpx_type`, `geometry_z`) are listed as notes;
    the KML display fields GDAL adds (extrude, tessellate, altitudeMode, visibility, drawOrder, icon,
    snippet), the CSV geometry columns (WKT, lat/lon) and GPX `<extensions>` (GDAL gives their raw XML as
    text fields) are not compared; dBASE logical letters GDAL keeps as text (T/Y, F/N, `?` = unknown)
    equal our true/false/null;
  * numbers: equal within 1e-9 relative (a numeric text equals the number it spells; booleans are 1/0);
    text that starts with a zero and is all digits (`00501`) is compared as text, so a lost leading zero
    counts; dates and date-times: the same instant (a time without offset is taken as UTC; a date alone is
    midnight UTC); other text: equal after trimming surrounding white space;
  * geometry: 2D only (z and m are compared by neither side's export); a Multi* of one part equals the part;
    rings are compared without regard to their first vertex or orientation; a GeometryCollection is
    compared as the list of its members; null and empty geometries are equal to each other;
    coordinates within 1e-9 degrees. Where the source holds curves (CircularString, CompoundCurve,
    CurvePolygon, MultiCurve, MultiSurface) both sides linearise with their own step, so the vertex lists
    may differ: there every vertex of each side must lie within 1e-3 degrees (about 100 m) of the other
    side's lines (symmetric vertex-to-segment distance);
  * order: features are paired in file order; if that fails but the counts agree, they are paired by their
    attributes, and an order difference alone is a note.

CAP 1.2 messages (fixtures/realworld/cap/) have no GDAL reference. They are served on 127.0.0.1 and polled
once as a `cap` feed; the expected count is the CAP standard's reading, written by hand in EXPECTED_CAP.

Writes bench/RESULTS.md (section "Real-world files against GDAL", between its markers) and
bench/realworld.json (the per-file outcome, machine-readable).
"""

import argparse
import datetime as dt
import functools
import http.server
import json
import math
import os
import re
import shutil
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from results_file import write_block

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "realworld"
JSON_OUT = Path(__file__).resolve().parent / "realworld.json"
BEGIN = "<!-- realworld-oracle:begin -->"
END = "<!-- realworld-oracle:end -->"

COORD_TOL = 1e-9
CURVE_TOL = 1e-3
REL_TOL = 1e-9

SIDECARS = {".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".md"}
KML_DISPLAY_FIELDS = {"extrude", "tessellate", "altitudemode", "visibility", "draworder", "icon", "snippet"}
CSV_X = "lon,lng,long,longitude,x,lon_dd,longitude_dd"
CSV_Y = "lat,latitude,y,lat_dd,latitude_dd"
CSV_GEOMETRY_FIELDS = {"wkt", "geometry", "geom", "the_geom"} | set(CSV_X.split(",")) | set(CSV_Y.split(","))
CURVE_WORDS = ("CIRCULAR", "COMPOUND", "CURVE", "SURFACE")

# What the CAP 1.2 standard says each message is: (alerts with a location, why). A circle of radius 0 is a
# point (the standard: "a radius value of 0 ... a point"); an area given only by geocodes is a located area
# whose shape the receiver looks up, so the alert is still one alert.
EXPECTED_CAP = {
    "cap12_oasis_A2_thunderstorm_polygon.xml": (1, "one polygon"),
    "cap12_oasis_A3_earthquake_circle_radius0.xml": (1, "an Update whose area is a circle of radius 0 (a point)"),
    "cap12_ntwc_PAAQ-4-mg5a94_tsunami_cancel_circle0.xml": (1, "a real NTWC Update; epicentre as a circle of radius 0.0"),
    "cap12_oasis_A4_amber_geocode_only.xml": (1, "area only by a SAME geocode; en-US and es-US info blocks"),
    "cap12_oasis_A4_declared_utf8_written_cp1252.xml": (1, "same message, declared UTF-8 but written in Windows-1252"),
    "cap11_nws_blizzard_geocode_only_empty_polygon.xml": (1, "CAP 1.1; empty <polygon>, area by FIPS6/UGC geocodes"),
}


# ---------------------------------------------------------------------------------------------- helpers

def run(cmd, timeout=300, **kw):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout} s"


def first_error(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        if l.startswith(("error", "ERROR", "FAILURE", "Error")):
            return l[:300]
    return (lines[-1] if lines else "(no message)")[:300]


class Unit:
    """One thing to compare: a file, or one layer of it."""

    def __init__(self, path, fmt, layer=None, gdal_src=None, gdal_layers=None, our_layer=None):
        self.path = path
        self.fmt = fmt
        self.layer = layer  # the name shown in the table
        self.gdal_src = gdal_src or str(path)
        self.gdal_layers = gdal_layers  # None: the only layer; [] : GDAL found none
        self.our_layer = our_layer
        self.curved = False

    @property
    def rel(self):
        return str(self.path.relative_to(CORPUS))

    @property
    def key(self):
        return self.rel + (f" --layer {self.layer}" if self.layer else "")


def gdal_layer_list(src, oo=()):
    """[(name, geometry type text)] as `ogrinfo -so` lists them, or None when GDAL cannot open src."""
    code, out, err = run(["ogrinfo", "-ro", "-so", *oo, src], timeout=120)
    if code != 0:
        return None, first_error(err or out)
    layers = []
    for line in out.splitlines():
        m = re.match(r"^(\d+): (.*?)(?: \(([^()]*)\))?$", line)
        if m:
            layers.append((m.group(2), m.group(3) or ""))
    return layers, ""


def gdal_counts(src):
    """{layer: feature count} as `ogrinfo -so -al` reports them."""
    code, out, _ = run(["ogrinfo", "-ro", "-so", "-al", src], timeout=120)
    counts, name = {}, None
    for line in out.splitlines():
        if line.startswith("Layer name: "):
            name = line[len("Layer name: "):].strip()
        elif line.startswith("Feature Count: ") and name is not None:
            counts[name] = int(line.split(":")[1])
    return counts


def csv_open_options():
    return ["-oo", f"X_POSSIBLE_NAMES={CSV_X}", "-oo", f"Y_POSSIBLE_NAMES={CSV_Y}", "-oo", "KEEP_GEOM_COLUMNS=NO"]


def discover(only=None):
    units = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_dir() or path.suffix.lower() in SIDECARS or path.name.startswith("."):
            continue
        top = path.relative_to(CORPUS).parts[0]
        if top == "cap":
            continue
        if only and only not in str(path.relative_to(CORPUS)):
            continue
        fmt = top
        if fmt == "gpkg" or fmt == "gpx":
            layers, err = gdal_layer_list(str(path))
            if fmt == "gpx" and layers:
                # GDAL always lists GPX's five layers; only those holding features are compared, and a file
                # with none is compared whole (GDAL: 0 features)
                counts = gdal_counts(str(path))
                layers = [(n, t) for n, t in layers if counts.get(n, 0) > 0]
                if not layers:
                    u = Unit(path, fmt, gdal_layers=[n for n in counts])
                    units.append(u)
                    continue
            if not layers:
                u = Unit(path, fmt, gdal_layers=[])
                u.gdal_error = err or "no layer"
                units.append(u)
                continue
            for name, gtype in layers:
                u = Unit(path, fmt, layer=name, gdal_layers=[name], our_layer=name)
                u.curved = any(w in gtype.upper() for w in CURVE_WORDS)
                units.append(u)
        elif fmt == "kml":
            src = f"/vsizip/{path}/doc.kml" if path.suffix.lower() == ".kmz" else str(path)
            layers, err = gdal_layer_list(src)
            u = Unit(path, fmt, gdal_src=src, gdal_layers=[n for n, _ in layers] if layers else [])
            u.gdal_error = err
            units.append(u)
        elif fmt == "zip":
            units.extend(zip_units(path))
        else:
            u = Unit(path, fmt)
            if fmt == "csv":
                u.curved = any(w in path.read_text(errors="replace")[:100000].upper() for w in ("CIRCULARSTRING", "COMPOUNDCURVE", "MULTICURVE", "CURVEPOLYGON", "MULTISURFACE"))
            units.append(u)
    for u in units:
        if u.fmt == "gpkg" and u.gdal_layers:
            pass
    return units


def zip_units(path):
    """A zip of shapefiles: one unit per .shp member (GDAL reads /vsizip/FILE/FOLDER, geoconsole --layer MEMBER
    when there are several)."""
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile as e:
        u = Unit(path, "zip", gdal_layers=[])
        u.gdal_error = str(e)
        return [u]
    shps = [n for n in names if n.lower().endswith(".shp")]
    if not shps:
        u = Unit(path, "zip", gdal_src=f"/vsizip/{path}", gdal_layers=[])
        layers, err = gdal_layer_list(u.gdal_src)
        u.gdal_error = err or "no layer"
        return [u]
    units = []
    for shp in shps:
        folder = os.path.dirname(shp)
        src = f"/vsizip/{path}" + (f"/{folder}" if folder else "")
        stem = os.path.splitext(os.path.basename(shp))[0]
        layer = shp if len(shps) > 1 else None
        u = Unit(path, "zip", layer=layer, gdal_src=src, gdal_layers=[stem], our_layer=layer)
        units.append(u)
    return units


# ------------------------------------------------------------------------------------------- reference

def gdal_features(unit, tmp):
    """(features, error): GDAL's reading of the unit as GeoJSON features in EPSG:4326."""
    if unit.fmt == "geoparquet":
        return parquet_features(unit.path)
    if unit.gdal_layers == [] :
        return None, getattr(unit, "gdal_error", "") or "GDAL opens no layer"
    oo = csv_open_options() if unit.fmt == "csv" else []
    layers = unit.gdal_layers if unit.gdal_layers is not None else [None]
    src, config = unit.gdal_src, []
    if unit.fmt == "geojsonseq":
        # by content alone GDAL takes a newline-delimited file for GeoJSON and reads its first object
        src = "GeoJSONSeq:" + src
    if unit.fmt == "shapefile" and not unit.path.with_suffix(".shx").exists():
        # GDAL opens a .shp without its .shx only when told to rebuild the index, which it writes beside the
        # file: so it reads a copy
        copy = os.path.join(tmp, "shx_restored")
        os.makedirs(copy, exist_ok=True)
        for side in unit.path.parent.glob(unit.path.stem + ".*"):
            shutil.copy(side, copy)
        src, config = os.path.join(copy, unit.path.name), ["--config", "SHAPE_RESTORE_SHX", "YES"]
        unit.notes_ref = "GDAL read it with SHAPE_RESTORE_SHX=YES (the .shx is missing)"
    features = []
    for i, layer in enumerate(layers):
        out = os.path.join(tmp, f"gdal_{i}.geojson")
        base = ["ogr2ogr", *config, "-f", "GeoJSON", out, src, *([layer] if layer else []), *oo,
                "-lco", "RFC7946=NO", "-lco", "SIGNIFICANT_FIGURES=17"]
        code, se = 1, ""
        # curves linearised; TIN and PolyhedralSurface (no GeoJSON type) as MultiPolygons; a layer without a
        # CRS as it is (WGS84, as geoconsole takes it)
        for nlt in ("CONVERT_TO_LINEAR", "MULTIPOLYGON"):
            for srs in (["-t_srs", "EPSG:4326"], []):
                if os.path.exists(out):
                    os.remove(out)
                code, so, se = run(base + ["-nlt", nlt] + srs)
                if code == 0 or not re.search(r"has\s+no\s+coordinate\s+system", se):
                    break
            if code == 0 or "unsupported as a GeoJSON geometry" not in se:
                break
        if code != 0:
            return None, first_error(se or so)
        data = Path(out).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # GDAL passes a DBF's bytes through when it knows no code page: read them as Latin-1
            text = data.decode("latin-1")
            unit.notes_ref = "GDAL wrote the DBF's bytes as they are (not UTF-8); read as Latin-1"
        features.extend(json.loads(text).get("features", []))
        os.remove(out)
    if unit.fmt == "kml":
        for f in features:
            f["properties"] = {k: v for k, v in (f.get("properties") or {}).items() if k.lower() not in KML_DISPLAY_FIELDS}
    if unit.fmt == "gpx":
        for f in features:
            f["properties"] = {k: v for k, v in (f.get("properties") or {}).items() if "extension" not in k.lower()}
    if unit.fmt == "csv":
        for f in features:
            f["properties"] = {k: v for k, v in (f.get("properties") or {}).items() if k.lower() not in CSV_GEOMETRY_FIELDS}
    return features, ""


def parquet_features(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None, "pyarrow is not installed"
    table = pq.read_table(path)
    meta = (table.schema.metadata or {}).get(b"geo")
    if not meta:
        return None, "no `geo` metadata: not GeoParquet"
    geo = json.loads(meta)
    col = geo.get("primary_column", "geometry")
    encoding = geo["columns"][col].get("encoding", "WKB").upper()
    crs = geo["columns"][col].get("crs")
    if crs not in (None,) and not is_crs84(crs):
        return None, f"CRS {json.dumps(crs)[:80]} is not transformed by this reference"
    rows = table.to_pylist()
    features = []
    for row in rows:
        g = row.pop(col)
        if encoding != "WKB":
            return None, f"encoding {encoding} is not decoded by this reference"
        geom = wkb_to_geojson(g) if g is not None else None
        props = {k: (v if not isinstance(v, (bytes, bytearray)) else v.hex()) for k, v in row.items()}
        # a bbox covering column is not data (geoconsole leaves it out, as the README says)
        covering = geo["columns"][col].get("covering", {}).get("bbox", {})
        for name in {c[0] for c in covering.values() if isinstance(c, list)} | ({"bbox"} if "bbox" in props and isinstance(props.get("bbox"), dict) else set()):
            props.pop(name, None)
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return features, ""


def is_crs84(crs):
    text = json.dumps(crs)
    return '"code": 4326' in text or "CRS84" in text or "OGC:CRS84" in text


def wkb_to_geojson(b):
    b = bytes(b)
    pos = [0]

    def read(fmt, order):
        size = struct.calcsize(fmt)
        v = struct.unpack_from(("<" if order else ">") + fmt, b, pos[0])
        pos[0] += size
        return v

    def geom():
        order = b[pos[0]] == 1
        pos[0] += 1
        (t,) = read("I", order)
        dims = 2
        base = t % 1000
        if t >= 3000 or t & 0xC0000000 == 0xC0000000:
            dims = 4
        elif t >= 1000 or t & 0x80000000 or t & 0x40000000:
            dims = 3
        base = (t & 0x0FFFFFFF) % 1000
        fmt = "d" * dims

        def pt():
            return list(read(fmt, order))[:2]

        def pts():
            (n,) = read("I", order)
            return [pt() for _ in range(n)]

        if base == 1:
            c = pt()
            return {"type": "Point", "coordinates": [] if any(math.isnan(x) for x in c) else c}
        if base == 2:
            return {"type": "LineString", "coordinates": pts()}
        if base == 3:
            (n,) = read("I", order)
            return {"type": "Polygon", "coordinates": [pts() for _ in range(n)]}
        if base in (4, 5, 6, 7):
            (n,) = read("I", order)
            members = [geom() for _ in range(n)]
            if base == 7:
                return {"type": "GeometryCollection", "geometries": members}
            name = {4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}[base]
            return {"type": name, "coordinates": [m["coordinates"] for m in members]}
        raise ValueError(f"WKB type {t}")

    return geom()


# -------------------------------------------------------------------------------------------- our side

def our_features(binary, unit, tmp):
    store = os.path.join(tmp, "ours.gpkg")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(store + suffix):
            os.remove(store + suffix)
    staging = os.path.join(tmp, "ours.gpkg.staging")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [binary, "--store", store, "--json", "-q", "import", str(unit.path), "--dataset", "d"]
    if unit.our_layer:
        cmd += ["--layer", unit.our_layer]
    code, out, err = run(cmd, cwd=tmp, env=clean_env())
    if code != 0:
        return None, first_error(err or out), " ".join(cmd)
    code, out, err = run([binary, "--store", store, "export", "d", "--output", "-", "--format", "geojson"], cwd=tmp, env=clean_env())
    if code != 0:
        return None, "export failed: " + first_error(err or out), " ".join(cmd)
    return json.loads(out).get("features", []), "", " ".join(cmd)


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOCONSOLE_")}
    return env


# ------------------------------------------------------------------------------------------ comparison

DBF_LOGICAL = {"T": True, "t": True, "Y": True, "y": True, "F": False, "f": False, "N": False, "n": False, "?": None, "": None}
DATE_RE = re.compile(r"^\d{4}[-/]\d{2}[-/]\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def norm_value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return ("n", 1.0 if v else 0.0)
    if isinstance(v, (int, float)):
        return ("n", float(v))
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return ("s", "")
        if re.fullmatch(r"[+-]?0\d+", s):
            return ("s", s)
        if NUM_RE.match(s):
            return ("n", float(s))
        if DATE_RE.match(s):
            t = parse_time(s)
            if t is not None:
                return ("t", t)
        return ("s", s)
    return ("s", json.dumps(v, sort_keys=True, ensure_ascii=False))


def parse_time(s):
    s = s.replace("/", "-").replace(" ", "T", 1).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    m = re.match(r"^(.*[T\d])([+-]\d{2})(\d{2})$", s)
    if m and "T" in s:
        s = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return round(t.timestamp(), 3)


def same_value(a, b):
    if a is None or b is None:
        return a is None and b is None
    if a[0] == "n" and b[0] == "n":
        x, y = a[1], b[1]
        return x == y or abs(x - y) <= REL_TOL * max(abs(x), abs(y), 1.0)
    return a == b


def geom_parts(g):
    """(kind, [parts]) with each part a list of coordinate lists (rings, or one line, or one point)."""
    if not g:
        return []
    t = g.get("type")
    c = g.get("coordinates")
    if t == "GeometryCollection":
        out = []
        for m in g.get("geometries") or []:
            out.extend(geom_parts(m))
        return out
    if not c:
        return []
    if t == "Point":
        return [("point", [[c[:2]]])]
    if t == "MultiPoint":
        return [("point", [[p[:2]]]) for p in c if p]
    if t == "LineString":
        return [("line", [[p[:2] for p in c]])]
    if t == "MultiLineString":
        return [("line", [[p[:2] for p in l]]) for l in c if l]
    if t == "Polygon":
        return [("polygon", [ring_norm(r) for r in c if r])]
    if t == "MultiPolygon":
        return [("polygon", [ring_norm(r) for r in poly if r]) for poly in c if poly]
    return [("unknown:" + str(t), [])]


def ring_norm(ring):
    pts = [p[:2] for p in ring]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if not pts:
        return pts
    i = min(range(len(pts)), key=lambda k: (pts[k][0], pts[k][1]))
    fwd = pts[i:] + pts[:i]
    back = [fwd[0]] + fwd[1:][::-1]
    if len(fwd) > 1 and (back[1][0], back[1][1]) < (fwd[1][0], fwd[1][1]):
        return back
    return fwd


def seg_dist(p, a, b):
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def near_lines(points, lines, tol):
    for p in points:
        best = min((seg_dist(p, l[i], l[i + 1]) for l in lines for i in range(len(l) - 1)), default=math.inf)
        best = min(best, min((math.hypot(p[0] - q[0], p[1] - q[1]) for l in lines for q in l), default=math.inf))
        if best > tol:
            return False, best
    return True, 0.0


def compare_geometry(g, o, curved):
    """None when equal, else a short reason."""
    gp, op = geom_parts(g), geom_parts(o)
    if not gp and not op:
        return None
    if not gp or not op:
        return f"geometry {'null/empty' if not gp else g.get('type')} vs ours {'null/empty' if not op else o.get('type')}"
    if curved:
        gl = [r + r[:1] if k == "polygon" else r for k, parts in gp for r in parts]
        ol = [r + r[:1] if k == "polygon" else r for k, parts in op for r in parts]
        ok1, d1 = near_lines([p for l in ol for p in l], gl, CURVE_TOL)
        ok2, d2 = near_lines([p for l in gl for p in l], ol, CURVE_TOL)
        return None if ok1 and ok2 else f"linearised curve off by {max(d1, d2):.3g}° (> {CURVE_TOL})"
    if [k for k, _ in gp] != [k for k, _ in op]:
        return f"geometry {g.get('type')} ({len(gp)} parts) vs ours {o.get('type')} ({len(op)} parts)"
    for (k, gparts), (_, oparts) in zip(gp, op):
        if len(gparts) != len(oparts):
            return f"{k} with {len(gparts)} rings/lines vs ours {len(oparts)}"
        for gr, orr in zip(gparts, oparts):
            if len(gr) != len(orr):
                return f"{k} with {len(gr)} vertices vs ours {len(orr)}"
            for a, b in zip(gr, orr):
                if abs(a[0] - b[0]) > COORD_TOL or abs(a[1] - b[1]) > COORD_TOL:
                    return f"vertex {a} vs ours {b}"
    return None


def lower_props(f):
    return {k.lower(): v for k, v in (f.get("properties") or {}).items()}


def compare_feature(i, g, o, curved, diffs, extras):
    gprops, oprops = lower_props(g), lower_props(o)
    for name, gv in gprops.items():
        ov = oprops.get(name)
        if name == "id" and "id" not in oprops and o.get("id") is not None:
            # GDAL shows a GeoJSON feature's `id` member as a field; ours is the feature's id
            ov = o.get("id")
            oprops = {**oprops, "id": ov}
        a, b = norm_value(gv), norm_value(ov)
        if a is None and name not in oprops:
            continue
        if isinstance(ov, bool) or ov is None:
            # GDAL keeps dBASE logical values as their letters; `?` (and blank) is dBASE's "unknown"
            if isinstance(gv, str) and gv.strip() in DBF_LOGICAL:
                if DBF_LOGICAL[gv.strip()] == ov:
                    continue
        if not same_value(a, b):
            diffs.append(f"feature {i} `{name}`: GDAL {short(gv)} vs ours {short(ov) if name in oprops else '(absent)'}")
    for name in oprops:
        if name not in gprops:
            extras.add(name)
    why = compare_geometry(g.get("geometry"), o.get("geometry"), curved)
    if why:
        diffs.append(f"feature {i}: {why}")


def short(v, n=60):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def compare(unit, gdal, ours):
    """(outcome, details, notes)"""
    notes = []
    if len(gdal) != len(ours):
        return "differing", [f"count: GDAL {len(gdal)}, ours {len(ours)}"], notes
    diffs, extras = [], set()
    for i, (g, o) in enumerate(zip(gdal, ours)):
        compare_feature(i, g, o, unit.curved, diffs, extras)
    if diffs:
        # paired by attributes instead of file order?
        def sig(f):
            return json.dumps({k: norm_value(v) for k, v in lower_props(f).items() if v is not None}, sort_keys=True)
        pool = {}
        for o in ours:
            pool.setdefault(sig(o), []).append(o)
        alt, ext2 = [], set()
        paired = True
        for i, g in enumerate(gdal):
            gs = json.dumps({k: norm_value(v) for k, v in lower_props(g).items() if v is not None}, sort_keys=True)
            cands = pool.get(gs) or []
            if not cands:
                paired = False
                break
            compare_feature(i, g, cands.pop(0), unit.curved, alt, ext2)
        if paired and not alt:
            notes.append("features in another order than GDAL's")
            diffs = []
    if extras:
        notes.append("fields only we have: " + ", ".join(sorted(extras)))
    if diffs:
        return "differing", diffs, notes
    return "matched", [], notes


# ------------------------------------------------------------------------------------------------- CAP

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def cap_results(binary, tmp, only=None):
    files = sorted((CORPUS / "cap").glob("*.xml"))
    if only:
        files = [f for f in files if only in str(f.relative_to(CORPUS))]
    if not files:
        return []
    handler = functools.partial(QuietHandler, directory=str(CORPUS / "cap"))
    server = socketserver.TCPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    results = []
    try:
        for n, path in enumerate(files):
            d = os.path.join(tmp, f"cap{n}")
            os.makedirs(d, exist_ok=True)
            Path(d, "geoconsole.toml").write_text('[network]\nallow = ["127.0.0.1"]\n')
            store = os.path.join(d, "cap.gpkg")
            expected, why = EXPECTED_CAP.get(path.name, (None, "not listed in EXPECTED_CAP"))
            base = [binary, "--store", store, "--config", "geoconsole.toml"]
            code, out, err = run(base + ["feeds", "add", "--name", "cap", "--url", f"http://127.0.0.1:{port}/{path.name}",
                                         "--format", "cap", "--dataset", "alerts", "--paused"], cwd=d, env=clean_env())
            if code != 0:
                results.append(cap_row(path, expected, why, "refused", None, first_error(err or out)))
                continue
            code, out, err = run(base + ["--json", "feeds", "poll-now", "cap"], cwd=d, env=clean_env())
            if code != 0:
                results.append(cap_row(path, expected, why, "refused", None, first_error(err or out)))
                continue
            report = json.loads(out)
            report = report[0] if isinstance(report, list) and report else report
            skipped = [str(x) for x in report.get("skipped_reasons", [])] if isinstance(report, dict) else []
            if isinstance(report, dict) and report.get("outcome") not in (None, "ok"):
                skipped.append(str(report.get("error") or report.get("outcome")))
            code, out, err = run(base + ["export", "alerts", "--output", "-", "--format", "geojson"], cwd=d, env=clean_env())
            count = len(json.loads(out).get("features", [])) if code == 0 else 0
            if count == expected:
                outcome, reason = "matched", ""
            elif count == 0:
                outcome, reason = "refused", "; ".join(skipped)[:300] or first_error(err or out)
            else:
                outcome, reason = "differing", f"count: expected {expected}, ours {count}"
            results.append(cap_row(path, expected, why, outcome, count, reason))
    finally:
        server.shutdown()
    return results


def find_skipped(report):
    found = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("skipped", "skipped_entries", "errors", "error", "last_error") and x:
                    if isinstance(x, list):
                        found.extend(str(e.get("reason", e) if isinstance(e, dict) else e) for e in x)
                    else:
                        found.append(str(x))
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(report)
    return found


def cap_row(path, expected, why, outcome, count, reason):
    return {"file": str(path.relative_to(CORPUS)), "layer": None, "format": "cap", "outcome": outcome,
            "reference": "CAP 1.2 standard (by hand): " + why, "gdal_count": expected, "our_count": count,
            "details": [reason] if reason else [], "notes": [], "our_error": reason if outcome == "refused" else "",
            "gdal_error": ""}


# ------------------------------------------------------------------------------------------------ main

def evaluate(binary, unit, tmp):
    gdal, gerr = gdal_features(unit, tmp)
    ours, oerr, cmd = our_features(binary, unit, tmp)
    row = {"file": unit.rel, "layer": unit.layer, "format": unit.fmt, "gdal_count": None if gdal is None else len(gdal),
           "our_count": None if ours is None else len(ours), "details": [], "notes": [], "our_error": oerr,
           "gdal_error": gerr, "reference": "pyarrow + WKB" if unit.fmt == "geoparquet" else "ogr2ogr"}
    if unit.curved:
        row["notes"].append(f"curves linearised, compared within {CURVE_TOL}°")
    if getattr(unit, "notes_ref", None):
        row["notes"].append(unit.notes_ref)
    if gdal is None:
        row["outcome"] = "refused-as-GDAL-refuses" if ours is None else "read-where-GDAL-refuses"
        row["details"] = [f"reference: {gerr}"] + ([f"ours: {oerr}"] if oerr else [])
        return row
    if ours is None:
        row["outcome"] = "refused"
        row["details"] = [oerr]
        return row
    outcome, details, notes = compare(unit, gdal, ours)
    row["outcome"] = outcome
    row["details"] = details
    row["notes"] += notes
    return row


def markdown(rows, command, gdal_version, binary_version):
    order = ["matched", "refused-as-GDAL-refuses", "read-where-GDAL-refuses", "refused", "differing"]
    counts = {k: sum(1 for r in rows if r["outcome"] == k) for k in order}
    lines = [BEGIN, "## Real-world files against GDAL", "",
             f"Run {dt.date.today().isoformat()}; {binary_version}; {gdal_version}.",
             f"Command: `{command}` (the corpus and where each file comes from: `fixtures/realworld/README.md`;",
             "the reference, our side and the normalisation are described at the top of `bench/realworld.py`;",
             "per-file outcome as JSON: `bench/realworld.json`).", "",
             "| outcome | files/layers |", "|---|---|"]
    lines += [f"| {k} | {counts[k]} |" for k in order]
    lines += [f"| total | {len(rows)} |", "",
              "| file | layer | reference count | ours | outcome | first difference or reason |", "|---|---|---|---|---|---|"]
    for r in rows:
        detail = "; ".join(r["details"][:2]) if r["details"] else ("; ".join(r["notes"]) if r["notes"] else "")
        detail = detail.replace("|", "\\|").replace("\n", " ")
        cnt = lambda v: "–" if v is None else str(v)
        lines.append(f"| `{r['file']}` | {r['layer'] or ''} | {cnt(r['gdal_count'])} | {cnt(r['our_count'])} | {r['outcome']} | {detail} |")
    lines.append(END)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="geoconsole binary (default: target/release/geoconsole, else target/debug)")
    ap.add_argument("--only", help="only files whose path under fixtures/realworld contains this")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and realworld.json alone")
    args = ap.parse_args()
    binary = args.bin or next((str(p) for p in (ROOT / "target/release/geoconsole", ROOT / "target/debug/geoconsole") if p.exists()), None)
    if not binary:
        sys.exit("build geoconsole first: cargo build --release -p geoconsole")
    rows = []
    with tempfile.TemporaryDirectory(prefix="realworld-") as tmp:
        for unit in discover(args.only):
            with tempfile.TemporaryDirectory(dir=tmp) as one:
                row = evaluate(binary, unit, one)
            rows.append(row)
            print(f"{row['outcome']:<24} {unit.key}  {('; '.join(row['details'][:1]))[:150]}", flush=True)
        for row in cap_results(binary, tmp, args.only):
            rows.append(row)
            print(f"{row['outcome']:<24} {row['file']}  {('; '.join(row['details'][:1]))[:150]}", flush=True)
    summary = {}
    for r in rows:
        summary[r["outcome"]] = summary.get(r["outcome"], 0) + 1
    print(json.dumps(summary))
    if args.no_write:
        return
    command = "python3 bench/realworld.py" + (f" --bin {args.bin}" if args.bin else "") + (f" --only {args.only}" if args.only else "")
    _, gv, _ = run(["ogrinfo", "--version"])
    _, bv, _ = run([binary, "--version"])
    JSON_OUT.write_text(json.dumps({"command": command, "gdal": gv.strip(), "geoconsole": bv.strip(), "summary": summary, "results": rows}, indent=1, ensure_ascii=False) + "\n")
    write_block(BEGIN, END, markdown(rows, command, gv.strip(), bv.strip()), heading=None)


if __name__ == "__main__":
    main()
