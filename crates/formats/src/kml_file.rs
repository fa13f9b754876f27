//! KML 2.2 in (placemark by placemark through georust's `kml`) and out. Every Placemark becomes a feature: its name, description,
//! folder path, ExtendedData (`Data` and `SchemaData`) and TimeStamp/TimeSpan become properties, so the
//! import's time detection finds `timestamp` or `begin`/`end`. Styles, overlays and network links are not
//! data and are left out. The writer streams: one Placemark per feature, typed through a `Schema` so GDAL
//! and Google Earth read the columns back.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use geoconsole_model::geo_types::{
    Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon,
};
use geoconsole_model::{Feature, FieldType, MAX_GEOMETRY_NESTING, Properties};
use kml::types::{Element, Placemark};
use kml::{Kml, KmlReader};
use quick_xml_kml::events::{BytesEnd, BytesRef, BytesStart, Event};
use quick_xml_kml::{Reader as XmlReader, Writer as XmlWriter};
use serde_json::Value;

use crate::record::{self, SourceCrs, file_error};
use crate::record_bound::{MAX_RECORD_BYTES, RecordBound, RecordMark};
use crate::stream::{ChunkReceiver, spawn_producer};
use crate::write::{FeatureWriter, WriterLayout};
use crate::{FormatErrorKind, FormatResult, Location, Z_PROPERTY};

/// KML is WGS84 by definition (OGC 12-007r2 §6.2).
const KML_CRS: SourceCrs = SourceCrs::Assumed {
    hint: "KML coordinates are longitude,latitude[,altitude] in WGS84",
};

/// Streams the placemarks of a KML document: the XML is walked event by event, and each `<Placemark>` is
/// cut out and parsed on its own by the `kml` crate, so a document of any size needs the memory of one
/// placemark. Folder names travel along as each placemark's `folder`.
pub(crate) fn read<R: io::BufRead + Send + 'static>(
    path: &Path,
    reader: R,
) -> FormatResult<ChunkReceiver> {
    let path_buf = path.to_path_buf();
    // A placemark is copied whole before the `kml` crate parses it: the bound stops one without an end.
    let (reader, mark) = RecordBound::new(reader, MAX_RECORD_BYTES);
    Ok(spawn_producer("geoconsole-kml", move |chunks| {
        let mut walk = Walk {
            xml: XmlReader::from_reader(reader),
            mark,
            buffer: Vec::new(),
            folders: Vec::new(),
            naming_folder: NameState::None,
        };
        let mut index = 0u64;
        loop {
            match walk.next_placemark() {
                Ok(Some(captured)) => {
                    let location = Location::Feature(index);
                    index += 1;
                    let folder = (!walk.folders.is_empty()).then(|| walk.folders.join("/"));
                    let item = captured
                        .map_err(|why| {
                            crate::FormatError::new(
                                FormatErrorKind::InvalidFeature,
                                &path_buf,
                                location,
                                why,
                            )
                        })
                        .and_then(|placemark| parse_placemark(&path_buf, location, &placemark))
                        .and_then(|p| placemark_feature(&path_buf, location, p, folder));
                    if !chunks.push(item) {
                        return;
                    }
                }
                Ok(None) => return,
                Err(why) => {
                    chunks.push(Err(file_error(FormatErrorKind::Syntax, &path_buf, why)));
                    return;
                }
            }
        }
    }))
}

/// Whether the walk is reading a folder's `<name>`: only its first direct child names it.
#[derive(PartialEq)]
enum NameState {
    None,
    /// A `<Folder>` just opened; its name may come next.
    Awaiting,
    /// Inside the folder's `<name>`.
    Reading,
}

struct Walk<R> {
    xml: XmlReader<RecordBound<R>>,
    /// Each event outside a placemark, and each placemark whole, is one record of the bound.
    mark: RecordMark,
    buffer: Vec<u8>,
    folders: Vec<String>,
    naming_folder: NameState,
}

/// Elements nested inside one placemark at most. The `kml` crate recurses once per level (MultiGeometry,
/// and any element it keeps, such as ExtendedData's), so deeper placemarks are refused before it reads them:
/// a real one nests its collections, then Polygon, outerBoundaryIs, LinearRing and coordinates.
const MAX_PLACEMARK_DEPTH: usize = MAX_GEOMETRY_NESTING + 16;

/// The events of a `<Point>` being captured, kept until its end tag says whether it has coordinates.
struct PointEvents {
    /// The depth of its start tag.
    depth: usize,
    events: Vec<Event<'static>>,
    in_coordinates: bool,
    located: bool,
}

/// A placemark's XML, or why it was left unread (the walk goes on after it).
type Captured = Result<String, String>;

impl<R: io::BufRead> Walk<R> {
    /// The next placemark's XML, re-serialised from its events.
    fn next_placemark(&mut self) -> Result<Option<Captured>, String> {
        loop {
            self.mark.ended();
            self.buffer.clear();
            let at = self.xml.buffer_position();
            let event = self
                .xml
                .read_event_into(&mut self.buffer)
                .map_err(|e| format!("not readable KML at byte {at}: {e}"))?;
            match event {
                Event::Eof => return Ok(None),
                Event::DocType(_) => {
                    return Err(
                        "document declares a DOCTYPE, which is refused (entity declarations \
                                are how XML bombs and external-entity reads start)"
                            .into(),
                    );
                }
                Event::Start(e) => match e.local_name().as_ref() {
                    // A placemark with a `targetId` (inside `<Update>`, as tours animate) changes another
                    // placemark; it is not a feature of its own (GDAL does not list it either).
                    b"Placemark"
                        if e.attributes()
                            .flatten()
                            .any(|a| a.key.local_name().as_ref() == b"targetId") =>
                    {
                        let end = e.name().as_ref().to_vec();
                        let mut skipped = Vec::new();
                        self.xml
                            .read_to_end_into(quick_xml_kml::name::QName(&end), &mut skipped)
                            .map_err(|e| format!("not readable KML at byte {at}: {e}"))?;
                    }
                    b"Placemark" => {
                        self.naming_folder = NameState::None;
                        let start = e.into_owned();
                        return self.capture(start).map(Some);
                    }
                    b"Folder" => {
                        self.folders.push(String::new());
                        self.naming_folder = NameState::Awaiting;
                    }
                    b"name" if self.naming_folder == NameState::Awaiting => {
                        self.naming_folder = NameState::Reading;
                    }
                    _ => self.naming_folder = NameState::None,
                },
                Event::Text(t) if self.naming_folder == NameState::Reading => {
                    if let (Some(folder), Ok(text)) = (self.folders.last_mut(), t.decode()) {
                        folder.push_str(&text);
                    }
                }
                Event::GeneralRef(r) if self.naming_folder == NameState::Reading => {
                    if let (Some(folder), Some(c)) = (self.folders.last_mut(), entity(&r)) {
                        folder.push(c);
                    }
                }
                Event::End(e) => match e.local_name().as_ref() {
                    b"Folder" => {
                        self.folders.pop();
                        self.naming_folder = NameState::None;
                    }
                    b"name" if self.naming_folder == NameState::Reading => {
                        self.naming_folder = NameState::None;
                        if let Some(folder) = self.folders.last_mut() {
                            *folder = folder.trim().to_string();
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    /// Writes the events of one `<Placemark>` subtree back out as XML, up to its end tag. A placemark that
    /// nests deeper than the `kml` crate can safely read is walked to its end without being kept, and comes
    /// back as the reason.
    fn capture(&mut self, start: BytesStart<'static>) -> Result<Captured, String> {
        let mut writer = XmlWriter::new(Vec::with_capacity(1024));
        let io = |e: io::Error| format!("cannot copy a placemark: {e}");
        writer.write_event(Event::Start(start)).map_err(io)?;
        let mut depth = 1usize;
        let (mut deepest, mut collections, mut deepest_collections) = (1usize, 0usize, 0usize);
        // The depth of a Google extension element (`gx:altitudeMode`, `gx:balloonVisibility`, ...) being
        // left out: the `kml` crate reads elements by local name, so `gx:altitudeMode` with the extension's
        // values (`relativeToSeaFloor`) failed the whole placemark. GDAL's KML driver ignores them too.
        let mut extension: Option<usize> = None;
        // A `<Point>` is held back until its end: one without coordinates is left out, as GDAL reads it as
        // an empty point (the `kml` crate panics on it), so a MultiGeometry keeps its other members and a
        // placemark whose only point is empty is unlocated.
        let mut point: Option<PointEvents> = None;
        // A geometry's start tag, held until the next event shows whether the geometry holds anything:
        // `<Polygon></Polygon>` is `<Polygon/>` written long, and is read the same way (GDAL reads both as
        // an empty polygon).
        let mut held_start: Option<Event<'static>> = None;
        // The depth of the `outerBoundaryIs`/`innerBoundaryIs` being read: an empty ring there is a lost
        // boundary, refused like `<coordinates></coordinates>` (and like an empty ring in any other format),
        // not an empty geometry to leave out.
        let mut boundary: Option<usize> = None;
        while depth > 0 {
            self.buffer.clear();
            let at = self.xml.buffer_position();
            let event = self
                .xml
                .read_event_into(&mut self.buffer)
                .map_err(|e| format!("not readable KML at byte {at}: {e}"))?;
            // A comment says nothing about the placemark, and the `kml` crate refuses one inside
            // `<coordinates>` ("Invalid XML event: Comment"); GDAL ignores it, and so does the copy.
            if matches!(event, Event::Comment(_)) {
                continue;
            }
            let skipped_before = extension.is_some();
            match &event {
                Event::Start(e) => {
                    depth += 1;
                    deepest = deepest.max(depth);
                    if matches!(
                        e.local_name().as_ref(),
                        b"outerBoundaryIs" | b"innerBoundaryIs"
                    ) {
                        boundary = Some(depth);
                    }
                    if extension.is_none() && is_extension(e) {
                        extension = Some(depth);
                    }
                    if e.local_name().as_ref() == b"MultiGeometry" {
                        collections += 1;
                        deepest_collections = deepest_collections.max(collections);
                    }
                }
                Event::End(e) => {
                    if extension == Some(depth) {
                        extension = None;
                    }
                    if boundary == Some(depth) {
                        boundary = None;
                    }
                    depth -= 1;
                    if e.local_name().as_ref() == b"MultiGeometry" {
                        collections = collections.saturating_sub(1);
                    }
                }
                Event::Eof => {
                    return Err(format!(
                        "document ends inside a placemark (byte {at}); the file is cut short"
                    ));
                }
                Event::DocType(_) => return Err("a DOCTYPE inside a placemark is refused".into()),
                _ => {}
            }
            let in_extension = skipped_before
                || extension.is_some()
                || matches!(&event, Event::Empty(e) if is_extension(e));
            // Past the limit nothing more is kept; the walk only counts its way to the end tag.
            if deepest <= MAX_PLACEMARK_DEPTH
                && deepest_collections <= MAX_GEOMETRY_NESTING
                && !in_extension
            {
                if point.is_none()
                    && matches!(&event, Event::Start(e) if e.local_name().as_ref() == b"Point")
                {
                    point = Some(PointEvents {
                        depth,
                        events: Vec::new(),
                        in_coordinates: false,
                        located: false,
                    });
                }
                // A self-closed geometry (`<Polygon/>`, `<LineString/>`) is an empty one, left out like an
                // empty point: the `kml` crate ended the MultiGeometry at it, and its next member became the
                // placemark's only geometry.
                let empty_ring = |name: &[u8]| boundary.is_some() && name == b"LinearRing";
                if point.is_none()
                    && let Event::Empty(e) = &event
                    && empty_ring(e.local_name().as_ref())
                {
                    write_empty_ring(&mut writer).map_err(io)?;
                    continue;
                }
                let empty_geometry = matches!(&event, Event::Empty(e)
                    if EMPTY_GEOMETRY_ELEMENTS.contains(&e.local_name().as_ref()));
                // A point starts: the geometry around it holds something.
                if point.is_some()
                    && let Some(start) = held_start.take()
                {
                    writer.write_event(start).map_err(io)?;
                }
                match point.as_mut() {
                    None if empty_geometry => {}
                    None => {
                        if let Some(start) = held_start.take() {
                            let ends_it = match (&start, &event) {
                                (Event::Start(s), Event::End(e)) => s.name() == e.name(),
                                _ => false,
                            };
                            if ends_it {
                                if let Event::Start(s) = &start
                                    && empty_ring(s.local_name().as_ref())
                                {
                                    write_empty_ring(&mut writer).map_err(io)?;
                                }
                                continue;
                            }
                            if matches!(&event, Event::Text(t) if t.iter().all(u8::is_ascii_whitespace))
                            {
                                held_start = Some(start);
                                continue;
                            }
                            writer.write_event(start).map_err(io)?;
                        }
                        if matches!(&event, Event::Start(e)
                            if EMPTY_GEOMETRY_ELEMENTS.contains(&e.local_name().as_ref()))
                        {
                            held_start = Some(event.into_owned());
                        } else {
                            writer.write_event(event).map_err(io)?;
                        }
                    }
                    Some(held) => {
                        match &event {
                            Event::Start(e) if e.local_name().as_ref() == b"coordinates" => {
                                held.in_coordinates = true
                            }
                            Event::End(e) if e.local_name().as_ref() == b"coordinates" => {
                                held.in_coordinates = false
                            }
                            Event::Text(t)
                                if held.in_coordinates
                                    && !t.iter().all(u8::is_ascii_whitespace) =>
                            {
                                held.located = true
                            }
                            // Coordinates in a CDATA section, or spelled with character references.
                            Event::CData(_) | Event::GeneralRef(_) if held.in_coordinates => {
                                held.located = true
                            }
                            _ => {}
                        }
                        let ends = depth + 1 == held.depth
                            && matches!(&event, Event::End(e) if e.local_name().as_ref() == b"Point");
                        held.events.push(event.into_owned());
                        if ends {
                            let held = point.take().expect("a point is held");
                            if held.located {
                                for event in held.events {
                                    writer.write_event(event).map_err(io)?;
                                }
                            }
                        }
                    }
                }
            }
        }
        if deepest_collections > MAX_GEOMETRY_NESTING {
            return Ok(Err(format!(
                "<MultiGeometry> nests {deepest_collections} levels deep; at most {MAX_GEOMETRY_NESTING} are accepted"
            )));
        }
        if deepest > MAX_PLACEMARK_DEPTH {
            return Ok(Err(format!(
                "placemark nests elements {deepest} deep; at most {MAX_PLACEMARK_DEPTH} are accepted"
            )));
        }
        String::from_utf8(writer.into_inner())
            .map(Ok)
            .map_err(|e| format!("placemark is not UTF-8: {e}"))
    }
}

/// Whether an element is one of Google's KML extensions (the `gx:` prefix, as KML files declare it), which
/// hold display settings, not data.
fn is_extension(element: &BytesStart<'_>) -> bool {
    element
        .name()
        .prefix()
        .is_some_and(|p| p.as_ref().eq_ignore_ascii_case(b"gx"))
}

/// The character a predefined or numeric entity reference stands for.
pub(crate) fn entity(reference: &BytesRef<'_>) -> Option<char> {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        return Some(c);
    }
    let name: &[u8] = reference;
    match name {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        _ => None,
    }
}

/// The text of a placemark's own `<name>` (its first direct child of that name), trimmed and shortened.
fn placemark_name(xml: &str) -> Option<String> {
    let mut reader = XmlReader::from_str(xml);
    let mut depth = 0usize;
    let mut in_name = false;
    let mut name = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                in_name = depth == 2 && e.local_name().as_ref() == b"name";
            }
            Event::End(_) => {
                if in_name {
                    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                    return (!name.is_empty()).then(|| {
                        geoconsole_model::excerpt(&name, geoconsole_model::EXCERPT_CHARS)
                            .into_owned()
                    });
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if in_name => name.push_str(&t.decode().ok()?),
            Event::GeneralRef(r) if in_name => name.extend(entity(&r)),
            Event::CData(t) if in_name => name.push_str(&String::from_utf8_lossy(&t)),
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The first position in a placemark's `<coordinates>` that is not `lon,lat[,alt]`, as written and counted
/// from 1 in its element.
fn coordinates_problem(xml: &str) -> Option<String> {
    const FORM: &str =
        "a position is lon,lat[,alt] with commas and no spaces, positions are separated by spaces";
    let mut reader = XmlReader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                inside = e.local_name().as_ref() == b"coordinates";
                text.clear();
            }
            Event::Text(t) if inside => text.push_str(&t.decode().ok()?),
            Event::End(_) if inside => {
                inside = false;
                for (k, position) in text.split_whitespace().enumerate() {
                    let shown =
                        geoconsole_model::excerpt(position, geoconsole_model::EXCERPT_CHARS);
                    let numbers: Vec<&str> = position.split(',').collect();
                    let why = if numbers.len() == 1 && position.parse::<f64>().is_err() {
                        format!("position {} ('{shown}') is not a number; {FORM}", k + 1)
                    } else if numbers.len() == 1 {
                        format!("position {} ('{shown}') has one number; {FORM}", k + 1)
                    } else if numbers.iter().any(|n| n.is_empty()) {
                        format!(
                            "position {} ('{shown}') has an empty number (a space after a comma?); {FORM}",
                            k + 1
                        )
                    } else if let Some(bad) = numbers.iter().find(|n| n.parse::<f64>().is_err()) {
                        format!(
                            "position {} ('{shown}'): '{}' is not a number; {FORM}",
                            k + 1,
                            geoconsole_model::excerpt(bad, geoconsole_model::EXCERPT_CHARS)
                        )
                    } else {
                        continue;
                    };
                    return Some(why);
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

fn parse_placemark(path: &Path, location: Location, xml: &str) -> FormatResult<Placemark> {
    // A placemark the crate cannot read is named by its `<name>` when it has one: "feature 1841" alone
    // sends the user counting placemarks.
    let failed = |why: String| {
        let why = match placemark_name(xml) {
            Some(name) => format!("placemark '{name}': {why}"),
            None => why,
        };
        crate::FormatError::new(FormatErrorKind::InvalidFeature, path, location, why)
    };
    // The `kml` crate indexes into what it read without checking in places (an empty `<Point>` was one,
    // now left out before it gets there); a panic is this placemark's error, not the whole file's.
    let read = std::panic::catch_unwind(|| KmlReader::<_, f64>::from_string(xml).read());
    match read {
        Ok(Ok(Kml::Placemark(p))) => Ok(p),
        Ok(Ok(_)) => Err(failed("placemark could not be read".into())),
        // The crate's words name a token (or nothing, for a position of one number): the position is
        // found in the placemark's own `<coordinates>` and shown as written.
        Ok(Err(kml::Error::NumParse(text))) => Err(failed(coordinates_problem(xml).unwrap_or_else(
            || {
                format!(
                    "'{}' in its coordinates is not a number (coordinates are lon,lat[,alt] separated \
                     by spaces)",
                    geoconsole_model::excerpt(&text, geoconsole_model::EXCERPT_CHARS)
                )
            },
        ))),
        Ok(Err(kml::Error::CoordEmpty)) => Err(failed(
            coordinates_problem(xml).unwrap_or_else(|| "a geometry has no coordinates".into()),
        )),
        Ok(Err(e)) => Err(failed(format!("unreadable placemark: {e}"))),
        Err(_) => Err(failed(
            "the KML reader could not read this placemark (an element without the content it needs)"
                .into(),
        )),
    }
}

fn placemark_feature(
    path: &Path,
    location: Location,
    placemark: Placemark,
    folder: Option<String>,
) -> FormatResult<crate::SourceFeature> {
    let mut properties = Properties::new();
    if let Some(name) = placemark.name {
        properties.insert("name".into(), Value::String(name.trim().to_string()));
    }
    if let Some(description) = placemark.description {
        properties.insert(
            "description".into(),
            Value::String(description.trim().to_string()),
        );
    }
    if let Some(folder) = folder {
        properties.insert("folder".into(), Value::String(folder));
    }
    for child in &placemark.children {
        match child.name.as_str() {
            "ExtendedData" => extended_data(child, &mut properties),
            "TimeStamp" => {
                if let Some(when) = text_of(child, "when") {
                    properties.insert("timestamp".into(), Value::String(when));
                }
            }
            "TimeSpan" => {
                for edge in ["begin", "end"] {
                    if let Some(at) = text_of(child, edge) {
                        properties.insert(edge.into(), Value::String(at));
                    }
                }
            }
            _ => {}
        }
    }
    // Errors from here on are the placemark's: named as the crate's own are (see `parse_placemark`).
    let prefix = properties
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(|name| {
            format!(
                "placemark '{}': ",
                geoconsole_model::excerpt(name, geoconsole_model::EXCERPT_CHARS)
            )
        });
    let named = |error: crate::FormatError| match &prefix {
        Some(prefix) => error.relocated(location, prefix),
        None => error,
    };
    let geometry = match placemark.geometry {
        // A placemark with only a name and description (or a tour camera) is kept unlocated, as GDAL keeps it.
        None => None,
        Some(g) => Some(
            Geometry::<f64>::try_from(g)
                .map(simplify_collection)
                .map_err(|e| {
                    crate::FormatError::new(
                        FormatErrorKind::InvalidFeature,
                        path,
                        location,
                        format!("unusable geometry: {e}"),
                    )
                })
                .map_err(named)?,
        ),
    };
    record::feature(path, location, geometry, &KML_CRS, properties, None).map_err(named)
}

/// `Data name=".."><value>` pairs and `SchemaData/SimpleData name=".."` values.
fn extended_data(node: &Element, properties: &mut Properties) {
    for item in &node.children {
        match item.name.as_str() {
            "Data" => {
                if let Some(name) = item.attrs.get("name") {
                    let value = text_of(item, "value").unwrap_or_default();
                    properties.insert(name.clone(), Value::String(value));
                }
            }
            "SchemaData" => {
                for simple in item.children.iter().filter(|c| c.name == "SimpleData") {
                    if let Some(name) = simple.attrs.get("name") {
                        let value = simple.content.clone().unwrap_or_default();
                        properties.insert(name.clone(), Value::String(value));
                    }
                }
            }
            _ => {}
        }
    }
}

fn text_of(node: &Element, child: &str) -> Option<String> {
    node.children
        .iter()
        .find(|c| c.name == child)
        .and_then(|c| c.content.as_ref())
        .map(|t| t.trim().to_string())
}

/// A boundary's ring without coordinates, spelled so the `kml` crate reads it as a ring of no positions.
fn write_empty_ring(writer: &mut XmlWriter<Vec<u8>>) -> io::Result<()> {
    for event in [
        Event::Start(BytesStart::new("LinearRing")),
        Event::Start(BytesStart::new("coordinates")),
        Event::End(BytesEnd::new("coordinates")),
        Event::End(BytesEnd::new("LinearRing")),
    ] {
        writer.write_event(event)?;
    }
    Ok(())
}

/// Geometry elements that hold nothing when self-closed.
const EMPTY_GEOMETRY_ELEMENTS: [&[u8]; 6] = [
    b"Point",
    b"LineString",
    b"LinearRing",
    b"Polygon",
    b"MultiGeometry",
    b"Track",
];

/// A MultiGeometry of one kind is that kind's Multi geometry, as GDAL and GeoJSON users expect.
fn simplify_collection(geometry: Geometry<f64>) -> Geometry<f64> {
    let Geometry::GeometryCollection(GeometryCollection(parts)) = geometry else {
        return geometry;
    };
    let parts: Vec<Geometry<f64>> = parts.into_iter().map(simplify_collection).collect();
    if let Some(points) = all_of(&parts) {
        Geometry::MultiPoint(MultiPoint(points))
    } else if let Some(lines) = all_of(&parts) {
        Geometry::MultiLineString(MultiLineString(lines))
    } else if let Some(polygons) = all_of(&parts) {
        Geometry::MultiPolygon(MultiPolygon(polygons))
    } else {
        Geometry::GeometryCollection(GeometryCollection(parts))
    }
}

/// The parts as one kind (`Point`, `LineString`, `Polygon`), when every part is of it.
fn all_of<T: TryFrom<Geometry<f64>>>(parts: &[Geometry<f64>]) -> Option<Vec<T>> {
    if parts.is_empty() {
        return None;
    }
    parts.iter().cloned().map(|g| T::try_from(g).ok()).collect()
}

/// Streams a KML document: header with a typed Schema, one Placemark per feature, footer at `finish`.
pub(crate) struct KmlWriter {
    out: Box<dyn Write + Send>,
    schema_id: String,
    columns: Vec<String>,
    buffer: String,
}

impl KmlWriter {
    pub(crate) fn new(mut out: Box<dyn Write + Send>, layout: &WriterLayout) -> io::Result<Self> {
        let schema_id = schema_id(&layout.name);
        let columns: Vec<String> = layout
            .schema
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .filter(|n| !is_element_field(n) && n != Z_PROPERTY)
            .collect();
        let mut head = String::with_capacity(1024);
        head.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        head.push_str(
            "<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document id=\"root_doc\">\n",
        );
        let _ = writeln!(head, "<Schema name=\"{0}\" id=\"{0}\">", escape(&schema_id));
        for field in layout.schema.fields() {
            if !columns.contains(&field.name) {
                continue;
            }
            let kind = match field.field_type {
                FieldType::Integer => "int",
                FieldType::Real => "double",
                FieldType::Boolean => "bool",
                _ => "string",
            };
            let _ = writeln!(
                head,
                "\t<SimpleField name=\"{}\" type=\"{kind}\"></SimpleField>",
                escape(&field.name)
            );
        }
        head.push_str("</Schema>\n");
        let _ = writeln!(head, "<Folder><name>{}</name>", escape(&layout.name));
        out.write_all(head.as_bytes())?;
        Ok(Self {
            out,
            schema_id,
            columns,
            buffer: String::with_capacity(4096),
        })
    }
}

/// Fields written as KML's own elements rather than as SchemaData.
fn is_element_field(name: &str) -> bool {
    name == "name" || name == "description"
}

fn schema_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() { "layer".into() } else { id }
}

impl FeatureWriter for KmlWriter {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        let b = &mut self.buffer;
        b.clear();
        b.push_str("  <Placemark");
        if let Some(id) = &feature.id {
            let _ = write!(b, " id=\"{}\"", escape(id.as_str()));
        }
        b.push('>');
        for element in ["name", "description"] {
            if let Some(value) = feature.properties.get(element).filter(|v| !v.is_null()) {
                let _ = write!(b, "<{element}>{}</{element}>", escape(&text(value)));
            }
        }
        if let Some(time) = &feature.time {
            let start = geoconsole_model::format_rfc3339(time.start);
            if time.is_instant() {
                let _ = write!(b, "<TimeStamp><when>{start}</when></TimeStamp>");
            } else {
                let end = geoconsole_model::format_rfc3339(time.end);
                let _ = write!(
                    b,
                    "<TimeSpan><begin>{start}</begin><end>{end}</end></TimeSpan>"
                );
            }
        }
        let present: Vec<(&String, &Value)> = self
            .columns
            .iter()
            .filter_map(|c| {
                feature
                    .properties
                    .get(c)
                    .filter(|v| !v.is_null())
                    .map(|v| (c, v))
            })
            .collect();
        if !present.is_empty() {
            let _ = write!(
                b,
                "<ExtendedData><SchemaData schemaUrl=\"#{}\">",
                escape(&self.schema_id)
            );
            for (name, value) in present {
                let _ = write!(
                    b,
                    "<SimpleData name=\"{}\">{}</SimpleData>",
                    escape(name),
                    escape(&text(value))
                );
            }
            b.push_str("</SchemaData></ExtendedData>");
        }
        // A placemark may hold no geometry (KML 2.2 makes it optional): an unlocated feature stays one.
        if let Some(geometry) = &feature.geometry {
            write_geometry(geometry, b);
        }
        b.push_str("</Placemark>\n");
        self.out.write_all(b.as_bytes())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.write_all(b"</Folder>\n</Document>\n</kml>\n")?;
        self.out.flush()
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped rather than written as broken XML.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn coordinates(line: &LineString<f64>, b: &mut String) {
    b.push_str("<coordinates>");
    for (i, c) in line.0.iter().enumerate() {
        if i > 0 {
            b.push(' ');
        }
        let _ = write!(b, "{},{}", c.x, c.y);
    }
    b.push_str("</coordinates>");
}

fn polygon(p: &Polygon<f64>, b: &mut String) {
    b.push_str("<Polygon><outerBoundaryIs><LinearRing>");
    coordinates(p.exterior(), b);
    b.push_str("</LinearRing></outerBoundaryIs>");
    for ring in p.interiors() {
        b.push_str("<innerBoundaryIs><LinearRing>");
        coordinates(ring, b);
        b.push_str("</LinearRing></innerBoundaryIs>");
    }
    b.push_str("</Polygon>");
}

fn write_geometry(geometry: &Geometry<f64>, b: &mut String) {
    match geometry {
        Geometry::Point(p) => {
            let _ = write!(
                b,
                "<Point><coordinates>{},{}</coordinates></Point>",
                p.x(),
                p.y()
            );
        }
        Geometry::Line(l) => {
            b.push_str("<LineString>");
            coordinates(&LineString(vec![l.start, l.end]), b);
            b.push_str("</LineString>");
        }
        Geometry::LineString(l) => {
            b.push_str("<LineString>");
            coordinates(l, b);
            b.push_str("</LineString>");
        }
        Geometry::Polygon(p) => polygon(p, b),
        Geometry::Rect(r) => polygon(&r.to_polygon(), b),
        Geometry::Triangle(t) => polygon(&t.to_polygon(), b),
        Geometry::MultiPoint(mp) => {
            b.push_str("<MultiGeometry>");
            mp.0.iter()
                .for_each(|p| write_geometry(&Geometry::Point(*p), b));
            b.push_str("</MultiGeometry>");
        }
        Geometry::MultiLineString(ml) => {
            b.push_str("<MultiGeometry>");
            ml.0.iter()
                .for_each(|l| write_geometry(&Geometry::LineString(l.clone()), b));
            b.push_str("</MultiGeometry>");
        }
        Geometry::MultiPolygon(mp) => {
            b.push_str("<MultiGeometry>");
            mp.0.iter().for_each(|p| polygon(p, b));
            b.push_str("</MultiGeometry>");
        }
        Geometry::GeometryCollection(gc) => {
            b.push_str("<MultiGeometry>");
            gc.0.iter().for_each(|g| write_geometry(g, b));
            b.push_str("</MultiGeometry>");
        }
    }
}
