//! Filters built to make the parser, checker or evaluator recurse until the stack overflows. A stack overflow
//! aborts the whole process (not one request), so each of these must come back as an error with a reason,
//! on a thread no bigger than a tokio worker's.
//!
//! Regression: a security test took the server down with `GET /collections/D/items?filter=` carrying 2,000
//! `NOT `s before `mag>1` ("fatal runtime error: stack overflow, aborting"); only parentheses were counted.

use geoconsole_model::Feature;
use geoconsole_model::geo_types::Point;
use geoconsole_query::filter_limits::{
    MAX_FILTER_DEPTH, MAX_OPERATORS, MAX_PREFIX_RUN, STACK_RED_ZONE,
};
use geoconsole_query::{FilterLang, Queryables, parse_filter};

/// A tokio worker's stack, which is where filters are parsed when a request comes in.
const WORKER_STACK: usize = 2 * 1024 * 1024;

fn queryables() -> Queryables {
    Queryables {
        properties: ["mag", "kind"].map(String::from).into(),
    }
}

fn quake() -> Feature {
    let serde_json::Value::Object(properties) = serde_json::json!({"mag": 5.5, "kind": "quake"})
    else {
        unreachable!()
    };
    Feature {
        id: None,
        geometry: Some(Point::new(0.0, 0.0).into()),
        time: None,
        properties,
    }
}

/// Parses (and, when it parses, evaluates) `text` on a thread of `stack` bytes; the outcome, or the error.
fn parse_on(stack: usize, text: String, lang: FilterLang) -> Result<bool, String> {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            parse_filter(&text, lang, &queryables())
                .map(|f| f.matches(&quake()))
                .map_err(|e| e.to_string())
        })
        .expect("thread")
        .join()
        .expect("no panic")
}

fn refused(text: String, lang: FilterLang) -> String {
    parse_on(WORKER_STACK, text, lang).expect_err("refused")
}

#[test]
fn a_chain_of_two_thousand_nots_is_refused_not_overflowed() {
    let err = refused(format!("{}mag>1", "NOT ".repeat(2_000)), FilterLang::Text);
    assert!(err.contains("prefix operators"), "{err}");
    assert!(
        err.contains(&format!("more than {MAX_PREFIX_RUN}")),
        "{err}"
    );
}

#[test]
fn chains_of_operators_are_refused_with_the_count() {
    for (chain, counted) in [
        (format!("{}mag > 1", "mag > 1 AND ".repeat(4_000)), "8001"),
        (format!("{}mag > 1", "mag > 1 OR ".repeat(4_000)), "8001"),
        (format!("{}1", "mag = ".repeat(2_000)), "2000"),
        (format!("mag > {}1", "1 + ".repeat(3_000)), "3001"),
        (format!("mag > {}1", "1 - ".repeat(3_000)), "3001"),
        (format!("mag > {}", "NOT - ".repeat(3_000)), "6000"),
    ] {
        let err = refused(chain, FilterLang::Text);
        let at_most = format!("at most {MAX_OPERATORS}");
        // Prefix runs are caught first where they are what the chain is made of.
        assert!(
            err.contains(&format!("{counted} operators")) && err.contains(&at_most)
                || err.contains("prefix operators"),
            "{err}"
        );
    }
}

#[test]
fn prefix_operators_spread_over_parentheses_are_refused_by_depth() {
    let group = format!("{}(", "NOT ".repeat(MAX_PREFIX_RUN));
    let text = format!("{}mag > 1{}", group.repeat(10), ")".repeat(10));
    let err = refused(text, FilterLang::Text);
    assert!(
        err.contains(&format!("at most {MAX_FILTER_DEPTH} are accepted")),
        "{err}"
    );
}

#[test]
fn deep_json_filters_are_refused_before_parsing() {
    let not = |n: usize| {
        format!(
            "{}{{\"op\":\">\",\"args\":[{{\"property\":\"mag\"}},1]}}{}",
            "{\"op\":\"not\",\"args\":[".repeat(n),
            "]}".repeat(n)
        )
    };
    let err = refused(not(2_000), FilterLang::Json);
    assert!(err.contains("levels of brackets"), "{err}");
    let lists = format!(
        "{{\"op\":\"in\",\"args\":[{{\"property\":\"mag\"}},{}1{}]}}",
        "[".repeat(61),
        "]".repeat(61)
    );
    let err = refused(lists, FilterLang::Json);
    assert!(err.contains("levels deep"), "{err}");
    // Thirty levels is as deep as the bracket limit lets CQL2 JSON go, and it is accepted.
    assert_eq!(parse_on(WORKER_STACK, not(30), FilterLang::Json), Ok(true));
}

/// The worst filters the limits let through, or let as far as the depth check. Measured in a debug build
/// without the stack switch: each needs at most about 580 KiB (the ten groups of eight `NOT`s the most).
fn worst_filters() -> Vec<(String, FilterLang)> {
    let not_group = format!("{}(", "NOT ".repeat(MAX_PREFIX_RUN));
    vec![
        (
            format!("{}1", "mag = ".repeat(MAX_OPERATORS)),
            FilterLang::Text,
        ),
        (
            format!("{}mag > 1{}", not_group.repeat(10), ")".repeat(10)),
            FilterLang::Text,
        ),
        (
            format!(
                "{}{}mag > 1{}",
                not_group.repeat(3),
                "NOT ".repeat(6),
                ")".repeat(3)
            ),
            FilterLang::Text,
        ),
        (
            format!("mag > {}1", "1 + ".repeat(MAX_OPERATORS - 1)),
            FilterLang::Text,
        ),
        (
            format!(
                "{}{{\"op\":\">\",\"args\":[{{\"property\":\"mag\"}},1]}}{}",
                "{\"op\":\"not\",\"args\":[".repeat(30),
                "]}".repeat(30)
            ),
            FilterLang::Json,
        ),
        (
            format!(
                "{{\"op\":\"in\",\"args\":[{{\"property\":\"mag\"}},{}1{}]}}",
                "[".repeat(61),
                "]".repeat(61)
            ),
            FilterLang::Json,
        ),
    ]
}

#[test]
fn the_worst_filter_within_the_limits_parses_on_a_small_stack() {
    // Just above the red zone, so the filter runs on this thread's own stack.
    for (text, lang) in worst_filters() {
        let _ = parse_on(STACK_RED_ZONE + 128 * 1024, text, lang);
    }
}

#[test]
fn a_caller_with_little_stack_left_parses_on_a_fresh_one() {
    for (text, lang) in worst_filters() {
        let _ = parse_on(128 * 1024, text, lang);
    }
}

#[test]
fn long_lists_and_big_polygons_stay_accepted() {
    let values: Vec<String> = (0..5_000).map(|i| format!("'k{i}'")).collect();
    let list = format!("kind IN ({}) AND mag > -1", values.join(", "));
    assert_eq!(parse_on(WORKER_STACK, list, FilterLang::Text), Ok(false));
    let mut ring: Vec<String> = (0..2_000)
        .map(|i| {
            let angle = f64::from(i) / 2_000.0 * std::f64::consts::TAU;
            format!("{:.6} {:.6}", -10.0 + angle.cos(), -10.0 + angle.sin())
        })
        .collect();
    ring.push(ring[0].clone());
    let polygon = format!("S_INTERSECTS(geometry, POLYGON(({})))", ring.join(", "));
    assert_eq!(parse_on(WORKER_STACK, polygon, FilterLang::Text), Ok(false));
}

#[test]
fn geometry_literals_nest_within_the_bracket_limit() {
    let literal = |levels: usize| {
        let collection = format!(
            "{}{{\"type\":\"Point\",\"coordinates\":[0,0]}}{}",
            r#"{"type":"GeometryCollection","geometries":["#.repeat(levels),
            "]}".repeat(levels)
        );
        format!(r#"{{"op":"s_intersects","args":[{{"property":"geometry"}},{collection}]}}"#)
    };
    assert_eq!(
        parse_on(WORKER_STACK, literal(20), FilterLang::Json),
        Ok(true)
    );
    let err = parse_on(WORKER_STACK, literal(1_000), FilterLang::Json).expect_err("refused");
    assert!(err.contains("levels of brackets"), "{err}");
}
