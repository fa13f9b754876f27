//! GML 3.2 geometries (OGC 07-036r1), as WFS 2.0 servers write them in GetFeature answers, read from the
//! element tree of the feeds' hardened XML reader ([`crate::read::xml`]: no DTD, bounded depth and size).
//! Points, curves and surfaces, their `Multi*` aggregates and the GML 2 spellings servers still send
//! (`coordinates`, `outerBoundaryIs`, `MultiPolygon`) become WGS84 longitude/latitude geometries.
//!
//! Axis order follows the CRS as it is named: the URN and `http://www.opengis.net/def/crs/EPSG/0/` forms
//! mean the EPSG axis order (latitude first for geographic CRSs such as 4326), `EPSG:4326` and the
//! `…/gml/srs/epsg.xml#4326` form mean x/y (longitude first, as WFS 1.0 wrote them), CRS84 is longitude
//! first. Projected CRSs are read east/north and brought to WGS84 through the formats crate's [`Crs`].

use geoconsole_formats::Crs;
use geoconsole_model::geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon,
    Point, Polygon,
};
use geoconsole_model::validate_geometry;

use crate::read::xml::Element;

/// Aggregates inside aggregates deeper than this are refused (the XML reader bounds depth too).
const MAX_NESTING: usize = 8;

/// A CRS as a server names it, and what it takes to bring its coordinates to WGS84 longitude/latitude.
#[derive(Clone)]
pub(super) struct Frame {
    pub name: String,
    /// The coordinates are written latitude (northing) first.
    pub swap: bool,
    /// `None` for WGS84 (EPSG:4326 and CRS84).
    transform: Option<Crs>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("name", &self.name)
            .field("swap", &self.swap)
            .field("wgs84", &self.transform.is_none())
            .finish()
    }
}

/// The EPSG code a CRS name carries and whether the name means the authority's axis order, or `None` for
/// CRS84.
pub(super) fn crs_code(name: &str) -> Result<Option<(u32, bool)>, String> {
    let trimmed = name.trim();
    let upper = trimmed.to_ascii_uppercase();
    if upper.ends_with("CRS84") {
        return Ok(None);
    }
    let last_number = |text: &str| {
        let digits: String = text
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
        digits.parse::<u32>().ok()
    };
    // urn:ogc:def:crs:EPSG::4326, urn:ogc:def:crs:EPSG:6.6:4326, urn:x-ogc:def:crs:EPSG:4326,
    // http://www.opengis.net/def/crs/EPSG/0/4326: the EPSG axis order.
    if (upper.starts_with("URN:OGC:DEF:CRS:EPSG:") || upper.starts_with("URN:X-OGC:DEF:CRS:EPSG:"))
        || upper.starts_with("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/")
        || upper.starts_with("HTTPS://WWW.OPENGIS.NET/DEF/CRS/EPSG/")
    {
        let code =
            last_number(&upper).ok_or_else(|| format!("CRS '{trimmed}' has no EPSG code"))?;
        return Ok(Some((code, true)));
    }
    // EPSG:4326 and http://www.opengis.net/gml/srs/epsg.xml#4326: x/y, longitude first.
    if let Some(code) = upper
        .strip_prefix("EPSG:")
        .or_else(|| upper.strip_prefix("HTTP://WWW.OPENGIS.NET/GML/SRS/EPSG.XML#"))
    {
        let code = code
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("CRS '{trimmed}' has no EPSG code"))?;
        return Ok(Some((code, false)));
    }
    Err(format!(
        "CRS '{trimmed}' is not named by an EPSG code or as CRS84"
    ))
}

/// Whether the EPSG axis order of `code` puts latitude (northing) first: geographic 2D CRSs do (the 4000
/// range); projected CRSs are taken as east/north, which most are.
fn authority_lat_first(code: u32) -> bool {
    (4000..5000).contains(&code)
}

impl Frame {
    pub fn parse(name: &str) -> Result<Self, String> {
        let (transform, swap) = match crs_code(name)? {
            None => (None, false),
            Some((code, authority)) => {
                let crs = Crs::from_epsg(code)?;
                let swap = authority && authority_lat_first(code);
                (if crs.is_wgs84() { None } else { Some(crs) }, swap)
            }
        };
        Ok(Self {
            name: name.trim().to_string(),
            swap,
            transform,
        })
    }

    /// The same CRS read x first (east, longitude), as GeoJSON writers that follow RFC 7946's order do.
    pub fn x_first(&self) -> Self {
        Self {
            swap: false,
            ..self.clone()
        }
    }

    /// A position as written (first, second axis) in longitude and latitude.
    pub fn position(&self, first: f64, second: f64) -> Result<Coord<f64>, String> {
        let c = if self.swap {
            Coord {
                x: second,
                y: first,
            }
        } else {
            Coord {
                x: first,
                y: second,
            }
        };
        match &self.transform {
            None => Ok(c),
            Some(crs) => crs.coord_to_wgs84(c),
        }
    }

    /// Rewrites the positions of a GeoJSON geometry written in this frame (a WFS answering GeoJSON in the
    /// CRS it was asked for) to longitude/latitude, so the GeoJSON reader can validate them.
    pub fn geojson_to_wgs84(&self, geometry: &mut serde_json::Value) -> Result<(), String> {
        if !self.swap && self.transform.is_none() {
            return Ok(());
        }
        fn walk(frame: &Frame, value: &mut serde_json::Value, depth: usize) -> Result<(), String> {
            use serde_json::Value;
            if depth > 2 * MAX_NESTING {
                return Err("coordinates nested too deep".into());
            }
            let Value::Array(items) = value else {
                return Ok(());
            };
            if items.first().is_some_and(Value::is_number) {
                let (Some(a), Some(b)) = (
                    items.first().and_then(Value::as_f64),
                    items.get(1).and_then(Value::as_f64),
                ) else {
                    return Err("a position has fewer than two numbers".into());
                };
                let c = frame.position(a, b)?;
                let number = |v: f64| {
                    serde_json::Number::from_f64(v)
                        .map(Value::Number)
                        .ok_or_else(|| "a position is not finite".to_string())
                };
                items[0] = number(c.x)?;
                items[1] = number(c.y)?;
                return Ok(());
            }
            items.iter_mut().try_for_each(|v| walk(frame, v, depth + 1))
        }
        if let Some(coordinates) = geometry.get_mut("coordinates") {
            walk(self, coordinates, 0)?;
        }
        if let Some(serde_json::Value::Array(parts)) = geometry.get_mut("geometries") {
            for part in parts {
                if let Some(coordinates) = part.get_mut("coordinates") {
                    walk(self, coordinates, 0)?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a GML geometry element (`gml:Point`, `gml:Polygon`, `gml:MultiSurface`…) into a validated WGS84
/// geometry. `frame` is the CRS the request asked for, used where the geometry names none.
pub(super) fn geometry(element: &Element, frame: &Frame) -> Result<Geometry<f64>, String> {
    let own;
    let frame = match element.attr("srsName") {
        Some(name) if name.trim() != frame.name => {
            own = Frame::parse(name)?;
            &own
        }
        _ => frame,
    };
    let geometry = read(element, frame, dimension(element)?, 0)?;
    validate_geometry(&geometry).map_err(|e| e.message().to_string())?;
    Ok(geometry)
}

/// `srsDimension` where given: 2, or 3 (the third is dropped).
fn dimension(element: &Element) -> Result<usize, String> {
    match element.attr("srsDimension").map(str::trim) {
        None | Some("2") => Ok(2),
        Some("3") => Ok(3),
        Some(other) => Err(format!(
            "srsDimension {other} is not supported (2 or 3 are)"
        )),
    }
}

fn read(
    element: &Element,
    frame: &Frame,
    dim: usize,
    depth: usize,
) -> Result<Geometry<f64>, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "geometries nested more than {MAX_NESTING} deep are refused"
        ));
    }
    let dim = match element.attr("srsDimension") {
        Some(_) => dimension(element)?,
        None => dim,
    };
    let name = element.name.as_str();
    Ok(match name {
        "Point" => {
            let coords = positions(element, frame, dim)?;
            match coords.as_slice() {
                [c] => Geometry::Point(Point(*c)),
                _ => {
                    return Err(format!(
                        "a gml:Point holds {} positions, not one",
                        coords.len()
                    ));
                }
            }
        }
        "LineString" | "LineStringSegment" => {
            Geometry::LineString(LineString(positions(element, frame, dim)?))
        }
        "Curve" => Geometry::LineString(curve(element, frame, dim)?),
        "Polygon" | "PolygonPatch" => Geometry::Polygon(polygon(element, frame, dim)?),
        "Surface" => {
            let mut polygons = patches(element, frame, dim)?;
            if polygons.len() == 1 {
                Geometry::Polygon(polygons.remove(0))
            } else {
                Geometry::MultiPolygon(MultiPolygon(polygons))
            }
        }
        "MultiPoint" => {
            let mut points = Vec::new();
            for member in members(element, &["pointMember", "pointMembers"]) {
                match read(member, frame, dim, depth + 1)? {
                    Geometry::Point(p) => points.push(p),
                    _ => return Err("a gml:MultiPoint member is not a point".into()),
                }
            }
            Geometry::MultiPoint(MultiPoint(points))
        }
        "MultiCurve" | "MultiLineString" => {
            let mut lines = Vec::new();
            for member in members(
                element,
                &["curveMember", "curveMembers", "lineStringMember"],
            ) {
                match read(member, frame, dim, depth + 1)? {
                    Geometry::LineString(l) => lines.push(l),
                    Geometry::MultiLineString(m) => lines.extend(m.0),
                    _ => return Err(format!("a gml:{name} member is not a curve")),
                }
            }
            Geometry::MultiLineString(MultiLineString(lines))
        }
        "MultiSurface" | "MultiPolygon" => {
            let mut polygons = Vec::new();
            for member in members(
                element,
                &["surfaceMember", "surfaceMembers", "polygonMember"],
            ) {
                match read(member, frame, dim, depth + 1)? {
                    Geometry::Polygon(p) => polygons.push(p),
                    Geometry::MultiPolygon(m) => polygons.extend(m.0),
                    _ => return Err(format!("a gml:{name} member is not a surface")),
                }
            }
            Geometry::MultiPolygon(MultiPolygon(polygons))
        }
        "MultiGeometry" => {
            let mut parts = Vec::new();
            for member in members(element, &["geometryMember", "geometryMembers"]) {
                parts.push(read(member, frame, dim, depth + 1)?);
            }
            Geometry::GeometryCollection(GeometryCollection(parts))
        }
        other => {
            return Err(format!(
                "gml:{other} is not a geometry this reader knows (points, curves, surfaces and their aggregates)"
            ));
        }
    })
}

/// The geometries inside an aggregate's member properties (`gml:surfaceMember/gml:Polygon`, or every child
/// of `gml:surfaceMembers`).
fn members<'a>(element: &'a Element, names: &[&str]) -> Vec<&'a Element> {
    element
        .children
        .iter()
        .filter(|c| names.contains(&c.name.as_str()))
        .flat_map(|c| c.children.iter())
        .collect()
}

fn curve(element: &Element, frame: &Frame, dim: usize) -> Result<LineString<f64>, String> {
    let segments = element
        .child("segments")
        .ok_or("a gml:Curve has no gml:segments")?;
    let mut coords: Vec<Coord<f64>> = Vec::new();
    for segment in &segment_children(segments) {
        if segment.name != "LineStringSegment" {
            return Err(format!(
                "curve segment gml:{} is not supported (gml:LineStringSegment is)",
                segment.name
            ));
        }
        let part = positions(segment, frame, dim)?;
        // Segments share their end points.
        let skip = usize::from(coords.last().is_some() && coords.last() == part.first());
        coords.extend(part.into_iter().skip(skip));
    }
    Ok(LineString(coords))
}

fn segment_children(segments: &Element) -> Vec<&Element> {
    segments.children.iter().collect()
}

fn patches(element: &Element, frame: &Frame, dim: usize) -> Result<Vec<Polygon<f64>>, String> {
    let patches = element
        .child("patches")
        .ok_or("a gml:Surface has no gml:patches")?;
    patches
        .children
        .iter()
        .map(|p| match p.name.as_str() {
            "PolygonPatch" => polygon(p, frame, dim),
            other => Err(format!(
                "surface patch gml:{other} is not supported (gml:PolygonPatch is)"
            )),
        })
        .collect()
}

fn polygon(element: &Element, frame: &Frame, dim: usize) -> Result<Polygon<f64>, String> {
    let ring = |boundary: &Element| -> Result<LineString<f64>, String> {
        let ring = boundary
            .children
            .first()
            .ok_or("a polygon boundary holds no ring")?;
        match ring.name.as_str() {
            "LinearRing" => Ok(LineString(positions(ring, frame, dim)?)),
            "Ring" => {
                // A ring of curve members, each a LineString or a Curve of line segments.
                let mut coords: Vec<Coord<f64>> = Vec::new();
                for member in members(ring, &["curveMember"]) {
                    let part = match member.name.as_str() {
                        "LineString" => positions(member, frame, dim)?,
                        "Curve" => curve(member, frame, dim)?.0,
                        other => return Err(format!("gml:{other} in a gml:Ring is not supported")),
                    };
                    let skip =
                        usize::from(coords.last().is_some() && coords.last() == part.first());
                    coords.extend(part.into_iter().skip(skip));
                }
                Ok(LineString(coords))
            }
            other => Err(format!("gml:{other} is not a ring")),
        }
    };
    let exterior = element
        .children
        .iter()
        .find(|c| c.name == "exterior" || c.name == "outerBoundaryIs")
        .ok_or("a polygon has no exterior ring")?;
    let interiors = element
        .children
        .iter()
        .filter(|c| c.name == "interior" || c.name == "innerBoundaryIs")
        .map(ring)
        .collect::<Result<Vec<_>, _>>()?;
    let exterior = ring(exterior)?;
    for r in std::iter::once(&exterior).chain(&interiors) {
        closed(r)?;
    }
    Ok(Polygon::new(exterior, interiors))
}

/// A ring is closed by its own last position and has at least four: it is never closed for the server.
fn closed(ring: &LineString<f64>) -> Result<(), String> {
    if ring.0.len() < 4 {
        return Err(format!(
            "a polygon ring has {} positions; a ring needs at least 4",
            ring.0.len()
        ));
    }
    if ring.0.first() != ring.0.last() {
        return Err("a polygon ring is not closed (its last position is not its first)".into());
    }
    Ok(())
}

/// The positions of a `gml:pos`/`gml:posList`/`gml:coordinates` holder, or of its `gml:pos` and
/// `gml:pointProperty/gml:Point` children.
fn positions(element: &Element, frame: &Frame, dim: usize) -> Result<Vec<Coord<f64>>, String> {
    if let Some(list) = element.child("posList") {
        let dim = match list.attr("srsDimension") {
            Some(_) => dimension(list)?,
            None => dim,
        };
        return numbers(&list.text, frame, dim);
    }
    if let Some(coordinates) = element.child("coordinates") {
        return gml2_coordinates(coordinates, frame);
    }
    let mut coords = Vec::new();
    for child in &element.children {
        match child.name.as_str() {
            "pos" => {
                let dim = match child.attr("srsDimension") {
                    Some(_) => dimension(child)?,
                    None => dim,
                };
                let mut one = numbers(&child.text, frame, dim)?;
                if one.len() != 1 {
                    return Err(format!("a gml:pos holds {} positions, not one", one.len()));
                }
                coords.push(one.remove(0));
            }
            "pointProperty" | "pointRep" => {
                let point = child
                    .child("Point")
                    .ok_or("a gml:pointProperty holds no gml:Point")?;
                let mut one = positions(point, frame, dim)?;
                if one.len() != 1 {
                    return Err("a gml:Point holds more than one position".into());
                }
                coords.push(one.remove(0));
            }
            _ => {}
        }
    }
    if coords.is_empty() {
        return Err(format!(
            "gml:{} has no gml:pos, gml:posList or gml:coordinates",
            element.name
        ));
    }
    Ok(coords)
}

fn number(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("'{}' is not a coordinate", short(text)))
}

fn short(text: &str) -> String {
    geoconsole_model::excerpt(text, 40).into_owned()
}

/// Whitespace-separated numbers, `dim` a position.
fn numbers(text: &str, frame: &Frame, dim: usize) -> Result<Vec<Coord<f64>>, String> {
    let mut coords = Vec::new();
    let mut values = text.split_ascii_whitespace();
    while let Some(first) = values.next() {
        let first = number(first)?;
        let second = number(
            values
                .next()
                .ok_or("a position list ends in the middle of a position")?,
        )?;
        for _ in 2..dim {
            number(
                values
                    .next()
                    .ok_or("a position list ends in the middle of a position")?,
            )?;
        }
        coords.push(frame.position(first, second)?);
    }
    if coords.is_empty() {
        return Err("an empty position list".into());
    }
    Ok(coords)
}

/// GML 2 `coordinates`: tuples split by `ts` (a space), values by `cs` (a comma), decimals by `decimal`.
fn gml2_coordinates(element: &Element, frame: &Frame) -> Result<Vec<Coord<f64>>, String> {
    let cs = element.attr("cs").unwrap_or(",");
    let ts = element.attr("ts").unwrap_or(" ");
    let decimal = element.attr("decimal").unwrap_or(".");
    if cs.is_empty() || ts.is_empty() || cs == ts {
        return Err("gml:coordinates with unusable separators".into());
    }
    let mut coords = Vec::new();
    let tuples: Vec<&str> = if ts.trim().is_empty() {
        element.text.split_whitespace().collect()
    } else {
        element.text.split(ts).map(str::trim).collect()
    };
    for tuple in tuples.into_iter().filter(|t| !t.is_empty()) {
        let values: Vec<f64> = tuple
            .split(cs)
            .map(|v| number(&v.trim().replace(decimal, ".")))
            .collect::<Result<_, _>>()?;
        match values.as_slice() {
            [a, b] | [a, b, _] => coords.push(frame.position(*a, *b)?),
            _ => {
                return Err(format!(
                    "coordinate tuple '{}' is not 2D or 3D",
                    short(tuple)
                ));
            }
        }
    }
    if coords.is_empty() {
        return Err("empty gml:coordinates".into());
    }
    Ok(coords)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::xml::parse;

    fn read_gml(text: &str, frame: &str) -> Result<Geometry<f64>, String> {
        let (root, _) = parse(text.as_bytes())?;
        geometry(&root, &Frame::parse(frame)?)
    }

    #[test]
    fn axis_order_follows_the_crs_name() {
        let point = r#"<gml:Point xmlns:gml="http://www.opengis.net/gml/3.2"><gml:pos>41.5 -87.25</gml:pos></gml:Point>"#;
        for name in [
            "urn:ogc:def:crs:EPSG::4326",
            "http://www.opengis.net/def/crs/EPSG/0/4326",
            "urn:x-ogc:def:crs:EPSG:4326",
        ] {
            assert_eq!(
                read_gml(point, name).unwrap(),
                Geometry::Point(Point::new(-87.25, 41.5)),
                "{name}"
            );
        }
        let xy = r#"<gml:Point><gml:pos>-87.25 41.5</gml:pos></gml:Point>"#;
        for name in [
            "EPSG:4326",
            "urn:ogc:def:crs:OGC:1.3:CRS84",
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "http://www.opengis.net/gml/srs/epsg.xml#4326",
        ] {
            assert_eq!(
                read_gml(xy, name).unwrap(),
                Geometry::Point(Point::new(-87.25, 41.5)),
                "{name}"
            );
        }
        // The geometry's own srsName wins over the request's.
        let own = r#"<gml:Point srsName="urn:ogc:def:crs:OGC:1.3:CRS84"><gml:pos>-87.25 41.5</gml:pos></gml:Point>"#;
        assert_eq!(
            read_gml(own, "urn:ogc:def:crs:EPSG::4326").unwrap(),
            Geometry::Point(Point::new(-87.25, 41.5))
        );
        // Web Mercator, east/north.
        let mercator = r#"<gml:Point><gml:pos>-9713000 5087000</gml:pos></gml:Point>"#;
        let Geometry::Point(p) = read_gml(mercator, "urn:ogc:def:crs:EPSG::3857").unwrap() else {
            panic!()
        };
        assert!(
            (p.x() + 87.25).abs() < 0.01 && (p.y() - 41.5).abs() < 0.1,
            "{p:?}"
        );
        assert!(Frame::parse("urn:ogc:def:crs:EPSG::999999").is_err());
        assert!(Frame::parse("local").is_err());
    }

    #[test]
    fn reads_curves_surfaces_and_aggregates() {
        let polygon = r#"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 1 1 1 0 0 0</gml:posList></gml:LinearRing></gml:exterior><gml:interior><gml:LinearRing><gml:posList srsDimension="3">0.2 0.2 9 0.2 0.4 9 0.4 0.4 9 0.2 0.2 9</gml:posList></gml:LinearRing></gml:interior></gml:Polygon>"#;
        let Geometry::Polygon(p) = read_gml(polygon, "urn:ogc:def:crs:EPSG::4326").unwrap() else {
            panic!()
        };
        assert_eq!(p.exterior().0[1], Coord { x: 1.0, y: 0.0 });
        assert_eq!(p.interiors().len(), 1);
        let multi = format!(
            r#"<gml:MultiSurface><gml:surfaceMember>{polygon}</gml:surfaceMember><gml:surfaceMember><gml:Surface><gml:patches><gml:PolygonPatch><gml:exterior><gml:LinearRing><gml:pos>5 5</gml:pos><gml:pos>5 6</gml:pos><gml:pos>6 6</gml:pos><gml:pos>5 5</gml:pos></gml:LinearRing></gml:exterior></gml:PolygonPatch></gml:patches></gml:Surface></gml:surfaceMember></gml:MultiSurface>"#
        );
        let Geometry::MultiPolygon(m) = read_gml(&multi, "EPSG:4326").unwrap() else {
            panic!()
        };
        assert_eq!(m.0.len(), 2);
        let curve = r#"<gml:MultiCurve><gml:curveMember><gml:Curve><gml:segments><gml:LineStringSegment><gml:posList>0 0 1 1</gml:posList></gml:LineStringSegment><gml:LineStringSegment><gml:posList>1 1 2 0</gml:posList></gml:LineStringSegment></gml:segments></gml:Curve></gml:curveMember><gml:curveMember><gml:LineString><gml:coordinates>3,3 4,4</gml:coordinates></gml:LineString></gml:curveMember></gml:MultiCurve>"#;
        let Geometry::MultiLineString(m) = read_gml(curve, "EPSG:4326").unwrap() else {
            panic!()
        };
        assert_eq!(m.0[0].0.len(), 3);
        assert_eq!(m.0[1].0[1], Coord { x: 4.0, y: 4.0 });
        let points = r#"<gml:MultiPoint><gml:pointMembers><gml:Point><gml:pos>1 2</gml:pos></gml:Point><gml:Point><gml:pos>3 4</gml:pos></gml:Point></gml:pointMembers></gml:MultiPoint>"#;
        assert_eq!(
            read_gml(points, "EPSG:4326").unwrap(),
            Geometry::MultiPoint(MultiPoint(vec![Point::new(1.0, 2.0), Point::new(3.0, 4.0)]))
        );
    }

    #[test]
    fn refuses_what_is_not_a_geometry() {
        let bad = [
            r#"<gml:Point><gml:pos>1</gml:pos></gml:Point>"#,
            r#"<gml:Point><gml:pos>1 nan</gml:pos></gml:Point>"#,
            r#"<gml:Point><gml:pos>1 1e999</gml:pos></gml:Point>"#,
            r#"<gml:Point><gml:pos>1 2 3 4</gml:pos></gml:Point>"#,
            r#"<gml:Point></gml:Point>"#,
            r#"<gml:Point><gml:pos>200 100</gml:pos></gml:Point>"#,
            r#"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 1 1</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"#,
            r#"<gml:Polygon/>"#,
            r#"<gml:Arc><gml:posList>0 0 1 1 2 0</gml:posList></gml:Arc>"#,
            r#"<gml:Point srsDimension="7"><gml:pos>1 2</gml:pos></gml:Point>"#,
        ];
        for text in bad {
            assert!(read_gml(text, "EPSG:4326").is_err(), "{text}");
        }
        let deep = "<gml:MultiGeometry><gml:geometryMember>".repeat(12)
            + "<gml:Point><gml:pos>1 2</gml:pos></gml:Point>"
            + &"</gml:geometryMember></gml:MultiGeometry>".repeat(12);
        assert!(read_gml(&deep, "EPSG:4326").unwrap_err().contains("nested"));
    }
}
