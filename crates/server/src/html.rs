//! The HTML encoding of the OGC resources: plain pages a person can click through. Every value that came
//! from data is escaped; nothing a dataset holds is ever markup.

use serde_json::Value;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with a title and a body already escaped by the caller.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · geoconsole</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <style>body{{font:15px system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1b1f24}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         a{{color:#0550ae}}code{{background:#f6f8fa;padding:0 .2rem}}</style></head>\
         <body><h1>{}</h1>{body}</body></html>",
        escape(title),
        escape(title)
    )
}

pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
}

/// A JSON value as table cell text.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// A table of property rows (name, value).
pub fn properties_table(properties: &serde_json::Map<String, Value>) -> String {
    let mut out = String::from("<table>");
    for (name, value) in properties {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            cell(value)
        ));
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_never_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert!(link("\" onclick=\"x", "t").contains("&quot; onclick"));
    }
}
