//! Where a request comes from and which host it was addressed to: what keeps other web pages out. Any page
//! a person opens can make their browser send requests to this console; the browser then says where the
//! page came from (`Origin`) and which name it resolved (`Host`).
//!
//! - A console without accounts serves whoever reaches it as the machine's own user, so it must know the
//!   request is really for this machine: a page on `evil.example` whose name is re-pointed at 127.0.0.1
//!   (DNS rebinding) arrives with `Host: evil.example:8080`, and is refused, as Jupyter and Vite refuse it.
//! - Every write, whoever makes it, must come from this console's own pages or from a client that is not a
//!   browser (no `Origin`): the one check, in the route guard, rather than one per handler.
//! - No `Access-Control-Allow-Origin: *`: other sites may read nothing unless an operator names them.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};

use crate::error::{ApiError, ApiResult};

/// The names that mean this machine to a console without accounts, beyond loopback addresses and
/// `localhost`: the address it listens on (when it is a specific one) and its public URL's host.
#[derive(Debug, Clone, Default)]
pub struct LocalHosts {
    names: Vec<String>,
}

impl LocalHosts {
    pub fn new(bind: std::net::SocketAddr, public_url: Option<&str>) -> Self {
        let mut names = Vec::new();
        if !bind.ip().is_unspecified() {
            names.push(bind.ip().to_string());
        }
        if let Some(host) = public_url
            .and_then(|u| u.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
            .map(host_name)
            .filter(|h| !h.is_empty())
        {
            names.push(host);
        }
        Self { names }
    }

    /// Whether a `Host` header names this machine.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(name) = host.map(host_name) else {
            return false;
        };
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback())
        {
            return true;
        }
        self.names.contains(&name)
    }
}

/// The host name of a `Host` header or URL authority, lower-cased, without its port or a trailing dot.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    let name = if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or("").to_string()
    } else {
        match authority.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
            _ => authority,
        }
    };
    name.trim_end_matches('.').to_string()
}

/// A write must come from a page of this console, or from a client that sends no `Origin` (curl, scripts,
/// GDAL): a page elsewhere that makes a browser post here is refused. `Origin: null` (sandboxed frames,
/// files) is a page of nowhere, and refused too.
pub fn same_origin(headers: &HeaderMap) -> ApiResult<()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(ApiError::forbidden(
            "writes are accepted only from this console's own pages (the request's Origin is another site)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_names_are_local() {
        let bind = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
        let hosts = LocalHosts::new(bind, None);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "localhost.:8080",
            "app.localhost:8080",
            "[::1]:8080",
            "127.0.0.2",
            "[::ffff:127.0.0.1]:8080",
        ] {
            assert!(hosts.allows(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "10.0.0.5:8080",
            "[2002:7f00:1::1]:8080",
            "",
        ] {
            assert!(!hosts.allows(Some(refused)), "{refused}");
        }
        assert!(!hosts.allows(None), "no Host at all");
        let proxied = LocalHosts::new(
            std::net::SocketAddr::from(([0, 0, 0, 0], 8080)),
            Some("https://Console.Example.org/geo/"),
        );
        assert!(proxied.allows(Some("console.example.org")));
        assert!(!proxied.allows(Some("0.0.0.0:8080")));
    }

    #[test]
    fn writes_from_other_pages_are_refused() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                    v.parse().expect("value"),
                );
            }
            h
        };
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])).is_ok());
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]))
            .is_ok()
        );
        for origin in ["http://evil.example", "null", "http://127.0.0.1:9999"] {
            assert!(
                same_origin(&headers(&[("host", "127.0.0.1:8080"), ("origin", origin)])).is_err(),
                "{origin}"
            );
        }
    }
}
