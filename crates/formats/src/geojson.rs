use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use geoconsole_model::Feature;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::geojson_geometry::{RawFeature, RawGeometry};
use crate::record_bound::{MAX_RECORD_BYTES, RecordBound, RecordMark};
use crate::stream::{ChunkReceiver, ChunkSender, spawn_producer};
use crate::write::{FeatureWriter, write_feature_json};
use crate::{Crs, FormatError, FormatErrorKind, Location, SourceFeature};

/// Streams the features of a GeoJSON FeatureCollection (or a single Feature) without holding the document:
/// serde walks the `features` array and hands each feature over as soon as it is complete.
pub struct GeoJsonReader {
    inner: ChunkReceiver,
}

impl GeoJsonReader {
    pub(crate) fn spawn<R: BufRead + Send + 'static>(path: PathBuf, reader: R) -> Self {
        let inner = spawn_producer("geoconsole-geojson", move |chunks| {
            parse(&path, reader, chunks)
        });
        Self { inner }
    }
}

impl Iterator for GeoJsonReader {
    type Item = crate::FormatResult<SourceFeature>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

/// Leads the messages of errors about the document as a whole (not about one feature), so that they are not
/// worded as a feature's.
const DOCUMENT_ERROR: &str = "geoconsole document: ";

/// Set when the consumer stops listening; distinguishes a deliberate stop from a parse error.
const CANCELLED: &str = "geoconsole: reader cancelled";

struct Sink<'a> {
    path: &'a Path,
    chunks: &'a mut ChunkSender,
    next_index: u64,
    /// Each feature is one record of the bound beneath the parser.
    mark: RecordMark,
    /// The CRS a legacy `crs` member names, when it is not WGS84.
    crs: Option<Crs>,
}

impl Sink<'_> {
    fn accept<E: de::Error>(&mut self, raw: RawFeature) -> Result<(), E> {
        self.mark.ended();
        let index = self.next_index;
        self.next_index += 1;
        let location = Location::Feature(index);
        let mut raw = raw;
        let moved = match &self.crs {
            Some(crs) => raw.reproject(crs),
            None => Ok(()),
        };
        let item = moved
            .and_then(|()| raw.into_feature())
            .map(|feature| SourceFeature { location, feature })
            .map_err(|why| {
                FormatError::new(FormatErrorKind::InvalidFeature, self.path, location, why)
            });
        if self.chunks.push(item) {
            Ok(())
        } else {
            Err(E::custom(CANCELLED))
        }
    }
}

fn parse<R: BufRead>(path: &Path, reader: R, chunks: &mut ChunkSender) {
    // serde builds each feature whole: the bound stops one that never ends (or a 1 GB string in it).
    let (reader, mark) = RecordBound::new(reader, MAX_RECORD_BYTES);
    let mut sink = Sink {
        path,
        chunks,
        next_index: 0,
        mark,
        crs: None,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let result = deserializer
        .deserialize_map(TopLevel { sink: &mut sink })
        .and_then(|()| deserializer.end());
    if let Err(error) = result {
        if error.to_string().starts_with(CANCELLED) {
            return;
        }
        let index = sink.next_index;
        let failure = syntax_error(path, &error, index);
        sink.chunks.push(Err(failure));
    }
}

/// Turns a serde_json error into the console's wording, naming the feature being read when it broke.
fn syntax_error(path: &Path, error: &serde_json::Error, feature_index: u64) -> FormatError {
    let location = Location::Position {
        line: error.line() as u64,
        column: error.column() as u64,
    };
    let raw = error.to_string();
    let reason = raw.split(" at line ").next().unwrap_or(&raw).to_string();
    let (kind, message) = match error.classify() {
        serde_json::error::Category::Io => (FormatErrorKind::Io, reason),
        serde_json::error::Category::Eof => (
            FormatErrorKind::Syntax,
            format!("file ends inside feature {feature_index} (truncated?)"),
        ),
        _ if reason.starts_with(DOCUMENT_ERROR) => (
            FormatErrorKind::WrongFormat,
            reason.trim_start_matches(DOCUMENT_ERROR).to_string(),
        ),
        _ if reason.contains("recursion limit") => (
            FormatErrorKind::Syntax,
            "JSON nested too deeply (more than 128 levels)".to_string(),
        ),
        _ if reason.contains("unicode") || reason.contains("UTF-8") => (
            FormatErrorKind::Encoding,
            format!("{reason}; the file must be UTF-8"),
        ),
        _ => (
            FormatErrorKind::Syntax,
            format!("in feature {feature_index}: {reason}"),
        ),
    };
    FormatError::new(kind, path, location, message)
}

struct TopLevel<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection or Feature object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut kind: Option<String> = None;
        let mut saw_features = false;
        let mut single = SingleFeature::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value()?),
                "features" => {
                    map.next_value_seed(FeatureArray {
                        sink: &mut *self.sink,
                    })?;
                    saw_features = true;
                }
                "geometry" => single.geometry = map.next_value()?,
                "properties" => single.properties = map.next_value()?,
                "id" => single.id = map.next_value()?,
                "crs" => {
                    let crs = legacy_crs(&map.next_value::<serde_json::Value>()?)?;
                    if crs.is_some() && self.sink.next_index > 0 {
                        // the features before it were read as WGS84 already
                        return Err(de::Error::custom(format!(
                            "{DOCUMENT_ERROR}the `crs` member comes after the features it applies to;                              move it before `features`, or reproject the file to EPSG:4326 first"
                        )));
                    }
                    self.sink.crs = crs;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match kind.as_deref() {
            Some("FeatureCollection") if saw_features => Ok(()),
            Some("FeatureCollection") => Err(de::Error::custom(format!(
                "{DOCUMENT_ERROR}FeatureCollection has no 'features' member"
            ))),
            Some("Feature") => self.sink.accept(single.into_raw()),
            Some(other) => Err(de::Error::custom(format!(
                "{DOCUMENT_ERROR}top-level type is '{other}'; expected FeatureCollection or Feature"
            ))),
            None => Err(de::Error::custom(format!(
                "{DOCUMENT_ERROR}top-level object has no 'type' member; expected a FeatureCollection"
            ))),
        }
    }
}

/// Names of WGS 84 longitude/latitude in the `crs` member of pre-RFC 7946 GeoJSON (QGIS and GDAL still
/// write it). `urn:ogc:def:crs:EPSG::4326` formally has latitude first, but GeoJSON files (and GDAL reading
/// them) put longitude first whatever the name says, as RFC 7946 later made the rule.
const WGS84_CRS_NAMES: [&str; 4] = ["CRS84", "EPSG:4326", "EPSG::4326", "crs/EPSG/0/4326"];

/// The CRS the 2008 GeoJSON `crs` member names: `{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}}`
/// (or `EPSG:27700`, an OGC URL), or the older `{"type":"EPSG","properties":{"code":27700}}`. `None` for
/// WGS84; a CRS that cannot be transformed (or a `link` to a definition elsewhere) is refused, since
/// guessing would put every feature in the wrong place.
fn legacy_crs<E: de::Error>(crs: &serde_json::Value) -> Result<Option<Crs>, E> {
    if crs.is_null() {
        return Ok(None);
    }
    let name = crs
        .pointer("/properties/name")
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if WGS84_CRS_NAMES.iter().any(|n| name.ends_with(n)) {
        return Ok(None);
    }
    let refuse = |why: String| {
        E::custom(format!(
            "{DOCUMENT_ERROR}the file declares CRS {}: {why}",
            if name.is_empty() {
                crs.to_string()
            } else {
                name.to_string()
            }
        ))
    };
    let parsed = match (
        crs.get("type").and_then(serde_json::Value::as_str),
        crs.pointer("/properties/code")
            .and_then(serde_json::Value::as_u64),
    ) {
        (Some("name"), _) if !name.is_empty() => Crs::parse(name),
        (Some("EPSG"), Some(code)) => u32::try_from(code)
            .map_err(|_| format!("EPSG code {code} does not exist"))
            .and_then(Crs::from_epsg),
        _ => Err(
            "only a CRS given by name (`\"type\": \"name\"`) or EPSG code can be read; reproject \
             the file to EPSG:4326 first, e.g. ogr2ogr -t_srs EPSG:4326"
                .into(),
        ),
    };
    let crs = parsed.map_err(refuse)?;
    Ok((!crs.is_wgs84()).then_some(crs))
}

#[derive(Default)]
struct SingleFeature {
    id: Option<serde_json::Value>,
    geometry: Option<RawGeometry>,
    properties: Option<geoconsole_model::Properties>,
}

impl SingleFeature {
    fn into_raw(self) -> RawFeature {
        RawFeature::assemble(self.id, self.geometry, self.properties)
    }
}

struct FeatureArray<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> DeserializeSeed<'de> for FeatureArray<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeatureArray<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<RawFeature>()? {
            self.sink.accept(raw)?;
        }
        Ok(())
    }
}

/// Writes a FeatureCollection, one feature at a time.
pub struct GeoJsonWriter<W: Write> {
    out: W,
    written: u64,
    buffer: String,
}

impl<W: Write> GeoJsonWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
        Ok(Self {
            out,
            written: 0,
            buffer: String::with_capacity(1024),
        })
    }
}

impl<W: Write + Send> FeatureWriter for GeoJsonWriter<W> {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        self.buffer.clear();
        if self.written > 0 {
            self.buffer.push_str(",\n");
        }
        write_feature_json(feature, &mut self.buffer)?;
        self.written += 1;
        self.out.write_all(self.buffer.as_bytes())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()
    }
}
