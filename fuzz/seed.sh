#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the committed fixtures (the corpora themselves are not committed;
# crashes found are kept as regression inputs under fuzz/regressions/ and replayed by the test suite).
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../fixtures
mkdir -p corpus/{geojson,geojsonseq,csv,cql2,feeds,privacy,wkb}
find "$fixtures" -name '*.geojson' -size -2M -exec cp {} corpus/geojson/ \;
find "$fixtures" \( -name '*.geojsons' -o -name '*.geojsonl' -o -name '*.ndjson' \) -size -2M -exec cp {} corpus/geojsonseq/ \; || true
for f in corpus/geojson/*; do head -c 4000 "$f" | tr -d '\n' > "corpus/geojsonseq/$(basename "$f").line"; done
for f in "$fixtures"/*/*.csv; do [ -f "$f" ] && head -c 20000 "$f" | { printf '\0'; cat; } > "corpus/csv/$(basename "$f")"; done
printf '\0name,wkt\na,"POLYGON((0 0,1 0,1 1,0 0))"\n' > corpus/csv/wkt.csv
printf 'mag > 5 AND name LIKE %s' "'A%'" > corpus/cql2/text1
printf 'S_INTERSECTS(geometry, POLYGON((0 0,1 0,1 1,0 0))) OR kind IN (%s)' "'a','b'" > corpus/cql2/text2
printf '{"op":"and","args":[{"op":">","args":[{"property":"mag"},5]},{"op":"t_after","args":[{"property":"when"},{"timestamp":"2024-01-01T00:00:00Z"}]}]}' > corpus/cql2/json1
printf '2024-01-01T00:00:00Z/..' > corpus/cql2/dt1
# The first byte picks the feed format (FeedFormat::ALL order: usgs, nws_alerts, cap, cap_index, georss, firms, geojson, geojsonseq, csv).
feed() { { printf "\\x$(printf %02x "$1")"; cat "$2"; } > "corpus/feeds/$(basename "$2").$1"; }
feed 0 "$fixtures/feeds/usgs_v1.geojson"
feed 1 "$fixtures/feeds/nws_alerts.geojson"
for f in "$fixtures"/feeds/cap*.xml; do feed 2 "$f"; done
feed 3 "$fixtures/feeds/nws_atom_cap11_index_2018-08-15.xml"
feed 4 "$fixtures/feeds/gdacs_rss_2019-12-30.xml"
feed 5 "$fixtures/feeds/firms_viirs.csv"
printf '{"contact":"Maria Garcia","phone":"+44 20 7946 0958","notes":"ops@example.com","employees":12}' > corpus/privacy/p1
printf '{"courriel":"a@b.fr","Gewerkschaftsmitglied":true,"religi\xc3\xb3n":"x","\xd0\xb5mail":"y","em\xe2\x80\x8bail":"z","union_station":1}' > corpus/privacy/p2
printf '{"contact":{"email":"a@b.co","tel":[4915112345678,"+44 20 7946 0958"]},"health_con":"x","tradeunion":[[["y"]]]}' > corpus/privacy/p3
# Binary and XML files (first byte: 0 fgb, 1 gpkg, 2 parquet, 3 kml, 4 gpx, 5 zip), written by GDAL and
# pyarrow from five Natural Earth places, so the corpus starts from what other tools produce.
mkdir -p corpus/files
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
places="$fixtures/demo/ne_110m_populated_places.geojson"
file_seed() { { printf "\\x$(printf %02x "$1")"; cat "$2"; } > "corpus/files/$(basename "$2").$1"; }
ogr2ogr -limit 5 -f FlatGeobuf "$work/p.fgb" "$places" && file_seed 0 "$work/p.fgb"
ogr2ogr -limit 5 -f GPKG "$work/p.gpkg" "$places" -select NAME,POP_MAX && file_seed 1 "$work/p.gpkg"
ogr2ogr -limit 5 -f KML "$work/p.kml" "$places" -select NAME,POP_MAX && file_seed 3 "$work/p.kml"
ogr2ogr -limit 5 -f GPX "$work/p.gpx" "$places" -sql "SELECT NAME AS name FROM ne_110m_populated_places" && file_seed 4 "$work/p.gpx"
ogr2ogr -limit 5 -f "ESRI Shapefile" "$work/p.shp" "$places" -select NAME,POP_MAX
(cd "$work" && python3 -c "import zipfile; z = zipfile.ZipFile('p.zip', 'w', zipfile.ZIP_DEFLATED); [z.write('p.' + e) for e in ('shp', 'shx', 'dbf', 'prj')]; z.close()") && file_seed 5 "$work/p.zip"
python3 - "$work/p.parquet" <<'PY' && file_seed 2 "$work/p.parquet"
import json, struct, sys, pyarrow as pa, pyarrow.parquet as pq
wkb = [struct.pack("<BIdd", 1, 1, x, y) for x, y in [(2.35, 48.86), (13.4, 52.52)]]
geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}}
t = pa.table({"name": ["paris", "berlin"], "geometry": pa.array(wkb, pa.binary())})
pq.write_table(t.replace_schema_metadata({"geo": json.dumps(geo)}), sys.argv[1])
PY
# WKB: ISO and EWKB geometries, a GeoPackage blob, a collection and a curve.
python3 - corpus/wkb <<'PY'
import struct, sys
d = sys.argv[1]
point = struct.pack("<BIdd", 1, 1, 2.35, 48.86)
seeds = {
    "point": point,
    "point_xdr": struct.pack(">BIdd", 0, 1, 2.35, 48.86),
    "ewkb_srid": struct.pack("<BIIdd", 1, 0x20000001, 4326, 2.35, 48.86),
    "polygon": struct.pack("<BIII", 1, 3, 1, 4) + struct.pack("<8d", 0, 0, 1, 0, 1, 1, 0, 0),
    "collection": struct.pack("<BII", 1, 7, 2) + point + struct.pack("<BII", 1, 7, 1) + point,
    "circularstring": struct.pack("<BII", 1, 8, 3) + struct.pack("<6d", -1, 0, 0, 1, 1, 0),
    "gpkg": b"GP\x00\x03" + struct.pack("<i4d", 4326, 2.35, 2.35, 48.86, 48.86) + point,
}
for name, data in seeds.items():
    open(f"{d}/{name}", "wb").write(data)
PY
echo "seeded: $(find corpus -type f | wc -l) files"
