//! The data-protection guard over arbitrary property objects: it judges names (normalised, in every
//! language it knows, nested), values and ids, and redacts records and JSON text; it never panics.
//! Dictionary: `fuzz/dicts/privacy.dict`.
#![no_main]

use geoconsole_formats::privacy::{PrivacyGuard, PrivacyPolicy, category_of_name, redact_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = category_of_name(text);
        let _ = redact_text(text);
        let guard = PrivacyGuard::new(PrivacyPolicy::default());
        let _ = guard.redact_json(text);
    }
    let Ok(serde_json::Value::Object(mut properties)) = serde_json::from_slice(data) else {
        return;
    };
    let mut guard = PrivacyGuard::new(PrivacyPolicy::default());
    let mut sample = vec![(&mut properties, "feature 0".to_string())];
    let _ = guard.inspect_sample(&mut sample);
    let _ = guard.admit(&mut properties, "feature 1");
    let columns: Vec<String> = properties.keys().cloned().collect();
    let values: Vec<String> = properties.values().map(|v| v.to_string()).collect();
    let _ = guard.redact_record(&columns, &values);
    for key in properties.keys() {
        let _ = PrivacyGuard::check_dataset(key, key);
        let _ = guard.check_id(key, "feature 2");
    }
});
