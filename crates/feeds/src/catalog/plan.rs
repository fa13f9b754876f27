//! What a caller needs to add a catalog entry: an [`AddPlan`], independent of how the console stores feeds
//! and sources. For the feed formats and the connectors this crate has, it converts itself to a [`FeedSpec`]
//! or [`SourceSpec`]; for the connectors still to come (OGC API - Features, WFS) it carries what they need.

use std::fmt;

use serde::Serialize;

use super::{
    Catalog, CatalogEntry, Connector, ImpactModel, KeySlot, Kind, NotFound, Protocol, Style,
};
use crate::connectors::{SourceOptions, SourceSpec};
use crate::spec::{AreaSource, FeedFormat, FeedSpec, Footprint, KEY_PLACEHOLDER};

/// How the entry is read.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Via {
    /// A feed: one document per poll, read in this format.
    Feed { format: FeedFormat },
    /// A connector source: the whole layer, page by page.
    Connector { connector: Connector },
}

/// An areas dataset the feed names to place alerts given only by codes.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaPlan {
    pub scheme: Option<String>,
    /// The catalog entry that brings the areas: add it first.
    pub entry: String,
    /// Its suggested dataset.
    pub dataset: String,
    pub code_field: String,
}

/// Everything needed to add one catalog entry. Serialising it (and `Debug`) leaves the key out: the
/// catalogued URL is in `url_template`, and [`AddPlan::url`] gives the URL to fetch, key included.
#[derive(schemars::JsonSchema, Clone, PartialEq, Serialize)]
pub struct AddPlan {
    /// The catalog entry, also the suggested feed or source name.
    pub entry: String,
    pub via: Via,
    /// The URL as catalogued, without the key.
    pub url_template: String,
    pub dataset: String,
    pub kind: Kind,
    pub interval_s: u64,

    /// WFS feature type.
    pub layer: Option<String>,
    pub filter: Option<String>,
    pub fields: Vec<String>,
    pub updated_field: Option<String>,
    pub page_size: Option<u32>,
    pub geometry_field: Option<String>,

    pub id_field: Option<String>,
    pub time: Option<String>,
    pub time_end: Option<String>,
    pub severity: Option<String>,
    pub footprint: Footprint,
    pub areas: Vec<AreaPlan>,

    pub impact: Option<ImpactModel>,
    pub style: Style,
    pub licence: String,
    pub attribution: String,

    #[serde(skip)]
    key: Option<(KeySlot, String)>,
}

impl fmt::Debug for AddPlan {
    // The key is a credential: debug output says only where it goes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddPlan")
            .field("entry", &self.entry)
            .field("via", &self.via)
            .field("url_template", &self.url_template)
            .field("dataset", &self.dataset)
            .field("kind", &self.kind)
            .field("interval_s", &self.interval_s)
            .field("layer", &self.layer)
            .field("filter", &self.filter)
            .field("fields", &self.fields)
            .field("updated_field", &self.updated_field)
            .field("page_size", &self.page_size)
            .field("geometry_field", &self.geometry_field)
            .field("id_field", &self.id_field)
            .field("time", &self.time)
            .field("time_end", &self.time_end)
            .field("severity", &self.severity)
            .field("footprint", &self.footprint)
            .field("areas", &self.areas)
            .field("impact", &self.impact)
            .field("key", &self.key.as_ref().map(|(slot, _)| slot))
            .finish_non_exhaustive()
    }
}

/// Why an entry cannot be added as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(
        "'{entry}' is served as {protocol}, which no reader or connector here reads yet; it is catalogued so \
         the source is known"
    )]
    NoReader { entry: String, protocol: Protocol },
    #[error("'{entry}' needs a key: {name}. Get one at {get_at}; {how}")]
    KeyRequired {
        entry: String,
        name: String,
        get_at: String,
        how: String,
    },
    #[error("'{entry}': {message}")]
    BadKey { entry: String, message: String },
}

impl Catalog {
    /// The plan to add the entry `name`, with its key when it takes one.
    pub fn plan(&self, name: &str, key: Option<&str>) -> Result<AddPlan, PlanError> {
        self.get(name)?.plan(self, key)
    }
}

impl CatalogEntry {
    /// What a caller needs to add this entry, with `key` where the entry puts it. Refused when nothing here
    /// reads the protocol, or when a required key is missing or malformed. Areas it names are looked up in
    /// `catalog` for their datasets.
    pub fn plan(&self, catalog: &Catalog, key: Option<&str>) -> Result<AddPlan, PlanError> {
        if !self.addable() {
            return Err(PlanError::NoReader {
                entry: self.name.clone(),
                protocol: self.protocol,
            });
        }
        let key = key.map(str::trim).filter(|k| !k.is_empty());
        let requirement = self.needs_key.as_ref();
        if let (Some(requirement), None) = (requirement, key)
            && !requirement.optional
        {
            return Err(PlanError::KeyRequired {
                entry: self.name.clone(),
                name: requirement.name.clone(),
                get_at: requirement.get_at.clone(),
                how: requirement.how.clone(),
            });
        }
        if let (Some(requirement), Some(key)) = (requirement, key) {
            key_fits(&requirement.passed_as, key).map_err(|message| PlanError::BadKey {
                entry: self.name.clone(),
                message,
            })?;
        }
        let key = match (requirement, key) {
            (Some(_), Some(key)) => Some(key),
            (None, Some(_)) => {
                return Err(PlanError::BadKey {
                    entry: self.name.clone(),
                    message: "this source takes no key".into(),
                });
            }
            _ => None,
        };
        let entries = catalog.list();
        Ok(draft(self, key, |name| {
            entries
                .iter()
                .find(|e| e.name == name)
                .map(|e| e.dataset.clone())
        }))
    }
}

/// The plan without the key checks, for the catalog's own checks too. `dataset_of` finds an areas entry's
/// dataset; an unknown one keeps the entry's name (the checks report it).
pub(super) fn draft(
    entry: &CatalogEntry,
    key: Option<&str>,
    dataset_of: impl Fn(&str) -> Option<String>,
) -> AddPlan {
    let via = match (entry.protocol.feed_format(), entry.protocol.connector()) {
        (Some(format), _) => Via::Feed { format },
        (None, Some(connector)) => Via::Connector { connector },
        // Not addable; callers refuse it before drafting, and the checks do not draft it.
        (None, None) => Via::Feed {
            format: FeedFormat::Geojson,
        },
    };
    AddPlan {
        entry: entry.name.clone(),
        via,
        url_template: entry.url.clone(),
        dataset: entry.dataset.clone(),
        kind: entry.kind,
        interval_s: entry.update_interval.secs(),
        layer: entry.layer.clone(),
        filter: entry.filter.clone(),
        fields: entry.fields.clone(),
        updated_field: entry.updated_field.clone(),
        page_size: entry.page_size,
        geometry_field: entry.geometry_field.clone(),
        id_field: entry.id_field.clone(),
        time: entry.time_field.clone(),
        time_end: entry.time_end_field.clone(),
        severity: entry.severity_field.clone(),
        footprint: entry.footprint.unwrap_or_default(),
        areas: entry
            .areas
            .iter()
            .map(|a| AreaPlan {
                scheme: a.scheme.clone(),
                entry: a.entry.clone(),
                dataset: dataset_of(&a.entry).unwrap_or_else(|| a.entry.clone()),
                code_field: a.code_field.clone(),
            })
            .collect(),
        impact: entry.suggested_impact.clone(),
        style: entry.style.clone(),
        licence: entry.licence.clone(),
        attribution: entry.attribution.clone(),
        key: match (&entry.needs_key, key) {
            (Some(requirement), Some(key)) => {
                Some((requirement.passed_as.clone(), key.to_string()))
            }
            _ => None,
        },
    }
}

/// Whether a key can travel where the entry puts it.
fn key_fits(slot: &KeySlot, key: &str) -> Result<(), String> {
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    match slot {
        KeySlot::Path(_) if !printable || key.contains(['/', '?', '#', '%', '{', '}']) => Err(
            "the key goes in the URL's path, so it must be printable ASCII without / ? # % { }"
                .into(),
        ),
        KeySlot::Query(_) | KeySlot::Header(_) if !printable => {
            Err("the key must be printable ASCII without spaces".into())
        }
        _ => Ok(()),
    }
}

impl AddPlan {
    /// The URL to fetch: the catalogued one with the key in its path or query when it goes there.
    pub fn url(&self) -> String {
        match &self.key {
            Some((KeySlot::Path(placeholder), key)) => self.url_template.replace(placeholder, key),
            Some((KeySlot::Query(param), key)) => match url::Url::parse(&self.url_template) {
                Ok(mut url) => {
                    url.query_pairs_mut().append_pair(param, key);
                    url.to_string()
                }
                Err(_) => self.url_template.clone(),
            },
            _ => self.url_template.clone(),
        }
    }

    /// Whether [`AddPlan::url`] holds a credential (so it should not be shown or logged as it is).
    pub fn url_holds_key(&self) -> bool {
        matches!(&self.key, Some((KeySlot::Path(_) | KeySlot::Query(_), _)))
    }

    /// The key that goes in a header, with the header's name (Socrata's `X-App-Token`).
    pub fn header_key(&self) -> Option<(&str, &str)> {
        match &self.key {
            Some((KeySlot::Header(name), key)) => Some((name.as_str(), key.as_str())),
            _ => None,
        }
    }

    /// The definition to save in the feed registry: a feed, or a paged source (a feed whose format is its
    /// protocol); `None` for OGC API - Features and WFS until their connectors exist.
    pub fn feed_spec(&self) -> Option<FeedSpec> {
        let format = match self.via {
            Via::Feed { format } => format,
            Via::Connector { connector } => FeedFormat::of_source(connector.source_kind()?),
        };
        // A key in the URL travels as the feed's key, with `{key}` in its place, so the stored and shown URL
        // never carries it.
        let (url, key) = match &self.key {
            Some((KeySlot::Path(placeholder), key)) => (
                self.url_template.replace(placeholder, KEY_PLACEHOLDER),
                Some(key.clone()),
            ),
            Some((KeySlot::Query(param), key)) => {
                let joiner = if self.url_template.contains('?') {
                    '&'
                } else {
                    '?'
                };
                (
                    format!("{}{joiner}{param}={KEY_PLACEHOLDER}", self.url_template),
                    Some(key.clone()),
                )
            }
            _ => (self.url_template.clone(), None),
        };
        let mut spec = FeedSpec::new(&self.entry, &url, format, &self.dataset);
        spec.key = key;
        spec.interval_s = self.interval_s;
        spec.kind = Some(self.kind.dataset_kind());
        spec.id_field = self.id_field.clone();
        spec.time = self.time.clone();
        spec.time_end = self.time_end.clone();
        spec.severity = self.severity.clone();
        spec.footprint = self.footprint;
        spec.areas = self
            .areas
            .iter()
            .map(|a| AreaSource {
                scheme: a.scheme.clone(),
                dataset: a.dataset.clone(),
                code_field: a.code_field.clone(),
            })
            .collect();
        if matches!(self.via, Via::Connector { .. }) {
            spec.source = Some(SourceOptions {
                filter: self.filter.clone(),
                fields: self.fields.clone(),
                updated_field: self.updated_field.clone(),
                page_size: self.page_size,
                geometry_field: self.geometry_field.clone(),
                app_token: self.header_key().map(|(_, key)| key.to_string()),
                full_sync_s: None,
                layer: self.layer.clone(),
                bbox: None,
                datetime: None,
                id_field: None,
            });
        }
        Some(spec)
    }

    /// The source a connector entry reads (protocol, URL, options); `None` for feeds.
    pub fn source_spec(&self) -> Option<SourceSpec> {
        self.feed_spec()?.source_spec()
    }
}
