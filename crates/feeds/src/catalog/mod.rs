//! The catalog: public services worth adding to a site-risk console, as data. Each [`CatalogEntry`] says
//! where a source lives (URL and protocol), whose it is (licence and attribution), how often to poll it,
//! what it holds (events, areas or reference), which impact model and style suit it, and whether it needs a
//! key. The built-in list is `catalog.toml`, embedded in the binary and parsed once ([`Catalog::builtin`]);
//! [`Catalog::from_toml`] reads another with the same checks ([`Catalog::check`]).
//!
//! An entry is a suggestion, not a definition: [`CatalogEntry::plan`] turns it into an [`AddPlan`], what a
//! caller needs to add it (a feed in one of the readers' formats, or a connector source), which the
//! `catalog add` command and the console turn into their own definitions. The catalog fetches nothing.

mod check;
mod plan;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use geoconsole_model::DatasetKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::connectors::SourceKind;
use crate::spec::{FeedFormat, Footprint};

pub use check::{MAX_EVENTS_INTERVAL_S, MAX_INTERVAL_S, MIN_INTERVAL_S, Problem};
pub use plan::{AddPlan, AreaPlan, PlanError, Via};

/// The catalog shipped in the binary.
const BUILTIN: &str = include_str!("catalog.toml");

/// How a source is read: one of the feed readers' formats, a connector protocol, or `json` (a publisher's
/// own JSON shape that no reader here reads yet: catalogued so it is known, not addable).
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// ArcGIS REST FeatureServer or MapServer layer (connector).
    Arcgis,
    /// Socrata SODA dataset (connector).
    Socrata,
    /// OGC API - Features collection (connector).
    Oapif,
    /// OGC WFS 2.0 feature type (connector).
    Wfs,
    /// USGS earthquake summary GeoJSON (feed).
    Usgs,
    /// api.weather.gov alerts GeoJSON (feed).
    NwsAlerts,
    /// One CAP 1.2 alert (feed).
    Cap,
    /// Atom or RSS index of CAP alerts (feed).
    CapIndex,
    /// RSS or Atom with GeoRSS or W3C geo positions, GDACS included (feed).
    Georss,
    /// NASA FIRMS active fire CSV (feed).
    Firms,
    /// A file published at a URL, read by the import readers (feed).
    Geojson,
    Geojsonseq,
    Csv,
    Kml,
    Gpx,
    Fgb,
    Geoparquet,
    Shapefile,
    Gpkg,
    /// JSON of the publisher's own shape: no reader yet.
    Json,
}

impl Protocol {
    pub const ALL: [Self; 20] = [
        Self::Arcgis,
        Self::Socrata,
        Self::Oapif,
        Self::Wfs,
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
        Self::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arcgis => "arcgis",
            Self::Socrata => "socrata",
            Self::Oapif => "oapif",
            Self::Wfs => "wfs",
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
            Self::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The feed format that reads this protocol, when it is a feed (the names are the same).
    pub fn feed_format(self) -> Option<FeedFormat> {
        // Paged sources are feeds too, but catalogued as connectors.
        FeedFormat::parse(self.as_str()).filter(|f| f.source_kind().is_none())
    }

    /// The connector that reads this protocol, when it is one.
    pub fn connector(self) -> Option<Connector> {
        match self {
            Self::Arcgis => Some(Connector::Arcgis),
            Self::Socrata => Some(Connector::Socrata),
            Self::Oapif => Some(Connector::Oapif),
            Self::Wfs => Some(Connector::Wfs),
            _ => None,
        }
    }

    /// Whether something in this console can read it (a feed reader or a connector).
    pub fn readable(self) -> bool {
        self.feed_format().is_some() || self.connector().is_some()
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The connector protocols: whole layers read page by page.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connector {
    Arcgis,
    Socrata,
    Oapif,
    Wfs,
}

impl Connector {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arcgis => "arcgis",
            Self::Socrata => "socrata",
            Self::Oapif => "oapif",
            Self::Wfs => "wfs",
        }
    }

    /// The [`SourceKind`] of the connectors this crate has so far (`None` for the ones still to come).
    pub fn source_kind(self) -> Option<SourceKind> {
        match self {
            Self::Arcgis => Some(SourceKind::Arcgis),
            Self::Socrata => Some(SourceKind::Socrata),
            Self::Oapif => Some(SourceKind::Oapif),
            Self::Wfs => Some(SourceKind::Wfs),
        }
    }
}

/// What a source holds, as the console's dataset kinds say it (a catalog never supplies sites).
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Things that happen at a time: quakes, warnings, fires, incidents.
    Events,
    /// Regions: zones, boundaries, hazard areas.
    Areas,
    /// Background layers: volcanoes, stations, airports.
    Reference,
}

impl Kind {
    pub const ALL: [Self; 3] = [Self::Events, Self::Areas, Self::Reference];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Areas => "areas",
            Self::Reference => "reference",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn dataset_kind(self) -> DatasetKind {
        match self {
            Self::Events => DatasetKind::Events,
            Self::Areas => DatasetKind::Areas,
            Self::Reference => DatasetKind::Reference,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hazard a source is about, or its theme for areas and reference layers.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Earthquake,
    Tsunami,
    Volcano,
    TropicalCyclone,
    SevereStorm,
    Weather,
    Flood,
    Wildfire,
    Crime,
    MultiHazard,
    RiskIndex,
    Hydrology,
    Boundaries,
    Places,
    Infrastructure,
}

impl Hazard {
    pub const ALL: [Self; 15] = [
        Self::Earthquake,
        Self::Tsunami,
        Self::Volcano,
        Self::TropicalCyclone,
        Self::SevereStorm,
        Self::Weather,
        Self::Flood,
        Self::Wildfire,
        Self::Crime,
        Self::MultiHazard,
        Self::RiskIndex,
        Self::Hydrology,
        Self::Boundaries,
        Self::Places,
        Self::Infrastructure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earthquake => "earthquake",
            Self::Tsunami => "tsunami",
            Self::Volcano => "volcano",
            Self::TropicalCyclone => "tropical_cyclone",
            Self::SevereStorm => "severe_storm",
            Self::Weather => "weather",
            Self::Flood => "flood",
            Self::Wildfire => "wildfire",
            Self::Crime => "crime",
            Self::MultiHazard => "multi_hazard",
            Self::RiskIndex => "risk_index",
            Self::Hydrology => "hydrology",
            Self::Boundaries => "boundaries",
            Self::Places => "places",
            Self::Infrastructure => "infrastructure",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.as_str() == text)
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A poll interval written as a number and a unit: `90s`, `5m`, `2h`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PollInterval(u64);

impl PollInterval {
    pub fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    pub fn secs(self) -> u64 {
        self.0
    }
}

impl FromStr for PollInterval {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not an interval such as 90s, 5m, 2h or 7d");
        let unit = text.chars().last().ok_or_else(bad)?;
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let digits = &text[..text.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let number: u64 = digits.parse().map_err(|_| bad())?;
        number.checked_mul(scale).map(Self).ok_or_else(bad)
    }
}

impl fmt::Display for PollInterval {
    /// The largest unit that divides it exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        match secs {
            0 => f.write_str("0s"),
            _ if secs.is_multiple_of(86_400) => write!(f, "{}d", secs / 86_400),
            _ if secs.is_multiple_of(3600) => write!(f, "{}h", secs / 3600),
            _ if secs.is_multiple_of(60) => write!(f, "{}m", secs / 60),
            _ => write!(f, "{secs}s"),
        }
    }
}

impl Serialize for PollInterval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PollInterval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for PollInterval {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PollInterval".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+[smhd]$",
            "description": "A number and a unit: s, m, h or d (90s, 5m, 2h, 7d)."
        })
    }
}

/// Where a key goes in the request.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeySlot {
    /// Replaces this placeholder in the URL's path (NASA FIRMS `{MAP_KEY}`).
    Path(String),
    /// Added as this query parameter.
    Query(String),
    /// Sent in this header (Socrata `X-App-Token`), never in the URL.
    Header(String),
}

/// A key, token or registered name a source asks for, and how to get it.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequirement {
    /// What the publisher calls it.
    pub name: String,
    /// Where to ask for it.
    pub get_at: String,
    /// How to get it, what it costs, its limits, and anything to know about how it travels.
    pub how: String,
    pub passed_as: KeySlot,
    /// The source works without it, within a smaller rate limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// The impact model suggested for a dataset: the console's own (`[impact.<dataset>]` in the configuration).
pub use geoconsole_model::ImpactModel;

/// How the layer is drawn: the web console's vocabulary (a dataset colour, colour and size by a property,
/// H3 density for dense points, opacity).
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Style {
    pub symbol: Symbol,
    /// `#rrggbb`.
    pub colour: String,
    /// The property whose values pick the colour (the console's "colour by").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour_by: Option<String>,
    /// The numeric property that sizes points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_by: Option<String>,
    /// Draw points as H3 hexagon density.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub density: bool,
    /// 0 (exclusive) to 1.
    #[serde(default = "opaque")]
    pub opacity: f64,
}

fn opaque() -> f64 {
    1.0
}

#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symbol {
    Circle,
    Line,
    Fill,
}

/// An areas dataset that places alerts given only by codes (CAP geocodes, NWS UGC zones): another catalog
/// entry, joined on `code_field`.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaHint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The name of the catalog entry holding the areas.
    pub entry: String,
    pub code_field: String,
}

/// One public source.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// Lower-case letters, digits and single hyphens; unique in the catalog.
    #[schemars(regex(pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$"), length(max = 64))]
    pub name: String,
    pub title: String,
    /// Who runs the service.
    pub publisher: String,
    /// The endpoint itself: the layer, resource, collection, service or feed document. A `needs_key` path
    /// placeholder (`{MAP_KEY}`) stands where the key goes.
    pub url: String,
    /// The publisher's page documenting the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    pub protocol: Protocol,
    pub kind: Kind,
    pub hazard: Hazard,
    /// The region the source covers, in words.
    pub coverage: String,
    pub licence: String,
    /// What to show with the data.
    pub attribution: String,
    /// The suggested poll (feeds) or sync (connectors) interval.
    pub update_interval: PollInterval,
    /// The dataset name suggested for what it brings.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    pub dataset: String,

    /// WFS: the feature type (`typeNames`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Connectors: a filter in the service's language (ArcGIS `where`, Socrata `$where`, OGC CQL2 text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Connectors: the fields to fetch; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Connectors: the field saying when a row changed, for incremental syncs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_field: Option<String>,
    /// Connectors: rows per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Socrata: the point or location column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry_field: Option<String>,

    /// Feeds: the property holding each item's stable id, when the format has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<String>,
    /// Feeds: the property holding the event's time, when the format does not define it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end_field: Option<String>,
    /// Feeds: a property copied to `severity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_field: Option<String>,
    /// Feeds: which geometry to keep when an item has a point and an area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footprint: Option<Footprint>,
    /// Feeds: areas datasets (other entries) that place alerts given only by codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<AreaHint>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_key: Option<KeyRequirement>,
    /// Required for events; the model the analytics should use for this dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_impact: Option<ImpactModel>,
    pub style: Style,
    /// Why the URL is `http`, when it is (https is required otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_because: Option<String>,
    /// The exact URL (path, layer number, parameters or field names) could not be confirmed; `notes` says
    /// what is in doubt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub url_unsure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl CatalogEntry {
    /// Whether it cannot be used without a key (an optional key does not count).
    pub fn requires_key(&self) -> bool {
        self.needs_key.as_ref().is_some_and(|k| !k.optional)
    }

    /// Whether a reader or connector here can read it.
    pub fn addable(&self) -> bool {
        self.protocol.readable()
    }

    /// Whether `text` (lower-cased words) appears in its name, title, publisher, coverage, hazard, dataset or
    /// notes.
    fn mentions(&self, words: &[String]) -> bool {
        let haystack = [
            self.name.as_str(),
            self.title.as_str(),
            self.publisher.as_str(),
            self.coverage.as_str(),
            self.hazard.as_str(),
            self.dataset.as_str(),
            self.notes.as_deref().unwrap_or(""),
        ]
        .join("\n")
        .to_lowercase();
        words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// The catalog's file: `[[source]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    source: Vec<CatalogEntry>,
}

/// Which entries to list. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub kind: Option<Kind>,
    pub protocol: Option<Protocol>,
    pub hazard: Option<Hazard>,
    /// Words that must all appear (case-insensitive) in the name, title, publisher, coverage, hazard,
    /// dataset or notes.
    pub text: Option<String>,
    /// Only entries a reader or connector here can read.
    pub addable_only: bool,
}

/// A name that is not in the catalog, with the nearest one when there is one close enough.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct NotFound {
    pub name: String,
    pub suggestion: Option<String>,
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no catalog entry is named '{}'", self.name)?;
        match &self.suggestion {
            Some(near) => write!(f, "; did you mean '{near}'?"),
            None => f.write_str("; `geoconsole catalog list` shows them all"),
        }
    }
}

/// Why a catalog file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog is not valid TOML of catalog entries: {0}")]
    Parse(String),
    #[error("the catalog has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// A list of catalog entries, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// The catalog shipped with this build, parsed and checked on first use. The tests check the file, so a
    /// refusal here is a build that was not tested.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Self::from_toml(BUILTIN) {
            Ok(catalog) => catalog,
            Err(e) => panic!("the built-in catalog (crates/feeds/src/catalog/catalog.toml): {e}"),
        })
    }

    /// The text of the built-in catalog.
    pub fn builtin_text() -> &'static str {
        BUILTIN
    }

    /// Reads a catalog file and checks every entry ([`Catalog::check`]).
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let file: File = toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        let catalog = Self {
            entries: file.source,
        };
        let problems = catalog.check();
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(CatalogError::Invalid(problems))
        }
    }

    /// Every entry, in the file's order.
    pub fn list(&self) -> &[CatalogEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of that name; on a miss, the nearest name when one is close (a typo, a case difference, a
    /// part of a name).
    pub fn get(&self, name: &str) -> Result<&CatalogEntry, NotFound> {
        if let Some(entry) = self.entries.iter().find(|e| e.name == name) {
            return Ok(entry);
        }
        Err(NotFound {
            name: name.to_string(),
            suggestion: self.nearest(name).map(str::to_string),
        })
    }

    /// The entries matching every condition of `query`, in the file's order.
    pub fn filter(&self, query: &Query) -> Vec<&CatalogEntry> {
        let words: Vec<String> = query
            .text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        self.entries
            .iter()
            .filter(|e| query.kind.is_none_or(|k| e.kind == k))
            .filter(|e| query.protocol.is_none_or(|p| e.protocol == p))
            .filter(|e| query.hazard.is_none_or(|h| e.hazard == h))
            .filter(|e| !query.addable_only || e.addable())
            .filter(|e| words.is_empty() || e.mentions(&words))
            .collect()
    }

    /// The name closest to `name`: the same name in another case or spelling of separators, else the
    /// nearest by edit distance when it is within a third of the name's length (at least 2), else the
    /// shortest name containing it.
    fn nearest(&self, name: &str) -> Option<&str> {
        let wanted = name.trim().to_lowercase().replace(['_', ' '], "-");
        if wanted.is_empty() {
            return None;
        }
        let names = self.entries.iter().map(|e| e.name.as_str());
        if let Some(same) = names.clone().find(|n| *n == wanted) {
            return Some(same);
        }
        let limit = (wanted.chars().count() / 3).max(2);
        let closest = names
            .clone()
            .map(|n| (edit_distance(&wanted, n), n))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, n)| (*d, n.len()));
        if let Some((_, n)) = closest {
            return Some(n);
        }
        names
            .filter(|n| n.contains(wanted.as_str()))
            .min_by_key(|n| n.len())
    }

    /// Every problem with the entries ([`Problem`]), empty when there are none.
    pub fn check(&self) -> Vec<Problem> {
        check::check(&self.entries)
    }

    /// A Markdown table of every entry (name, title, protocol, kind, hazard, licence, key), as
    /// docs/catalog.md holds it.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| name | title | protocol | kind | hazard | licence | key |\n|---|---|---|---|---|---|---|\n",
        );
        for e in &self.entries {
            let key = match &e.needs_key {
                None => "no".to_string(),
                Some(k) if k.optional => format!("optional ({})", k.name),
                Some(k) => format!("**required** ({})", k.name),
            };
            let mut name = format!("`{}`", e.name);
            if e.url_unsure {
                name.push_str(" (URL unsure)");
            }
            if !e.addable() {
                name.push_str(" (no reader yet)");
            }
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                name,
                cell(&e.title),
                e.protocol,
                e.kind,
                e.hazard,
                cell(&e.licence),
                cell(&key)
            ));
        }
        out
    }
}

/// Text safe in a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_and_print_in_their_largest_unit() {
        for (text, secs, shown) in [
            ("90s", 90, "90s"),
            ("120s", 120, "2m"),
            ("5m", 300, "5m"),
            ("2h", 7200, "2h"),
            ("7d", 604_800, "7d"),
            ("60m", 3600, "1h"),
        ] {
            let interval: PollInterval = text.parse().unwrap();
            assert_eq!(interval.secs(), secs, "{text}");
            assert_eq!(interval.to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "5",
            "m",
            "-5m",
            "5 m",
            "5w",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(bad.parse::<PollInterval>().is_err(), "{bad:?} was read");
        }
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("nws-alert", "nws-alerts"), 1);
    }

    #[test]
    fn protocols_and_feed_formats_share_their_names() {
        for format in FeedFormat::ALL {
            let protocol = Protocol::parse(format.as_str())
                .unwrap_or_else(|| panic!("no catalog protocol for feed format {format:?}"));
            // A paged format is catalogued as its connector; every other is a document feed.
            match format.source_kind() {
                Some(kind) => {
                    assert_eq!(protocol.feed_format(), None);
                    assert_eq!(
                        protocol.connector().and_then(|c| c.source_kind()),
                        Some(kind)
                    );
                }
                None => {
                    assert_eq!(protocol.feed_format(), Some(format));
                    assert!(protocol.connector().is_none());
                }
            }
        }
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::parse(protocol.as_str()), Some(protocol));
            let json = serde_json::to_value(protocol).unwrap();
            assert_eq!(json, serde_json::json!(protocol.as_str()));
        }
        assert!(!Protocol::Json.readable());
        assert_eq!(
            Protocol::Socrata
                .connector()
                .and_then(Connector::source_kind),
            Some(SourceKind::Socrata)
        );
        assert_eq!(
            Protocol::Wfs.connector().and_then(Connector::source_kind),
            Some(SourceKind::Wfs)
        );
    }
}
