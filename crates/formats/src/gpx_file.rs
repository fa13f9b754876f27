//! GPX 1.0/1.1 through georust's `gpx`. GDAL shows a GPX file as five layers; the same names choose what is
//! read here (`--layer waypoints|routes|tracks|route_points|track_points`). Without a layer, waypoints,
//! routes and tracks come together, each marked by `gpx_type`, so one drop brings the whole file in.

use std::io;
use std::path::Path;

use geoconsole_model::Properties;
use geoconsole_model::geo_types::Geometry;
use gpx::{Gpx, Waypoint};
use serde_json::Value;

use crate::read::{ChunkReceiver, spawn_producer};
use crate::record::{self, SourceCrs, file_error, xml_document};
use crate::{FormatErrorKind, FormatResult, Location};

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

pub(crate) fn read(
    path: &Path,
    reader: impl io::Read,
    layer: Option<&str>,
) -> FormatResult<ChunkReceiver> {
    if let Some(layer) = layer.filter(|l| !LAYERS.contains(l)) {
        return Err(file_error(
            FormatErrorKind::InvalidOption,
            path,
            format!("GPX has no layer '{layer}' (layers: {})", LAYERS.join(", ")),
        ));
    }
    let bytes = xml_document(path, reader)?;
    let gpx = gpx::read(bytes.as_slice()).map_err(|e| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("not readable GPX: {e}"),
        )
    })?;
    let records = records(gpx, layer);
    let path_buf = path.to_path_buf();
    Ok(spawn_producer("geoconsole-gpx", move |chunks| {
        for (index, (geometry, properties)) in records.into_iter().enumerate() {
            let location = Location::Feature(index as u64);
            let item = record::feature(&path_buf, location, geometry, &GPX_CRS, properties, None);
            if !chunks.push(item) {
                return;
            }
        }
    }))
}

type Record = (Option<Geometry<f64>>, Properties);

fn records(gpx: Gpx, layer: Option<&str>) -> Vec<Record> {
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
