//! What one audit entry may hold. Entries quote what was asked and what went wrong, and both can come
//! from outside: a failed import once carried a 1 GiB CSV header in its error, and the store refused the
//! write ("string or blob too big"), so the refusal went unrecorded. Every entry is bounded before it is
//! appended; what is cut says so.

use geoconsole_model::excerpt;
use geoconsole_store::access::AuditEntry;
use serde_json::Value;

/// Characters kept of each field (actor, action, target, outcome, source).
pub(crate) const FIELD_CHARS: usize = 512;
/// Bytes the detail may take as JSON.
pub(crate) const DETAIL_BYTES: usize = 16 * 1024;
/// Characters kept of each text inside a detail that was too large.
const DETAIL_TEXT_CHARS: usize = 1024;

/// The entry, each field and the detail cut to their bounds.
pub(crate) fn bounded(mut entry: AuditEntry) -> AuditEntry {
    for field in [
        &mut entry.actor,
        &mut entry.action,
        &mut entry.target,
        &mut entry.outcome,
        &mut entry.source,
    ] {
        if field.chars().count() > FIELD_CHARS {
            *field = excerpt(field, FIELD_CHARS).into_owned();
        }
    }
    if serialized_len(&entry.detail) > DETAIL_BYTES {
        clip_texts(&mut entry.detail);
        if serialized_len(&entry.detail) > DETAIL_BYTES {
            let text = entry.detail.to_string();
            entry.detail = serde_json::json!({
                "truncated": true,
                "excerpt": excerpt(&text, DETAIL_BYTES / 4),
            });
        }
    }
    entry
}

fn serialized_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

fn clip_texts(value: &mut Value) {
    match value {
        Value::String(text) if text.chars().count() > DETAIL_TEXT_CHARS => {
            *text = excerpt(text, DETAIL_TEXT_CHARS).into_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(clip_texts),
        Value::Object(map) => map.values_mut().for_each(clip_texts),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(error: String) -> AuditEntry {
        AuditEntry {
            at: chrono::Utc::now(),
            actor: "user:ann".into(),
            action: "import".into(),
            target: "x".repeat(10_000),
            outcome: "failed".into(),
            source: "127.0.0.1".into(),
            detail: serde_json::json!({"error": error, "file": "header.csv"}),
        }
    }

    // Regression: a failed import's error held the whole 50 MB header it quoted, and the audit write failed.
    #[test]
    fn an_entry_quoting_megabytes_is_cut_to_its_bounds_and_says_so() {
        let cut = bounded(entry("b".repeat(50 << 20)));
        assert!(
            cut.target.chars().count() < FIELD_CHARS + 40,
            "{}",
            cut.target.len()
        );
        assert!(cut.target.contains("…[+"));
        assert!(serialized_len(&cut.detail) <= DETAIL_BYTES);
        assert_eq!(cut.detail["file"], "header.csv", "short texts stay whole");
        assert!(
            cut.detail["error"]
                .as_str()
                .is_some_and(|e| e.ends_with(&format!("…[+{} bytes]", (50 << 20) - 1024))),
            "{}",
            cut.detail
        );
        // Many texts, each under the cut, together too large: one excerpt of the whole.
        let many: Vec<String> = (0..100).map(|_| "c".repeat(1000)).collect();
        let mut wide = entry(String::new());
        wide.detail = serde_json::json!({"columns": many});
        let cut = bounded(wide);
        assert_eq!(cut.detail["truncated"], true);
        assert!(serialized_len(&cut.detail) <= DETAIL_BYTES);
    }

    #[test]
    fn ordinary_entries_are_untouched() {
        let small = entry("not a number".into());
        let mut expected = small.clone();
        expected.target = excerpt(&small.target, FIELD_CHARS).into_owned();
        assert_eq!(bounded(small), expected);
    }
}
