//! A small element tree over quick-xml, made defensively: a document type declaration is refused outright
//! (feeds need no DTD, and DTDs are how entity expansion and external entities get in), only the five
//! predefined entities and character references are expanded, and depth and element counts are capped.
//! Names are kept without their namespace prefix, which is how feed readers match them (`cap:polygon`,
//! `georss:point`); the prefix is kept beside for property names.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Elements nested deeper than this are refused; real feeds nest fewer than ten.
const MAX_DEPTH: usize = 64;
/// Elements per document; a 32 MB feed of tiny elements stays below this.
const MAX_ELEMENTS: usize = 2_000_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Element {
    /// Local name, without prefix.
    pub name: String,
    pub prefix: Option<String>,
    /// Attributes by local name.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Text directly inside this element, entities expanded.
    pub text: String,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child called `name`, when it has any.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The encoding named by the XML declaration (`<?xml version="1.0" encoding="..."?>`), when there is one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = std::str::from_utf8(head)
        .unwrap_or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default());
    let decl = head.trim_start().strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

/// The document as text, and a warning when its bytes are not in the encoding it declares. A document
/// declaring another encoding (ISO-8859-1, Windows-1252, ...) is decoded from it. One declaring UTF-8, or
/// nothing, whose bytes are not UTF-8 was written in a legacy code page by an issuer whose software wrote
/// the wrong declaration (the common fault: Windows-1252 text under `encoding="UTF-8"`); it is read as
/// Windows-1252, as browsers and feed readers read it, rather than losing every alert in it.
fn decode(bytes: &[u8]) -> (Cow<'_, str>, Option<String>) {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        let warning = had_errors.then(|| {
            format!(
                "the document is marked {} by its byte order mark but holds bytes that are not; they were replaced",
                encoding.name()
            )
        });
        return (text, warning);
    }
    let declared = declared_encoding(bytes);
    if let Some(label) = &declared
        && let Some(encoding) = encoding_rs::Encoding::for_label(label.as_bytes())
        && encoding != encoding_rs::UTF_8
    {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        let warning = had_errors.then(|| {
            format!(
                "the document declares {label} but holds bytes that are not; they were replaced"
            )
        });
        return (text, warning);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), None),
        Err(e) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            let said = declared.map_or_else(
                || "declares no encoding (so UTF-8)".to_string(),
                |label| format!("declares encoding '{label}'"),
            );
            let warning = format!(
                "the document {said} but byte {} is not UTF-8; it was read as Windows-1252, the encoding such documents are written in",
                e.valid_up_to()
            );
            (text, Some(warning))
        }
    }
}

/// Parses a document into its root element, or says where and why it cannot; with the root, a warning
/// when the document's bytes were not in the encoding it declares and were read in another (see
/// [`decode`]): the caller passes it on to the feed's health and the import's summary.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Element, Option<String>), String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let (text, warning) = decode(bytes);
    parse_text(&text).map(|root| (root, warning))
}

fn parse_text(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut elements = 0usize;
    let mut buf = Vec::new();
    // Positions are of the document as decoded, which are its bytes' for UTF-8 documents.
    let at = |reader: &Reader<&[u8]>| reader.buffer_position();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::DocType(_) => {
                return Err(format!(
                    "a DOCTYPE declaration at byte {} is refused: feeds need no DTD, and DTDs carry entity-expansion and external-entity attacks",
                    at(&reader)
                ));
            }
            Event::Start(start) => {
                elements += 1;
                if stack.len() >= MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err(format!(
                        "the document nests deeper than {MAX_DEPTH} or holds more than {MAX_ELEMENTS} elements"
                    ));
                }
                let name = start.name();
                let mut element = Element {
                    name: String::from_utf8_lossy(name.local_name().as_ref()).into_owned(),
                    prefix: name
                        .prefix()
                        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()),
                    ..Element::default()
                };
                for attr in start.attributes() {
                    let attr =
                        attr.map_err(|e| format!("bad attribute at byte {}: {e}", at(&reader)))?;
                    let value = attr
                        .unescape_value()
                        .map_err(|e| format!("bad attribute value at byte {}: {e}", at(&reader)))?;
                    element.attrs.push((
                        String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                stack.push(element);
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(format!("unexpected end tag at byte {}", at(&reader)));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| {
                    format!(
                        "bad text at byte {}: {e} (only the predefined XML entities are expanded)",
                        at(&reader)
                    )
                })?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                } else if !text.trim().is_empty() {
                    return Err(format!(
                        "text outside the root element at byte {}",
                        at(&reader)
                    ));
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => {
                return Err(if stack.is_empty() {
                    "the document is empty".into()
                } else {
                    format!(
                        "the document ends inside <{}>",
                        stack.last().map(|e| e.name.as_str()).unwrap_or("")
                    )
                });
            }
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_without_prefixes() {
        let (root, warning) = parse(
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?><rss xmlns:geo=\"g\"><item a=\"1 &amp; 2\"><geo:lat>1.5</geo:lat><x/><d><![CDATA[<b>hi</b>]]></d></item></rss>",
        )
        .unwrap();
        assert_eq!(warning, None);
        let item = root.child("item").unwrap();
        assert_eq!(item.attr("a"), Some("1 & 2"));
        assert_eq!(item.text_of("lat"), Some("1.5"));
        assert_eq!(item.child("lat").unwrap().prefix.as_deref(), Some("geo"));
        assert_eq!(item.text_of("d"), Some("<b>hi</b>"));
        assert!(item.child("x").is_some());
    }

    #[test]
    fn reads_mis_declared_windows_1252_and_declared_legacy_encodings() {
        let wrong = b"<?xml version = \"1.0\" encoding = \"UTF-8\"?><a>Polic\xeda</a>";
        let (root, warning) = parse(wrong).unwrap();
        assert_eq!(root.text, "Polic\u{ed}a");
        let warning = warning.unwrap();
        assert!(
            warning.contains("'UTF-8'")
                && warning.contains("byte 50")
                && warning.contains("Windows-1252"),
            "{warning}"
        );
        let undeclared = b"<a>\xc1ngeles</a>";
        assert_eq!(parse(undeclared).unwrap().0.text, "\u{c1}ngeles");
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>Polic\xeda</a>";
        assert_eq!(
            parse(latin1).unwrap(),
            (
                Element {
                    name: "a".into(),
                    text: "Polic\u{ed}a".into(),
                    ..Element::default()
                },
                None
            )
        );
        let utf8 = "<?xml version='1.0' encoding='utf-8'?><a>Polic\u{ed}a</a>";
        assert_eq!(parse(utf8.as_bytes()).unwrap().1, None);
        assert_eq!(declared_encoding(b"<?xml encoding=\"x"), None);
        assert_eq!(declared_encoding(b"<?xml encoding=?>"), None);
    }

    #[test]
    fn refuses_dtds_and_unknown_entities() {
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><alert>&lol2;</alert>"#;
        assert!(parse(laughs).unwrap_err().contains("DOCTYPE"));
        let external = br#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert!(parse(external).unwrap_err().contains("DOCTYPE"));
        assert!(parse(b"<a>&x;</a>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"").unwrap_err().contains("empty"));
        assert!(parse(b"<a>").unwrap_err().contains("ends inside"));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deeper"));
    }
}
