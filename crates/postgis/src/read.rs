//! Reading features back: bbox through the GiST index, time through its index, keyset paging on `key`, the
//! index scan in one repeatable-read snapshot, features fetched by key, and ids with properties (no
//! geometry) by key for readers that hold the shapes.

use chrono::{DateTime, Utc};
use geoconsole_formats::wkb;
use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{Bbox, Dataset, Feature, FeatureId, FieldType, Properties, TimeSpan};
use geoconsole_query::{Cursor, FeatureQuery};
use geoconsole_store::{
    FeaturePage, Fields, IndexRow, PropertyRow, StoreError, StoreErrorKind, StoreResult,
};
use geozero::{CoordDimensions, ToWkb};
use serde_json::Value;
use tokio_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::connect::quote;

/// The columns every feature read selects, in the order [`feature_from_row`] reads them.
pub const FEATURE_COLUMNS: &str =
    "key, feature_id, ST_AsBinary(geom), time_start, time_end, properties";

pub fn encode_geometry(geometry: &Geometry<f64>) -> Result<Vec<u8>, String> {
    geometry
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| format!("geometry cannot be written as WKB: {e}"))
}

/// Reads `ST_AsBinary(geom)`. Other tools (QGIS, ogr2ogr) write into the console's tables too, so what
/// comes back may be curved, empty or nested deep: the bounded decoder of `formats::wkb` reads it. A NULL or
/// empty geometry is an unlocated feature (`None`).
pub fn decode_geometry(bytes: Option<&[u8]>) -> Result<Option<Geometry<f64>>, String> {
    match bytes {
        None => Ok(None),
        Some(bytes) => wkb::decode(bytes).map_err(|e| format!("unreadable geometry: {e}")),
    }
}

fn corrupt(dataset: &Dataset, why: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Internal,
        format!("dataset '{}': {why}", dataset.id),
    )
}

fn time_of(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<TimeSpan> {
    match (start, end) {
        (Some(start), Some(end)) => Some(TimeSpan { start, end }),
        (Some(start), None) => Some(TimeSpan::instant(start)),
        _ => None,
    }
}

/// Properties in the schema's field order (jsonb keeps its own order), each read as its field's type: an
/// integer stored in a real field reads as a real, as it does from a GeoPackage's REAL column, and a value
/// in a field of mixed types (text) reads as its JSON text, as from a GeoPackage's TEXT column.
fn typed_properties(dataset: &Dataset, stored: Value) -> Properties {
    let Value::Object(mut stored) = stored else {
        return Properties::new();
    };
    let mut out = Properties::with_capacity(stored.len());
    for field in dataset.schema.fields() {
        if let Some(value) = stored.remove(&field.name) {
            let value = match (value, field.field_type) {
                (Value::Number(n), FieldType::Real) if !n.is_f64() => n
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
                (
                    value
                    @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)),
                    FieldType::Text,
                ) => Value::String(value.to_string()),
                (value, _) => value,
            };
            out.insert(field.name.clone(), value);
        }
    }
    // Properties the schema does not list (none, as written by this store) keep their place at the end.
    out.extend(stored);
    out
}

pub fn feature_from_row(dataset: &Dataset, row: &Row) -> StoreResult<(i64, Feature)> {
    let key: i64 = row.get(0);
    let wkb: Option<&[u8]> = row.get(2);
    let geometry =
        decode_geometry(wkb).map_err(|e| corrupt(dataset, format!("feature {key}: {e}")))?;
    Ok((
        key,
        Feature {
            id: Some(FeatureId(row.get(1))),
            geometry,
            time: time_of(row.get(3), row.get(4)),
            properties: typed_properties(dataset, row.get(5)),
        },
    ))
}

fn parse_cursor(cursor: &Cursor) -> StoreResult<i64> {
    cursor
        .0
        .parse::<i64>()
        .ok()
        .filter(|key| *key >= 0)
        .ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Invalid,
                format!("cursor '{}' is not valid for this dataset", cursor.0),
            )
        })
}

/// The `WHERE` conditions and parameters for a bbox (split at the antimeridian) and a datetime filter, with
/// parameters numbered from `first`.
pub fn conditions(
    bbox: Option<&Bbox>,
    datetime: Option<&geoconsole_query::DateTimeFilter>,
    first: usize,
) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut sql = String::new();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    if let Some(bbox) = bbox {
        let parts: Vec<String> = bbox
            .split_at_antimeridian()
            .into_iter()
            .map(|part| {
                let n = first + params.len();
                params.extend(
                    [part.west, part.south, part.east, part.north]
                        .map(|v| Box::new(v) as Box<dyn ToSql + Sync + Send>),
                );
                format!(
                    "geom && ST_MakeEnvelope(${}, ${}, ${}, ${}, 4326)",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4
                )
            })
            .collect();
        sql.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    if let Some(datetime) = datetime {
        sql.push_str(" AND time_start IS NOT NULL");
        if let Some(start) = datetime.start {
            params.push(Box::new(start));
            sql.push_str(&format!(" AND time_end >= ${}", first + params.len()));
        }
        if let Some(end) = datetime.end {
            params.push(Box::new(end));
            sql.push_str(&format!(" AND time_start <= ${}", first + params.len()));
        }
    }
    (sql, params)
}

pub async fn query(
    client: &impl GenericClient,
    dataset: &Dataset,
    query: &FeatureQuery,
) -> Result<StoreResult<FeaturePage>, tokio_postgres::Error> {
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut sql = format!(
        "SELECT {FEATURE_COLUMNS} FROM {} WHERE true",
        quote(dataset.id.as_str())
    );
    if let Some(cursor) = &query.cursor {
        match parse_cursor(cursor) {
            Ok(key) => params.push(Box::new(key)),
            Err(e) => return Ok(Err(e)),
        }
        sql.push_str(" AND key > $1");
    }
    let (filter, filter_params) =
        conditions(query.bbox.as_ref(), query.datetime.as_ref(), params.len());
    sql.push_str(&filter);
    params.extend(filter_params);
    sql.push_str(" ORDER BY key");
    if let Some(limit) = query.limit {
        // One more than asked tells whether a next page exists without counting.
        params.push(Box::new(limit as i64 + 1));
        sql.push_str(&format!(" LIMIT ${}", params.len()));
    }
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    let rows = client.query(&sql, &refs).await?;
    let mut features = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for row in &rows {
        if query.limit.is_some_and(|limit| features.len() >= limit) {
            more = true;
            break;
        }
        let (key, feature) = match feature_from_row(dataset, row) {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        last_key = Some(key);
        // The GiST index compares single-precision boxes rounded outward; the exact test keeps edges honest.
        if let Some(bbox) = &query.bbox
            && !feature
                .geometry
                .as_ref()
                .and_then(Bbox::of_geometry)
                .is_some_and(|b| b.intersects(bbox))
        {
            continue;
        }
        features.push(feature);
    }
    let next = if more {
        last_key.map(|key| Cursor(key.to_string()))
    } else {
        None
    };
    Ok(Ok(FeaturePage { features, next }))
}

pub async fn feature(
    client: &impl GenericClient,
    dataset: &Dataset,
    id: &FeatureId,
) -> Result<Option<StoreResult<Feature>>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {FEATURE_COLUMNS} FROM {} WHERE feature_id = $1",
        quote(dataset.id.as_str())
    );
    let row = client.query_opt(&sql, &[&id.as_str()]).await?;
    Ok(row.map(|r| feature_from_row(dataset, &r).map(|(_, f)| f)))
}

pub async fn features_by_key(
    client: &impl GenericClient,
    dataset: &Dataset,
    keys: &[i64],
) -> Result<StoreResult<Vec<(i64, Feature)>>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {FEATURE_COLUMNS} FROM {} WHERE key = ANY($1)",
        quote(dataset.id.as_str())
    );
    let rows = client.query(&sql, &[&keys]).await?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        match feature_from_row(dataset, row) {
            Ok((key, feature)) => {
                found.insert(key, feature);
            }
            Err(e) => return Ok(Err(e)),
        }
    }
    // In the order asked; a key asked twice gets its feature twice.
    Ok(Ok(keys
        .iter()
        .filter_map(|k| found.get(k).map(|f| (*k, f.clone())))
        .collect()))
}

/// Ids and the asked properties by key, in the order asked. `geom` is not selected: a TOASTed geometry is
/// never detoasted, sent or decoded. Only the asked properties leave the server.
pub async fn properties_by_key(
    client: &impl GenericClient,
    dataset: &Dataset,
    keys: &[i64],
    fields: &Fields,
) -> Result<Vec<PropertyRow>, tokio_postgres::Error> {
    let table = quote(dataset.id.as_str());
    let rows = match fields {
        Fields::All => {
            let sql =
                format!("SELECT key, feature_id, properties FROM {table} WHERE key = ANY($1)");
            client.query(&sql, &[&keys]).await?
        }
        Fields::Only(names) => {
            // The names are bound as an array, never spliced into SQL text.
            let sql = format!(
                "SELECT key, feature_id,
                        (SELECT coalesce(jsonb_object_agg(p.k, p.v), '{{}}'::jsonb)
                         FROM jsonb_each(CASE jsonb_typeof(properties)
                                           WHEN 'object' THEN properties END) AS p(k, v)
                         WHERE p.k = ANY($2))
                 FROM {table} WHERE key = ANY($1)"
            );
            client.query(&sql, &[&keys, names]).await?
        }
    };
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let key: i64 = row.get(0);
        found.insert(
            key,
            PropertyRow {
                key,
                id: FeatureId(row.get(1)),
                properties: typed_properties(dataset, row.get(2)),
            },
        );
    }
    // In the order asked; a key asked twice gets its row twice, as with whole features.
    Ok(keys.iter().filter_map(|k| found.get(k).cloned()).collect())
}

/// Rows handed to the index per batch.
pub const BATCH_ROWS: usize = 16_384;

/// The index columns of one row.
pub fn index_row(dataset: &Dataset, row: &Row) -> StoreResult<IndexRow> {
    let key: i64 = row.get(0);
    let wkb: Option<&[u8]> = row.get(1);
    Ok(IndexRow {
        key,
        geometry: decode_geometry(wkb)
            .map_err(|e| corrupt(dataset, format!("feature {key}: {e}")))?,
        time: time_of(row.get(2), row.get(3)),
    })
}

/// One MVT layer of a dataset, made by PostGIS (`ST_AsMVTGeom` + `ST_AsMVT`) with the console's extent,
/// buffer and attributes; the GiST index selects the rows.
pub async fn tile_layer(
    client: &impl GenericClient,
    dataset: &Dataset,
    (z, x, y): (u8, u32, u32),
    datetime: Option<&geoconsole_query::DateTimeFilter>,
) -> Result<Vec<u8>, tokio_postgres::Error> {
    // The rows to encode: the tile with its buffer, in degrees (PostGIS's own `margin` wraps around the
    // antimeridian at the world's edge, so the box is made here and clamped).
    let n = f64::from(1_u32 << z.min(31));
    let pad = 64.0 / 4096.0;
    let lon = |tx: f64| (tx / n * 360.0 - 180.0).clamp(-180.0, 180.0);
    let lat = |ty: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * ty / n))
            .sinh()
            .atan()
            .to_degrees()
            .clamp(-90.0, 90.0)
    };
    let (fx, fy) = (f64::from(x), f64::from(y));
    let window = [
        lon(fx - pad),
        lat(fy + 1.0 + pad),
        lon(fx + 1.0 + pad),
        lat(fy - pad),
    ];
    let (z, x, y) = (i32::from(z), x as i32, y as i32);
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![
        Box::new(dataset.id.as_str().to_string()),
        Box::new(z),
        Box::new(x),
        Box::new(y),
    ];
    params.extend(window.map(|v| Box::new(v) as Box<dyn ToSql + Sync + Send>));
    let (time, time_params) = conditions(None, datetime, params.len());
    params.extend(time_params);
    let sql = format!(
        "SELECT coalesce(ST_AsMVT(t, $1, 4096, 'geom', 'key'), ''::bytea) FROM (
           SELECT key,
                  ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($2, $3, $4), 4096, 64, true) AS geom,
                  feature_id AS id,
                  (extract(epoch FROM time_start) * 1000)::bigint AS time_start,
                  (extract(epoch FROM time_end) * 1000)::bigint AS time_end,
                  properties
           FROM {}
           WHERE geom && ST_MakeEnvelope($5, $6, $7, $8, 4326){time}
         ) t WHERE geom IS NOT NULL",
        quote(dataset.id.as_str())
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    let table = quote(dataset.id.as_str());
    // Dense point layers are clustered as the index's tiles are: above CLUSTER_ABOVE points in the tile,
    // one feature per CLUSTER_CELL-unit cell at its members' mean position, with `point_count` and `cluster`.
    if dataset.geometry_type == geoconsole_model::GeometryType::Point {
        // One pass makes the clusters and counts the points; a tile that is not dense is then sent one feature
        // at a time. Tile coordinates come from the Web Mercator formulas on the degrees directly, which costs a
        // fraction of a PROJ transform per point.
        let sql = format!(
            "WITH cells AS (
               SELECT ST_MakePoint(round(least(greatest(avg(x), -64), 4160)), round(least(greatest(avg(y), -64), 4160))) AS geom,
                      count(*) AS point_count, count(*) > 1 AS cluster
               FROM (
                 SELECT ((ST_X(geom) + 180) / 360 * 2::float8 ^ $2::int - $3::int) * 4096 AS x,
                        ((1 - ln(tan(radians(lat)) + 1 / cos(radians(lat))) / pi()) / 2 * 2::float8 ^ $2::int - $4::int) * 4096 AS y
                 FROM (SELECT geom, least(greatest(ST_Y(geom), -85.0511287798066), 85.0511287798066) AS lat
                       FROM {table} WHERE geom && ST_MakeEnvelope($5, $6, $7, $8, 4326){time}) pts
               ) projected
               GROUP BY floor(x / {CLUSTER_CELL}), floor(y / {CLUSTER_CELL})
             )
             SELECT coalesce((SELECT sum(point_count) FROM cells), 0)::bigint,
                    CASE WHEN (SELECT sum(point_count) FROM cells) > {CLUSTER_ABOVE}
                         THEN (SELECT coalesce(ST_AsMVT(c, $1, 4096, 'geom'), ''::bytea) FROM cells c) END"
        );
        let row = client.query_one(&sql, &refs).await?;
        if let Some(clustered) = row.get::<_, Option<Vec<u8>>>(1) {
            return Ok(clustered);
        }
    }
    let row = client.query_one(&sql, &refs).await?;
    Ok(row.get::<_, Vec<u8>>(0))
}

/// Points in one tile above which a point layer is clustered, and the cluster cell's side in tile units:
/// the values of the index's tiles (`geoconsole_tiles::CLUSTER_ABOVE`, `CLUSTER_CELL`).
const CLUSTER_ABOVE: usize = 4_000;
const CLUSTER_CELL: f64 = 32.0;

/// The index columns of the rows whose bounding box meets any of `boxes`, each through the GiST index (a row
/// met by several boxes comes once per box).
pub async fn index_rows_within(
    client: &impl GenericClient,
    dataset: &Dataset,
    boxes: &[Bbox],
    datetime: Option<&geoconsole_query::DateTimeFilter>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let column = |f: fn(&Bbox) -> f64| boxes.iter().map(f).collect::<Vec<f64>>();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![
        Box::new(column(|b| b.west)),
        Box::new(column(|b| b.south)),
        Box::new(column(|b| b.east)),
        Box::new(column(|b| b.north)),
    ];
    let (time, time_params) = conditions(None, datetime, params.len());
    params.extend(time_params);
    // One index scan per box; a row in several boxes comes several times and is kept once by the caller.
    let sql = format!(
        "SELECT key, ST_AsBinary(geom), time_start, time_end
         FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) AS b(w, s, e, n)
         JOIN {table} ON geom && ST_MakeEnvelope(b.w, b.s, b.e, b.n, 4326){time}",
        table = quote(dataset.id.as_str())
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    client.query(&sql, &refs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(code: u32) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(&code.to_le_bytes());
        out
    }

    // Regression: geozero's reader recursed once per collection level, so a row another tool wrote with
    // collections nested 20,000 deep would have overflowed the stack of whichever request read it.
    #[test]
    fn what_other_tools_wrote_is_read_with_the_bounded_decoder() {
        let mut deep = Vec::new();
        for _ in 0..20_000 {
            deep.extend(header(7));
            deep.extend_from_slice(&1u32.to_le_bytes());
        }
        let err = decode_geometry(Some(&deep)).unwrap_err();
        assert!(err.contains("nest 20000 levels deep"), "{err}");
        // EWKB with an SRID, as `ST_AsEWKB` gives it, and a curve, as QGIS may store one.
        let mut point = header(0x2000_0001);
        point.extend_from_slice(&4326u32.to_le_bytes());
        point.extend_from_slice(&2.5f64.to_le_bytes());
        point.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(
            decode_geometry(Some(&point)),
            Ok(Some(Geometry::Point(
                geoconsole_model::geo_types::Point::new(2.5, 1.5)
            )))
        );
        let mut arc = header(8);
        arc.extend_from_slice(&3u32.to_le_bytes());
        for v in [-1.0f64, 0.0, 0.0, 1.0, 1.0, 0.0] {
            arc.extend_from_slice(&v.to_le_bytes());
        }
        assert!(
            matches!(decode_geometry(Some(&arc)), Ok(Some(Geometry::LineString(l))) if l.0.len() == 65)
        );
        // An empty geometry, like a NULL, is an unlocated feature.
        let mut empty = header(7);
        empty.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(decode_geometry(Some(&empty)), Ok(None));
        assert_eq!(decode_geometry(None), Ok(None));
    }
}
