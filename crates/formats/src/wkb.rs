//! Well-known binary geometry, read: ISO WKB (ISO 13249-3 / OGC 06-103r4; Z, M and ZM as type + 1000, 2000,
//! 3000), PostGIS EWKB (Z, M and SRID flags in the type's high bits; the SRID is skipped) and the GeoPackage
//! geometry blob (GeoPackage 1.3 §2.1.3: a `GP` header with SRS id, optional envelope and the empty flag,
//! then WKB). It is the one WKB reader of the console: foreign GeoPackage layers, GeoParquet's WKB columns,
//! and the stores' own blobs, which other tools (QGIS, GDAL) may have written.
//!
//! The bytes are untrusted, so:
//! - every count is checked against the bytes left before anything is allocated;
//! - geometry collections nest at most [`MAX_GEOMETRY_NESTING`] levels: a deeper one is refused, naming its
//!   depth, rather than recursed into (geozero recursed once per level, and 20,000 levels overflowed the
//!   stack and aborted the process). Nothing else nests: other containers hold a fixed kind of member.
//! - curves linearise into at most [`MAX_LINEARISED_VERTICES`] vertices per geometry, since a small blob of
//!   arcs can stand for many chords.
//!
//! Curved types (CircularString, CompoundCurve, CurvePolygon, MultiCurve, MultiSurface) are linearised as
//! [`crate::circular_arc`] describes (32 chords per quarter circle, as PostGIS `ST_CurveToLine`); Triangle
//! reads as a Polygon, PolyhedralSurface and TIN as MultiPolygons. Z and M are read and dropped: the
//! console's geometries are 2D. Rings are closed as geo-types closes them.
//!
//! An empty geometry (the GeoPackage empty flag, `POINT EMPTY` written as NaN coordinates, or a geometry with
//! no coordinates at all) comes back as `Ok(None)`, so each caller decides what an empty geometry means to it.

use geoconsole_model::geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon,
    Point, Polygon,
};
use geoconsole_model::{MAX_GEOMETRY_NESTING, nesting_message};
use thiserror::Error;

use crate::circular_arc;

/// Most vertices the curves of one geometry may linearise into (64 MB of coordinates).
pub const MAX_LINEARISED_VERTICES: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WkbErrorKind {
    /// The bytes are not WKB: cut short, an unknown type, a count larger than the bytes left.
    Malformed,
    /// Geometry collections nest deeper than [`MAX_GEOMETRY_NESTING`].
    TooDeep,
    /// WKB this reader does not take: a GeoPackage extended geometry, an empty point beside real ones in a
    /// multipoint (an empty part), curves that linearise into too many vertices.
    Unsupported,
}

/// Why bytes could not be read as a geometry; the message names the byte offset where it went wrong.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct WkbError {
    kind: WkbErrorKind,
    message: String,
}

impl WkbError {
    fn new(kind: WkbErrorKind, at: usize, message: impl std::fmt::Display) -> Self {
        Self {
            kind,
            message: format!("byte {at}: {message}"),
        }
    }

    pub fn kind(&self) -> WkbErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

pub type WkbResult<T> = Result<T, WkbError>;

/// Decodes ISO WKB or EWKB. `Ok(None)` is an empty geometry. Bytes after the geometry are ignored, as GDAL
/// and geozero ignore them.
pub fn decode(bytes: &[u8]) -> WkbResult<Option<Geometry<f64>>> {
    Reader::new(bytes, 0).top()
}

/// What a geometry's Z ordinates become in the console's 2D model: a point's is kept by the reader (as
/// [`crate::Z_PROPERTY`]), any other geometry's are dropped and the read says so.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Elevation {
    /// No Z (or a point whose Z is NaN, which says nothing).
    Flat,
    Point(f64),
    /// A line, polygon, multi-geometry or collection with Z.
    Dropped,
}

/// The Z of a WKB or EWKB geometry, from its first header (and a point's ordinates) only; unreadable bytes
/// are [`Elevation::Flat`], since [`decode`] refuses them anyway.
pub fn elevation(bytes: &[u8]) -> Elevation {
    let mut reader = Reader::new(bytes, 0);
    let Ok(header) = reader.header() else {
        return Elevation::Flat;
    };
    if !header.z {
        return Elevation::Flat;
    }
    if header.code != POINT {
        return Elevation::Dropped;
    }
    // Z follows x and y (M, if any, comes after it).
    let mut ordinates = [0.0; 3];
    for value in &mut ordinates {
        match reader.f64(header.little, "point") {
            Ok(v) => *value = v,
            Err(_) => return Elevation::Flat,
        }
    }
    if ordinates[2].is_nan() {
        Elevation::Flat
    } else {
        Elevation::Point(ordinates[2])
    }
}

/// [`elevation`] of a GeoPackage geometry blob.
pub fn elevation_geopackage(blob: &[u8]) -> Elevation {
    match geopackage_header(blob) {
        Ok(header) if !header.empty => elevation(&blob[header.wkb_offset..]),
        _ => Elevation::Flat,
    }
}

/// What a GeoPackage geometry blob's header says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPackageHeader {
    pub srs_id: i32,
    /// `[min_x, max_x, min_y, max_y]`, when the blob carries one.
    pub envelope: Option<[f64; 4]>,
    /// The empty flag: the geometry has no coordinates (whatever WKB follows).
    pub empty: bool,
    /// Where the WKB starts.
    pub wkb_offset: usize,
}

/// Reads the header of a GeoPackage geometry blob.
pub fn geopackage_header(blob: &[u8]) -> WkbResult<GeoPackageHeader> {
    let malformed = |at, why: &str| WkbError::new(WkbErrorKind::Malformed, at, why);
    if blob.get(0..2) != Some(b"GP".as_slice()) {
        return Err(malformed(0, "not a GeoPackage geometry (no GP magic)"));
    }
    let flags = *blob
        .get(3)
        .ok_or_else(|| malformed(3, "header cut short"))?;
    if flags & 0b0010_0000 != 0 {
        return Err(WkbError::new(
            WkbErrorKind::Unsupported,
            3,
            "an extended GeoPackage geometry (a vendor's own encoding) cannot be read",
        ));
    }
    let little = flags & 1 == 1;
    let doubles = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 4,
        2 | 3 => 6,
        4 => 8,
        other => {
            return Err(malformed(
                3,
                &format!("envelope code {other} is not 0 to 4"),
            ));
        }
    };
    let mut reader = Reader::new(blob, 4);
    let srs_id = reader.u32(little, "SRS id")?.cast_signed();
    let mut envelope = [0.0; 8];
    for value in envelope.iter_mut().take(doubles) {
        *value = reader.f64(little, "envelope")?;
    }
    Ok(GeoPackageHeader {
        srs_id,
        envelope: (doubles > 0).then(|| [envelope[0], envelope[1], envelope[2], envelope[3]]),
        empty: flags & 0b0001_0000 != 0,
        wkb_offset: reader.at,
    })
}

/// Decodes a GeoPackage geometry blob. `Ok(None)` is an empty geometry (by its flag or its WKB).
pub fn decode_geopackage(blob: &[u8]) -> WkbResult<Option<Geometry<f64>>> {
    let header = geopackage_header(blob)?;
    if header.empty {
        return Ok(None);
    }
    Reader::new(blob, header.wkb_offset).top()
}

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTIPOINT: u32 = 4;
const MULTILINESTRING: u32 = 5;
const MULTIPOLYGON: u32 = 6;
const GEOMETRYCOLLECTION: u32 = 7;
const CIRCULARSTRING: u32 = 8;
const COMPOUNDCURVE: u32 = 9;
const CURVEPOLYGON: u32 = 10;
const MULTICURVE: u32 = 11;
const MULTISURFACE: u32 = 12;
const POLYHEDRALSURFACE: u32 = 15;
const TIN: u32 = 16;
const TRIANGLE: u32 = 17;

fn type_name(code: u32) -> &'static str {
    match code {
        POINT => "point",
        LINESTRING => "linestring",
        POLYGON => "polygon",
        MULTIPOINT => "multipoint",
        MULTILINESTRING => "multilinestring",
        MULTIPOLYGON => "multipolygon",
        GEOMETRYCOLLECTION => "geometry collection",
        CIRCULARSTRING => "circular string",
        COMPOUNDCURVE => "compound curve",
        CURVEPOLYGON => "curve polygon",
        MULTICURVE => "multicurve",
        MULTISURFACE => "multisurface",
        POLYHEDRALSURFACE => "polyhedral surface",
        TIN => "TIN",
        _ => "triangle",
    }
}

/// Fewest bytes a tagged member can take: byte order, type, and a count.
const MIN_MEMBER_BYTES: usize = 9;

/// One geometry's header.
struct Header {
    little: bool,
    code: u32,
    /// Ordinates per position: 2, 3 (Z or M) or 4.
    dims: usize,
    /// Whether the third ordinate is Z.
    z: bool,
    at: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Vertices made from arcs so far.
    linearised: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], at: usize) -> Self {
        Self {
            bytes,
            at,
            linearised: 0,
        }
    }

    fn malformed(&self, at: usize, why: impl std::fmt::Display) -> WkbError {
        WkbError::new(WkbErrorKind::Malformed, at, why)
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    fn take<const N: usize>(&mut self, what: &str) -> WkbResult<[u8; N]> {
        let bytes: [u8; N] = self
            .bytes
            .get(self.at..self.at.saturating_add(N))
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| self.malformed(self.at, format!("cut short in the {what}")))?;
        self.at += N;
        Ok(bytes)
    }

    fn u32(&mut self, little: bool, what: &str) -> WkbResult<u32> {
        let b = self.take::<4>(what)?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool, what: &str) -> WkbResult<f64> {
        let b = self.take::<8>(what)?;
        Ok(if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn header(&mut self) -> WkbResult<Header> {
        let at = self.at;
        let little = match self.take::<1>("byte order")?[0] {
            0 => false,
            1 => true,
            other => {
                return Err(self.malformed(at, format!("byte order {other} is neither 0 nor 1")));
            }
        };
        let raw = self.u32(little, "geometry type")?;
        // EWKB keeps Z, M and SRID in the high bits; ISO adds 1000 (Z), 2000 (M) or 3000 (ZM).
        let code = raw & 0x0FFF_FFFF;
        let (base, iso) = (code % 1000, code / 1000);
        if iso > 3 || !matches!(base, 1..=12 | 15..=17) {
            return Err(self.malformed(at, format!("geometry type {raw} is not one WKB defines")));
        }
        let z = raw & 0x8000_0000 != 0 || iso == 1 || iso == 3;
        let m = raw & 0x4000_0000 != 0 || iso == 2 || iso == 3;
        if raw & 0x2000_0000 != 0 {
            self.take::<4>("SRID")?;
        }
        Ok(Header {
            little,
            code: base,
            dims: 2 + usize::from(z) + usize::from(m),
            z,
            at,
        })
    }

    /// A count, checked against the bytes left before the caller allocates for it.
    fn count(&mut self, header: &Header, what: &str, min_bytes_each: usize) -> WkbResult<usize> {
        let at = self.at;
        let n = self.u32(header.little, what)? as usize;
        if n.saturating_mul(min_bytes_each) > self.remaining() {
            return Err(self.malformed(
                at,
                format!(
                    "{n} {what}s cannot fit in the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }

    /// The positions of a point list, Z and M dropped.
    fn positions(&mut self, header: &Header) -> WkbResult<Vec<Coord<f64>>> {
        let stride = 8 * header.dims;
        let n = self.count(header, "position", stride)?;
        let block = &self.bytes[self.at..self.at + n * stride];
        self.at += n * stride;
        let float = |b: &[u8]| {
            let b: [u8; 8] = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
            if header.little {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            }
        };
        Ok(block
            .chunks_exact(stride)
            .map(|p| Coord {
                x: float(&p[0..8]),
                y: float(&p[8..16]),
            })
            .collect())
    }

    /// A point's position; `None` for `POINT EMPTY` (every ordinate NaN).
    fn point(&mut self, header: &Header) -> WkbResult<Option<Point<f64>>> {
        let mut ordinates = [0.0; 4];
        for value in ordinates.iter_mut().take(header.dims) {
            *value = self.f64(header.little, "point")?;
        }
        if ordinates[..header.dims].iter().all(|v| v.is_nan()) {
            return Ok(None);
        }
        Ok(Some(Point::new(ordinates[0], ordinates[1])))
    }

    /// The top-level geometry, `None` when it is empty.
    fn top(mut self) -> WkbResult<Option<Geometry<f64>>> {
        let start = self.at;
        let geometry = match self.geometry(0) {
            Err(e) if e.kind == WkbErrorKind::TooDeep => {
                // Measured again, without recursion, so the message can say how deep it went.
                let depth = nesting_at(self.bytes, start);
                return Err(WkbError::new(
                    WkbErrorKind::TooDeep,
                    start,
                    nesting_message(depth),
                ));
            }
            other => other?,
        };
        Ok(geometry.filter(|g| !geoconsole_model::is_empty_geometry(g)))
    }

    /// Any geometry; `None` for an empty point. `nesting` is how many collections hold it. Each kind is read
    /// by a function of its own so that this frame, the one collections recurse through, stays small.
    fn geometry(&mut self, nesting: usize) -> WkbResult<Option<Geometry<f64>>> {
        let header = self.header()?;
        Ok(Some(match header.code {
            POINT => return Ok(self.point(&header)?.map(Geometry::Point)),
            LINESTRING | CIRCULARSTRING | COMPOUNDCURVE => {
                Geometry::LineString(LineString(self.curve(&header)?))
            }
            POLYGON | TRIANGLE => Geometry::Polygon(self.polygon(&header)?),
            CURVEPOLYGON => Geometry::Polygon(self.curve_polygon(&header)?),
            MULTIPOINT => Geometry::MultiPoint(self.multipoint(&header)?),
            MULTILINESTRING | MULTICURVE => Geometry::MultiLineString(self.multicurve(&header)?),
            GEOMETRYCOLLECTION => Geometry::GeometryCollection(self.collection(&header, nesting)?),
            _ => Geometry::MultiPolygon(self.multisurface(&header)?),
        }))
    }

    fn multipoint(&mut self, header: &Header) -> WkbResult<MultiPoint<f64>> {
        let n = self.count(header, "member", MIN_MEMBER_BYTES)?;
        let mut points = Vec::with_capacity(n);
        // The first empty point (NaN coordinates), by position and offset.
        let mut empty = None;
        for i in 0..n {
            let member = self.member(header, i, &[POINT])?;
            match self.point(&member)? {
                Some(point) => points.push(point),
                None => {
                    empty.get_or_insert((i, member.at));
                }
            }
        }
        // Only empty points (`MULTIPOINT (EMPTY)`, as PostGIS and GDAL write it) is the empty multipoint;
        // an empty point beside real ones is refused, as every reader refuses an empty part.
        match empty {
            Some((i, at)) if !points.is_empty() => Err(WkbError::new(
                WkbErrorKind::Unsupported,
                at,
                format!(
                    "multipoint part {} is empty beside parts with positions: its positions are missing",
                    i + 1
                ),
            )),
            _ => Ok(MultiPoint(points)),
        }
    }

    /// MultiLineString, or MultiCurve (whose members may be arcs).
    fn multicurve(&mut self, header: &Header) -> WkbResult<MultiLineString<f64>> {
        let allowed: &[u32] = if header.code == MULTICURVE {
            &[LINESTRING, CIRCULARSTRING, COMPOUNDCURVE]
        } else {
            &[LINESTRING]
        };
        let n = self.count(header, "member", MIN_MEMBER_BYTES)?;
        let mut lines = Vec::with_capacity(n);
        for i in 0..n {
            let member = self.member(header, i, allowed)?;
            lines.push(LineString(self.curve(&member)?));
        }
        Ok(MultiLineString(lines))
    }

    /// MultiPolygon, MultiSurface (whose members may be curve polygons), PolyhedralSurface, TIN.
    fn multisurface(&mut self, header: &Header) -> WkbResult<MultiPolygon<f64>> {
        let allowed: &[u32] = match header.code {
            MULTISURFACE => &[POLYGON, CURVEPOLYGON],
            TIN => &[TRIANGLE],
            _ => &[POLYGON],
        };
        let n = self.count(header, "member", MIN_MEMBER_BYTES)?;
        let mut polygons = Vec::with_capacity(n);
        for i in 0..n {
            let member = self.member(header, i, allowed)?;
            polygons.push(if member.code == CURVEPOLYGON {
                self.curve_polygon(&member)?
            } else {
                self.polygon(&member)?
            });
        }
        Ok(MultiPolygon(polygons))
    }

    fn collection(
        &mut self,
        header: &Header,
        nesting: usize,
    ) -> WkbResult<GeometryCollection<f64>> {
        if nesting >= MAX_GEOMETRY_NESTING {
            return Err(WkbError::new(
                WkbErrorKind::TooDeep,
                header.at,
                nesting_message(nesting + 1),
            ));
        }
        let n = self.count(header, "member", MIN_MEMBER_BYTES)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            // An empty point (NaN coordinates) has no geo-types form; like every empty member of a
            // collection it is left out (`without_empty_members`), and the others locate the feature.
            if let Some(member) = self.geometry(nesting + 1)? {
                members.push(member);
            }
        }
        Ok(GeometryCollection(members))
    }

    /// The header of member `index` of `container`, which must be one of `allowed`.
    fn member(&mut self, container: &Header, index: usize, allowed: &[u32]) -> WkbResult<Header> {
        let member = self.header()?;
        if !allowed.contains(&member.code) {
            return Err(self.malformed(
                member.at,
                format!(
                    "{} member {index} is a {}",
                    type_name(container.code),
                    type_name(member.code)
                ),
            ));
        }
        Ok(member)
    }

    fn polygon(&mut self, header: &Header) -> WkbResult<Polygon<f64>> {
        let n = self.count(header, "ring", 4)?;
        let mut rings = Vec::with_capacity(n);
        for _ in 0..n {
            rings.push(LineString(self.positions(header)?));
        }
        Ok(polygon_of(rings))
    }

    /// A curve as positions: a LineString as it is, arcs linearised, a CompoundCurve's parts joined.
    fn curve(&mut self, header: &Header) -> WkbResult<Vec<Coord<f64>>> {
        match header.code {
            CIRCULARSTRING => self.circular_string(header),
            COMPOUNDCURVE => {
                let n = self.count(header, "member", MIN_MEMBER_BYTES)?;
                let mut line: Vec<Coord<f64>> = Vec::new();
                for i in 0..n {
                    let member = self.member(header, i, &[LINESTRING, CIRCULARSTRING])?;
                    let part = self.curve(&member)?;
                    match (line.last(), part.first()) {
                        (Some(end), Some(start)) if !meets(*end, *start) => {
                            return Err(self.malformed(
                                member.at,
                                format!(
                                    "compound curve member {i} does not start where member {} ends",
                                    i - 1
                                ),
                            ));
                        }
                        (Some(_), Some(_)) => line.extend_from_slice(&part[1..]),
                        _ => line.extend(part),
                    }
                }
                Ok(line)
            }
            _ => self.positions(header),
        }
    }

    fn circular_string(&mut self, header: &Header) -> WkbResult<Vec<Coord<f64>>> {
        let at = self.at;
        let points = self.positions(header)?;
        if points.is_empty() {
            return Ok(points);
        }
        if points.len() < 3 || points.len() % 2 == 0 {
            return Err(self.malformed(
                at,
                format!(
                    "a circular string of {} positions; arcs need an odd number, at least 3",
                    points.len()
                ),
            ));
        }
        let mut line = Vec::with_capacity(points.len());
        line.push(points[0]);
        for arc in points.windows(3).step_by(2) {
            circular_arc::linearise(arc[0], arc[1], arc[2], &mut line);
        }
        self.linearised += line.len();
        if self.linearised > MAX_LINEARISED_VERTICES {
            return Err(WkbError::new(
                WkbErrorKind::Unsupported,
                at,
                format!("curves linearise into more than {MAX_LINEARISED_VERTICES} vertices"),
            ));
        }
        Ok(line)
    }

    fn curve_polygon(&mut self, header: &Header) -> WkbResult<Polygon<f64>> {
        let n = self.count(header, "ring", MIN_MEMBER_BYTES)?;
        let mut rings = Vec::with_capacity(n);
        for i in 0..n {
            let member = self.member(header, i, &[LINESTRING, CIRCULARSTRING, COMPOUNDCURVE])?;
            rings.push(LineString(self.curve(&member)?));
        }
        Ok(polygon_of(rings))
    }
}

fn polygon_of(rings: Vec<LineString<f64>>) -> Polygon<f64> {
    let mut rings = rings.into_iter();
    let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
    Polygon::new(exterior, rings.collect())
}

/// Whether a compound curve's parts meet: the same position, give or take rounding in the last digits.
fn meets(a: Coord<f64>, b: Coord<f64>) -> bool {
    let close = |p: f64, q: f64| (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0);
    close(a.x, b.x) && close(a.y, b.y)
}

/// The deepest nesting of geometry collections in the WKB starting at `start`, found without recursion (for
/// the message about a geometry nested too deep). Bytes that end or go wrong stop the count where it got.
fn nesting_at(bytes: &[u8], start: usize) -> usize {
    let mut reader = Reader::new(bytes, start);
    let mut deepest = 0;
    // `None` when the walk stops early; `deepest` is kept either way.
    let _ = walk_nesting(&mut reader, &mut deepest);
    deepest
}

fn walk_nesting(reader: &mut Reader<'_>, deepest: &mut usize) -> Option<()> {
    // Open containers: members still to come, and whether it is a collection.
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut depth = 0usize;
    loop {
        let header = reader.header().ok()?;
        let skip = |reader: &mut Reader<'_>, positions: usize| -> Option<()> {
            let bytes = positions.checked_mul(8 * header.dims)?;
            (bytes <= reader.remaining()).then(|| reader.at += bytes)
        };
        match header.code {
            POINT => skip(reader, 1)?,
            LINESTRING | CIRCULARSTRING => {
                let n = reader.u32(header.little, "count").ok()? as usize;
                skip(reader, n)?;
            }
            POLYGON | TRIANGLE => {
                for _ in 0..reader.u32(header.little, "count").ok()? {
                    let n = reader.u32(header.little, "count").ok()? as usize;
                    skip(reader, n)?;
                }
            }
            // Containers of tagged members.
            code => {
                let collection = code == GEOMETRYCOLLECTION;
                depth += usize::from(collection);
                *deepest = (*deepest).max(depth);
                let n = reader.u32(header.little, "count").ok()? as usize;
                if n > 0 {
                    open.push((n, collection));
                    continue;
                }
                depth -= usize::from(collection);
            }
        }
        // A geometry is done; close every container it completes.
        loop {
            let Some((left, collection)) = open.last_mut() else {
                return Some(());
            };
            *left -= 1;
            if *left > 0 {
                break;
            }
            depth -= usize::from(*collection);
            open.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geozero::wkb::{Ewkb, GpkgWkb, Wkb};
    use geozero::{CoordDimensions, ToGeo, ToWkb};
    use proptest::prelude::*;

    /// WKB written by hand, in either byte order, for what geozero cannot write (XDR, Z/M, curves).
    struct Writer {
        out: Vec<u8>,
        little: bool,
    }

    impl Writer {
        fn new(little: bool) -> Self {
            Self {
                out: Vec::new(),
                little,
            }
        }
        fn u32(&mut self, v: u32) -> &mut Self {
            let b = if self.little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.out.extend_from_slice(&b);
            self
        }
        fn f64s(&mut self, values: &[f64]) -> &mut Self {
            for v in values {
                let b = if self.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                self.out.extend_from_slice(&b);
            }
            self
        }
        fn header(&mut self, code: u32) -> &mut Self {
            self.out.push(u8::from(self.little));
            self.u32(code)
        }
        /// A tagged point list (`LineString`, `CircularString`) of 2D positions.
        fn line(&mut self, code: u32, points: &[(f64, f64)]) -> &mut Self {
            self.header(code).u32(points.len() as u32);
            for (x, y) in points {
                self.f64s(&[*x, *y]);
            }
            self
        }
        fn bytes(&self) -> Vec<u8> {
            self.out.clone()
        }
    }

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    fn decoded(bytes: &[u8]) -> Geometry<f64> {
        decode(bytes).expect("decodes").expect("not empty")
    }

    #[test]
    fn reads_both_byte_orders_and_every_dimension_flag() {
        for little in [true, false] {
            // 2D, ISO Z (1001), ISO M (2001), ISO ZM (3001), EWKB Z, EWKB M with SRID.
            for (code, extra, srid) in [
                (1, 0, None),
                (1001, 1, None),
                (2001, 1, None),
                (3001, 2, None),
                (0x8000_0001, 1, None),
                (0x6000_0001, 1, Some(4326)),
            ] {
                let mut w = Writer::new(little);
                w.header(code);
                if let Some(srid) = srid {
                    w.u32(srid);
                }
                w.f64s(&[12.5, -3.25]);
                w.f64s(&vec![99.0; extra]);
                assert_eq!(
                    decoded(&w.bytes()),
                    Geometry::Point(Point::new(12.5, -3.25)),
                    "type {code:#x}, little {little}"
                );
            }
            let line = Writer::new(little)
                .header(1002)
                .u32(2)
                .f64s(&[0.0, 1.0, 5.0, 2.0, 3.0, 7.0])
                .bytes();
            assert_eq!(
                decoded(&line),
                Geometry::LineString(LineString(vec![c(0.0, 1.0), c(2.0, 3.0)]))
            );
        }
    }

    #[test]
    fn empty_geometries_come_back_as_none() {
        let nan_point = Writer::new(true)
            .header(1)
            .f64s(&[f64::NAN, f64::NAN])
            .bytes();
        assert_eq!(decode(&nan_point), Ok(None));
        assert_eq!(
            decode(&Writer::new(false).header(2).u32(0).bytes()),
            Ok(None)
        );
        assert_eq!(
            decode(&Writer::new(true).header(3).u32(0).bytes()),
            Ok(None)
        );
        assert_eq!(
            decode(&Writer::new(true).header(6).u32(0).bytes()),
            Ok(None)
        );
        let empty_line_in_collection = Writer::new(true).header(7).u32(1).header(2).u32(0).bytes();
        assert_eq!(decode(&empty_line_in_collection), Ok(None));
        // The GeoPackage empty flag wins over whatever WKB follows.
        let mut blob = b"GP\x00\x11".to_vec();
        blob.extend_from_slice(&4326u32.to_le_bytes());
        blob.extend_from_slice(&nan_point);
        assert_eq!(decode_geopackage(&blob), Ok(None));
        // A point, then an empty one, in a container of `code`.
        let point_then_empty = |code: u32| {
            Writer::new(true)
                .header(code)
                .u32(2)
                .header(1)
                .f64s(&[1.0, 2.0])
                .header(1)
                .f64s(&[f64::NAN, f64::NAN])
                .bytes()
        };
        // An empty point beside a real one in a multipoint is an empty part, refused by name.
        let err = decode(&point_then_empty(4)).unwrap_err();
        assert_eq!(err.kind(), WkbErrorKind::Unsupported);
        assert!(
            err.message().contains("multipoint part 2 is empty"),
            "{err}"
        );
        // Only empty points is `MULTIPOINT (EMPTY)`: an empty geometry (found by an outside tester; GDAL
        // reads it so).
        let only_empty = Writer::new(true)
            .header(4)
            .u32(1)
            .header(1)
            .f64s(&[f64::NAN, f64::NAN])
            .bytes();
        assert_eq!(decode(&only_empty), Ok(None));
        // In a collection it is left out, as every empty member is (found by an outside tester: GDAL's
        // `GEOMETRYCOLLECTION (POINT (1 2), POINT EMPTY)` in a GeoPackage was refused).
        assert_eq!(
            decode(&point_then_empty(7)),
            Ok(Some(Geometry::GeometryCollection(GeometryCollection(
                vec![Geometry::Point(Point::new(1.0, 2.0))]
            ))))
        );
    }

    #[test]
    fn geopackage_headers_with_every_envelope_kind() {
        let wkb = Writer::new(true).line(2, &[(0.0, 0.0), (4.0, 2.0)]).bytes();
        for (code, doubles) in [(0u8, 0usize), (1, 4), (2, 6), (3, 6), (4, 8)] {
            for little in [true, false] {
                let mut blob = vec![b'G', b'P', 0, (code << 1) | u8::from(little)];
                let word = if little {
                    4326u32.to_le_bytes()
                } else {
                    4326u32.to_be_bytes()
                };
                blob.extend_from_slice(&word);
                for v in [0.0f64, 4.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]
                    .iter()
                    .take(doubles)
                {
                    blob.extend_from_slice(&if little {
                        v.to_le_bytes()
                    } else {
                        v.to_be_bytes()
                    });
                }
                blob.extend_from_slice(&wkb);
                let header = geopackage_header(&blob).unwrap();
                assert_eq!(header.srs_id, 4326);
                assert_eq!(header.envelope.is_some(), doubles > 0);
                assert_eq!(header.wkb_offset, 8 + 8 * doubles);
                assert_eq!(decode_geopackage(&blob).unwrap(), decode(&wkb).unwrap());
            }
        }
        assert_eq!(
            geopackage_header(b"GP\x00\x21\x00\x00\x00\x00")
                .unwrap_err()
                .kind(),
            WkbErrorKind::Unsupported
        );
        assert!(
            geopackage_header(b"GP\x00\x0b\x00\x00\x00\x00").is_err(),
            "envelope code 5"
        );
        assert!(geopackage_header(b"XY\x00\x00").is_err());
    }

    #[test]
    fn curves_are_linearised() {
        let arc = [(-1.0, 0.0), (0.0, 1.0), (1.0, 0.0)];
        let Geometry::LineString(half) = decoded(&Writer::new(true).line(8, &arc).bytes()) else {
            panic!("a circular string reads as a linestring")
        };
        assert_eq!(half.0.len(), 65, "32 chords per quarter circle");
        assert_eq!((half.0[0], half.0[64]), (c(-1.0, 0.0), c(1.0, 0.0)));

        // A compound curve: the arc, then a straight line back; parts share their joints.
        let mut w = Writer::new(false);
        w.header(9)
            .u32(2)
            .line(8, &arc)
            .line(2, &[(1.0, 0.0), (-1.0, 0.0)]);
        let Geometry::LineString(compound) = decoded(&w.bytes()) else {
            panic!("a compound curve reads as a linestring")
        };
        assert_eq!(compound.0.len(), 66);
        assert_eq!(compound.0.last(), Some(&c(-1.0, 0.0)));

        // A curve polygon whose ring is that compound curve, inside a multisurface beside a plain polygon.
        let mut w = Writer::new(true);
        w.header(12).u32(2).header(10).u32(1);
        w.header(9)
            .u32(2)
            .line(8, &arc)
            .line(2, &[(1.0, 0.0), (-1.0, 0.0)]);
        w.header(3)
            .u32(1)
            .u32(4)
            .f64s(&[0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let Geometry::MultiPolygon(surface) = decoded(&w.bytes()) else {
            panic!("a multisurface reads as a multipolygon")
        };
        assert_eq!(surface.0.len(), 2);
        assert_eq!(
            surface.0[0].exterior().0.len(),
            66,
            "closed where it started"
        );

        // A multicurve of a linestring and an arc.
        let mut w = Writer::new(true);
        w.header(11)
            .u32(2)
            .line(2, &[(5.0, 5.0), (6.0, 6.0)])
            .line(8, &arc);
        let Geometry::MultiLineString(lines) = decoded(&w.bytes()) else {
            panic!("a multicurve reads as a multilinestring")
        };
        assert_eq!((lines.0[0].0.len(), lines.0[1].0.len()), (2, 65));

        let even = Writer::new(true).line(8, &[(0.0, 0.0), (1.0, 1.0)]).bytes();
        assert!(decode(&even).unwrap_err().message().contains("odd number"));
        let mut gap = Writer::new(true);
        gap.header(9)
            .u32(2)
            .line(8, &arc)
            .line(2, &[(9.0, 9.0), (1.0, 0.0)]);
        assert!(
            decode(&gap.bytes())
                .unwrap_err()
                .message()
                .contains("does not start")
        );
    }

    #[test]
    fn triangles_tins_and_polyhedral_surfaces_read_as_polygons() {
        let ring = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let triangle = Writer::new(true)
            .header(17)
            .u32(1)
            .u32(4)
            .f64s(&ring)
            .bytes();
        assert!(matches!(decoded(&triangle), Geometry::Polygon(_)));
        let mut tin = Writer::new(true);
        tin.header(16).u32(2);
        for _ in 0..2 {
            tin.header(17).u32(1).u32(4).f64s(&ring);
        }
        assert!(matches!(decoded(&tin.bytes()), Geometry::MultiPolygon(m) if m.0.len() == 2));
        let surface = Writer::new(true)
            .header(15)
            .u32(1)
            .header(3)
            .u32(1)
            .u32(4)
            .f64s(&ring)
            .bytes();
        assert!(matches!(decoded(&surface), Geometry::MultiPolygon(m) if m.0.len() == 1));
    }

    fn nested_collection(levels: usize) -> Vec<u8> {
        let mut w = Writer::new(true);
        for _ in 0..levels {
            w.header(7).u32(1);
        }
        w.header(1).f64s(&[1.0, 2.0]);
        w.bytes()
    }

    #[test]
    fn collections_nest_at_most_the_shared_limit() {
        assert!(decode(&nested_collection(MAX_GEOMETRY_NESTING)).is_ok());
        let err = decode(&nested_collection(MAX_GEOMETRY_NESTING + 1)).unwrap_err();
        assert_eq!(err.kind(), WkbErrorKind::TooDeep);
        assert_eq!(
            err.message(),
            format!("byte 0: {}", nesting_message(MAX_GEOMETRY_NESTING + 1))
        );
    }

    // Regression: a GeoPackage layer whose blob nests geometry collections 20,000 deep overflowed the stack of
    // geozero's recursive reader and aborted the import (and the server with it).
    #[test]
    fn a_collection_nested_twenty_thousand_deep_is_refused_on_a_small_stack() {
        let mut blob = b"GP\x00\x01\xe6\x10\x00\x00".to_vec();
        blob.extend_from_slice(&nested_collection(20_000));
        let err = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || decode_geopackage(&blob).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(err.kind(), WkbErrorKind::TooDeep);
        assert!(err.message().contains("nest 20000 levels deep"), "{err}");
    }

    #[test]
    fn counts_are_checked_before_allocating() {
        for code in [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16] {
            let lie = Writer::new(true).header(code).u32(u32::MAX).bytes();
            let err = decode(&lie).unwrap_err();
            assert_eq!(err.kind(), WkbErrorKind::Malformed, "{code}");
            assert!(err.message().contains("cannot fit"), "{code}: {err}");
        }
        assert!(
            decode(&[1, 99, 0, 0, 0])
                .unwrap_err()
                .message()
                .contains("type 99")
        );
        assert!(decode(&[7]).unwrap_err().message().contains("byte order"));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut w = Writer::new(false);
        w.header(7)
            .u32(3)
            .line(8, &[(-1.0, 0.0), (0.0, 1.0), (1.0, 0.0)]);
        w.header(0x2000_0006)
            .u32(4326)
            .u32(1)
            .header(3)
            .u32(1)
            .u32(4);
        w.f64s(&[0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        w.header(1).f64s(&[3.0, 4.0]);
        let bytes = w.bytes();
        assert!(decode(&bytes).is_ok());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    fn coordinate() -> impl Strategy<Value = Coord<f64>> {
        (-180.0f64..180.0, -90.0f64..90.0).prop_map(|(x, y)| c(x, y))
    }

    fn ring() -> impl Strategy<Value = LineString<f64>> {
        prop::collection::vec(coordinate(), 3..8).prop_map(|mut points| {
            points.push(points[0]);
            LineString(points)
        })
    }

    fn polygon() -> impl Strategy<Value = Polygon<f64>> {
        (ring(), prop::collection::vec(ring(), 0..2))
            .prop_map(|(outer, inner)| Polygon::new(outer, inner))
    }

    fn simple() -> impl Strategy<Value = Geometry<f64>> {
        prop_oneof![
            coordinate().prop_map(|c| Geometry::Point(Point(c))),
            prop::collection::vec(coordinate(), 2..8)
                .prop_map(|l| Geometry::LineString(LineString(l))),
            polygon().prop_map(Geometry::Polygon),
            prop::collection::vec(coordinate().prop_map(Point), 1..5)
                .prop_map(|p| Geometry::MultiPoint(MultiPoint(p))),
            prop::collection::vec(
                prop::collection::vec(coordinate(), 2..5).prop_map(LineString),
                1..4
            )
            .prop_map(|l| Geometry::MultiLineString(MultiLineString(l))),
            prop::collection::vec(polygon(), 1..3)
                .prop_map(|p| Geometry::MultiPolygon(MultiPolygon(p))),
        ]
    }

    fn any_geometry() -> impl Strategy<Value = Geometry<f64>> {
        simple().prop_recursive(3, 24, 4, |inner| {
            prop::collection::vec(inner, 1..4)
                .prop_map(|members| Geometry::GeometryCollection(GeometryCollection(members)))
        })
    }

    proptest! {
        /// Whatever geozero writes, this reads as geozero does: ISO WKB, EWKB with an SRID, GeoPackage blobs.
        #[test]
        fn reads_what_geozero_writes_as_geozero_reads_it(geometry in any_geometry()) {
            let iso = geometry.to_wkb(CoordDimensions::xy()).unwrap();
            prop_assert_eq!(decode(&iso).unwrap(), Some(Wkb(&iso).to_geo().unwrap()));
            prop_assert_eq!(decode(&iso).unwrap(), Some(geometry.clone()));
            let ewkb = geometry.to_ewkb(CoordDimensions::xy(), Some(4326)).unwrap();
            prop_assert_eq!(decode(&ewkb).unwrap(), Some(Ewkb(&ewkb).to_geo().unwrap()));
            let blob = geometry
                .to_gpkg_wkb(CoordDimensions::xy(), Some(4326), vec![-180.0, 180.0, -90.0, 90.0])
                .unwrap();
            prop_assert_eq!(decode_geopackage(&blob).unwrap(), Some(GpkgWkb(&blob).to_geo().unwrap()));
        }

        /// Any bytes: an answer, never a panic.
        #[test]
        fn any_bytes_are_answered(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
            let _ = decode_geopackage(&bytes);
        }
    }
}
