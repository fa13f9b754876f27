//! CQL2 filters (text and JSON) as they arrive in `filter=`, and `datetime=` intervals.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let queryables = geoconsole_query::Queryables {
        properties: ["mag", "name", "kind", "when", "depth"].map(String::from).into(),
    };
    let _ = geoconsole_query::parse_filter(text, geoconsole_query::FilterLang::Text, &queryables);
    let _ = geoconsole_query::parse_filter(text, geoconsole_query::FilterLang::Json, &queryables);
    let _ = geoconsole_query::DateTimeFilter::parse(text);
});
