//! Query strings, read strictly: every parameter a route does not know is refused (OGC API Features
//! requirement /req/core/query-param-unknown), and every value is checked with a message naming it.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};

use crate::error::{ApiError, ApiResult};

/// The decoded parameters of one request, each name once.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

/// The query names one route takes, from its declaration in the route table.
#[derive(Debug, Clone)]
pub struct KnownNames {
    pub names: Vec<String>,
    /// Names beyond `names` (queryable properties) are the handler's to check.
    pub open: bool,
}

/// The one check of query parameter names, in front of every route: a name the route does not declare is
/// refused before the handler runs, so handlers read values and never re-list names.
pub async fn check_names(
    axum::extract::State(known): axum::extract::State<std::sync::Arc<KnownNames>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !known.open {
        let query = request.uri().query().unwrap_or("");
        for (name, _) in form_urlencoded(query) {
            if !known.names.contains(&name) {
                let takes = if known.names.is_empty() {
                    "no parameters".to_string()
                } else {
                    known.names.join(", ")
                };
                return ApiError::bad_request(format!(
                    "unknown query parameter '{name}'; this resource takes: {takes}"
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}

impl Params {
    pub fn parse(query: Option<&str>) -> ApiResult<Self> {
        let mut values = BTreeMap::new();
        for (name, value) in form_urlencoded(query.unwrap_or("")) {
            if values.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_request(format!(
                    "parameter '{name}' is given more than once"
                )));
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Refuses names outside `known` unless `extra` accepts them (e.g. queryable property names).
    pub fn only(&self, known: &[&str], extra: impl Fn(&str) -> bool) -> ApiResult<()> {
        for name in self.values.keys() {
            if !known.contains(&name.as_str()) && !extra(name) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{name}'; this resource takes: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// A comma-separated list of dataset ids; empty when absent.
    pub fn datasets(&self, name: &str) -> ApiResult<Vec<geoconsole_model::DatasetId>> {
        self.get(name)
            .map(|l| {
                l.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|id| {
                        geoconsole_model::DatasetId::new(id)
                            .map_err(|e| ApiError::bad_request(format!("{name}: {}", e.message())))
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// A finite number, when given.
    pub fn number(&self, name: &str) -> ApiResult<Option<f64>> {
        self.get(name)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| ApiError::bad_request(format!("{name} '{v}' is not a number")))
            })
            .transpose()
    }

    /// An RFC 3339 instant, when given.
    pub fn instant(&self, name: &str) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
        self.get(name)
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| {
                        ApiError::bad_request(format!(
                            "{name} '{v}' is not an RFC 3339 instant such as 2023-04-07T00:00:00Z: {e}"
                        ))
                    })
            })
            .transpose()
    }

    /// A `datetime` filter (instant or interval), when given.
    pub fn datetime(&self, name: &str) -> ApiResult<Option<geoconsole_query::DateTimeFilter>> {
        self.get(name)
            .map(|d| {
                geoconsole_query::DateTimeFilter::parse(d)
                    .map_err(|e| ApiError::bad_request(e.to_string()))
            })
            .transpose()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

pub(crate) fn form_urlencoded(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// Percent-decoding with `+` as space; invalid escapes are kept literally, invalid UTF-8 is replaced.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) if hex.bytes().all(|c| c.is_ascii_hexdigit()) => {
                        out.push(b);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The response encodings a resource offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Html,
}

/// Picks the encoding from `f` (which wins) or the Accept header; JSON by default.
pub fn encoding(params: &Params, headers: &HeaderMap) -> ApiResult<Encoding> {
    match params.get("f") {
        Some("json" | "geojson" | "application/json" | "application/geo+json") => {
            return Ok(Encoding::Json);
        }
        Some("html" | "text/html") => return Ok(Encoding::Html),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "f={other} is not offered here (use f=json or f=html)"
            )));
        }
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Browsers list text/html first; API clients ask for JSON or anything.
    let wants_html = accept
        .split(',')
        .next()
        .is_some_and(|first| first.trim().starts_with("text/html"));
    Ok(if wants_html {
        Encoding::Html
    } else {
        Encoding::Json
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(decode("a%20b+c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%E2%9C%93"), "✓");
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%4"), "%4");
    }

    #[test]
    fn duplicates_and_unknowns_are_refused() {
        assert!(Params::parse(Some("limit=1&limit=2")).is_err());
        let p = Params::parse(Some("limit=1&bogus=2")).unwrap();
        assert!(p.only(&["limit"], |_| false).is_err());
        assert!(p.only(&["limit"], |n| n == "bogus").is_ok());
    }
}
