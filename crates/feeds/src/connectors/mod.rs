//! Connectors: whole layers read from the services where public data lives, page by page, where a feed is one
//! document per poll. It owns the protocol clients for ArcGIS REST FeatureServer/MapServer layers
//! ([`arcgis`]), Socrata SODA datasets ([`socrata`]), OGC API – Features collections ([`oapif`]) and WFS 2.0
//! feature types ([`wfs`], with GML 3.2 geometries read by [`gml`] over the feeds' hardened XML reader), the
//! definition of such a source ([`SourceSpec`]),
//! and the paging discipline they share ([`SourceSync`]): pages and features are bounded, a page that brings
//! nothing new is counted, and a server that keeps answering the same page ends the sync with a
//! [`ConnectorErrorKind::Loop`] error instead of a hang.
//!
//! It may depend on the guarded [`Fetcher`] (so every request passes the network policy and the caps) and on
//! the model's types. It knows nothing of stores or the console: the app drives a [`SourceSync`] and writes
//! each [`Page`] through its one write path (and the data-protection guard), as it does a feed's items.

mod arcgis;
mod esri;
mod gml;
mod oapif;
mod socrata;
mod wfs;

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use geoconsole_model::{Feature, FeatureId};
use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::fetch::{FetchErrorKind, Fetched, Fetcher};

/// The protocols a source speaks.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// An ArcGIS REST FeatureServer or MapServer layer (`…/FeatureServer/0`).
    Arcgis,
    /// A Socrata SODA dataset (`…/resource/abcd-1234.json`).
    Socrata,
    /// An OGC API – Features collection (`…/collections/{collectionId}`).
    Oapif,
    /// A feature type of an OGC WFS 2.0 service (the service's endpoint, the type in `dataset`).
    Wfs,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arcgis => "arcgis",
            Self::Socrata => "socrata",
            Self::Oapif => "oapif",
            Self::Wfs => "wfs",
        }
    }
}

/// A source: the protocol, the layer or resource, and how to read it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SourceSpec {
    pub kind: SourceKind,
    /// ArcGIS: the layer's URL (`…/FeatureServer/0`, no `/query`). Socrata: the resource
    /// (`…/resource/abcd-1234.json`). OGC API – Features: the collection (`…/collections/{id}`). WFS: the
    /// service endpoint, with the vendor parameters it needs (MapServer's `?map=…`) and nothing else.
    pub url: String,
    pub options: SourceOptions,
}

/// How to read a source, as its owner writes it (a feed's `source`); every part is optional.
#[derive(schemars::JsonSchema, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOptions {
    /// WFS: the feature type (`ns:name`, or the name alone when one type has it); a `typeNames` parameter in
    /// the URL says the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub layer: Option<String>,
    /// A filter in the service's own language: ArcGIS `where`, Socrata `$where`, OGC API – Features CQL2
    /// text (where the server declares CQL2), WFS an FES 2.0 `<fes:Filter>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub filter: Option<String>,
    /// The fields to fetch (ArcGIS `outFields`, Socrata `$select`); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 500))]
    pub fields: Vec<String>,
    /// The field that says when a row last changed, for incremental syncs: an ArcGIS date field
    /// (`EditDate`); Socrata uses `:updated_at` when this is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_:][A-Za-z0-9_.:]{0,127}$"))]
    pub updated_field: Option<String>,
    /// Socrata's application token, sent as `X-App-Token` (never in the URL, so it is not logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub app_token: Option<String>,
    /// Rows per request; at most the layer's `maxRecordCount` (ArcGIS), default 1000 (Socrata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100_000))]
    pub page_size: Option<u32>,
    /// Socrata: the point or location column that becomes the geometry, or `lat_column,lon_column`; else the
    /// first such column, or columns named latitude and longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub geometry_field: Option<String>,
    /// Seconds between full syncs, which also find the rows the source deleted; the polls between them
    /// fetch only rows changed since the last (with `updated_field`, or Socrata's `:updated_at`). Default
    /// one day; without an updated field every poll is a full sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2_592_000))]
    pub full_sync_s: Option<u64>,
    /// OGC API – Features and WFS: only features meeting this box, `west,south,east,north` in longitude and
    /// latitude (CRS84).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 7, max = 200))]
    pub bbox: Option<String>,
    /// OGC API – Features: the `datetime` parameter (an instant, or an interval such as
    /// `2024-01-01T00:00:00Z/..`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub datetime: Option<String>,
    /// WFS: the property that tells features apart and orders pages (`sortBy`); found from
    /// DescribeFeatureType (an integer `gid`, `fid`, `id`, `objectid`…) when not set. OGC API – Features:
    /// the property that tells features apart, for servers that give features no `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_:][A-Za-z0-9_.:]{0,127}$"))]
    pub id_field: Option<String>,
}

impl fmt::Debug for SourceOptions {
    // The token is a credential: debug output (logs, panics) says only whether there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceOptions")
            .field("filter", &self.filter)
            .field("fields", &self.fields)
            .field("updated_field", &self.updated_field)
            .field("app_token", &self.app_token.as_ref().map(|_| "…"))
            .field("page_size", &self.page_size)
            .field("geometry_field", &self.geometry_field)
            .field("full_sync_s", &self.full_sync_s)
            .field("layer", &self.layer)
            .field("bbox", &self.bbox)
            .field("datetime", &self.datetime)
            .field("id_field", &self.id_field)
            .finish()
    }
}

impl SourceSpec {
    pub fn new(kind: SourceKind, url: impl Into<String>) -> Self {
        Self {
            kind,
            url: url.into(),
            options: SourceOptions::default(),
        }
    }

    /// Parses the URL and checks what can be checked without asking the service.
    pub fn validate(&self) -> Result<Url, ConnectorError> {
        let url = Url::parse(&self.url).map_err(|e| {
            ConnectorError::spec(&self.url, format!("'{}' is not a URL: {e}", self.url))
        })?;
        if self.kind != SourceKind::Wfs && url.query().is_some_and(|q| !q.is_empty()) {
            return Err(ConnectorError::spec(
                &self.url,
                "the URL must name the layer or resource without a query; filters go in 'filter'",
            ));
        }
        if self.options.page_size == Some(0) {
            return Err(ConnectorError::spec(
                &self.url,
                "page_size must be at least 1",
            ));
        }
        for field in &self.options.fields {
            if field.is_empty() || field.contains([',', '&', '\'', '"']) {
                return Err(ConnectorError::spec(
                    &self.url,
                    format!("'{field}' is not a field name"),
                ));
            }
        }
        if let Some(field) = &self.options.geometry_field {
            socrata::check_geometry_field(field).map_err(|m| ConnectorError::spec(&self.url, m))?;
        }
        if let Some(field) = &self.options.updated_field
            && !is_plain_name(field)
        {
            return Err(ConnectorError::spec(
                &self.url,
                format!("updated_field '{field}' is not a field name"),
            ));
        }
        if let Some(field) = &self.options.id_field
            && !is_plain_name(field)
        {
            return Err(ConnectorError::spec(
                &self.url,
                format!("id_field '{field}' is not a field name"),
            ));
        }
        let ogc = matches!(self.kind, SourceKind::Oapif | SourceKind::Wfs);
        if let Some(bbox) = &self.options.bbox {
            if !ogc {
                return Err(ConnectorError::spec(
                    &self.url,
                    "bbox is for oapif and wfs sources; put the area in the filter",
                ));
            }
            parse_bbox(bbox).map_err(|m| ConnectorError::spec(&self.url, m))?;
        }
        if let Some(datetime) = &self.options.datetime
            && (self.kind != SourceKind::Oapif || !is_datetime_param(datetime))
        {
            return Err(ConnectorError::spec(
                &self.url,
                if self.kind == SourceKind::Oapif {
                    format!("datetime '{datetime}' is not an RFC 3339 instant or interval")
                } else {
                    "datetime is for oapif sources; put the times in the filter".to_string()
                },
            ));
        }
        if self.options.layer.is_some() && self.kind != SourceKind::Wfs {
            return Err(ConnectorError::spec(
                &self.url,
                "dataset names a WFS feature type; other kinds name theirs in the URL",
            ));
        }
        match self.kind {
            SourceKind::Arcgis => {
                arcgis::check_url(&url).map_err(|m| ConnectorError::spec(&self.url, m))?
            }
            SourceKind::Socrata => {
                socrata::check_url(&url).map_err(|m| ConnectorError::spec(&self.url, m))?
            }
            SourceKind::Oapif => {
                oapif::check_url(&url).map_err(|m| ConnectorError::spec(&self.url, m))?
            }
            SourceKind::Wfs => {
                wfs::check_url(&url, self.options.layer.as_deref())
                    .map_err(|m| ConnectorError::spec(&self.url, m))?;
            }
        }
        Ok(url)
    }
}

/// `west,south,east,north` in degrees, each finite and in range, west and south below east and north (a box
/// across the antimeridian, west > east, is allowed as OGC API – Features allows it).
fn parse_bbox(text: &str) -> Result<[f64; 4], String> {
    let numbers: Vec<f64> = text
        .split(',')
        .map(|n| n.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bbox '{text}' is not four numbers west,south,east,north"))?;
    let [west, south, east, north] = <[f64; 4]>::try_from(numbers)
        .map_err(|_| format!("bbox '{text}' is not four numbers west,south,east,north"))?;
    let lon = -180.0..=180.0;
    let lat = -90.0..=90.0;
    if !(lon.contains(&west) && lon.contains(&east) && lat.contains(&south) && lat.contains(&north))
        || south > north
    {
        return Err(format!(
            "bbox '{text}' is not a box of longitudes and latitudes (west,south,east,north)"
        ));
    }
    Ok([west, south, east, north])
}

/// An OGC API `datetime`: an RFC 3339 instant or date, or an interval of two (either end `..` or empty).
fn is_datetime_param(text: &str) -> bool {
    let instant = |t: &str| {
        DateTime::parse_from_rfc3339(t).is_ok()
            || chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok()
    };
    let open = |t: &str| t.is_empty() || t == "..";
    match text.split_once('/') {
        Some((a, b)) => (open(a) || instant(a)) && (open(b) || instant(b)) && !(open(a) && open(b)),
        None => instant(text),
    }
}

/// A field name that can go into a query unquoted.
fn is_plain_name(name: &str) -> bool {
    let name = name.strip_prefix(':').unwrap_or(name);
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Bounds on one sync, so a server that never says "done" costs a bounded number of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncLimits {
    pub max_pages: u32,
    pub max_features: u64,
    /// Pages in a row that bring no feature not seen before; past this the server is going round in
    /// circles. Empty pages flagged "more to come" count too, as do repeated ones.
    pub max_stalled_pages: u32,
    /// Caps of each request (the source's own `timeout_ms` and `max_bytes`); the fetcher's when `None`.
    pub fetch: Option<crate::FetchLimits>,
}

impl Default for SyncLimits {
    fn default() -> Self {
        Self {
            max_pages: 100_000,
            max_features: 20_000_000,
            max_stalled_pages: 20,
            fetch: None,
        }
    }
}

/// One page of features, in the order the service gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// 1-based, in request order.
    pub number: u32,
    /// The request that brought it.
    pub url: String,
    /// Every feature has an id (the object id, Socrata's `:id`, an OGC API feature's `id`, a WFS feature's
    /// `gml:id` or key); none repeats an earlier page's.
    pub features: Vec<Feature>,
    /// Bytes of the answer after decoding.
    pub bytes: u64,
}

/// How the layer was walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PagingMode {
    /// `resultOffset`/`resultRecordCount` (ArcGIS), `$offset`/`$limit` (Socrata) or `STARTINDEX`/`COUNT`
    /// (WFS).
    Offset,
    /// ArcGIS object-id ranges, after `returnIdsOnly`.
    ObjectIds,
    /// OGC API – Features: the `rel=next` link of each page, as the server wrote it.
    NextLinks,
    /// One request: the server does not page (a WFS that does not implement result paging).
    Unpaged,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    pub url: String,
    pub features: u64,
    /// Pages handed out (the metadata and id requests are not pages).
    pub pages: u32,
    /// Every request made, metadata and ids included.
    pub requests: u32,
    pub bytes: u64,
    /// Features dropped because an earlier page had them already (servers that overlap pages).
    pub duplicates: u64,
    pub duration: Duration,
    pub mode: PagingMode,
    /// Why offset paging was given up for object ids, when it was.
    pub fallback: Option<String>,
    /// The latest "updated" time seen (the `updated_field`, Socrata's `:updated_at` by default): the `since` of the
    /// next incremental sync, on the server's clock rather than ours.
    pub latest_update: Option<DateTime<Utc>>,
    /// How many features the server said match (OGC `numberMatched`), when it said.
    pub matched: Option<u64>,
    /// What the sync could not do and did not fail for (a WFS without paging that stopped at its cap).
    pub warnings: Vec<String>,
    /// Features left out because their geometry cannot be used (a ring of two positions, a latitude of
    /// 95), each named by its id; the rest of the layer still syncs.
    pub skipped: u64,
    /// The first [`MAX_SKIPPED_REASONS`] of them.
    pub skipped_reasons: Vec<String>,
    /// The fields the service says hold each feature's time, start and end (an ArcGIS layer's
    /// `timeInfo`): the event times when the source names none.
    pub time_fields: Option<(String, Option<String>)>,
}

/// How many skipped features a report names; the count covers the rest.
pub const MAX_SKIPPED_REASONS: usize = 20;

impl SyncReport {
    pub fn features_per_second(&self) -> f64 {
        self.features as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

/// Which way a sync failed; the message says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorErrorKind {
    /// The definition cannot work (not a URL, not a layer).
    Spec,
    /// The request failed: refused by the guard, timed out, an error status, over a cap.
    Fetch(FetchErrorKind),
    /// The service answered with an error of its own (ArcGIS answers errors with `200 OK` and `{"error"}`).
    Service,
    /// The answer is not what the protocol documents.
    Format,
    /// The server keeps answering without progress (the same page, or empty pages that say "more").
    Loop,
    /// More pages or features than the sync's limits allow.
    Limit,
    /// The page's consumer refused it.
    Consumer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConnectorError {
    pub kind: ConnectorErrorKind,
    /// The request that failed (the layer's URL for definition errors).
    pub url: String,
    /// The page being fetched, when it was a page.
    pub page: Option<u32>,
    pub message: String,
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.page {
            Some(page) => write!(f, "page {page} ({}): {}", self.url, self.message),
            None => write!(f, "{}: {}", self.url, self.message),
        }
    }
}

impl ConnectorError {
    pub(crate) fn new(
        kind: ConnectorErrorKind,
        url: impl Into<String>,
        page: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            url: url.into(),
            page,
            message: message.into(),
        }
    }

    fn spec(url: &str, message: impl Into<String>) -> Self {
        Self::new(ConnectorErrorKind::Spec, url, None, message)
    }
}

/// A sync in progress: ask for pages until there are none. Pulling (rather than a callback) lets the caller
/// await its own writes between pages, so a slow store slows the requests instead of piling pages up.
pub struct SourceSync {
    inner: Protocol,
    walk: Walk,
}

enum Protocol {
    Arcgis(Box<arcgis::ArcgisSync>),
    Socrata(Box<socrata::SocrataSync>),
    Oapif(Box<oapif::OapifSync>),
    Wfs(Box<wfs::WfsSync>),
}

impl SourceSync {
    /// Checks the definition and, for ArcGIS, reads the layer's metadata. With `since`, only rows whose
    /// updated field is later are fetched.
    pub async fn start(
        fetcher: &Fetcher,
        source: &SourceSpec,
        since: Option<DateTime<Utc>>,
        limits: SyncLimits,
    ) -> Result<Self, ConnectorError> {
        let url = source.validate()?;
        let mut walk = Walk::new(fetcher.clone(), source.url.clone(), limits);
        let inner = match source.kind {
            SourceKind::Arcgis => Protocol::Arcgis(Box::new(
                arcgis::ArcgisSync::start(&mut walk, url, source, since).await?,
            )),
            SourceKind::Socrata => {
                Protocol::Socrata(Box::new(socrata::SocrataSync::start(url, source, since)?))
            }
            SourceKind::Oapif => Protocol::Oapif(Box::new(
                oapif::OapifSync::start(&mut walk, url, source, since).await?,
            )),
            SourceKind::Wfs => Protocol::Wfs(Box::new(
                wfs::WfsSync::start(&mut walk, url, source, since).await?,
            )),
        };
        Ok(Self { inner, walk })
    }

    /// The next page, or `None` when the layer has been read to its end.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        if self.walk.exhausted {
            return Ok(None);
        }
        match &mut self.inner {
            Protocol::Arcgis(sync) => sync.next_page(&mut self.walk).await,
            Protocol::Socrata(sync) => sync.next_page(&mut self.walk).await,
            Protocol::Oapif(sync) => sync.next_page(&mut self.walk).await,
            Protocol::Wfs(sync) => sync.next_page(&mut self.walk).await,
        }
    }

    /// What was done so far.
    pub fn report(&self) -> SyncReport {
        let (mode, fallback) = match &self.inner {
            Protocol::Arcgis(sync) => sync.mode(),
            Protocol::Socrata(_) => (PagingMode::Offset, None),
            Protocol::Oapif(_) => (PagingMode::NextLinks, None),
            Protocol::Wfs(sync) => (sync.mode(), None),
        };
        SyncReport {
            url: self.walk.source_url.clone(),
            features: self.walk.features,
            pages: self.walk.pages,
            requests: self.walk.requests,
            bytes: self.walk.bytes,
            duplicates: self.walk.duplicates,
            duration: self.walk.started.elapsed(),
            mode,
            fallback,
            latest_update: self.walk.latest_update,
            matched: self.walk.matched,
            warnings: self.walk.warnings.clone(),
            skipped: self.walk.skipped,
            skipped_reasons: self.walk.skipped_reasons.clone(),
            time_fields: match &self.inner {
                Protocol::Arcgis(sync) => sync.time_fields(),
                _ => None,
            },
        }
    }
}

/// Reads a whole source, handing each page to `on_page`; an error from it stops the sync.
pub async fn sync<E: fmt::Display>(
    fetcher: &Fetcher,
    source: &SourceSpec,
    since: Option<DateTime<Utc>>,
    mut on_page: impl FnMut(Page) -> Result<(), E>,
) -> Result<SyncReport, ConnectorError> {
    let mut sync = SourceSync::start(fetcher, source, since, SyncLimits::default()).await?;
    while let Some(page) = sync.next_page().await? {
        let (number, url) = (page.number, page.url.clone());
        on_page(page).map_err(|e| {
            ConnectorError::new(
                ConnectorErrorKind::Consumer,
                url,
                Some(number),
                e.to_string(),
            )
        })?;
    }
    Ok(sync.report())
}

/// The bookkeeping every protocol shares: requests through the fetcher, ids seen, progress and limits.
struct Walk {
    fetcher: Fetcher,
    source_url: String,
    limits: SyncLimits,
    started: Instant,
    seen: HashSet<String>,
    pages: u32,
    requests: u32,
    features: u64,
    bytes: u64,
    duplicates: u64,
    stalled: u32,
    latest_update: Option<DateTime<Utc>>,
    matched: Option<u64>,
    warnings: Vec<String>,
    skipped: u64,
    skipped_reasons: Vec<String>,
    /// The server kept promising more and sent only empty pages: the walk ended there.
    exhausted: bool,
}

impl Walk {
    fn new(fetcher: Fetcher, source_url: String, limits: SyncLimits) -> Self {
        Self {
            fetcher,
            source_url,
            limits,
            started: Instant::now(),
            seen: HashSet::new(),
            pages: 0,
            requests: 0,
            features: 0,
            bytes: 0,
            duplicates: 0,
            stalled: 0,
            latest_update: None,
            matched: None,
            warnings: Vec::new(),
            skipped: 0,
            skipped_reasons: Vec::new(),
            exhausted: false,
        }
    }

    /// GETs `url` through the guard; `page` names the page in errors.
    async fn get(
        &mut self,
        url: &Url,
        headers: &[(&str, &str)],
        page: Option<u32>,
    ) -> Result<(Vec<u8>, HeaderMap), ConnectorError> {
        self.requests += 1;
        let answer = self
            .fetcher
            .get_with_headers(url, headers, self.limits.fetch)
            .await;
        let (fetched, response_headers) = answer.map_err(|e| fetch_error(e, url, page))?;
        let body = self.body(fetched, &response_headers, url, page)?;
        Ok((body, response_headers))
    }

    /// GETs `url` through the guard and hands back error statuses with their bodies, for protocols whose
    /// servers explain refusals in a body of their own; a `304` is an error as in [`Walk::get`].
    async fn get_answer(
        &mut self,
        url: &Url,
        headers: &[(&str, &str)],
        page: Option<u32>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), ConnectorError> {
        self.requests += 1;
        let answer = self
            .fetcher
            .get_answer(url, headers, self.limits.fetch)
            .await;
        let (status, fetched, response_headers) = answer.map_err(|e| fetch_error(e, url, page))?;
        let body = self.body(fetched, &response_headers, url, page)?;
        Ok((status, body))
    }

    /// A fetched answer's body, counted and in UTF-8 where it is JSON; a `304` is an error, since no
    /// request of a sync sends validators.
    fn body(
        &mut self,
        fetched: Fetched,
        headers: &HeaderMap,
        url: &Url,
        page: Option<u32>,
    ) -> Result<Vec<u8>, ConnectorError> {
        match fetched {
            Fetched::Body { bytes, .. } => {
                self.bytes += bytes.len() as u64;
                Ok(json_as_utf8(bytes, headers))
            }
            Fetched::NotModified => Err(ConnectorError::new(
                ConnectorErrorKind::Format,
                shown(url),
                page,
                "the server answered 304 Not Modified to a request without validators",
            )),
        }
    }

    /// A feature left out, and why (the reason names it by its id).
    fn skip(&mut self, page: u32, reason: String) {
        self.skipped += 1;
        if self.skipped_reasons.len() < MAX_SKIPPED_REASONS {
            tracing::warn!(source = %self.source_url, page, "feature skipped: {reason}");
            self.skipped_reasons.push(format!("page {page}: {reason}"));
        }
    }

    fn warn(&mut self, message: String) {
        tracing::warn!(source = %self.source_url, "{message}");
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// The number the next page will have, refused past the page limit.
    fn next_number(&self, url: &Url) -> Result<u32, ConnectorError> {
        if self.pages >= self.limits.max_pages {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Limit,
                url.as_str(),
                Some(self.pages + 1),
                format!(
                    "more than {} pages; the sync stops here",
                    self.limits.max_pages
                ),
            ));
        }
        Ok(self.pages + 1)
    }

    /// Drops features seen on earlier pages, counts progress and turns a page into a [`Page`]. `why` says,
    /// for the error, what made this page look like more was coming.
    fn accept(
        &mut self,
        url: &Url,
        bytes: u64,
        features: Vec<Feature>,
        why: &str,
    ) -> Result<Page, ConnectorError> {
        self.pages += 1;
        let number = self.pages;
        let received = features.len();
        let mut fresh = Vec::with_capacity(received);
        for feature in features {
            let id = feature.id.as_ref().map(FeatureId::as_str).unwrap_or("");
            if self.seen.contains(id) {
                self.duplicates += 1;
            } else {
                self.seen.insert(id.to_string());
                fresh.push(feature);
            }
        }
        if fresh.is_empty() {
            self.stalled += 1;
            if self.stalled >= self.limits.max_stalled_pages && received == 0 && self.features > 0 {
                // A server that says "more" on every page past its last row (an outside tester's ArcGIS
                // and OGC API servers): what it had was read, so the sync keeps it and says so, rather
                // than losing the whole layer to the server's habit.
                self.warn(format!(
                    "the server sent {} empty pages in a row while {why}; taken as the end of the layer",
                    self.stalled
                ));
                self.exhausted = true;
            } else if self.stalled >= self.limits.max_stalled_pages {
                let what = if received == 0 {
                    "empty pages".to_string()
                } else {
                    "pages of features it had sent already".to_string()
                };
                return Err(ConnectorError::new(
                    ConnectorErrorKind::Loop,
                    url.as_str(),
                    Some(number),
                    format!(
                        "the server sent {} {what} in a row while {why}; it is not making progress, so the sync stops",
                        self.stalled
                    ),
                ));
            }
        } else {
            self.stalled = 0;
        }
        self.features += fresh.len() as u64;
        if self.features > self.limits.max_features {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Limit,
                url.as_str(),
                Some(number),
                format!(
                    "more than {} features; the sync stops here",
                    self.limits.max_features
                ),
            ));
        }
        Ok(Page {
            number,
            url: url.to_string(),
            features: fresh,
            bytes,
        })
    }

    fn saw_update(&mut self, at: DateTime<Utc>) {
        if self.latest_update.is_none_or(|latest| at > latest) {
            self.latest_update = Some(at);
        }
    }
}

/// A failed request as the sync reports it: the request (without credentials) and the page.
fn fetch_error(error: crate::FetchError, url: &Url, page: Option<u32>) -> ConnectorError {
    ConnectorError::new(
        ConnectorErrorKind::Fetch(error.kind),
        shown(url),
        page,
        error.message,
    )
}

/// A JSON body in UTF-8. JSON is UTF-8 (RFC 8259), but some servers send Latin-1 and say so in
/// `Content-Type` (`application/json; charset=ISO-8859-1`): such a body is decoded by its charset. A body
/// that is valid UTF-8 is kept as it is whatever the header claims (a wrong label is the commoner fault),
/// and XML is left to its own declaration.
fn json_as_utf8(bytes: Vec<u8>, headers: &HeaderMap) -> Vec<u8> {
    let Some(content_type) = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
    else {
        return bytes;
    };
    if !content_type.contains("json") {
        return bytes;
    }
    // A byte-order mark is not JSON; some servers write one all the same.
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return rest.to_vec();
    }
    if std::str::from_utf8(&bytes).is_ok() {
        return bytes;
    }
    let label = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("charset="))
        .map(|l| l.trim_matches('"').to_string());
    match label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes())) {
        // `decode` follows a byte-order mark (UTF-16 bodies) and drops it.
        Some(encoding) if encoding != encoding_rs::UTF_8 => {
            encoding.decode(&bytes).0.into_owned().into_bytes()
        }
        _ => bytes,
    }
}

/// A URL as errors show it: without a user name or password, should one have been written into it.
fn shown(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// The start of a body, for messages about bodies that are not what was expected.
fn body_start(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]);
    geoconsole_model::excerpt(text.trim(), 200).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_declared_latin1_is_decoded_and_valid_utf8_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=ISO-8859-1".parse().unwrap(),
        );
        let latin1 = b"{\"name\":\"Z\xfcrich\"}".to_vec();
        assert_eq!(
            String::from_utf8(json_as_utf8(latin1, &headers)).unwrap(),
            "{\"name\":\"Z\u{fc}rich\"}"
        );
        let utf8 = "{\"name\":\"Z\u{fc}rich\"}".as_bytes().to_vec();
        assert_eq!(json_as_utf8(utf8.clone(), &headers), utf8);
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            "text/xml; charset=ISO-8859-1".parse().unwrap(),
        );
        assert_eq!(json_as_utf8(b"\xfc".to_vec(), &headers), b"\xfc".to_vec());
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=UTF-16".parse().unwrap(),
        );
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("[1]".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(json_as_utf8(utf16, &headers), b"[1]".to_vec());
        assert_eq!(
            json_as_utf8(b"\xef\xbb\xbf[1]".to_vec(), &headers),
            b"[1]".to_vec()
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let mut spec = SourceSpec::new(
            SourceKind::Socrata,
            "https://data.example/resource/abcd-1234.json",
        );
        spec.options.app_token = Some("s3cret-token".into());
        assert!(!format!("{spec:?}").contains("s3cret"));
    }

    #[test]
    fn definitions_are_checked() {
        let ok = SourceSpec::new(
            SourceKind::Arcgis,
            "https://services.example/arcgis/rest/services/Flood/FeatureServer/0",
        );
        assert!(ok.validate().is_ok());
        let mut query = ok.clone();
        query.url.push_str("/query?where=1%3D1");
        assert_eq!(query.validate().unwrap_err().kind, ConnectorErrorKind::Spec);
        let mut field = ok.clone();
        field.options.updated_field = Some("EditDate' OR 1=1".into());
        assert!(field.validate().is_err());
        let socrata = SourceSpec::new(
            SourceKind::Socrata,
            "https://data.example/resource/abcd-1234.json",
        );
        assert!(socrata.validate().is_ok());
        let not_resource = SourceSpec::new(SourceKind::Socrata, "https://data.example/d/abcd-1234");
        assert!(not_resource.validate().is_err());

        let mut oapif = SourceSpec::new(
            SourceKind::Oapif,
            "https://api.example/ogc/collections/sites",
        );
        assert!(oapif.validate().is_ok());
        oapif.options.bbox = Some("-10,40,5,52".into());
        oapif.options.datetime = Some("2024-01-01T00:00:00Z/..".into());
        assert!(oapif.validate().is_ok());
        for bad in ["1,2,3", "-10,40,5,120", "a,b,c,d", "0,10,1,5", "1,2,3,NaN"] {
            let mut b = oapif.clone();
            b.options.bbox = Some(bad.into());
            assert!(b.validate().is_err(), "{bad}");
        }
        for (text, ok) in [
            ("2024-01-01T00:00:00Z", true),
            ("../2024-01-01", true),
            ("2024-01-01T00:00:00Z/2024-02-01T00:00:00Z", true),
            ("../..", false),
            ("yesterday", false),
            ("2024-01-01T00:00:00Z&limit=5", false),
        ] {
            let mut d = oapif.clone();
            d.options.datetime = Some(text.into());
            assert_eq!(d.validate().is_ok(), ok, "{text}");
        }
        let mut items = oapif.clone();
        items.url = "https://api.example/ogc/collections/sites/items?limit=5".into();
        assert!(items.validate().is_err());
        let mut arcgis_bbox = ok.clone();
        arcgis_bbox.options.bbox = Some("-10,40,5,52".into());
        assert!(arcgis_bbox.validate().is_err());

        let mut wfs = SourceSpec::new(
            SourceKind::Wfs,
            "https://maps.example/cgi-bin/mapserv?map=/data/sites.map",
        );
        assert!(wfs.validate().unwrap_err().message.contains("dataset"));
        wfs.options.layer = Some("ms:sites".into());
        assert!(wfs.validate().is_ok());
        wfs.options.datetime = Some("2024-01-01T00:00:00Z".into());
        assert!(wfs.validate().is_err());
    }
}
