use std::fmt::Write as _;
use std::io::{self, Write};

use geoconsole_model::geo_types::{Coord, Geometry, LineString, Polygon};
use geoconsole_model::{Feature, FieldType, GeometryType, Schema};
use serde_json::Value;

use crate::fgb::FgbFileWriter;
use crate::geopackage::GeoPackageWriter;
use crate::kml_file::KmlWriter;
use crate::parquet_file::GeoParquetWriter;
use crate::{CsvWriter, Format, GeoJsonSeqWriter, GeoJsonWriter, Z_PROPERTY};

/// Streams features into a file format. `finish` writes what closes the document and flushes.
pub trait FeatureWriter: Send {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()>;
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// What a writer must know before the first feature: typed formats declare their columns and geometry type
/// in a header.
#[derive(Debug, Clone)]
pub struct WriterLayout {
    /// The layer's name inside the file (FlatGeobuf header, KML document name).
    pub name: String,
    /// Property names and types in schema order.
    pub schema: Schema,
    /// What the features hold; CSV writes longitude/latitude columns instead of WKT for points.
    pub geometry_type: GeometryType,
}

impl WriterLayout {
    fn field_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// Column names and types in schema order.
    pub(crate) fn columns(&self) -> Vec<(String, FieldType)> {
        self.schema
            .fields()
            .iter()
            .map(|f| (f.name.clone(), f.field_type))
            .collect()
    }
}

/// A writer for `format`, or an error naming the formats that can be written.
pub fn create_writer(
    format: Format,
    out: Box<dyn Write + Send>,
    layout: &WriterLayout,
) -> io::Result<Box<dyn FeatureWriter>> {
    Ok(match format {
        Format::GeoJson => Box::new(GeoJsonWriter::new(out)?),
        Format::GeoJsonSeq => Box::new(GeoJsonSeqWriter::new(out, false)),
        Format::Csv => Box::new(CsvWriter::new(
            out,
            layout.field_names(),
            layout.geometry_type == GeometryType::Point,
        )?),
        Format::FlatGeobuf => Box::new(FgbFileWriter::new(out, layout)?),
        Format::Kml => Box::new(KmlWriter::new(out, layout)?),
        Format::GeoParquet => Box::new(GeoParquetWriter::new(out, layout)?),
        Format::GeoPackage => Box::new(GeoPackageWriter::new(out, layout)?),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{other} cannot be written here (writable: {})",
                    Format::WRITABLE.map(Format::name).join(", ")
                ),
            ));
        }
    })
}

/// One feature as RFC 7946 GeoJSON text.
pub fn feature_json(feature: &Feature) -> String {
    let mut out = String::with_capacity(256);
    push_feature_json(feature, &mut out);
    out
}

/// One RFC 7946 Feature object appended to `out`: a page of a thousand features is written into one buffer,
/// with no text made per feature, per id or per property on the way.
pub fn push_feature_json(feature: &Feature, out: &mut String) {
    // Writing into a String cannot fail.
    let _ = write_feature_json(feature, out);
}

/// One RFC 7946 Feature object. A point's kept third coordinate goes back into its position.
pub(crate) fn write_feature_json(feature: &Feature, out: &mut String) -> io::Result<()> {
    let z = match (&feature.geometry, feature.properties.get(Z_PROPERTY)) {
        (Some(Geometry::Point(_)), Some(Value::Number(z))) => z.as_f64(),
        _ => None,
    };
    push_feature_parts_json(
        feature.id.as_ref().map(|id| id.0.as_str()),
        feature.geometry.as_ref(),
        z,
        feature
            .properties
            .iter()
            .map(|(name, value)| (name.as_str(), PropertyRef::Value(value))),
        out,
    );
    Ok(())
}

/// A property value borrowed from wherever it is kept, so a feature can be written without making its
/// properties into a `serde_json::Map` first.
#[derive(Debug, Clone, Copy)]
pub enum PropertyRef<'a> {
    Value(&'a Value),
    Null,
    Bool(bool),
    Sint(i64),
    Uint(u64),
    Double(f64),
    Text(&'a str),
    /// An array or object, given as the JSON text serde_json wrote for it.
    JsonText(&'a str),
}

/// One RFC 7946 Feature object from its parts: the id, the shape, a point's third coordinate (whose
/// [`Z_PROPERTY`] is then left out of the properties) and the properties in order. The same text
/// [`push_feature_json`] writes for the same feature.
pub fn push_feature_parts_json<'a>(
    id: Option<&str>,
    geometry: Option<&Geometry<f64>>,
    z: Option<f64>,
    properties: impl Iterator<Item = (&'a str, PropertyRef<'a>)>,
    out: &mut String,
) {
    out.push_str("{\"type\":\"Feature\"");
    if let Some(id) = id {
        out.push_str(",\"id\":");
        push_json_string(id, out);
    }
    out.push_str(",\"geometry\":");
    match geometry {
        Some(geometry) => write_geometry(geometry, z, out),
        // RFC 7946 §3.2: an unlocated feature.
        None => out.push_str("null"),
    }
    out.push_str(",\"properties\":{");
    let mut first = true;
    for (name, value) in properties {
        if z.is_some() && name == Z_PROPERTY {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        push_json_string(name, out);
        out.push(':');
        match value {
            PropertyRef::Value(value) => push_json_value(value, out),
            PropertyRef::Null => out.push_str("null"),
            PropertyRef::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            PropertyRef::Sint(i) => {
                let _ = write!(out, "{i}");
            }
            PropertyRef::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            // Through serde_json's number, so a double reads as the same text a stored value would.
            PropertyRef::Double(d) => match serde_json::Number::from_f64(d) {
                Some(n) => {
                    let _ = write!(out, "{n}");
                }
                None => out.push_str("null"),
            },
            PropertyRef::Text(text) => push_json_string(text, out),
            PropertyRef::JsonText(json) => out.push_str(json),
        }
    }
    out.push_str("}}");
}

/// A JSON string literal; text that needs no escaping (nearly all of it) is copied as is.
fn push_json_string(text: &str, out: &mut String) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // serde_json's escaping, for the rare text that needs it.
        out.push_str(&Value::String(text.to_string()).to_string());
    }
}

fn push_json_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // serde_json's own number text (itoa / ryu), the same as serialising the value whole.
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(text) => push_json_string(text, out),
        nested => out.push_str(&nested.to_string()),
    }
}

fn write_position(c: Coord<f64>, out: &mut String) {
    // `{}` on f64 prints the shortest text that reads back to the same number.
    let _ = write!(out, "[{},{}]", c.x, c.y);
}

fn write_positions(coords: &[Coord<f64>], out: &mut String) {
    out.push('[');
    for (i, c) in coords.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_position(*c, out);
    }
    out.push(']');
}

fn write_rings(polygon: &Polygon<f64>, out: &mut String) {
    out.push('[');
    write_positions(&polygon.exterior().0, out);
    for ring in polygon.interiors() {
        out.push(',');
        write_positions(&ring.0, out);
    }
    out.push(']');
}

fn write_list<T>(items: &[T], out: &mut String, mut each: impl FnMut(&T, &mut String)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(']');
}

pub(crate) fn write_geometry(geometry: &Geometry<f64>, z: Option<f64>, out: &mut String) {
    let mut open = |kind: &str| {
        let _ = write!(out, "{{\"type\":\"{kind}\",\"coordinates\":");
    };
    match geometry {
        Geometry::Point(p) => {
            open("Point");
            match z {
                Some(z) => {
                    let _ = write!(out, "[{},{},{}]", p.x(), p.y(), z);
                }
                None => write_position(p.0, out),
            }
        }
        Geometry::Line(l) => {
            open("LineString");
            write_positions(&[l.start, l.end], out);
        }
        Geometry::LineString(ls) => {
            open("LineString");
            write_positions(&ls.0, out);
        }
        Geometry::Polygon(p) => {
            open("Polygon");
            write_rings(p, out);
        }
        Geometry::MultiPoint(mp) => {
            open("MultiPoint");
            write_list(&mp.0, out, |p, out| write_position(p.0, out));
        }
        Geometry::MultiLineString(ml) => {
            open("MultiLineString");
            write_list(&ml.0, out, |ls: &LineString<f64>, out| {
                write_positions(&ls.0, out)
            });
        }
        Geometry::MultiPolygon(mp) => {
            open("MultiPolygon");
            write_list(&mp.0, out, write_rings);
        }
        Geometry::Rect(r) => {
            open("Polygon");
            write_rings(&r.to_polygon(), out);
        }
        Geometry::Triangle(t) => {
            open("Polygon");
            write_rings(&t.to_polygon(), out);
        }
        Geometry::GeometryCollection(gc) => {
            out.push_str("{\"type\":\"GeometryCollection\",\"geometries\":");
            write_list(&gc.0, out, |g, out| write_geometry(g, None, out));
        }
    }
    out.push('}');
}
