//! The WFS 2.0 client for one feature type, as OGC 09-025r2 (WFS 2.0.2) and 09-026r2 (FES 2.0) specify it:
//!
//! - `GetCapabilities` (asking for 2.0.0) finds the feature type, its default and other CRSs, the output
//!   formats, and the `ImplementsResultPaging`, `CountDefault` and `ImplementsSorting` constraints;
//! - `DescribeFeatureType` gives the properties and their XML Schema types: the geometry property, the key
//!   that orders pages (`sortBy`, which many servers need for stable paging), the types that turn GML text
//!   back into numbers and booleans;
//! - `GetFeature` pages with `STARTINDEX`/`COUNT` under `SORTBY=<key> ASC`, in GeoJSON where the server
//!   offers it and GML 3.2 otherwise (read by [`super::gml`] over the hardened XML reader), in CRS84 where
//!   offered and `urn:ogc:def:crs:EPSG::4326` (latitude first) otherwise; a server without result paging is
//!   asked once, and a sync that stops at its cap says so in the report's warnings;
//! - an `ows:ExceptionReport`, with whatever HTTP status, is the service's refusal in its own words.
//!
//! Filters are FES 2.0 XML: the source's own `<fes:Filter>`, the incremental condition
//! (`PropertyIsGreaterThan` on the updated field) and the bbox are joined with `fes:And` when there is more
//! than one (`BBOX` and `FILTER` cannot both be sent).

use chrono::{DateTime, SecondsFormat, Utc};
use geoconsole_model::{Feature, FeatureId, Properties};
use reqwest::Url;
use serde_json::{Number, Value};

use super::gml::{self, Frame, crs_code};
use super::{
    ConnectorError, ConnectorErrorKind, Page, PagingMode, SourceSpec, Walk, body_start, parse_bbox,
    shown,
};
use crate::read::xml::{self, Element};

/// Features a page asks for when neither the source nor the server's `CountDefault` says.
const DEFAULT_PAGE: u32 = 1000;

/// Parameters the client sets itself; a URL that carries them is refused rather than half-obeyed.
const CLIENT_PARAMS: [&str; 13] = [
    "startindex",
    "count",
    "maxfeatures",
    "outputformat",
    "srsname",
    "sortby",
    "resulttype",
    "filter",
    "bbox",
    "propertyname",
    "resourceid",
    "storedquery_id",
    "namespaces",
];
/// Parameters of a pasted request URL that say nothing about the source, dropped.
const DROPPED_PARAMS: [&str; 4] = ["service", "version", "request", "acceptversions"];

const FES: &str = "http://www.opengis.net/fes/2.0";
const GML32: &str = "http://www.opengis.net/gml/3.2";
const EPSG_4326_URN: &str = "urn:ogc:def:crs:EPSG::4326";

pub(super) fn check_url(url: &Url, dataset: Option<&str>) -> Result<(), String> {
    endpoint(url, dataset).map(|_| ())
}

/// The endpoint with only its vendor parameters (MapServer's `map=`), and the feature type's name.
fn endpoint(url: &Url, dataset: Option<&str>) -> Result<(Url, String), String> {
    let mut type_name = dataset
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in url.query_pairs() {
        let lower = key.to_ascii_lowercase();
        if DROPPED_PARAMS.contains(&lower.as_str()) {
            continue;
        }
        if lower == "typenames" || lower == "typename" {
            match &type_name {
                Some(name) if *name != value => {
                    return Err(format!(
                        "the URL names feature type '{value}' and dataset names '{name}'"
                    ));
                }
                _ => type_name = Some(value.to_string()),
            }
            continue;
        }
        if CLIENT_PARAMS.contains(&lower.as_str()) {
            return Err(format!(
                "the URL sets '{key}', which the client sets itself; give the service endpoint (with vendor parameters such as map= only)"
            ));
        }
        kept.push((key.into_owned(), value.into_owned()));
    }
    let name = type_name.ok_or_else(|| {
        "a WFS source names its feature type in dataset (or typeNames= in the URL)".to_string()
    })?;
    if name.contains([',', '(', ')', '<', '>', '&', '"', '\''])
        || name.contains(char::is_whitespace)
    {
        return Err(format!("'{name}' is not one feature type name"));
    }
    let mut base = url.clone();
    base.set_fragment(None);
    base.set_query(None);
    if !kept.is_empty() {
        base.query_pairs_mut().extend_pairs(&kept);
    }
    Ok((base, name))
}

fn request(endpoint: &Url, pairs: &[(&str, &str)]) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// How property text becomes a value, from its XML Schema type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Integer,
    Number,
    Boolean,
    Date,
    Text,
    Geometry,
}

fn field_kind(xsd_type: &str) -> FieldKind {
    let local = xsd_type.rsplit(':').next().unwrap_or(xsd_type);
    match local {
        "int" | "integer" | "long" | "short" | "byte" | "nonNegativeInteger"
        | "positiveInteger" | "negativeInteger" | "nonPositiveInteger" | "unsignedInt"
        | "unsignedLong" | "unsignedShort" | "unsignedByte" => FieldKind::Integer,
        "double" | "float" | "decimal" => FieldKind::Number,
        "boolean" => FieldKind::Boolean,
        "date" | "dateTime" | "TimeInstantType" | "TimeInstantPropertyType" => FieldKind::Date,
        t if t.ends_with("PropertyType") && t != "ReferenceType" => FieldKind::Geometry,
        _ => FieldKind::Text,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Json,
    Gml,
}

pub(super) struct WfsSync {
    endpoint: Url,
    type_name: String,
    paging: bool,
    page_size: u32,
    count_default: Option<u64>,
    start: u64,
    output_format: Option<String>,
    srs_name: String,
    frame: Frame,
    sort: Option<String>,
    filter: Option<String>,
    bbox: Option<String>,
    fields: Vec<(String, FieldKind)>,
    key: Option<String>,
    updated_field: Option<String>,
    select: Vec<String>,
    done: bool,
}

/// What GetCapabilities says about the service and the feature type.
struct Capabilities {
    type_name: String,
    crs: Vec<String>,
    formats: Vec<String>,
    paging: bool,
    count_default: Option<u64>,
    sorting: bool,
}

impl WfsSync {
    pub async fn start(
        walk: &mut Walk,
        url: Url,
        source: &SourceSpec,
        since: Option<DateTime<Utc>>,
    ) -> Result<Self, ConnectorError> {
        let spec =
            |at: &Url, m: String| ConnectorError::new(ConnectorErrorKind::Spec, shown(at), None, m);
        let (base, wanted) =
            endpoint(&url, source.options.layer.as_deref()).map_err(|m| spec(&url, m))?;
        let caps_url = request(
            &base,
            &[
                ("SERVICE", "WFS"),
                ("REQUEST", "GetCapabilities"),
                ("ACCEPTVERSIONS", "2.0.0"),
            ],
        );
        let caps = xml_answer(walk, &caps_url, None, "the capabilities").await?;
        let caps = capabilities(&caps, &wanted)
            .map_err(|(kind, m)| ConnectorError::new(kind, shown(&caps_url), None, m))?;

        let describe_url = request(
            &base,
            &[
                ("SERVICE", "WFS"),
                ("VERSION", "2.0.0"),
                ("REQUEST", "DescribeFeatureType"),
                ("TYPENAMES", &caps.type_name),
            ],
        );
        let schema = xml_answer(walk, &describe_url, None, "the feature type's schema").await?;
        let fields = describe(&schema, &caps.type_name).map_err(|m| {
            ConnectorError::new(ConnectorErrorKind::Format, shown(&describe_url), None, m)
        })?;
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, k)| *k);

        let key = match &source.options.id_field {
            Some(name) => {
                if field(name).is_none() {
                    return Err(spec(
                        &describe_url,
                        format!("the feature type has no property '{name}' (id_field)"),
                    ));
                }
                Some(name.clone())
            }
            None => key_field(&fields),
        };
        let geometry_field = fields
            .iter()
            .find(|(_, k)| *k == FieldKind::Geometry)
            .map(|(n, _)| n.clone());
        let updated_field = match &source.options.updated_field {
            None => None,
            Some(name) => match field(name) {
                Some(FieldKind::Date) => Some(name.clone()),
                Some(_) => {
                    return Err(spec(
                        &describe_url,
                        format!("updated_field '{name}' is not a date or dateTime property"),
                    ));
                }
                None => {
                    return Err(spec(
                        &describe_url,
                        format!("the feature type has no property '{name}' (updated_field)"),
                    ));
                }
            },
        };
        if since.is_some() && updated_field.is_none() {
            return Err(spec(
                &url,
                "an incremental sync needs updated_field (a dateTime property)".into(),
            ));
        }

        // CRS84 where offered (longitude first, no doubt), EPSG:4326 as a URN (latitude first) otherwise,
        // the default CRS brought to WGS84 where neither is.
        let crs84 = caps
            .crs
            .iter()
            .find(|c| matches!(crs_code(c), Ok(None)))
            .cloned();
        let wgs84 = caps
            .crs
            .iter()
            .any(|c| matches!(crs_code(c), Ok(Some((4326, _)))));
        let srs_name = match (crs84, wgs84) {
            (Some(name), _) => name,
            (None, true) => EPSG_4326_URN.to_string(),
            (None, false) => caps.crs.first().cloned().ok_or_else(|| {
                spec(
                    &caps_url,
                    format!(
                        "the capabilities give feature type {} no CRS",
                        caps.type_name
                    ),
                )
            })?,
        };
        let frame = Frame::parse(&srs_name).map_err(|m| {
            spec(
                &caps_url,
                format!(
                    "feature type {} is offered in no CRS this client can use: {m}",
                    caps.type_name
                ),
            )
        })?;

        // The answer says by its first byte which it is, so only the name matters here.
        let (_, output_format) = pick_format(&caps.formats);
        let page_size = source
            .options
            .page_size
            .unwrap_or(DEFAULT_PAGE)
            .min(
                caps.count_default
                    .map_or(u32::MAX, |c| u32::try_from(c).unwrap_or(u32::MAX)),
            )
            .max(1);
        let sort = match (&key, caps.sorting) {
            (Some(key), true) => Some(format!("{key} ASC")),
            (Some(_), false) => {
                walk.warn(
                    "the server does not implement sorting (ImplementsSorting), so pages follow its own order, which WFS does not promise is stable".into(),
                );
                None
            }
            (None, _) => {
                walk.warn(
                    "the feature type has no key property to sort pages by (name one with --key-field), so pages follow the server's own order, which WFS does not promise is stable".into(),
                );
                None
            }
        };

        // FES predicates: the source's filter, the incremental condition, the bbox.
        let mut predicates: Vec<String> = Vec::new();
        let user_filter = source
            .options
            .filter
            .as_ref()
            .map(|f| f.trim())
            .filter(|f| !f.is_empty());
        if let Some(filter) = user_filter {
            predicates.push(filter_inner(filter).map_err(|m| spec(&url, m))?);
        }
        if let (Some(since), Some(field)) = (since, &updated_field) {
            predicates.push(format!(
                "<fes:PropertyIsGreaterThan><fes:ValueReference>{}</fes:ValueReference><fes:Literal>{}</fes:Literal></fes:PropertyIsGreaterThan>",
                escape(field),
                since.to_rfc3339_opts(SecondsFormat::Millis, true)
            ));
        }
        let bbox = match &source.options.bbox {
            None => None,
            Some(text) => {
                let [w, s, e, n] = parse_bbox(text).map_err(|m| spec(&url, m))?;
                Some((w, s, e, n))
            }
        };
        let (filter, bbox_param) = match (bbox, predicates.is_empty()) {
            (Some((w, s, e, n)), true) => (None, Some(format!("{s},{w},{n},{e},{EPSG_4326_URN}"))),
            (Some((w, s, e, n)), false) => {
                let reference = geometry_field
                    .as_ref()
                    .map(|g| format!("<fes:ValueReference>{}</fes:ValueReference>", escape(g)))
                    .unwrap_or_default();
                predicates.push(format!(
                    "<fes:BBOX>{reference}<gml:Envelope srsName=\"{EPSG_4326_URN}\"><gml:lowerCorner>{s} {w}</gml:lowerCorner><gml:upperCorner>{n} {e}</gml:upperCorner></gml:Envelope></fes:BBOX>"
                ));
                (Some(predicates), None)
            }
            (None, true) => (None, None),
            (None, false) => (Some(predicates), None),
        };
        let filter = filter.map(|mut predicates| {
            let body = if predicates.len() == 1 {
                predicates.remove(0)
            } else {
                format!("<fes:And>{}</fes:And>", predicates.concat())
            };
            format!("<fes:Filter xmlns:fes=\"{FES}\" xmlns:gml=\"{GML32}\">{body}</fes:Filter>")
        });

        Ok(Self {
            endpoint: base,
            type_name: caps.type_name,
            paging: caps.paging,
            page_size,
            count_default: caps.count_default,
            start: 0,
            output_format,
            srs_name,
            frame,
            sort,
            filter,
            bbox: bbox_param,
            fields,
            key,
            updated_field,
            select: source.options.fields.clone(),
            done: false,
        })
    }

    pub fn mode(&self) -> PagingMode {
        if self.paging {
            PagingMode::Offset
        } else {
            PagingMode::Unpaged
        }
    }

    fn page_url(&self) -> Url {
        let mut url = request(
            &self.endpoint,
            &[
                ("SERVICE", "WFS"),
                ("VERSION", "2.0.0"),
                ("REQUEST", "GetFeature"),
                ("TYPENAMES", &self.type_name),
                ("SRSNAME", &self.srs_name),
            ],
        );
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(format) = &self.output_format {
                pairs.append_pair("OUTPUTFORMAT", format);
            }
            if let Some(sort) = &self.sort {
                pairs.append_pair("SORTBY", sort);
            }
            if self.paging {
                pairs
                    .append_pair("STARTINDEX", &self.start.to_string())
                    .append_pair("COUNT", &self.page_size.to_string());
            } else if let Some(count) = self.count_default {
                pairs.append_pair("COUNT", &count.to_string());
            }
            if let Some(filter) = &self.filter {
                pairs.append_pair("FILTER", filter);
            }
            if let Some(bbox) = &self.bbox {
                pairs.append_pair("BBOX", bbox);
            }
        }
        url
    }

    pub async fn next_page(&mut self, walk: &mut Walk) -> Result<Option<Page>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let url = self.page_url();
        let number = walk.next_number(&url)?;
        let (status, bytes) = walk.get_answer(&url, &[], Some(number)).await?;
        let size = bytes.len() as u64;
        let bad = |m: String| {
            ConnectorError::new(ConnectorErrorKind::Format, shown(&url), Some(number), m)
        };
        let looks_xml = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<' || *b == 0xEF);
        if (looks_xml || !status.is_success())
            && let Some(report) = exception_report(&bytes)
        {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Service,
                shown(&url),
                Some(number),
                report,
            ));
        }
        if !status.is_success() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Fetch(crate::FetchErrorKind::Status),
                shown(&url),
                Some(number),
                format!("the server answered {status}: {}", body_start(&bytes)),
            ));
        }
        let answer = if looks_xml {
            let (root, _) =
                xml::parse(&bytes).map_err(|e| bad(format!("the page is not XML: {e}")))?;
            drop(bytes);
            self.read_gml(&root, walk)
        } else {
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                bad(format!(
                    "the page is not JSON ({e}): {}",
                    body_start(&bytes)
                ))
            })?;
            drop(bytes);
            self.read_json(value, walk)
        }
        .map_err(bad)?;
        if let Some(matched) = answer.matched {
            if walk.matched.is_none() && matched > walk.limits.max_features {
                return Err(ConnectorError::new(
                    ConnectorErrorKind::Limit,
                    shown(&url),
                    Some(number),
                    format!(
                        "the server says {matched} features match; the sync's limit is {}",
                        walk.limits.max_features
                    ),
                ));
            }
            walk.matched = Some(matched);
        }
        let received = answer.features.len() as u64;
        if self.paging {
            self.start += received;
            let more = match answer.matched {
                Some(matched) => self.start < matched,
                None => answer.has_next || received >= u64::from(self.page_size),
            };
            // An empty page while the server says more match cannot move on; it counts as a page without
            // progress, and enough of them end the sync as a loop.
            self.done = !more || received == 0 && answer.matched.is_none() && !answer.has_next;
        } else {
            self.done = true;
            let capped = self.count_default.is_some_and(|c| received >= c);
            let short = answer.matched.is_some_and(|m| m > received);
            if capped || short {
                let of = answer
                    .matched
                    .map(|m| format!(" of {m} matching"))
                    .unwrap_or_default();
                walk.warn(format!(
                    "the server does not implement result paging (ImplementsResultPaging is false) and answered {received}{of} features in its one request{}; the rest cannot be fetched from it",
                    self.count_default
                        .map(|c| format!(", its CountDefault being {c}"))
                        .unwrap_or_default()
                ));
            }
        }
        walk.accept(
            &url,
            size,
            answer.features,
            "saying more features match (numberMatched)",
        )
        .map(Some)
    }

    fn kind_of(&self, name: &str) -> Option<FieldKind> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }

    fn finish(
        &self,
        id: Option<String>,
        mut properties: Properties,
        geometry: Option<geoconsole_model::geo_types::Geometry<f64>>,
        walk: &mut Walk,
    ) -> Result<Feature, String> {
        let id = id
            .filter(|i| !i.is_empty())
            .or_else(|| {
                self.key
                    .as_ref()
                    .and_then(|k| properties.get(k))
                    .and_then(|v| match v {
                        Value::String(s) if !s.is_empty() => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
            })
            .ok_or("it has no gml:id, id or key property to tell it apart")?;
        if let Some(at) = self
            .updated_field
            .as_ref()
            .and_then(|f| properties.get(f))
            .and_then(Value::as_str)
            .and_then(parse_time)
        {
            walk.saw_update(at);
        }
        if !self.select.is_empty() {
            properties.retain(|k, _| self.select.iter().any(|f| f == k));
        }
        Ok(Feature {
            id: Some(FeatureId(id)),
            geometry,
            time: None,
            properties,
        })
    }

    fn read_json(&self, value: Value, walk: &mut Walk) -> Result<Answer, String> {
        let Value::Object(mut page) = value else {
            return Err("the page is not a GeoJSON FeatureCollection".into());
        };
        let matched = count(
            page.get("numberMatched")
                .or_else(|| page.get("totalFeatures")),
        );
        // A `crs` member says what the coordinates are in (GeoServer names the URN it was asked for and
        // writes latitude first); without one they are in GeoJSON's own x/y order whatever was asked
        // (MapServer's GeoJSON, written by GDAL, is longitude first under `urn:ogc:def:crs:EPSG::4326`).
        let frame = match page
            .get("crs")
            .and_then(|c| c.get("properties"))
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) if name.trim() != self.frame.name => Frame::parse(name)?,
            Some(_) => self.frame.clone(),
            None => self.frame.x_first(),
        };
        let Some(Value::Array(items)) = page.get_mut("features").map(Value::take) else {
            return Err("the page is not a GeoJSON FeatureCollection (no 'features')".into());
        };
        let mut features = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let Value::Object(mut item) = item else {
                return Err(format!("feature {index} is not an object"));
            };
            let properties = match item.get_mut("properties").map(Value::take) {
                Some(Value::Object(p)) => p,
                None | Some(Value::Null) => Properties::new(),
                Some(_) => return Err(format!("feature {index}: 'properties' is not an object")),
            };
            let geometry = match item.get_mut("geometry") {
                None | Some(Value::Null) => None,
                Some(g) => {
                    frame
                        .geojson_to_wgs84(g)
                        .map_err(|e| format!("feature {index}: {e}"))?;
                    Some(
                        geoconsole_formats::geometry_from_geojson(g)
                            .map_err(|e| format!("feature {index}: {e}"))?,
                    )
                }
            };
            let id = match item.get("id") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            features.push(
                self.finish(id, properties, geometry, walk)
                    .map_err(|e| format!("feature {index}: {e}"))?,
            );
        }
        Ok(Answer {
            features,
            matched,
            has_next: false,
        })
    }

    fn read_gml(&self, root: &Element, walk: &mut Walk) -> Result<Answer, String> {
        if root.name != "FeatureCollection" {
            return Err(format!(
                "the page is a <{}>, not a wfs:FeatureCollection",
                root.name
            ));
        }
        let matched = root
            .attr("numberMatched")
            .and_then(|m| m.trim().parse::<u64>().ok());
        let has_next = root.attr("next").is_some_and(|n| !n.trim().is_empty());
        let mut members: Vec<&Element> = Vec::new();
        collect_members(root, &mut members, 0);
        let mut features = Vec::with_capacity(members.len());
        for (index, element) in members.into_iter().enumerate() {
            let feature = self
                .gml_feature(element, walk)
                .map_err(|e| format!("feature {index}: {e}"))?;
            features.push(feature);
        }
        Ok(Answer {
            features,
            matched,
            has_next,
        })
    }

    fn gml_feature(&self, element: &Element, walk: &mut Walk) -> Result<Feature, String> {
        let mut properties = Properties::new();
        let mut geometry = None;
        for child in &element.children {
            // GML's own feature properties, whatever prefix the answer binds GML to, unless the schema
            // declares a property of that name.
            if child.prefix.as_deref() == Some("gml")
                || matches!(
                    child.name.as_str(),
                    "boundedBy"
                        | "location"
                        | "metaDataProperty"
                        | "description"
                        | "descriptionReference"
                        | "identifier"
                        | "name"
                ) && self.kind_of(&child.name).is_none()
            {
                continue;
            }
            let kind = self.kind_of(&child.name);
            let geometric = kind == Some(FieldKind::Geometry)
                || kind.is_none() && !child.children.is_empty() && !is_time(child);
            if geometric {
                let Some(shape) = child.children.first() else {
                    continue;
                };
                let read = gml::geometry(shape, &self.frame)
                    .map_err(|e| format!("{}: {e}", child.name))?;
                if geometry.is_none() {
                    geometry = Some(read);
                }
                continue;
            }
            let value = if child.attr("nil").is_some_and(|n| n.trim() == "true") {
                Value::Null
            } else if let Some(at) = time_position(child) {
                // MapServer writes dates as gml:TimeInstant/gml:timePosition.
                Value::String(at.to_string())
            } else {
                typed(&child.text, kind.unwrap_or(FieldKind::Text))
            };
            properties.insert(child.name.clone(), value);
        }
        self.finish(
            element.attr("id").map(str::to_string),
            properties,
            geometry,
            walk,
        )
    }
}

/// A property holding a `gml:TimeInstant` (or a bare `gml:timePosition`).
fn is_time(property: &Element) -> bool {
    time_position(property).is_some()
}

fn time_position(property: &Element) -> Option<&str> {
    let first = property.children.first()?;
    let position = match first.name.as_str() {
        "timePosition" => first,
        "TimeInstant" => first.child("timePosition")?,
        _ => return None,
    };
    Some(position.text.trim())
}

struct Answer {
    features: Vec<Feature>,
    matched: Option<u64>,
    has_next: bool,
}

/// The features of a `wfs:FeatureCollection`: `wfs:member` (2.0), `gml:featureMember(s)` (older), and the
/// members of a collection inside a member.
fn collect_members<'a>(collection: &'a Element, out: &mut Vec<&'a Element>, depth: usize) {
    for member in &collection.children {
        if !matches!(
            member.name.as_str(),
            "member" | "featureMember" | "featureMembers"
        ) {
            continue;
        }
        for feature in &member.children {
            if feature.name == "FeatureCollection" || feature.name == "additionalObjects" {
                if depth < 2 {
                    collect_members(feature, out, depth + 1);
                }
            } else {
                out.push(feature);
            }
        }
    }
}

/// A count as OGC answers write it: a number, or `unknown`.
fn count(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// GML text as the schema types it; what does not read as its type stays text, as the server wrote it.
fn typed(text: &str, kind: FieldKind) -> Value {
    let trimmed = text.trim();
    match kind {
        FieldKind::Integer | FieldKind::Number | FieldKind::Boolean if trimmed.is_empty() => {
            Value::Null
        }
        FieldKind::Integer => trimmed
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(trimmed.to_string())),
        FieldKind::Number => trimmed
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(trimmed.to_string())),
        FieldKind::Boolean => match trimmed {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        FieldKind::Date => Value::String(trimmed.to_string()),
        FieldKind::Text | FieldKind::Geometry => Value::String(text.to_string()),
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// The key that orders pages: a property named as keys are (`gid`, `fid`, `id`, `objectid`, `ogc_fid`…),
/// else the first integer property.
fn key_field(fields: &[(String, FieldKind)]) -> Option<String> {
    const NAMES: [&str; 9] = [
        "gid",
        "fid",
        "id",
        "objectid",
        "ogc_fid",
        "feature_id",
        "featureid",
        "pk",
        "uid",
    ];
    for name in NAMES {
        if let Some((n, _)) = fields.iter().find(|(n, k)| {
            n.eq_ignore_ascii_case(name) && matches!(k, FieldKind::Integer | FieldKind::Text)
        }) {
            return Some(n.clone());
        }
    }
    fields
        .iter()
        .find(|(_, k)| *k == FieldKind::Integer)
        .map(|(n, _)| n.clone())
}

/// GeoJSON where the server offers it (in the order servers name it), else GML 3.2 by the name the server
/// gives it, else the server's default (GML 3.2 in WFS 2.0).
fn pick_format(formats: &[String]) -> (Output, Option<String>) {
    const JSON: [&str; 6] = [
        "application/geo+json",
        "application/json",
        "application/json; subtype=geojson",
        "application/vnd.geo+json",
        "geojson",
        "json",
    ];
    for wanted in JSON {
        if let Some(f) = formats
            .iter()
            .find(|f| f.trim().eq_ignore_ascii_case(wanted))
        {
            return (Output::Json, Some(f.trim().to_string()));
        }
    }
    if let Some(f) = formats.iter().find(|f| {
        let l = f.to_ascii_lowercase();
        l.contains("json")
            && !l.contains("ld+json")
            && !l.contains("jsonfg")
            && !l.contains("fg+json")
    }) {
        return (Output::Json, Some(f.trim().to_string()));
    }
    if let Some(f) = formats.iter().find(|f| {
        let l = f.to_ascii_lowercase().replace(' ', "");
        l.contains("gml/3.2") || l.contains("version=3.2") || l == "gml32"
    }) {
        return (Output::Gml, Some(f.trim().to_string()));
    }
    (Output::Gml, None)
}

/// The predicates inside a `<fes:Filter>` the source gives, checked to be one well-formed Filter element.
fn filter_inner(filter: &str) -> Result<String, String> {
    let (root, _) = xml::parse(filter.as_bytes())
        .map_err(|e| format!("the filter is not an FES <fes:Filter>: {e}"))?;
    if root.name != "Filter" {
        return Err(format!(
            "the filter is a <{}>; a WFS source's filter is an FES 2.0 <fes:Filter>",
            root.name
        ));
    }
    // Past the root's start tag (quotes may hold '>') and before its end tag.
    let start = filter
        .find('<')
        .and_then(|at| {
            let mut quote = None;
            for (i, c) in filter[at..].char_indices() {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, '>') => return Some(at + i + 1),
                    _ => {}
                }
            }
            None
        })
        .ok_or("the filter's start tag does not end")?;
    if filter[..start].ends_with("/>") {
        return Err("the filter is empty".into());
    }
    let end = filter.rfind("</").ok_or("the filter has no end tag")?;
    let inner = filter[start..end].trim();
    if inner.is_empty() || end < start {
        return Err("the filter is empty".into());
    }
    Ok(inner.to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// GETs an XML document; an exception report (with whatever status) is the service's refusal.
async fn xml_answer(
    walk: &mut Walk,
    url: &Url,
    page: Option<u32>,
    what: &str,
) -> Result<Element, ConnectorError> {
    let (status, bytes) = walk.get_answer(url, &[], page).await?;
    if let Some(report) = exception_report(&bytes) {
        return Err(ConnectorError::new(
            ConnectorErrorKind::Service,
            shown(url),
            page,
            report,
        ));
    }
    if !status.is_success() {
        return Err(ConnectorError::new(
            ConnectorErrorKind::Fetch(crate::FetchErrorKind::Status),
            shown(url),
            page,
            format!(
                "the server answered {status} to {what}: {}",
                body_start(&bytes)
            ),
        ));
    }
    xml::parse(&bytes).map(|(root, _)| root).map_err(|e| {
        ConnectorError::new(
            ConnectorErrorKind::Format,
            shown(url),
            page,
            format!("{what} is not XML: {e}"),
        )
    })
}

/// The message of an `ows:ExceptionReport` (or a WFS 1.0 `ServiceExceptionReport`), when `bytes` is one.
fn exception_report(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(2048)];
    let head = String::from_utf8_lossy(head);
    if !head.contains("ExceptionReport") {
        return None;
    }
    let (root, _) = xml::parse(bytes).ok()?;
    if !root.name.ends_with("ExceptionReport") {
        return None;
    }
    let mut parts = Vec::new();
    for exception in root
        .children
        .iter()
        .filter(|c| c.name == "Exception" || c.name == "ServiceException")
    {
        let code = exception
            .attr("exceptionCode")
            .or_else(|| exception.attr("code"))
            .unwrap_or("");
        let locator = exception.attr("locator").unwrap_or("");
        let mut text: Vec<String> = exception
            .children_named("ExceptionText")
            .map(|t| t.text.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if text.is_empty() && !exception.text.trim().is_empty() {
            text.push(exception.text.trim().to_string());
        }
        let mut part = code.to_string();
        if !locator.is_empty() {
            part.push_str(&format!(" ({locator})"));
        }
        if !text.is_empty() {
            if !part.is_empty() {
                part.push_str(": ");
            }
            part.push_str(&text.join("; "));
        }
        parts.push(geoconsole_model::excerpt(&part, 500).into_owned());
    }
    Some(format!(
        "the service answered an exception report: {}",
        if parts.is_empty() {
            "no exception in it".to_string()
        } else {
            parts.join(" | ")
        }
    ))
}

/// A constraint's `DefaultValue` (`TRUE`, `1000`) among `element`'s `ows:Constraint` children.
fn constraint<'a>(element: Option<&'a Element>, name: &str) -> Option<&'a str> {
    element?
        .children_named("Constraint")
        .find(|c| c.attr("name") == Some(name))
        .and_then(|c| c.text_of("DefaultValue"))
}

fn capabilities(
    root: &Element,
    wanted: &str,
) -> Result<Capabilities, (ConnectorErrorKind, String)> {
    let format_error = |m: String| (ConnectorErrorKind::Format, m);
    let spec_error = |m: String| (ConnectorErrorKind::Spec, m);
    if root.name != "WFS_Capabilities" {
        return Err(format_error(format!(
            "the answer to GetCapabilities is a <{}>, not WFS_Capabilities",
            root.name
        )));
    }
    let version = root.attr("version").unwrap_or("");
    if !version.starts_with("2.") {
        return Err(spec_error(format!(
            "the server answers WFS {version}; this client speaks WFS 2.0"
        )));
    }
    let operations = root.child("OperationsMetadata");
    let get_feature = operations.and_then(|o| {
        o.children_named("Operation")
            .find(|op| op.attr("name") == Some("GetFeature"))
    });
    let flag = |name: &str| {
        constraint(get_feature, name)
            .or_else(|| constraint(operations, name))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    let paging = flag("ImplementsResultPaging");
    let count_default = constraint(get_feature, "CountDefault")
        .or_else(|| constraint(operations, "CountDefault"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|c| *c > 0);
    let sorting = root
        .child("Filter_Capabilities")
        .and_then(|f| f.child("Conformance"))
        .map(|c| constraint(Some(c), "ImplementsSorting"))
        // Servers that leave the filter capabilities out are not taken at their silence.
        .is_none_or(|v| v.is_some_and(|v| v.eq_ignore_ascii_case("true")));
    let operation_formats: Vec<String> = get_feature
        .into_iter()
        .flat_map(|op| op.children_named("Parameter"))
        .filter(|p| {
            p.attr("name")
                .is_some_and(|n| n.eq_ignore_ascii_case("outputFormat"))
        })
        .flat_map(|p| {
            p.children_named("AllowedValues")
                .flat_map(|a| a.children_named("Value"))
                .chain(p.children_named("Value"))
        })
        .map(|v| v.text.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let types: Vec<&Element> = root
        .child("FeatureTypeList")
        .into_iter()
        .flat_map(|l| l.children_named("FeatureType"))
        .collect();
    let name_of = |t: &Element| t.text_of("Name").unwrap_or("").to_string();
    let local = |n: &str| n.rsplit(':').next().unwrap_or(n).to_string();
    let found = types
        .iter()
        .find(|t| name_of(t) == wanted)
        .or_else(|| {
            let matching: Vec<&&Element> = types
                .iter()
                .filter(|t| local(&name_of(t)) == local(wanted))
                .collect();
            (matching.len() == 1).then(|| matching[0])
        })
        .ok_or_else(|| {
            let names: Vec<String> = types.iter().take(20).map(|t| name_of(t)).collect();
            spec_error(format!(
                "the service has no feature type '{wanted}'; it offers {}{}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
                if types.len() > 20 { ", …" } else { "" }
            ))
        })?;
    let crs: Vec<String> = found
        .children
        .iter()
        .filter(|c| {
            matches!(
                c.name.as_str(),
                "DefaultCRS" | "OtherCRS" | "DefaultSRS" | "OtherSRS"
            )
        })
        .map(|c| c.text.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let type_formats: Vec<String> = found
        .child("OutputFormats")
        .into_iter()
        .flat_map(|f| f.children_named("Format"))
        .map(|f| f.text.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    Ok(Capabilities {
        type_name: name_of(found),
        crs,
        formats: if type_formats.is_empty() {
            operation_formats
        } else {
            type_formats
        },
        paging,
        count_default,
        sorting,
    })
}

/// The properties of `type_name` from its XML Schema: the element declared for the type names its complex
/// type, whose sequence lists the properties.
fn describe(schema: &Element, type_name: &str) -> Result<Vec<(String, FieldKind)>, String> {
    if schema.name != "schema" {
        return Err(format!(
            "the answer to DescribeFeatureType is a <{}>, not an XML Schema",
            schema.name
        ));
    }
    let local = |n: &str| n.rsplit(':').next().unwrap_or(n).to_string();
    let wanted = local(type_name);
    let complex_types: Vec<&Element> = schema.children_named("complexType").collect();
    let by_element = schema
        .children_named("element")
        .find(|e| e.attr("name") == Some(wanted.as_str()))
        .and_then(|e| e.attr("type"))
        .map(local)
        .and_then(|t| {
            complex_types
                .iter()
                .find(|c| c.attr("name") == Some(t.as_str()))
                .copied()
        });
    let complex = by_element
        .or_else(|| {
            complex_types
                .iter()
                .find(|c| c.attr("name") == Some(format!("{wanted}Type").as_str()))
                .copied()
        })
        .or_else(|| (complex_types.len() == 1).then(|| complex_types[0]))
        .ok_or_else(|| format!("the schema declares no complex type for '{type_name}'"))?;
    let sequence = complex
        .child("complexContent")
        .and_then(|c| c.child("extension"))
        .and_then(|e| e.child("sequence"))
        .or_else(|| complex.child("sequence"))
        .ok_or_else(|| format!("the type of '{type_name}' has no sequence of properties"))?;
    let mut fields = Vec::new();
    for element in sequence.children_named("element") {
        let Some(name) = element.attr("name") else {
            continue;
        };
        let xsd_type = element
            .attr("type")
            .map(str::to_string)
            .or_else(|| {
                element
                    .child("simpleType")
                    .and_then(|s| s.child("restriction"))
                    .and_then(|r| r.attr("base"))
                    .map(str::to_string)
            })
            .or_else(|| {
                // An anonymous complex type holding a geometry (gml:AbstractGeometry): a geometry property.
                element
                    .child("complexType")
                    .map(|_| "gml:GeometryPropertyType".to_string())
            })
            .unwrap_or_else(|| "string".into());
        fields.push((name.to_string(), field_kind(&xsd_type)));
    }
    if fields.is_empty() {
        return Err(format!("the type of '{type_name}' declares no properties"));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_vendor_parameters_only() {
        let url = Url::parse(
            "http://maps.example/cgi-bin/mapserv?map=/data/sites.map&SERVICE=WFS&REQUEST=GetCapabilities&typeNames=ms:sites",
        )
        .unwrap();
        let (base, name) = endpoint(&url, None).unwrap();
        assert_eq!(
            base.as_str(),
            "http://maps.example/cgi-bin/mapserv?map=%2Fdata%2Fsites.map"
        );
        assert_eq!(name, "ms:sites");
        assert!(endpoint(&url, Some("ms:other")).is_err());
        let plain = Url::parse("https://geo.example/geoserver/wfs").unwrap();
        assert!(endpoint(&plain, None).unwrap_err().contains("dataset"));
        assert_eq!(
            endpoint(&plain, Some("topp:states")).unwrap().1,
            "topp:states"
        );
        let paged = Url::parse("https://geo.example/wfs?count=10").unwrap();
        assert!(endpoint(&paged, Some("a")).unwrap_err().contains("count"));
        assert!(endpoint(&plain, Some("a,b")).is_err());
    }

    #[test]
    fn formats_prefer_geojson_then_gml_3_2() {
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pick_format(&names(&[
                "text/xml; subtype=gml/3.2.1",
                "application/json",
                "json"
            ])),
            (Output::Json, Some("application/json".into()))
        );
        assert_eq!(
            pick_format(&names(&["GML2", "application/gml+xml; version=3.2"])),
            (Output::Gml, Some("application/gml+xml; version=3.2".into()))
        );
        assert_eq!(pick_format(&[]), (Output::Gml, None));
    }

    #[test]
    fn filters_are_fes_filters() {
        let inner = filter_inner(
            r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" a="x>y"><fes:PropertyIsEqualTo><fes:ValueReference>zone</fes:ValueReference><fes:Literal>3</fes:Literal></fes:PropertyIsEqualTo></fes:Filter>"#,
        )
        .unwrap();
        assert!(
            inner.starts_with("<fes:PropertyIsEqualTo>")
                && inner.ends_with("</fes:PropertyIsEqualTo>")
        );
        assert!(filter_inner("zone = 3").is_err());
        assert!(filter_inner("<Other/>").is_err());
        assert!(filter_inner(r#"<fes:Filter xmlns:fes="x"/>"#).is_err());
        assert!(filter_inner(r#"<!DOCTYPE x [<!ENTITY a "b">]><Filter>&a;</Filter>"#).is_err());
    }

    #[test]
    fn exception_reports_are_read() {
        let report = br#"<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="2.0.0"><ows:Exception exceptionCode="InvalidParameterValue" locator="typeNames"><ows:ExceptionText>Feature type ms:nope unknown</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"#;
        assert_eq!(
            exception_report(report).unwrap(),
            "the service answered an exception report: InvalidParameterValue (typeNames): Feature type ms:nope unknown"
        );
        assert_eq!(exception_report(b"<wfs:FeatureCollection/>"), None);
    }

    #[test]
    fn gml_members_become_features() {
        let sync = WfsSync {
            endpoint: Url::parse("http://wfs.example/wfs").unwrap(),
            type_name: "ms:sites".into(),
            paging: true,
            page_size: 10,
            count_default: None,
            start: 0,
            output_format: None,
            srs_name: EPSG_4326_URN.into(),
            frame: Frame::parse(EPSG_4326_URN).unwrap(),
            sort: None,
            filter: None,
            bbox: None,
            fields: vec![
                ("geom".into(), FieldKind::Geometry),
                ("gid".into(), FieldKind::Integer),
                ("zone".into(), FieldKind::Integer),
                ("updated".into(), FieldKind::Date),
            ],
            key: Some("gid".into()),
            updated_field: Some("updated".into()),
            select: Vec::new(),
            done: false,
        };
        let fetcher = crate::Fetcher::new(
            std::sync::Arc::new(crate::NetworkPolicy::default()),
            crate::FetchLimits::default(),
        )
        .unwrap();
        let mut walk = Walk::new(fetcher, "http://wfs.example/wfs".into(), Default::default());
        let page = br#"<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:g="http://www.opengis.net/gml/3.2" numberMatched="unknown" numberReturned="2" next="http://wfs.example/wfs?STARTINDEX=2">
  <wfs:member><ms:sites g:id="sites.1"><g:boundedBy><g:Envelope><g:lowerCorner>45 5</g:lowerCorner><g:upperCorner>45 5</g:upperCorner></g:Envelope></g:boundedBy>
    <ms:geom><g:Point><g:pos>45.5 5.25</g:pos></g:Point></ms:geom><ms:gid>1</ms:gid><ms:zone xsi:nil="true"/>
    <ms:updated g:id="u1"><g:TimeInstant><g:timePosition>2024-02-01T00:00:01Z</g:timePosition></g:TimeInstant></ms:updated></ms:sites></wfs:member>
  <wfs:member><ms:sites><ms:gid>2</ms:gid><ms:zone>3</ms:zone><ms:updated><g:timePosition>2024-03-01T00:00:00Z</g:timePosition></ms:updated></ms:sites></wfs:member>
</wfs:FeatureCollection>"#;
        let (root, _) = xml::parse(page).unwrap();
        let answer = sync.read_gml(&root, &mut walk).unwrap();
        assert_eq!(answer.matched, None);
        assert!(answer.has_next);
        let [first, second] = answer.features.as_slice() else {
            panic!("two features")
        };
        assert_eq!(first.id.as_ref().unwrap().as_str(), "sites.1");
        assert_eq!(
            first.geometry,
            Some(geoconsole_model::geo_types::Geometry::Point(
                geoconsole_model::geo_types::Point::new(5.25, 45.5)
            ))
        );
        assert_eq!(
            Value::Object(first.properties.clone()),
            serde_json::json!({"gid": 1, "zone": null, "updated": "2024-02-01T00:00:01Z"})
        );
        assert_eq!(
            second.id.as_ref().unwrap().as_str(),
            "2",
            "the key when there is no gml:id"
        );
        assert_eq!(second.geometry, None);
        assert_eq!(
            walk.latest_update.unwrap().to_rfc3339(),
            "2024-03-01T00:00:00+00:00"
        );
    }

    #[test]
    fn text_is_typed_by_the_schema() {
        assert_eq!(typed("42", FieldKind::Integer), Value::from(42));
        assert_eq!(
            typed("99999999999999999999999", FieldKind::Integer),
            Value::from("99999999999999999999999")
        );
        assert_eq!(typed("1e999", FieldKind::Number), Value::from("1e999"));
        assert_eq!(typed("2.5", FieldKind::Number), Value::from(2.5));
        assert_eq!(typed("", FieldKind::Number), Value::Null);
        assert_eq!(typed("true", FieldKind::Boolean), Value::Bool(true));
        assert_eq!(typed(" a ", FieldKind::Text), Value::from(" a "));
    }
}
