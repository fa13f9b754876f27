//! GeoPackage geometry blobs (GeoPackage 1.3 §2.1.3): a `GP` header with SRS id and optional envelope,
//! followed by ISO WKB. Encoding goes through geozero; decoding through `formats::wkb`, since the store's
//! tables may hold what QGIS or GDAL wrote (curves, empties, deep collections) and its reader is bounded. The
//! `ST_*` SQL functions that the R-tree triggers call are registered here, as GDAL does, so any write (ours
//! or a later tool's through our connection) keeps the spatial index true.

use geoconsole_formats::wkb;
use geoconsole_model::Bbox;
use geoconsole_model::geo_types::Geometry;
use geozero::{CoordDimensions, ToWkb};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

pub use geoconsole_formats::geopackage::WGS84_SRS_ID;

/// Encodes a geometry with its envelope, so readers (and the R-tree triggers) need not parse the WKB to
/// learn its extent. Points carry no envelope: their extent is their position, and GDAL writes them that way.
pub fn encode(geometry: &Geometry<f64>, bbox: &Bbox) -> Result<Vec<u8>, String> {
    let envelope = if matches!(geometry, Geometry::Point(_)) {
        Vec::new()
    } else {
        vec![bbox.west, bbox.east, bbox.south, bbox.north]
    };
    geometry
        .to_gpkg_wkb(CoordDimensions::xy(), Some(WGS84_SRS_ID), envelope)
        .map_err(|e| e.to_string())
}

pub fn decode(blob: &[u8]) -> Result<Geometry<f64>, String> {
    if let Some(point) = decode_plain_point(blob) {
        return Ok(Geometry::Point(point));
    }
    wkb::decode_geopackage(blob)
        .map_err(|e| format!("unreadable geometry blob: {e}"))?
        // The console never writes one; another tool may have. Refused until empties are kept as nulls.
        .ok_or_else(|| "empty geometry".to_string())
}

/// The envelope of a blob as `(min_x, max_x, min_y, max_y)`, read from the header when present and from the
/// geometry otherwise; `None` for an empty or unreadable blob.
pub fn envelope(blob: &[u8]) -> Option<(f64, f64, f64, f64)> {
    if blob.len() < 8 || &blob[0..2] != b"GP" {
        return None;
    }
    let flags = blob[3];
    let little_endian = flags & 1 == 1;
    let envelope_kind = (flags >> 1) & 0b111;
    let read = |at: usize| -> Option<f64> {
        let bytes: [u8; 8] = blob.get(at..at + 8)?.try_into().ok()?;
        Some(if little_endian {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        })
    };
    if (1..=4).contains(&envelope_kind) {
        return Some((read(8)?, read(16)?, read(24)?, read(32)?));
    }
    // Points carry no envelope; read the WKB point directly instead of decoding a whole geometry.
    if envelope_kind == 0 && blob.len() >= 8 + 21 {
        let wkb = &blob[8..];
        let little = wkb[0] == 1;
        let word: [u8; 4] = wkb[1..5].try_into().ok()?;
        let kind = if little {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        };
        if kind == 1 {
            let coordinate = |at: usize| -> Option<f64> {
                let bytes: [u8; 8] = wkb.get(at..at + 8)?.try_into().ok()?;
                Some(if little {
                    f64::from_le_bytes(bytes)
                } else {
                    f64::from_be_bytes(bytes)
                })
            };
            let (x, y) = (coordinate(5)?, coordinate(13)?);
            return Some((x, x, y, y));
        }
    }
    let bbox = Bbox::of_geometry(&decode(blob).ok()?)?;
    Some((bbox.west, bbox.east, bbox.south, bbox.north))
}

/// Points are most rows of the largest datasets; their 29-byte blob (header without envelope, 2D WKB point)
/// is read directly rather than through a geometry processor, which makes index loads several times faster.
fn decode_plain_point(blob: &[u8]) -> Option<geoconsole_model::geo_types::Point<f64>> {
    if blob.len() != 8 + 21 || &blob[0..2] != b"GP" || blob[3] & 0b1110 != 0 || is_empty_blob(blob)
    {
        return None;
    }
    let wkb = &blob[8..];
    let little = match wkb[0] {
        1 => true,
        0 => false,
        _ => return None,
    };
    let word = |at: usize| -> Option<[u8; 4]> { wkb.get(at..at + 4)?.try_into().ok() };
    let float = |at: usize| -> Option<f64> {
        let bytes: [u8; 8] = wkb.get(at..at + 8)?.try_into().ok()?;
        Some(if little {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        })
    };
    let kind = if little {
        u32::from_le_bytes(word(1)?)
    } else {
        u32::from_be_bytes(word(1)?)
    };
    if kind != 1 {
        return None;
    }
    Some(geoconsole_model::geo_types::Point::new(
        float(5)?,
        float(13)?,
    ))
}

fn is_empty_blob(blob: &[u8]) -> bool {
    // Bit 4 of the flags byte marks an empty geometry.
    blob.len() < 4 || blob[3] & 0b1_0000 != 0
}

/// Registers `ST_MinX`, `ST_MaxX`, `ST_MinY`, `ST_MaxY` and `ST_IsEmpty`, which the GeoPackage R-tree triggers
/// call on every insert and update.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    // Innocuous: pure functions of their argument, so triggers may call them with `trusted_schema` off.
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    let part = |pick: fn((f64, f64, f64, f64)) -> f64| {
        move |ctx: &rusqlite::functions::Context<'_>| -> rusqlite::Result<Option<f64>> {
            Ok(ctx
                .get_raw(0)
                .as_blob_or_null()?
                .and_then(envelope)
                .map(pick))
        }
    };
    conn.create_scalar_function("ST_MinX", 1, flags, part(|e| e.0))?;
    conn.create_scalar_function("ST_MaxX", 1, flags, part(|e| e.1))?;
    conn.create_scalar_function("ST_MinY", 1, flags, part(|e| e.2))?;
    conn.create_scalar_function("ST_MaxY", 1, flags, part(|e| e.3))?;
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        Ok(ctx
            .get_raw(0)
            .as_blob_or_null()?
            .map(|b| i32::from(is_empty_blob(b))))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geoconsole_model::geo_types::{LineString, Point, Polygon};

    #[test]
    fn point_blobs_round_trip_and_report_their_extent() {
        let g: Geometry<f64> = Point::new(12.5, -3.25).into();
        let bbox = Bbox::of_geometry(&g).unwrap();
        let blob = encode(&g, &bbox).unwrap();
        assert_eq!(&blob[0..2], b"GP");
        assert_eq!(decode(&blob).unwrap(), g);
        assert_eq!(envelope(&blob), Some((12.5, 12.5, -3.25, -3.25)));
    }

    #[test]
    fn polygon_blobs_carry_their_envelope() {
        let g: Geometry<f64> = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 0.0)]),
            vec![],
        )
        .into();
        let blob = encode(&g, &Bbox::of_geometry(&g).unwrap()).unwrap();
        assert_eq!(
            blob[3] >> 1 & 0b111,
            1,
            "envelope [minx, maxx, miny, maxy] present"
        );
        assert_eq!(envelope(&blob), Some((0.0, 4.0, 0.0, 2.0)));
        assert_eq!(decode(&blob).unwrap(), g);
        assert_eq!(envelope(b"garbage"), None);
    }

    #[test]
    fn blobs_other_tools_wrote_are_read_with_the_bounded_decoder() {
        // A circular arc (GeoPackage curve extension), as QGIS writes one: linearised.
        let mut arc = b"GP\x00\x01\xe6\x10\x00\x00".to_vec();
        arc.push(1);
        arc.extend_from_slice(&8u32.to_le_bytes());
        arc.extend_from_slice(&3u32.to_le_bytes());
        for v in [-1.0f64, 0.0, 0.0, 1.0, 1.0, 0.0] {
            arc.extend_from_slice(&v.to_le_bytes());
        }
        assert!(matches!(decode(&arc), Ok(Geometry::LineString(l)) if l.0.len() == 65));
        // The empty flag.
        let empty = b"GP\x00\x11\xe6\x10\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf8\x7f\x00\x00\x00\x00\x00\x00\xf8\x7f";
        assert_eq!(decode(empty), Err("empty geometry".to_string()));
        // Collections nested past the limit: refused, not recursed into.
        let mut deep = b"GP\x00\x01\xe6\x10\x00\x00".to_vec();
        for _ in 0..20_000 {
            deep.push(1);
            deep.extend_from_slice(&7u32.to_le_bytes());
            deep.extend_from_slice(&1u32.to_le_bytes());
        }
        let err = decode(&deep).unwrap_err();
        assert!(err.contains("nest 20000 levels deep"), "{err}");
    }
}
