//! The catalog of public sources: the built-in file passes every rule, covers what the console promises
//! (issue 22), turns into feed and source definitions their own checks accept, keeps keys out of what is
//! shown, and refuses entries that break a rule. The services themselves cannot be reached from the tests;
//! the rules stand in for them.

use std::collections::{BTreeMap, BTreeSet};

use geoconsole_analytics::ImpactModel;
use geoconsole_feeds::catalog::{
    Catalog, CatalogEntry, CatalogError, Connector, Hazard, Kind, PlanError, Protocol, Query, Via,
};
use geoconsole_feeds::connectors::SourceKind;
use geoconsole_feeds::{FeedFormat, Footprint};

fn builtin() -> &'static Catalog {
    Catalog::builtin()
}

fn entry(name: &str) -> &'static CatalogEntry {
    builtin().get(name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_builtin_catalog_parses_and_passes_every_rule() {
    match Catalog::from_toml(Catalog::builtin_text()) {
        Ok(catalog) => assert_eq!(&catalog, builtin()),
        Err(CatalogError::Invalid(problems)) => panic!(
            "{} problem(s):\n{}",
            problems.len(),
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
        Err(e) => panic!("{e}"),
    }
    assert!(
        builtin().len() >= 40,
        "the catalog promises at least 40 sources, it has {}",
        builtin().len()
    );
    let addable = builtin().list().iter().filter(|e| e.addable()).count();
    assert!(addable >= 40, "only {addable} entries can be added here");
}

#[test]
fn it_covers_the_sources_issue_22_names() {
    let names: BTreeSet<&str> = builtin().list().iter().map(|e| e.name.as_str()).collect();
    for name in [
        "nws-alerts",
        "nws-alerts-atom",
        "nws-forecast-zones",
        "nhc-forecast-cones",
        "spc-reports-tornado",
        "gdacs-alerts",
        "firms-area-api",
        "eonet-open-events",
        "fema-nfhl-flood-zones",
        "fema-nri-counties",
        "us-counties",
        "us-states",
        "police-uk-street-crime",
        "copernicus-ems-activations",
        "reliefweb-disasters",
        "ntwc-tsunami",
        "ptwc-tsunami",
        "gvp-holocene-volcanoes",
        "usgs-elevated-volcanoes",
    ] {
        assert!(names.contains(name), "no '{name}' in the catalog");
    }
    let count = |q: Query| builtin().filter(&q).len();
    assert!(
        count(Query {
            protocol: Some(Protocol::Usgs),
            ..Query::default()
        }) >= 3,
        "several USGS earthquake feeds"
    );
    // Crime on Socrata from at least three cities (three portals).
    let crime_hosts: BTreeSet<String> = builtin()
        .filter(&Query {
            protocol: Some(Protocol::Socrata),
            hazard: Some(Hazard::Crime),
            ..Query::default()
        })
        .iter()
        .map(|e| host(&e.url))
        .collect();
    assert!(crime_hosts.len() >= 3, "crime portals: {crime_hosts:?}");
    // CAP warnings from several national services, MeteoAlarm among them.
    let cap_hosts: BTreeSet<String> = builtin()
        .list()
        .iter()
        .filter(|e| matches!(e.protocol, Protocol::Cap | Protocol::CapIndex))
        .map(|e| host(&e.url))
        .collect();
    assert!(cap_hosts.len() >= 5, "CAP publishers: {cap_hosts:?}");
    assert!(cap_hosts.contains("feeds.meteoalarm.org"));
    // Every protocol a connector speaks has a source to try it on.
    for protocol in [
        Protocol::Arcgis,
        Protocol::Socrata,
        Protocol::Oapif,
        Protocol::Wfs,
    ] {
        assert!(
            count(Query {
                protocol: Some(protocol),
                ..Query::default()
            }) >= 1,
            "no {protocol} source"
        );
    }
    for kind in Kind::ALL {
        assert!(
            count(Query {
                kind: Some(kind),
                ..Query::default()
            }) >= 3,
            "few {kind}"
        );
    }
}

fn host(url: &str) -> String {
    url::Url::parse(&url.replace("{MAP_KEY}", "KEY"))
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn every_addable_entry_becomes_a_definition_its_own_checks_accept() {
    let catalog = builtin();
    let mut by_route: BTreeMap<String, usize> = BTreeMap::new();
    for entry in catalog.list() {
        let key = entry.needs_key.as_ref().map(|_| "test-key-123");
        let plan = match entry.plan(catalog, key) {
            Ok(plan) => plan,
            Err(PlanError::NoReader { protocol, .. }) => {
                assert_eq!(protocol, Protocol::Json, "{}", entry.name);
                assert!(!entry.addable());
                continue;
            }
            Err(e) => panic!("{}: {e}", entry.name),
        };
        assert_eq!(plan.entry, entry.name);
        assert_eq!(plan.dataset, entry.dataset);
        assert_eq!(plan.interval_s, entry.update_interval.secs());
        assert_eq!(plan.kind, entry.kind);
        assert_eq!(plan.kind.dataset_kind().as_str(), entry.kind.as_str());
        match plan.via {
            Via::Feed { format } => {
                assert_eq!(format.as_str(), entry.protocol.as_str());
                let spec = plan.feed_spec().expect("a feed plan makes a feed");
                assert_eq!(spec.check(), Ok(()), "{}", entry.name);
                assert_eq!(spec.name, entry.name);
                assert_eq!(spec.interval_s, entry.update_interval.secs());
                assert!(plan.source_spec().is_none());
            }
            Via::Connector { connector } => {
                assert_eq!(connector.as_str(), entry.protocol.as_str());
                match connector.source_kind() {
                    Some(kind) => {
                        let feed = plan
                            .feed_spec()
                            .expect("a paged feed for arcgis and socrata");
                        assert_eq!(feed.check(), Ok(()), "{}", entry.name);
                        assert_eq!(feed.format.source_kind(), Some(kind));
                        let spec = plan.source_spec().expect("a source for arcgis and socrata");
                        assert_eq!(spec.kind, kind);
                        spec.validate()
                            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                        assert_eq!(spec.options.filter, entry.filter);
                        assert_eq!(spec.options.fields, entry.fields);
                    }
                    None => {
                        assert!(matches!(connector, Connector::Oapif | Connector::Wfs));
                        assert!(plan.feed_spec().is_none());
                        assert!(plan.source_spec().is_none());
                        assert_eq!(
                            plan.layer.is_some(),
                            connector == Connector::Wfs,
                            "{}",
                            entry.name
                        );
                    }
                }
            }
        }
        *by_route.entry(format!("{:?}", plan.via)).or_default() += 1;
    }
    assert!(by_route.len() >= 8, "{by_route:?}");
}

#[test]
fn alerts_given_by_zone_codes_name_the_zones_entries_as_their_areas() {
    let plan = builtin().plan("nws-alerts", None).unwrap();
    let spec = plan.feed_spec().unwrap();
    assert_eq!(spec.format, FeedFormat::NwsAlerts);
    let areas: Vec<(Option<&str>, &str, &str)> = spec
        .areas
        .iter()
        .map(|a| {
            (
                a.scheme.as_deref(),
                a.dataset.as_str(),
                a.code_field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        areas,
        [
            (Some("UGC"), "nws_forecast_zones", "id"),
            (Some("UGC"), "nws_county_zones", "id")
        ]
    );
    // The plan says which entries to add first.
    assert_eq!(plan.areas[0].entry, "nws-forecast-zones");
    assert_eq!(entry("nws-forecast-zones").kind, Kind::Areas);
    // GDACS keeps its areas.
    let gdacs = builtin().plan("gdacs-alerts", None).unwrap();
    assert_eq!(gdacs.feed_spec().unwrap().footprint, Footprint::Area);
}

#[test]
fn a_required_key_is_asked_for_and_kept_out_of_what_is_shown() {
    let catalog = builtin();
    let firms = entry("firms-area-api");
    assert!(firms.requires_key());
    let missing = catalog.plan("firms-area-api", None).unwrap_err();
    let message = missing.to_string();
    assert!(matches!(missing, PlanError::KeyRequired { .. }));
    assert!(
        message.contains("https://firms.modaps.eosdis.nasa.gov/api/map_key/"),
        "{message}"
    );
    assert!(matches!(
        catalog.plan("firms-area-api", Some("   ")),
        Err(PlanError::KeyRequired { .. })
    ));

    let secret = "a1b2c3d4e5f6";
    let plan = catalog.plan("firms-area-api", Some(secret)).unwrap();
    assert_eq!(
        plan.url(),
        format!(
            "https://firms.modaps.eosdis.nasa.gov/api/area/csv/{secret}/VIIRS_NOAA20_NRT/world/1"
        )
    );
    assert!(plan.url_holds_key());
    assert!(!plan.url_template.contains(secret));
    assert!(!format!("{plan:?}").contains(secret));
    assert!(!serde_json::to_string(&plan).unwrap().contains(secret));
    let spec = plan.feed_spec().unwrap();
    assert_eq!(spec.format, FeedFormat::Firms);
    assert!(
        !spec.url.contains(secret),
        "the stored URL never carries the key"
    );
    assert!(spec.url.contains("{key}"), "{}", spec.url);
    assert_eq!(spec.key.as_deref(), Some(secret));
    assert_eq!(
        spec.url_to_fetch(),
        plan.url(),
        "the feed fetches with the key"
    );
    assert_eq!(spec.check(), Ok(()));

    // A key that would change the URL's path is refused.
    for bad in ["a/b", "a?b", "a b", "k%2F"] {
        assert!(
            matches!(
                catalog.plan("firms-area-api", Some(bad)),
                Err(PlanError::BadKey { .. })
            ),
            "{bad:?}"
        );
    }
    // A source that takes no key refuses one rather than dropping it silently.
    assert!(matches!(
        catalog.plan("usgs-earthquakes-hour", Some(secret)),
        Err(PlanError::BadKey { .. })
    ));
}

#[test]
fn an_optional_socrata_token_goes_in_its_header_never_the_url() {
    let catalog = builtin();
    let without = catalog.plan("chicago-crimes", None).unwrap();
    assert_eq!(without.source_spec().unwrap().options.app_token, None);
    assert!(!entry("chicago-crimes").requires_key());

    let token = "tok3nTOK3N";
    let plan = catalog.plan("chicago-crimes", Some(token)).unwrap();
    assert_eq!(plan.header_key(), Some(("X-App-Token", token)));
    assert!(!plan.url_holds_key());
    assert!(!plan.url().contains(token));
    let spec = plan.source_spec().unwrap();
    assert_eq!(spec.kind, SourceKind::Socrata);
    assert_eq!(spec.options.app_token.as_deref(), Some(token));
    assert_eq!(spec.options.geometry_field.as_deref(), Some("location"));
    assert_eq!(spec.options.updated_field.as_deref(), Some("updated_on"));
    assert!(!format!("{plan:?}").contains(token));
    assert!(!format!("{spec:?}").contains(token));
}

#[test]
fn sources_without_a_reader_are_listed_but_not_added() {
    for name in [
        "police-uk-street-crime",
        "reliefweb-disasters",
        "copernicus-ems-activations",
        "usgs-elevated-volcanoes",
    ] {
        let e = entry(name);
        assert_eq!(e.protocol, Protocol::Json);
        assert!(!e.addable());
        let error = builtin().plan(name, Some("x")).unwrap_err();
        assert!(matches!(error, PlanError::NoReader { .. }), "{name}");
        assert!(error.to_string().contains("no reader"), "{error}");
    }
    let addable = builtin().filter(&Query {
        addable_only: true,
        ..Query::default()
    });
    assert!(addable.iter().all(|e| e.protocol != Protocol::Json));
}

#[test]
fn a_near_miss_name_gets_a_suggestion() {
    let catalog = builtin();
    let suggestion = |name: &str| catalog.get(name).unwrap_err().suggestion;
    assert_eq!(suggestion("nws-alert").as_deref(), Some("nws-alerts"));
    assert_eq!(
        suggestion("USGS_Earthquakes_Hour").as_deref(),
        Some("usgs-earthquakes-hour")
    );
    assert_eq!(suggestion("gdacs-alert").as_deref(), Some("gdacs-alerts"));
    assert_eq!(suggestion("chicago").as_deref(), Some("chicago-crimes"));
    assert_eq!(
        suggestion("fema-nri-county").as_deref(),
        Some("fema-nri-counties")
    );
    assert_eq!(suggestion("completely-unrelated-words"), None);
    assert_eq!(suggestion(""), None);
    let message = catalog.get("nws-alert").unwrap_err().to_string();
    assert_eq!(
        message,
        "no catalog entry is named 'nws-alert'; did you mean 'nws-alerts'?"
    );
    assert!(
        catalog
            .get("zzzz")
            .unwrap_err()
            .to_string()
            .contains("catalog list")
    );
    assert!(matches!(
        catalog.plan("nws-alert", None),
        Err(PlanError::NotFound(_))
    ));
}

#[test]
fn entries_are_filtered_by_kind_protocol_hazard_and_words() {
    let catalog = builtin();
    let areas = catalog.filter(&Query {
        kind: Some(Kind::Areas),
        ..Query::default()
    });
    assert!(!areas.is_empty() && areas.iter().all(|e| e.kind == Kind::Areas));
    let tsunami: Vec<&str> = catalog
        .filter(&Query {
            text: Some("TSUNAMI warning".into()),
            ..Query::default()
        })
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(tsunami, ["ntwc-tsunami", "ptwc-tsunami"]);
    let flood_zones: Vec<&str> = catalog
        .filter(&Query {
            text: Some("fema flood".into()),
            kind: Some(Kind::Areas),
            ..Query::default()
        })
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(flood_zones, ["fema-nfhl-flood-zones"]);
    let wildfire_arcgis = catalog.filter(&Query {
        hazard: Some(Hazard::Wildfire),
        protocol: Some(Protocol::Arcgis),
        ..Query::default()
    });
    assert_eq!(wildfire_arcgis.len(), 2);
    assert!(
        catalog
            .filter(&Query {
                text: Some("no such words anywhere".into()),
                ..Query::default()
            })
            .is_empty()
    );
    assert_eq!(catalog.filter(&Query::default()).len(), catalog.len());
}

#[test]
fn suggested_impact_models_read_as_the_analytics_own() {
    for entry in builtin().list() {
        let Some(impact) = &entry.suggested_impact else {
            assert_ne!(entry.kind, Kind::Events, "{}", entry.name);
            continue;
        };
        let json = serde_json::to_value(impact).unwrap();
        let model: ImpactModel = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("{}: {json} is not an impact model: {e}", entry.name));
        assert_eq!(model.check(), Ok(()), "{}", entry.name);
        assert_eq!(model.name(), impact.name(), "{}", entry.name);
    }
    let quakes = entry("usgs-earthquakes-hour")
        .suggested_impact
        .as_ref()
        .unwrap();
    assert_eq!(
        serde_json::to_value(quakes).unwrap(),
        serde_json::to_value(ImpactModel::magnitude("mag")).unwrap()
    );
}

#[test]
fn crime_sources_carry_places_times_and_offences_only() {
    for entry in builtin().filter(&Query {
        hazard: Some(Hazard::Crime),
        ..Query::default()
    }) {
        assert!(!entry.url.contains("stops-"), "{}", entry.name);
        for field in &entry.fields {
            let lower = field.to_lowercase();
            for person in [
                "vic",
                "vict",
                "susp",
                "age",
                "sex",
                "race",
                "descent",
                "ethnicity",
            ] {
                assert!(
                    !lower.split('_').any(|part| part == person),
                    "{}: field {field}",
                    entry.name
                );
            }
        }
    }
}

#[test]
fn entries_and_the_schema_round_trip_through_json() {
    for entry in builtin().list() {
        let json = serde_json::to_value(entry).unwrap();
        let back: CatalogEntry = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, entry, "{json}");
        assert_eq!(json["update_interval"], entry.update_interval.to_string());
    }
    let schema = serde_json::to_value(schemars::schema_for!(CatalogEntry)).unwrap();
    let text = schema.to_string();
    assert!(text.contains("update_interval") && text.contains("needs_key"));
    assert!(text.contains("\"oapif\"") && text.contains("\"cap_index\""));
}

#[test]
fn docs_catalog_md_lists_every_entry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/catalog.md");
    let docs = std::fs::read_to_string(path).expect("docs/catalog.md");
    let (start, end) = (
        "<!-- catalog-table:start -->\n",
        "<!-- catalog-table:end -->",
    );
    let from = docs.find(start).expect("start marker") + start.len();
    let to = docs.find(end).expect("end marker");
    let expected = builtin().markdown_table();
    assert!(
        docs[from..to] == expected,
        "docs/catalog.md's table is not the catalog's; replace it with:\n{expected}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// The rules refuse what they should. Each case starts from one valid entry and changes one thing.
// ---------------------------------------------------------------------------------------------------------

const VALID: &str = r##"
name = "test-source"
title = "Test source"
publisher = "Test publisher"
url = "https://example.org/feed.geojson"
protocol = "geojson"
kind = "events"
hazard = "flood"
coverage = "Nowhere"
licence = "CC BY 4.0"
attribution = "Test publisher"
update_interval = "5m"
dataset = "test_events"
suggested_impact = { model = "fixed", radius_km = 5.0 }
style = { symbol = "circle", colour = "#3a86ff" }
"##;

/// The catalog of the valid entry with `changes` applied (a key set to `None` is removed), and any extra
/// entries after it.
fn catalog_with(changes: &[(&str, Option<&str>)], extra: &[&str]) -> Result<Catalog, CatalogError> {
    let mut table: toml::Table = VALID.parse().expect("the valid entry is TOML");
    for (key, value) in changes {
        match value {
            Some(value) => {
                let parsed: toml::Table = format!("v = {value}").parse().expect("a TOML value");
                table.insert(key.to_string(), parsed["v"].clone());
            }
            None => {
                table.remove(*key);
            }
        }
    }
    let mut root = toml::Table::new();
    root.insert(
        "source".into(),
        toml::Value::Array(vec![toml::Value::Table(table)]),
    );
    let mut text = toml::to_string(&root).expect("a table prints as TOML");
    for entry in extra {
        text.push_str(&format!("\n[[source]]\n{entry}"));
    }
    Catalog::from_toml(&text)
}

#[track_caller]
fn refused(changes: &[(&str, Option<&str>)], extra: &[&str], expected: &str) {
    match catalog_with(changes, extra) {
        Ok(_) => panic!("{changes:?} was accepted; expected a refusal mentioning {expected:?}"),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(expected),
                "{changes:?}: expected {expected:?} in: {message}"
            );
        }
    }
}

#[test]
fn the_valid_test_entry_is_valid() {
    let catalog = catalog_with(&[], &[]).unwrap();
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog.list()[0].update_interval.secs(), 300);
}

#[test]
fn names_must_be_unique_slugs() {
    refused(&[("name", Some("\"Test_Source\""))], &[], "lower-case");
    refused(&[("name", Some("\"test--source\""))], &[], "lower-case");
    refused(&[("name", Some("\"\""))], &[], "#1");
    let twin = VALID.replace("feed.geojson", "other.geojson");
    refused(&[], &[&twin], "same name");
    let same_endpoint = VALID.replace("test-source", "test-source-2");
    refused(&[], &[&same_endpoint], "same endpoint as 'test-source'");
}

#[test]
fn urls_must_be_https_hosts_without_credentials() {
    refused(
        &[("url", Some("\"http://example.org/feed.geojson\""))],
        &[],
        "http_because",
    );
    assert!(
        catalog_with(
            &[
                ("url", Some("\"http://example.org/feed.geojson\"")),
                ("http_because", Some("\"the publisher serves no TLS\""))
            ],
            &[]
        )
        .is_ok()
    );
    refused(
        &[("http_because", Some("\"no reason\""))],
        &[],
        "http_because is given but the URL is https",
    );
    refused(&[("url", Some("\"not a url\""))], &[], "is not a URL");
    refused(
        &[("url", Some("\"ftp://example.org/x\""))],
        &[],
        "scheme 'ftp'",
    );
    refused(
        &[("url", Some("\"https://user:pw@example.org/x.geojson\""))],
        &[],
        "user name or password",
    );
    refused(
        &[("url", Some("\"https://example.org/{KEY}/x.geojson\""))],
        &[],
        "placeholder",
    );
    refused(
        &[("docs", Some("\"http://example.org/docs\""))],
        &[],
        "not https",
    );
}

#[test]
fn person_level_endpoints_and_fields_are_refused() {
    refused(
        &[(
            "url",
            Some("\"https://data.police.uk/api/stops-street?lat=51.5&lng=-0.12\""),
        )],
        &[],
        "person-level",
    );
    let socrata = [
        ("protocol", Some("\"socrata\"")),
        (
            "url",
            Some("\"https://data.example.org/resource/abcd-1234.json\""),
        ),
    ];
    for field in ["race", "ethnicity", "religion"] {
        let fields = format!("[\"date\", \"{field}\"]");
        let mut changes = socrata.to_vec();
        changes.push(("fields", Some(fields.as_str())));
        refused(&changes, &[], &format!("field '{field}' names"));
    }
    refused(
        &[("dataset", Some("\"religion_of_residents\""))],
        &[],
        "data-protection guard",
    );
}

#[test]
fn connector_entries_are_checked_as_their_connectors_check_them() {
    refused(
        &[
            ("protocol", Some("\"arcgis\"")),
            (
                "url",
                Some("\"https://example.org/arcgis/rest/services/X/FeatureServer\""),
            ),
        ],
        &[],
        "not an ArcGIS layer URL",
    );
    refused(
        &[
            ("protocol", Some("\"arcgis\"")),
            (
                "url",
                Some("\"https://example.org/arcgis/rest/services/X/FeatureServer/0?where=1=1\""),
            ),
        ],
        &[],
        "without a query",
    );
    refused(
        &[
            ("protocol", Some("\"socrata\"")),
            (
                "url",
                Some("\"https://data.example.org/api/views/abcd-1234\""),
            ),
        ],
        &[],
        "SODA resource URL",
    );
    refused(
        &[
            ("protocol", Some("\"socrata\"")),
            (
                "url",
                Some("\"https://data.example.org/resource/abcd-1234.json\""),
            ),
            ("updated_field", Some("\"updated on\"")),
        ],
        &[],
        "not a field name",
    );
    refused(
        &[
            ("protocol", Some("\"oapif\"")),
            ("url", Some("\"https://example.org/collections/x\"")),
        ],
        &[],
        "/collections/<id>/items",
    );
    refused(
        &[
            ("protocol", Some("\"wfs\"")),
            ("url", Some("\"https://example.org/geoserver/ows\"")),
        ],
        &[],
        "feature type in 'layer'",
    );
    refused(
        &[("layer", Some("\"ns:thing\""))],
        &[],
        "'layer' applies to wfs only",
    );
    refused(
        &[("filter", Some("\"a = 1\""))],
        &[],
        "'filter' applies to connector",
    );
    refused(
        &[("page_size", Some("10"))],
        &[],
        "'page_size' applies to connector",
    );
    refused(
        &[
            ("protocol", Some("\"arcgis\"")),
            (
                "url",
                Some("\"https://example.org/arcgis/rest/services/X/FeatureServer/0\""),
            ),
            ("severity_field", Some("\"level\"")),
        ],
        &[],
        "'severity_field' applies to feed protocols only",
    );
}

#[test]
fn intervals_impacts_and_styles_must_be_sane() {
    refused(
        &[("update_interval", Some("\"30s\""))],
        &[],
        "outside 1m to 7d",
    );
    refused(
        &[("update_interval", Some("\"8d\""))],
        &[],
        "outside 1m to 7d",
    );
    refused(
        &[("update_interval", Some("\"2d\""))],
        &[],
        "longer than a day for events",
    );
    refused(
        &[("update_interval", Some("\"soon\""))],
        &[],
        "not an interval",
    );
    refused(
        &[("suggested_impact", None)],
        &[],
        "events need a suggested_impact",
    );
    refused(
        &[(
            "suggested_impact",
            Some("{ model = \"fixed\", radius_km = 5000.0 }"),
        )],
        &[],
        "radius_km 5000",
    );
    refused(
        &[(
            "suggested_impact",
            Some("{ model = \"magnitude\", property = \"mag\", min_km = 50.0, max_km = 10.0 }"),
        )],
        &[],
        "min_km",
    );
    refused(
        &[
            ("kind", Some("\"reference\"")),
            ("update_interval", Some("\"7d\"")),
        ],
        &[],
        "no suggested_impact",
    );
    refused(
        &[("style", Some("{ symbol = \"circle\", colour = \"red\" }"))],
        &[],
        "#rrggbb",
    );
    refused(
        &[(
            "style",
            Some("{ symbol = \"fill\", colour = \"#ff0000\", density = true }"),
        )],
        &[],
        "circles only",
    );
    refused(
        &[(
            "style",
            Some("{ symbol = \"circle\", colour = \"#ff0000\", opacity = 0.0 }"),
        )],
        &[],
        "opacity",
    );
}

#[test]
fn keys_must_say_how_to_get_them_and_where_they_go() {
    let firms = [
        ("protocol", Some("\"firms\"")),
        (
            "url",
            Some("\"https://example.org/api/{MAP_KEY}/area.csv\""),
        ),
    ];
    let with_key = |key: &'static str| {
        let mut changes = firms.to_vec();
        changes.push(("needs_key", Some(key)));
        changes
    };
    assert!(
        catalog_with(
            &with_key("{ name = \"MAP_KEY\", get_at = \"https://example.org/key\", how = \"Free, by e-mail, sent in the path.\", passed_as = { path = \"{MAP_KEY}\" } }"),
            &[]
        )
        .is_ok()
    );
    refused(
        &with_key(
            "{ name = \"MAP_KEY\", get_at = \"https://example.org/key\", how = \"ask\", passed_as = { path = \"{MAP_KEY}\" } }",
        ),
        &[],
        "explain how to get the key",
    );
    refused(
        &with_key(
            "{ name = \"MAP_KEY\", get_at = \"somewhere\", how = \"Free, by e-mail, sent in the path.\", passed_as = { path = \"{MAP_KEY}\" } }",
        ),
        &[],
        "https URL where the key is obtained",
    );
    refused(
        &with_key(
            "{ name = \"MAP_KEY\", get_at = \"https://example.org/key\", how = \"Free, by e-mail, sent in the path.\", passed_as = { path = \"{OTHER}\" } }",
        ),
        &[],
        "placeholder",
    );
    refused(
        &with_key(
            "{ name = \"MAP_KEY\", get_at = \"https://example.org/key\", how = \"Free, by e-mail, sent in a header.\", passed_as = { header = \"X-Api-Key\" } }",
        ),
        &[],
        "Socrata's X-App-Token",
    );
    refused(
        &[
            (
                "needs_key",
                Some(
                    "{ name = \"k\", get_at = \"https://example.org/key\", how = \"Free, by e-mail, sent as a query parameter.\", passed_as = { query = \"key\" } }",
                ),
            ),
            ("url", Some("\"https://example.org/feed.geojson?key=abc\"")),
        ],
        &[],
        "already has a 'key' parameter",
    );
}

#[test]
fn doubts_and_missing_readers_must_be_explained() {
    refused(
        &[("url_unsure", Some("true"))],
        &[],
        "url_unsure needs notes",
    );
    assert!(
        catalog_with(
            &[
                ("url_unsure", Some("true")),
                ("notes", Some("\"the layer number is a guess\""))
            ],
            &[]
        )
        .is_ok()
    );
    refused(&[("protocol", Some("\"json\""))], &[], "no reader here");
    refused(
        &[("notes", Some("\"  \""))],
        &[],
        "notes is given but empty",
    );
}

#[test]
fn areas_must_name_an_areas_entry_of_the_catalog() {
    let cap = [
        ("protocol", Some("\"cap_index\"")),
        ("url", Some("\"https://example.org/alerts.atom\"")),
    ];
    let with_areas = |areas: &'static str| {
        let mut changes = cap.to_vec();
        changes.push(("areas", Some(areas)));
        changes
    };
    let zones = r##"
name = "test-zones"
title = "Test zones"
publisher = "Test publisher"
url = "https://example.org/zones.geojson"
protocol = "geojson"
kind = "areas"
hazard = "boundaries"
coverage = "Nowhere"
licence = "CC BY 4.0"
attribution = "Test publisher"
update_interval = "7d"
dataset = "test_zones"
style = { symbol = "fill", colour = "#6a4c93", opacity = 0.1 }
"##;
    let ok = catalog_with(
        &with_areas("[{ scheme = \"UGC\", entry = \"test-zones\", code_field = \"id\" }]"),
        &[zones],
    )
    .unwrap();
    let plan = ok.plan("test-source", None).unwrap();
    assert_eq!(plan.feed_spec().unwrap().areas[0].dataset, "test_zones");
    refused(
        &with_areas("[{ entry = \"no-such-zones\", code_field = \"id\" }]"),
        &[zones],
        "not in the catalog",
    );
    refused(
        &with_areas("[{ entry = \"test-source\", code_field = \"id\" }]"),
        &[],
        "not areas",
    );
    refused(
        &[(
            "areas",
            Some("[{ entry = \"test-zones\", code_field = \"id\" }]"),
        )],
        &[zones],
        "areas place CAP-style alerts given by codes; geojson has none",
    );
    refused(
        &[
            ("protocol", Some("\"arcgis\"")),
            (
                "url",
                Some("\"https://example.org/arcgis/rest/services/X/FeatureServer/0\""),
            ),
            (
                "areas",
                Some("[{ entry = \"test-zones\", code_field = \"id\" }]"),
            ),
        ],
        &[zones],
        "'areas' applies to feed protocols only",
    );
}

#[test]
fn unknown_fields_and_values_are_parse_errors() {
    for (change, expected) in [
        (("protocoll", Some("\"geojson\"")), "protocoll"),
        (("protocol", Some("\"ftp\"")), "ftp"),
        (("kind", Some("\"sites\"")), "sites"),
        (("hazard", Some("\"meteor\"")), "meteor"),
    ] {
        match catalog_with(&[change], &[]) {
            Err(CatalogError::Parse(message)) => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("{change:?}: {other:?}"),
        }
    }
}
