//! The ArcGIS REST client for one FeatureServer or MapServer layer, as the REST API reference documents
//! `Query (Feature Service/Layer)`:
//!
//! - the layer's metadata (`{layer}?f=json`) gives the object-id field, `maxRecordCount`,
//!   `advancedQueryCapabilities.supportsPagination`, the query formats, the fields (dates, coded-value
//!   domains) and subtypes;
//! - pages are `query?where=…&outFields=*&orderByFields=<oid> ASC&resultOffset=…&resultRecordCount=…
//!   &outSR=4326&f=geojson` (Esri JSON, `f=json`, where the layer does not list geoJSON). Paging goes on
//!   while the answer says `exceededTransferLimit` (the reference warns it can say so on an empty page,
//!   after the server's own spatial-index filtering) or while a page comes back full;
//! - where paging is not supported, or a paged query is answered with an error, the layer is walked by
//!   object id: `returnIdsOnly=true` (which the reference exempts from `maxRecordCount`), then ranges
//!   `<oid> >= a AND <oid> <= b` holding at most a page of ids each. Ranges rather than `objectIds=` lists
//!   keep every request a short GET: 2,000 ids would make a query string of 10+ KB, past what common
//!   front ends accept.
//!
//! Nothing here sends an unpaged query for the whole layer: large layers answer those with a 500.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{Feature, FeatureId, Properties, validate_geometry};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::esri::{self, FieldInfo, FieldRules, SubtypeInfo};
use super::{ConnectorError, ConnectorErrorKind, Page, PagingMode, SourceSpec, Walk, body_start};
use crate::fetch::FetchErrorKind;

/// Used when a layer does not say its `maxRecordCount` (1000 is the documented server default).
const DEFAULT_MAX_RECORD_COUNT: u32 = 1000;

pub(super) fn check_url(url: &Url) -> Result<(), String> {
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let service = segments
        .len()
        .checked_sub(2)
        .and_then(|i| segments.get(i))
        .map(|s| s.to_ascii_lowercase());
    let layer = segments.last().is_some_and(|s| s.parse::<u32>().is_ok());
    if layer && matches!(service.as_deref(), Some("featureserver" | "mapserver")) {
        Ok(())
    } else {
        Err(format!(
            "'{url}' is not an ArcGIS layer URL; it should end in …/FeatureServer/<layer> or …/MapServer/<layer>"
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayerInfo {
    #[serde(rename = "type", default)]
    layer_type: Option<String>,
    #[serde(default)]
    object_id_field: Option<String>,
    #[serde(default)]
    fields: Vec<FieldInfo>,
    #[serde(default)]
    max_record_count: Option<u64>,
    #[serde(default)]
    advanced_query_capabilities: Option<AdvancedQuery>,
    #[serde(default)]
    supported_query_formats: Option<String>,
    #[serde(default)]
    type_id_field: Option<String>,
    #[serde(default)]
    types: Vec<SubtypeInfo>,
    /// Present on time-enabled layers: which fields hold each feature's time.
    #[serde(default)]
    time_info: Option<TimeInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimeInfo {
    #[serde(default)]
    start_time_field: Option<String>,
    #[serde(default)]
    end_time_field: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdvancedQuery {
    #[serde(default)]
    supports_pagination: bool,
}

/// An answer's JSON, or why not: `what` is not JSON, or the service answered its error body.
fn service_json(
    bytes: &[u8],
    url: &Url,
    page: Option<u32>,
    what: &str,
) -> Result<Value, ConnectorError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ConnectorError::new(
            ConnectorErrorKind::Format,
            url.as_str(),
            page,
            format!("{what} is not JSON ({e}): {}", body_start(bytes)),
        )
    })?;
    match service_error(&value) {
        Some(message) => Err(ConnectorError::new(
            ConnectorErrorKind::Service,
            url.as_str(),
            page,
            message,
        )),
        None => Ok(value),
    }
}

/// The REST API answers most errors with `200 OK` and this body.
fn service_error(value: &Value) -> Option<String> {
    let error = value.get("error")?;
    let code = error.get("code").map(|c| c.to_string()).unwrap_or_default();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let details: Vec<&str> = error
        .get("details")
        .and_then(Value::as_array)
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some(if details.is_empty() {
        format!("the service answered error {code}: {message}")
    } else {
        format!(
            "the service answered error {code}: {message} ({})",
            details.join("; ")
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    GeoJson,
    EsriJson,
}

impl Format {
    fn param(self) -> &'static str {
        match self {
            Self::GeoJson => "geojson",
            Self::EsriJson => "json",
        }
    }
}

enum State {
    Offset { offset: u64 },
    NeedIds,
    Ranges(VecDeque<(i64, i64)>),
    Done,
}

pub(super) struct ArcgisSync {
    query_url: Url,
    oid_field: String,
    page_size: u32,
    format: Format,
    /// The filter every request carries (the user's, and the incremental condition).
    filter: String,
    out_fields: String,
    rules: FieldRules,
    updated_field: Option<String>,
    /// The layer's own time fields (its `timeInfo`): start, and end when it has one.
    time_fields: Option<(String, Option<String>)>,
    state: State,
    fallback: Option<String>,
}

impl ArcgisSync {
    pub fn time_fields(&self) -> Option<(String, Option<String>)> {
        self.time_fields.clone()
    }

    pub async fn start(
        walk: &mut Walk,
        layer: Url,
        source: &SourceSpec,
        since: Option<DateTime<Utc>>,
    ) -> Result<Self, ConnectorError> {
        let mut layer = layer;
        if layer.path().ends_with('/') {
            let trimmed = layer.path().trim_end_matches('/').to_string();
            layer.set_path(&trimmed);
        }
        let mut info_url = layer.clone();
        info_url.query_pairs_mut().append_pair("f", "json");
        let (bytes, _) = walk.get(&info_url, &[], None).await?;
        let bad =
            |m: String| ConnectorError::new(ConnectorErrorKind::Format, info_url.as_str(), None, m);
        let value = service_json(&bytes, &info_url, None, "the layer's metadata")?;
        let info: LayerInfo = serde_json::from_value(value)
            .map_err(|e| bad(format!("the layer's metadata is not as documented: {e}")))?;
        let spec_error =
            |m: String| ConnectorError::new(ConnectorErrorKind::Spec, info_url.as_str(), None, m);
        if let Some(kind) = &info.layer_type
            && !matches!(kind.as_str(), "Feature Layer" | "Table")
        {
            return Err(spec_error(format!(
                "the layer is a '{kind}', not a feature layer or table"
            )));
        }
        let oid_field = info
            .object_id_field
            .clone()
            .filter(|f| !f.is_empty())
            .or_else(|| {
                info.fields
                    .iter()
                    .find(|f| f.field_type == esri::OID)
                    .map(|f| f.name.clone())
            })
            .ok_or_else(|| {
                spec_error("the layer has no object-id field, so it cannot be paged".into())
            })?;
        let max_record_count = info
            .max_record_count
            .filter(|n| *n > 0)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .unwrap_or(DEFAULT_MAX_RECORD_COUNT);
        let page_size = source
            .options
            .page_size
            .map_or(max_record_count, |p| p.min(max_record_count));
        let format = match &info.supported_query_formats {
            Some(formats) if formats.to_ascii_lowercase().contains("geojson") => Format::GeoJson,
            _ => Format::EsriJson,
        };
        let updated_field = match &source.options.updated_field {
            None => None,
            Some(name) => {
                let field = info
                    .fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| spec_error(format!("the layer has no field '{name}'")))?;
                if field.field_type != esri::DATE {
                    return Err(spec_error(format!(
                        "updated_field '{name}' is a {}, not a date field",
                        field.field_type
                    )));
                }
                Some(field.name.clone())
            }
        };
        let mut filter = source
            .options
            .filter
            .clone()
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| "1=1".into());
        if let Some(since) = since {
            let Some(field) = &updated_field else {
                return Err(spec_error(
                    "an incremental sync needs updated_field (a date field such as EditDate)"
                        .into(),
                ));
            };
            // Standardized SQL takes timestamps to the second; flooring re-reads rows of that second rather
            // than missing any.
            filter = format!(
                "({filter}) AND {field} > timestamp '{}'",
                since.format("%Y-%m-%d %H:%M:%S")
            );
        }
        // A time-enabled layer says which fields hold its features' times: the console's event times,
        // unless the source names its own.
        let (time_start, time_end) = match &info.time_info {
            Some(t) => {
                // Only a date field is taken: a timeInfo naming a text or missing field is ignored
                // rather than failing every row's time.
                let present = |name: &Option<String>| {
                    name.as_ref().and_then(|n| {
                        info.fields
                            .iter()
                            .find(|f| f.name.eq_ignore_ascii_case(n) && f.field_type == esri::DATE)
                            .map(|f| f.name.clone())
                    })
                };
                (present(&t.start_time_field), present(&t.end_time_field))
            }
            None => (None, None),
        };
        let time_end = time_end.filter(|_| time_start.is_some());
        let out_fields = if source.options.fields.is_empty() {
            "*".to_string()
        } else {
            let mut fields = source.options.fields.clone();
            for needed in std::iter::once(&oid_field)
                .chain(updated_field.as_ref())
                .chain(time_start.as_ref())
                .chain(time_end.as_ref())
            {
                if !fields.iter().any(|f| f.eq_ignore_ascii_case(needed)) {
                    fields.push(needed.clone());
                }
            }
            fields.join(",")
        };
        let supports_pagination = info
            .advanced_query_capabilities
            .as_ref()
            .is_some_and(|a| a.supports_pagination);
        let mut query_url = layer;
        query_url
            .path_segments_mut()
            .map_err(|()| spec_error("the layer URL cannot have a path".into()))?
            .push("query");
        Ok(Self {
            query_url,
            oid_field,
            page_size,
            format,
            filter,
            out_fields,
            rules: FieldRules::new(&info.fields, info.type_id_field.as_deref(), &info.types),
            updated_field,
            time_fields: time_start.map(|start| (start, time_end)),
            state: if supports_pagination {
                State::Offset { offset: 0 }
            } else {
                State::NeedIds
            },
            fallback: (!supports_pagination).then(|| {
                "the layer does not declare advancedQueryCapabilities.supportsPagination"
                    .to_string()
            }),
        })
    }

    pub fn mode(&self) -> (PagingMode, Option<String>) {
        let mode = if self.fallback.is_some() {
            PagingMode::ObjectIds
        } else {
            PagingMode::Offset
        };
        (mode, self.fallback.clone())
    }

    fn query(&self, filter: &str, extra: &[(&str, &str)]) -> Url {
        let mut url = self.query_url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("where", filter);
            for (k, v) in extra {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    fn page_url(&self, filter: &str, offset: Option<u64>) -> Url {
        let order = format!("{} ASC", self.oid_field);
        let offset = offset.map(|o| o.to_string());
        let count = self.page_size.to_string();
        let mut extra = vec![
            ("outFields", self.out_fields.as_str()),
            ("orderByFields", &order),
        ];
        if let Some(offset) = &offset {
            extra.push(("resultOffset", offset));
            extra.push(("resultRecordCount", &count));
        }
        extra.extend([
            ("returnGeometry", "true"),
            ("outSR", "4326"),
            ("f", self.format.param()),
        ]);
        self.query(filter, &extra)
    }

    pub async fn next_page(&mut self, walk: &mut Walk) -> Result<Option<Page>, ConnectorError> {
        loop {
            match &mut self.state {
                State::Done => return Ok(None),
                State::Offset { offset } => {
                    let offset = *offset;
                    let url = self.page_url(&self.filter, Some(offset));
                    let number = walk.next_number(&url)?;
                    let answer = match self.fetch_page(walk, &url, number).await {
                        Ok(answer) => answer,
                        Err(e) if falls_back(&e) => {
                            self.fallback = Some(format!(
                                "the paged query at offset {offset} failed ({}); read by object id instead",
                                e.message
                            ));
                            self.state = State::NeedIds;
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    // Skipped features were sent too: the offset moves past them.
                    let received = (answer.features.len() + answer.skipped.len()) as u64;
                    // A short page, flagged "more" or not, may be the server's own cap (below the
                    // maxRecordCount it advertised, and not every server says exceededTransferLimit): only
                    // an empty page ends the walk. Moving on by what arrived never skips a row (overlaps are
                    // dropped as duplicates); an empty page flagged "more" can only move on by a whole page.
                    let advance = if received > 0 {
                        received
                    } else {
                        u64::from(self.page_size)
                    };
                    self.state = if answer.exceeded || received > 0 {
                        State::Offset {
                            offset: offset + advance,
                        }
                    } else {
                        State::Done
                    };
                    return walk
                        .accept(
                            &url,
                            answer.bytes,
                            answer.features,
                            "saying exceededTransferLimit (more to come)",
                        )
                        .map(Some);
                }
                State::NeedIds => {
                    let ranges = self.ranges(walk).await?;
                    self.state = State::Ranges(ranges);
                }
                State::Ranges(ranges) => {
                    let Some((low, high)) = ranges.pop_front() else {
                        self.state = State::Done;
                        continue;
                    };
                    let oid = &self.oid_field;
                    let filter =
                        format!("({}) AND {oid} >= {low} AND {oid} <= {high}", self.filter);
                    let url = self.page_url(&filter, None);
                    let number = walk.next_number(&url)?;
                    let answer = self.fetch_page(walk, &url, number).await?;
                    if answer.exceeded {
                        // The server's cap is below what the layer advertised: ask again for the rest.
                        let last = answer.last_oid.unwrap_or(low - 1);
                        if let State::Ranges(ranges) = &mut self.state
                            && last < high
                        {
                            ranges.push_front((last + 1, high));
                        }
                    }
                    return walk
                        .accept(
                            &url,
                            answer.bytes,
                            answer.features,
                            "saying exceededTransferLimit (more to come)",
                        )
                        .map(Some);
                }
            }
        }
    }

    /// Every matching object id, then ranges of at most a page of them each, skipping ranges whose every id
    /// arrived already (after a fallback from offset paging).
    async fn ranges(&self, walk: &mut Walk) -> Result<VecDeque<(i64, i64)>, ConnectorError> {
        let url = self.query(&self.filter, &[("returnIdsOnly", "true"), ("f", "json")]);
        let (bytes, _) = walk.get(&url, &[], None).await?;
        let bad =
            |m: String| ConnectorError::new(ConnectorErrorKind::Format, url.as_str(), None, m);
        let value = service_json(&bytes, &url, None, "the id list")?;
        let mut ids = match value.get("objectIds") {
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| {
                    id.as_i64()
                        .ok_or_else(|| bad(format!("object id {id} is not an integer")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Null) | None if value.get("objectIdFieldName").is_some() => Vec::new(),
            _ => {
                return Err(bad(format!(
                    "the answer to returnIdsOnly has no objectIds: {}",
                    body_start(&bytes)
                )));
            }
        };
        ids.sort_unstable();
        ids.dedup();
        let mut ranges = VecDeque::new();
        for chunk in ids.chunks(self.page_size as usize) {
            if chunk.iter().all(|id| walk.seen.contains(&id.to_string())) {
                continue;
            }
            ranges.push_back((chunk[0], chunk[chunk.len() - 1]));
        }
        Ok(ranges)
    }

    async fn fetch_page(
        &self,
        walk: &mut Walk,
        url: &Url,
        number: u32,
    ) -> Result<Answer, ConnectorError> {
        let (bytes, _) = walk.get(url, &[], Some(number)).await?;
        let size = bytes.len() as u64;
        let value = service_json(&bytes, url, Some(number), "the page")?;
        drop(bytes);
        let mut answer = match self.format {
            Format::GeoJson => self.read_geojson(value),
            Format::EsriJson => self.read_esri_json(value),
        }
        .map_err(|m| {
            ConnectorError::new(ConnectorErrorKind::Format, url.as_str(), Some(number), m)
        })?;
        answer.bytes = size;
        for reason in &answer.skipped {
            walk.skip(number, reason.clone());
        }
        for feature in &answer.features {
            if let Some(at) = self
                .updated_field
                .as_ref()
                .and_then(|f| feature.properties.get(f))
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            {
                walk.saw_update(at.with_timezone(&Utc));
            }
        }
        Ok(answer)
    }

    /// How a reason names a feature: by its object id, else by its place on the page.
    fn named(&self, index: usize, id: Option<&Value>, properties: &Properties) -> String {
        match self.object_id(id, properties) {
            Some(id) => format!("object id {id}"),
            None => format!("feature {index}"),
        }
    }

    /// The feature's object id: the GeoJSON `id`, else the object-id field.
    fn object_id(&self, id: Option<&Value>, properties: &Properties) -> Option<String> {
        id.or_else(|| properties.get(&self.oid_field))
            .and_then(esri_id)
    }

    /// Properties as the layer means them, the object id as the feature's id.
    fn finish(
        &self,
        index: usize,
        id: Option<&Value>,
        mut properties: Properties,
        geometry: Option<Geometry<f64>>,
        last_oid: &mut Option<i64>,
    ) -> Result<Feature, String> {
        let id = self.object_id(id, &properties).ok_or_else(|| {
            format!(
                "feature {index} has no object id ({}) to tell it apart",
                self.oid_field
            )
        })?;
        if let Ok(oid) = id.parse::<i64>() {
            *last_oid = Some(last_oid.map_or(oid, |l| l.max(oid)));
        }
        self.rules.apply(&mut properties);
        Ok(Feature {
            id: Some(FeatureId(id)),
            geometry,
            time: None,
            properties,
        })
    }

    fn read_geojson(&self, mut value: Value) -> Result<Answer, String> {
        let exceeded = exceeded(&value) || value.get("properties").is_some_and(exceeded);
        let Some(Value::Array(items)) = value.get_mut("features").map(Value::take) else {
            return Err("the page is not a GeoJSON FeatureCollection (no 'features')".into());
        };
        let mut features = Vec::with_capacity(items.len());
        let mut skipped = Vec::new();
        let mut last_oid = None;
        for (index, mut item) in items.into_iter().enumerate() {
            let properties = match item.get_mut("properties").map(Value::take) {
                Some(Value::Object(p)) => p,
                None | Some(Value::Null) => Properties::new(),
                Some(_) => return Err(format!("feature {index}: 'properties' is not an object")),
            };
            let geometry = match item.get("geometry") {
                None | Some(Value::Null) => None,
                Some(g) => match geoconsole_formats::geometry_from_geojson(g) {
                    Ok(g) => Some(g),
                    Err(e) => {
                        skipped.push(format!(
                            "{}: {e}",
                            self.named(index, item.get("id"), &properties)
                        ));
                        continue;
                    }
                },
            };
            features.push(self.finish(
                index,
                item.get("id"),
                properties,
                geometry,
                &mut last_oid,
            )?);
        }
        Ok(Answer {
            features,
            skipped,
            exceeded,
            last_oid,
            bytes: 0,
        })
    }

    fn read_esri_json(&self, mut value: Value) -> Result<Answer, String> {
        let exceeded = exceeded(&value);
        let crs = match value.get("spatialReference") {
            Some(sr) => spatial_reference(sr)?,
            None => None,
        };
        let Some(Value::Array(items)) = value.get_mut("features").map(Value::take) else {
            return Err("the page is not an Esri JSON feature set (no 'features')".into());
        };
        let mut features = Vec::with_capacity(items.len());
        let mut skipped = Vec::new();
        let mut last_oid = None;
        for (index, mut item) in items.into_iter().enumerate() {
            let properties = match item.get_mut("attributes").map(Value::take) {
                Some(Value::Object(p)) => p,
                None | Some(Value::Null) => Properties::new(),
                Some(_) => return Err(format!("feature {index}: 'attributes' is not an object")),
            };
            // A geometry that cannot be used leaves that feature out, named by its object id; the rest of
            // the layer still syncs.
            let geometry = match item.get("geometry") {
                None => Ok(None),
                Some(g) => esri::geometry(g),
            }
            .and_then(|g| match (&crs, g) {
                (Some(crs), Some(g)) => crs.to_wgs84(g).map(Some),
                (_, g) => Ok(g),
            })
            .and_then(|g| match &g {
                Some(shape) => validate_geometry(shape)
                    .map(|()| g)
                    .map_err(|e| e.message().to_string()),
                None => Ok(g),
            });
            let geometry = match geometry {
                Ok(g) => g,
                Err(e) => {
                    skipped.push(format!("{}: {e}", self.named(index, None, &properties)));
                    continue;
                }
            };
            features.push(self.finish(index, None, properties, geometry, &mut last_oid)?);
        }
        Ok(Answer {
            features,
            skipped,
            exceeded,
            last_oid,
            bytes: 0,
        })
    }
}

struct Answer {
    features: Vec<Feature>,
    /// Features whose geometry cannot be used, each reason naming the feature's object id.
    skipped: Vec<String>,
    exceeded: bool,
    last_oid: Option<i64>,
    bytes: u64,
}

fn exceeded(value: &Value) -> bool {
    value
        .get("exceededTransferLimit")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Which failures of a paged query mean "this server cannot page this layer" rather than "it is down".
fn falls_back(error: &ConnectorError) -> bool {
    matches!(
        error.kind,
        ConnectorErrorKind::Service | ConnectorErrorKind::Fetch(FetchErrorKind::Status)
    )
}

fn esri_id(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => (f as i64).to_string(),
            _ => n.to_string(),
        }),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The reprojection a page needs: `None` when it is in WGS84 as asked (`outSR=4326`). A server that
/// ignores `outSR` still says what it sent, and that is honoured.
fn spatial_reference(sr: &Value) -> Result<Option<geoconsole_formats::Crs>, String> {
    let code = sr
        .get("latestWkid")
        .and_then(Value::as_u64)
        .or_else(|| sr.get("wkid").and_then(Value::as_u64));
    match code {
        None | Some(4326) => Ok(None),
        // Esri's own codes for Web Mercator, from before EPSG registered 3857.
        Some(102100 | 102113 | 900913) => geoconsole_formats::Crs::from_epsg(3857).map(Some),
        Some(code) => u32::try_from(code)
            .map_err(|_| format!("spatial reference {code} is not an EPSG code"))
            .and_then(geoconsole_formats::Crs::from_epsg)
            .map(Some)
            .map_err(|e| {
                format!("the page is in spatial reference {code}, which cannot be read: {e}")
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_urls() {
        for ok in [
            "https://x.example/arcgis/rest/services/NFHL/MapServer/28",
            "https://x.example/arcgis/rest/services/A/FeatureServer/0/",
        ] {
            assert!(check_url(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "https://x.example/arcgis/rest/services/A/FeatureServer",
            "https://x.example/arcgis/rest/services/A/ImageServer/0",
        ] {
            assert!(check_url(&Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_in_a_200_answer_are_read() {
        let value = serde_json::json!({"error": {"code": 400, "message": "Unable to complete operation.", "details": ["Pagination is not supported."]}});
        let message = service_error(&value).unwrap();
        assert!(message.contains("400") && message.contains("Pagination is not supported"));
    }
}
