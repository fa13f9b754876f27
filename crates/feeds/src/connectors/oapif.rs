//! The OGC API – Features client for one collection (`…/collections/{collectionId}`), as OGC 17-069r4
//! (Part 1: Core) and 19-079r2 (Part 3: Filtering, with CQL2, 21-065r2) specify it:
//!
//! - the API's conformance declaration (`{landing}/conformance`, or the landing page's `rel=conformance`
//!   link) says what may be asked: `bbox` and `datetime` are Core, `filter` with `filter-lang=cql2-text`
//!   needs the Filter, Features Filter and CQL2 Text classes. Asking for what is not declared is refused
//!   before any page is fetched, naming the class that is missing;
//! - the collection (`{collection}?f=json`) must exist; its queryables say which property is the
//!   collection's temporal one (`x-ogc-role: primary-instant`, or the only `format: date-time` property);
//! - pages are `{collection}/items?f=json&limit=…` with `Accept: application/geo+json`, and then only the
//!   `rel=next` link of each page, as the server wrote it (a cursor, a token or an offset: the client never
//!   builds one). A next link that names a page already fetched is a loop;
//! - features keep their `id`, properties as given and GeoJSON geometry (CRS84);
//! - `numberMatched`, when given, is reported and checked against the sync's limits up front;
//! - an incremental sync asks for `updated_field > TIMESTAMP('…')` in CQL2 where filtering is declared, or
//!   `datetime=<since>/..` where the updated field is the collection's temporal property.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use geoconsole_model::{Feature, FeatureId, Properties};
use reqwest::Url;
use serde_json::Value;

use super::{
    ConnectorError, ConnectorErrorKind, Page, SourceSpec, Walk, body_start, parse_bbox, shown,
};

/// Features a page asks for when the source does not say; Part 1 lets servers cap it lower.
const DEFAULT_PAGE: u32 = 1000;
/// The most a request asks for (Part 1's example maximum).
const MAX_PAGE: u32 = 10_000;

const GEOJSON: &str = "application/geo+json";
const ACCEPT_JSON: &str = "application/json";

/// Conformance classes, by the URI ending that every published version shares.
pub(super) const CORE: &str = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core";
pub(super) const CONF_GEOJSON: &str =
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson";
pub(super) const FILTER: &str = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter";
pub(super) const FEATURES_FILTER: &str =
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter";
pub(super) const CQL2_TEXT: &str = "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text";

pub(super) fn check_url(url: &Url) -> Result<(), String> {
    split(url).map(|_| ())
}

/// The landing page and the collection's URL (without a trailing `/items`).
fn split(url: &Url) -> Result<(Url, Url), String> {
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let mut end = segments.len();
    if segments.last() == Some(&"items") {
        end -= 1;
    }
    let wrong = || {
        format!(
            "'{}' is not an OGC API – Features collection URL; it should look like https://<api>/collections/<collectionId>",
            shown(url)
        )
    };
    if end < 2 || segments[end - 2] != "collections" {
        return Err(wrong());
    }
    let mut collection = url.clone();
    collection.set_query(None);
    collection.set_fragment(None);
    collection
        .path_segments_mut()
        .map_err(|()| wrong())?
        .clear()
        .extend(&segments[..end]);
    let mut landing = collection.clone();
    landing
        .path_segments_mut()
        .map_err(|()| wrong())?
        .clear()
        .extend(&segments[..end - 2]);
    Ok((landing, collection))
}

/// `path` under `base` (`{landing}/conformance`), keeping `base`'s path.
fn under(base: &Url, path: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(path);
    }
    url
}

fn with_f_json(url: &Url) -> Url {
    let mut url = url.clone();
    url.query_pairs_mut().append_pair("f", "json");
    url
}

pub(super) struct OapifSync {
    /// The next page to ask for; `None` when the last page had no next link.
    next: Option<Url>,
    /// Every page URL asked for, to tell a next link that goes round in circles.
    asked: HashSet<String>,
    fields: Vec<String>,
    updated_field: Option<String>,
    /// The property that tells features apart when the server gives them no `id` (`--key-field`).
    id_field: Option<String>,
}

impl OapifSync {
    pub async fn start(
        walk: &mut Walk,
        url: Url,
        source: &SourceSpec,
        since: Option<DateTime<Utc>>,
    ) -> Result<Self, ConnectorError> {
        let (landing, collection) = split(&url)
            .map_err(|m| ConnectorError::new(ConnectorErrorKind::Spec, shown(&url), None, m))?;
        let classes = conformance(walk, &landing).await?;
        let declares = |class: &str| classes.iter().any(|c| same_class(c, class));
        let missing = |what: &str, classes: &[&str], at: &Url| {
            let absent: Vec<&str> = classes.iter().copied().filter(|c| !declares(c)).collect();
            ConnectorError::new(
                ConnectorErrorKind::Spec,
                shown(at),
                None,
                format!(
                    "{what} needs the server to declare conformance to {}; its conformance declaration does not",
                    absent.join(" and ")
                ),
            )
        };
        let conformance_url = under(&landing, &["conformance"]);
        if !declares(CORE) {
            return Err(missing("reading features", &[CORE], &conformance_url));
        }
        if !declares(CONF_GEOJSON) {
            walk.warn(format!(
                "the server does not declare {CONF_GEOJSON}; its items are read as GeoJSON all the same"
            ));
        }
        let filtering = [FILTER, FEATURES_FILTER, CQL2_TEXT];
        let can_filter = filtering.iter().all(|c| declares(c));

        // The collection must exist; its queryables say which property is its temporal one.
        let info_url = with_f_json(&collection);
        let info = json(walk, &info_url, None, "the collection's description").await?;
        if !info.is_object() || info.get("id").is_none() && info.get("links").is_none() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Format,
                shown(&info_url),
                None,
                format!(
                    "the collection's description is not an OGC API collection: {}",
                    body_start(info.to_string().as_bytes())
                ),
            ));
        }

        let mut filters: Vec<String> = Vec::new();
        if let Some(filter) = source
            .options
            .filter
            .as_ref()
            .filter(|f| !f.trim().is_empty())
        {
            if !can_filter {
                return Err(missing("a CQL2 filter", &filtering, &conformance_url));
            }
            filters.push(filter.trim().to_string());
        }
        let mut datetime = source.options.datetime.clone();
        if let (Some(since), Some(field)) = (since, &source.options.updated_field) {
            let at = since.to_rfc3339_opts(SecondsFormat::Millis, true);
            if can_filter {
                filters.push(format!("\"{field}\" > TIMESTAMP('{at}')"));
            } else if temporal_property(walk, &collection, &info)
                .await?
                .as_deref()
                == Some(field.as_str())
            {
                if datetime.is_some() {
                    return Err(ConnectorError::new(
                        ConnectorErrorKind::Spec,
                        shown(&collection),
                        None,
                        "the server cannot filter, so an incremental sync needs the datetime parameter, which the source sets already",
                    ));
                }
                datetime = Some(format!("{at}/.."));
            } else {
                return Err(missing(
                    &format!(
                        "an incremental sync on '{field}' (which the collection does not declare as its temporal property)"
                    ),
                    &filtering,
                    &conformance_url,
                ));
            }
        } else if since.is_some() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Spec,
                shown(&collection),
                None,
                "an incremental sync needs updated_field (a date-time property of the collection)",
            ));
        }

        let page_size = source
            .options
            .page_size
            .unwrap_or(DEFAULT_PAGE)
            .clamp(1, MAX_PAGE);
        let mut first = under(&collection, &["items"]);
        {
            let mut pairs = first.query_pairs_mut();
            pairs
                .append_pair("f", "json")
                .append_pair("limit", &page_size.to_string());
            if let Some(bbox) = &source.options.bbox {
                let [w, s, e, n] = parse_bbox(bbox).map_err(|m| {
                    ConnectorError::new(ConnectorErrorKind::Spec, shown(&collection), None, m)
                })?;
                pairs.append_pair("bbox", &format!("{w},{s},{e},{n}"));
            }
            if let Some(datetime) = &datetime {
                pairs.append_pair("datetime", datetime);
            }
            if !filters.is_empty() {
                let text = if filters.len() == 1 {
                    filters.remove(0)
                } else {
                    filters
                        .iter()
                        .map(|f| format!("({f})"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                };
                pairs
                    .append_pair("filter", &text)
                    .append_pair("filter-lang", "cql2-text");
            }
        }
        Ok(Self {
            next: Some(first),
            asked: HashSet::new(),
            fields: source.options.fields.clone(),
            updated_field: source.options.updated_field.clone(),
            id_field: source.options.id_field.clone(),
        })
    }

    pub async fn next_page(&mut self, walk: &mut Walk) -> Result<Option<Page>, ConnectorError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let number = walk.next_number(&url)?;
        self.asked.insert(url.to_string());
        let (value, bytes) = json_sized(walk, &url, Some(number), "the page").await?;
        let bad = |m: String| {
            ConnectorError::new(ConnectorErrorKind::Format, shown(&url), Some(number), m)
        };
        let Value::Object(mut page) = value else {
            return Err(bad("the page is not a GeoJSON FeatureCollection".into()));
        };
        if page.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
            return Err(bad(
                "the page is not a GeoJSON FeatureCollection (its 'type' is not FeatureCollection)"
                    .into(),
            ));
        }
        if let Some(matched) = page.get("numberMatched") {
            let matched = matched.as_u64().ok_or_else(|| {
                bad(format!(
                    "numberMatched {} is not a count",
                    body_start(matched.to_string().as_bytes())
                ))
            })?;
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
        let items = match page.get_mut("features").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => return Err(bad("the FeatureCollection has no 'features' array".into())),
        };
        let next = next_link(&page, &url).map_err(bad)?;
        let mut features = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match self.feature(item, walk) {
                Ok(feature) => features.push(feature),
                Err(FeatureError::Unusable(m)) => return Err(bad(format!("feature {index}: {m}"))),
                Err(FeatureError::Skipped(m)) => walk.skip(number, m),
            }
        }
        if let Some(next) = &next
            && (self.asked.contains(next.as_str()) || *next == url)
        {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Loop,
                shown(&url),
                Some(number),
                format!(
                    "the page's next link ({}) names a page fetched already; the server is going round in circles, so the sync stops",
                    shown(next)
                ),
            ));
        }
        self.next = next;
        walk.accept(&url, bytes, features, "linking a next page")
            .map(Some)
    }

    fn feature(&self, item: Value, walk: &mut Walk) -> Result<Feature, FeatureError> {
        let unusable = |m: &str| FeatureError::Unusable(m.to_string());
        let Value::Object(mut item) = item else {
            return Err(unusable("not a JSON object"));
        };
        if item.get("type").and_then(Value::as_str) != Some("Feature") {
            return Err(unusable("not a GeoJSON Feature"));
        }
        let mut properties = match item.get_mut("properties").map(Value::take) {
            Some(Value::Object(p)) => p,
            None | Some(Value::Null) => Properties::new(),
            Some(_) => return Err(unusable("'properties' is not an object")),
        };
        let id_value = match &self.id_field {
            Some(field) => properties.get(field),
            None => item.get("id"),
        };
        let id = match id_value {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(FeatureError::Unusable(match &self.id_field {
                    Some(field) => format!("its property '{field}' (--key-field) holds no id"),
                    None => {
                        "it has no id to tell it apart (name a property that does with --key-field)"
                            .into()
                    }
                }));
            }
        };
        // A geometry that cannot be used leaves this feature out, named by its id.
        let geometry = match item.get("geometry") {
            None | Some(Value::Null) => None,
            Some(g) => Some(
                geoconsole_formats::geometry_from_geojson(g)
                    .map_err(|e| FeatureError::Skipped(format!("feature {id}: {e}")))?,
            ),
        };
        if let Some(at) = self
            .updated_field
            .as_ref()
            .and_then(|f| properties.get(f))
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            walk.saw_update(at.with_timezone(&Utc));
        }
        if !self.fields.is_empty() {
            properties.retain(|k, _| self.fields.iter().any(|f| f == k));
        }
        Ok(Feature {
            id: Some(FeatureId(id)),
            geometry,
            time: None,
            properties,
        })
    }
}

/// Why an item did not become a feature: the page cannot be trusted, or this feature alone is left out.
enum FeatureError {
    Unusable(String),
    Skipped(String),
}

/// Whether a declared class URI is `class` (servers differ in a trailing slash and in `https`).
fn same_class(declared: &str, class: &str) -> bool {
    let norm = |c: &str| {
        c.trim()
            .trim_end_matches('/')
            .replacen("https://", "http://", 1)
    };
    norm(declared) == norm(class)
}

/// The page's `rel=next` link, resolved against the page's URL: the GeoJSON one where several media types
/// are linked, a link without a type otherwise, never an HTML one.
fn next_link(page: &serde_json::Map<String, Value>, base: &Url) -> Result<Option<Url>, String> {
    let Some(links) = page.get("links") else {
        return Ok(None);
    };
    let Value::Array(links) = links else {
        return Err("'links' is not an array".into());
    };
    let mut best: Option<(u8, &str)> = None;
    for link in links {
        if link.get("rel").and_then(Value::as_str) != Some("next") {
            continue;
        }
        let Some(href) = link.get("href").and_then(Value::as_str) else {
            return Err("a next link has no href".into());
        };
        let rank = match link
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        {
            Some(t) if t.starts_with(GEOJSON) => 3,
            Some(t) if t.starts_with(ACCEPT_JSON) => 2,
            None => 1,
            Some(_) => 0,
        };
        if rank > 0 && best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, href));
        }
    }
    let Some((_, href)) = best else {
        return Ok(None);
    };
    let next = base.join(href).map_err(|e| {
        format!(
            "the next link '{}' is not a URL: {e}",
            body_start(href.as_bytes())
        )
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!(
            "the next link '{}' is not an http(s) URL",
            shown(&next)
        ));
    }
    Ok(Some(next))
}

/// GETs `url` as JSON; an OGC API exception (`{"code", "description"}`) with an error status is the
/// service's refusal, in its words.
async fn json(
    walk: &mut Walk,
    url: &Url,
    page: Option<u32>,
    what: &str,
) -> Result<Value, ConnectorError> {
    json_sized(walk, url, page, what).await.map(|(v, _)| v)
}

/// [`json`], and the answer's size in bytes.
async fn json_sized(
    walk: &mut Walk,
    url: &Url,
    page: Option<u32>,
    what: &str,
) -> Result<(Value, u64), ConnectorError> {
    let accept = if page.is_some() { GEOJSON } else { ACCEPT_JSON };
    let (status, bytes) = walk.get_answer(url, &[("Accept", accept)], page).await?;
    let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
    if !status.is_success() {
        let said = parsed
            .ok()
            .and_then(|v| {
                let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                match (text("code"), text("description")) {
                    (Some(code), Some(description)) => Some(format!("{code}: {description}")),
                    (None, Some(description)) => Some(description),
                    (Some(code), None) => Some(code),
                    (None, None) => None,
                }
            })
            .unwrap_or_else(|| body_start(&bytes));
        let kind = if said.is_empty() || status.is_server_error() {
            ConnectorErrorKind::Fetch(crate::FetchErrorKind::Status)
        } else {
            ConnectorErrorKind::Service
        };
        return Err(ConnectorError::new(
            kind,
            shown(url),
            page,
            format!("the server answered {status} to {what}: {said}"),
        ));
    }
    parsed.map(|v| (v, bytes.len() as u64)).map_err(|e| {
        ConnectorError::new(
            ConnectorErrorKind::Format,
            shown(url),
            page,
            format!("{what} is not JSON ({e}): {}", body_start(&bytes)),
        )
    })
}

/// The conformance classes the API declares: `{landing}/conformance`, or where the landing page's
/// `rel=conformance` link points when that is not there.
async fn conformance(walk: &mut Walk, landing: &Url) -> Result<Vec<String>, ConnectorError> {
    let url = with_f_json(&under(landing, &["conformance"]));
    let value = match json(walk, &url, None, "the conformance declaration").await {
        Ok(value) => value,
        Err(first) => {
            let landing_url = with_f_json(landing);
            let Ok(page) = json(walk, &landing_url, None, "the landing page").await else {
                return Err(first);
            };
            let href = page
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| {
                    l.get("rel").and_then(Value::as_str).is_some_and(|r| {
                        r == "conformance"
                            || r == "http://www.opengis.net/def/rel/ogc/1.0/conformance"
                    }) && l
                        .get("type")
                        .and_then(Value::as_str)
                        .is_none_or(|t| t.contains("json"))
                })
                .and_then(|l| l.get("href").and_then(Value::as_str));
            let Some(href) = href else {
                return Err(first);
            };
            let linked = landing_url.join(href).map_err(|e| {
                ConnectorError::new(
                    ConnectorErrorKind::Format,
                    shown(&landing_url),
                    None,
                    format!("the conformance link is not a URL: {e}"),
                )
            })?;
            json(walk, &linked, None, "the conformance declaration").await?
        }
    };
    match value.get("conformsTo") {
        Some(Value::Array(classes)) => Ok(classes
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()),
        _ => Err(ConnectorError::new(
            ConnectorErrorKind::Format,
            shown(&url),
            None,
            format!(
                "the conformance declaration has no 'conformsTo' list: {}",
                body_start(value.to_string().as_bytes())
            ),
        )),
    }
}

/// The collection's temporal property as its queryables declare it (Part 3): the one with
/// `x-ogc-role: primary-instant`, or the only date-time property. `None` when it cannot be told.
async fn temporal_property(
    walk: &mut Walk,
    collection: &Url,
    info: &Value,
) -> Result<Option<String>, ConnectorError> {
    let linked = info
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|l| {
            l.get("rel").and_then(Value::as_str).is_some_and(|r| {
                r == "http://www.opengis.net/def/rel/ogc/1.0/queryables" || r == "queryables"
            })
        })
        .and_then(|l| l.get("href").and_then(Value::as_str))
        .and_then(|href| collection.join(href).ok());
    let url = linked.unwrap_or_else(|| with_f_json(&under(collection, &["queryables"])));
    let Ok(value) = json(walk, &url, None, "the queryables").await else {
        return Ok(None);
    };
    let Some(Value::Object(properties)) = value.get("properties") else {
        return Ok(None);
    };
    if let Some((name, _)) = properties
        .iter()
        .find(|(_, p)| p.get("x-ogc-role").and_then(Value::as_str) == Some("primary-instant"))
    {
        return Ok(Some(name.clone()));
    }
    let dated: Vec<&String> = properties
        .iter()
        .filter(|(_, p)| p.get("format").and_then(Value::as_str) == Some("date-time"))
        .map(|(n, _)| n)
        .collect();
    Ok(match dated.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collection_urls() {
        let parts =
            |u: &str| split(&Url::parse(u).unwrap()).map(|(l, c)| (l.to_string(), c.to_string()));
        assert_eq!(
            parts("https://api.example/ogc/collections/sites").unwrap(),
            (
                "https://api.example/ogc".to_string(),
                "https://api.example/ogc/collections/sites".to_string()
            )
        );
        assert_eq!(
            parts("https://api.example/collections/sites/items")
                .unwrap()
                .0,
            "https://api.example/"
        );
        assert!(parts("https://api.example/ogc/sites").is_err());
        assert!(parts("https://api.example/collections").is_err());
    }

    #[test]
    fn next_links_are_chosen_and_resolved() {
        let base = Url::parse("https://api.example/ogc/collections/sites/items?f=json").unwrap();
        let page = json!({"links": [
            {"rel": "next", "type": "text/html", "href": "items?f=html&cursor=b"},
            {"rel": "self", "type": "application/geo+json", "href": "items?f=json"},
            {"rel": "next", "type": "application/geo+json", "href": "items?f=json&cursor=abc"}
        ]});
        let next = next_link(page.as_object().unwrap(), &base)
            .unwrap()
            .unwrap();
        assert_eq!(
            next.as_str(),
            "https://api.example/ogc/collections/sites/items?f=json&cursor=abc"
        );
        let html_only = json!({"links": [{"rel": "next", "type": "text/html", "href": "x"}]});
        assert_eq!(
            next_link(html_only.as_object().unwrap(), &base).unwrap(),
            None
        );
        assert!(next_link(json!({"links": {}}).as_object().unwrap(), &base).is_err());
        assert!(
            next_link(
                json!({"links": [{"rel": "next"}]}).as_object().unwrap(),
                &base
            )
            .is_err()
        );
        assert!(
            next_link(
                json!({"links": [{"rel": "next", "href": "file:///etc/passwd"}]})
                    .as_object()
                    .unwrap(),
                &base
            )
            .is_err()
        );
    }

    #[test]
    fn conformance_classes_compare_loosely() {
        assert!(same_class(
            "https://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core/",
            CORE
        ));
        assert!(!same_class(CQL2_TEXT, FILTER));
    }
}
