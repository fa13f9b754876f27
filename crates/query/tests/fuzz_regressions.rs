//! Inputs that once crashed or hung the filter parser, found by the fuzzer (`fuzz/`, target `cql2`) or by a
//! security test (the `*-chain-*` files: operator chains that overflowed the stack, which aborts the whole
//! process), replayed on every test run on the test's own 2 MiB thread: each must be answered, quickly,
//! with a result or an error.

use std::time::{Duration, Instant};

use geoconsole_query::{DateTimeFilter, FilterLang, Queryables, parse_filter};

#[test]
fn every_cql2_regression_input_is_answered_within_a_second() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/cql2");
    let queryables = Queryables {
        properties: ["mag", "name", "kind", "when", "depth"]
            .map(String::from)
            .into(),
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("regression folder") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        let started = Instant::now();
        let _ = parse_filter(&text, FilterLang::Text, &queryables);
        let _ = parse_filter(&text, FilterLang::Json, &queryables);
        let _ = DateTimeFilter::parse(&text);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{} took {:?}",
            path.display(),
            started.elapsed()
        );
        seen += 1;
    }
    assert!(seen >= 2, "the regression inputs are there");
}

#[test]
fn deeply_nested_text_filters_are_refused_with_the_reason() {
    let queryables = Queryables {
        properties: ["mag"].map(String::from).into(),
    };
    let deep = format!("{}mag > 1{}", "(".repeat(11), ")".repeat(11));
    let err = parse_filter(&deep, FilterLang::Text, &queryables).expect_err("too deep");
    assert!(err.to_string().contains("at most 10"), "{err}");
    let fine = format!("{}mag > 1{}", "(".repeat(10), ")".repeat(10));
    let started = Instant::now();
    parse_filter(&fine, FilterLang::Text, &queryables).expect("ten levels parse");
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
}
