//! RSS 2.0 and Atom 1.0 with locations: GeoRSS Simple (`georss:point`, `polygon`, `line`, `box`, all
//! `lat lon` order), GeoRSS GML (`georss:where` with `gml:Point`/`gml:Polygon`), and W3C Basic Geo
//! (`geo:lat`/`geo:long`, alone or in `geo:Point`). Extension elements with plain text (GDACS's
//! `gdacs:alertlevel`, `gdacs:eventtype`, ...) become properties; GDACS's `fromdate`/`todate` give the
//! event's time span.
//!
//! The same readers walk Atom or RSS indexes of CAP alerts: entries that carry CAP fields inline (`cap:event`,
//! `cap:polygon`, the NWS index style), entries with an embedded `<alert>`, and entries that link to CAP
//! documents, which are fetched by the caller.

use chrono::{DateTime, Utc};
use geoconsole_model::geo_types::{Coord, Geometry, LineString, Point, Polygon};
use geoconsole_model::{Feature, FeatureId, Properties, TimeSpan, validate_geometry};
use serde_json::{Value, json};

use super::cap::{self, CapAlert};
use super::xml::{self, Element};
use super::{Action, FeedItem, Linked, Parsed, derived_id, short};
use crate::spec::Footprint;

/// Prefixes whose elements are locations, not properties.
const GEO_PREFIXES: [&str; 4] = ["georss", "geo", "gml", "w3cgeo"];
/// Item elements read into fixed properties, not copied as extensions.
const CORE: [&str; 12] = [
    "title",
    "link",
    "description",
    "summary",
    "content",
    "guid",
    "id",
    "pubDate",
    "updated",
    "published",
    "author",
    "category",
];

/// The entries of an RSS (`rss/channel/item`, RSS 1.0 `item`s) or Atom (`feed/entry`) document.
fn entries(root: &Element) -> Result<Vec<&Element>, String> {
    match root.name.as_str() {
        "rss" => Ok(root
            .child("channel")
            .map(|c| c.children_named("item").collect())
            .unwrap_or_default()),
        "RDF" => Ok(root.children_named("item").collect()),
        "feed" => Ok(root.children_named("entry").collect()),
        other => Err(format!("expected an RSS or Atom feed, found <{other}>")),
    }
}

/// RFC 822 (RSS), RFC 3339 (Atom) and the `dc:date` forms.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc2822(text)
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `lat lon lat lon ...` to positions.
fn lat_lon_list(text: &str) -> Result<Vec<Coord<f64>>, String> {
    let numbers: Vec<f64> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .map_err(|_| format!("'{s}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    if !numbers.len().is_multiple_of(2) {
        return Err(format!(
            "{} numbers do not make lat lon pairs",
            numbers.len()
        ));
    }
    Ok(numbers
        .chunks(2)
        .map(|p| Coord { x: p[1], y: p[0] })
        .collect())
}

fn point(text: &str) -> Result<Geometry<f64>, String> {
    match lat_lon_list(text)?.as_slice() {
        [c] => Ok(Geometry::Point(Point(*c))),
        other => Err(format!(
            "a point needs one lat lon pair, found {}",
            other.len()
        )),
    }
}

fn ring(text: &str) -> Result<Geometry<f64>, String> {
    Ok(Geometry::Polygon(Polygon::new(
        LineString(lat_lon_list(text)?),
        Vec::new(),
    )))
}

/// `south west north east` to a polygon.
fn bbox(text: &str) -> Result<Geometry<f64>, String> {
    match lat_lon_list(text)?.as_slice() {
        [sw, ne] => Ok(Geometry::Polygon(Polygon::new(
            LineString(vec![
                *sw,
                Coord { x: ne.x, y: sw.y },
                *ne,
                Coord { x: sw.x, y: ne.y },
                *sw,
            ]),
            Vec::new(),
        ))),
        _ => Err("a box needs two lat lon pairs".into()),
    }
}

/// The item's location: its area when asked for and present, else its point.
fn location(item: &Element, footprint: Footprint) -> Result<Option<Geometry<f64>>, String> {
    let mut area = None;
    let mut spot = None;
    for child in &item.children {
        let found = match (child.prefix.as_deref(), child.name.as_str()) {
            (Some("georss") | None, "point") => spot
                .is_none()
                .then(|| point(&child.text))
                .map(|g| (false, g)),
            (Some("georss") | None, "polygon") => Some((true, ring(&child.text))),
            (Some("georss") | None, "line") => Some((
                true,
                lat_lon_list(&child.text).map(|c| Geometry::LineString(LineString(c))),
            )),
            (Some("georss") | None, "box") => Some((true, bbox(&child.text))),
            (_, "where") => gml(child).map(|(is_area, g)| (is_area, Ok(g))),
            (_, "Point") if child.child("lat").is_some() => Some((false, basic_geo(child))),
            _ => None,
        };
        match found {
            Some((true, g)) if area.is_none() => area = Some(g?),
            Some((false, g)) if spot.is_none() => spot = Some(g?),
            _ => {}
        }
    }
    if spot.is_none() && item.child("lat").is_some() {
        spot = Some(basic_geo(item)?);
    }
    let chosen = match footprint {
        Footprint::Area => area.or(spot),
        Footprint::Point => spot.or(area),
    };
    if let Some(g) = &chosen {
        validate_geometry(g).map_err(|e| e.message().to_string())?;
    }
    Ok(chosen)
}

/// W3C Basic Geo: `geo:lat` and `geo:long` children.
fn basic_geo(element: &Element) -> Result<Geometry<f64>, String> {
    let number = |name: &str| {
        element
            .text_of(name)
            .ok_or_else(|| format!("geo:{name} is missing"))?
            .parse::<f64>()
            .map_err(|_| format!("geo:{name} is not a number"))
    };
    Ok(Geometry::Point(Point::new(number("long")?, number("lat")?)))
}

/// GeoRSS GML: `gml:Point/gml:pos` or `gml:Polygon/gml:exterior/gml:LinearRing/gml:posList`.
fn gml(where_: &Element) -> Option<(bool, Geometry<f64>)> {
    let shape = where_.children.first()?;
    match shape.name.as_str() {
        "Point" => point(shape.text_of("pos")?).ok().map(|g| (false, g)),
        "Polygon" => {
            let list = shape
                .child("exterior")?
                .child("LinearRing")?
                .text_of("posList")?;
            ring(list).ok().map(|g| (true, g))
        }
        _ => None,
    }
}

fn link(item: &Element) -> Option<String> {
    item.children_named("link")
        .find(|l| l.attr("rel").is_none_or(|r| r == "alternate"))
        .and_then(|l| {
            l.attr("href")
                .map(str::to_string)
                .or_else(|| Some(l.text.trim().to_string()))
        })
        .filter(|l| !l.is_empty())
}

/// Extension elements with text and no children, as properties: local name, or `prefix_name` when the
/// local name is taken.
fn extensions(item: &Element, props: &mut Properties) {
    for child in &item.children {
        let prefix = child.prefix.as_deref();
        if prefix.is_none_or(|p| GEO_PREFIXES.contains(&p))
            || CORE.contains(&child.name.as_str())
            || !child.children.is_empty()
        {
            continue;
        }
        let text = child.text.trim();
        if text.is_empty() {
            continue;
        }
        // Codes with leading zeros ("007") stay text; other numbers become numbers rules can compare.
        let coded = text.len() > 1 && text.starts_with('0') && !text.starts_with("0.");
        let value = match (text.parse::<i64>(), text.parse::<f64>()) {
            (Ok(n), _) if !coded => json!(n),
            (_, Ok(n)) if n.is_finite() && !coded => json!(n),
            _ => json!(short(text, 1000)),
        };
        let key = if props.contains_key(&child.name) {
            format!("{}_{}", prefix.unwrap_or(""), child.name)
        } else {
            child.name.clone()
        };
        props.entry(key).or_insert(value);
    }
}

/// GDACS alert levels (Green, Orange, Red) as a rank rules can compare.
fn alert_rank(level: &str) -> Option<u8> {
    match level.to_ascii_lowercase().as_str() {
        "green" => Some(1),
        "orange" => Some(2),
        "red" => Some(3),
        _ => None,
    }
}

pub(crate) fn read(body: &[u8], footprint: Footprint) -> Result<Parsed, String> {
    let (root, warning) = xml::parse(body)?;
    let mut parsed = Parsed::default();
    parsed.warnings.extend(warning);
    for (index, item) in entries(&root)?.into_iter().enumerate() {
        let title = item.text_of("title").unwrap_or("").to_string();
        let who = if title.is_empty() {
            format!("entry {}", index + 1)
        } else {
            format!("entry {} ('{}')", index + 1, short(&title, 60))
        };
        let geometry = match location(item, footprint) {
            Ok(Some(g)) => g,
            Ok(None) => {
                parsed.skip(format!("{who}: no location (georss or geo elements)"));
                continue;
            }
            Err(e) => {
                parsed.skip(format!("{who}: {e}"));
                continue;
            }
        };
        let mut props = Properties::new();
        props.insert("title".into(), json!(title));
        if let Some(link) = link(item) {
            props.insert("link".into(), json!(link));
        }
        if let Some(text) = item
            .text_of("description")
            .or_else(|| item.text_of("summary"))
        {
            props.insert("description".into(), json!(short(text, 4000)));
        }
        extensions(item, &mut props);
        let published = item
            .text_of("pubDate")
            .or_else(|| item.text_of("updated"))
            .or_else(|| item.text_of("published"))
            .or_else(|| item.text_of("date"))
            .and_then(parse_date);
        let from = item.text_of("fromdate").and_then(parse_date);
        let to = item.text_of("todate").and_then(parse_date);
        let time = match (from.or(published), to) {
            (Some(start), Some(end)) if end >= start => TimeSpan::interval(start, end).ok(),
            (Some(start), _) => Some(TimeSpan::instant(start)),
            (None, _) => None,
        };
        if let Some(rank) = props
            .get("alertlevel")
            .and_then(Value::as_str)
            .and_then(alert_rank)
        {
            props.insert("severity_rank".into(), json!(rank));
        }
        let id = item
            .text_of("guid")
            .or_else(|| item.text_of("id"))
            .map(str::to_string)
            .or_else(|| {
                props
                    .get("link")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| derived_id(&[&title, &format!("{geometry:?}")]));
        // GDACS repeats an event's guid for each episode; the episode is the unit that changes.
        let id = match props.get("episodeid") {
            Some(episode) if !id.ends_with(&format!("_{episode}")) => {
                format!("{id}_{}", value_text(episode))
            }
            _ => id,
        };
        parsed.items.push(FeedItem {
            feature: Feature {
                id: Some(FeatureId(id)),
                geometry: Some(geometry),
                time,
                properties: props,
            },
            event_time: from.or(published),
            action: Action::Publish,
            supersedes: Vec::new(),
        });
    }
    Ok(parsed)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An Atom or RSS index of CAP alerts.
pub(crate) fn read_cap_index(
    body: &[u8],
    now: DateTime<Utc>,
    max_linked: usize,
) -> Result<Parsed, String> {
    let (root, warning) = xml::parse(body)?;
    if root.name == "alert" {
        return cap::read_document(body, now);
    }
    let mut parsed = Parsed::default();
    parsed.warnings.extend(warning);
    for (index, entry) in entries(&root)?.into_iter().enumerate() {
        let skipped_before = parsed.skipped.len();
        read_index_entry(&mut parsed, entry, index, now, max_linked);
        // The reasons say which entry, so a file import (which lists skips after the items it made) and a
        // feed's health point at the entry itself.
        for why in parsed.skipped.iter_mut().skip(skipped_before) {
            if !why.starts_with("entry ") {
                *why = format!("entry {}: {why}", index + 1);
            }
        }
    }
    Ok(parsed)
}

/// One entry of a CAP index: its alert (embedded or inline) as an item, a withdrawal, an alert waiting for
/// its codes to be placed, or a skip; or the link to its alert.
fn read_index_entry(
    parsed: &mut Parsed,
    entry: &Element,
    index: usize,
    now: DateTime<Utc>,
    max_linked: usize,
) {
    if let Some(alert) = entry
        .child("content")
        .and_then(|c| c.child("alert"))
        .or_else(|| entry.child("alert"))
    {
        cap::push_alert(parsed, alert, now);
        return;
    }
    let inline = entry
        .children
        .iter()
        .any(|c| c.prefix.as_deref() == Some("cap") && (c.name == "event" || c.name == "polygon"));
    if inline {
        inline_cap(entry).add_to(parsed, now);
        return;
    }
    let linked = entry
        .children_named("link")
        .find(|l| l.attr("type").is_some_and(|t| t.contains("cap")))
        .and_then(|l| l.attr("href"))
        .map(str::to_string)
        .or_else(|| link(entry));
    match linked {
        Some(url) if parsed.linked.len() < max_linked => parsed.linked.push(Linked {
            version: entry
                .text_of("updated")
                .or_else(|| entry.text_of("pubDate"))
                .unwrap_or("")
                .to_string(),
            url,
        }),
        Some(url) => parsed.skip(format!(
            "entry {}: linked alert {url} left for the next poll (max_linked {max_linked} reached)",
            index + 1
        )),
        None => parsed.skip(format!(
            "entry {}: neither CAP fields nor a link to an alert",
            index + 1
        )),
    }
}

/// An index entry with CAP 1.1 fields inline (`cap:event`, `cap:polygon`, ...), as the NWS Atom index has.
fn inline_cap(entry: &Element) -> CapAlert {
    let cap_text = |name: &str| {
        entry
            .children
            .iter()
            .find(|c| c.name == name && c.prefix.as_deref() == Some("cap"))
            .map(|c| c.text.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let time = |name: &str| {
        cap_text(name)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut alert = CapAlert {
        identifier: entry.text_of("id").unwrap_or_default().to_string(),
        sent: entry
            .text_of("published")
            .or_else(|| entry.text_of("updated"))
            .and_then(parse_date),
        status: cap_text("status").unwrap_or_default(),
        msg_type: cap_text("msgType").unwrap_or_default(),
        event: cap_text("event").unwrap_or_default(),
        category: cap_text("category").into_iter().collect(),
        urgency: cap_text("urgency").unwrap_or_default(),
        severity: cap_text("severity").unwrap_or_default(),
        certainty: cap_text("certainty").unwrap_or_default(),
        headline: entry.text_of("title").map(str::to_string),
        description: entry.text_of("summary").map(str::to_string),
        web: link(entry),
        effective: time("effective"),
        expires: time("expires"),
        area_desc: cap_text("areaDesc").into_iter().collect(),
        sender: entry
            .child("author")
            .and_then(|a| a.text_of("name"))
            .unwrap_or_default()
            .to_string(),
        ..CapAlert::default()
    };
    // NWS lists an area's codes (FIPS6 counties, UGC zones) in `cap:geocode`; with an empty `cap:polygon`
    // they are its only place, which an areas dataset named for the feed or import gives.
    for geocode in entry
        .children
        .iter()
        .filter(|c| c.name == "geocode" && c.prefix.as_deref() == Some("cap"))
    {
        cap::push_geocodes(geocode, &mut alert.geocodes);
    }
    for polygon in entry
        .children
        .iter()
        .filter(|c| c.name == "polygon" && !c.text.trim().is_empty())
    {
        match cap::polygon(&polygon.text) {
            Ok(pieces) => alert.areas.extend(pieces),
            Err(e) => alert.area_problems.push(e),
        }
    }
    alert
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_points_polygons_and_boxes_in_lat_lon_order() {
        assert_eq!(
            point("45.256 -71.92").unwrap(),
            Geometry::Point(Point::new(-71.92, 45.256))
        );
        assert!(point("45.256").is_err());
        let Geometry::Polygon(p) = bbox("42.9 -71.1 43.1 -70.9").unwrap() else {
            panic!()
        };
        assert_eq!(p.exterior().0[0], Coord { x: -71.1, y: 42.9 });
        assert!(ring("1 2 3 4 5 6 1 2").is_ok());
        assert!(lat_lon_list("1 2 x 4").is_err());
    }

    /// An NWS Atom index entry as alerts.weather.gov wrote them, with `polygon` as its CAP polygon.
    fn nws_entry(id: &str, polygon: &str) -> String {
        format!(
            r#"<entry><id>{id}</id><published>2018-08-15T14:52:00-08:00</published>
            <title>High Wind Warning</title>
            <cap:event>High Wind Warning</cap:event>
            <cap:effective>2018-08-15T14:52:00-08:00</cap:effective>
            <cap:expires>2018-08-16T07:00:00-08:00</cap:expires>
            <cap:status>Actual</cap:status><cap:msgType>Alert</cap:msgType>
            <cap:severity>Severe</cap:severity>
            <cap:areaDesc>Eastern Beaufort Sea Coast</cap:areaDesc>
            <cap:polygon>{polygon}</cap:polygon>
            <cap:geocode><valueName>FIPS6</valueName><value>002185</value>
            <valueName>UGC</valueName><value>AKZ204 AKZ205</value></cap:geocode></entry>"#
        )
    }

    fn index(entries: &[String]) -> Vec<u8> {
        format!(
            "<feed xmlns='http://www.w3.org/2005/Atom' xmlns:cap='urn:oasis:names:tc:emergency:cap:1.1'>{}</feed>",
            entries.concat()
        )
        .into_bytes()
    }

    #[test]
    fn index_entries_placed_only_by_geocodes_wait_for_their_areas() {
        let body = index(&[
            nws_entry("geocoded", ""),
            nws_entry("drawn", "69,-150 69,-149 70,-149 69,-150"),
        ]);
        let parsed = read_cap_index(&body, Utc::now(), 10).unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(parsed.items[0].id(), "drawn");
        assert_eq!(parsed.unplaced.len(), 1);
        let alert = &parsed.unplaced[0];
        assert_eq!(alert.id(), "geocoded");
        // Every pair of the one cap:geocode, each value under the valueName before it.
        let codes: Vec<(&str, &str)> = alert
            .codes()
            .iter()
            .map(|(s, c)| (s.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            codes,
            [("FIPS6", "002185"), ("UGC", "AKZ204"), ("UGC", "AKZ205")]
        );
    }

    #[test]
    fn skipped_index_entries_are_told_by_their_position() {
        let mut test = nws_entry("exercise", "");
        test = test.replace("<cap:status>Actual", "<cap:status>Test");
        let body = index(&[nws_entry("fine", ""), test]);
        let parsed = read_cap_index(&body, Utc::now(), 10).unwrap();
        assert_eq!(parsed.skipped.len(), 1, "{:?}", parsed.skipped);
        assert!(
            parsed.skipped[0].starts_with("entry 2: CAP alert 'exercise'"),
            "{:?}",
            parsed.skipped
        );
    }

    #[test]
    fn rss_dates_are_rfc822() {
        assert_eq!(
            parse_date("Mon, 30 Dec 2019 08:39:43 GMT")
                .unwrap()
                .to_rfc3339(),
            "2019-12-30T08:39:43+00:00"
        );
        assert!(parse_date("2024-01-01T00:00:00Z").is_some());
        assert!(parse_date("yesterday").is_none());
    }
}
