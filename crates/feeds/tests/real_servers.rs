//! The connectors against real servers on loopback, each serving the same 50,000 sites the scripted
//! origins hold (written to a GeoJSON file here): pygeoapi (OGC API – Features), MapServer's `mapserv`
//! run as a CGI program (WFS 2.0 in GeoJSON and in GML 3.2, and OGC API – Features), and Koop (an ArcGIS
//! FeatureServer on Node.js). The layer must arrive
//! whole: the exact count, no id twice, every value as the source holds it (as the server types it).
//!
//! Each test skips, saying so on stderr, when its server is not installed; with `GEOCONSOLE_REQUIRE_SERVERS=1`
//! (CI) a missing server fails the test instead. What CI installs:
//!
//! - MapServer: `apt-get install -y cgi-mapserver` (with mapserver-bin: `/usr/lib/cgi-bin/mapserv`; or `GEOCONSOLE_MAPSERV`);
//! - pygeoapi: `python3 -m venv /opt/pygeoapi && /opt/pygeoapi/bin/pip install pygeoapi==0.21.0`, found as
//!   `GEOCONSOLE_PYGEOAPI` (the `pygeoapi` program), `/opt/pygeoapi/bin/pygeoapi` or `pygeoapi` on PATH;
//! - Koop: Node.js, and `npm ci` in `tests/koop` (koop-core and output-geoservices at the lockfile's
//!   versions; `serve.mjs` there serves one GeoJSON file as a FeatureServer layer).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geoconsole_feeds::connectors::{
    ConnectorError, PagingMode, SourceKind, SourceSpec, SourceSync, SyncLimits, SyncReport,
};
use geoconsole_feeds::{FetchLimits, Fetcher, NetworkPolicy};
use geoconsole_model::Feature;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_testkit::{CgiOrigin, ogc_position, ogc_site};
use serde_json::{Map, Value, json};

const N: i64 = 50_000;

fn fetcher() -> Fetcher {
    let policy = NetworkPolicy::allowing(&["127.0.0.1"]).expect("policy");
    Fetcher::new(Arc::new(policy), FetchLimits::default()).expect("fetcher")
}

async fn load(spec: &SourceSpec) -> Result<(Vec<Feature>, SyncReport), ConnectorError> {
    let work = async {
        let mut sync = SourceSync::start(&fetcher(), spec, None, SyncLimits::default()).await?;
        let mut features = Vec::new();
        while let Some(page) = sync.next_page().await? {
            features.extend(page.features);
        }
        Ok((features, sync.report()))
    };
    tokio::time::timeout(Duration::from_secs(600), work)
        .await
        .expect("the sync ends")
}

fn say(label: &str, report: &SyncReport) {
    eprintln!(
        "{label}: {} features, {} pages, {} requests, {} bytes in {:.2?} ({:.0} features/s, mode {:?})",
        report.features,
        report.pages,
        report.requests,
        report.bytes,
        report.duration,
        report.features_per_second(),
        report.mode
    );
}

/// A server that is not installed skips its test loudly, or fails it where CI says servers must be there.
fn absent(what: &str, install: &str) {
    let message = format!(
        "SKIPPED: {what} is not installed, so this test did not run against it. Install it with: {install}"
    );
    if std::env::var("GEOCONSOLE_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
        panic!("{message}");
    }
    eprintln!("\n!!!!! {message}\n");
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

fn found(env: &str, fixed: &[&str], program: &str) -> Option<PathBuf> {
    std::env::var_os(env)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| fixed.iter().map(PathBuf::from).find(|p| p.is_file()))
        .or_else(|| on_path(program))
}

/// The sites as a GeoJSON file (the same rows the scripted origins serve).
fn write_sites(dir: &Path) -> PathBuf {
    let features: Vec<Value> = (1..=N)
        .map(|gid| {
            let (x, y) = ogc_position(gid);
            json!({
                "type": "Feature",
                "id": gid,
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": ogc_site(gid)
            })
        })
        .collect();
    let path = dir.join("sites.geojson");
    std::fs::write(
        &path,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .expect("write sites");
    path
}

/// Values as a server that types them its own way may give them: booleans as 0/1 (OGR reads them so),
/// nulls left out or written as empty text (MapServer's OGC API).
fn normalized(properties: &Map<String, Value>) -> Map<String, Value> {
    properties
        .iter()
        .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
        .map(|(k, v)| {
            let v = match v {
                Value::Bool(b) => json!(f64::from(u8::from(*b))),
                Value::Number(n) => json!(n.as_f64().expect("number")),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The whole layer, once, each site's values and point as the file holds them. `exact` demands the JSON
/// values themselves; otherwise values are compared as [`normalized`].
fn check(features: &[Feature], id_of: impl Fn(&str) -> i64, exact: bool, degrees: f64) {
    assert_eq!(features.len(), N as usize, "every site, once");
    let ids: HashSet<&str> = features
        .iter()
        .map(|f| f.id.as_ref().expect("id").as_str())
        .collect();
    assert_eq!(ids.len(), N as usize, "no id twice");
    for feature in features {
        let gid = id_of(feature.id.as_ref().expect("id").as_str());
        let expected = ogc_site(gid);
        if exact {
            assert_eq!(feature.properties, expected, "site {gid}");
        } else {
            assert_eq!(
                normalized(&feature.properties),
                normalized(&expected),
                "site {gid}"
            );
        }
        let (x, y) = ogc_position(gid);
        match feature.geometry.as_ref().expect("geometry") {
            Geometry::Point(p) => {
                let close = (p.x() - x).abs() <= degrees && (p.y() - y).abs() <= degrees;
                assert!(close, "site {gid}: {p:?} is not {:?}", Point::new(x, y));
            }
            other => panic!("site {gid}: {other:?}"),
        }
    }
}

/// A child process of the test's own, started as the leader of a process group of its own, ended with that
/// group (by its id) when the test ends: `pygeoapi serve` runs Flask's reloader, whose server is a child of
/// the process started.
struct Running(Child);

impl Running {
    fn spawn(command: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        Self(command.process_group(0).spawn().expect("start the server"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

async fn wait_for(url: &str, child: &mut Running, log: &Path) {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not answer {url} within 60 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ------------------------------------------------------------------------------------------- pygeoapi

const PYGEOAPI_INSTALL: &str =
    "python3 -m venv /opt/pygeoapi && /opt/pygeoapi/bin/pip install pygeoapi==0.21.0";

fn pygeoapi_config(port: u16, data: &Path) -> String {
    format!(
        r#"server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 10, max_items: 2000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: "OpenStreetMap"}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: Sites, description: Sites, keywords: [sites], keywords_type: theme, terms_of_service: "https://creativecommons.org/licenses/by/4.0/", url: "https://example.org"}}
  license: {{name: CC-BY 4.0, url: "https://creativecommons.org/licenses/by/4.0/"}}
  provider: {{name: geoconsole tests, url: "https://example.org"}}
  contact: {{name: tests, position: tests, address: x, city: x, stateorprovince: x, postalcode: x, country: x, phone: x, fax: x, email: tests@example.org, url: "https://example.org", hours: x, instructions: x, role: pointOfContact}}
resources:
  sites:
    type: collection
    title: Sites
    description: Sites
    keywords: [sites]
    extents:
      spatial: {{bbox: [-180, -90, 180, 90], crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    providers:
      - type: feature
        name: GeoJSON
        data: {data}
        id_field: gid
"#,
        data = data.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygeoapi_collection_loads_whole_by_next_links() {
    let Some(pygeoapi) = found(
        "GEOCONSOLE_PYGEOAPI",
        &["/opt/pygeoapi/bin/pygeoapi"],
        "pygeoapi",
    ) else {
        return absent("pygeoapi", PYGEOAPI_INSTALL);
    };
    let dir = tempfile::tempdir().expect("dir");
    let data = write_sites(dir.path());
    let port = free_port();
    let config = dir.path().join("pygeoapi.yml");
    let openapi = dir.path().join("openapi.yml");
    std::fs::write(&config, pygeoapi_config(port, &data)).expect("config");
    let generated = Command::new(&pygeoapi)
        .args(["openapi", "generate"])
        .arg(&config)
        .arg("--output-file")
        .arg(&openapi)
        .env("PYGEOAPI_CONFIG", &config)
        .env("PYGEOAPI_OPENAPI", &openapi)
        .output()
        .expect("pygeoapi openapi generate");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let log = dir.path().join("serve.log");
    let mut server = Running::spawn(
        Command::new(&pygeoapi)
            .arg("serve")
            .env("PYGEOAPI_CONFIG", &config)
            .env("PYGEOAPI_OPENAPI", &openapi)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(dir.path().join("serve.err")).expect("log")),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/conformance?f=json"), &mut server, &log).await;

    let mut spec = SourceSpec::new(SourceKind::Oapif, format!("{base}/collections/sites"));
    spec.options.page_size = Some(2000);
    let (features, report) = load(&spec).await.expect("sync");
    say("pygeoapi 0.2x GeoJSON provider, 2000 a page", &report);
    check(&features, |id| id.parse().expect("gid"), true, 1e-9);
    assert_eq!(report.mode, PagingMode::NextLinks);
    assert_eq!(report.matched, Some(N as u64));
    // pygeoapi links a next page after a full last one; that page comes back empty.
    assert!((25..=26).contains(&report.pages), "{}", report.pages);

    // bbox goes to the server: the first row of sites, 1-99.
    spec.options.bbox = Some("5,45,6,45.005".into());
    let (features, _) = load(&spec).await.expect("bbox");
    assert_eq!(features.len(), 99);
}

// ------------------------------------------------------------------------------------------ MapServer

const MAPSERVER_INSTALL: &str = "apt-get install -y cgi-mapserver";

/// A MapServer 8 configuration and map file serving the sites over WFS 2.0 and OGC API – Features, with
/// GeoJSON output offered or not.
fn mapserver_files(dir: &Path, data: &Path, geojson: bool, url: &str) -> (PathBuf, PathBuf) {
    let map = dir.join(if geojson {
        "sites.map"
    } else {
        "sites-gml.map"
    });
    let config = dir.join("ms.conf");
    std::fs::write(
        &config,
        format!(
            "CONFIG\n  ENV\n    MS_MAP_PATTERN \"^{}\"\n  END\n  MAPS\n    \"sites\" \"{}\"\n  END\nEND\n",
            dir.display(),
            map.display()
        ),
    )
    .expect("config");
    let (format_list, output_format) = if geojson {
        (
            r#""wfs_getfeature_formatlist" "geojson""#,
            r#"OUTPUTFORMAT
    NAME "geojson"
    DRIVER "OGR/GEOJSON"
    MIMETYPE "application/json; subtype=geojson"
    FORMATOPTION "STORAGE=stream"
    FORMATOPTION "FORM=SIMPLE"
    FORMATOPTION "LCO:COORDINATE_PRECISION=9"
  END"#,
        )
    } else {
        ("", "")
    };
    std::fs::write(
        &map,
        format!(
            r#"MAP
  NAME "sites"
  EXTENT 5 45 15 46
  PROJECTION "init=epsg:4326" END
  WEB
    METADATA
      "wfs_title" "Sites"
      "wfs_srs" "EPSG:4326"
      "wfs_enable_request" "*"
      "wfs_maxfeatures" "5000"
      {format_list}
      "oga_enable_request" "*"
      "oga_onlineresource" "{url}/cgi-bin/mapserv/sites/ogcapi"
    END
  END
  {output_format}
  LAYER
    NAME "sites"
    TYPE POINT
    STATUS ON
    TEMPLATE "void"
    CONNECTIONTYPE OGR
    CONNECTION "{data}"
    PROJECTION "init=epsg:4326" END
    METADATA
      "wfs_title" "sites"
      "oga_title" "sites"
      "gml_include_items" "all"
      "gml_types" "auto"
      "gml_featureid" "gid"
    END
  END
END
"#,
            data = data.display()
        ),
    )
    .expect("map");
    (config, map)
}

async fn mapserver(geojson: bool) -> Option<(CgiOrigin, PathBuf, tempfile::TempDir)> {
    let Some(mapserv) = found(
        "GEOCONSOLE_MAPSERV",
        &["/usr/lib/cgi-bin/mapserv"],
        "mapserv",
    ) else {
        absent("MapServer (mapserv)", MAPSERVER_INSTALL);
        return None;
    };
    let dir = tempfile::tempdir().expect("dir");
    let data = write_sites(dir.path());
    // mapserv reads its files at each request, so they can name the gateway's address, known once it listens.
    let config = dir.path().join("ms.conf");
    let origin = CgiOrigin::start(
        mapserv,
        "/cgi-bin/mapserv",
        vec![("MAPSERVER_CONFIG_FILE".into(), config.display().to_string())],
    )
    .await;
    let (written, map) = mapserver_files(dir.path(), &data, geojson, &origin.url);
    assert_eq!(written, config);
    Some((origin, map, dir))
}

fn wfs_spec(origin: &CgiOrigin, map: &Path) -> SourceSpec {
    let mut spec = SourceSpec::new(
        SourceKind::Wfs,
        format!("{}/cgi-bin/mapserv?map={}", origin.url, map.display()),
    );
    spec.options.layer = Some("ms:sites".into());
    spec.options.page_size = Some(5000);
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapserver_wfs_geojson_loads_whole() {
    let Some((origin, map, _dir)) = mapserver(true).await else {
        return;
    };
    let (features, report) = load(&wfs_spec(&origin, &map)).await.expect("sync");
    say("MapServer 8 WFS 2.0, GeoJSON, 5000 a page", &report);
    // MapServer's GeoJSON has no feature id; the key property (gid) is the id.
    check(&features, |id| id.parse().expect("gid"), false, 1e-9);
    assert_eq!(report.mode, PagingMode::Offset);
    let queries: Vec<String> = origin
        .requests()
        .into_iter()
        .map(|(_, q)| q)
        .filter(|q| q.contains("GetFeature"))
        .collect();
    assert!(queries.iter().all(|q| q.contains("SORTBY=gid+ASC")
        && q.contains("OUTPUTFORMAT=application%2Fjson")
        && q.contains("SRSNAME=urn%3Aogc%3Adef%3Acrs%3AEPSG%3A%3A4326")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapserver_wfs_gml_latitude_first_loads_whole() {
    let Some((origin, map, _dir)) = mapserver(false).await else {
        return;
    };
    let (features, report) = load(&wfs_spec(&origin, &map)).await.expect("sync");
    say(
        "MapServer 8 WFS 2.0, GML 3.2 in urn EPSG::4326, 5000 a page",
        &report,
    );
    check(
        &features,
        |id| {
            id.strip_prefix("sites.")
                .expect("gml:id")
                .parse()
                .expect("gid")
        },
        false,
        1e-9,
    );
    assert_eq!(report.pages, 11, "ten full pages, and an empty one after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapserver_oapif_loads_whole() {
    let Some((origin, _map, _dir)) = mapserver(true).await else {
        return;
    };
    let mut spec = SourceSpec::new(
        SourceKind::Oapif,
        format!(
            "{}/cgi-bin/mapserv/sites/ogcapi/collections/sites",
            origin.url
        ),
    );
    spec.options.page_size = Some(5000);
    let (features, report) = load(&spec).await.expect("sync");
    say("MapServer 8 OGC API – Features, 5000 a page", &report);
    // MapServer's OGC API writes six decimals after its CRS84 transformation, off by one in the last.
    check(&features, |id| id.parse().expect("gid"), false, 1.5e-6);
    assert_eq!(report.matched, Some(N as u64));
}

// ----------------------------------------------------------------------------- Koop (ArcGIS FeatureServer)

const KOOP_INSTALL: &str = "cd crates/feeds/tests/koop && npm ci";

/// Koop (koop-core with the GeoServices output) serving the sites file as FeatureServer layer 0: a real
/// FeatureServer implementation, run by `tests/koop/serve.mjs` on 127.0.0.1 with a page cap of
/// `max_record_count` as ArcGIS applies it. Returns the server and the layer's URL.
async fn koop(data: &Path, max_record_count: u32, log: &Path) -> Option<(Running, String)> {
    use std::io::BufRead;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/koop");
    let node = found("GEOCONSOLE_NODE", &[], "node")?;
    if !dir.join("node_modules/@koopjs/koop-core").is_dir() {
        return None;
    }
    let mut server = Running::spawn(
        Command::new(node)
            .arg(dir.join("serve.mjs"))
            .args(["--port", "0", "--name", "sites", "--max-record-count"])
            .arg(max_record_count.to_string())
            .arg("--file")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("log")),
    );
    let stdout = server.0.stdout.take().expect("stdout");
    // The one line it prints once listening: `listening 127.0.0.1:PORT <layer URL>`.
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "Koop did not start within 60 s: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .expect("read")
        .expect("ready line");
    let url = line
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| {
            panic!(
                "Koop said {line:?}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_string();
    Some((server, url))
}

/// A FeatureServer layer of 50,000 sites, capped at 2,000 a query as ArcGIS Online caps it, arrives whole
/// through the ArcGIS connector: paged by offset in GeoJSON (Koop offers it), every site once with the
/// values of the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn koop_feature_server_layer_loads_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let data = write_sites(dir.path());
    let log = dir.path().join("koop.log");
    let Some((_server, layer)) = koop(&data, 2000, &log).await else {
        return absent("Koop (Node.js and its npm packages)", KOOP_INSTALL);
    };
    let spec = SourceSpec::new(SourceKind::Arcgis, layer.clone());
    let (features, report) = load(&spec).await.unwrap_or_else(|e| {
        panic!(
            "sync: {e}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    say("Koop 10 FeatureServer, maxRecordCount 2000", &report);
    // Koop numbers the features 1..N in file order (its OBJECTID), which is each site's gid.
    let sites: Vec<Feature> = features
        .into_iter()
        .map(|mut f| {
            f.properties.remove("OBJECTID");
            f
        })
        .collect();
    check(&sites, |id| id.parse().expect("object id"), false, 1e-9);
    assert_eq!(report.mode, PagingMode::Offset);
    assert!((25..=26).contains(&report.pages), "{}", report.pages);
}
