//! The server over real HTTP on 127.0.0.1, serving a real GeoPackage: OGC API behaviour, paging, filters,
//! errors, tiles, and a write showing up at once in items, tiles and the event stream.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use geoconsole_app::ImportOptions;
use geoconsole_model::DatasetKind;
use geoconsole_testkit::{Reply, TestServer, point, serve_demo};
use geozero::mvt::{Message, Tile};
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<String> {
    page["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_str().expect("feature id").to_string())
        .collect()
}

fn link(page: &Value, rel: &str) -> Option<String> {
    page["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
        .map(str::to_string)
}

async fn all_features(server: &TestServer, collection: &str, query: &str) -> Vec<Value> {
    let page = server
        .get(&format!(
            "/collections/{collection}/items?limit=10000&{query}"
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    page.json()["features"]
        .as_array()
        .expect("features")
        .clone()
}

fn assert_exception(reply: &Reply, status: u16, mentions: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert!(body["code"].is_string(), "{body}");
    let description = body["description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "'{description}' should mention '{mentions}'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landing_conformance_and_api_describe_the_service() {
    let server = serve_demo().await;
    let landing = server.get("/").await.json();
    for rel in ["service-desc", "conformance", "data"] {
        let href = link(&landing, rel).unwrap_or_else(|| panic!("landing page links {rel}"));
        assert_eq!(server.get(&href).await.status, 200, "{href}");
    }
    let conformance = server.get("/conformance").await.json();
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"));
    let api = server.get("/api").await;
    assert!(
        api.header("content-type")
            .unwrap()
            .starts_with("application/vnd.oai.openapi+json")
    );
    let api = api.json();
    assert_eq!(api["openapi"], "3.0.3");
    for path in [
        "/collections/{collectionId}/items",
        "/tiles/{datasets}/{z}/{x}/{y}",
        "/events",
        "/metrics",
    ] {
        assert!(
            api["paths"][path]["get"].is_object(),
            "{path} is documented"
        );
    }
    let collections = server.get("/collections").await.json();
    let listed: BTreeSet<&str> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(
        listed.contains("earthquakes") && listed.contains("countries"),
        "{listed:?}"
    );
    let quakes = server.get("/collections/earthquakes").await.json();
    assert_eq!(quakes["featureCount"], 2389);
    assert!(quakes["extent"]["temporal"]["interval"][0][0].is_string());
    assert!(
        server
            .get("/collections?f=html")
            .await
            .text()
            .contains("<table>")
    );
    assert_eq!(server.get("/healthz").await.status, 200);
    assert_eq!(server.get("/readyz").await.status, 200);
    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("geoconsole_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("geoconsole_index_bytes"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_cover_a_collection_once_forwards_and_backwards() {
    let server = serve_demo().await;
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut next = Some(format!(
        "{}/collections/earthquakes/items?limit=500",
        server.url
    ));
    while let Some(url) = next {
        let page = server.get(&url).await.json();
        assert_eq!(page["numberMatched"], 2389);
        assert_eq!(
            page["numberReturned"].as_u64().unwrap() as usize,
            ids(&page).len()
        );
        seen.extend(ids(&page));
        next = link(&page, "next");
        pages.push(page);
    }
    assert_eq!(pages.len(), 5);
    assert_eq!(seen.len(), 2389);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        2389,
        "no feature twice"
    );
    assert!(
        link(&pages[0], "prev").is_none(),
        "the first page has no previous page"
    );
    // Back from the last page: the same pages in reverse.
    let mut back = Vec::new();
    let mut prev = link(&pages[4], "prev");
    while let Some(url) = prev {
        let page = server.get(&url).await.json();
        back.push(ids(&page));
        prev = link(&page, "prev");
    }
    let forward: Vec<Vec<String>> = pages[..4].iter().rev().map(ids).collect();
    assert_eq!(back, forward);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_agree_with_brute_force_over_every_feature() {
    let server = serve_demo().await;
    let all = all_features(&server, "earthquakes", "").await;
    assert_eq!(all.len(), 2389);
    let coords = |f: &Value| {
        (
            f["geometry"]["coordinates"][0].as_f64().unwrap(),
            f["geometry"]["coordinates"][1].as_f64().unwrap(),
        )
    };
    let mag = |f: &Value| f["properties"]["mag"].as_f64();
    let count_where = |pred: &dyn Fn(&Value) -> bool| all.iter().filter(|f| pred(f)).count();

    let across = all_features(&server, "earthquakes", "bbox=170,-60,-170,0").await;
    let expected = count_where(&|f| {
        let (x, y) = coords(f);
        (x >= 170.0 || x <= -170.0) && (-60.0..=0.0).contains(&y)
    });
    assert!(expected > 10, "the demo has quakes near Fiji and Tonga");
    assert_eq!(across.len(), expected);

    let strong = all_features(&server, "earthquakes", "filter=mag%20%3E%205").await;
    assert_eq!(
        strong.len(),
        count_where(&|f| mag(f).is_some_and(|m| m > 5.0))
    );

    let json_filter = r#"{"op":"and","args":[{"op":">=","args":[{"property":"mag"},4.5]},{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[120,20],[150,20],[150,46],[120,46],[120,20]]]}]}]}"#;
    let encoded: String = json_filter.bytes().map(|b| format!("%{b:02X}")).collect();
    let japan = all_features(
        &server,
        "earthquakes",
        &format!("filter-lang=cql2-json&filter={encoded}"),
    )
    .await;
    let expected = count_where(&|f| {
        let (x, y) = coords(f);
        mag(f).is_some_and(|m| m >= 4.5)
            && (120.0..=150.0).contains(&x)
            && (20.0..=46.0).contains(&y)
    });
    assert!(expected > 0);
    assert_eq!(japan.len(), expected);

    let reviewed = all_features(&server, "earthquakes", "status=reviewed&magType=mww").await;
    assert_eq!(
        reviewed.len(),
        count_where(
            &|f| f["properties"]["status"] == "reviewed" && f["properties"]["magType"] == "mww"
        )
    );

    let day = all_features(
        &server,
        "earthquakes",
        "datetime=2023-04-02T00:00:00Z/2023-04-03T00:00:00Z",
    )
    .await;
    let in_day = count_where(&|f| {
        let t = f["properties"]["time"].as_i64().unwrap();
        (1_680_393_600_000..=1_680_480_000_000).contains(&t)
    });
    assert_eq!(day.len(), in_day);
    let open = all_features(&server, "earthquakes", "datetime=../2023-04-03T00:00:00Z").await;
    assert_eq!(
        open.len(),
        count_where(&|f| f["properties"]["time"].as_i64().unwrap() <= 1_680_480_000_000)
    );

    let near_tokyo = all_features(
        &server,
        "earthquakes",
        "filter=S_DWITHIN(geometry%2CPOINT(139.69%2035.69)%2C300%2Ckilometers)%20AND%20T_DURING(datetime%2CINTERVAL('2023-03-01T00:00:00Z'%2C'..'))",
    )
    .await;
    assert!(!near_tokyo.is_empty());
    for f in &near_tokyo {
        let (x, y) = coords(f);
        assert!(
            (x - 139.69).abs() < 4.0 && (y - 35.69).abs() < 3.0,
            "{x},{y}"
        );
    }
    let counted = server
        .get("/collections/earthquakes/items?limit=1&filter=S_DWITHIN(geometry%2CPOINT(139.69%2035.69)%2C300%2Ckilometers)")
        .await
        .json();
    assert_eq!(
        counted["numberMatched"].as_u64().unwrap() as usize,
        near_tokyo.len(),
        "geometry-only filters are counted in the index"
    );

    let id = all[0]["id"].as_str().unwrap();
    let one = server
        .get(&format!("/collections/earthquakes/items/{id}"))
        .await;
    assert_eq!(one.header("content-type"), Some("application/geo+json"));
    assert_eq!(one.json()["id"], id);
    assert!(link(&one.json(), "collection").is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_ogc_exceptions_naming_the_problem() {
    let server = serve_demo().await;
    let items = "/collections/earthquakes/items";
    for (query, mentions) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("colour=red", "unknown query parameter 'colour'"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=0,0,10,95", "bbox"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2024-05-08/2024-05-01", "ends before"),
        ("filter=mag%20%3E", "CQL2"),
        ("filter=nope%20%3D%201", "unknown property 'nope'"),
        ("filter-lang=cql2-yaml&filter=mag%3E1", "filter-lang"),
        ("cursor=zzz", "cursor"),
        ("bbox-crs=EPSG:3857&bbox=0,0,1,1", "bbox-crs"),
        ("limit=1&limit=2", "more than once"),
    ] {
        assert_exception(
            &server.get(&format!("{items}?{query}")).await,
            400,
            mentions,
        );
    }
    assert_exception(
        &server.get("/collections/nothing_here").await,
        404,
        "nothing_here",
    );
    assert_exception(
        &server.get("/collections/Bad%20Id/items").await,
        404,
        "does not exist",
    );
    assert_exception(
        &server
            .get("/collections/earthquakes/items/no-such-quake")
            .await,
        404,
        "no-such-quake",
    );
    assert_exception(&server.get("/no/such/path").await, 404, "no such resource");
    assert_exception(
        &server.get("/tiles/earthquakes/30/0/0.mvt").await,
        404,
        "zoom",
    );
    assert_exception(
        &server.get("/tiles/earthquakes/2/9/0.mvt").await,
        404,
        "does not exist",
    );
    assert_exception(
        &server
            .get("/tiles/earthquakes/2/1/1.mvt?filter=mag%20%3E")
            .await,
        400,
        "CQL2",
    );
    assert_exception(&server.get("/events?datasets=Bad").await, 400, "dataset id");
    let deep = format!(
        "{items}?filter={}mag%3E1{}",
        "(".repeat(100),
        ")".repeat(100)
    );
    assert_exception(&server.get(&deep).await, 400, "parentheses 100 deep");
    server.shutdown().await;
}

async fn decode(reply: &Reply) -> Tile {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/vnd.mapbox-vector-tile")
    );
    Tile::decode(reply.body.as_slice()).expect("a valid MVT")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_carry_a_layer_per_dataset_and_respect_time_and_filters() {
    let server = serve_demo().await;
    let tile = decode(&server.get("/tiles/earthquakes,countries/0/0/0.mvt").await).await;
    let names: Vec<&str> = tile.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["earthquakes", "countries"]);
    assert_eq!(
        tile.layers[0].features.len(),
        2389,
        "every quake is drawn at z0 (below the cluster threshold)"
    );
    assert_eq!(tile.layers[1].features.len(), 177);
    assert_eq!(tile.layers[0].extent, Some(4096));

    let strong = decode(
        &server
            .get("/tiles/earthquakes/0/0/0.mvt?filter=mag%20%3E%205")
            .await,
    )
    .await;
    let all = all_features(&server, "earthquakes", "filter=mag%20%3E%205").await;
    assert_eq!(strong.layers[0].features.len(), all.len());
    let day = decode(
        &server
            .get("/tiles/earthquakes/0/0/0.mvt?datetime=2023-04-02T00:00:00Z/2023-04-03T00:00:00Z")
            .await,
    )
    .await;
    let in_day = all_features(
        &server,
        "earthquakes",
        "datetime=2023-04-02T00:00:00Z/2023-04-03T00:00:00Z",
    )
    .await;
    assert_eq!(day.layers[0].features.len(), in_day.len());

    let ogc = server
        .get("/collections/countries/tiles/WebMercatorQuad/1/0/1")
        .await;
    assert!(!decode(&ogc).await.layers.is_empty());
    let tilejson = server.get("/tiles/earthquakes,sites").await.json();
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert!(
        tilejson["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/tiles/earthquakes,sites/{z}/{x}/{y}.mvt")
    );
    assert_eq!(tilejson["vector_layers"].as_array().unwrap().len(), 2);
    let empty = server.get("/tiles/earthquakes/14/0/0.mvt").await;
    assert_eq!(empty.status, 204, "an empty tile is 204, as Martin does");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_point_layers_cluster_under_half_a_megabyte() {
    let store = geoconsole_testkit::temp_gpkg();
    let console = store.console();
    let features = (0..300_000u32).map(|i| {
        let (a, b) = (f64::from(i % 600), f64::from(i / 600));
        point(
            &format!("p{i}"),
            2.0 + a * 0.01,
            45.0 + b * 0.01,
            json!({"n": i, "kind": "dense"}),
        )
    });
    let options = ImportOptions {
        dataset: Some(geoconsole_model::DatasetId::new("dense").unwrap()),
        kind: Some(DatasetKind::Events),
        ..ImportOptions::default()
    };
    console
        .import_features("dense", features, options)
        .await
        .expect("import");
    let server = geoconsole_testkit::serve(store).await;
    let reply = server.get("/tiles/dense/4/8/5.mvt").await;
    assert!(reply.body.len() < 500 * 1024, "{} bytes", reply.body.len());
    let tile = decode(&reply).await;
    let layer = &tile.layers[0];
    let count_key = layer
        .keys
        .iter()
        .position(|k| k == "point_count")
        .expect("clusters carry point_count") as u32;
    let mut total = 0;
    for f in &layer.features {
        let i = f
            .tags
            .chunks(2)
            .find(|kv| kv[0] == count_key)
            .expect("every cluster has a count")[1];
        total += layer.values[i as usize]
            .uint_value
            .expect("counts are unsigned");
    }
    assert_eq!(total, 300_000, "clusters account for every point");
    // Zoomed in far enough, features come one by one with their properties.
    let close = decode(&server.get("/tiles/dense/14/8285/5890.mvt").await).await;
    assert!(close.layers[0].keys.iter().any(|k| k == "kind"));
    assert!(close.layers[0].features.len() < 4000);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_shows_in_items_tiles_and_events_at_once() {
    let server = serve_demo().await;
    let events = server
        .client()
        .get(format!("{}/events?datasets=sites", server.url))
        .send()
        .await
        .expect("event stream");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut stream = events.bytes_stream();
    let hello = stream.next().await.expect("hello").expect("bytes");
    assert!(String::from_utf8_lossy(&hello).contains("event: hello"));

    let before = server.get("/collections/sites/items?limit=1").await.json();
    let count = before["numberMatched"].as_u64().unwrap();
    let tile_url = "/tiles/sites/0/0/0.mvt";
    let old = server.get(tile_url).await;
    let old_etag = old.header("etag").expect("tiles have ETags").to_string();
    assert_eq!(
        server
            .get_with(tile_url, &[("if-none-match", &old_etag)])
            .await
            .status,
        304
    );
    // Found by an outside tester: `*` and the weak form of the tag never answered 304 (RFC 9110 §13.1.2).
    let weak = format!("W/{old_etag}");
    for tag in ["*", weak.as_str(), &format!("\"other\", {weak}")] {
        assert_eq!(
            server
                .get_with(tile_url, &[("if-none-match", tag)])
                .await
                .status,
            304,
            "{tag}"
        );
    }
    // Also found by the outside tester: a repeated name drew the same layer twice (MVT forbids two layers
    // of one name).
    let twice = server.get("/tiles/sites,sites/0/0/0.mvt").await;
    assert_eq!(twice.status, 400);
    assert!(twice.text().contains("named twice"), "{}", twice.text());
    // An empty name in a list was passed over while `,` alone was refused.
    for list in [",sites", "sites,", "sites,,sites"] {
        let gap = server.get(&format!("/tiles/{list}/0/0/0.mvt")).await;
        assert_eq!(gap.status, 400, "{list}");
        assert!(gap.text().contains("is empty"), "{list}: {}", gap.text());
    }

    let site = point(
        "site_new",
        174.76,
        -36.85,
        json!({"name": "Auckland depot", "site_type": "warehouse"}),
    );
    let options = ImportOptions {
        dataset: Some(geoconsole_model::DatasetId::new("sites").unwrap()),
        mode: geoconsole_store::WriteMode::Append,
        ..ImportOptions::default()
    };
    server
        .console
        .import_features("api", std::iter::once(site), options)
        .await
        .expect("append");

    let event = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let chunk = stream.next().await.expect("stream open").expect("bytes");
            let text = String::from_utf8_lossy(&chunk).into_owned();
            if text.contains("event: change") {
                return text;
            }
        }
    })
    .await
    .expect("a change event within 5 s");
    let data: Value = serde_json::from_str(
        event
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["dataset"], "sites");
    assert_eq!(data["change"], "updated");
    assert!(data["bbox"].is_array());

    let after = server.get("/collections/sites/items?limit=1").await.json();
    assert_eq!(after["numberMatched"].as_u64().unwrap(), count + 1);
    let fresh = server
        .get_with(tile_url, &[("if-none-match", &old_etag)])
        .await;
    assert_eq!(fresh.status, 200, "the old ETag no longer matches");
    assert_ne!(fresh.header("etag").unwrap(), old_etag);
    assert!(
        decode(&fresh).await.layers[0].features.len() > decode(&old).await.layers[0].features.len()
    );
    let found = server
        .get("/collections/sites/items?filter=name%20%3D%20'Auckland%20depot'")
        .await
        .json();
    assert_eq!(ids(&found), vec!["site_new"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_pages_escape_whatever_the_data_holds() {
    let store = geoconsole_testkit::temp_gpkg();
    let hostile = point(
        "x<1>",
        0.0,
        0.0,
        json!({"name": "<script>alert(1)</script>", "note": "a & b \"c\""}),
    );
    let options = ImportOptions {
        dataset: Some(geoconsole_model::DatasetId::new("hostile").unwrap()),
        ..ImportOptions::default()
    };
    store
        .console()
        .import_features("t", std::iter::once(hostile), options)
        .await
        .expect("import");
    let server = geoconsole_testkit::serve(store).await;
    for path in [
        "/collections/hostile/items?f=html",
        "/collections/hostile/items/x%3C1%3E?f=html",
    ] {
        let page = server.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        let text = page.text();
        assert!(!text.contains("<script>alert"), "{path}");
        assert!(
            text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
    }
    let browser = server
        .get_with(
            "/collections/hostile",
            &[("accept", "text/html,application/xhtml+xml")],
        )
        .await;
    assert!(
        browser
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    server.shutdown().await;
}
