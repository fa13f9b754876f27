//! Feed readers: a fetched body in, items out. Each item is a feature with a stable id (the source's own,
//! or one derived from the fields that identify it), its time, and what earlier items it updates or cancels.
//! Items that cannot be placed or are not real events are skipped with a reason, never guessed. What the
//! readers made passes the data-protection guard ([`check_items`]) before anything is written.

mod antimeridian;
mod cap;
mod file;
mod firms;
mod georss;
mod nws;
mod protection;
pub(crate) mod xml;

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geoconsole_formats::{ArchiveLimits, Format, ReadOptions, SourceFeature, read_stream};
use geoconsole_model::{Feature, FeatureId, TimeSpan, parse_time_value};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::spec::{FeedFormat, FeedSpec};

pub use cap::{CAP_STATE, Unplaced};
pub use file::{detect_file, read_file};
pub use protection::check_items;

/// What an item does to earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new item (or a new version of one with the same id).
    Publish,
    /// Replaces the items in `supersedes` (CAP `Update`).
    Update,
}

/// Earlier items withdrawn by a message that is not an event itself (CAP `Cancel`).
#[derive(Debug, Clone, PartialEq)]
pub struct Withdrawal {
    /// The withdrawing message's id.
    pub by: String,
    pub at: Option<DateTime<Utc>>,
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// Always has an id.
    pub feature: Feature,
    /// The source's own time for the event (CAP `sent`, a quake's origin time), for lag.
    pub event_time: Option<DateTime<Utc>>,
    pub action: Action,
    /// Ids of the earlier items this one updates or cancels.
    pub supersedes: Vec<String>,
}

impl FeedItem {
    pub fn id(&self) -> &str {
        self.feature
            .id
            .as_ref()
            .map(FeatureId::as_str)
            .unwrap_or("")
    }

    /// A digest of everything stored for the item: equal digests mean a replay, which is not written again.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(geoconsole_formats::feature_json(&self.feature).as_bytes());
        if let Some(time) = self.feature.time {
            hash.update(format!(
                "{}/{}",
                time.start.timestamp_millis(),
                time.end.timestamp_millis()
            ));
        }
        hash.update(format!("{:?}{:?}", self.action, self.supersedes));
        hash.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A document an index points to, with what the index says about its version (Atom `updated`), so an
/// unchanged one is not fetched again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub url: String,
    pub version: String,
}

/// What one body held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub items: Vec<FeedItem>,
    pub withdrawals: Vec<Withdrawal>,
    /// Entries not stored, each with where and why.
    pub skipped: Vec<String>,
    /// Documents the body points to that hold the items (CAP messages listed by an index feed).
    pub linked: Vec<Linked>,
    /// What was read despite a fault that did not cost an item (a document whose bytes are not in the
    /// encoding it declares): kept, but its issuer should hear of it, so it reaches the feed's health.
    pub warnings: Vec<String>,
    /// Alerts whose area is given only by codes, for the console to place with the feed's areas datasets
    /// ([`FeedSpec::areas`](crate::FeedSpec)) or to skip with [`Parsed::skip_unplaced`].
    pub unplaced: Vec<Unplaced>,
}

impl Parsed {
    /// Skips every alert still waiting to be placed by its codes, saying why.
    pub fn skip_unplaced(&mut self, why: &str) {
        for alert in std::mem::take(&mut self.unplaced) {
            self.skip(alert.unplaceable(why));
        }
    }

    pub(crate) fn skip(&mut self, why: String) {
        // A feed with thousands of placeless entries must not grow the health record without bound.
        if self.skipped.len() < 1000 {
            self.skipped.push(why);
        }
    }
}

/// Reads a body of the feed's format. `now` decides which warnings have already expired.
pub fn read(spec: &FeedSpec, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, String> {
    read_fetched(
        spec,
        body.to_vec(),
        now,
        crate::FetchLimits::default().max_decoded_bytes,
    )
}

/// [`read`] for a body the caller hands over, as a poll does: the file readers stream it without a copy,
/// and a zip in it (a zipped shapefile) may inflate to at most `max_decoded_bytes`, the cap its fetch ran
/// under, rather than to the 4 GiB an import may.
pub fn read_fetched(
    spec: &FeedSpec,
    body: Vec<u8>,
    now: DateTime<Utc>,
    max_decoded_bytes: u64,
) -> Result<Parsed, String> {
    let body = Body(Arc::new(body));
    let bytes = body.as_ref();
    let mut parsed = match spec.format {
        FeedFormat::Cap => cap::read_document(bytes, now),
        FeedFormat::CapIndex => georss::read_cap_index(bytes, now, spec.max_linked),
        FeedFormat::NwsAlerts => nws::read(bytes, now),
        FeedFormat::Georss => georss::read(bytes, spec.footprint),
        FeedFormat::Firms => firms::read(&body, max_decoded_bytes),
        FeedFormat::Usgs => generic(
            spec,
            &body,
            Format::GeoJson,
            (Some("time"), Some("mag")),
            max_decoded_bytes,
        ),
        generic_file => match generic_file.file_format() {
            Some(format) => generic(spec, &body, format, (None, None), max_decoded_bytes),
            None => Err(format!("{} has no reader", generic_file.as_str())),
        },
    }?;
    apply_mapping(spec, &mut parsed);
    Ok(parsed)
}

/// A fetched body the readers share without copying it.
#[derive(Debug, Clone)]
pub(crate) struct Body(Arc<Vec<u8>>);

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The feed's own field mapping, over what the format gave: id, time and severity by property name.
fn apply_mapping(spec: &FeedSpec, parsed: &mut Parsed) {
    let mut kept = Vec::with_capacity(parsed.items.len());
    for mut item in std::mem::take(&mut parsed.items) {
        let props = &item.feature.properties;
        if let Some(field) = &spec.id_field {
            match props.get(field) {
                Some(Value::String(s)) if !s.is_empty() => {
                    item.feature.id = Some(FeatureId(s.clone()))
                }
                Some(Value::Number(n)) => item.feature.id = Some(FeatureId(n.to_string())),
                _ => {
                    parsed.skip(format!(
                        "{}: id field '{field}' is missing or empty",
                        item.id()
                    ));
                    continue;
                }
            }
        }
        if let Some(field) = &spec.time {
            let start = props.get(field).map(parse_time_value);
            let end = spec
                .time_end
                .as_ref()
                .and_then(|f| props.get(f))
                .map(parse_time_value);
            match (start, end) {
                (Some(Ok(start)), None) => item.feature.time = Some(TimeSpan::instant(start)),
                (Some(Ok(start)), Some(Ok(end))) => match TimeSpan::interval(start, end) {
                    Ok(span) => item.feature.time = Some(span),
                    Err(e) => {
                        parsed.skip(format!("{}: {}", item.id(), e.message()));
                        continue;
                    }
                },
                (Some(Err(e)), _) | (_, Some(Err(e))) => {
                    parsed.skip(format!("{}: time: {}", item.id(), e.message()));
                    continue;
                }
                (None, _) => {
                    parsed.skip(format!("{}: time field '{field}' is missing", item.id()));
                    continue;
                }
            }
            item.event_time = item.feature.time.map(|t| t.start);
        }
        if let Some(field) = &spec.severity
            && let Some(value) = item.feature.properties.get(field).cloned()
        {
            item.feature.properties.insert("severity".into(), value);
        }
        if item.feature.id.is_none() {
            parsed.skip(format!(
                "an item has no id; name the property that identifies items with id_field ({})",
                short(&geoconsole_formats::feature_json(&item.feature), 120)
            ));
            continue;
        }
        kept.push(item);
    }
    parsed.items = kept;
}

/// A body read by the console's own file reader for `format`: its features with where they were, the bad
/// ones skipped into `parsed` with their location, or the error that stopped the reader.
pub(crate) fn file_features(
    label: &str,
    body: &Body,
    format: Format,
    parsed: &mut Parsed,
    max_decoded_bytes: u64,
) -> Result<Vec<SourceFeature>, String> {
    let options = ReadOptions {
        format: Some(format),
        archive: ArchiveLimits {
            max_entry_bytes: max_decoded_bytes,
            max_inflated_bytes: max_decoded_bytes,
            ..ArchiveLimits::default()
        },
        ..ReadOptions::default()
    };
    let (_, stream) = read_stream(Path::new(label), Cursor::new(body.clone()), &options)
        .map_err(|e| e.to_string())?;
    let mut features = Vec::new();
    for result in stream {
        match result {
            Ok(source) => features.push(source),
            Err(e) if e.is_recoverable() => parsed.skip(e.to_string()),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(features)
}

/// Generic file feeds (GeoJSON, CSV, KML, FlatGeobuf, ...) through the console's own file readers; `time` and `severity` name
/// the format's documented fields when it has them (USGS).
fn generic(
    spec: &FeedSpec,
    body: &Body,
    format: Format,
    (time, severity): (Option<&str>, Option<&str>),
    max_decoded_bytes: u64,
) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    for source in file_features(&spec.name, body, format, &mut parsed, max_decoded_bytes)? {
        let mut feature = source.feature;
        let mut event_time = None;
        if let Some(field) = time
            && let Some(Ok(at)) = feature.properties.get(field).map(parse_time_value)
        {
            feature.time = Some(TimeSpan::instant(at));
            event_time = Some(at);
        }
        if let Some(field) = severity
            && let Some(value) = feature.properties.get(field).cloned()
        {
            feature.properties.insert("severity".into(), value);
        }
        parsed.items.push(FeedItem {
            feature,
            event_time,
            action: Action::Publish,
            supersedes: Vec::new(),
        });
    }
    Ok(parsed)
}

/// A stable id made from the fields that identify an item in a source that gives none.
pub(crate) fn derived_id(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}
