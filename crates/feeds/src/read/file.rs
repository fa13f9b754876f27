//! Feed documents saved as files (a CAP message, a GeoRSS or CAP-in-Atom index downloaded once) are
//! imported with the same readers a feed's polls use, so a file and a poll of the same document make the
//! same features. They are recognised by content, as the file importers recognise theirs: a CAP
//! `<alert>` by its OASIS namespace, an RSS or Atom document by the GeoRSS, W3C geo or CAP namespaces it
//! declares.

use chrono::{DateTime, Utc};

use super::{Parsed, cap, georss};
use crate::spec::{FeedFormat, Footprint};

/// The namespace every CAP version's `<alert>` declares (`urn:oasis:names:tc:emergency:cap:1.2`).
const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.";
/// Namespaces an RSS or Atom document places its entries with.
const GEO_NAMESPACES: [&str; 3] = [
    "www.georss.org/georss",
    "www.w3.org/2003/01/geo/wgs84_pos",
    "www.opengis.net/gml",
];

/// The local name of the document's root element: the first start tag after the declaration, comments,
/// processing instructions and a BOM.
fn root_name(head: &str) -> Option<&str> {
    let mut rest = head;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = &after[after.find("-->")? + 3..];
        } else if rest.starts_with('?') || rest.starts_with('!') {
            rest = &rest[rest.find('>')? + 1..];
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..end];
            return Some(name.rsplit(':').next().unwrap_or(name));
        }
    }
}

/// The feed format a file's first bytes are in, when they are one of the feed standards a file importer
/// does not read (CAP, CAP in Atom/RSS, GeoRSS): `None` for anything else, which the file importers judge.
pub fn detect_file(head: &[u8]) -> Option<FeedFormat> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // The head may end inside a character, and a mis-declared Windows-1252 file is not UTF-8 at all: what
    // matters here (tags and namespaces) is ASCII.
    let text = String::from_utf8_lossy(head);
    match root_name(&text)? {
        "alert" if text.contains(CAP_NAMESPACE) => Some(FeedFormat::Cap),
        "feed" | "rss" | "RDF" if text.contains(CAP_NAMESPACE) => Some(FeedFormat::CapIndex),
        "feed" | "rss" | "RDF" if GEO_NAMESPACES.iter().any(|ns| text.contains(ns)) => {
            Some(FeedFormat::Georss)
        }
        _ => None,
    }
}

/// Reads a whole feed document given as a file. Documents an index only links to are not fetched (an
/// import reaches no network): each is skipped with that reason. Alerts given only by area codes are left
/// in [`Parsed::unplaced`] for the importer to place with the areas it was given.
pub fn read_file(format: FeedFormat, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, String> {
    let mut parsed = match format {
        FeedFormat::Cap => cap::read_document(body, now),
        FeedFormat::CapIndex => georss::read_cap_index(body, now, usize::MAX),
        FeedFormat::Georss => georss::read(body, Footprint::Area),
        other => Err(format!(
            "{} documents are imported by the file readers, not as feed files",
            other.as_str()
        )),
    }?;
    for linked in std::mem::take(&mut parsed.linked) {
        parsed.skip(format!(
            "linked alert '{}': an imported file's links are not fetched; poll the index as a feed to follow them",
            linked.url
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_feed_documents_by_content() {
        let cap = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment --><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>"#;
        assert_eq!(detect_file(cap), Some(FeedFormat::Cap));
        let prefixed = br#"<cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.1">"#;
        assert_eq!(detect_file(prefixed), Some(FeedFormat::Cap));
        let atom_cap = br#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">"#;
        assert_eq!(detect_file(atom_cap), Some(FeedFormat::CapIndex));
        let georss =
            br#"<?xml version="1.0"?><rss version="2.0" xmlns:georss="http://www.georss.org/georss">"#;
        assert_eq!(detect_file(georss), Some(FeedFormat::Georss));
        assert_eq!(detect_file(br#"<rss version="2.0"><channel>"#), None);
        assert_eq!(
            detect_file(br#"<kml xmlns="http://www.opengis.net/kml/2.2">"#),
            None
        );
        assert_eq!(detect_file(b"<alert>no namespace</alert>"), None);
        assert_eq!(detect_file(b"<!-- never closed"), None);
        assert_eq!(detect_file(b"{\"type\":\"FeatureCollection\"}"), None);
        assert_eq!(detect_file(b""), None);
    }

    #[test]
    fn links_of_an_index_file_are_skipped_with_the_reason() {
        let index = br#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
<entry><id>a</id><title>t</title><updated>2024-01-01T00:00:00Z</updated><link href="http://example.org/a.xml"/></entry></feed>"#;
        let parsed = read_file(FeedFormat::CapIndex, index, Utc::now()).unwrap();
        assert!(parsed.linked.is_empty());
        assert!(
            parsed.skipped.iter().any(|s| s.contains("not fetched")),
            "{:?}",
            parsed.skipped
        );
        assert!(read_file(FeedFormat::Csv, b"a,b", Utc::now()).is_err());
    }
}
