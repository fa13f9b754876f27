//! Every reader on the project's fixtures (written to the published formats) and on small real files
//! (OASIS CAP 1.2 Appendix A.2, a GDACS RSS feed), with what each item must hold.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use geoconsole_feeds::{Action, CAP_STATE, FeedFormat, FeedSpec, Parsed, read};
use geoconsole_model::geo_types::Geometry;
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T16:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

fn parse(name: &str, format: FeedFormat) -> Parsed {
    let spec = FeedSpec::new("test", "http://127.0.0.1/", format, "d");
    read(&spec, &fixture(name), now()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn prop<'a>(parsed: &'a Parsed, id: &str, key: &str) -> &'a Value {
    let item = parsed
        .items
        .iter()
        .find(|i| i.id() == id)
        .unwrap_or_else(|| panic!("no item {id}"));
    item.feature.properties.get(key).unwrap_or(&Value::Null)
}

#[test]
fn usgs_items_are_events_with_their_ids_times_and_magnitudes() {
    let parsed = parse("usgs_v1.geojson", FeedFormat::Usgs);
    assert_eq!(parsed.items.len(), 3);
    let ridgecrest = &parsed.items[0];
    assert_eq!(ridgecrest.id(), "ci40001");
    assert_eq!(
        ridgecrest.event_time.unwrap().timestamp_millis(),
        1_714_563_000_000
    );
    assert_eq!(
        ridgecrest.feature.time.unwrap().start.timestamp_millis(),
        1_714_563_000_000
    );
    assert_eq!(prop(&parsed, "ci40001", "severity"), 4.6);
    assert_eq!(prop(&parsed, "ci40001", "geometry_z"), 8.1);
}

#[test]
fn cap_alerts_keep_the_english_block_polygons_circles_and_severity() {
    let a = parse("cap_warning_a.xml", FeedFormat::Cap);
    assert_eq!(a.items.len(), 1);
    let item = &a.items[0];
    assert_eq!(item.id(), "GC-TEST-A");
    assert_eq!(item.action, Action::Publish);
    let Some(Geometry::Polygon(p)) = &item.feature.geometry else {
        panic!("{:?}", item.feature.geometry)
    };
    assert_eq!(p.exterior().0[0].x, -118.30, "CAP pairs are lat,lon");
    assert_eq!(
        prop(&a, "GC-TEST-A", "event"),
        "Flash Flood Warning",
        "the English info block"
    );
    assert_eq!(
        prop(&a, "GC-TEST-A", "headline"),
        "Flash Flood Warning for Riverside & Lowtown"
    );
    assert_eq!(prop(&a, "GC-TEST-A", "severity_rank"), 3);
    assert_eq!(prop(&a, "GC-TEST-A", CAP_STATE), "actual");
    let span = item.feature.time.unwrap();
    assert_eq!(span.start.to_rfc3339(), "2026-05-01T12:00:00+00:00");
    assert_eq!(span.end.to_rfc3339(), "2099-05-01T18:00:00+00:00");

    let b = parse("cap_warning_b.xml", FeedFormat::Cap);
    let Some(Geometry::Polygon(circle)) = &b.items[0].feature.geometry else {
        panic!()
    };
    assert_eq!(
        circle.exterior().0.len(),
        49,
        "a CAP circle becomes a closed 48-gon"
    );

    let update = parse("cap_update_a.xml", FeedFormat::Cap);
    assert_eq!(update.items[0].action, Action::Update);
    assert_eq!(update.items[0].supersedes, ["GC-TEST-A"]);

    let cancel = parse("cap_cancel_b.xml", FeedFormat::Cap);
    assert!(cancel.items.is_empty(), "a Cancel is not an event to draw");
    assert_eq!(cancel.withdrawals.len(), 1);
    assert_eq!(cancel.withdrawals[0].ids, ["GC-TEST-B"]);
    assert_eq!(cancel.withdrawals[0].by, "GC-TEST-B-CANCEL");
}

#[test]
fn the_oasis_example_reads_and_has_expired() {
    let parsed = parse("cap12_oasis_A2_thunderstorm_polygon.xml", FeedFormat::Cap);
    assert_eq!(parsed.items.len(), 1);
    assert_eq!(parsed.items[0].id(), "KSTO1055887203");
    assert_eq!(
        prop(&parsed, "KSTO1055887203", CAP_STATE),
        "expired",
        "it expired in 2003"
    );
    assert_eq!(prop(&parsed, "KSTO1055887203", "severity"), "Severe");
}

#[test]
fn a_dtd_is_refused_before_any_entity_is_expanded() {
    let spec = FeedSpec::new("t", "http://127.0.0.1/", FeedFormat::Cap, "d");
    let started = std::time::Instant::now();
    let err = read(&spec, &fixture("cap_billion_laughs.xml"), now()).unwrap_err();
    assert!(err.contains("DOCTYPE"), "{err}");
    assert!(started.elapsed().as_millis() < 500, "refused, not expanded");
    let index = FeedSpec::new("t", "http://127.0.0.1/", FeedFormat::CapIndex, "d");
    assert!(
        read(&index, &fixture("cap_billion_laughs.xml"), now())
            .unwrap_err()
            .contains("DOCTYPE")
    );
    let rss = FeedSpec::new("t", "http://127.0.0.1/", FeedFormat::Georss, "d");
    assert!(
        read(&rss, &fixture("cap_billion_laughs.xml"), now())
            .unwrap_err()
            .contains("DOCTYPE")
    );
}

#[test]
fn nws_alerts_skip_zone_only_and_test_messages_with_reasons() {
    let parsed = parse("nws_alerts.geojson", FeedFormat::NwsAlerts);
    assert_eq!(parsed.items.len(), 1, "{:?}", parsed.skipped);
    let id = "urn:oid:2.49.0.1.840.0.gc-test-1.001.1";
    assert_eq!(prop(&parsed, id, "event"), "Tornado Warning");
    assert_eq!(prop(&parsed, id, "severity_rank"), 4);
    assert_eq!(parsed.skipped.len(), 2);
    assert!(
        parsed.skipped[0].contains("geocodes"),
        "{}",
        parsed.skipped[0]
    );
    assert!(
        parsed.skipped[1].contains("'Test'"),
        "{}",
        parsed.skipped[1]
    );
}

#[test]
fn gdacs_items_are_points_with_their_gdacs_fields_and_spans() {
    let parsed = parse("gdacs_rss_2019-12-30.xml", FeedFormat::Georss);
    assert_eq!(parsed.items.len(), 4, "{:?}", parsed.skipped);
    let cyclone = &parsed.items[0];
    assert_eq!(cyclone.id(), "TC1000643_1");
    assert_eq!(
        cyclone.feature.geometry,
        Some(Geometry::Point((59.8, -19.4).into()))
    );
    assert_eq!(prop(&parsed, "TC1000643_1", "alertlevel"), "Green");
    assert_eq!(prop(&parsed, "TC1000643_1", "severity_rank"), 1);
    assert_eq!(prop(&parsed, "TC1000643_1", "eventtype"), "TC");
    let droughts: Vec<_> = parsed
        .items
        .iter()
        .filter(|i| i.feature.properties.get("eventtype") == Some(&Value::from("DR")))
        .collect();
    assert_eq!(droughts.len(), 2);
    assert!(
        droughts
            .iter()
            .all(|d| d.feature.time.is_some_and(|t| t.end > t.start)),
        "fromdate to todate"
    );
}

#[test]
fn firms_detections_get_ids_times_and_fire_power() {
    let parsed = parse("firms_viirs.csv", FeedFormat::Firms);
    assert_eq!(parsed.items.len(), 3);
    let times: Vec<String> = parsed
        .items
        .iter()
        .map(|i| i.event_time.unwrap().to_rfc3339())
        .collect();
    assert_eq!(times[0], "2026-05-01T09:42:00+00:00");
    assert_eq!(
        times[2], "2026-05-01T04:12:00+00:00",
        "acq_time 412 is 04:12"
    );
    let ids: std::collections::HashSet<&str> = parsed.items.iter().map(|i| i.id()).collect();
    assert_eq!(
        ids.len(),
        3,
        "detections a few hundred metres apart are different items"
    );
    assert_eq!(parsed.items[1].feature.properties["severity"], 18.3);
    assert_eq!(
        parse("firms_viirs.csv", FeedFormat::Firms).items[0].id(),
        parsed.items[0].id(),
        "ids are stable"
    );
}

#[test]
fn garbage_is_an_error_naming_the_format() {
    for format in [
        FeedFormat::Usgs,
        FeedFormat::Cap,
        FeedFormat::CapIndex,
        FeedFormat::Georss,
        FeedFormat::NwsAlerts,
    ] {
        let spec = FeedSpec::new("t", "http://127.0.0.1/", format, "d");
        assert!(
            read(&spec, b"\x00\x01garbage{{<<", now()).is_err(),
            "{format:?}"
        );
    }
    let spec = FeedSpec::new("t", "http://127.0.0.1/", FeedFormat::Cap, "d");
    assert!(
        read(&spec, b"<rss><channel/></rss>", now())
            .unwrap_err()
            .contains("<alert>")
    );
}

#[test]
fn cap_alerts_missing_what_the_schema_requires_are_refused_with_the_reason() {
    let base = String::from_utf8(fixture("cap_warning_a.xml")).expect("utf-8");
    let spec = FeedSpec::new("t", "http://127.0.0.1/", FeedFormat::Cap, "d");
    for (broken, needle) in [
        (
            base.replace("<identifier>GC-TEST-A</identifier>", ""),
            "<identifier>",
        ),
        (
            base.replace("<sender>w-nws.webmaster@noaa.gov</sender>", ""),
            "<sender> is required",
        ),
        (
            base.replace(
                "<sent>2026-05-01T12:00:00-00:00</sent>",
                "<sent>yesterday</sent>",
            ),
            "not a date-time",
        ),
        (
            base.replace("<msgType>Alert</msgType>", ""),
            "<msgType> is required",
        ),
    ] {
        let err = read(&spec, broken.as_bytes(), now()).expect_err(needle);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let backwards = base.replace("2099-05-01T18:00:00-00:00", "2026-05-01T11:00:00-00:00");
    let parsed = read(&spec, backwards.as_bytes(), now()).expect("read");
    assert!(parsed.items.is_empty());
    assert!(
        parsed.skipped[0].contains("expires"),
        "{:?}",
        parsed.skipped
    );
    let unclosed = base.replace(
        "34.15,-118.30 34.00,-118.30</polygon>",
        "34.15,-118.30</polygon>",
    );
    let parsed = read(&spec, unclosed.as_bytes(), now()).expect("read");
    assert!(
        parsed.skipped[0].contains("not closed"),
        "{:?}",
        parsed.skipped
    );
    // In an index, one broken alert is skipped and the others are read.
    let index = format!(
        "<feed xmlns='http://www.w3.org/2005/Atom'><entry><content type='text/xml'>{}</content></entry><entry><content type='text/xml'>{}</content></entry></feed>",
        base.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", ""),
        base.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
            .replace("<sender>w-nws.webmaster@noaa.gov</sender>", ""),
    );
    let spec = FeedSpec::new("t", "http://127.0.0.1/", FeedFormat::CapIndex, "d");
    let parsed = read(&spec, index.as_bytes(), now()).expect("index");
    assert_eq!(
        (parsed.items.len(), parsed.skipped.len()),
        (1, 1),
        "{:?}",
        parsed.skipped
    );
}

#[test]
fn the_real_nws_atom_index_places_every_alert_with_a_polygon_and_says_why_not_the_others() {
    let parsed = parse("nws_atom_cap11_index_2018-08-15.xml", FeedFormat::CapIndex);
    assert_eq!(parsed.items.len(), 99, "entries with a cap:polygon");
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    // Entries with an empty cap:polygon are placed by their zones once an areas dataset is named.
    assert_eq!(
        parsed.unplaced.len(),
        64,
        "entries with an empty cap:polygon"
    );
    assert!(
        parsed
            .unplaced
            .iter()
            .all(|a| a.codes().iter().any(|(scheme, _)| scheme == "UGC")),
        "{:?}",
        parsed.unplaced[0].codes()
    );
    let mut alone = parsed.clone();
    alone.skip_unplaced("no areas");
    assert!(
        alone
            .skipped
            .iter()
            .all(|s| s.contains("given only by codes")),
        "{:?}",
        alone.skipped[0]
    );
    assert!(
        parsed.linked.is_empty(),
        "inline CAP fields are read, not followed"
    );
    let events: std::collections::BTreeSet<&str> = parsed
        .items
        .iter()
        .filter_map(|i| i.feature.properties.get("event").and_then(Value::as_str))
        .collect();
    assert!(events.contains("Special Weather Statement"), "{events:?}");
    for item in &parsed.items {
        let Some(Geometry::Polygon(p)) = &item.feature.geometry else {
            panic!("{:?}", item.feature.geometry)
        };
        let c = p.exterior().0[0];
        // US states and territories (Guam and Samoa too) lie where |longitude| > 60 and latitude < 72:
        // the lat,lon order was read the right way round.
        assert!(c.x.abs() > 60.0 && (-15.0..72.0).contains(&c.y), "{c:?}");
        assert!(item.feature.time.is_some_and(|t| t.end >= t.start));
        assert_eq!(
            item.feature.properties[CAP_STATE], "expired",
            "it is 2026; these ended in 2018"
        );
    }
}

#[test]
fn earthquake_alerts_with_a_radius_0_circle_are_points_with_their_magnitude() {
    let spec = FeedSpec::new("test", "http://127.0.0.1/", FeedFormat::Cap, "d");
    for (name, magnitude) in [
        ("cap12_oasis_A3_earthquake_circle_radius0.xml", 3.4),
        ("cap12_ntwc_PAAQ-4-mg5a94_tsunami_cancel_circle0.xml", 7.5),
    ] {
        let body = fixture(&format!("../realworld/cap/{name}"));
        let parsed = read(&spec, &body, now()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.items.len(), 1, "{name}: {:?}", parsed.skipped);
        let feature = &parsed.items[0].feature;
        assert!(
            matches!(
                feature.geometry,
                Some(geoconsole_model::geo_types::Geometry::Point(_))
            ),
            "{name}: {:?}",
            feature.geometry
        );
        // A numeric `magnitude` is what the default impact model of a point dataset reads as a quake's.
        assert_eq!(
            feature.properties["magnitude"].as_f64(),
            Some(magnitude),
            "{name}"
        );
    }
}
