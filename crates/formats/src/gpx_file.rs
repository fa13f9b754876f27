//! GPX 1.0/1.1 through georust's `gpx`. GDAL shows a GPX file as five layers; the same names choose what is
//! read here (`--layer waypoints|routes|tracks|route_points|track_points`). Without a layer, waypoints,
//! routes and tracks come together, each marked by `gpx_type`, so one drop brings the whole file in.
//!
//! The `gpx` crate builds a whole document in memory, at about 50 times the file's size with what was made
//! of it (a 250 MiB file of waypoints took 14 GiB). So the document is walked element by element: each
//! top-level `<wpt>`, `<rte>` and `<trk>` is cut out (bounded like any record), and consecutive ones, up to
//! [`BATCH_BYTES`], are wrapped in the file's own declaration and `<gpx>` start tag and read by `gpx`
//! together; memory holds one batch.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use geoconsole_model::Properties;
use geoconsole_model::geo_types::Geometry;
use gpx::{Gpx, Waypoint};
use quick_xml_kml::events::{BytesEnd, Event};
use quick_xml_kml::{Reader as XmlReader, Writer as XmlWriter};
use serde_json::Value;

use crate::read::{ChunkReceiver, ChunkSender, spawn_producer};
use crate::record::{self, SourceCrs, file_error};
use crate::record_bound::{MAX_RECORD_BYTES, RecordBound, RecordMark};
use crate::{FormatError, FormatErrorKind, FormatResult, Location};

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
        declaration: Vec::new(),
        root: None,
        batch: Vec::new(),
        layer: layer.map(str::to_string),
        counts: Counts::default(),
    };
    Ok(spawn_producer("geoconsole-gpx", move |chunks| {
        if let Err(e) = walk.run(chunks) {
            chunks.push(Err(e));
        }
    }))
}

/// Elements a GPX document may nest. GPX needs seven (`gpx/trk/trkseg/trkpt/extensions/…`); xml-rs, under
/// the `gpx` crate, slows down with depth, and nothing real comes near this.
const MAX_DEPTH: usize = 64;

/// Bytes of elements read by `gpx` at once: enough that starting its parser does not show, few enough that
/// what it builds stays small.
const BATCH_BYTES: usize = 1 << 20;

/// Elements of each kind read so far, for GDAL's `route_fid` and `track_fid`, and features sent.
#[derive(Default)]
struct Counts {
    routes: usize,
    tracks: usize,
    features: u64,
}

struct Walk<R> {
    path: PathBuf,
    xml: XmlReader<RecordBound<R>>,
    /// Each top-level element is one record of the bound.
    mark: RecordMark,
    buffer: Vec<u8>,
    /// The file's XML declaration, so each element is decoded as the whole file would be.
    declaration: Vec<u8>,
    /// The file's `<gpx ...>` start tag (version, namespaces), once seen.
    root: Option<Vec<u8>>,
    /// Elements cut out and not yet read.
    batch: Vec<u8>,
    layer: Option<String>,
    counts: Counts,
}

impl<R: BufRead> Walk<R> {
    fn syntax(&self, why: String) -> FormatError {
        file_error(FormatErrorKind::Syntax, &self.path, why)
    }

    fn run(&mut self, chunks: &mut ChunkSender) -> FormatResult<()> {
        loop {
            self.mark.ended();
            self.buffer.clear();
            let at = self.xml.buffer_position();
            let event = self.xml.read_event_into(&mut self.buffer).map_err(|e| {
                file_error(
                    FormatErrorKind::Syntax,
                    &self.path,
                    format!("not readable GPX at byte {at}: {e}"),
                )
            })?;
            match event {
                Event::Eof => {
                    return match self.root {
                        Some(_) => self.flush(chunks).map(|_| ()),
                        None => {
                            Err(self
                                .syntax("not readable GPX: the file has no <gpx> element".into()))
                        }
                    };
                }
                Event::DocType(_) => {
                    return Err(self.syntax(
                        "document declares a DOCTYPE, which is refused (entity declarations are how \
                         XML bombs and external-entity reads start)"
                            .into(),
                    ));
                }
                Event::Decl(d) if self.root.is_none() => {
                    let mut writer = XmlWriter::new(Vec::new());
                    writer
                        .write_event(Event::Decl(d))
                        .map_err(|e| self.syntax(format!("not readable GPX: {e}")))?;
                    self.declaration = writer.into_inner();
                }
                Event::Start(e) if self.root.is_none() => {
                    if e.local_name().as_ref() != b"gpx" {
                        return Err(self
                            .syntax("not readable GPX: the document element is not <gpx>".into()));
                    }
                    let start = e.into_owned();
                    let mut writer = XmlWriter::new(Vec::new());
                    writer
                        .write_event(Event::Start(start))
                        .map_err(|e| self.syntax(format!("not readable GPX: {e}")))?;
                    self.root = Some(writer.into_inner());
                }
                Event::Start(e) => match e.local_name().as_ref() {
                    b"wpt" | b"rte" | b"trk" => {
                        let start = Event::Start(e.into_owned());
                        let element = self.capture(start)?;
                        if !self.element(&element, chunks)? {
                            return Ok(());
                        }
                    }
                    _ => {
                        // Metadata and extensions are not data.
                        let end = e.to_end().into_owned();
                        let mut skipped = Vec::new();
                        self.xml
                            .read_to_end_into(end.name(), &mut skipped)
                            .map_err(|e| self.syntax(format!("not readable GPX: {e}")))?;
                    }
                },
                Event::Empty(e) if self.root.is_some() && e.local_name().as_ref() == b"wpt" => {
                    let mut writer = XmlWriter::new(Vec::new());
                    writer
                        .write_event(Event::Empty(e.into_owned()))
                        .map_err(|e| self.syntax(format!("not readable GPX: {e}")))?;
                    let element = writer.into_inner();
                    if !self.element(&element, chunks)? {
                        return Ok(());
                    }
                }
                Event::End(_) => return self.flush(chunks).map(|_| ()),
                _ => {}
            }
        }
    }

    /// Writes the events of one element back out as XML, up to its end tag.
    fn capture(&mut self, start: Event<'static>) -> FormatResult<Vec<u8>> {
        let mut writer = XmlWriter::new(Vec::with_capacity(1024));
        writer
            .write_event(start)
            .map_err(|e| self.syntax(format!("cannot copy a GPX element: {e}")))?;
        let mut depth = 1usize;
        while depth > 0 {
            self.buffer.clear();
            let at = self.xml.buffer_position();
            let event = self.xml.read_event_into(&mut self.buffer).map_err(|e| {
                file_error(
                    FormatErrorKind::Syntax,
                    &self.path,
                    format!("not readable GPX at byte {at}: {e}"),
                )
            })?;
            match &event {
                Event::Start(_) => {
                    depth += 1;
                    // The root and the element itself count: `gpx/trk/trkseg/trkpt/extensions/…`.
                    if depth + 1 > MAX_DEPTH {
                        return Err(self.syntax(format!(
                            "document nests elements {} deep; at most {MAX_DEPTH} are accepted",
                            depth + 1
                        )));
                    }
                }
                Event::End(_) => depth -= 1,
                Event::Eof => {
                    return Err(file_error(
                        FormatErrorKind::Syntax,
                        &self.path,
                        format!(
                            "document ends inside an element (byte {at}); the file is cut short"
                        ),
                    ));
                }
                Event::DocType(_) => {
                    return Err(file_error(
                        FormatErrorKind::Syntax,
                        &self.path,
                        "a DOCTYPE inside an element is refused",
                    ));
                }
                _ => {}
            }
            writer.write_event(event).map_err(|e| {
                file_error(
                    FormatErrorKind::Syntax,
                    &self.path,
                    format!("cannot copy a GPX element: {e}"),
                )
            })?;
        }
        Ok(writer.into_inner())
    }

    /// Adds one element to the batch, reading the batch when it is full; false once the consumer left.
    fn element(&mut self, element: &[u8], chunks: &mut ChunkSender) -> FormatResult<bool> {
        self.batch.extend_from_slice(element);
        if self.batch.len() < BATCH_BYTES {
            return Ok(true);
        }
        self.flush(chunks)
    }

    /// Reads the batch as a document of its own and sends its features; false once the consumer left.
    fn flush(&mut self, chunks: &mut ChunkSender) -> FormatResult<bool> {
        if self.batch.is_empty() {
            return Ok(true);
        }
        let mut document = self.declaration.clone();
        document.extend_from_slice(self.root.as_deref().unwrap_or(b"<gpx>"));
        document.append(&mut self.batch);
        let mut end = XmlWriter::new(Vec::new());
        end.write_event(Event::End(BytesEnd::new("gpx")))
            .map_err(|e| self.syntax(format!("not readable GPX: {e}")))?;
        document.extend_from_slice(&end.into_inner());
        let gpx = gpx::read(document.as_slice()).map_err(|e| {
            file_error(
                FormatErrorKind::Syntax,
                &self.path,
                format!("not readable GPX: {e}"),
            )
        })?;
        drop(document);
        for (geometry, properties) in records(gpx, self.layer.as_deref(), &mut self.counts) {
            let location = Location::Feature(self.counts.features);
            self.counts.features += 1;
            let item = record::feature(&self.path, location, geometry, &GPX_CRS, properties, None);
            if !chunks.push(item) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

type Record = (Option<Geometry<f64>>, Properties);

/// The features of a document holding one element; `counts` numbers routes and tracks across the file.
fn records(gpx: Gpx, layer: Option<&str>, counts: &mut Counts) -> Vec<Record> {
    let all = layer.is_none();
    let wants = |name: &str| layer == Some(name);
    let mut out = Vec::new();
    if all || wants("waypoints") {
        for w in &gpx.waypoints {
            let mut p = kind(all, "waypoint");
            waypoint_properties(w, &mut p);
            out.push((Some(Geometry::Point(w.point())), p));
        }
    }
    if all || wants("routes") {
        for r in &gpx.routes {
            let mut p = kind(all, "route");
            text(&mut p, "name", &r.name);
            text(&mut p, "cmt", &r.comment);
            text(&mut p, "desc", &r.description);
            text(&mut p, "src", &r.source);
            text(&mut p, "type", &r.type_);
            p.insert("number".into(), r.number.map_or(Value::Null, Value::from));
            out.push((Some(Geometry::LineString(r.linestring())), p));
        }
    }
    if all || wants("tracks") {
        for t in &gpx.tracks {
            let mut p = kind(all, "track");
            text(&mut p, "name", &t.name);
            text(&mut p, "cmt", &t.comment);
            text(&mut p, "desc", &t.description);
            text(&mut p, "src", &t.source);
            text(&mut p, "type", &t.type_);
            p.insert("number".into(), t.number.map_or(Value::Null, Value::from));
            out.push((Some(Geometry::MultiLineString(t.multilinestring())), p));
        }
    }
    if wants("route_points") {
        for (route, r) in gpx.routes.iter().enumerate() {
            let route = counts.routes + route;
            for (i, w) in r.points.iter().enumerate() {
                let mut p = Properties::new();
                p.insert("route_fid".into(), Value::from(route));
                p.insert("route_point_id".into(), Value::from(i));
                waypoint_properties(w, &mut p);
                out.push((Some(Geometry::Point(w.point())), p));
            }
        }
    }
    if wants("track_points") {
        for (track, t) in gpx.tracks.iter().enumerate() {
            let track = counts.tracks + track;
            for (segment, s) in t.segments.iter().enumerate() {
                for (i, w) in s.points.iter().enumerate() {
                    let mut p = Properties::new();
                    p.insert("track_fid".into(), Value::from(track));
                    p.insert("track_seg_id".into(), Value::from(segment));
                    p.insert("track_seg_point_id".into(), Value::from(i));
                    waypoint_properties(w, &mut p);
                    out.push((Some(Geometry::Point(w.point())), p));
                }
            }
        }
    }
    counts.routes += gpx.routes.len();
    counts.tracks += gpx.tracks.len();
    out
}

fn kind(all: bool, kind: &str) -> Properties {
    let mut p = Properties::new();
    if all {
        p.insert("gpx_type".into(), Value::from(kind));
    }
    p
}

fn text(p: &mut Properties, name: &str, value: &Option<String>) {
    p.insert(
        name.into(),
        value.clone().map_or(Value::Null, Value::String),
    );
}

fn waypoint_properties(w: &Waypoint, p: &mut Properties) {
    p.insert(
        "ele".into(),
        w.elevation.map_or(Value::Null, record::number),
    );
    // gpx prints nanoseconds; the console's times are RFC 3339 in milliseconds, UTC.
    let time = w.time.and_then(|t| {
        let at = chrono::DateTime::parse_from_rfc3339(&t.format().ok()?).ok()?;
        Some(geoconsole_model::format_rfc3339(
            at.with_timezone(&chrono::Utc),
        ))
    });
    p.insert("time".into(), time.map_or(Value::Null, Value::String));
    text(p, "name", &w.name);
    text(p, "cmt", &w.comment);
    text(p, "desc", &w.description);
    text(p, "src", &w.source);
    text(p, "sym", &w.symbol);
    text(p, "type", &w.type_);
}
