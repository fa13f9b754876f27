//! The data-protection guard over arbitrary property objects: it judges, it never panics.
#![no_main]

use geoconsole_formats::privacy::{PrivacyGuard, PrivacyPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(mut properties)) = serde_json::from_slice(data) else {
        return;
    };
    let mut guard = PrivacyGuard::new(PrivacyPolicy::default());
    let mut sample = vec![(&mut properties, "feature 0".to_string())];
    let _ = guard.inspect_sample(&mut sample);
    let _ = guard.admit(&mut properties, "feature 1");
    for key in properties.keys() {
        let _ = PrivacyGuard::check_dataset(key, key);
    }
});
