//! The network guard: which addresses the console may connect to on behalf of a configured URL (feeds,
//! webhooks). A URL typed by an operator must not become a way into the network the console runs in, so
//! loopback, private, link-local (cloud metadata lives there), shared, multicast and reserved addresses are
//! refused unless the configuration allows them by address, network or host name.
//!
//! The check happens where the address is known: for an IP literal when the URL is saved and before every
//! request and redirect; for a host name in the resolver the HTTP client connects through, which resolves
//! once and hands the client only the addresses it checked, so a name cannot resolve to one address when
//! checked and another when connected (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::Url;

/// Why a URL or address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// One `allow` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Net(IpNet),
    Host(String),
}

/// The addresses outbound connections may reach. The default refuses every non-public address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allow: Vec<Allowed>,
}

impl NetworkPolicy {
    /// A policy that also allows the given addresses (`127.0.0.1`), networks (`10.20.0.0/16`) or host names
    /// (`alerts.intranet`; every address that name resolves to).
    pub fn allowing<S: AsRef<str>>(entries: &[S]) -> Result<Self, Refused> {
        let mut allow = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                allow.push(Allowed::Net(net));
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                allow.push(Allowed::Net(IpNet::from(ip)));
            } else if is_host_name(entry) {
                allow.push(Allowed::Host(entry.to_ascii_lowercase()));
            } else {
                return Err(Refused(format!(
                    "network allow entry '{entry}' is neither an address, a network (a.b.c.d/n) nor a host name"
                )));
            }
        }
        Ok(Self { allow })
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow
            .iter()
            .any(|a| matches!(a, Allowed::Host(h) if *h == host))
    }

    /// Whether the console may connect to `ip` (reached through `host`).
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        let Some(why) = non_public(ip) else {
            return Ok(());
        };
        let allowed = self.host_allowed(host)
            || self
                .allow
                .iter()
                .any(|a| matches!(a, Allowed::Net(net) if net.contains(&canonical(ip))));
        if allowed {
            return Ok(());
        }
        let shown = if host == ip.to_string() {
            ip.to_string()
        } else {
            format!("{host} ({ip})")
        };
        Err(Refused(format!(
            "{shown} is a {why} address; add it to [network] allow in the configuration to reach it"
        )))
    }

    /// Checks what can be checked without resolving: http or https, a host, and an IP literal host's address.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!(
                "only http and https URLs are allowed, not '{}:'",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused(
                "URLs with a user name or password are refused; credentials would be logged and shown"
                    .into(),
            ));
        }
        match url.host() {
            None => Err(Refused(format!("'{url}' has no host"))),
            Some(url::Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(&ip.to_string(), IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }

    /// Parses and checks a configured URL, resolving its host once so that a name that points inside the
    /// network is refused when it is saved, not only when it is first fetched.
    pub async fn check_configured(&self, text: &str) -> Result<Url, Refused> {
        let url = Url::parse(text).map_err(|e| Refused(format!("'{text}' is not a URL: {e}")))?;
        self.check_url(&url)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            self.resolve(host).await?;
        }
        Ok(url)
    }

    /// Resolves `host` once and returns its addresses if every one of them may be reached. A name with one
    /// public and one private address is refused: the client might pick either.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Refused> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| Refused(format!("cannot resolve host '{host}': {e}")))?
            .collect();
        if found.is_empty() {
            return Err(Refused(format!("host '{host}' has no address")));
        }
        for addr in &found {
            self.check_ip(host, addr.ip())?;
        }
        Ok(found)
    }
}

/// Makes a client builder connect only where `policy` allows: names resolve through the guard, and proxies
/// are off (a proxy would resolve names itself, out of the guard's sight). IP-literal URLs do not pass
/// through a resolver; check them with [`NetworkPolicy::check_url`] before each request.
pub fn guarded(
    policy: Arc<NetworkPolicy>,
    builder: reqwest::ClientBuilder,
) -> reqwest::ClientBuilder {
    builder
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver(policy)))
}

/// The resolver the guarded HTTP client connects through.
#[derive(Debug, Clone)]
struct GuardedResolver(Arc<NetworkPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy.resolve(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What kind of non-public address `ip` is, or `None` when it is public.
pub(crate) fn non_public(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("multicast or broadcast")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a >= 240 || (a == 192 && b == 0 && ip.octets()[2] == 0) {
        Some("reserved")
    } else if ip.is_documentation() {
        Some("documentation")
    } else {
        None
    }
}

/// IPv6 is judged by what it is, not by a list of what it is not: only global unicast (2000::/3) can be
/// public, and forms that carry an IPv4 address inside (6to4, NAT64) are judged by that address. Everything
/// else, including the IPv4-compatible (`::127.0.0.1`) and IPv4-translated (`::ffff:0:127.0.0.1`) forms,
/// Teredo, and the IETF's special-purpose ranges, is refused: a public feed has no reason to live there, and
/// each is a way to write an inside address that a list of exceptions would miss.
fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64's well-known prefix embeds an IPv4 address in the last 32 bits; judge that one.
        non_public_v4(embedded(s[6], s[7]))
    } else if s[0] == 0x2002 {
        // 6to4 embeds the IPv4 address of the tunnel's end right after the prefix.
        non_public_v4(embedded(s[1], s[2]))
    } else if s[0] & 0xe000 != 0x2000 {
        // Outside global unicast: IPv4-compatible and -translated forms, local NAT64, discard, reserved.
        Some("reserved")
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        // 2001::/23, IETF special purpose: Teredo (an IPv4 address hidden by XOR), benchmarking, ORCHID.
        Some("special-purpose (Teredo, benchmarking, ORCHID)")
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || s[0] & 0xfff0 == 0x3ff0 {
        Some("documentation")
    } else {
        None
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn refuses_every_kind_of_inside_address() {
        let policy = NetworkPolicy::default();
        for inside in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            // Issue 18: these passed as public.
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "2002:7f00:1::1",
            // The rest of the class: other IPv4-in-IPv6 forms and special-purpose ranges.
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1",
            "::169.254.169.254",
            "64:ff9b:1::a00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "fec0::1",
            "ff02::1",
        ] {
            let refused = policy.check_ip(inside, ip(inside));
            assert!(refused.is_err(), "{inside} must be refused");
            assert!(
                refused.unwrap_err().0.contains("[network] allow"),
                "the message says how to allow it"
            );
        }
        for public in [
            "8.8.8.8",
            "151.101.1.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2a00:1450:4001:82a::200e",
            "2002:808:808::1",
        ] {
            assert!(policy.check_ip(public, ip(public)).is_ok(), "{public}");
        }
    }

    #[test]
    fn allows_what_the_configuration_names() {
        let policy =
            NetworkPolicy::allowing(&["127.0.0.1", "10.20.0.0/16", "feeds.internal"]).unwrap();
        assert!(policy.check_ip("127.0.0.1", ip("127.0.0.1")).is_ok());
        assert!(
            policy
                .check_ip("::ffff:127.0.0.1", ip("::ffff:127.0.0.1"))
                .is_ok()
        );
        assert!(policy.check_ip("127.0.0.2", ip("127.0.0.2")).is_err());
        assert!(policy.check_ip("x", ip("10.20.3.4")).is_ok());
        assert!(policy.check_ip("x", ip("10.21.3.4")).is_err());
        assert!(policy.check_ip("feeds.internal", ip("10.9.9.9")).is_ok());
        assert!(policy.check_ip("FEEDS.internal.", ip("10.9.9.9")).is_ok());
        assert!(NetworkPolicy::allowing(&["not an address!"]).is_err());
    }

    #[test]
    fn only_http_urls_without_credentials() {
        let policy = NetworkPolicy::default();
        for bad in [
            "file:///etc/passwd",
            "gopher://example.com/",
            "ftp://example.com/x",
            "http://user:pw@example.com/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            // Issue 18: IPv6 spellings of loopback that passed the guard as public.
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:127.0.0.1]/",
            "http://[2002:7f00:1::1]/",
        ] {
            let url = Url::parse(bad).unwrap();
            assert!(policy.check_url(&url).is_err(), "{bad} must be refused");
        }
        assert!(
            policy
                .check_url(&Url::parse("https://example.com/feed").unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_are_resolved_and_every_address_checked() {
        let policy = NetworkPolicy::default();
        let refused = policy.check_configured("http://localhost:9/feed").await;
        assert!(refused.unwrap_err().0.contains("loopback"));
        let allowed = NetworkPolicy::allowing(&["127.0.0.1", "::1"]).unwrap();
        assert!(
            allowed
                .check_configured("http://localhost:9/feed")
                .await
                .is_ok()
        );
    }
}
