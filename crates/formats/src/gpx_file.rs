//! GPX 1.0/1.1, read as GDAL's GPX driver reads it. GDAL shows a GPX file as five layers; the same names
//! choose what is read here (`--layer waypoints|routes|tracks|route_points|track_points`). Without a layer,
//! waypoints, routes and tracks come together, each marked by `gpx_type`, so one drop brings the whole file in.
//!
//! The document is walked event by event with quick-xml and each top-level `<wpt>`, `<rte>` and `<trk>` is
//! read into its features as it ends, so memory holds one element (bounded like any record). Reading is
//! lenient the way GDAL's is: elements the schema allows but GDAL does not show (`magvar` is shown;
//! `course`, `speed`, metadata are not), elements of another GPX version (a 1.0 `<time>` in a track) and a
//! `<gpx>` without its `version` are read past, not refused; `extensions` become `prefix_name` fields
//! (`ext:aaa` is `ext_aaa`). Georust's `gpx` crate refused all three, and built the whole document first.
//! DOCTYPEs are refused and elements nest at most [`MAX_DEPTH`] deep.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use geoconsole_model::Properties;
use geoconsole_model::geo_types::{Coord, Geometry, LineString, MultiLineString, Point};
use quick_xml_kml::Reader as XmlReader;
use quick_xml_kml::events::{BytesStart, Event};
use serde_json::Value;

use crate::record::{self, SourceCrs, file_error};
use crate::record_bound::{MAX_RECORD_BYTES, RecordBound, RecordMark};
use crate::stream::{ChunkReceiver, ChunkSender, spawn_producer};
use crate::{FormatError, FormatErrorKind, FormatResult, Location, ReadNotes};

const GPX_CRS: SourceCrs = SourceCrs::Assumed {
    hint: "GPX positions are WGS84 latitude/longitude",
};

/// The layers GDAL's GPX driver shows.
const LAYERS: [&str; 5] = [
    "waypoints",
    "routes",
    "tracks",
    "route_points",
    "track_points",
];

pub(crate) fn read<R: BufRead + Send + 'static>(
    path: &Path,
    reader: R,
    layer: Option<&str>,
    warnings: &ReadNotes,
) -> FormatResult<ChunkReceiver> {
    if let Some(layer) = layer.filter(|l| !LAYERS.contains(l)) {
        return Err(file_error(
            FormatErrorKind::InvalidOption,
            path,
            format!("GPX has no layer '{layer}' (layers: {})", LAYERS.join(", ")),
        ));
    }
    let (reader, mark) = RecordBound::new(reader, MAX_RECORD_BYTES);
    let mut walk = Walk {
        path: path.to_path_buf(),
        xml: XmlReader::from_reader(reader),
        mark,
        buffer: Vec::new(),
        depth: 0,
        layer: layer.map(str::to_string),
        counts: Counts::default(),
        warnings: warnings.clone(),
        warned_single_point: std::cell::Cell::new(false),
    };
    Ok(spawn_producer("geoconsole-gpx", move |chunks| {
        if let Err(e) = walk.run(chunks) {
            chunks.push(Err(e));
        }
    }))
}

/// Elements a GPX document may nest. GPX needs seven (`gpx/trk/trkseg/trkpt/extensions/…`); nothing real
/// comes near this, and every read below recurses at most this deep.
const MAX_DEPTH: usize = 64;

/// Elements of each kind read so far, for GDAL's `route_fid` and `track_fid`, and features sent.
#[derive(Default)]
struct Counts {
    routes: usize,
    tracks: usize,
    features: u64,
}

/// One XML event as the GPX reader needs it.
enum Ev {
    /// An element opens (`empty`: and closes at once); its qualified name as written and its attributes.
    Start {
        name: String,
        attributes: Vec<(String, String)>,
        empty: bool,
    },
    Text(String),
    End,
    Eof,
}

struct Walk<R> {
    path: PathBuf,
    xml: XmlReader<RecordBound<R>>,
    /// Each top-level element is one record of the bound.
    mark: RecordMark,
    buffer: Vec<u8>,
    /// Elements open, the `<gpx>` root included.
    depth: usize,
    layer: Option<String>,
    counts: Counts,
    warnings: ReadNotes,
    /// One warning per file for one-point lines, however many there are.
    warned_single_point: std::cell::Cell<bool>,
}

/// A waypoint, route point or track point: its position (or why it has none) and GDAL's fields.
struct GpxPoint {
    position: Result<Coord<f64>, String>,
    properties: Properties,
}

/// A route or a track: GDAL's fields and its points (a route's one list; a track's list per segment).
struct GpxPath {
    properties: Properties,
    parts: Vec<Vec<GpxPoint>>,
}

/// GDAL's fields of a point, in its order: numbers, text, GPX 1.1 links (GPX 1.0's `<url>` and `<urlname>` keep
/// their own names, as GDAL shows them).
const POINT_FIELDS: [&str; 23] = [
    "ele",
    "time",
    "magvar",
    "geoidheight",
    "name",
    "cmt",
    "desc",
    "src",
    "link1_href",
    "link1_text",
    "link1_type",
    "link2_href",
    "link2_text",
    "link2_type",
    "sym",
    "type",
    "fix",
    "sat",
    "hdop",
    "vdop",
    "pdop",
    "ageofdgpsdata",
    "dgpsid",
];

/// GDAL's fields of a route or track.
const PATH_FIELDS: [&str; 12] = [
    "name",
    "cmt",
    "desc",
    "src",
    "link1_href",
    "link1_text",
    "link1_type",
    "link2_href",
    "link2_text",
    "link2_type",
    "number",
    "type",
];

/// Fields GDAL types as real numbers and as integers; the rest are text (and `time` a time).
const REAL_FIELDS: [&str; 7] = [
    "ele",
    "magvar",
    "geoidheight",
    "hdop",
    "vdop",
    "pdop",
    "ageofdgpsdata",
];
const INTEGER_FIELDS: [&str; 3] = ["sat", "dgpsid", "number"];

/// Links GDAL keeps per feature.
const MAX_LINKS: usize = 2;

impl<R: BufRead> Walk<R> {
    fn syntax(&self, why: String) -> FormatError {
        file_error(FormatErrorKind::Syntax, &self.path, why)
    }

    fn next(&mut self) -> FormatResult<Ev> {
        loop {
            self.buffer.clear();
            let at = self.xml.buffer_position();
            let event = self.xml.read_event_into(&mut self.buffer).map_err(|e| {
                file_error(
                    FormatErrorKind::Syntax,
                    &self.path,
                    format!("not readable GPX at byte {at}: {e}"),
                )
            })?;
            let start = |e: &BytesStart<'_>, empty: bool| {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let attributes = e
                    .attributes()
                    .flatten()
                    .map(|a| {
                        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                        let value = a
                            .normalized_value(quick_xml_kml::XmlVersion::Implicit1_0)
                            .map_or_else(
                                |_| String::from_utf8_lossy(&a.value).into_owned(),
                                |v| v.into_owned(),
                            );
                        (key, value)
                    })
                    .collect();
                Ev::Start {
                    name,
                    attributes,
                    empty,
                }
            };
            match event {
                Event::Start(e) => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.syntax(format!(
                            "document nests elements {} deep; at most {MAX_DEPTH} are accepted",
                            self.depth
                        )));
                    }
                    return Ok(start(&e, false));
                }
                Event::Empty(e) => return Ok(start(&e, true)),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Ev::End);
                }
                Event::Text(t) => {
                    let text = match t.decode() {
                        Ok(text) => text.into_owned(),
                        Err(e) => {
                            return Err(file_error(
                                FormatErrorKind::Syntax,
                                &self.path,
                                format!("not readable GPX at byte {at}: {e}"),
                            ));
                        }
                    };
                    return Ok(Ev::Text(text));
                }
                Event::CData(t) => {
                    return Ok(Ev::Text(String::from_utf8_lossy(&t).into_owned()));
                }
                Event::GeneralRef(r) => {
                    if let Some(c) = crate::kml_file::entity(&r) {
                        return Ok(Ev::Text(c.to_string()));
                    }
                }
                Event::DocType(_) => {
                    return Err(self.syntax(
                        "document declares a DOCTYPE, which is refused (entity declarations are how \
                         XML bombs and external-entity reads start)"
                            .into(),
                    ));
                }
                Event::Eof => return Ok(Ev::Eof),
                _ => {}
            }
        }
    }

    /// The next event inside an element: the end of the file there means the file is cut short.
    fn inside(&mut self) -> FormatResult<Ev> {
        match self.next()? {
            Ev::Eof => {
                let at = self.xml.buffer_position();
                Err(self.syntax(format!(
                    "document ends inside an element (byte {at}); the file is cut short"
                )))
            }
            event => Ok(event),
        }
    }

    fn run(&mut self, chunks: &mut ChunkSender) -> FormatResult<()> {
        let mut rooted = false;
        loop {
            self.mark.ended();
            match self.next()? {
                Ev::Eof if rooted => return Ok(()),
                Ev::Eof => {
                    return Err(
                        self.syntax("not readable GPX: the file has no <gpx> element".into())
                    );
                }
                Ev::Start { name, .. } if !rooted => {
                    if local(&name) != "gpx" {
                        return Err(self
                            .syntax("not readable GPX: the document element is not <gpx>".into()));
                    }
                    rooted = true;
                }
                Ev::Start {
                    name,
                    attributes,
                    empty,
                } => {
                    let features = match local(&name) {
                        "wpt" => {
                            let point = self.point(&attributes, empty)?;
                            self.waypoint_features(point)
                        }
                        "rte" => {
                            let route = self.path(empty, "rtept", None)?;
                            self.route_features(route)
                        }
                        "trk" => {
                            let track = self.path(empty, "trkpt", Some("trkseg"))?;
                            self.track_features(track)
                        }
                        // Metadata and elements GDAL does not show are not data.
                        _ => {
                            if !empty {
                                self.skip()?;
                            }
                            Vec::new()
                        }
                    };
                    for (geometry, properties) in features {
                        let location = Location::Feature(self.counts.features);
                        self.counts.features += 1;
                        let item = geometry.and_then(|g| {
                            record::feature(&self.path, location, g, &GPX_CRS, properties, None)
                        });
                        if !chunks.push(item) {
                            return Ok(());
                        }
                    }
                }
                // The root's end: what follows it is not GPX.
                Ev::End => return Ok(()),
                Ev::Text(_) => {}
            }
        }
    }

    /// Reads past the rest of an element.
    fn skip(&mut self) -> FormatResult<()> {
        let mut open = 1usize;
        while open > 0 {
            match self.inside()? {
                Ev::Start { empty: false, .. } => open += 1,
                Ev::End => open -= 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// The text of the rest of an element; nested elements come as their XML (GDAL's value for an
    /// extension that holds elements).
    fn text(&mut self) -> FormatResult<String> {
        let mut out = String::new();
        self.inner(&mut out)?;
        Ok(out.trim().to_string())
    }

    fn inner(&mut self, out: &mut String) -> FormatResult<()> {
        loop {
            match self.inside()? {
                Ev::Text(t) => out.push_str(&t),
                Ev::End => return Ok(()),
                Ev::Start {
                    name,
                    attributes,
                    empty,
                } => {
                    out.push('<');
                    out.push_str(&name);
                    for (k, v) in &attributes {
                        out.push_str(&format!(" {k}=\"{}\"", escape(v)));
                    }
                    if empty {
                        out.push_str("/>");
                    } else {
                        out.push('>');
                        // Bounded by MAX_DEPTH, which `next` enforces.
                        self.inner(out)?;
                        out.push_str(&format!("</{name}>"));
                    }
                }
                Ev::Eof => return Ok(()),
            }
        }
    }

    /// A simple field, a link or the extensions of a point, route or track; false when the child is
    /// none of those (the caller reads it).
    fn field(
        &mut self,
        name: &str,
        attributes: &[(String, String)],
        empty: bool,
        properties: &mut Properties,
        links: &mut usize,
    ) -> FormatResult<bool> {
        let local_name = local(name);
        match local_name {
            // GPX 1.1: <link href><text/><type/></link>.
            "link" => {
                *links += 1;
                let n = *links;
                if n <= MAX_LINKS {
                    let href = attributes
                        .iter()
                        .find(|(k, _)| k == "href")
                        .map(|(_, v)| v.clone());
                    properties.insert(
                        format!("link{n}_href"),
                        href.map_or(Value::Null, Value::String),
                    );
                }
                if !empty {
                    loop {
                        match self.inside()? {
                            Ev::Start { name, empty, .. } => {
                                let value = if empty { String::new() } else { self.text()? };
                                let part = local(&name);
                                if n <= MAX_LINKS && (part == "text" || part == "type") {
                                    properties
                                        .insert(format!("link{n}_{part}"), Value::String(value));
                                }
                            }
                            Ev::End => break,
                            _ => {}
                        }
                    }
                }
            }
            // GPX 1.0's link, which GDAL shows under the element's own names.
            "url" | "urlname" => {
                let value = if empty { String::new() } else { self.text()? };
                properties.insert(local_name.to_string(), Value::String(value));
            }
            "extensions" => {
                if !empty {
                    loop {
                        match self.inside()? {
                            Ev::Start { name, empty, .. } => {
                                let value = if empty { String::new() } else { self.text()? };
                                properties.insert(extension_field(&name), typed(&value));
                            }
                            Ev::End => break,
                            _ => {}
                        }
                    }
                }
            }
            field if POINT_FIELDS.contains(&field) || PATH_FIELDS.contains(&field) => {
                let text = if empty { String::new() } else { self.text()? };
                properties.insert(field.to_string(), field_value(field, &text));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// A `<wpt>`, `<rtept>` or `<trkpt>`, read to its end.
    fn point(&mut self, attributes: &[(String, String)], empty: bool) -> FormatResult<GpxPoint> {
        let coordinate = |name: &str| -> Result<f64, String> {
            let text = attributes
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
                .ok_or_else(|| format!("point has no '{name}' attribute"))?;
            text.parse::<f64>().map_err(|_| {
                format!(
                    "point's {name} '{}' is not a number",
                    geoconsole_model::excerpt(text, geoconsole_model::EXCERPT_CHARS)
                )
            })
        };
        let position = coordinate("lon").and_then(|x| coordinate("lat").map(|y| Coord { x, y }));
        let mut properties = Properties::new();
        for field in POINT_FIELDS {
            properties.insert(field.to_string(), Value::Null);
        }
        let mut links = 0;
        if !empty {
            loop {
                match self.inside()? {
                    Ev::Start {
                        name,
                        attributes,
                        empty,
                    } if !self.field(&name, &attributes, empty, &mut properties, &mut links)?
                        && !empty =>
                    {
                        self.skip()?;
                    }
                    Ev::End => break,
                    _ => {}
                }
            }
        }
        Ok(GpxPoint {
            position,
            properties,
        })
    }

    /// A `<rte>` (points directly inside) or a `<trk>` (points inside `segment` elements), read to its end.
    fn path(&mut self, empty: bool, point: &str, segment: Option<&str>) -> FormatResult<GpxPath> {
        let mut properties = Properties::new();
        for field in PATH_FIELDS {
            properties.insert(field.to_string(), Value::Null);
        }
        let mut parts: Vec<Vec<GpxPoint>> = Vec::new();
        if segment.is_none() {
            parts.push(Vec::new());
        }
        let mut links = 0;
        if !empty {
            loop {
                match self.inside()? {
                    Ev::Start {
                        name,
                        attributes,
                        empty,
                    } => {
                        let local_name = local(&name);
                        if segment.is_none() && local_name == point {
                            let p = self.point(&attributes, empty)?;
                            if let Some(part) = parts.last_mut() {
                                part.push(p);
                            }
                        } else if segment == Some(local_name) {
                            parts.push(Vec::new());
                            if !empty {
                                loop {
                                    match self.inside()? {
                                        Ev::Start {
                                            name,
                                            attributes,
                                            empty,
                                        } => {
                                            if local(&name) == point {
                                                let p = self.point(&attributes, empty)?;
                                                if let Some(part) = parts.last_mut() {
                                                    part.push(p);
                                                }
                                            } else if !empty {
                                                self.skip()?;
                                            }
                                        }
                                        Ev::End => break,
                                        _ => {}
                                    }
                                }
                            }
                        } else if !self.field(
                            &name,
                            &attributes,
                            empty,
                            &mut properties,
                            &mut links,
                        )? && !empty
                        {
                            // A GPX 1.0 track's <time>, and whatever else GDAL does not show.
                            self.skip()?;
                        }
                    }
                    Ev::End => break,
                    _ => {}
                }
            }
        }
        Ok(GpxPath { properties, parts })
    }

    fn wants(&self, name: &str) -> bool {
        self.layer.as_deref() == Some(name)
    }

    fn all(&self) -> bool {
        self.layer.is_none()
    }

    fn waypoint_features(&self, point: GpxPoint) -> Vec<Record> {
        if !(self.all() || self.wants("waypoints")) {
            return Vec::new();
        }
        let mut p = kind(self.all(), "waypoint");
        p.extend(point.properties);
        vec![(self.point_geometry(&point.position), p)]
    }

    fn route_features(&mut self, route: GpxPath) -> Vec<Record> {
        let fid = self.counts.routes;
        self.counts.routes += 1;
        let mut out = Vec::new();
        let points = route.parts.into_iter().next().unwrap_or_default();
        if self.all() || self.wants("routes") {
            let mut p = kind(self.all(), "route");
            p.extend(route.properties);
            let geometry = self.line(&points).map(|line| {
                // A route of no points is an unlocated feature, as GDAL keeps it.
                line.map(Geometry::LineString)
            });
            out.push((geometry, p));
        }
        if self.wants("route_points") {
            for (i, point) in points.into_iter().enumerate() {
                let mut p = Properties::new();
                p.insert("route_fid".into(), Value::from(fid));
                p.insert("route_point_id".into(), Value::from(i));
                p.extend(point.properties);
                out.push((self.point_geometry(&point.position), p));
            }
        }
        out
    }

    fn track_features(&mut self, track: GpxPath) -> Vec<Record> {
        let fid = self.counts.tracks;
        self.counts.tracks += 1;
        let mut out = Vec::new();
        if self.all() || self.wants("tracks") {
            let mut p = kind(self.all(), "track");
            p.extend(track.properties);
            // Empty segments are left out, as GDAL's extent leaves them; a track of none is unlocated.
            let lines: Result<Vec<LineString<f64>>, FormatError> = track
                .parts
                .iter()
                .filter_map(|part| self.line(part).transpose())
                .collect();
            let geometry = lines.map(|lines| {
                (!lines.is_empty()).then_some(Geometry::MultiLineString(MultiLineString(lines)))
            });
            out.push((geometry, p));
        }
        if self.wants("track_points") {
            for (segment, part) in track.parts.into_iter().enumerate() {
                for (i, point) in part.into_iter().enumerate() {
                    let mut p = Properties::new();
                    p.insert("track_fid".into(), Value::from(fid));
                    p.insert("track_seg_id".into(), Value::from(segment));
                    p.insert("track_seg_point_id".into(), Value::from(i));
                    p.extend(point.properties);
                    out.push((self.point_geometry(&point.position), p));
                }
            }
        }
        out
    }

    fn point_geometry(
        &self,
        position: &Result<Coord<f64>, String>,
    ) -> Result<Option<Geometry<f64>>, FormatError> {
        position
            .clone()
            .map(|c| Some(Geometry::Point(Point(c))))
            .map_err(|why| self.invalid(why))
    }

    /// The line through a route's or segment's points; `None` for no points. A single point is a line of
    /// no length at that point (GDAL keeps the one-point line, which the console's geometries cannot hold),
    /// and a warning says so.
    fn line(&self, points: &[GpxPoint]) -> Result<Option<LineString<f64>>, FormatError> {
        let mut coords = points
            .iter()
            .map(|p| p.position.clone())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| self.invalid(why))?;
        if coords.len() == 1 && !self.warned_single_point.replace(true) {
            self.warnings.warn(format!(
                "{}: a route or track segment holds one point; it was kept as a line of no length at \
                 that point (and so is any other in the file)",
                crate::error::file_label(&self.path)
            ));
        }
        if let [only] = coords[..] {
            coords.push(only);
        }
        Ok((!coords.is_empty()).then_some(LineString(coords)))
    }

    fn invalid(&self, why: String) -> FormatError {
        FormatError::new(
            FormatErrorKind::InvalidFeature,
            &self.path,
            Location::Feature(self.counts.features),
            why,
        )
    }
}

/// A feature's geometry (or why it is unusable) and properties.
type Record = (Result<Option<Geometry<f64>>, FormatError>, Properties);

/// An element's name without its namespace prefix.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// GDAL's field for an extension element: `ext:aaa` is `ext_aaa`, an unprefixed `security` is `security`.
fn extension_field(name: &str) -> String {
    name.replace(':', "_")
}

fn kind(all: bool, kind: &str) -> Properties {
    let mut p = Properties::new();
    if all {
        p.insert("gpx_type".into(), Value::from(kind));
    }
    p
}

/// A field's value typed as GDAL types it; text that does not fit its type stays text, so nothing is lost.
fn field_value(field: &str, text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    if REAL_FIELDS.contains(&field) {
        return text
            .parse::<f64>()
            .map_or_else(|_| Value::String(text.into()), record::number);
    }
    if INTEGER_FIELDS.contains(&field) {
        return text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.into()), Value::from);
    }
    if field == "time" {
        // The console's times are RFC 3339 in milliseconds, UTC; a time without a zone is UTC.
        return geoconsole_model::parse_time_value(&Value::String(text.into())).map_or_else(
            |_| Value::String(text.into()),
            |t| Value::String(geoconsole_model::format_rfc3339(t)),
        );
    }
    Value::String(text.into())
}

/// An extension's value: a number when it reads as one (GDAL types such fields), text otherwise.
fn typed(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && text.bytes().any(|b| b.is_ascii_digit()) => record::number(f),
        _ => Value::String(text.to_string()),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(
        xml: &str,
        layer: Option<&str>,
    ) -> (Vec<FormatResult<crate::SourceFeature>>, Vec<String>) {
        let warnings = ReadNotes::default();
        let receiver = read(
            Path::new("t.gpx"),
            std::io::Cursor::new(xml.as_bytes().to_vec()),
            layer,
            &warnings,
        )
        .expect("reader");
        let items: Vec<_> = receiver.collect();
        (items, warnings.warnings())
    }

    #[test]
    fn elements_the_schema_allows_are_read_past() {
        // magvar and a GPX 1.0 track <time>, which the `gpx` crate refused; no version attribute; a BOM.
        let xml = "\u{feff}<?xml version=\"1.0\"?><gpx creator=\"t\" xmlns:ext=\"x\">\
            <wpt lat=\"12.3\" lon=\"45.6\"><magvar>1.1</magvar><course>3</course><url>http://a</url>\
            <urlname>A</urlname><extensions><ext:aaa>bbb</ext:aaa><ext:n>5</ext:n></extensions></wpt>\
            <trk><name>t</name><time>2013-01-01T00:00:00Z</time><trkseg><trkpt lat=\"1\" lon=\"2\"/>\
            <trkpt lat=\"2\" lon=\"3\"><speed>4</speed></trkpt></trkseg><trkseg></trkseg></trk></gpx>";
        let (items, warnings) = read_all(xml, None);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(items.len(), 2, "{items:?}");
        let wpt = &items[0].as_ref().expect("waypoint").feature;
        assert_eq!(wpt.properties["magvar"], serde_json::json!(1.1));
        assert_eq!(wpt.properties["url"], "http://a");
        assert_eq!(wpt.properties["urlname"], "A");
        assert_eq!(wpt.properties["ext_aaa"], "bbb");
        assert_eq!(wpt.properties["ext_n"], 5);
        let trk = &items[1].as_ref().expect("track").feature;
        assert!(matches!(&trk.geometry, Some(Geometry::MultiLineString(m)) if m.0.len() == 1));
    }

    #[test]
    fn empty_tracks_and_routes_are_unlocated_and_one_point_is_a_warning() {
        let xml = "<gpx version=\"1.1\"><rte><name>r</name></rte><trk><trkseg/></trk>\
            <trk><trkseg><trkpt lat=\"1\" lon=\"2\"/></trkseg></trk></gpx>";
        let (items, warnings) = read_all(xml, None);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().expect("route").feature.geometry, None);
        assert_eq!(items[1].as_ref().expect("track").feature.geometry, None);
        assert!(
            items[2]
                .as_ref()
                .expect("one point")
                .feature
                .geometry
                .is_some()
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn a_point_without_coordinates_is_refused_and_the_rest_read() {
        let xml = "<gpx><wpt lat=\"x\" lon=\"2\"/><wpt lat=\"1\" lon=\"2\"/></gpx>";
        let (items, _) = read_all(xml, Some("waypoints"));
        assert_eq!(items.len(), 2);
        let error = items[0].as_ref().expect_err("bad lat");
        assert!(
            error.message().contains("lat 'x' is not a number"),
            "{error}"
        );
        assert!(items[1].is_ok());
    }
}
