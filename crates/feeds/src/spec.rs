//! A feed's definition as its owner writes it (config `[[feeds]]`, the API, `geoconsole feeds add`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fetch::FetchLimits;

/// The formats feeds arrive in. Each names a published specification or a service's documented output.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// USGS earthquake summary feeds (GeoJSON; `time`/`updated` in epoch ms, the feature id is the event id).
    Usgs,
    /// api.weather.gov `/alerts` (GeoJSON features whose properties are CAP fields).
    NwsAlerts,
    /// One OASIS CAP 1.2 (or 1.1) `<alert>` document.
    Cap,
    /// An Atom or RSS index whose entries are CAP alerts, inline (`cap:` fields) or linked documents.
    CapIndex,
    /// RSS 2.0 or Atom with GeoRSS (simple or GML) or W3C geo points; GDACS feeds are read this way, with
    /// their `gdacs:` fields as properties.
    Georss,
    /// NASA FIRMS active-fire CSV (MODIS or VIIRS).
    Firms,
    /// Files published at a URL, read by the console's own file readers (and checked by its data-protection
    /// guard): any format it imports.
    Geojson,
    Geojsonseq,
    Csv,
    Kml,
    Gpx,
    Fgb,
    Geoparquet,
    /// A zipped shapefile.
    Shapefile,
    Gpkg,
    /// A whole ArcGIS REST FeatureServer/MapServer layer, read page by page (`…/FeatureServer/0`).
    Arcgis,
    /// A whole Socrata SODA dataset, read page by page (`…/resource/abcd-1234.json`).
    Socrata,
    /// A whole OGC API – Features collection, read by its next links (`…/collections/{id}`).
    Oapif,
    /// A whole WFS 2.0 feature type, read page by page (the service endpoint; the type in `source.layer`).
    Wfs,
}

impl FeedFormat {
    pub const ALL: [Self; 19] = [
        Self::Usgs,
        Self::NwsAlerts,
        Self::Cap,
        Self::CapIndex,
        Self::Georss,
        Self::Firms,
        Self::Geojson,
        Self::Geojsonseq,
        Self::Csv,
        Self::Kml,
        Self::Gpx,
        Self::Fgb,
        Self::Geoparquet,
        Self::Shapefile,
        Self::Gpkg,
        Self::Arcgis,
        Self::Socrata,
        Self::Oapif,
        Self::Wfs,
    ];

    /// The format that reads a source of this protocol page by page.
    pub fn of_source(kind: crate::connectors::SourceKind) -> Self {
        use crate::connectors::SourceKind;
        match kind {
            SourceKind::Arcgis => Self::Arcgis,
            SourceKind::Socrata => Self::Socrata,
            SourceKind::Oapif => Self::Oapif,
            SourceKind::Wfs => Self::Wfs,
        }
    }

    /// The protocol of a source read page by page; `None` for a document fetched whole.
    pub fn source_kind(self) -> Option<crate::connectors::SourceKind> {
        use crate::connectors::SourceKind;
        match self {
            Self::Arcgis => Some(SourceKind::Arcgis),
            Self::Socrata => Some(SourceKind::Socrata),
            Self::Oapif => Some(SourceKind::Oapif),
            Self::Wfs => Some(SourceKind::Wfs),
            _ => None,
        }
    }

    /// The file format of a generic feed, read as an import would read the same file; `None` for the
    /// published feed standards, which have readers of their own.
    pub fn file_format(self) -> Option<geoconsole_formats::Format> {
        use geoconsole_formats::Format;
        match self {
            Self::Geojson => Some(Format::GeoJson),
            Self::Geojsonseq => Some(Format::GeoJsonSeq),
            Self::Csv => Some(Format::Csv),
            Self::Kml => Some(Format::Kml),
            Self::Gpx => Some(Format::Gpx),
            Self::Fgb => Some(Format::FlatGeobuf),
            Self::Geoparquet => Some(Format::GeoParquet),
            Self::Shapefile => Some(Format::Shapefile),
            Self::Gpkg => Some(Format::GeoPackage),
            Self::Usgs
            | Self::NwsAlerts
            | Self::Cap
            | Self::CapIndex
            | Self::Georss
            | Self::Firms
            | Self::Arcgis
            | Self::Socrata
            | Self::Oapif
            | Self::Wfs => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usgs => "usgs",
            Self::NwsAlerts => "nws_alerts",
            Self::Cap => "cap",
            Self::CapIndex => "cap_index",
            Self::Georss => "georss",
            Self::Firms => "firms",
            Self::Geojson => "geojson",
            Self::Geojsonseq => "geojsonseq",
            Self::Csv => "csv",
            Self::Kml => "kml",
            Self::Gpx => "gpx",
            Self::Fgb => "fgb",
            Self::Geoparquet => "geoparquet",
            Self::Shapefile => "shapefile",
            Self::Gpkg => "gpkg",
            Self::Arcgis => "arcgis",
            Self::Socrata => "socrata",
            Self::Oapif => "oapif",
            Self::Wfs => "wfs",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

/// Which geometry to keep when an item has both a point and an area (GeoRSS items often do).
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Footprint {
    /// The area when there is one, else the point.
    #[default]
    Area,
    Point,
}

/// Where alerts given only by area codes are placed: the areas dataset whose `code_field` holds the
/// codes of one scheme (`scheme`, a CAP `valueName` such as `UGC`, `SAME`, `FIPS6`), or of every scheme.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"\S"))]
    pub scheme: Option<String>,
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    pub dataset: String,
    #[schemars(length(min = 1, max = 256), regex(pattern = r"\S"))]
    pub code_field: String,
}

/// Area sources a feed may name: one per scheme is the need; a few more for schemes split by country.
pub const MAX_AREA_SOURCES: usize = 16;

impl AreaSource {
    /// Whether this source holds codes of `scheme` (case-insensitive; a source without one holds all).
    pub fn holds(&self, scheme: &str) -> bool {
        self.scheme
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// Reads `[SCHEME=]dataset[:code_field]` entries separated by commas (the CLI's `--areas`), e.g.
    /// `UGC=us_zones:STATE_ZONE,SAME=us_counties:FIPS`, or `us_zones` with `default_field` given apart
    /// (`--area-code-field`).
    pub fn parse_list(text: &str, default_field: Option<&str>) -> Result<Vec<Self>, String> {
        let mut sources = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (scheme, rest) = match entry.split_once('=') {
                Some((scheme, rest)) => (Some(scheme.trim().to_string()), rest.trim()),
                None => (None, entry),
            };
            let (dataset, field) = match rest.split_once(':') {
                Some((dataset, field)) => (dataset.trim(), Some(field.trim())),
                None => (rest, default_field),
            };
            let Some(field) = field.filter(|f| !f.is_empty()) else {
                return Err(format!(
                    "areas '{entry}' names no code field: write dataset:field or give --area-code-field"
                ));
            };
            sources.push(Self {
                scheme,
                dataset: dataset.to_string(),
                code_field: field.to_string(),
            });
        }
        Ok(sources)
    }
}

/// One feed.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    /// 1 to 64 letters, digits, `-` or `_`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub name: String,
    #[schemars(regex(pattern = r"^https?://"))]
    pub url: String,
    pub format: FeedFormat,
    /// The dataset new items are written to (created on the first poll).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    pub dataset: String,
    #[serde(default = "default_interval")]
    #[schemars(range(min = 1, max = 604_800))]
    pub interval_s: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The property holding each item's stable id, when the format has none of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<String>,
    /// The property holding the event's time (or start), when the format does not define it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<String>,
    /// A property copied to `severity`, so rules and risk read one name across feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default)]
    pub footprint: Footprint,
    /// This feed's own time for one fetch, up to [`MAX_TIMEOUT_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_TIMEOUT_MS))]
    pub timeout_ms: Option<u64>,
    /// This feed's own cap on bytes fetched: it may lower the console's cap, never raise it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bytes: Option<u64>,
    /// Linked documents fetched per poll from an index feed (CAP in Atom), up to [`MAX_LINKED`].
    #[serde(default = "default_linked")]
    #[schemars(range(max = MAX_LINKED))]
    pub max_linked: usize,
    /// Areas datasets that place alerts given only by codes (CAP `<geocode>`, api.weather.gov zones):
    /// such an alert takes the union of the areas its codes name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_AREA_SOURCES))]
    pub areas: Vec<AreaSource>,
    /// A credential the URL needs (NASA FIRMS' MAP_KEY), written `{key}` in `url` and put in only when
    /// fetching, so the URL shown, logged and stored as the dataset's source never carries it. Views show
    /// it as `(redacted)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub key: Option<String>,
    /// What the dataset is for when a poll creates it (`events` when not said): a paged source often
    /// holds areas (flood zones) or reference layers (boundaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("enum" = ["sites", "events", "areas", "reference"]))]
    pub kind: Option<geoconsole_model::DatasetKind>,
    /// How to read a source paged by its service (formats `arcgis`, `socrata`): filter, fields, updated
    /// field for incremental syncs, page size, full-sync interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::connectors::SourceOptions>,
}

fn default_interval() -> u64 {
    60
}
fn yes() -> bool {
    true
}
fn default_linked() -> usize {
    50
}

/// Where a feed's URL takes its key ([`FeedSpec::key`]).
pub const KEY_PLACEHOLDER: &str = "{key}";

/// The shortest poll interval: public feeds update at most every minute, and polling faster gets a client
/// blocked; one second is allowed for local simulators and tests.
pub const MIN_INTERVAL_S: u64 = 1;

/// The longest one fetch of a feed may be given (`timeout_ms`): ten minutes, for slow public servers.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// The most linked documents one poll of an index feed may fetch (`max_linked`): each costs a fetch of up
/// to the byte cap, and what they hold is kept until the poll is written.
pub const MAX_LINKED: usize = 500;

impl FeedSpec {
    /// A feed with defaults for everything but what must be said.
    pub fn new(name: &str, url: &str, format: FeedFormat, dataset: &str) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            format,
            dataset: dataset.into(),
            interval_s: default_interval(),
            enabled: true,
            id_field: None,
            time: None,
            time_end: None,
            severity: None,
            footprint: Footprint::default(),
            timeout_ms: None,
            max_bytes: None,
            max_linked: default_linked(),
            areas: Vec::new(),
            key: None,
            kind: None,
            source: None,
        }
    }

    /// Checks what can be checked without the network; the URL's addresses are checked by the guard.
    pub fn check(&self) -> Result<(), String> {
        let simple = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !simple(&self.name) {
            return Err(format!(
                "feed name '{}' must be 1 to 64 letters, digits, '-' or '_'",
                geoconsole_model::excerpt(&self.name, 80)
            ));
        }
        if !simple(&self.dataset) {
            return Err(format!(
                "feed '{}': dataset '{}' must be 1 to 64 letters, digits, '-' or '_'",
                self.name,
                geoconsole_model::excerpt(&self.dataset, 80)
            ));
        }
        if self.interval_s < MIN_INTERVAL_S || self.interval_s > 7 * 24 * 3600 {
            return Err(format!(
                "feed '{}': interval_s must be between {MIN_INTERVAL_S} and 604800",
                self.name
            ));
        }
        // A feed cannot write into a dataset the data-protection guard would refuse by its name.
        geoconsole_formats::privacy::PrivacyGuard::check_dataset(&self.dataset, &self.name)
            .map_err(|refusal| {
                format!(
                    "feed '{}': dataset '{}': {refusal}",
                    self.name, self.dataset
                )
            })?;
        if self.timeout_ms == Some(0) || self.max_bytes == Some(0) {
            return Err(format!(
                "feed '{}': timeout_ms and max_bytes must be above 0",
                self.name
            ));
        }
        if let Some(timeout) = self.timeout_ms.filter(|t| *t > MAX_TIMEOUT_MS) {
            return Err(format!(
                "feed '{}': timeout_ms {timeout} is more than the {MAX_TIMEOUT_MS} a feed may take",
                self.name
            ));
        }
        if self.areas.len() > MAX_AREA_SOURCES {
            return Err(format!(
                "feed '{}': {} areas sources are more than the {MAX_AREA_SOURCES} a feed may name",
                self.name,
                self.areas.len()
            ));
        }
        for area in &self.areas {
            if !simple(&area.dataset) {
                return Err(format!(
                    "feed '{}': areas dataset '{}' must be 1 to 64 letters, digits, '-' or '_'",
                    self.name,
                    geoconsole_model::excerpt(&area.dataset, 80)
                ));
            }
            if area.code_field.trim().is_empty() || area.code_field.len() > 256 {
                return Err(format!(
                    "feed '{}': areas dataset '{}' needs a code field (1 to 256 characters)",
                    self.name, area.dataset
                ));
            }
            if area
                .scheme
                .as_ref()
                .is_some_and(|s| s.trim().is_empty() || s.len() > 64)
            {
                return Err(format!(
                    "feed '{}': an areas scheme must be 1 to 64 characters",
                    self.name
                ));
            }
        }
        if self.max_linked > MAX_LINKED {
            return Err(format!(
                "feed '{}': max_linked {} is more than the {MAX_LINKED} documents a poll may fetch",
                self.name, self.max_linked
            ));
        }
        match (self.url.contains(KEY_PLACEHOLDER), &self.key) {
            (true, None) => {
                return Err(format!(
                    "feed '{}': the URL has a {KEY_PLACEHOLDER} placeholder but the feed gives no key",
                    self.name
                ));
            }
            (false, Some(_)) => {
                return Err(format!(
                    "feed '{}': a key is given but the URL has no {KEY_PLACEHOLDER} placeholder to put it in",
                    self.name
                ));
            }
            (true, Some(key))
                if !key.chars().all(|c| c.is_ascii_graphic())
                    || key.contains(['/', '?', '#', '&']) =>
            {
                return Err(format!(
                    "feed '{}': the key must be printable ASCII without spaces, '/', '?', '#' or '&'",
                    self.name
                ));
            }
            _ => {}
        }
        match (self.source_spec(), &self.source) {
            (Some(source), _) => {
                source
                    .validate()
                    .map_err(|e| format!("feed '{}': {}", self.name, e.message))?;
            }
            (None, Some(_)) => {
                return Err(format!(
                    "feed '{}': 'source' options are for the arcgis, socrata, oapif and wfs formats, not {}",
                    self.name,
                    self.format.as_str()
                ));
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The URL to fetch: `url` with the key in place of its placeholder. Never log or show it.
    pub fn url_to_fetch(&self) -> String {
        match &self.key {
            Some(key) => self.url.replace(KEY_PLACEHOLDER, key),
            None => self.url.clone(),
        }
    }

    /// `text` (an error message, which may quote the fetched URL) without the key.
    pub fn without_key(&self, text: &str) -> String {
        match &self.key {
            Some(key) if !key.is_empty() => text.replace(key.as_str(), "(redacted)"),
            _ => text.to_string(),
        }
    }

    /// The source a paged format reads (its protocol, URL and options); `None` for a document feed.
    pub fn source_spec(&self) -> Option<crate::connectors::SourceSpec> {
        let kind = self.format.source_kind()?;
        Some(crate::connectors::SourceSpec {
            kind,
            url: self.url_to_fetch(),
            options: self.source.clone().unwrap_or_default(),
        })
    }

    /// Checks the feed's own caps against the console's (`base`): a feed may lower them, not raise them.
    pub fn check_within(&self, base: FetchLimits) -> Result<(), String> {
        match self.max_bytes {
            Some(bytes) if bytes > base.max_bytes => Err(format!(
                "feed '{}': max_bytes {bytes} is more than this console's cap of {} bytes; a feed may \
                 lower the cap, not raise it",
                self.name, base.max_bytes
            )),
            _ => Ok(()),
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_s)
    }

    /// The fetch caps for this feed: the console's, with its own time (up to [`MAX_TIMEOUT_MS`]) and its
    /// byte caps narrowed by its own. A definition saved before the caps were checked cannot raise them
    /// either: an editor's `max_bytes` of 4e9 once let a 600 MB body take the server to 1.78 GiB.
    pub fn limits(&self, base: FetchLimits) -> FetchLimits {
        let timeout = self
            .timeout_ms
            .map(|t| Duration::from_millis(t.min(MAX_TIMEOUT_MS)));
        let max_bytes = self
            .max_bytes
            .map_or(base.max_bytes, |b| b.min(base.max_bytes));
        FetchLimits {
            total_timeout: timeout.unwrap_or(base.total_timeout),
            connect_timeout: timeout
                .map(|t| t.min(base.connect_timeout))
                .unwrap_or(base.connect_timeout),
            max_bytes,
            max_decoded_bytes: self.max_bytes.map_or(base.max_decoded_bytes, |_| {
                max_bytes.saturating_mul(4).min(base.max_decoded_bytes)
            }),
            ..base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_read_from_the_cli_form_and_checked() {
        assert_eq!(
            AreaSource::parse_list("UGC=us_zones:STATE_ZONE, SAME=us_counties:FIPS", None).unwrap(),
            vec![
                AreaSource {
                    scheme: Some("UGC".into()),
                    dataset: "us_zones".into(),
                    code_field: "STATE_ZONE".into()
                },
                AreaSource {
                    scheme: Some("SAME".into()),
                    dataset: "us_counties".into(),
                    code_field: "FIPS".into()
                },
            ]
        );
        let one = AreaSource::parse_list("us_zones", Some("ZONE_CODE")).unwrap();
        assert_eq!(one[0].scheme, None);
        assert!(one[0].holds("ugc") && one[0].holds("SAME"));
        assert!(
            AreaSource::parse_list("us_zones", None)
                .unwrap_err()
                .contains("code field")
        );
        let mut spec = FeedSpec::new("f", "http://127.0.0.1/", FeedFormat::Cap, "alerts");
        spec.areas = AreaSource::parse_list("UGC=../etc:code", None).unwrap();
        assert!(spec.check().unwrap_err().contains("areas dataset"));
        spec.areas = AreaSource::parse_list("UGC=zones:code", None).unwrap();
        assert!(spec.areas[0].holds("ugc") && !spec.areas[0].holds("SAME"));
        assert_eq!(spec.check(), Ok(()));
        let text = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            text["areas"],
            serde_json::json!([{"scheme": "UGC", "dataset": "zones", "code_field": "code"}])
        );
    }

    #[test]
    fn names_and_intervals_are_checked() {
        let mut spec = FeedSpec::new("usgs-day", "https://x/", FeedFormat::Usgs, "earthquakes");
        assert!(spec.check().is_ok());
        spec.name = "bad name".into();
        assert!(spec.check().unwrap_err().contains("bad name"));
        spec.name = "ok".into();
        spec.interval_s = 0;
        assert!(spec.check().unwrap_err().contains("interval_s"));
    }

    // Regression: an editor's max_bytes of 4e9 (with a 600 MB body) took the server to 1.78 GiB: the feed's
    // own caps widened the console's.
    #[test]
    fn a_feed_may_lower_its_caps_but_never_raise_them() {
        let base = FetchLimits::default();
        let mut spec = FeedSpec::new("big", "https://x/", FeedFormat::Geojson, "things");
        spec.max_bytes = Some(4_000_000_000);
        let error = spec.check_within(base).unwrap_err();
        assert!(error.contains("cap of 33554432 bytes"), "{error}");
        // Saved before the check, it still fetches under the console's caps.
        let limits = spec.limits(base);
        assert_eq!(limits.max_bytes, base.max_bytes);
        assert_eq!(limits.max_decoded_bytes, base.max_decoded_bytes);
        spec.max_bytes = Some(1024);
        assert!(spec.check_within(base).is_ok());
        assert_eq!(spec.limits(base).max_bytes, 1024);
        assert_eq!(spec.limits(base).max_decoded_bytes, 4096);
        spec.timeout_ms = Some(u64::MAX);
        assert!(spec.check().unwrap_err().contains("timeout_ms"));
        assert_eq!(
            spec.limits(base).total_timeout,
            Duration::from_millis(MAX_TIMEOUT_MS)
        );
        spec.timeout_ms = None;
        spec.max_linked = 1_000_000;
        assert!(spec.check().unwrap_err().contains("max_linked"));
    }

    #[test]
    fn formats_round_trip_by_name() {
        for format in FeedFormat::ALL {
            assert_eq!(FeedFormat::parse(format.as_str()), Some(format));
        }
        let spec: FeedSpec = serde_json::from_str(
            r#"{"name":"a","url":"https://x/","format":"cap_index","dataset":"alerts"}"#,
        )
        .unwrap();
        assert_eq!(spec.interval_s, 60);
        assert!(
            serde_json::from_str::<FeedSpec>(
                r#"{"name":"a","url":"u","format":"cap","dataset":"d","bogus":1}"#
            )
            .is_err()
        );
    }
}
