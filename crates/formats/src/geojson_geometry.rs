//! The GeoJSON object model as it arrives on the wire (RFC 7946), deserialized without building a
//! `serde_json::Value` tree per feature, then turned into validated geo-types.

use std::fmt;

use geoconsole_model::geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon,
    Point, Polygon,
};
use geoconsole_model::{
    Feature, FeatureId, MAX_GEOMETRY_NESTING, Properties, nesting_message, validate_geometry,
    validate_ring_positions, without_empty_members,
};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use crate::Crs;
#[cfg(test)]
use crate::Z_PROPERTY;
use crate::record::Elevations;
use crate::wkb::Elevation;

/// A `coordinates` member: a position or a nested list of positions.
#[derive(Debug)]
pub(crate) enum Coords {
    Position { x: f64, y: f64, z: Option<f64> },
    List(Vec<Coords>),
}

impl<'de> Deserialize<'de> for Coords {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(CoordsVisitor)
    }
}

/// One element of a coordinates array: a number (inside a position) or a deeper array.
enum Element {
    Number(f64),
    Nested(Coords),
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or an array of coordinates")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Element, E> {
        Ok(Element::Number(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Element, E> {
        Ok(Element::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Element, E> {
        Ok(Element::Number(v as f64))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Element, A::Error> {
        CoordsVisitor.visit_seq(seq).map(Element::Nested)
    }
}

struct CoordsVisitor;

impl<'de> Visitor<'de> for CoordsVisitor {
    type Value = Coords;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of coordinates")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Coords, A::Error> {
        let Some(first) = seq.next_element::<Element>()? else {
            return Ok(Coords::List(Vec::new()));
        };
        match first {
            Element::Number(x) => {
                // A position: x, y, optional z; further ordinates (measures) are allowed by RFC 7946 and ignored.
                let mut rest = [f64::NAN; 2];
                let mut count = 1;
                while let Some(element) = seq.next_element::<Element>()? {
                    match element {
                        Element::Number(v) if count < 3 => rest[count - 1] = v,
                        Element::Number(_) => {}
                        Element::Nested(_) => {
                            return Err(de::Error::custom("a position mixes numbers and arrays"));
                        }
                    }
                    count += 1;
                }
                if count < 2 {
                    return Err(de::Error::custom("a position needs at least two numbers"));
                }
                Ok(Coords::Position {
                    x,
                    y: rest[0],
                    z: (count >= 3).then_some(rest[1]),
                })
            }
            Element::Nested(inner) => {
                let mut items = vec![inner];
                while let Some(element) = seq.next_element::<Element>()? {
                    match element {
                        Element::Nested(c) => items.push(c),
                        Element::Number(_) => {
                            return Err(de::Error::custom("an array mixes positions and numbers"));
                        }
                    }
                }
                Ok(Coords::List(items))
            }
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct RawGeometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Option<Coords>,
    geometries: Option<Vec<RawGeometry>>,
}

impl RawGeometry {
    /// A geometry whose members were read one by one (a top-level geometry document).
    pub(crate) fn assemble(
        kind: String,
        coordinates: Option<Coords>,
        geometries: Option<Vec<RawGeometry>>,
    ) -> Self {
        Self {
            kind,
            coordinates,
            geometries,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct RawFeature {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<Value>,
    geometry: Option<RawGeometry>,
    properties: Option<Properties>,
}

impl RawFeature {
    /// A feature whose members were read one by one (a top-level Feature document).
    pub(crate) fn assemble(
        id: Option<Value>,
        geometry: Option<RawGeometry>,
        properties: Option<Properties>,
    ) -> Self {
        Self {
            kind: Some("Feature".into()),
            id,
            geometry,
            properties,
        }
    }

    /// Checks and converts the feature; the error is the reason alone, the caller adds file and location.
    /// A point's Z is kept, and other geometries' dropped, by the file's `elevations`.
    pub(crate) fn into_feature(self, elevations: &mut Elevations) -> Result<Feature, String> {
        match self.kind.as_deref() {
            Some("Feature") => {}
            Some(other) => return Err(format!("type is '{other}', expected 'Feature'")),
            None => return Err("member 'type' is missing".into()),
        }
        let id = match self.id {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(FeatureId(s)),
            Some(Value::Number(n)) => Some(FeatureId(n.to_string())),
            Some(other) => return Err(format!("id must be a string or a number, found {other}")),
        };
        let mut properties = self.properties.unwrap_or_default();
        // RFC 7946 §3.2: `"geometry": null` is an unlocated feature, kept as GDAL keeps it; so is a geometry
        // with no positions at all (`"coordinates": []`).
        let geometry = match self.geometry {
            None => None,
            Some(raw) => {
                let elevation = raw.elevation();
                let geometry = raw.into_geometry()?;
                if let Some(geometry) = without_empty_members(geometry) {
                    validate_geometry(&geometry).map_err(|e| e.message().to_string())?;
                    elevations.keep(elevation, &mut properties);
                    Some(geometry)
                } else {
                    None
                }
            }
        };
        Ok(Feature {
            id,
            geometry,
            time: None,
            properties,
        })
    }
}

impl RawFeature {
    /// Brings the positions of a feature of a file in another CRS (a legacy `crs` member) to WGS84, before
    /// they are checked as longitudes and latitudes. Each position is transformed alone, so a ring's first
    /// and last positions stay equal when they were. Walks without recursion, like the checks.
    pub(crate) fn reproject(&mut self, crs: &Crs) -> Result<(), String> {
        let mut geometries: Vec<&mut RawGeometry> = self.geometry.iter_mut().collect();
        let mut coords: Vec<&mut Coords> = Vec::new();
        while let Some(g) = geometries.pop() {
            geometries.extend(g.geometries.iter_mut().flatten());
            coords.extend(g.coordinates.as_mut());
        }
        while let Some(c) = coords.pop() {
            match c {
                Coords::List(items) => coords.extend(items.iter_mut()),
                Coords::Position { x, y, .. } => {
                    let moved = crs.coord_to_wgs84(Coord { x: *x, y: *y })?;
                    (*x, *y) = (moved.x, moved.y);
                }
            }
        }
        Ok(())
    }
}

type GeometryResult<T> = Result<T, String>;

impl RawGeometry {
    /// What becomes of the geometry's Z: a point's is kept, any other geometry's dropped. Found without
    /// recursion, before the conversion consumes the positions.
    fn elevation(&self) -> Elevation {
        if self.kind == "Point"
            && let Some(Coords::Position { z: Some(z), .. }) = &self.coordinates
        {
            return Elevation::Point(*z);
        }
        let mut geometries = vec![self];
        let mut coords: Vec<&Coords> = Vec::new();
        while let Some(g) = geometries.pop() {
            geometries.extend(g.geometries.iter().flatten());
            coords.extend(g.coordinates.as_ref());
            while let Some(c) = coords.pop() {
                match c {
                    Coords::Position { z: Some(_), .. } => return Elevation::Dropped,
                    Coords::Position { z: None, .. } => {}
                    Coords::List(items) => coords.extend(items),
                }
            }
        }
        Elevation::Flat
    }

    /// The geometry; its Z, if any, is left to [`RawGeometry::elevation`].
    fn into_geometry(self) -> GeometryResult<Geometry<f64>> {
        // serde_json's recursion limit (128) already bounds the nesting to about 60 collections; the shared
        // limit is checked here too, before anything recursive walks the result.
        let nesting = self.nesting();
        if nesting > MAX_GEOMETRY_NESTING {
            return Err(nesting_message(nesting));
        }
        self.converted()
    }

    /// How deep collections nest, found without recursion.
    fn nesting(&self) -> usize {
        let mut deepest = 0;
        let mut pending = vec![(self, 0usize)];
        while let Some((g, depth)) = pending.pop() {
            if let Some(members) = g
                .geometries
                .as_ref()
                .filter(|_| g.kind == "GeometryCollection")
            {
                deepest = deepest.max(depth + 1);
                pending.extend(members.iter().map(|m| (m, depth + 1)));
            }
        }
        deepest
    }

    fn converted(self) -> GeometryResult<Geometry<f64>> {
        if self.kind == "GeometryCollection" {
            // GDAL 3.6 writes a nested collection of empty members as `"geometries": null` and reads it
            // back as an empty collection; so does this reader (an outside tester's file was refused).
            let parts = self.geometries.unwrap_or_default();
            let geometries = parts
                .into_iter()
                .map(RawGeometry::converted)
                .collect::<GeometryResult<Vec<_>>>()?;
            return Ok(Geometry::GeometryCollection(GeometryCollection(geometries)));
        }
        let coords = self
            .coordinates
            .ok_or_else(|| format!("{} has no 'coordinates' member", self.kind))?;
        // `"coordinates": []` is the empty geometry of its type (GDAL reads `POINT EMPTY` etc.); an empty
        // collection stands for all of them, and the feature is kept unlocated.
        if matches!(&coords, Coords::List(items) if items.is_empty())
            && GEOMETRY_TYPES.contains(&self.kind.as_str())
        {
            return Ok(Geometry::GeometryCollection(GeometryCollection(Vec::new())));
        }
        let geometry = match self.kind.as_str() {
            "Point" => Geometry::Point(Point(position(coords)?.0)),
            "MultiPoint" => Geometry::MultiPoint(MultiPoint(
                positions(coords)?.into_iter().map(Point).collect(),
            )),
            "LineString" => Geometry::LineString(LineString(positions(coords)?)),
            "MultiLineString" => Geometry::MultiLineString(MultiLineString(
                list(coords)?
                    .into_iter()
                    .map(|c| positions(c).map(LineString))
                    .collect::<GeometryResult<_>>()?,
            )),
            "Polygon" => Geometry::Polygon(polygon(coords)?),
            "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
                list(coords)?
                    .into_iter()
                    .map(polygon)
                    .collect::<GeometryResult<_>>()?,
            )),
            other => return Err(format!("unknown geometry type '{other}'")),
        };
        Ok(geometry)
    }
}

/// The geometry types with a `coordinates` member.
const GEOMETRY_TYPES: [&str; 6] = [
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
];

fn position(coords: Coords) -> GeometryResult<(Coord<f64>, Option<f64>)> {
    match coords {
        Coords::Position { x, y, z } => Ok((Coord { x, y }, z)),
        Coords::List(items) if items.is_empty() => {
            Err("empty position ([]): a position needs at least two numbers".into())
        }
        Coords::List(_) => Err("expected a position, found a nested array".into()),
    }
}

fn list(coords: Coords) -> GeometryResult<Vec<Coords>> {
    match coords {
        Coords::List(items) => Ok(items),
        Coords::Position { .. } => {
            Err("expected an array of positions, found a single position".into())
        }
    }
}

fn positions(coords: Coords) -> GeometryResult<Vec<Coord<f64>>> {
    list(coords)?
        .into_iter()
        .map(|c| position(c).map(|(c, _)| c))
        .collect()
}

fn polygon(coords: Coords) -> GeometryResult<Polygon<f64>> {
    let rings = list(coords)?;
    // No rings, or rings of no positions, is the empty polygon (as `POLYGON EMPTY` and WKB's
    // `POLYGON (EMPTY, EMPTY)` are): alone it leaves the feature unlocated, beside real parts the
    // validation refuses it.
    if rings
        .iter()
        .all(|r| matches!(r, Coords::List(p) if p.is_empty()))
    {
        return Ok(Polygon::new(LineString(Vec::new()), Vec::new()));
    }
    let mut rings = rings.into_iter().map(positions);
    let exterior = rings.next().ok_or("empty Polygon")??;
    validate_ring_positions(&exterior).map_err(|e| format!("exterior {}", e.message()))?;
    let interiors = rings
        .map(|ring| {
            let ring = ring?;
            validate_ring_positions(&ring).map_err(|e| format!("interior {}", e.message()))?;
            Ok(LineString(ring))
        })
        .collect::<GeometryResult<Vec<_>>>()?;
    Ok(Polygon::new(LineString(exterior), interiors))
}

/// Reads one GeoJSON geometry object (as found inside documents that are not FeatureCollections of their
/// own, such as feed entries) and validates it; a third coordinate is dropped.
pub fn geometry_from_geojson(value: &Value) -> Result<Geometry<f64>, String> {
    let raw: RawGeometry = serde_json::from_value(value.clone())
        .map_err(|e| format!("not a GeoJSON geometry: {e}"))?;
    let geometry = raw.into_geometry()?;
    validate_geometry(&geometry).map_err(|e| e.message().to_string())?;
    Ok(geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(json: &str) -> Result<Feature, String> {
        serde_json::from_str::<RawFeature>(json)
            .map_err(|e| e.to_string())?
            .into_feature(&mut Elevations::new(
                std::path::Path::new("t.geojson"),
                crate::ReadNotes::default(),
            ))
    }

    #[test]
    fn reads_every_geometry_type() {
        for (kind, coords) in [
            ("Point", "[1,2]"),
            ("MultiPoint", "[[1,2],[3,4]]"),
            ("LineString", "[[1,2],[3,4]]"),
            ("MultiLineString", "[[[1,2],[3,4]]]"),
            ("Polygon", "[[[0,0],[1,0],[1,1],[0,0]]]"),
            ("MultiPolygon", "[[[[0,0],[1,0],[1,1],[0,0]]]]"),
        ] {
            let json = format!(
                r#"{{"type":"Feature","geometry":{{"type":"{kind}","coordinates":{coords}}},"properties":{{}}}}"#
            );
            let f = feature(&json).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(
                geoconsole_model::GeometryType::of(f.geometry.as_ref().unwrap())
                    .gpkg_name()
                    .to_lowercase(),
                kind.to_lowercase()
            );
        }
        let gc = feature(
            r#"{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]}]},"properties":null}"#,
        );
        assert!(gc.is_ok());
    }

    #[test]
    fn collections_nested_deeper_than_the_limit_are_refused_with_the_depth() {
        let nested = |levels: usize| {
            format!(
                r#"{{"type":"Feature","properties":{{}},"geometry":{}{{"type":"Point","coordinates":[1,2]}}{}}}"#,
                r#"{"type":"GeometryCollection","geometries":["#.repeat(levels),
                "]}".repeat(levels)
            )
        };
        assert!(feature(&nested(MAX_GEOMETRY_NESTING)).is_ok());
        assert_eq!(
            feature(&nested(MAX_GEOMETRY_NESTING + 1)).unwrap_err(),
            nesting_message(MAX_GEOMETRY_NESTING + 1)
        );
        // Deeper than serde_json's recursion limit: its own error, not a crash.
        assert!(
            feature(&nested(5_000))
                .unwrap_err()
                .contains("recursion limit")
        );
    }

    #[test]
    fn keeps_point_z_and_ids() {
        let f = feature(r#"{"type":"Feature","id":"us7000","geometry":{"type":"Point","coordinates":[1,2,-10.5]},"properties":{"mag":4}}"#).unwrap();
        assert_eq!(f.id.unwrap().0, "us7000");
        assert_eq!(f.properties[Z_PROPERTY], serde_json::json!(-10.5));
        let n = feature(r#"{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}"#).unwrap();
        assert_eq!(n.id.unwrap().0, "7");
    }

    #[test]
    fn null_and_empty_geometries_are_unlocated_features() {
        for json in [
            r#"{"type":"Feature","geometry":null,"properties":{"a":1}}"#,
            r#"{"type":"Feature","properties":{"a":1}}"#,
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[]},"properties":{"a":1}}"#,
            r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[]},"properties":{"a":1}}"#,
            r#"{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]},"properties":{"a":1}}"#,
            r#"{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"GeometryCollection","geometries":null}]},"properties":{"a":1}}"#,
        ] {
            let f = feature(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(f.geometry, None, "{json}");
            assert_eq!(f.properties["a"], serde_json::json!(1));
        }
        // A part that is empty beside parts that are not is still refused.
        assert!(feature(r#"{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[]]}}"#).is_err());
    }

    #[test]
    fn an_empty_member_of_a_collection_is_left_out() {
        let f = feature(r#"{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[]}]},"properties":{}}"#).unwrap();
        assert_eq!(
            f.geometry,
            Some(Geometry::GeometryCollection(GeometryCollection(vec![
                Geometry::Point(Point(Coord { x: 1.0, y: 2.0 }))
            ])))
        );
    }

    #[test]
    fn explains_bad_geometries() {
        let cases = [
            (
                r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[10,91.2]}}"#,
                "latitude 91.2 out of range",
            ),
            (
                r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}}"#,
                "not closed",
            ),
            (
                r#"{"type":"Feature","geometry":{"type":"Circle","coordinates":[1,2]}}"#,
                "unknown geometry type",
            ),
            (
                r#"{"type":"Thing","geometry":{"type":"Point","coordinates":[1,2]}}"#,
                "expected 'Feature'",
            ),
        ];
        for (json, expected) in cases {
            let e = feature(json).unwrap_err();
            assert!(e.contains(expected), "{json}: {e}");
        }
    }
}
