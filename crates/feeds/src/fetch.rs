//! Guarded HTTP fetching: one client whose every connection goes through the [`NetworkPolicy`], conditional
//! GET, and hard caps on time, bytes on the wire, bytes after decompression and redirects. A feed that
//! answers slowly, endlessly or with a compression bomb costs at most the caps, and says which cap it hit.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, HeaderMap, HeaderName, HeaderValue,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{StatusCode, Url};

use crate::guard::{NetworkPolicy, guarded};

/// The caps every fetch runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    pub connect_timeout: Duration,
    /// The whole exchange, headers and body.
    pub total_timeout: Duration,
    /// Bytes read from the network.
    pub max_bytes: u64,
    /// Bytes after gzip or deflate decoding.
    pub max_decoded_bytes: u64,
    pub max_redirects: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            max_bytes: 32 * 1024 * 1024,
            max_decoded_bytes: 128 * 1024 * 1024,
            max_redirects: 5,
        }
    }
}

/// What a feed was last seen with, sent back so an unchanged feed answers `304 Not Modified`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The result of a fetch that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    NotModified,
    Body {
        /// Decoded bytes.
        bytes: Vec<u8>,
        /// The URL the body came from, after redirects.
        url: Url,
        content_type: Option<String>,
        validators: Validators,
    },
}

/// Which way a fetch failed; the message says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// The URL or an address on the way was refused by the network guard.
    Refused,
    Timeout,
    Connect,
    /// The server answered with an error status.
    Status,
    TooLarge,
    Redirect,
    /// The body could not be read or decoded.
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub kind: FetchErrorKind,
    pub message: String,
}

impl FetchError {
    fn new(kind: FetchErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// An HTTP client that can only reach what the policy allows.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
    limits: FetchLimits,
}

impl Fetcher {
    pub fn new(policy: Arc<NetworkPolicy>, limits: FetchLimits) -> Result<Self, FetchError> {
        let redirect_policy = policy.clone();
        let max_redirects = limits.max_redirects;
        let client = guarded(policy.clone(), reqwest::Client::builder())
            .connect_timeout(limits.connect_timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= max_redirects {
                    return attempt.error(format!("more than {max_redirects} redirects"));
                }
                match redirect_policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => {
                        let to = attempt.url().to_string();
                        attempt.error(format!("redirect to {to} refused: {refused}"))
                    }
                }
            }))
            .user_agent(concat!("geoconsole/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::new(FetchErrorKind::Connect, e.to_string()))?;
        Ok(Self {
            client,
            policy,
            limits,
        })
    }

    pub fn policy(&self) -> &Arc<NetworkPolicy> {
        &self.policy
    }

    pub fn limits(&self) -> FetchLimits {
        self.limits
    }

    /// GETs `url` with the validators of the last fetch; `limits` overrides the fetcher's own.
    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
        limits: Option<FetchLimits>,
    ) -> Result<Fetched, FetchError> {
        self.guarded_exchange(url, validators, limits, &[], false)
            .await
            .map(|(fetched, _, _)| fetched)
    }

    /// GETs `url` with headers of the caller's (an API's application token) under the same guard and caps,
    /// and hands back the response's headers too: APIs put what the body lacks there (Socrata's column
    /// types). Header values the caller passes are marked sensitive, so they never appear in debug output.
    pub async fn get_with_headers(
        &self,
        url: &Url,
        headers: &[(&str, &str)],
        limits: Option<FetchLimits>,
    ) -> Result<(Fetched, HeaderMap), FetchError> {
        let extra = extra_headers(headers)?;
        self.guarded_exchange(url, &Validators::default(), limits, &extra, false)
            .await
            .map(|(fetched, headers, _)| (fetched, headers))
    }

    /// Like [`Fetcher::get_with_headers`], but an error status is handed back with its body (under the same
    /// caps) instead of failing: protocols whose servers explain a refusal in a body of their own (an OGC
    /// `ExceptionReport`, an OGC API exception) need more of it than the start an error message quotes.
    pub async fn get_answer(
        &self,
        url: &Url,
        headers: &[(&str, &str)],
        limits: Option<FetchLimits>,
    ) -> Result<(StatusCode, Fetched, HeaderMap), FetchError> {
        let extra = extra_headers(headers)?;
        self.guarded_exchange(url, &Validators::default(), limits, &extra, true)
            .await
            .map(|(fetched, headers, status)| (status, fetched, headers))
    }

    async fn guarded_exchange(
        &self,
        url: &Url,
        validators: &Validators,
        limits: Option<FetchLimits>,
        extra: &[(HeaderName, HeaderValue)],
        error_bodies: bool,
    ) -> Result<(Fetched, HeaderMap, StatusCode), FetchError> {
        let limits = limits.unwrap_or(self.limits);
        self.policy
            .check_url(url)
            .map_err(|r| FetchError::new(FetchErrorKind::Refused, r.0))?;
        let work = self.exchange(url, validators, limits, extra, error_bodies);
        match tokio::time::timeout(limits.total_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::new(
                FetchErrorKind::Timeout,
                format!(
                    "no complete answer within {} s",
                    limits.total_timeout.as_secs_f64()
                ),
            )),
        }
    }

    async fn exchange(
        &self,
        url: &Url,
        validators: &Validators,
        limits: FetchLimits,
        extra: &[(HeaderName, HeaderValue)],
        error_bodies: bool,
    ) -> Result<(Fetched, HeaderMap, StatusCode), FetchError> {
        let mut request = self
            .client
            .get(url.clone())
            .header(ACCEPT_ENCODING, "gzip, deflate");
        // A caller's own Accept (an API asking for one media type) replaces the default rather than adding a
        // second header.
        if !extra.iter().any(|(name, _)| name == ACCEPT) {
            request = request.header(
                ACCEPT,
                "application/geo+json, application/json, application/cap+xml, application/atom+xml, application/rss+xml, application/xml, text/csv, */*;q=0.5",
            );
        }
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
        for (name, value) in extra {
            request = request.header(name.clone(), value.clone());
        }
        let mut response = request.send().await.map_err(describe)?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok((
                Fetched::NotModified,
                response.headers().clone(),
                response.status(),
            ));
        }
        let response_headers = response.headers().clone();
        let final_url = response.url().clone();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let encoding = header(CONTENT_ENCODING).map(|e| e.to_ascii_lowercase());
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let found = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let status = response.status();
        if status.is_redirection() {
            // reqwest hands back redirects it will not follow (a scheme other than http or https).
            let to = header(reqwest::header::LOCATION).unwrap_or_default();
            return Err(FetchError::new(
                FetchErrorKind::Redirect,
                format!(
                    "the server redirected to '{to}', which was not followed: only http and https are"
                ),
            ));
        }
        if let Some(length) = response.content_length()
            && length > limits.max_bytes
        {
            return Err(too_large(limits.max_bytes, "says it is", length));
        }
        // Sized from the declared length (never past the cap), so the buffer does not double its way up.
        let declared = response.content_length().unwrap_or(0).min(limits.max_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if (bytes.len() + chunk.len()) as u64 > limits.max_bytes {
                return Err(too_large(
                    limits.max_bytes,
                    "was cut after",
                    limits.max_bytes,
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() && !error_bodies {
            let start = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(FetchError::new(
                FetchErrorKind::Status,
                format!("the server answered {status}: {}", start.trim()),
            ));
        }
        let bytes = decode(bytes, encoding.as_deref(), limits.max_decoded_bytes)?;
        Ok((
            Fetched::Body {
                bytes,
                url: final_url,
                content_type,
                validators: found,
            },
            response_headers,
            status,
        ))
    }
}

/// The caller's headers, their values marked sensitive.
fn extra_headers(headers: &[(&str, &str)]) -> Result<Vec<(HeaderName, HeaderValue)>, FetchError> {
    let mut extra = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            FetchError::new(
                FetchErrorKind::Refused,
                format!("'{name}' is not a header name"),
            )
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            FetchError::new(
                FetchErrorKind::Refused,
                format!("the value of header '{name}' is not valid in a header"),
            )
        })?;
        value.set_sensitive(true);
        extra.push((name, value));
    }
    Ok(extra)
}

fn too_large(cap: u64, what: &str, n: u64) -> FetchError {
    FetchError::new(
        FetchErrorKind::TooLarge,
        format!("the body {what} {n} bytes; the cap is {cap} bytes (max_bytes)"),
    )
}

/// Undoes `Content-Encoding`, stopping at `cap` decoded bytes.
fn decode(bytes: Vec<u8>, encoding: Option<&str>, cap: u64) -> Result<Vec<u8>, FetchError> {
    let reader: Box<dyn Read> = match encoding {
        None | Some("identity") => {
            if bytes.len() as u64 > cap {
                return Err(decoded_too_large(cap));
            }
            return Ok(bytes);
        }
        Some("gzip" | "x-gzip") => Box::new(flate2::read::MultiGzDecoder::new(&bytes[..])),
        Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(&bytes[..])),
        Some(other) => {
            return Err(FetchError::new(
                FetchErrorKind::Body,
                format!("content encoding '{other}' is not supported (gzip, deflate are)"),
            ));
        }
    };
    let mut out = Vec::new();
    reader.take(cap + 1).read_to_end(&mut out).map_err(|e| {
        FetchError::new(FetchErrorKind::Body, format!("cannot decode the body: {e}"))
    })?;
    if out.len() as u64 > cap {
        return Err(decoded_too_large(cap));
    }
    Ok(out)
}

fn decoded_too_large(cap: u64) -> FetchError {
    FetchError::new(
        FetchErrorKind::TooLarge,
        format!(
            "the body decodes to more than {cap} bytes (max_decoded_bytes); refused as a compression bomb"
        ),
    )
}

/// Turns a client error into words: the guard's refusal when that is the cause, else what failed and the
/// innermost reason ("cannot connect to 127.0.0.1:9: Connection refused (os error 111)").
fn describe(error: reqwest::Error) -> FetchError {
    let mut innermost = error.to_string();
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<crate::guard::Refused>() {
            return FetchError::new(FetchErrorKind::Refused, refused.0.clone());
        }
        innermost = e.to_string();
        source = e.source();
    }
    let host = error
        .url()
        .and_then(|u| {
            Some(format!(
                "{}{}",
                u.host_str()?,
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ))
        })
        .unwrap_or_default();
    if error.is_timeout() {
        FetchError::new(
            FetchErrorKind::Timeout,
            format!("{host} did not answer in time: {innermost}"),
        )
    } else if error.is_redirect() {
        let kind = if innermost.contains("refused") {
            FetchErrorKind::Refused
        } else {
            FetchErrorKind::Redirect
        };
        FetchError::new(kind, innermost)
    } else if error.is_connect() {
        FetchError::new(
            FetchErrorKind::Connect,
            format!("cannot connect to {host}: {innermost}"),
        )
    } else {
        FetchError::new(
            FetchErrorKind::Body,
            format!("reading the answer from {host} failed: {innermost}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decoding_stops_at_the_cap() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 10 * 1024 * 1024]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 64 * 1024);
        let err = decode(bomb.clone(), Some("gzip"), 1024 * 1024).unwrap_err();
        assert_eq!(err.kind, FetchErrorKind::TooLarge);
        assert!(err.message.contains("compression bomb"));
        assert_eq!(
            decode(bomb, Some("gzip"), 20 * 1024 * 1024).unwrap().len(),
            10 * 1024 * 1024
        );
        assert!(decode(b"not gzip".to_vec(), Some("gzip"), 100).is_err());
        assert!(
            decode(b"x".to_vec(), Some("br"), 100)
                .unwrap_err()
                .message
                .contains("br")
        );
    }
}
