//! Feeds pass the data-protection guard the way files do. Regression: a GeoRSS feed stored items with
//! `email`, `full_name`, `union_member`, `religion` and `phone` elements (the same fields in a GeoJSON feed
//! were refused), because standard feeds skipped the guard on the belief that their readers keep only
//! published fields; and a feed's dataset name was never checked.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use geoconsole_feeds::{FeedFormat, FeedSpec, Parsed, check_items, read};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T16:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

fn spec(format: FeedFormat) -> FeedSpec {
    FeedSpec::new("test", "http://127.0.0.1/", format, "hazards")
}

/// Reads a body and runs the guard over it, as a poll does before writing.
fn guarded(format: FeedFormat, body: &str) -> Result<Parsed, String> {
    let spec = spec(format);
    let mut parsed = read(&spec, body.as_bytes(), now()).expect("readable body");
    assert!(!parsed.items.is_empty(), "the body has items: {body}");
    check_items(&spec, &mut parsed).map_err(|r| r.to_string())?;
    Ok(parsed)
}

fn rss(extensions: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:georss="http://www.georss.org/georss" xmlns:ex="http://example.org/ns">
  <channel><title>t</title>
    <item>
      <title>Flooding at the depot</title>
      <guid>flood-1</guid>
      <pubDate>Mon, 30 Dec 2019 08:39:43 GMT</pubDate>
      <georss:point>45.25 -71.92</georss:point>
      {extensions}
    </item>
  </channel>
</rss>"#
    )
}

#[test]
fn georss_extension_elements_holding_personal_data_are_refused() {
    let refusal = guarded(
        FeedFormat::Georss,
        &rss(
            "<ex:email>ann@example.com</ex:email><ex:full_name>Ann Smith</ex:full_name>\
              <ex:union_member>yes</ex:union_member><ex:religion>x</ex:religion>\
              <ex:phone>+44 20 7946 0958</ex:phone>",
        ),
    )
    .expect_err("personal elements");
    for named in [
        "always refused",
        "'union_member'",
        "'religion'",
        "'email'",
        "'full_name'",
        "'phone'",
    ] {
        assert!(refusal.contains(named), "{named} in {refusal}");
    }
    // In other languages, and by value under a harmless element name.
    guarded(
        FeedFormat::Georss,
        &rss("<ex:gewerkschaft>ver.di</ex:gewerkschaft>"),
    )
    .expect_err("german");
    guarded(
        FeedFormat::Georss,
        &rss("<ex:reach>ops.lead@example.net</ex:reach>"),
    )
    .expect_err("an email by value");
    // The same item without them is fine.
    guarded(
        FeedFormat::Georss,
        &rss("<ex:alertlevel>Orange</ex:alertlevel>"),
    )
    .expect("a hazard item");
}

#[test]
fn every_reader_is_guarded_not_only_the_generic_ones() {
    let usgs = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"ci1",
        "geometry":{"type":"Point","coordinates":[-117.5,35.7]},
        "properties":{"mag":4.6,"time":1714563000000,"contact":{"email":"seismo@example.com"}}}]}"#;
    let refusal = guarded(FeedFormat::Usgs, usgs).expect_err("usgs");
    assert!(refusal.contains("'contact'"), "{refusal}");

    let firms = "latitude,longitude,acq_date,acq_time,satellite,frp,telefono\n\
                 34.1,-117.3,2026-05-01,0942,N,4.8,+34 612 345 678\n";
    let refusal = guarded(FeedFormat::Firms, firms).expect_err("firms");
    assert!(refusal.contains("'telefono'"), "{refusal}");

    let cap = std::fs::read_to_string(fixture("cap_warning_a.xml")).expect("fixture");
    let with_email = cap.replacen(
        "<description>",
        "<description>Questions to jane.doe@example.org. ",
        1,
    );
    assert_ne!(cap, with_email, "the fixture has a description");
    let refusal = guarded(FeedFormat::Cap, &with_email).expect_err("cap");
    assert!(refusal.contains("'description'"), "{refusal}");

    let geojson = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"x1",
        "geometry":{"type":"Point","coordinates":[1,2]},"properties":{"kind":"fire","staff":[{"tel":"030 1234567"}]}}]}"#;
    guarded(FeedFormat::Geojson, geojson).expect_err("generic, nested");
}

#[test]
fn an_item_whose_id_is_an_email_is_refused() {
    let body = rss("").replace("<guid>flood-1</guid>", "<guid>ann@example.com</guid>");
    let refusal = guarded(FeedFormat::Georss, &body).expect_err("email id");
    assert!(refusal.contains("feature ids"), "{refusal}");
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/feeds")
        .join(name)
}

/// The published feeds the project keeps as fixtures pass: CAP's `sender` is the issuing office's
/// address (the one allowance), and nothing else in them is about people.
#[test]
fn the_published_feed_fixtures_pass_the_guard() {
    for (name, format) in [
        ("usgs_v1.geojson", FeedFormat::Usgs),
        ("usgs_v2.geojson", FeedFormat::Usgs),
        ("nws_alerts.geojson", FeedFormat::NwsAlerts),
        ("cap12_oasis_A2_thunderstorm_polygon.xml", FeedFormat::Cap),
        ("cap_cancel_b.xml", FeedFormat::Cap),
        ("cap_update_a.xml", FeedFormat::Cap),
        ("cap_warning_a.xml", FeedFormat::Cap),
        ("cap_warning_b.xml", FeedFormat::Cap),
        ("nws_atom_cap11_index_2018-08-15.xml", FeedFormat::CapIndex),
        ("gdacs_rss_2019-12-30.xml", FeedFormat::Georss),
        ("firms_viirs.csv", FeedFormat::Firms),
    ] {
        let spec = spec(format);
        let body = std::fs::read(fixture(name)).expect("fixture");
        let mut parsed = read(&spec, &body, now()).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_items(&spec, &mut parsed).unwrap_or_else(|r| panic!("{name}: {r}"));
    }
    // The allowance is CAP's alone: a GeoRSS element called `sender` is judged like any other.
    guarded(
        FeedFormat::Georss,
        &rss("<ex:sender>ann@example.com</ex:sender>"),
    )
    .expect_err("not a CAP sender");
}

#[test]
fn a_feed_into_a_dataset_named_for_special_categories_is_refused_when_defined() {
    let mut spec = spec(FeedFormat::Georss);
    for refused in ["gewerkschaft_mitglieder", "union_members", "religion"] {
        spec.dataset = refused.into();
        let why = spec.check().expect_err(refused);
        assert!(why.contains(refused) && why.contains("refused"), "{why}");
    }
    for fine in ["union_station_alerts", "hazards", "earthquakes"] {
        spec.dataset = fine.into();
        spec.check().unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}
