//! The catalog's rules, checked for every entry when a catalog is read: what can be known about a source
//! without reaching it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use geoconsole_formats::privacy::{PrivacyGuard, category_of_name};
use url::Url;

use super::plan::draft;
use super::{CatalogEntry, ImpactModel, KeySlot, Kind, Protocol, Symbol};

/// The shortest poll interval an entry may suggest: public services update at most every minute, and
/// polling faster gets a client blocked.
pub const MIN_INTERVAL_S: u64 = 60;
/// The longest: a week (the feeds' own limit).
pub const MAX_INTERVAL_S: u64 = 7 * 86_400;
/// Events are about now: a day at most between polls.
pub const MAX_EVENTS_INTERVAL_S: u64 = 86_400;

/// Endpoints that describe people rather than places and events: never catalogued. police.uk's
/// stop-and-search methods give each search's age range, sex and ethnicity.
const PERSON_LEVEL_PATHS: [&str; 4] = [
    "/stops-street",
    "/stops-force",
    "/stops-at-location",
    "/stops-no-location",
];

/// One thing wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The entry's name, or its position (`#3`) when it has none.
    pub entry: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.message)
    }
}

pub(super) fn check(entries: &[CatalogEntry]) -> Vec<Problem> {
    let by_name: HashMap<&str, &CatalogEntry> =
        entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut endpoints: HashMap<(String, Option<&str>, Option<&str>), &str> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let label = if entry.name.trim().is_empty() {
            format!("#{}", i + 1)
        } else {
            entry.name.clone()
        };
        let mut messages = entry_problems(entry, &by_name);
        if !names.insert(entry.name.as_str()) {
            messages.push("another entry has the same name".into());
        }
        let endpoint = (
            entry.url.trim_end_matches('/').to_string(),
            entry.layer.as_deref(),
            entry.filter.as_deref(),
        );
        if let Some(first) = endpoints.insert(endpoint, &entry.name) {
            messages.push(format!("the same endpoint as '{first}'"));
        }
        problems.extend(messages.into_iter().map(|message| Problem {
            entry: label.clone(),
            message,
        }));
    }
    problems
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn is_slug(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn is_dataset_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A name that can go into a query unquoted (as the connectors require of `updated_field`).
fn is_plain_name(name: &str) -> bool {
    let name = name.strip_prefix(':').unwrap_or(name);
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn is_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn entry_problems(e: &CatalogEntry, by_name: &HashMap<&str, &CatalogEntry>) -> Vec<String> {
    let mut out = Vec::new();
    if !is_slug(&e.name) {
        out.push(format!(
            "name '{}' must be 1 to 64 lower-case letters and digits in words joined by single hyphens",
            e.name
        ));
    }
    for (field, text) in [
        ("title", &e.title),
        ("publisher", &e.publisher),
        ("coverage", &e.coverage),
        ("licence", &e.licence),
        ("attribution", &e.attribution),
    ] {
        if blank(text) {
            out.push(format!("{field} is empty"));
        }
    }
    if e.notes.as_deref().is_some_and(blank) {
        out.push("notes is given but empty".into());
    }
    if e.url_unsure && e.notes.as_deref().is_none_or(blank) {
        out.push("url_unsure needs notes saying what is in doubt".into());
    }
    if !e.addable() && e.notes.as_deref().is_none_or(blank) {
        out.push(format!(
            "protocol {} has no reader here: notes must say what the source serves",
            e.protocol
        ));
    }
    check_url(e, &mut out);
    check_dataset(e, &mut out);
    check_interval(e, &mut out);
    check_protocol_fields(e, &mut out);
    check_areas(e, by_name, &mut out);
    check_key(e, &mut out);
    check_impact(e, &mut out);
    check_style(e, &mut out);
    if e.addable() {
        check_specs(e, by_name, &mut out);
    }
    out
}

/// The URL with a placeholder key, as it would be fetched.
fn fetchable_url(e: &CatalogEntry) -> String {
    match e.needs_key.as_ref().map(|k| &k.passed_as) {
        Some(KeySlot::Path(placeholder)) if !placeholder.is_empty() => {
            e.url.replace(placeholder, "KEY")
        }
        _ => e.url.clone(),
    }
}

fn check_url(e: &CatalogEntry, out: &mut Vec<String>) {
    let text = fetchable_url(e);
    if text.contains(['{', '}']) {
        out.push(
            "the URL holds a placeholder that no path key (needs_key.passed_as.path) fills".into(),
        );
        return;
    }
    let url = match Url::parse(&text) {
        Ok(url) => url,
        Err(err) => {
            out.push(format!("'{}' is not a URL: {err}", e.url));
            return;
        }
    };
    match (url.scheme(), e.http_because.as_deref()) {
        ("https", None) => {}
        ("https", Some(_)) => out.push("http_because is given but the URL is https".into()),
        ("http", Some(why)) if !blank(why) => {}
        ("http", _) => {
            out.push("the URL is http: use https, or say why not in http_because".into())
        }
        (scheme, _) => out.push(format!("scheme '{scheme}' is not http or https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        out.push("the URL names no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        out.push("the URL holds a user name or password".into());
    }
    let path = url.path().to_ascii_lowercase();
    if let Some(part) = PERSON_LEVEL_PATHS.iter().find(|p| path.contains(*p)) {
        out.push(format!(
            "'{part}' is a person-level endpoint (who was stopped and searched): places and events only"
        ));
    }
    if e.protocol.connector().is_some() && url.query().is_some_and(|q| !q.is_empty()) {
        out.push(
            "a connector's URL names the layer, resource or collection without a query; filters go in 'filter'"
                .into(),
        );
    }
    match e.protocol {
        Protocol::Oapif => {
            let segments: Vec<&str> = url
                .path_segments()
                .map(Iterator::collect)
                .unwrap_or_default();
            let n = segments.len();
            if n < 3 || segments[n - 1] != "items" || segments[n - 3] != "collections" {
                out.push(
                    "an OGC API - Features URL must be a collection's items: …/collections/<id>/items"
                        .into(),
                );
            }
        }
        Protocol::Wfs if e.layer.as_deref().is_none_or(blank) => {
            out.push("a WFS entry needs its feature type in 'layer'".into());
        }
        _ => {}
    }
    if let Some(docs) = &e.docs {
        match Url::parse(docs) {
            Ok(docs) if docs.scheme() == "https" => {}
            Ok(_) => out.push(format!("docs '{docs}' is not https")),
            Err(err) => out.push(format!("docs '{docs}' is not a URL: {err}")),
        }
    }
}

fn check_dataset(e: &CatalogEntry, out: &mut Vec<String>) {
    if !is_dataset_name(&e.dataset) {
        out.push(format!(
            "dataset '{}' must be a lower-case letter then up to 62 lower-case letters, digits or '_'",
            e.dataset
        ));
    }
    if let Err(refusal) = PrivacyGuard::check_dataset(&e.dataset, &e.title) {
        out.push(format!(
            "dataset '{}' / title: the data-protection guard refuses it: {refusal}",
            e.dataset
        ));
    }
}

fn check_interval(e: &CatalogEntry, out: &mut Vec<String>) {
    let secs = e.update_interval.secs();
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&secs) {
        out.push(format!(
            "update_interval {} is outside 1m to 7d",
            e.update_interval
        ));
    }
    if e.kind == Kind::Events && secs > MAX_EVENTS_INTERVAL_S {
        out.push(format!(
            "update_interval {} is longer than a day for events",
            e.update_interval
        ));
    }
}

fn check_protocol_fields(e: &CatalogEntry, out: &mut Vec<String>) {
    let connector = e.protocol.connector().is_some();
    let feed = e.protocol.feed_format().is_some();
    let mut only = |present: bool, field: &str, allowed: bool, what: &str| {
        if present && !allowed {
            out.push(format!(
                "'{field}' applies to {what} only, not to {}",
                e.protocol
            ));
        }
    };
    only(
        e.layer.is_some(),
        "layer",
        e.protocol == Protocol::Wfs,
        "wfs",
    );
    only(
        e.filter.is_some(),
        "filter",
        connector,
        "connector protocols",
    );
    only(
        !e.fields.is_empty(),
        "fields",
        connector,
        "connector protocols",
    );
    only(
        e.updated_field.is_some(),
        "updated_field",
        connector,
        "connector protocols",
    );
    only(
        e.page_size.is_some(),
        "page_size",
        connector,
        "connector protocols",
    );
    only(
        e.geometry_field.is_some(),
        "geometry_field",
        e.protocol == Protocol::Socrata,
        "socrata",
    );
    // A paged source's rows have times too (a crime's date): its feed reads them from these fields.
    for (field, present) in [
        ("time_field", e.time_field.is_some()),
        ("time_end_field", e.time_end_field.is_some()),
    ] {
        only(
            present,
            field,
            feed || connector,
            "feed and connector protocols",
        );
    }
    for (field, present) in [
        ("id_field", e.id_field.is_some()),
        ("severity_field", e.severity_field.is_some()),
        ("footprint", e.footprint.is_some()),
        ("areas", !e.areas.is_empty()),
    ] {
        only(present, field, feed, "feed protocols");
    }
    for (field, value) in [
        ("layer", &e.layer),
        ("filter", &e.filter),
        ("geometry_field", &e.geometry_field),
        ("id_field", &e.id_field),
        ("time_field", &e.time_field),
        ("time_end_field", &e.time_end_field),
        ("severity_field", &e.severity_field),
    ] {
        if value.as_deref().is_some_and(blank) {
            out.push(format!("{field} is given but empty"));
        }
    }
    if let Some(field) = &e.updated_field
        && !is_plain_name(field)
    {
        out.push(format!("updated_field '{field}' is not a field name"));
    }
    if let Some(size) = e.page_size
        && !(1..=50_000).contains(&size)
    {
        out.push(format!("page_size {size} is outside 1 to 50000"));
    }
    let mut seen = HashSet::new();
    for field in &e.fields {
        if field.is_empty() || field.contains([',', '&', '\'', '"', ' ']) {
            out.push(format!("'{field}' is not a field name"));
        } else if let Some(category) = category_of_name(field) {
            out.push(format!(
                "field '{field}' names {} data: places and events only",
                category.describe()
            ));
        }
        if !seen.insert(field.as_str()) {
            out.push(format!("field '{field}' is listed twice"));
        }
    }
}

fn check_areas(e: &CatalogEntry, by_name: &HashMap<&str, &CatalogEntry>, out: &mut Vec<String>) {
    if e.areas.is_empty() {
        return;
    }
    if !matches!(
        e.protocol,
        Protocol::Cap | Protocol::CapIndex | Protocol::NwsAlerts | Protocol::Georss
    ) {
        out.push(format!(
            "areas place CAP-style alerts given by codes; {} has none",
            e.protocol
        ));
    }
    for area in &e.areas {
        match by_name.get(area.entry.as_str()) {
            None => out.push(format!(
                "areas names '{}', which is not in the catalog",
                area.entry
            )),
            Some(target) if target.kind != Kind::Areas => out.push(format!(
                "areas names '{}', which holds {}, not areas",
                area.entry, target.kind
            )),
            Some(target) if !target.addable() => out.push(format!(
                "areas names '{}', which cannot be added here",
                area.entry
            )),
            Some(_) => {}
        }
        if blank(&area.code_field) {
            out.push(format!("areas '{}' has no code_field", area.entry));
        }
        if area.scheme.as_deref().is_some_and(blank) {
            out.push(format!("areas '{}' has an empty scheme", area.entry));
        }
    }
}

fn check_key(e: &CatalogEntry, out: &mut Vec<String>) {
    let Some(key) = &e.needs_key else {
        return;
    };
    if blank(&key.name) {
        out.push("needs_key.name is empty".into());
    }
    if key.how.trim().len() < 20 {
        out.push("needs_key.how must explain how to get the key and how it is sent".into());
    }
    match Url::parse(&key.get_at) {
        Ok(url) if url.scheme() == "https" => {}
        _ => out.push(format!(
            "needs_key.get_at '{}' must be an https URL where the key is obtained",
            key.get_at
        )),
    }
    match &key.passed_as {
        KeySlot::Path(placeholder) => {
            let shaped = placeholder.len() > 2
                && placeholder.starts_with('{')
                && placeholder.ends_with('}')
                && is_plain_name(&placeholder[1..placeholder.len() - 1]);
            if !shaped {
                out.push(format!(
                    "path placeholder '{placeholder}' must look like {{NAME}}"
                ));
            } else if !e.url.contains(placeholder.as_str()) {
                out.push(format!("the URL has no '{placeholder}' for the key"));
            }
        }
        KeySlot::Query(param) => {
            if !is_plain_name(param) {
                out.push(format!(
                    "query key parameter '{param}' is not a parameter name"
                ));
            } else if Url::parse(&e.url)
                .is_ok_and(|u| u.query_pairs().any(|(name, _)| name == param.as_str()))
            {
                out.push(format!("the URL already has a '{param}' parameter"));
            }
            if e.protocol.connector().is_some() {
                out.push("a connector's URL takes no query: its key cannot go there".into());
            }
        }
        KeySlot::Header(header) => {
            if e.protocol != Protocol::Socrata || !header.eq_ignore_ascii_case("X-App-Token") {
                out.push(format!(
                    "a key in header '{header}' is supported only as Socrata's X-App-Token"
                ));
            }
        }
    }
}

fn check_impact(e: &CatalogEntry, out: &mut Vec<String>) {
    let Some(impact) = &e.suggested_impact else {
        if e.kind == Kind::Events {
            out.push("events need a suggested_impact".into());
        }
        return;
    };
    if e.kind == Kind::Reference {
        out.push("a reference layer threatens nothing: no suggested_impact".into());
    }
    if let Err(why) = impact.check() {
        out.push(why);
    }
    if matches!(impact, ImpactModel::Fixed { radius_km } if *radius_km == 0.0) {
        out.push("a suggested radius_km of 0 reaches nothing: it must be above 0".into());
    }
}

fn check_style(e: &CatalogEntry, out: &mut Vec<String>) {
    let style = &e.style;
    if !is_colour(&style.colour) {
        out.push(format!("style colour '{}' is not #rrggbb", style.colour));
    }
    if !(style.opacity > 0.0 && style.opacity <= 1.0) {
        out.push(format!("style opacity {} is not in (0, 1]", style.opacity));
    }
    if style.colour_by.as_deref().is_some_and(blank) || style.size_by.as_deref().is_some_and(blank)
    {
        out.push("style colour_by or size_by is given but empty".into());
    }
    if (style.density || style.size_by.is_some()) && style.symbol != Symbol::Circle {
        out.push("density and size_by apply to circles only".into());
    }
}

/// The definitions the plan makes must pass the checks their own types make.
fn check_specs(e: &CatalogEntry, by_name: &HashMap<&str, &CatalogEntry>, out: &mut Vec<String>) {
    let key = e.needs_key.as_ref().map(|_| "KEY");
    let plan = draft(e, key, |name| by_name.get(name).map(|a| a.dataset.clone()));
    // A source's own validation is part of its feed's check.
    if let Some(spec) = plan.feed_spec()
        && let Err(message) = spec.check()
    {
        out.push(format!("as a feed: {message}"));
    }
}
