#!/usr/bin/env python3
"""Real-world files against GDAL: every file of fixtures/realworld/ (every layer of a multi-layer file) read
by GDAL's ogr2ogr as the reference and imported by geoconsole, then compared feature by feature.

    python3 bench/realworld.py [--bin target/release/geoconsole] [--only SUBSTRING] [--no-write]

This is the same comparison as the CI test `crates/cli/tests/realworld.rs` (its units, reference, our side,
normalisation and verdict, ported line by line; where the two disagree the test is the authority and this
script is the bug). Every row's `key` is the test's (`FILE`, `FILE#LAYER`, `cap/NAME`, `cap/NAME#file`), and
a row that is not matched is checked against the test's `KNOWN_DIFFERENCES` (read from the test's source):
one that the list does not name, or an entry whose row now matches, is what would fail CI, and is printed
and written under the table.

For each file (or layer) the outcome is one of
  matched                  same feature count, every attribute GDAL has, each feature's extent within tolerance
  refused-as-GDAL-refuses  the reference cannot read it either, and neither do we (not a failure in CI)
  read-where-GDAL-refuses  the reference cannot read it, we import something (a failure in CI)
  refused                  GDAL reads it, geoconsole refuses (the reason is its first error line)
  differing                both read it, counts, values or extents differ (the first differences)

Units (as the test's `units()`)
  every file under fixtures/realworld/ except cap/ and the sidecars (.shx .dbf .prj .cpg .sbn .sbx .md), in
  path order; GeoPackage: one unit per layer `ogrinfo -so -al` lists; GPX: one per layer holding features (a
  file with none is compared whole, over all of GDAL's layers, with geoconsole given no --layer); KML/KMZ: one
  per file, all GDAL layers (one per folder) concatenated in order (a KMZ is read as /vsizip/FILE/doc.kml);
  zips of shapefiles: one per .shp member, GDAL reading /vsizip/FILE[/FOLDER] layer STEM, geoconsole given
  --layer MEMBER when there are several. GeoPackage layers whose geometry type is a curve type, and CSV files
  that hold the word CURVE, are "curved".

The reference
  ogr2ogr -f GeoJSON OUT SRC [LAYER] -lco RFC7946=NO -lco SIGNIFICANT_FIGURES=17 -nlt CONVERT_TO_LINEAR
          -t_srs EPSG:4326
  retried without -t_srs when GDAL says the layer has no coordinate system (taken as WGS84, as geoconsole
  takes it) and with -nlt MULTIPOLYGON when the geometry type is unsupported as GeoJSON (TIN, polyhedral
  surfaces). Where GDAL knows no code page for a DBF it writes the DBF's bytes as they are, which is not
  UTF-8: that output is read as Latin-1. CSV adds -oo X_POSSIBLE_NAMES=... -oo Y_POSSIBLE_NAMES=... (the names
  geoconsole detects) and -oo KEEP_GEOM_COLUMNS=NO; types are not auto-detected (GDAL keeps CSV cells as text,
  so leading zeros survive). GeoJSONSeq is opened as GeoJSONSeq:FILE (by content GDAL reads a newline-delimited
  file as GeoJSON and stops after the first object). A .shp without its .shx is read from a copy with
  --config SHAPE_RESTORE_SHX YES (GDAL writes the rebuilt index beside the file). GeoParquet: this GDAL (3.6,
  Debian) has no Parquet driver, so the reference is pyarrow's rows (without the primary geometry column and
  `bbox`, other values as JSON or their text); a file without `geo` metadata is not GeoParquet (the
  reference refuses it).

Our side
  geoconsole --store TMP.gpkg -q import FILE --dataset d [--layer L]
  geoconsole --store TMP.gpkg export d --output - --format geojson

Normalisation (what is NOT counted as a difference)
  * fields: GDAL's fields are compared, names without case; a field GDAL reports as null may be absent on
    our side, and GDAL's `id` is our feature's id when we have no such field; fields we add that GDAL does
    not have (e.g. KML `folder`, GPX `link1_href`) are listed as notes. Not compared: the KML display fields
    GDAL adds (extrude, tessellate, altitudeMode, visibility, drawOrder, icon, snippet), GPX `<extensions>`
    (GDAL gives their raw XML as text fields), and for CSV and spreadsheets the geometry columns (WKT,
    geometry, geom, the_geom) and the coordinate columns (lon/lat names as above), which become the geometry;
  * values: numbers equal within 1e-9 relative (a numeric text, digits with an optional sign and point and
    no letter, equals the number it spells; booleans are 1/0); text that starts with a zero and is all
    digits (`00501`) is text, so a lost leading zero counts; dates and date-times (RFC 3339, or
    `YYYY-MM-DD[T ]HH:MM:SS[.f]` without offset = UTC, or with an offset, or a date alone = midnight UTC,
    `/` taken as `-`) are the same instant to the millisecond; other text: equal after trimming white space;
    dBASE logical letters GDAL keeps as text (T/t/Y/y, F/f/N/n) equal our true/false, and `?` or blank
    equals our null;
  * geometry: each feature's 2D extent (null and empty geometries equal each other) within 1e-9 degrees, or
    1e-3 degrees (about 100 m) in a curved unit, where both sides linearise arcs with their own step.
    Spreadsheets: GDAL's XLSX and ODS drivers read no geometry, so only the sheet's rows and other columns
    are compared (the positions come from the same columns as CSV's, which CSV compares). GeoParquet: the
    reference's extents are not compared (the test does not decode WKB);
  * order: features are paired in file order; if that fails but the counts agree, they are paired by their
    attributes (non-null values after normalisation), and an order difference alone is a note.

Beyond the test (notes only, never the outcome): a vertex-by-vertex check of every pair of features compared (2D, a Multi*
of one part equals the part, rings without regard to their first vertex or orientation, coordinates within
1e-9 degrees; in a curved unit every vertex of each side within 1e-3 degrees of the other side's lines) and,
for GeoParquet, the same check against the WKB decoded here. Its findings are written as `vertex check: ...`
notes, so a difference that the extent does not see is still shown. Spreadsheets: our point against the
sheet's coordinate columns as GDAL reads them.

CAP messages (fixtures/realworld/cap/) have no GDAL reference: the expected count is the CAP standard's
reading, written by hand in EXPECTED_CAP (the test's table). Alerts given only by geocodes are placed by
joining their codes to an areas dataset: each store first imports fixtures/feeds/cap_test_zones.geojson as
dataset `zones` (codes in `code`). Each message makes two rows, both judged by the count the standard gives:
  cap/NAME       served on 127.0.0.1 and polled once as a feed:
                 feeds add --name cap --url URL --format cap --dataset alertsN --areas zones
                           --area-code-field code --paused;  --json feeds poll-now cap;  export alertsN
  cap/NAME#file  imported as a file:
                 import FILE --dataset alerts --skip-invalid --areas zones --area-code-field code;
                 export alerts (no dataset to export: 0 alerts)

Writes bench/RESULTS.md (section "Real-world files against GDAL", between its markers) and
bench/realworld.json (the per-row outcome, machine-readable).
"""

import argparse
import datetime as dt
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
CAP_ZONES = ROOT / "fixtures" / "feeds" / "cap_test_zones.geojson"
RUST_TEST = ROOT / "crates" / "cli" / "tests" / "realworld.rs"
JSON_OUT = Path(__file__).resolve().parent / "realworld.json"
BEGIN = "<!-- realworld-oracle:begin -->"
END = "<!-- realworld-oracle:end -->"

COORD_TOL = 1e-9
CURVE_TOL = 1e-3
REL_TOL = 1e-9

SIDECARS = {"shx", "dbf", "prj", "cpg", "sbn", "sbx", "md"}
KML_DISPLAY_FIELDS = {"extrude", "tessellate", "altitudemode", "visibility", "draworder", "icon", "snippet"}
CSV_X = "lon,lng,long,longitude,x,lon_dd,longitude_dd"
CSV_Y = "lat,latitude,y,lat_dd,latitude_dd"
CSV_GEOMETRY_FIELDS = {"wkt", "geometry", "geom", "the_geom"} | set(CSV_X.split(",")) | set(CSV_Y.split(","))
CURVE_WORDS = ("CIRCULAR", "COMPOUND", "CURVE", "SURFACE")
# the variables the test's binary runs without (`support::Run::command`)
CLEARED_ENV = ("GEOCONSOLE_STORE", "GEOCONSOLE_CONFIG", "GEOCONSOLE_LOG")

# What the CAP standard makes of each message, in the test's order: (alerts with a location, why). A circle
# of radius 0 is a point (the standard: "a radius value of 0 ... a point"); an area given only by geocodes is
# a located area whose shape the receiver looks up, so the alert is still one alert.
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


def first_line(text, default):
    """The first line that is not blank (as the test reports an error), else `default`."""
    return next((l for l in text.splitlines() if l.strip()), default)[:300]


def clean_env():
    return {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}


def known_differences():
    """The test's KNOWN_DIFFERENCES as {key: why}, read from its source."""
    text = RUST_TEST.read_text()
    m = re.search(r"const KNOWN_DIFFERENCES[^=]*=\s*&\[(.*?)\n\];", text, re.S)
    if not m:
        sys.exit(f"{RUST_TEST}: KNOWN_DIFFERENCES not found")
    body = re.sub(r"//[^\n]*", "", m.group(1))
    pairs = re.findall(r'\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*,?\s*\)', body)
    return {k: json.loads(f'"{v}"') for k, v in pairs}


class Unit:
    """One thing compared: a file, or one layer of it (the test's `Unit`)."""

    def __init__(self, path, source, gdal_layers, our_layer=None, curved=False, shown_layer=None):
        self.path = path
        self.rel = path.relative_to(CORPUS).as_posix()
        self.fmt = self.rel.split("/")[0]
        self.source = source  # the GDAL source (a /vsizip/ path for zips)
        self.gdal_layers = gdal_layers  # GDAL's layers to read and concatenate; [] when it opens none
        self.our_layer = our_layer  # --layer for geoconsole
        self.curved = curved
        self.layer = shown_layer if shown_layer is not None else our_layer  # the table's layer column
        self.notes_ref = None

    @property
    def key(self):
        if self.our_layer is not None and self.fmt != "zip":
            return f"{self.rel}#{self.our_layer}"
        return self.rel


def gdal_layers(source):
    """[(layer, feature count, geometry type)] as `ogrinfo -ro -so -al` lists them; None when GDAL cannot open
    the source."""
    code, out, _ = run(["ogrinfo", "-ro", "-so", "-al", source], timeout=120)
    if code != 0:
        return None
    layers = []
    for line in out.splitlines():
        if line.startswith("Layer name: "):
            layers.append([line[len("Layer name: "):].strip(), 0, ""])
        elif line.startswith("Feature Count: ") and layers:
            try:
                layers[-1][1] = int(line[len("Feature Count: "):].strip())
            except ValueError:
                layers[-1][1] = 0
        elif line.startswith("Geometry: ") and layers:
            layers[-1][2] = line[len("Geometry: "):].strip()
    return [tuple(l) for l in layers]


def is_curve_type(kind):
    return any(w in kind.upper() for w in CURVE_WORDS)


def corpus_files(folder):
    """Every file under `folder`, depth first, each folder's entries sorted (as the test walks it)."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            out.extend(corpus_files(p))
        else:
            out.append(p)
    return out


def discover(only=None):
    units = []
    for path in corpus_files(CORPUS):
        rel = path.relative_to(CORPUS).as_posix()
        ext = path.suffix[1:].lower()
        fmt = rel.split("/")[0]
        if fmt == "cap" or ext in SIDECARS:
            continue
        if only and only not in rel:
            continue
        source = str(path)
        if fmt in ("gpkg", "gpx"):
            layers = gdal_layers(source) or []
            with_features = [l for l in layers if fmt == "gpkg" or l[1] > 0]
            if not with_features:
                units.append(Unit(path, source, [l[0] for l in layers]))
            for name, _, kind in with_features:
                units.append(Unit(path, source, [name], our_layer=name, curved=is_curve_type(kind)))
        elif fmt == "kml":
            if ext == "kmz":
                source = f"/vsizip/{source}/doc.kml"
            units.append(Unit(path, source, [l[0] for l in gdal_layers(source) or []]))
        elif fmt == "zip":
            try:
                names = zipfile.ZipFile(path).namelist()
            except (zipfile.BadZipFile, OSError):
                names = []
            shps = [n for n in names if n.lower().endswith(".shp")]
            if not shps:
                units.append(Unit(path, f"/vsizip/{source}", []))
            for shp in shps:
                folder = os.path.dirname(shp)
                stem = os.path.splitext(os.path.basename(shp))[0]
                gdal = f"/vsizip/{source}" + (f"/{folder}" if folder else "")
                ours = shp if len(shps) > 1 else None
                units.append(Unit(path, gdal, [stem], our_layer=ours))
        else:
            curved = False
            if fmt == "csv":
                try:
                    curved = "CURVE" in path.read_bytes().decode("utf-8").upper()
                except UnicodeDecodeError:
                    curved = False  # the test reads the file as UTF-8 or not at all
            units.append(Unit(path, source, [], curved=curved))
    return units


# ------------------------------------------------------------------------------------------- reference

def gdal_features(unit, tmp):
    """(features, error): GDAL's reading of the unit as GeoJSON features in EPSG:4326."""
    if unit.fmt == "geoparquet":
        return parquet_reference(unit.path)
    if unit.fmt in ("gpkg", "gpx", "kml", "zip") and not unit.gdal_layers:
        return None, "GDAL opens no layer"
    source, config = unit.source, []
    if unit.fmt == "geojsonseq":
        source = "GeoJSONSeq:" + source
    if unit.fmt == "shapefile" and not unit.path.with_suffix(".shx").exists():
        # GDAL rebuilds a missing .shx beside the file, so it reads a copy
        copy = os.path.join(tmp, "shx_restored")
        os.makedirs(copy, exist_ok=True)
        for side in unit.path.parent.iterdir():
            if side.is_file() and Path(side.name).stem == unit.path.stem:
                shutil.copy(side, copy)
        source, config = os.path.join(copy, unit.path.name), ["--config", "SHAPE_RESTORE_SHX", "YES"]
        unit.notes_ref = "GDAL read it with SHAPE_RESTORE_SHX=YES (the .shx is missing)"
    oo = []
    if unit.fmt == "csv":
        oo = ["-oo", f"X_POSSIBLE_NAMES={CSV_X}", "-oo", f"Y_POSSIBLE_NAMES={CSV_Y}", "-oo", "KEEP_GEOM_COLUMNS=NO"]
    features = []
    for layer in (unit.gdal_layers or [None]):
        out = os.path.join(tmp, "gdal.geojson")
        base = ["ogr2ogr", *config, "-f", "GeoJSON", out, source, *([layer] if layer is not None else []), *oo,
                "-lco", "RFC7946=NO", "-lco", "SIGNIFICANT_FIGURES=17"]
        code, se = 1, ""
        # curves linearised; TIN and PolyhedralSurface (no GeoJSON type) as MultiPolygons; a layer without a
        # CRS as it is (WGS84, as geoconsole takes it)
        for nlt in ("CONVERT_TO_LINEAR", "MULTIPOLYGON"):
            for srs in (["-t_srs", "EPSG:4326"], []):
                if os.path.exists(out):
                    os.remove(out)
                code, _, se = run(base + ["-nlt", nlt] + srs)
                if code == 0 or "has no coordinate system" not in " ".join(se.split()):
                    break
            if code == 0 or "unsupported as a GeoJSON geometry" not in se:
                break
        if code != 0:
            return None, first_line(se, "ogr2ogr failed")
        data = Path(out).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # GDAL passes a DBF's bytes through when it knows no code page: read them as Latin-1
            text = data.decode("latin-1")
            unit.notes_ref = "GDAL wrote the DBF's bytes as they are (not UTF-8); read as Latin-1"
        features.extend(json.loads(text).get("features") or [])
        os.remove(out)
    for f in features:
        props = f.get("properties")
        if isinstance(props, dict):
            if unit.fmt == "spreadsheet":
                f["_sheet_point"] = sheet_point(props)
            f["properties"] = {k: v for k, v in props.items() if not dropped_field(unit.fmt, k.lower())}
    return features, ""


def sheet_point(props):
    """The position a sheet's coordinate columns give (the first of the CSV names found), for the vertex
    check; None without both."""
    lower = {k.lower(): v for k, v in props.items()}

    def first(names):
        for name in names.split(","):
            try:
                return float(lower[name])
            except (KeyError, TypeError, ValueError):
                continue
        return None

    x, y = first(CSV_X), first(CSV_Y)
    return None if x is None or y is None else [x, y]


def dropped_field(fmt, name):
    """A field of GDAL's that is not compared (`name` in lower case)."""
    return (fmt == "kml" and name in KML_DISPLAY_FIELDS
            or fmt == "gpx" and "extension" in name
            or fmt in ("csv", "spreadsheet") and name in CSV_GEOMETRY_FIELDS)


def parquet_reference(path):
    """GeoParquet's reference as the test takes it: pyarrow's rows without the primary geometry column and
    `bbox`, each value as JSON or as its text; the geometry is "unchecked" (not compared by the test). The WKB
    is decoded here for the vertex check (`_wkb`)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        sys.exit("pyarrow must be installed")
    table = pq.read_table(path)
    meta = (table.schema.metadata or {}).get(b"geo")
    if not meta:
        return None, "no geo metadata: not GeoParquet"
    geo = json.loads(meta)
    col = geo.get("primary_column", "geometry")
    encoding = str(((geo.get("columns") or {}).get(col) or {}).get("encoding", "WKB")).upper()
    features = []
    for row in table.to_pylist():
        props = json.loads(json.dumps({k: v for k, v in row.items() if k not in (col, "bbox")}, default=str))
        f = {"type": "Feature", "geometry": "unchecked", "properties": props}
        g = row.get(col)
        if encoding == "WKB" and isinstance(g, (bytes, bytearray)):
            try:
                f["_wkb"] = wkb_to_geojson(g)
            except (ValueError, struct.error, IndexError):
                pass
        features.append(f)
    return features, ""


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
        if t >= 3000 and t < 4000 or t & 0xC0000000 == 0xC0000000:
            dims = 4
        elif t >= 1000 or t & 0x80000000 or t & 0x40000000:
            dims = 3
        else:
            dims = 2
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
    """(features, error) of `geoconsole import` then `export`, as the test runs them."""
    store = "ours.gpkg"
    cmd = [binary, "--store", store, "-q", "import", str(unit.path), "--dataset", "d"]
    if unit.our_layer is not None:
        cmd += ["--layer", unit.our_layer]
    code, _, err = run(cmd, cwd=tmp, env=clean_env())
    if code != 0:
        return None, first_line(err, "failed")
    code, out, err = run([binary, "--store", store, "export", "d", "--output", "-", "--format", "geojson"],
                         cwd=tmp, env=clean_env())
    if code != 0:
        # the test stops here (`run.ok`): shown as a refusal
        return None, "export failed: " + first_line(err, "failed")
    return json.loads(out).get("features") or [], ""


# ------------------------------------------------------------------------------------------ comparison
# A port of the test's `norm`, `time`, `same`, `dbase_logical`, `extent` and `differences`.

# Rust's char::is_whitespace (Unicode White_Space), which `str::trim` removes
RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
          "\u2028\u2029\u202f\u205f\u3000"
# what Rust's f64 parser accepts of a text with a digit and no letter (an exponent needs a letter)
RUST_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def is_json_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def json_text(v):
    """serde_json's compact text of a value (its Display)."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def norm(v):
    """None, ("num", float), ("text", str) or ("time", epoch milliseconds): the test's `Norm`."""
    if v is None:
        return None
    if isinstance(v, bool):
        return ("num", 1.0 if v else 0.0)
    if is_json_number(v):
        return ("num", float(v))
    if isinstance(v, str):
        s = v.strip(RUST_WS)
        digits = s.lstrip("+-")
        if len(digits.encode()) > 1 and digits.startswith("0") and all("0" <= c <= "9" for c in digits):
            return ("text", s)
        if RUST_NUMBER.fullmatch(s):
            return ("num", float(s))
        t = rust_time(s)
        if t is not None:
            return ("time", t)
        return ("text", s)
    return ("text", json_text(v))


def same(a, b):
    if a is not None and b is not None and a[0] == "num" and b[0] == "num":
        x, y = a[1], b[1]
        return x == y or abs(x - y) <= REL_TOL * max(abs(x), abs(y), 1.0)
    if a is None or b is None:
        return a is None and b is None
    return a[0] == b[0] and a[1] == b[1]


def dbase_logical(gdal, ours):
    """dBASE logical letters GDAL keeps as text, against our booleans; `?` is dBASE's "unknown"."""
    if not isinstance(gdal, str):
        return False
    letter = gdal.strip(RUST_WS)
    if letter in ("T", "t", "Y", "y"):
        return ours is True
    if letter in ("F", "f", "N", "n"):
        return ours is False
    if letter in ("?", ""):
        return ours is None
    return False


# --- the test's `time`: chrono 0.4's parsers, for the formats it tries, ported

def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _valid_date(y, m, d):
    if not (1 <= m <= 12 and d >= 1):
        return False
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return d <= [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


def _millis(y, mo, d, h, mi, sec, nano, offset=0):
    """Epoch milliseconds of a date and time at `offset` seconds east (chrono's timestamp_millis)."""
    secs = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
    return secs * 1000 + nano // 1_000_000


def _number(s, lo, hi):
    n = 0
    i = 0
    while i < len(s) and i < hi and "0" <= s[i] <= "9":
        n = n * 10 + ord(s[i]) - 48
        i += 1
    if i < lo:
        raise ValueError
    return s[i:], n


def _nanosecond(s):
    rest, v = _number(s, 1, 9)
    v *= 10 ** (9 - (len(s) - len(rest)))
    return rest.lstrip("0123456789"), v


def _tz_offset(s, colon, allow_zulu, allow_missing_minutes):
    if allow_zulu and s[:1] in ("Z", "z"):
        return s[1:], 0
    if s[:1] == "+":
        neg, s = False, s[1:]
    elif s[:1] in ("-", "\u2212"):
        neg, s = True, s[1:]
    else:
        raise ValueError
    b = s.encode()
    if len(b) < 2 or not (48 <= b[0] <= 57 and 48 <= b[1] <= 57):
        raise ValueError
    hours = (b[0] - 48) * 10 + b[1] - 48
    s = colon(s[2:])
    b = s.encode()
    if len(b) >= 2:
        if not (48 <= b[0] <= 53 and 48 <= b[1] <= 57):
            raise ValueError
        minutes = (b[0] - 48) * 10 + b[1] - 48
        s = s[2:]
    elif allow_missing_minutes and len(b) == 0:
        minutes = 0
    else:
        raise ValueError
    secs = hours * 3600 + minutes * 60
    return s, -secs if neg else secs


def _colon(s):
    """A mandatory `:` (RFC 3339's offset)."""
    if s[:1] != ":":
        raise ValueError
    return s[1:]


def _colon_or_space(s):
    return s.lstrip(":" + RUST_WS)


_NUM_FIELDS = {"Y": ("year", 4), "m": ("month", 2), "d": ("day", 2), "H": ("hour", 2), "M": ("minute", 2),
               "S": ("second", 2)}
_RANGES = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 60)}


def _items(fmt):
    """chrono's StrftimeItems for the few specifiers the test uses."""
    out, i = [], 0
    while i < len(fmt):
        if fmt.startswith("%.f", i):
            out.append(("nano",)); i += 3
        elif fmt.startswith("%:z", i):
            out.append(("tz", False, False)); i += 3
        elif fmt.startswith("%#z", i):
            out.append(("tz", True, True)); i += 3
        elif fmt[i] == "%":
            out.append(("num", fmt[i + 1])); i += 2
        elif fmt[i] == " ":
            out.append(("space",)); i += 1
        else:
            out.append(("lit", fmt[i])); i += 1
    return out


def _parse(s, fmt):
    """The fields chrono's `parse` takes from `s` by `fmt`, or None (it must consume all of `s`)."""
    fields = {}
    try:
        for item in _items(fmt):
            if item[0] == "lit":
                if not s.startswith(item[1]):
                    return None
                s = s[len(item[1]):]
            elif item[0] == "space":
                s = s.lstrip(RUST_WS)
            elif item[0] == "num":
                name, width = _NUM_FIELDS[item[1]]
                s = s.lstrip(RUST_WS)
                if name == "year" and s[:1] in ("+", "-"):
                    sign = -1 if s[0] == "-" else 1
                    s, v = _number(s[1:], 1, 10 ** 9)
                    v *= sign
                else:
                    s, v = _number(s, 1, width)
                lo, hi = _RANGES.get(name, (-(2 ** 31), 2 ** 31 - 1))
                if not lo <= v <= hi:
                    return None
                fields[name] = v
            elif item[0] == "nano":
                if s.startswith("."):
                    s, fields["nano"] = _nanosecond(s[1:])
            elif item[0] == "tz":
                s, fields["offset"] = _tz_offset(s.lstrip(RUST_WS), _colon_or_space, item[1], item[2])
    except ValueError:
        return None
    return fields if s == "" else None


def _naive(fields):
    """(y, m, d, h, mi, sec, nano) of chrono's NaiveDateTime from parsed fields, or None."""
    y, m, d = fields.get("year"), fields.get("month"), fields.get("day")
    if y is None or m is None or d is None or not _valid_date(y, m, d):
        return None
    h, mi = fields.get("hour"), fields.get("minute")
    if h is None or mi is None:
        return None
    sec = fields.get("second", 0)
    sec, nano = (59, 1_000_000_000) if sec == 60 else (sec, 0)
    if "nano" in fields:
        if "second" not in fields:
            return None
        nano += fields["nano"]
    if nano >= 1_000_000_000 and sec != 59:
        return None
    return y, m, d, h, mi, sec, nano


def _rfc3339(s):
    """chrono's DateTime::parse_from_rfc3339 as epoch milliseconds, or None."""
    b = s.encode()
    if len(b) < 19:
        return None
    dig = lambda i: b[i] - 48 if 48 <= b[i] <= 57 else None  # noqa: E731
    parts = [dig(i) for i in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)]
    if None in parts or b[4] != 45 or b[7] != 45 or b[10] not in b"tT " or b[13] != 58 or b[16] != 58:
        return None
    y = parts[0] * 1000 + parts[1] * 100 + parts[2] * 10 + parts[3]
    mo, d, h, mi, sec = (parts[i] * 10 + parts[i + 1] for i in (4, 6, 8, 10, 12))
    if not _valid_date(y, mo, d):
        return None
    sec, nano = (59, 1_000_000_000) if sec == 60 else (sec, 0)
    rest = s[19:]
    try:
        if rest.startswith("."):
            rest, n = _nanosecond(rest[1:])
            nano += n
        if h > 23 or mi > 59 or sec > 59 or nano >= 2_000_000_000 or (nano >= 1_000_000_000 and sec != 59):
            return None
        rest, offset = _tz_offset(rest, _colon, True, False)
    except ValueError:
        return None
    if rest or not -86400 < offset < 86400:
        return None
    return _millis(y, mo, d, h, mi, sec, nano, offset)


NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%dT%H:%M%:z")
OFFSET_FORMATS = ("%Y-%m-%d %H:%M:%S%#z", "%Y-%m-%dT%H:%M:%S%.f%#z")


def rust_time(s):
    """A date or date-time as epoch milliseconds (no offset: UTC; a date: midnight UTC): the test's `time`."""
    s = s.replace("/", "-")
    b = s.encode()
    if len(b) < 10 or not all(48 <= c <= 57 for c in b[:4]) or b[4] != 45:
        return None
    t = _rfc3339(s.replace(" ", "T"))
    if t is not None:
        return t
    for fmt in NAIVE_FORMATS:
        fields = _parse(s, fmt)
        # NaiveDateTime::parse_from_str: an offset it parsed (%:z) is not applied
        naive = _naive(fields) if fields is not None else None
        if naive:
            return _millis(*naive)
    for fmt in OFFSET_FORMATS:
        fields = _parse(s, fmt)
        naive = _naive(fields) if fields is not None else None
        if naive and "offset" in fields and -86400 < fields["offset"] < 86400:
            return _millis(*naive, offset=fields["offset"])
    fields = _parse(s, "%Y-%m-%d")
    if fields is not None and _valid_date(fields["year"], fields["month"], fields["day"]):
        return _millis(fields["year"], fields["month"], fields["day"], 0, 0, 0, 0)
    return None


def extent(g):
    """The 2D extent of a GeoJSON geometry; None for null and empty."""
    box = []

    def walk(v):
        if isinstance(v, list):
            if len(v) >= 2 and is_json_number(v[0]) and is_json_number(v[1]):
                x, y = float(v[0]), float(v[1])
                if not box:
                    box.extend([x, y, x, y])
                else:
                    box[:] = [min(box[0], x), min(box[1], y), max(box[2], x), max(box[3], y)]
            else:
                for item in v:
                    walk(item)
        elif isinstance(v, dict):
            if "coordinates" in v:
                walk(v["coordinates"])
            if "geometries" in v:
                walk(v["geometries"])

    walk(g)
    return box or None


def compare_pairs(unit, pairs):
    """The test's per-feature comparison: the differences of (index, GDAL's, ours) pairs."""
    diffs = []
    for i, g, o in pairs:
        op = o.get("properties")
        ours = {k.lower(): v for k, v in op.items()} if isinstance(op, dict) else {}
        gp = g.get("properties")
        for name, gv in (gp.items() if isinstance(gp, dict) else ()):
            name = name.lower()
            if name in ours:
                present, ov = True, ours[name]
            elif name == "id" and "id" in o:
                present, ov = True, o["id"]
            else:
                present, ov = False, None
            if gv is None and not present:
                continue
            if not same(norm(gv), norm(ov)) and not dbase_logical(gv, ov):
                diffs.append(f"feature {i} `{name}`: GDAL {short(gv)} vs ours {short(ov)}")
        # GDAL's XLSX and ODS drivers read no geometry: the sheet's count and its other columns are compared,
        # the positions come from the same columns as CSV's
        if isinstance(g.get("geometry"), str) or unit.fmt == "spreadsheet":
            continue
        tol = CURVE_TOL if unit.curved else COORD_TOL
        a, b = extent(g.get("geometry")), extent(o.get("geometry"))
        if a is None and b is None:
            continue
        if a is not None and b is not None and all(abs(x - y) <= tol for x, y in zip(a, b)):
            continue
        diffs.append(f"feature {i}: extent {a} vs ours {b}")
    return diffs


def signature(f):
    props = f.get("properties")
    items = props.items() if isinstance(props, dict) else ()
    return tuple(sorted((k.lower(), repr(norm(v))) for k, v in items if v is not None))


def differences(unit, gdal, ours):
    """(differences, pairs, notes): the test's `differences` (empty: they match), with the pairs it
    compared and whether the order differed."""
    if len(gdal) != len(ours):
        return [f"count: GDAL {len(gdal)}, ours {len(ours)}"], [], []
    in_order = [(i, g, o) for i, (g, o) in enumerate(zip(gdal, ours))]
    diffs = compare_pairs(unit, in_order)
    if not diffs:
        return [], in_order, []
    # the same features in another order (paired by their attributes) is not a difference
    pool = {}
    for o in ours:
        pool.setdefault(signature(o), []).append(o)
    pairs = []
    for i, g in enumerate(gdal):
        cands = pool.get(signature(g))
        if not cands:
            return diffs, in_order, []
        pairs.append((i, g, cands.pop()))
    if compare_pairs(unit, pairs):
        return diffs, in_order, []
    return [], pairs, ["features in another order than GDAL's"]


def short(v, n=60):
    s = json_text(v)
    return s if len(s) <= n else s[: n - 1] + "…"


# --- beyond the test: the vertex check (notes only)

def geom_parts(g):
    """[(kind, [parts])] with each part a list of coordinate lists (rings, or one line, or one point)."""
    if not isinstance(g, dict):
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


def farthest(points, lines):
    """The largest distance from one of `points` to the nearest of `lines` (or their vertices)."""
    worst = 0.0
    for p in points:
        best = min((seg_dist(p, l[i], l[i + 1]) for l in lines for i in range(len(l) - 1)), default=math.inf)
        best = min(best, min((math.hypot(p[0] - q[0], p[1] - q[1]) for l in lines for q in l), default=math.inf))
        worst = max(worst, best)
    return worst


def vertex_difference(g, o, curved):
    """None when the geometries agree vertex by vertex, else a short reason."""
    gp, op = geom_parts(g), geom_parts(o)
    if not gp and not op:
        return None
    if not gp or not op:
        return (f"geometry {'null/empty' if not gp else g.get('type')} vs ours "
                f"{'null/empty' if not op else o.get('type')}")
    if curved:
        gl = [r + r[:1] if k == "polygon" else r for k, parts in gp for r in parts]
        ol = [r + r[:1] if k == "polygon" else r for k, parts in op for r in parts]
        d = max(farthest([p for l in ol for p in l], gl), farthest([p for l in gl for p in l], ol))
        return None if d <= CURVE_TOL else f"linearised curves {d:.3g}° apart (> {CURVE_TOL}°)"
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


def vertex_notes(unit, pairs):
    found = []
    for i, g, o in pairs:
        if unit.fmt == "spreadsheet":
            # GDAL reads no geometry from a sheet: our point against the sheet's coordinate columns
            point = g.get("_sheet_point")
            geom = {"type": "Point", "coordinates": point} if point else None
        elif isinstance(g.get("geometry"), str):
            geom = g.get("_wkb")  # GeoParquet: the WKB decoded here
        else:
            geom = g.get("geometry")
        if geom is None and (unit.fmt == "spreadsheet" or isinstance(g.get("geometry"), str)):
            continue
        why = vertex_difference(geom, o.get("geometry"), unit.curved)
        if why:
            found.append(f"feature {i}: {why}")
    if not found:
        return []
    more = f" (and {len(found) - 2} more)" if len(found) > 2 else ""
    return ["vertex check: " + "; ".join(found[:2]) + more]


def extra_fields(gdal, ours):
    names = set()
    for g, o in zip(gdal, ours):
        gp = {k.lower() for k in (g.get("properties") or {})}
        names |= {k.lower() for k in (o.get("properties") or {})} - gp
    return ["fields only we have: " + ", ".join(sorted(names))] if names else []


# ------------------------------------------------------------------------------------------------- CAP

def serve_bytes(body):
    """Serves one file's bytes to every request on a loopback port (the test's `serve_bytes`)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/xml")
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def import_test_zones(binary, base, d):
    code, out, err = run([binary, *base, "-q", "import", str(CAP_ZONES), "--dataset", "zones"], cwd=d, env=clean_env())
    if code != 0:
        sys.exit(f"importing {CAP_ZONES} failed: {err or out}")


def export_count(binary, base, dataset, d):
    code, out, _ = run([binary, *base, "export", dataset, "--output", "-", "--format", "geojson"], cwd=d,
                       env=clean_env())
    return code == 0, (len(json.loads(out).get("features") or []) if code == 0 else 0)


def cap_feed_outcome(binary, d, path, n):
    """(count, None) or (None, why): the message polled once as a feed (the test's `cap_outcome`)."""
    server = serve_bytes(path.read_bytes())
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        dataset = f"alerts{n}"
        base = ["--store", f"cap{n}.gpkg", "--config", "geoconsole.toml"]
        import_test_zones(binary, base, d)
        code, out, err = run([binary, *base, "feeds", "add", "--name", "cap", "--url", url, "--format", "cap",
                              "--dataset", dataset, "--areas", "zones", "--area-code-field", "code", "--paused"],
                             cwd=d, env=clean_env())
        if code != 0:
            return None, "feeds add failed: " + first_line(err or out, "failed")
        code, out, err = run([binary, *base, "--json", "feeds", "poll-now", "cap"], cwd=d, env=clean_env())
        if code != 0:
            return None, "poll-now failed: " + first_line(err or out, "failed")
        report = json.loads(out)
        if isinstance(report, list) and report:
            report = report[0]
        _, count = export_count(binary, base, dataset, d)
    finally:
        server.shutdown()
        server.server_close()
    if count > 0:
        return count, None
    report = report if isinstance(report, dict) else {}
    why = [r if isinstance(r, str) else "" for r in report.get("skipped_reasons") or []]
    if report.get("outcome") != "ok":
        why.append(json_text(report.get("error")))
    return None, "; ".join(why)


def cap_file_outcome(binary, d, path, n):
    """(count, None) or (None, why): the message imported as a file (the test's `cap_file_outcome`)."""
    base = ["--store", f"capfile{n}.gpkg", "--config", "geoconsole.toml"]
    import_test_zones(binary, base, d)
    code, _, err = run([binary, *base, "-q", "import", str(path), "--dataset", "alerts", "--skip-invalid",
                        "--areas", "zones", "--area-code-field", "code"], cwd=d, env=clean_env())
    if code != 0:
        return None, first_line(err, "failed")
    # nothing imported (every alert skipped) leaves no dataset to export: 0 alerts
    _, count = export_count(binary, base, "alerts", d)
    return count, None


def cap_results(binary, tmp, only=None):
    d = os.path.join(tmp, "cap")
    os.makedirs(d, exist_ok=True)
    Path(d, "geoconsole.toml").write_text('[network]\nallow = ["127.0.0.1"]\n')
    listed = set(EXPECTED_CAP)
    for p in sorted((CORPUS / "cap").glob("*.xml")):
        if p.name not in listed:
            print(f"warning: cap/{p.name} is not in EXPECTED_CAP: not compared (nor by the test)", file=sys.stderr)
    rows = []
    for n, (name, (expected, why)) in enumerate(EXPECTED_CAP.items()):
        path = CORPUS / "cap" / name
        if only and only not in f"cap/{name}":
            continue
        for how, outcome_of, key in (("as a feed", cap_feed_outcome, f"cap/{name}"),
                                     ("as a file", cap_file_outcome, f"cap/{name}#file")):
            count, err = outcome_of(binary, d, path, n)
            if err is not None:
                outcome, reason = "refused", f"refused {how}: {err}"
            elif count == expected:
                outcome, reason = "matched", ""
            else:
                outcome, reason = "differing", f"differing {how}: the standard makes {expected} alert(s), we {count}"
            rows.append({"key": key, "file": f"cap/{name}", "layer": how, "format": "cap", "outcome": outcome,
                         "reference": "CAP standard (by hand): " + why, "gdal_count": expected, "our_count": count,
                         "details": [reason] if reason else [], "notes": [],
                         "our_error": err or "", "gdal_error": ""})
    return rows


# ------------------------------------------------------------------------------------------------ main

def evaluate(binary, unit, tmp):
    gdal, gerr = gdal_features(unit, tmp)
    ours, oerr = our_features(binary, unit, tmp)
    row = {"key": unit.key, "file": unit.rel, "layer": unit.layer, "format": unit.fmt,
           "gdal_count": None if gdal is None else len(gdal), "our_count": None if ours is None else len(ours),
           "details": [], "notes": [], "our_error": oerr, "gdal_error": gerr,
           "reference": "pyarrow" if unit.fmt == "geoparquet" else "ogr2ogr"}
    if unit.curved:
        row["notes"].append(f"curves linearised, extents compared within {CURVE_TOL}°")
    if unit.notes_ref:
        row["notes"].append(unit.notes_ref)
    if gdal is None:
        row["outcome"] = "refused-as-GDAL-refuses" if ours is None else "read-where-GDAL-refuses"
        row["details"] = [f"reference: {gerr}"] + ([f"ours: {oerr}"] if oerr else [])
        return row
    if ours is None:
        row["outcome"] = "refused"
        row["details"] = [oerr]
        return row
    diffs, pairs, notes = differences(unit, gdal, ours)
    row["outcome"] = "differing" if diffs else "matched"
    row["details"] = diffs
    row["notes"] += notes + vertex_notes(unit, pairs) + extra_fields(gdal, ours)
    return row


FAILS_CI = ("read-where-GDAL-refuses", "refused", "differing")


def ci_check(rows, known, complete):
    """What the test would report: rows not matched that KNOWN_DIFFERENCES does not name, entries whose row
    now matches, entries not in the corpus (only when every row was run)."""
    report = []
    for r in rows:
        why = known.get(r["key"])
        if r["outcome"] in FAILS_CI and why is None:
            report.append(f"NEW DIFFERENCE {r['key']}: {r['outcome']}: {'; '.join(r['details'][:1])}")
        elif r["outcome"] not in FAILS_CI and why is not None:
            report.append(f"NOW MATCHES {r['key']} (remove it from KNOWN_DIFFERENCES: {why})")
        r["known_difference"] = why if r["outcome"] in FAILS_CI else None
    if complete:
        keys = {r["key"] for r in rows}
        report += [f"NOT IN THE CORPUS {k} (remove it from KNOWN_DIFFERENCES)" for k in known if k not in keys]
    return report


def markdown(rows, command, gdal_version, binary_version, report):
    order = ["matched", "refused-as-GDAL-refuses", "read-where-GDAL-refuses", "refused", "differing"]
    counts = {k: sum(1 for r in rows if r["outcome"] == k) for k in order}
    lines = [BEGIN, "## Real-world files against GDAL", "",
             f"Run {dt.date.today().isoformat()}; {binary_version}; {gdal_version}.",
             f"Command: `{command}` (the corpus and where each file comes from: `fixtures/realworld/README.md`;",
             "the reference, our side and the normalisation, the same as the CI test `crates/cli/tests/realworld.rs`,",
             "are described at the top of `bench/realworld.py`; per-row outcome as JSON: `bench/realworld.json`).", "",
             "| outcome | files/layers |", "|---|---|"]
    lines += [f"| {k} | {counts[k]} |" for k in order]
    lines += [f"| total | {len(rows)} |", ""]
    known = sum(1 for r in rows if r.get("known_difference"))
    if report:
        lines += [f"Rows that would fail the CI test ({len(report)}):", ""] + [f"- {l}" for l in report] + [""]
    else:
        lines += [f"Every row that is not matched or refused as GDAL refuses ({known}) is in the test's `KNOWN_DIFFERENCES`",
                  "(marked *known* below), and every entry of it is such a row.", ""]
    lines += ["| file | layer | reference count | ours | outcome | first difference or reason |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        detail = "; ".join(r["details"][:2]) if r["details"] else ("; ".join(r["notes"]) if r["notes"] else "")
        detail = detail.replace("|", "\\|").replace("\n", " ")
        cnt = lambda v: "–" if v is None else str(v)  # noqa: E731
        outcome = r["outcome"] + (" (*known*)" if r.get("known_difference") else "")
        lines.append(f"| `{r['file']}` | {r['layer'] or ''} | {cnt(r['gdal_count'])} | {cnt(r['our_count'])} | "
                     f"{outcome} | {detail} |")
    lines.append(END)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="geoconsole binary (default: target/release/geoconsole, else target/debug)")
    ap.add_argument("--only", help="only files whose path under fixtures/realworld contains this")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and realworld.json alone")
    args = ap.parse_args()
    binary = args.bin or next((str(p) for p in (ROOT / "target/release/geoconsole", ROOT / "target/debug/geoconsole")
                               if p.exists()), None)
    if not binary:
        sys.exit("build geoconsole first: cargo build --release -p geoconsole")
    binary = str(Path(binary).resolve())
    known = known_differences()
    rows = []
    with tempfile.TemporaryDirectory(prefix="realworld-") as tmp:
        for unit in discover(args.only):
            with tempfile.TemporaryDirectory(dir=tmp) as one:
                row = evaluate(binary, unit, one)
            rows.append(row)
            print(f"{row['outcome']:<24} {unit.key}  {('; '.join(row['details'][:1]))[:150]}", flush=True)
        for row in cap_results(binary, tmp, args.only):
            rows.append(row)
            print(f"{row['outcome']:<24} {row['key']}  {('; '.join(row['details'][:1]))[:150]}", flush=True)
    report = ci_check(rows, known, complete=not args.only)
    summary = {}
    for r in rows:
        summary[r["outcome"]] = summary.get(r["outcome"], 0) + 1
    print(json.dumps(summary))
    print("\n".join(report) if report else "every row that is not matched is in KNOWN_DIFFERENCES (as the CI test demands)")
    if args.no_write:
        return
    command = "python3 bench/realworld.py" + (f" --bin {args.bin}" if args.bin else "") + (f" --only {args.only}" if args.only else "")
    _, gv, _ = run(["ogrinfo", "--version"])
    _, bv, _ = run([binary, "--version"])
    JSON_OUT.write_text(json.dumps({"command": command, "gdal": gv.strip(), "geoconsole": bv.strip(), "summary": summary,
                                    "ci_check": report, "results": rows}, indent=1, ensure_ascii=False) + "\n")
    write_block(BEGIN, END, markdown(rows, command, gv.strip(), bv.strip(), report), heading=None)


if __name__ == "__main__":
    main()
