//! OASIS Common Alerting Protocol 1.2 (1.1 reads the same way): an `<alert>` with one or more `<info>`
//! blocks (one per language), each with `<area>`s given as polygons (`lat,lon` pairs, closed) and circles
//! (`lat,lon radius_km`). One alert is one feature: its identifier is the id, the areas of its first English
//! (or first) info block are the geometry, and `onset`/`effective`/`sent` to `expires` is its time.
//! `Update` and `Cancel` messages name what they replace in `<references>` (`sender,identifier,sent`,
//! space-separated). Only `Actual` alerts are events; exercises, tests and drafts are skipped.
//!
//! api.weather.gov's GeoJSON alerts carry the same fields and are turned into the same [`CapAlert`].

use chrono::{DateTime, Utc};
use geo::{Destination, Haversine};
use geoconsole_model::geo_types::{
    Coord, Geometry, LineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use geoconsole_model::{
    Feature, FeatureId, Properties, TimeSpan, format_rfc3339, validate_geometry,
};
use serde_json::{Value, json};

use super::antimeridian;
use super::xml::{self, Element};
use super::{Action, FeedItem, Parsed, Withdrawal, short};

/// The property that says where a CAP alert stands: `actual` (in force or not yet expired), `expired`,
/// `updated` (replaced by a later message) or `cancelled`.
pub const CAP_STATE: &str = "cap_state";

/// Vertices of the polygon standing for a CAP circle.
const CIRCLE_VERTICES: usize = 48;
/// Long texts are cut: descriptions are for reading, not for storing whole bulletins.
const MAX_TEXT: usize = 4000;
/// Area codes kept per alert: a state-wide warning lists a few hundred zones; a hostile one no more.
pub(crate) const MAX_CODES: usize = 2000;

/// The fields of one CAP alert the console keeps, from XML or from api.weather.gov GeoJSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CapAlert {
    pub identifier: String,
    pub sender: String,
    pub sent: Option<DateTime<Utc>>,
    pub status: String,
    pub msg_type: String,
    /// Identifiers of the referenced messages.
    pub references: Vec<String>,
    pub event: String,
    pub category: Vec<String>,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub sender_name: Option<String>,
    pub web: Option<String>,
    pub effective: Option<DateTime<Utc>>,
    pub onset: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub area_desc: Vec<String>,
    pub areas: Vec<Polygon<f64>>,
    /// Circles of radius 0: CAP's way to give a place that is a point (an epicentre), not an area.
    pub points: Vec<Point<f64>>,
    /// Why areas could not be used, when some could not.
    pub area_problems: Vec<String>,
    /// The areas' codes as (scheme, code): CAP `<geocode>` (`valueName` UGC, SAME, FIPS6, ...), or
    /// api.weather.gov's `geocode` and `affectedZones`. They place an alert that has no polygon or circle
    /// when the feed names an areas dataset for them.
    pub geocodes: Vec<(String, String)>,
    /// An earthquake's magnitude from a `<parameter>` (`Magnitude`, NTWC's `EventPreliminaryMagnitude`):
    /// kept as a number, so a point alert (an epicentre) gets the magnitude impact model quakes get.
    pub magnitude: Option<f64>,
}

/// An alert whose area is given only by codes: it becomes an item once the codes are joined to the
/// geometries of an areas dataset, which the console holds and the readers do not.
#[derive(Debug, Clone, PartialEq)]
pub struct Unplaced(CapAlert);

impl Unplaced {
    pub fn id(&self) -> &str {
        &self.0.identifier
    }

    /// The codes as (scheme, code), in the message's order.
    pub fn codes(&self) -> &[(String, String)] {
        &self.0.geocodes
    }

    /// The item, placed at `geometry` (the matched areas' union); the codes no area matched are kept in
    /// the `area_codes_unmatched` property, so whoever reads the alert knows its area is partial.
    pub fn place(
        self,
        geometry: Geometry<f64>,
        unmatched: &[String],
        now: DateTime<Utc>,
    ) -> Result<FeedItem, String> {
        let mut item = self.0.into_item(now, Some(geometry))?;
        if !unmatched.is_empty() {
            item.feature.properties.insert(
                "area_codes_unmatched".into(),
                json!(short(&unmatched.join(" "), MAX_TEXT)),
            );
        }
        Ok(item)
    }

    /// Why the alert stays unplaced, as a skipped entry's reason.
    pub fn unplaceable(&self, why: &str) -> String {
        format!(
            "CAP alert '{}': its area is given only by codes ({}): {why}",
            self.0.identifier,
            short(&codes_text(&self.0.geocodes), 200)
        )
    }
}

/// Codes as `SCHEME code, SCHEME code`.
fn codes_text(codes: &[(String, String)]) -> String {
    codes
        .iter()
        .map(|(scheme, code)| format!("{scheme} {code}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `sender,identifier,sent sender,identifier,sent ...` to the identifiers.
pub(crate) fn reference_ids(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|triple| triple.split(',').nth(1))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

/// Severity words as a rank rules can compare: Extreme 4, Severe 3, Moderate 2, Minor 1, else 0.
pub(crate) fn severity_rank(severity: &str) -> u8 {
    match severity.to_ascii_lowercase().as_str() {
        "extreme" => 4,
        "severe" => 3,
        "moderate" => 2,
        "minor" => 1,
        _ => 0,
    }
}

/// An alert's areas as one shape when some of them overlap or touch: CAP's area is the union of its
/// `<area>`s, while a multipolygon's members may not overlap (the import would repair overlapping members by
/// the odd-even rule and cut the shared part out of the alert). `None` when they are apart, so that their
/// positions stay as written.
fn union_if_overlapping(areas: &[Polygon<f64>]) -> Option<MultiPolygon<f64>> {
    use geo::{BooleanOps, BoundingRect, Intersects, Orient, orient::Direction};
    let boxes: Vec<_> = areas.iter().map(|a| a.bounding_rect()).collect();
    let meet = (0..areas.len()).any(|i| {
        (i + 1..areas.len()).any(|j| match (boxes[i], boxes[j]) {
            (Some(a), Some(b)) => a.intersects(&b) && areas[i].intersects(&areas[j]),
            _ => false,
        })
    });
    if !meet {
        return None;
    }
    // Each area as its valid parts first (odd-even, as the import repairs a lone area whose ring crosses
    // itself: a bowtie's lobes wind opposite ways, and the union, which reads every ring by the winding of
    // the first, would keep one lobe), oriented alike.
    let empty = MultiPolygon::<f64>(Vec::new());
    let parts: Vec<Polygon<f64>> = areas
        .iter()
        .flat_map(|a| {
            a.union_with_fill_rule(&empty, geo::bool_ops::FillRule::EvenOdd)
                .0
        })
        .map(|p| p.orient(Direction::Default))
        .collect();
    Some(geo::unary_union(&parts))
}

/// A CAP polygon: `lat,lon lat,lon ...`, at least four pairs, first equal to last. Each edge is the short
/// way round, so one across the antimeridian comes out as the pieces either side of it, and one round a
/// pole holds the pole ([`antimeridian`]).
pub(crate) fn polygon(text: &str) -> Result<Vec<Polygon<f64>>, String> {
    let mut ring = Vec::new();
    for pair in text.split_whitespace() {
        let (lat, lon) = pair
            .split_once(',')
            .ok_or_else(|| format!("polygon point '{pair}' is not 'lat,lon'"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("polygon point '{pair}' is not numeric"))
        };
        ring.push(Coord {
            x: parse(lon)?,
            y: parse(lat)?,
        });
    }
    if ring.len() < 4 {
        return Err(format!(
            "a polygon needs at least 4 points, this one has {}",
            ring.len()
        ));
    }
    if ring.first() != ring.last() {
        return Err(
            "the polygon is not closed (CAP requires its first and last points to be equal)".into(),
        );
    }
    // Out-of-range or non-finite points are refused as written, before the cut could move them.
    validate_geometry(&Geometry::Polygon(Polygon::new(
        LineString(ring.clone()),
        Vec::new(),
    )))
    .map_err(|e| e.message().to_string())?;
    let pieces = antimeridian::polygons_on_the_map(ring)?;
    validate_geometry(&Geometry::MultiPolygon(MultiPolygon(pieces.clone())))
        .map_err(|e| e.message().to_string())?;
    Ok(pieces)
}

/// Adds the codes of a `<geocode>`: each `value` under the `valueName` before it. CAP 1.2 has one pair per
/// `<geocode>`; the NWS Atom index (`cap:geocode`) lists several pairs in one, FIPS6 then UGC.
pub(crate) fn push_geocodes(geocode: &Element, codes: &mut Vec<(String, String)>) {
    let mut scheme: Option<&str> = None;
    for child in &geocode.children {
        match child.name.as_str() {
            "valueName" => scheme = Some(child.text.trim()).filter(|s| !s.is_empty()),
            "value" => {
                let Some(scheme) = scheme else { continue };
                for code in child.text.split_whitespace() {
                    let pair = (scheme.to_string(), code.to_string());
                    if !codes.contains(&pair) && codes.len() < MAX_CODES {
                        codes.push(pair);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A CAP circle: a polygon, or a point when its radius is 0.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Circle {
    /// One polygon, or two when the circle crosses the antimeridian.
    Area(Vec<Polygon<f64>>),
    Point(Point<f64>),
}

/// A CAP circle (`lat,lon radius_km`) as a polygon of [`CIRCLE_VERTICES`] geodesic points, cut at the
/// antimeridian when it crosses it and closed along the pole when it holds one; radius 0 is the
/// centre point itself (issuers write it for an epicentre: OASIS CAP 1.2 Appendix A.3, NTWC tsunami
/// messages), so it is placed as a point rather than refused.
pub(crate) fn circle(text: &str) -> Result<Circle, String> {
    let bad = || format!("circle '{}' is not 'lat,lon radius_km'", short(text, 60));
    let (centre, radius) = text
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(bad)?;
    let (lat, lon) = centre.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
    let radius_km: f64 = radius.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!("circle centre {lat},{lon} is out of range"));
    }
    if radius_km == 0.0 {
        return Ok(Circle::Point(Point::new(lon, lat)));
    }
    if !(radius_km > 0.0 && radius_km <= 5000.0) {
        return Err(format!(
            "circle radius {radius_km} km is not between 0 and 5000"
        ));
    }
    let centre = Point::new(lon, lat);
    let mut ring: Vec<Coord<f64>> = (0..CIRCLE_VERTICES)
        .map(|i| {
            let bearing = 360.0 * i as f64 / CIRCLE_VERTICES as f64;
            Haversine.destination(centre, bearing, radius_km * 1000.0).0
        })
        .collect();
    ring.push(ring[0]);
    Ok(Circle::Area(antimeridian::polygons_on_the_map(ring)?))
}

impl CapAlert {
    /// Reads an `<alert>` element.
    pub(crate) fn from_xml(alert: &Element) -> Result<Self, String> {
        let identifier = alert
            .text_of("identifier")
            .ok_or("the alert has no <identifier>")?
            .to_string();
        // CAP 1.2 section 3.2.1: these are required; an alert without them cannot be placed in a sequence
        // of updates, so it is refused rather than guessed.
        let required = |name: &str| {
            alert
                .text_of(name)
                .map(str::to_string)
                .ok_or_else(|| format!("CAP alert '{identifier}': <{name}> is required"))
        };
        let sent_text = required("sent")?;
        let sent = time(Some(&sent_text)).ok_or_else(|| {
            format!(
                "CAP alert '{identifier}': <sent> '{sent_text}' is not a date-time with a time zone"
            )
        })?;
        let text = |e: &Element, name: &str| e.text_of(name).map(str::to_string);
        let mut cap = CapAlert {
            sender: required("sender")?,
            sent: Some(sent),
            status: required("status")?,
            msg_type: required("msgType")?,
            references: alert
                .text_of("references")
                .map(reference_ids)
                .unwrap_or_default(),
            identifier,
            ..CapAlert::default()
        };
        let infos: Vec<&Element> = alert.children_named("info").collect();
        let info = infos
            .iter()
            .find(|i| {
                i.text_of("language")
                    .is_none_or(|l| l.to_ascii_lowercase().starts_with("en"))
            })
            .or(infos.first());
        if let Some(info) = info {
            cap.event = text(info, "event").unwrap_or_default();
            cap.category = info
                .children_named("category")
                .map(|c| c.text.trim().to_string())
                .collect();
            cap.urgency = text(info, "urgency").unwrap_or_default();
            cap.severity = text(info, "severity").unwrap_or_default();
            cap.certainty = text(info, "certainty").unwrap_or_default();
            cap.headline = text(info, "headline");
            cap.description = text(info, "description");
            cap.instruction = text(info, "instruction");
            cap.sender_name = text(info, "senderName");
            cap.web = text(info, "web");
            cap.effective = time(info.text_of("effective"));
            cap.onset = time(info.text_of("onset"));
            cap.expires = time(info.text_of("expires"));
            cap.magnitude = info.children_named("parameter").find_map(|p| {
                let name = p.text_of("valueName")?.to_ascii_lowercase();
                if !name.ends_with("magnitude") {
                    return None;
                }
                // "3.4 Ml": the number, without the scale.
                let m: f64 = p
                    .text_of("value")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()?;
                (m.is_finite() && (-3.0..=10.0).contains(&m)).then_some(m)
            });
            for area in info.children_named("area") {
                if let Some(desc) = area.text_of("areaDesc") {
                    cap.area_desc.push(desc.to_string());
                }
                for p in area
                    .children_named("polygon")
                    .filter(|p| !p.text.trim().is_empty())
                {
                    match polygon(&p.text) {
                        Ok(pieces) => cap.areas.extend(pieces),
                        Err(e) => cap.area_problems.push(e),
                    }
                }
                for g in area.children_named("geocode") {
                    push_geocodes(g, &mut cap.geocodes);
                }
                for c in area
                    .children_named("circle")
                    .filter(|c| !c.text.trim().is_empty())
                {
                    match circle(&c.text) {
                        Ok(Circle::Area(pieces)) => cap.areas.extend(pieces),
                        Ok(Circle::Point(point)) => cap.points.push(point),
                        Err(e) => cap.area_problems.push(e),
                    }
                }
            }
        }
        Ok(cap)
    }

    /// Adds this alert to `parsed`: as an item, as a withdrawal of earlier ones (a `Cancel` is an
    /// instruction, not an event to draw), or as a skipped entry with the reason.
    pub(crate) fn add_to(self, parsed: &mut Parsed, now: DateTime<Utc>) {
        if self.msg_type.eq_ignore_ascii_case("cancel")
            && self.status.eq_ignore_ascii_case("actual")
        {
            if self.references.is_empty() {
                parsed.skip(format!(
                    "CAP alert '{}': a Cancel without <references> cannot be applied",
                    self.identifier
                ));
            } else {
                parsed.withdrawals.push(Withdrawal {
                    by: self.identifier,
                    at: self.sent,
                    ids: self.references,
                });
            }
            return;
        }
        // An area given only by codes waits for the console to join them to an areas dataset.
        // (One whose polygon or circle is broken is skipped for that, not placed by codes instead: the
        // issuer meant a finer area than its codes name.)
        if self.areas.is_empty()
            && self.points.is_empty()
            && self.area_problems.is_empty()
            && !self.geocodes.is_empty()
        {
            match self.action() {
                Ok(_) => parsed.unplaced.push(Unplaced(self)),
                Err(why) => parsed.skip(why),
            }
            return;
        }
        match self.into_item(now, None) {
            Ok(item) => parsed.items.push(item),
            Err(why) => parsed.skip(why),
        }
    }

    /// What the alert does, or why it is not an event (a test, a draft, an update naming nothing).
    fn action(&self) -> Result<Action, String> {
        let who = format!("CAP alert '{}'", self.identifier);
        if !self.status.eq_ignore_ascii_case("actual") {
            return Err(format!(
                "{who}: status '{}' is not an actual event",
                self.status
            ));
        }
        let action = match self.msg_type.to_ascii_lowercase().as_str() {
            "alert" => Action::Publish,
            "update" => Action::Update,
            other => return Err(format!("{who}: message type '{other}' carries no event")),
        };
        if action == Action::Update && self.references.is_empty() {
            return Err(format!(
                "{who}: an {} without <references> cannot be applied",
                self.msg_type
            ));
        }
        Ok(action)
    }

    /// The item this alert is, or why it is not one. `placed` is the geometry its codes were joined to,
    /// for an alert with neither polygon nor circle.
    fn into_item(
        self,
        now: DateTime<Utc>,
        placed: Option<Geometry<f64>>,
    ) -> Result<FeedItem, String> {
        let action = self.action()?;
        let who = format!("CAP alert '{}'", self.identifier);
        let start = self.onset.or(self.effective).or(self.sent);
        let Some(start) = start else {
            return Err(format!("{who}: no onset, effective or sent time"));
        };
        let time = match self.expires {
            Some(end) if end < start => {
                return Err(format!(
                    "{who}: it expires ({}) before it begins ({})",
                    format_rfc3339(end),
                    format_rfc3339(start)
                ));
            }
            Some(end) => TimeSpan::interval(start, end).map_err(|e| e.message().to_string())?,
            None => TimeSpan::instant(start),
        };
        let geometry = match (self.areas.len(), placed) {
            // Areas say more than points: a message with both (an epicentre and the warned coast) is
            // placed by its areas; one with only points is placed by them.
            (0, _) if !self.points.is_empty() => match self.points.len() {
                1 => Geometry::Point(self.points[0]),
                _ => Geometry::MultiPoint(MultiPoint(self.points.clone())),
            },
            (0, Some(placed)) => placed,
            (0, None) => {
                let why = if self.area_problems.is_empty() {
                    "no polygon or circle (areas given only by geocodes need an areas dataset named for the feed)"
                        .to_string()
                } else {
                    self.area_problems.join("; ")
                };
                return Err(format!("{who}: {why}"));
            }
            (1, _) => Geometry::Polygon(self.areas[0].clone()),
            _ => match union_if_overlapping(&self.areas) {
                Some(mut union) if union.0.len() == 1 => Geometry::Polygon(union.0.remove(0)),
                Some(union) => Geometry::MultiPolygon(union),
                None => Geometry::MultiPolygon(MultiPolygon(self.areas.clone())),
            },
        };
        let state = if self.expires.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "actual"
        };
        let mut p = Properties::new();
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                p.insert(k.to_string(), v);
            }
        };
        let opt_time =
            |t: Option<DateTime<Utc>>| t.map(|t| json!(format_rfc3339(t))).unwrap_or(Value::Null);
        let opt_text =
            |t: Option<String>| t.map(|t| json!(short(&t, MAX_TEXT))).unwrap_or(Value::Null);
        put(
            "title",
            json!(self.headline.clone().unwrap_or_else(|| self.event.clone())),
        );
        put("event", json!(self.event));
        put("severity", json!(self.severity));
        put("severity_rank", json!(severity_rank(&self.severity)));
        put("urgency", json!(self.urgency));
        put("certainty", json!(self.certainty));
        put("category", json!(self.category.join(", ")));
        put("area", json!(self.area_desc.join("; ")));
        put(
            "magnitude",
            self.magnitude.map_or(Value::Null, |m| json!(m)),
        );
        if !self.geocodes.is_empty() {
            put(
                "area_codes",
                json!(short(&codes_text(&self.geocodes), MAX_TEXT)),
            );
        }
        put("sender", json!(self.sender));
        put("sender_name", opt_text(self.sender_name));
        put("sent", opt_time(self.sent));
        put("effective", opt_time(self.effective));
        put("onset", opt_time(self.onset));
        put("expires", opt_time(self.expires));
        put("msg_type", json!(self.msg_type));
        put("references", json!(self.references.join(" ")));
        put("headline", opt_text(self.headline));
        put("description", opt_text(self.description));
        put("instruction", opt_text(self.instruction));
        put("web", opt_text(self.web));
        put(CAP_STATE, json!(state));
        Ok(FeedItem {
            feature: Feature {
                id: Some(FeatureId(self.identifier)),
                geometry: Some(geometry),
                time: Some(time),
                properties: p,
            },
            event_time: self.sent,
            action,
            supersedes: self.references,
        })
    }
}

/// A body that is one CAP `<alert>`.
pub(crate) fn read_document(body: &[u8], now: DateTime<Utc>) -> Result<Parsed, String> {
    let (root, warning) = xml::parse(body)?;
    if root.name != "alert" {
        return Err(format!(
            "expected a CAP <alert> document, found <{}>",
            root.name
        ));
    }
    let mut parsed = Parsed::default();
    parsed.warnings.extend(warning);
    // A document that is one alert stands or falls with it.
    CapAlert::from_xml(&root)?.add_to(&mut parsed, now);
    Ok(parsed)
}

/// Adds one `<alert>` of an index or document; one that is not a CAP alert is skipped with the reason, so
/// a bad entry does not hide the good ones.
pub(crate) fn push_alert(parsed: &mut Parsed, alert: &Element, now: DateTime<Utc>) {
    match CapAlert::from_xml(alert) {
        Ok(cap) => cap.add_to(parsed, now),
        Err(why) => parsed.skip(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_are_lat_lon_and_must_close() {
        let p = polygon("38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14")
            .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].exterior().0[0],
            Coord {
                x: -120.14,
                y: 38.47
            }
        );
        assert!(
            polygon("38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89")
                .unwrap_err()
                .contains("closed")
        );
        assert!(polygon("1,2 3").is_err());
        assert!(polygon("a,b c,d e,f a,b").is_err());
    }

    #[test]
    fn circles_become_polygons_of_the_right_size() {
        let Circle::Area(pieces) = circle("32.9525,-115.5527 10").unwrap() else {
            panic!("a circle of 10 km is an area");
        };
        assert_eq!(pieces.len(), 1);
        let ring = &pieces[0].exterior().0;
        assert_eq!(ring.len(), CIRCLE_VERTICES + 1);
        let north = ring[0];
        assert!((north.y - 32.9525 - 10.0 / 111.2).abs() < 0.01, "{north:?}");
        assert_eq!(
            circle("32.9525,-115.5527 0").unwrap(),
            Circle::Point(Point::new(-115.5527, 32.9525))
        );
        assert_eq!(
            circle("55.3,-134.9 0.0").unwrap(),
            Circle::Point(Point::new(-134.9, 55.3))
        );
        assert!(circle("32.9,-115.5 -1").is_err());
        assert!(circle("95,0 0").is_err());
        assert!(circle("95,0 10").is_err());
        assert!(circle("nonsense").is_err());
    }

    /// Every piece's own extent, as `(west, south, east, north)`.
    fn extents(pieces: &[Polygon<f64>]) -> Vec<(f64, f64, f64, f64)> {
        use geo::BoundingRect;
        pieces
            .iter()
            .map(|p| {
                let r = p.bounding_rect().expect("not empty");
                (r.min().x, r.min().y, r.max().x, r.max().y)
            })
            .collect()
    }

    #[test]
    fn a_circle_across_the_antimeridian_is_two_small_pieces_not_a_band_round_the_world() {
        use geo::{Area, Contains};
        // The tester's circle: 50 km at 0,179.99 became a polygon from -179.95 to 179.99.
        let Circle::Area(pieces) = circle("0,179.99 50").unwrap() else {
            panic!("a circle of 50 km is an area");
        };
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        let boxes = extents(&pieces);
        for (west, south, east, north) in &boxes {
            assert!((-180.0..=180.0).contains(west) && (-180.0..=180.0).contains(east));
            assert!(east - west < 1.0 && north - south < 1.0, "{boxes:?}");
        }
        assert!(boxes.iter().any(|b| b.2 == 180.0) && boxes.iter().any(|b| b.0 == -180.0));
        let all = MultiPolygon(pieces);
        // A 50 km circle (0.45° of radius) is about 0.64 square degrees at the equator, not 322.
        let area = all.unsigned_area();
        assert!((0.6..0.67).contains(&area), "{area}");
        assert!(all.contains(&Point::new(179.95, 0.0)));
        assert!(all.contains(&Point::new(-179.9, 0.1)));
        assert!(!all.contains(&Point::new(0.0, 0.0)));
        validate_geometry(&Geometry::MultiPolygon(all)).expect("storable");
        // Centred on the antimeridian itself, either way of writing it.
        for text in ["-10,180 30", "-10,-180 30"] {
            let Circle::Area(pieces) = circle(text).unwrap() else {
                panic!()
            };
            assert_eq!(pieces.len(), 2, "{text}");
            assert!(extents(&pieces).iter().all(|b| b.2 - b.0 < 0.5), "{text}");
        }
    }

    #[test]
    fn a_circle_round_a_pole_holds_the_pole() {
        use geo::Contains;
        let Circle::Area(pieces) = circle("89.99,-120.14 50").unwrap() else {
            panic!("a circle of 50 km is an area");
        };
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        let cap = &pieces[0];
        let (west, south, east, north) = extents(&pieces)[0];
        assert_eq!((west, east, north), (-180.0, 180.0, 90.0));
        assert!((89.5..89.6).contains(&south), "{south}");
        // The pole and the centre are inside; the pole's edge is the polygon's, not a hole round it.
        assert!(cap.contains(&Point::new(-120.14, 89.99)));
        assert!(cap.contains(&Point::new(60.0, 89.9)));
        assert!(!cap.contains(&Point::new(0.0, 89.0)));
        validate_geometry(&Geometry::Polygon(cap.clone())).expect("storable");
        let Circle::Area(south_pole) = circle("-89.8,10 100").unwrap() else {
            panic!()
        };
        assert_eq!(south_pole.len(), 1);
        assert_eq!(extents(&south_pole)[0].1, -90.0);
        assert!(south_pole[0].contains(&Point::new(-170.0, -89.5)));
    }

    #[test]
    fn a_polygon_across_the_antimeridian_is_cut_there() {
        let pieces = polygon("-17,179.5 -17,-179.5 -16,-179.5 -16,179.5 -17,179.5").unwrap();
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        let boxes = extents(&pieces);
        assert!(boxes.iter().all(|b| b.2 - b.0 <= 0.5 + 1e-9), "{boxes:?}");
        // Out of range is refused as written, not wrapped.
        assert!(polygon("0,170 0,190 1,190 0,170").is_err());
    }

    #[test]
    fn references_give_identifiers() {
        assert_eq!(
            reference_ids(
                "w@nws.gov,NWS-1,2024-01-01T00:00:00-00:00 w@nws.gov,NWS-2,2024-01-01T01:00:00-00:00"
            ),
            vec!["NWS-1", "NWS-2"]
        );
    }

    #[test]
    fn overlapping_areas_are_one_area_and_apart_ones_stay_as_written() {
        use geo::Area;
        let square = |x: f64, y: f64| {
            polygon(&format!(
                "{y},{x} {y},{} {},{} {},{x} {y},{x}",
                x + 1.0,
                y + 1.0,
                x + 1.0,
                y + 1.0
            ))
            .unwrap()
            .remove(0)
        };
        // Found by an outside tester: two overlapping <area>s became a multipolygon whose overlap the import's
        // repair (odd-even) cut out, so a site inside both was outside the alert.
        let union =
            union_if_overlapping(&[square(0.0, 0.0), square(0.5, 0.5)]).expect("they overlap");
        assert_eq!(union.0.len(), 1);
        assert!((union.unsigned_area() - 1.75).abs() < 1e-9);
        assert!(union_if_overlapping(&[square(0.0, 0.0), square(5.0, 5.0)]).is_none());
        // A bowtie among overlapping areas keeps both lobes.
        let bowtie = polygon("10,0 11,1 11,0 10,1 10,0").unwrap().remove(0);
        let union = union_if_overlapping(&[bowtie, square(0.0, 0.0), square(0.5, 0.5)])
            .expect("two overlap");
        assert!((union.unsigned_area() - 2.25).abs() < 1e-9, "{union:?}");
    }
}
