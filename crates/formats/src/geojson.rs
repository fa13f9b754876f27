use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use geoconsole_model::{EXCERPT_CHARS, Feature, excerpt};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::geojson_geometry::{Coords, RawFeature, RawGeometry};
use crate::record::Elevations;
use crate::record_bound::{MAX_RECORD_BYTES, RecordBound, RecordMark};
use crate::stream::{ChunkReceiver, ChunkSender, spawn_producer};
use crate::write::{FeatureWriter, write_feature_json};
use crate::{Crs, FormatError, FormatErrorKind, Location, ReadNotes, SourceFeature};

/// Streams the features of a GeoJSON FeatureCollection (or a single Feature, or a bare geometry) without
/// holding the document: serde walks the `features` array and hands each feature over as soon as it is
/// complete.
pub struct GeoJsonReader {
    inner: ChunkReceiver,
}

impl GeoJsonReader {
    /// Reads bytes that cannot be read twice: a legacy `crs` member after the features is only found when
    /// they have been read (see [`LateCrs::Unknown`]).
    pub(crate) fn spawn<R: BufRead + Send + 'static>(
        path: PathBuf,
        reader: R,
        notes: &ReadNotes,
    ) -> Self {
        Self::spawn_with(path, reader, LateCrs::Unknown, notes)
    }

    /// Reads a document whose tail [`late_crs`] has looked at.
    pub(crate) fn spawn_with<R: BufRead + Send + 'static>(
        path: PathBuf,
        reader: R,
        late: LateCrs,
        notes: &ReadNotes,
    ) -> Self {
        let elevations = Elevations::new(&path, notes.clone());
        let inner = spawn_producer("geoconsole-geojson", move |chunks| {
            parse(&path, reader, late, elevations, chunks)
        });
        Self { inner }
    }
}

/// What the end of a document says about a top-level `crs` member after `features` (pre-RFC 7946 writers
/// put it there: `"type"`, `"features"`, `"crs"`), which a reader streaming the features meets too late.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LateCrs {
    /// The members after `features` were all seen and none is `crs`.
    Absent,
    /// The `crs` member after `features`.
    Found(serde_json::Value),
    /// Not known: a stream, or members after `features` too long for the look at the tail.
    Unknown,
}

/// How much of a file's end [`late_crs`] reads: the members after `features` (a `crs`, a `bbox`, a name)
/// are small; anything longer leaves the answer [`LateCrs::Unknown`].
const TAIL_BYTES: u64 = 1 << 20;

/// Looks at the end of a GeoJSON file for a top-level `crs` member placed after `features`, walking the
/// top-level members backwards from the closing brace without reading the features themselves.
pub(crate) fn late_crs(path: &Path) -> LateCrs {
    use std::io::{Read, Seek, SeekFrom};
    let tail = (|| -> io::Result<(Vec<u8>, bool)> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut tail)?;
        Ok((tail, start == 0))
    })();
    match tail {
        Ok((tail, whole)) => walk_back_members(&tail, whole),
        Err(_) => LateCrs::Unknown,
    }
}

/// The top-level members of `text` (a document's end; `whole` when it is the whole document), from the
/// last back to `features` or the opening brace.
fn walk_back_members(text: &[u8], whole: bool) -> LateCrs {
    let mut found = None;
    let Some(mut i) = skip_space_back(text, text.len()) else {
        return LateCrs::Unknown;
    };
    if text[i - 1] != b'}' {
        return LateCrs::Unknown;
    }
    i -= 1;
    // A member that starts before the tail ends the walk: a `crs` seen by then is after `features`
    // (which, walking back, comes last), or there are no features and a single Feature applies it anyway.
    loop {
        let Some(end) = skip_space_back(text, i) else {
            return found.map_or(LateCrs::Unknown, LateCrs::Found);
        };
        if text[end - 1] == b'{' {
            // the object's own opening brace: every member was seen
            return found.map_or(LateCrs::Absent, LateCrs::Found);
        }
        let Some(value_start) = value_start_back(text, end, whole) else {
            return found.map_or(LateCrs::Unknown, LateCrs::Found);
        };
        // text that is not a member here is not understood: no answer from it
        let Some(colon) = skip_space_back(text, value_start).filter(|&c| text[c - 1] == b':')
        else {
            return LateCrs::Unknown;
        };
        let Some(key_end) = skip_space_back(text, colon - 1).filter(|&k| text[k - 1] == b'"')
        else {
            return LateCrs::Unknown;
        };
        let Some(key_start) = string_start_back(text, key_end, whole) else {
            return found.map_or(LateCrs::Unknown, LateCrs::Found);
        };
        match &text[key_start + 1..key_end - 1] {
            // the last `crs` in the document is the one a reader of the whole keeps
            b"crs" if found.is_none() => match serde_json::from_slice(&text[value_start..end]) {
                Ok(value) => found = Some(value),
                Err(_) => return LateCrs::Unknown,
            },
            b"features" => return found.map_or(LateCrs::Absent, LateCrs::Found),
            _ => {}
        }
        let Some(before) = skip_space_back(text, key_start) else {
            return found.map_or(LateCrs::Unknown, LateCrs::Found);
        };
        match text[before - 1] {
            b',' => i = before - 1,
            b'{' => i = before,
            _ => return LateCrs::Unknown,
        }
    }
}

/// The end of the text before `end` once whitespace is skipped; `None` at the start of the text.
fn skip_space_back(text: &[u8], mut end: usize) -> Option<usize> {
    while end > 0 && text[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (end > 0).then_some(end)
}

/// Where the JSON value ending at `end` starts; `None` when it starts before the text does.
fn value_start_back(text: &[u8], end: usize, whole: bool) -> Option<usize> {
    match text[end - 1] {
        b'"' => string_start_back(text, end, whole),
        b'}' | b']' => {
            let mut depth = 0usize;
            let mut i = end;
            while i > 0 {
                match text[i - 1] {
                    b'"' => {
                        i = string_start_back(text, i, whole)?;
                        continue;
                    }
                    b'}' | b']' => depth += 1,
                    b'{' | b'[' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i - 1);
                        }
                    }
                    _ => {}
                }
                i -= 1;
            }
            None
        }
        _ => {
            let start = text[..end]
                .iter()
                .rposition(|b| b.is_ascii_whitespace() || b",:[{".contains(b))
                .map_or(0, |p| p + 1);
            (start > 0 || whole).then_some(start)
        }
    }
}

/// Where the string whose closing quote is at `end - 1` opens: the previous quote not escaped, that is not
/// after an odd run of backslashes.
fn string_start_back(text: &[u8], end: usize, whole: bool) -> Option<usize> {
    let mut j = end - 1;
    loop {
        j = text[..j].iter().rposition(|&b| b == b'"')?;
        let backslashes = text[..j].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes == j && !whole {
            // the run of backslashes may go on before the text: escaped or not is unknown
            return None;
        }
        if backslashes % 2 == 0 {
            return Some(j);
        }
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

/// The parser's read-ahead above [`RecordBound`].
const READ_AHEAD: usize = 64 * 1024;

/// Set when the consumer stops listening; distinguishes a deliberate stop from a parse error.
const CANCELLED: &str = "geoconsole: reader cancelled";

struct Sink<'a> {
    path: &'a Path,
    chunks: &'a mut ChunkSender,
    next_index: u64,
    /// Where the parser is in the document, for errors: before, inside or after the `features` array.
    part: Part,
    /// Each feature is one record of the bound beneath the parser.
    mark: RecordMark,
    /// The CRS a legacy `crs` member names, when it is not WGS84.
    crs: Option<Crs>,
    /// What the look at the document's end found.
    late: LateCrs,
    /// Whether a `crs` member was read (or found at the end beforehand).
    crs_known: bool,
    elevations: Elevations,
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
            .and_then(|()| raw.into_feature(&mut self.elevations))
            .map(|feature| SourceFeature { location, feature })
            .map_err(|why| {
                // Projected coordinates fail as WGS84 before a `crs` member after the features could
                // explain them; from a stream nothing tells whether one follows (and holding every
                // feature until the end would hold the document), so the message says what to try.
                let why = if self.late == LateCrs::Unknown
                    && !self.crs_known
                    && why.contains("out of range")
                {
                    format!(
                        "{why} (if the document declares its CRS in a `crs` member after the \
                         features, move it before `features`, or import the document from a file)"
                    )
                } else {
                    why
                };
                FormatError::new(FormatErrorKind::InvalidFeature, self.path, location, why)
            });
        if self.chunks.push(item) {
            Ok(())
        } else {
            Err(E::custom(CANCELLED))
        }
    }
}

fn parse<R: BufRead>(
    path: &Path,
    mut reader: R,
    late: LateCrs,
    elevations: Elevations,
    chunks: &mut ChunkSender,
) {
    let mut crs = None;
    if let LateCrs::Found(value) = &late {
        match legacy_crs::<serde_json::Error>(value) {
            Ok(found) => crs = found,
            Err(e) => {
                let why = e.to_string();
                let why = why.trim_start_matches(DOCUMENT_ERROR);
                chunks.push(Err(FormatError::new(
                    FormatErrorKind::WrongFormat,
                    path,
                    Location::File,
                    why,
                )));
                return;
            }
        }
    }
    // Windows tools start UTF-8 with a byte-order mark, which JSON does not allow and GDAL reads past.
    if reader
        .fill_buf()
        .is_ok_and(|head| head.starts_with(b"\xef\xbb\xbf"))
    {
        reader.consume(3);
    }
    // serde builds each feature whole: the bound stops one that never ends (or a 1 GB string in it).
    let (reader, mark) = RecordBound::new(reader, MAX_RECORD_BYTES);
    let mut sink = Sink {
        path,
        chunks,
        next_index: 0,
        part: Part::Before,
        mark,
        crs,
        crs_known: matches!(late, LateCrs::Found(_)),
        late,
        elevations,
    };
    // serde_json reads an `io::Read` a byte at a time; a buffer on top of the bound hands it each byte
    // from memory (std's byte reader special-cases `BufReader`) instead of through the bound's check and the
    // file's buffer per byte, which took half the parser's time. The bound then counts read-ahead to the
    // feature before: a feature may take the cap plus one buffer.
    let mut deserializer =
        serde_json::Deserializer::from_reader(io::BufReader::with_capacity(READ_AHEAD, reader));
    let result = deserializer
        .deserialize_map(TopLevel { sink: &mut sink })
        .and_then(|()| deserializer.end());
    if let Err(error) = result {
        if error.to_string().starts_with(CANCELLED) {
            return;
        }
        let failure = syntax_error(path, &error, sink.next_index, sink.part);
        sink.chunks.push(Err(failure));
    }
}

/// What serde_json's words for a `\ud800` without its pair mean.
pub(crate) const LONE_SURROGATE: &str = "a \\u escape that is no character (half of a UTF-16 pair, \
     \\ud800-\\udfff, without the other half); write the character itself or both halves";

/// Where in a document the parser is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    /// Before the `features` array (or in a document without one).
    Before,
    /// Inside it: errors are the next feature's.
    Inside,
    /// After its end: no feature is being read.
    After,
}

/// Turns a serde_json error into the console's wording, naming the feature being read when it broke.
fn syntax_error(
    path: &Path,
    error: &serde_json::Error,
    feature_index: u64,
    part: Part,
) -> FormatError {
    // An error between features is the next one's; after the array, no feature's (there is none
    // numbered `feature_index`).
    let place = match part {
        Part::Before => String::new(),
        Part::Inside => format!("in feature {feature_index}: "),
        Part::After => format!("after the last feature ({feature_index} read): "),
    };
    let location = Location::Position {
        line: error.line() as u64,
        column: error.column() as u64,
    };
    let raw = error.to_string();
    let reason = raw.split(" at line ").next().unwrap_or(&raw).to_string();
    let (kind, message) = match error.classify() {
        serde_json::error::Category::Io => (FormatErrorKind::Io, format!("{place}{reason}")),
        serde_json::error::Category::Eof if part == Part::Inside => (
            FormatErrorKind::Syntax,
            format!("file ends inside feature {feature_index} (truncated?)"),
        ),
        serde_json::error::Category::Eof => (
            FormatErrorKind::Syntax,
            format!("{place}file ends before the document does (truncated?)"),
        ),
        _ if reason.starts_with(DOCUMENT_ERROR) => (
            FormatErrorKind::WrongFormat,
            reason.trim_start_matches(DOCUMENT_ERROR).to_string(),
        ),
        _ if reason.contains("recursion limit") => (
            FormatErrorKind::Syntax,
            "JSON nested too deeply (more than 128 levels)".to_string(),
        ),
        // serde_json's words for a `\ud800` without its pair ("unexpected end of hex escape", and "lone
        // leading surrogate" for a trailing one) say nothing a user can act on.
        _ if reason.contains("surrogate") || reason.contains("hex escape") => (
            FormatErrorKind::Encoding,
            format!("{place}{LONE_SURROGATE}"),
        ),
        _ if reason.contains("unicode") || reason.contains("UTF-8") => (
            FormatErrorKind::Encoding,
            format!("{place}{reason}; the file must be UTF-8"),
        ),
        _ => (FormatErrorKind::Syntax, format!("{place}{reason}")),
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
        let mut bare = BareGeometry::default();
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
                "coordinates" => bare.coordinates = map.next_value()?,
                "geometries" => bare.geometries = map.next_value()?,
                "crs" => {
                    let value = map.next_value::<serde_json::Value>()?;
                    if matches!(&self.sink.late, LateCrs::Found(found) if *found == value) {
                        // the member the look at the end found, applied from the first feature on
                        continue;
                    }
                    let crs = legacy_crs(&value)?;
                    if crs.is_some() && self.sink.next_index > 0 {
                        return Err(de::Error::custom(format!(
                            "{DOCUMENT_ERROR}the `crs` member ({}) comes after the features, which were \
                             already read as WGS84 longitude/latitude from input that cannot be read \
                             twice; move `crs` before `features`, import the file from disk, or \
                             reproject it to EPSG:4326 first",
                            crs_label(&value)
                        )));
                    }
                    self.sink.crs = crs;
                    self.sink.crs_known = true;
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
            // a bare geometry is one feature without properties, as GDAL reads it
            Some(
                geometry @ ("Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon"
                | "MultiPolygon" | "GeometryCollection"),
            ) => {
                let geometry =
                    RawGeometry::assemble(geometry.to_string(), bare.coordinates, bare.geometries);
                self.sink
                    .accept(RawFeature::assemble(None, Some(geometry), None))
            }
            Some(other) => Err(de::Error::custom(format!(
                "{DOCUMENT_ERROR}top-level type is '{other}'; expected FeatureCollection, Feature or \
                 a geometry"
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

/// How a `crs` member names its CRS, for messages.
fn crs_label(crs: &serde_json::Value) -> String {
    crs.pointer("/properties/name")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            crs.pointer("/properties/code")
                .map(|code| format!("EPSG:{code}"))
        })
        .map_or_else(
            || excerpt(&crs.to_string(), EXCERPT_CHARS).into_owned(),
            |label| excerpt(&label, EXCERPT_CHARS).into_owned(),
        )
}

/// The members of a top-level geometry, read one by one.
#[derive(Default)]
struct BareGeometry {
    coordinates: Option<Coords>,
    geometries: Option<Vec<RawGeometry>>,
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
        self.sink.part = Part::Inside;
        while let Some(raw) = seq.next_element::<RawFeature>()? {
            self.sink.accept(raw)?;
        }
        self.sink.part = Part::After;
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

#[cfg(test)]
mod tests {
    use super::{GeoJsonReader, LateCrs, walk_back_members};
    use serde_json::json;

    /// The features read and the first error's text.
    fn read(text: &[u8]) -> (usize, Option<String>) {
        let reader = GeoJsonReader::spawn(
            std::path::PathBuf::from("t.geojson"),
            std::io::Cursor::new(text.to_vec()),
            &crate::ReadNotes::default(),
        );
        let mut features = 0;
        for item in reader {
            match item {
                Ok(_) => features += 1,
                Err(e) => return (features, Some(e.to_string())),
            }
        }
        (features, None)
    }

    // From the third outside pass: a byte-order mark made the file unreadable ("in feature 0: expected
    // value"), errors after the array blamed a feature that does not exist, and a lone surrogate escape got
    // serde_json's words ("lone leading surrogate" for a trailing one).
    #[test]
    fn errors_say_where_in_the_document_they_are() {
        let one = r#"{"type":"Feature","properties":{"a":1},"geometry":{"type":"Point","coordinates":[1,2]}}"#;
        let collection = format!(r#"{{"type":"FeatureCollection","features":[{one},{one}]}}"#);
        assert_eq!(read(format!("\u{feff}{collection}").as_bytes()), (2, None));
        let truncated = &collection[..collection.len() - 1];
        assert_eq!(
            read(truncated.as_bytes()),
            (
                2,
                Some(
                    "t.geojson: line 1 column 216: after the last feature (2 read): file ends before \
                     the document does (truncated?)"
                        .into()
                )
            )
        );
        let (read_before, error) = read(format!("{collection}{{\"x\":1}}").as_bytes());
        assert_eq!(read_before, 2);
        assert!(
            error.as_deref().is_some_and(
                |e| e.contains("after the last feature (2 read): trailing characters")
            ),
            "{error:?}"
        );
        let cut_inside = &collection[..150];
        assert!(
            read(cut_inside.as_bytes())
                .1
                .is_some_and(|e| e.contains("file ends inside feature 1 (truncated?)"))
        );
        let lone = collection.replacen(r#""a":1"#, r#""a":"\udc00x""#, 1);
        let (_, error) = read(lone.as_bytes());
        assert!(
            error.as_deref().is_some_and(|e| e.contains(
                "in feature 0: a \\u escape that is no character (half of a UTF-16 pair"
            )),
            "{error:?}"
        );
        let (_, error) = read(br#"{"type":"FeatureCollection" "features":[]}"#);
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e == "t.geojson: line 1 column 29: expected `,` or `}`"),
            "{error:?}"
        );
    }

    #[test]
    fn the_tail_walk_finds_a_crs_after_the_features_and_only_there() {
        let crs = json!({"type": "name", "properties": {"name": "EPSG:3857"}});
        let after = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"s":"}}]\"{{,"}},"geometry":null}}],"crs":{crs} , "bbox":[1,2,3,4],"n":-1.5e3,"ok":true}}"#
        );
        assert_eq!(
            walk_back_members(after.as_bytes(), true),
            LateCrs::Found(crs.clone())
        );
        // a tail that starts inside the features still sees the members after them
        let cut = &after.as_bytes()[after.find("geometry").expect("member")..];
        assert_eq!(walk_back_members(cut, false), LateCrs::Found(crs.clone()));
        let before = format!(r#"{{"type":"FeatureCollection","crs":{crs},"features":[]}}"#);
        assert_eq!(walk_back_members(before.as_bytes(), true), LateCrs::Absent);
        let none = "{\"type\":\"FeatureCollection\",\"features\":[],\"name\":\"a \\\" b\\\\\"}\n";
        assert_eq!(walk_back_members(none.as_bytes(), true), LateCrs::Absent);
        // a member longer than the tail leaves the answer open, as does text that is not an object
        let long = br#"":[1,2]}],"note":"a long string","name":"x"}"#;
        assert_eq!(walk_back_members(&long[10..], false), LateCrs::Unknown);
        assert_eq!(
            walk_back_members(br#"{"a":1 "crs":2}"#, true),
            LateCrs::Unknown
        );
        assert_eq!(walk_back_members(b"[1,2]", true), LateCrs::Unknown);
        assert_eq!(walk_back_members(b"", true), LateCrs::Unknown);
        // an escaped quote whose backslashes run into the start of the tail cannot be judged
        assert_eq!(
            walk_back_members(br#"\\"x","name":{"a":1}}"#, false),
            LateCrs::Unknown
        );
    }
}
