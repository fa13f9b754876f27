//! Every route, once: its path, handler and documentation. The router and the OpenAPI document are both
//! built from this table, so the API definition cannot drift from what the server answers.

use axum::routing::{MethodRouter, delete, get, post, put};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use geoconsole_access::Need;

use crate::auth::Datasets;
use crate::state::AppState;
use crate::{
    accounts, alerts, analytics, catalog, exports, feeds, histogram, imports, ogc, ops, tiles, web,
};

pub struct Route {
    /// axum's path syntax, which is also OpenAPI's: `/collections/{collectionId}`.
    pub path: &'static str,
    /// `get`, `post` or `delete`, as OpenAPI spells it; one path may appear once per method.
    pub method: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Names of parameters defined in [`parameter`].
    pub parameters: &'static [&'static str],
    /// Success status and the media types it comes in.
    pub success: (u16, &'static [&'static str]),
    /// Who may call it (deny by default: every route says).
    pub need: Need,
    /// What it does with datasets, for accounts limited to some.
    pub datasets: Datasets,
    /// What the request carries: the schema comes from the very type the handler deserialises.
    pub body: Body,
    /// The refusals this route has beyond those every route of its kind has (authentication, limits,
    /// bodies): the status and when it is answered, e.g. 409 for a conflict with the object's state.
    pub refusals: &'static [(u16, &'static str)],
    pub handler: MethodRouter<AppState>,
}

/// A route's request body.
pub enum Body {
    None,
    /// The bytes of a file, in any format the importers read.
    File,
    /// A JSON document; `required` false when an empty body means "the defaults".
    Json {
        schema: fn(&mut SchemaGenerator) -> Schema,
        required: bool,
    },
}

impl Body {
    fn json<T: JsonSchema>() -> Self {
        Self::Json {
            schema: schema_of::<T>,
            required: true,
        }
    }

    fn optional<T: JsonSchema>() -> Self {
        Self::Json {
            schema: schema_of::<T>,
            required: false,
        }
    }
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

const JSON: &[&str] = &["application/json", "text/html"];

pub fn table() -> Vec<Route> {
    vec![
        Route {
            method: "get",
            path: "/",
            summary: "Landing page",
            tag: "Capabilities",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["f"],
            success: (200, JSON),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::landing),
        },
        Route {
            method: "get",
            path: "/conformance",
            summary: "Conformance classes implemented",
            tag: "Capabilities",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["f"],
            success: (200, JSON),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::conformance),
        },
        Route {
            method: "get",
            path: "/api",
            summary: "This API definition (OpenAPI 3.0)",
            tag: "Capabilities",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &[],
            success: (200, &["application/vnd.oai.openapi+json;version=3.0"]),
            body: Body::None,
            refusals: &[],
            handler: get(crate::openapi::document),
        },
        Route {
            method: "get",
            path: "/collections",
            summary: "Every dataset as a collection",
            tag: "Data",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["f"],
            success: (200, JSON),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::collections),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}",
            summary: "One collection",
            tag: "Data",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collectionId", "f"],
            success: (200, JSON),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::collection),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/queryables",
            summary: "Properties a filter may use",
            tag: "Data",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collectionId", "f"],
            success: (200, &["application/schema+json"]),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::queryables_route),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/items",
            summary: "Features, filtered by bbox, datetime, CQL2 and property values, paged by cursor",
            tag: "Data",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &[
                "collectionId",
                "f",
                "bbox",
                "bbox-crs",
                "datetime",
                "limit",
                "cursor",
                "filter",
                "filter-lang",
                "filter-crs",
                "queryables",
            ],
            success: (200, &["application/geo+json", "text/html"]),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::items),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/items/{featureId}",
            summary: "One feature",
            tag: "Data",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collectionId", "featureId", "f"],
            success: (200, &["application/geo+json", "text/html"]),
            body: Body::None,
            refusals: &[],
            handler: get(ogc::item),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/tiles",
            summary: "Vector tilesets of a collection",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collectionId", "f"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::collection_tilesets),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/tiles/{tileMatrixSetId}",
            summary: "Tileset metadata",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collectionId", "tileMatrixSetId", "f"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::collection_tileset),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            summary: "A vector tile (OGC API – Tiles)",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &[
                "collectionId",
                "tileMatrixSetId",
                "tileMatrix",
                "tileRow",
                "tileCol",
                "datetime",
                "filter",
                "filter-lang",
                "f",
            ],
            success: (200, &["application/vnd.mapbox-vector-tile"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::ogc_tile),
        },
        Route {
            method: "get",
            path: "/tileMatrixSets",
            summary: "Tile matrix sets offered",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["f"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::tile_matrix_sets),
        },
        Route {
            method: "get",
            path: "/tileMatrixSets/{tileMatrixSetId}",
            summary: "A tile matrix set",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["tileMatrixSetId", "f"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::tile_matrix_set),
        },
        Route {
            method: "get",
            path: "/tiles/{datasets}",
            summary: "TileJSON 3.0 for one or more datasets",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["datasets", "datetime", "filter", "filter-lang", "f"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::tilejson),
        },
        Route {
            method: "get",
            path: "/tiles/{datasets}/{z}/{x}/{y}",
            summary: "A vector tile with one layer per dataset; y may end in .mvt",
            tag: "Tiles",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &[
                "datasets",
                "z",
                "x",
                "y",
                "datetime",
                "filter",
                "filter-lang",
                "f",
            ],
            success: (200, &["application/vnd.mapbox-vector-tile"]),
            body: Body::None,
            refusals: &[],
            handler: get(tiles::xyz_tile),
        },
        Route {
            method: "get",
            path: "/collections/{collectionId}/histogram",
            summary: "Features active in each step of a time window (for time bars)",
            tag: "Data",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collectionId", "histogram-datetime", "bins", "bbox"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(histogram::histogram),
        },
        Route {
            method: "get",
            path: "/analytics/exposure",
            summary: "Sites within reach of hazard events, by each hazard dataset's impact model, with reasons",
            tag: "Analytics",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["sites", "hazards", "datetime", "radius_km", "hits", "f"],
            success: (200, &["application/json", "application/geo+json"]),
            body: Body::None,
            refusals: &[],
            handler: get(analytics::exposure),
        },
        Route {
            method: "get",
            path: "/analytics/h3",
            summary: "Features per H3 hexagon (counts, and sums of a numeric property) for density maps, filtered by bbox and time",
            tag: "Analytics",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["collection", "resolution", "bbox", "datetime", "sum", "f"],
            success: (200, &["application/geo+json"]),
            body: Body::None,
            refusals: &[],
            handler: get(analytics::hexbin),
        },
        Route {
            method: "get",
            path: "/analytics/risk",
            summary: "Sites ranked by an explainable risk score (configured model), optionally as of a past time",
            tag: "Analytics",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["sites", "as_of", "limit", "f"],
            success: (200, &["application/json", "application/geo+json"]),
            body: Body::None,
            refusals: &[],
            handler: get(analytics::risk),
        },
        Route {
            method: "post",
            path: "/analytics/risk",
            summary: "Sites ranked by the risk model in the body (JSON, as in the TOML), to try a model before configuring it",
            tag: "Analytics",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["sites", "as_of", "limit", "f"],
            success: (200, &["application/json", "application/geo+json"]),
            body: Body::optional::<geoconsole_analytics::RiskModel>(),
            refusals: &[],
            handler: post(analytics::risk),
        },
        Route {
            method: "get",
            path: "/analytics/trends",
            summary: "Events near each site per period against its trailing baseline, anomalies first with reasons",
            tag: "Analytics",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &[
                "trend-dataset",
                "sites",
                "radius_km",
                "period",
                "periods",
                "end",
                "sum",
                "threshold_sd",
                "min_current",
                "anomalies",
                "f",
            ],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(analytics::trends),
        },
        Route {
            method: "get",
            path: "/analytics/buckets",
            summary: "Events (or a property's sum) per region (H3 cells, area polygons, site buffers) per hour, day, week or month",
            tag: "Analytics",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["buckets-dataset", "by", "period", "datetime", "sum", "f"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(analytics::buckets),
        },
        Route {
            method: "get",
            path: "/rules",
            summary: "Alert rules",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(alerts::list_rules),
        },
        Route {
            method: "post",
            path: "/rules",
            summary: "Create or replace an alert rule (JSON body); it goes live from now on",
            tag: "Alerts",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (201, &["application/json"]),
            body: Body::json::<geoconsole_app::Rule>(),
            refusals: &[],
            handler: post(alerts::put_rule),
        },
        Route {
            method: "post",
            path: "/rules/dry-run",
            summary: "The alerts the rule in the body would have raised on stored history (nothing is stored or sent)",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["datetime"],
            success: (200, &["application/json"]),
            body: Body::json::<geoconsole_app::Rule>(),
            refusals: &[],
            handler: post(alerts::dry_run),
        },
        Route {
            method: "get",
            path: "/rules/{ruleId}",
            summary: "One alert rule",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["ruleId"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(alerts::get_rule),
        },
        Route {
            method: "delete",
            path: "/rules/{ruleId}",
            summary: "Delete an alert rule (its alerts stay)",
            tag: "Alerts",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["ruleId"],
            success: (204, &[]),
            body: Body::None,
            refusals: &[],
            handler: delete(alerts::delete_rule),
        },
        Route {
            method: "get",
            path: "/alerts",
            summary: "Alerts, newest first, by state and rule",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["alert-state", "rule", "after", "alerts-limit", "order"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(alerts::list_alerts),
        },
        Route {
            method: "get",
            path: "/alerts/stream",
            summary: "Alerts as they are raised and updated (server-sent events, resumable with Last-Event-ID)",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["after"],
            success: (200, &["text/event-stream"]),
            body: Body::None,
            refusals: &[],
            handler: get(alerts::stream),
        },
        Route {
            method: "get",
            path: "/alerts/deliveries",
            summary: "The webhook outbox: pending, delivered and dead deliveries",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["delivery-state"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(alerts::deliveries),
        },
        Route {
            method: "post",
            path: "/alerts/deliveries/{deliveryId}/retry",
            summary: "Queue a dead delivery again",
            tag: "Alerts",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["deliveryId"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: post(alerts::retry_delivery),
        },
        Route {
            method: "get",
            path: "/alerts/{alertId}",
            summary: "One alert with its lifecycle",
            tag: "Alerts",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["alertId"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(alerts::get_alert),
        },
        Route {
            method: "post",
            path: "/alerts/{alertId}/acknowledge",
            summary: "Acknowledge an alert with a disposition: {\"by\", \"disposition\", \"note\"}",
            tag: "Alerts",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["alertId"],
            success: (200, &["application/json"]),
            body: Body::json::<alerts::Decision>(),
            refusals: &[(409, "The alert's lifecycle does not allow this move")],
            handler: post(alerts::acknowledge),
        },
        Route {
            method: "post",
            path: "/alerts/{alertId}/resolve",
            summary: "Resolve an alert: {\"by\", \"disposition\" (when not acknowledged), \"note\"}",
            tag: "Alerts",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["alertId"],
            success: (200, &["application/json"]),
            body: Body::json::<alerts::Decision>(),
            refusals: &[(409, "The alert's lifecycle does not allow this move")],
            handler: post(alerts::resolve),
        },
        Route {
            method: "post",
            path: "/imports",
            summary: "Stage a file for import and preview what was detected in it",
            tag: "Imports",
            need: Need::Write,
            datasets: Datasets::Untouched,
            parameters: &[
                "name",
                "format",
                "lat",
                "lon",
                "wkt",
                "layer",
                "source_crs",
                "encoding",
            ],
            success: (201, &["application/json"]),
            body: Body::File,
            refusals: &[],
            handler: post(imports::create),
        },
        Route {
            method: "get",
            path: "/imports/{uploadId}",
            summary: "State and progress of a staged or running import",
            tag: "Imports",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["uploadId"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(imports::status),
        },
        Route {
            method: "post",
            path: "/imports/{uploadId}",
            summary: "Import a staged file into a dataset, in the background",
            tag: "Imports",
            need: Need::Write,
            datasets: Datasets::Scoped,
            parameters: &["uploadId"],
            success: (202, &["application/json"]),
            body: Body::json::<imports::ImportChoice>(),
            refusals: &[(
                409,
                "The upload was imported already or is being imported, or the dataset exists and mode is create",
            )],
            handler: post(imports::start),
        },
        Route {
            method: "delete",
            path: "/imports/{uploadId}",
            summary: "Forget a staged or finished upload",
            tag: "Imports",
            need: Need::Write,
            datasets: Datasets::Untouched,
            parameters: &["uploadId"],
            success: (204, &[]),
            body: Body::None,
            refusals: &[(409, "The upload is being imported")],
            handler: delete(imports::remove),
        },
        Route {
            method: "post",
            path: "/exports",
            summary: "Start a background export of a dataset's selection (fgb, geoparquet, gpkg, geojson, geojsonseq, csv, kml)",
            tag: "Exports",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &[],
            success: (202, &["application/json"]),
            body: Body::json::<exports::ExportChoice>(),
            refusals: &[],
            handler: post(exports::create),
        },
        Route {
            method: "get",
            path: "/exports/{exportId}",
            summary: "State and progress of an export, with the download link once done",
            tag: "Exports",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["exportId"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(exports::status),
        },
        Route {
            method: "get",
            path: "/exports/{exportId}/download",
            summary: "The finished export file",
            tag: "Exports",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["exportId"],
            success: (
                200,
                &[
                    "application/flatgeobuf",
                    "application/vnd.apache.parquet",
                    "application/geopackage+sqlite3",
                    "application/geo+json",
                    "application/geo+json-seq",
                    "text/csv",
                    "application/vnd.google-earth.kml+xml",
                ],
            ),
            body: Body::None,
            refusals: &[],
            handler: get(exports::download),
        },
        Route {
            method: "delete",
            path: "/exports/{exportId}",
            summary: "Forget an export and delete its file",
            tag: "Exports",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["exportId"],
            success: (204, &[]),
            body: Body::None,
            refusals: &[],
            handler: delete(exports::remove),
        },
        Route {
            method: "get",
            path: "/basemap/{z}/{x}/{y}",
            summary: "Offline basemap vector tile: land, coastline, borders, cities, graticule",
            tag: "Basemap",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &["z", "x", "y"],
            success: (200, &["application/vnd.mapbox-vector-tile"]),
            body: Body::None,
            refusals: &[],
            handler: get(web::basemap_tile),
        },
        Route {
            method: "get",
            path: "/basemap/fonts/{fontstack}/{range}",
            summary: "SDF glyphs for map labels (MapLibre glyphs protobuf)",
            tag: "Basemap",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &["fontstack", "range"],
            success: (200, &["application/x-protobuf"]),
            body: Body::None,
            refusals: &[],
            handler: get(web::basemap_glyphs),
        },
        Route {
            method: "get",
            path: "/events",
            summary: "Dataset changes as server-sent events",
            tag: "Live",
            need: Need::Read,
            datasets: Datasets::Scoped,
            parameters: &["datasets-query"],
            success: (200, &["text/event-stream"]),
            body: Body::None,
            refusals: &[],
            handler: get(ops::events),
        },
        Route {
            method: "get",
            path: "/catalog",
            summary: "The built-in catalog of public sources: protocol, kind, hazard, licence and attribution, update interval, whether a key is needed, and whether a feed was made from it",
            tag: "Feeds",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &[
                "catalog-q",
                "catalog-kind",
                "catalog-protocol",
                "catalog-hazard",
                "catalog-addable",
            ],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(catalog::list),
        },
        Route {
            method: "get",
            path: "/catalog/{entryName}",
            summary: "One catalog entry",
            tag: "Feeds",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["entryName"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(catalog::get_one),
        },
        Route {
            method: "post",
            path: "/catalog/{entryName}/add",
            summary: "Add a catalog entry as a feed (a paged source for ArcGIS and Socrata entries), with its key when it needs one; checked as POST /feeds checks",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["entryName"],
            success: (201, &["application/json"]),
            body: Body::optional::<geoconsole_app::CatalogAdd>(),
            refusals: &[(409, "A feed of this name exists")],
            handler: post(catalog::add),
        },
        Route {
            method: "get",
            path: "/feeds",
            summary: "Live feeds with their health (ok, late, failing, paused), lag and last error",
            tag: "Feeds",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(feeds::list),
        },
        Route {
            method: "post",
            path: "/feeds",
            summary: "Add a live feed (JSON body: name, url, format, dataset, interval_s, ..., areas: [{scheme, dataset, code_field}] to place alerts given only by area codes); its URL is checked by the network guard",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (201, &["application/json"]),
            body: Body::json::<geoconsole_feeds::FeedSpec>(),
            refusals: &[(409, "A feed of this name exists")],
            handler: post(feeds::create),
        },
        Route {
            method: "post",
            path: "/feeds/preview",
            summary: "What the feed in the body (as for POST /feeds) holds now: counts, skipped entries with reasons, the first items; nothing is saved or written",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::json::<geoconsole_feeds::FeedSpec>(),
            refusals: &[],
            handler: post(feeds::preview),
        },
        Route {
            method: "get",
            path: "/feeds/{feedName}",
            summary: "One feed with its health",
            tag: "Feeds",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &["feedName"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(feeds::get_one),
        },
        Route {
            method: "put",
            path: "/feeds/{feedName}",
            summary: "Create or redefine a feed (health and item memory stay)",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["feedName"],
            success: (200, &["application/json"]),
            body: Body::json::<geoconsole_feeds::FeedSpec>(),
            refusals: &[],
            handler: put(feeds::replace),
        },
        Route {
            method: "delete",
            path: "/feeds/{feedName}",
            summary: "Delete a feed (the data it brought stays)",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["feedName"],
            success: (204, &[]),
            body: Body::None,
            refusals: &[],
            handler: delete(feeds::remove),
        },
        Route {
            method: "post",
            path: "/feeds/{feedName}/poll",
            summary: "Poll a feed now; answers with what the poll added, updated, withdrew and skipped",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["feedName"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: post(feeds::poll),
        },
        Route {
            method: "post",
            path: "/feeds/{feedName}/pause",
            summary: "Pause a feed",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["feedName"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: post(feeds::pause),
        },
        Route {
            method: "post",
            path: "/feeds/{feedName}/resume",
            summary: "Resume a paused feed",
            tag: "Feeds",
            need: Need::Write,
            datasets: Datasets::Everything,
            parameters: &["feedName"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: post(feeds::resume),
        },
        Route {
            method: "post",
            path: "/auth/login",
            summary: "Log in with an account name and password (JSON); sets the session cookie and answers with the CSRF token for writes",
            tag: "Accounts",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::json::<accounts::Login>(),
            // Public, yet it refuses: a wrong name or password.
            refusals: &[(401, "Wrong account name or password")],
            handler: post(accounts::login),
        },
        Route {
            method: "post",
            path: "/auth/logout",
            summary: "End the caller's session on the server and clear its cookie",
            tag: "Accounts",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &[],
            success: (204, &[]),
            body: Body::None,
            refusals: &[],
            handler: post(accounts::logout),
        },
        Route {
            method: "get",
            path: "/auth/session",
            summary: "Who the caller is: account, role, dataset limits and the CSRF token, or not logged in",
            tag: "Accounts",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(accounts::session),
        },
        Route {
            method: "get",
            path: "/auth/tokens",
            summary: "The caller's API tokens (admins: ?user=NAME or ?user=*); never their secrets",
            tag: "Accounts",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["token-user"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(accounts::tokens),
        },
        Route {
            method: "post",
            path: "/auth/tokens",
            summary: "Make an API token (JSON: label, scope read|write|admin, datasets, expires_in_days); its secret is shown in this answer only",
            tag: "Accounts",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &[],
            success: (201, &["application/json"]),
            body: Body::json::<accounts::NewTokenBody>(),
            refusals: &[],
            handler: post(accounts::create_token),
        },
        Route {
            method: "delete",
            path: "/auth/tokens/{tokenId}",
            summary: "Revoke an API token",
            tag: "Accounts",
            need: Need::Read,
            datasets: Datasets::Untouched,
            parameters: &["tokenId"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: delete(accounts::revoke_token),
        },
        Route {
            method: "get",
            path: "/users",
            summary: "Accounts with their roles and dataset limits",
            tag: "Accounts",
            need: Need::Admin,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(accounts::users),
        },
        Route {
            method: "post",
            path: "/users",
            summary: "Create an account (JSON: name, role, password of at least 12 characters)",
            tag: "Accounts",
            need: Need::Admin,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (201, &["application/json"]),
            body: Body::json::<accounts::NewUser>(),
            refusals: &[],
            handler: post(accounts::create_user),
        },
        Route {
            method: "get",
            path: "/users/{userName}",
            summary: "One account",
            tag: "Accounts",
            need: Need::Admin,
            datasets: Datasets::Everything,
            parameters: &["userName"],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(accounts::user),
        },
        Route {
            method: "put",
            path: "/users/{userName}",
            summary: "Change an account: role, disabled, password, datasets ({id: read|write} or null)",
            tag: "Accounts",
            need: Need::Admin,
            datasets: Datasets::Everything,
            parameters: &["userName"],
            success: (200, &["application/json"]),
            body: Body::json::<accounts::UserChange>(),
            refusals: &[],
            handler: put(accounts::change_user),
        },
        Route {
            method: "get",
            path: "/audit",
            summary: "The audit log, newest first: who did what, when, from where (read-only)",
            tag: "Accounts",
            need: Need::Admin,
            datasets: Datasets::Everything,
            parameters: &[
                "actor",
                "action",
                "target",
                "since",
                "until",
                "before",
                "audit-limit",
            ],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(accounts::audit),
        },
        Route {
            method: "get",
            path: "/healthz",
            summary: "Liveness",
            tag: "Operations",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(ops::healthz),
        },
        Route {
            method: "get",
            path: "/readyz",
            summary: "Readiness: every dataset indexed",
            tag: "Operations",
            need: Need::Public,
            datasets: Datasets::Untouched,
            parameters: &[],
            success: (200, &["application/json"]),
            body: Body::None,
            refusals: &[],
            handler: get(ops::readyz),
        },
        Route {
            method: "get",
            path: "/metrics",
            summary: "Prometheus metrics",
            tag: "Operations",
            need: Need::Read,
            datasets: Datasets::Everything,
            parameters: &[],
            success: (200, &["text/plain; version=0.0.4"]),
            body: Body::None,
            refusals: &[],
            handler: get(ops::metrics_route),
        },
    ]
}

/// The OpenAPI definition of a parameter by its name in the table (`None`: not a parameter the table may
/// name, which `every_route_parameter_is_declared` turns into a test failure).
pub fn parameter(name: &str) -> Option<Value> {
    let path = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema});
    let query = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema, "style": "form", "explode": false});
    let id_pattern = json!({"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"});
    Some(match name {
        "collectionId" => path("collectionId", "Dataset id", id_pattern),
        "featureId" => path("featureId", "Feature id", json!({"type": "string"})),
        "datasets" => path(
            "datasets",
            "Dataset ids separated by commas",
            json!({"type": "string"}),
        ),
        "tileMatrixSetId" => path(
            "tileMatrixSetId",
            "Tile matrix set (WebMercatorQuad)",
            json!({"type": "string", "enum": ["WebMercatorQuad"]}),
        ),
        "tileMatrix" | "z" => path(
            name,
            "Zoom level (0 to 22)",
            json!({"type": "string", "pattern": "^([0-9]|1[0-9]|2[0-2])$"}),
        ),
        "tileRow" => path(
            name,
            "Tile row",
            json!({"type": "string", "pattern": "^[0-9]+$"}),
        ),
        "y" => path(
            name,
            "Tile row (y), optionally with .mvt",
            json!({"type": "string", "pattern": "^[0-9]+(\\.mvt|\\.pbf)?$"}),
        ),
        "tileCol" | "x" => path(
            name,
            "Tile column (x)",
            json!({"type": "string", "pattern": "^[0-9]+$"}),
        ),
        "f" => query("f", "Response encoding", json!({"type": "string"})),
        "bbox" => query(
            "bbox",
            "minLon,minLat,maxLon,maxLat (west may exceed east across the antimeridian)",
            json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
        ),
        "bbox-crs" => query(
            "bbox-crs",
            "CRS of bbox (CRS84 only)",
            json!({"type": "string", "format": "uri"}),
        ),
        "datetime" => query(
            "datetime",
            "Instant or interval (RFC 3339, open ends as ..)",
            json!({"type": "string"}),
        ),
        "limit" => query(
            "limit",
            "Page size",
            json!({"type": "integer", "minimum": 1, "maximum": geoconsole_query::MAX_LIMIT, "default": geoconsole_query::DEFAULT_LIMIT}),
        ),
        "cursor" => query(
            "cursor",
            "Position handed out in next/prev links",
            json!({"type": "string"}),
        ),
        "filter" => query("filter", "CQL2 filter", json!({"type": "string"})),
        "filter-lang" => query(
            "filter-lang",
            "Filter encoding",
            json!({"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}),
        ),
        "filter-crs" => query(
            "filter-crs",
            "CRS of filter geometries (CRS84 only)",
            json!({"type": "string", "format": "uri"}),
        ),
        "histogram-datetime" => query(
            "datetime",
            "Closed interval START/END (RFC 3339); defaults to the dataset's time extent",
            json!({"type": "string"}),
        ),
        "bins" => query(
            "bins",
            "Number of equal steps",
            json!({"type": "integer", "minimum": 1, "maximum": crate::histogram::MAX_BINS, "default": 100}),
        ),
        "sites" => query(
            "sites",
            "Sites datasets separated by commas (default: every dataset of kind sites)",
            json!({"type": "string"}),
        ),
        "hazards" => query(
            "hazards",
            "Hazard datasets separated by commas (default: every dataset of kind events)",
            json!({"type": "string"}),
        ),
        "radius_km" => query(
            "radius_km",
            "One fixed radius for every event instead of the impact models",
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1000}),
        ),
        "collection" => {
            json!({"name": "collection", "in": "query", "required": true, "description": "The dataset to aggregate", "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}})
        }
        "resolution" => query(
            "resolution",
            "H3 resolution",
            json!({"type": "integer", "minimum": 0, "maximum": geoconsole_analytics::MAX_RESOLUTION, "default": 5}),
        ),
        "hits" => query(
            "hits",
            "List every hit per site; only the nearest (hit_count still counts all); or only whether each site is exposed (any: one event that reaches it, no hit_count), the cheapest",
            json!({"type": "string", "enum": ["all", "nearest", "any"], "default": "all"}),
        ),
        "as_of" => query(
            "as_of",
            "Score as of this instant (RFC 3339), from the events that had begun by then; default now",
            json!({"type": "string", "format": "date-time"}),
        ),
        "trend-dataset" => {
            json!({"name": "dataset", "in": "query", "required": true, "description": "The events dataset counted near each site", "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}})
        }
        "buckets-dataset" => {
            json!({"name": "dataset", "in": "query", "required": true, "description": "The events dataset to bucket", "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}})
        }
        "by" => query(
            "by",
            "Regions: h3:RESOLUTION (0-10), areas:DATASET (polygons), or sites:KM (a buffer around every site)",
            json!({"type": "string", "default": "h3:3"}),
        ),
        "period" => query(
            "period",
            "Length of one period",
            json!({"type": "string", "enum": ["hour", "day", "week", "month"], "default": "week"}),
        ),
        "periods" => query(
            "periods",
            "Periods of history before the current one",
            json!({"type": "integer", "minimum": 1, "maximum": 520, "default": 12}),
        ),
        "end" => query(
            "end",
            "End of the current period (RFC 3339); default the end of the dataset's time extent",
            json!({"type": "string", "format": "date-time"}),
        ),
        "sum" => query(
            "sum",
            "Sum this numeric property instead of counting events",
            json!({"type": "string"}),
        ),
        "threshold_sd" => query(
            "threshold_sd",
            "Deviations above the baseline mean that make an anomaly",
            json!({"type": "number", "default": 2}),
        ),
        "min_current" => query(
            "min_current",
            "Least count (or sum) in the current period for an anomaly",
            json!({"type": "number", "default": 3}),
        ),
        "anomalies" => query(
            "anomalies",
            "List only the anomalies",
            json!({"type": "boolean", "default": false}),
        ),
        "ruleId" => path("ruleId", "Rule id", json!({"type": "string"})),
        "feedName" => path("feedName", "Feed name", json!({"type": "string"})),
        "entryName" => path(
            "entryName",
            "Catalog entry name",
            json!({"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}),
        ),
        "catalog-q" => query(
            "q",
            "Words that must all appear in the entry",
            json!({"type": "string", "maxLength": 200}),
        ),
        "catalog-kind" => query(
            "kind",
            "events, areas or reference",
            json!({"type": "string", "enum": ["events", "areas", "reference"]}),
        ),
        "catalog-protocol" => query(
            "protocol",
            "The protocol or feed format",
            json!({"type": "string"}),
        ),
        "catalog-hazard" => query("hazard", "The hazard or theme", json!({"type": "string"})),
        "catalog-addable" => query(
            "addable",
            "Only entries this console can read",
            json!({"type": "boolean"}),
        ),
        "alertId" => path(
            "alertId",
            "Alert sequence number",
            json!({"type": "integer", "minimum": 1}),
        ),
        "deliveryId" => path(
            "deliveryId",
            "Delivery id",
            json!({"type": "integer", "minimum": 1}),
        ),
        "alert-state" => query(
            "state",
            "Only alerts in this state",
            json!({"type": "string", "enum": ["open", "acknowledged", "resolved"]}),
        ),
        "delivery-state" => query(
            "state",
            "Only deliveries in this state",
            json!({"type": "string", "enum": ["pending", "delivered", "dead"]}),
        ),
        "rule" => query(
            "rule",
            "Only alerts of this rule",
            json!({"type": "string"}),
        ),
        "after" => query(
            "after",
            "Only alerts raised after this sequence number",
            json!({"type": "integer", "minimum": 0}),
        ),
        "alerts-limit" => query(
            "limit",
            "Alerts listed at most",
            json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        ),
        "order" => query(
            "order",
            "Newest or oldest first",
            json!({"type": "string", "enum": ["newest", "oldest"], "default": "newest"}),
        ),
        "tokenId" => path(
            "tokenId",
            "A token's id (the part after gct_)",
            json!({"type": "string"}),
        ),
        "userName" => path("userName", "An account name", json!({"type": "string"})),
        "token-user" => query(
            "user",
            "Whose tokens (admins only): an account name, or * for all",
            json!({"type": "string"}),
        ),
        "actor" => query(
            "actor",
            "Only entries by this actor (an account name, token:ID, or anonymous)",
            json!({"type": "string"}),
        ),
        "action" => query(
            "action",
            "Only entries of this action (e.g. POST /users)",
            json!({"type": "string"}),
        ),
        "target" => query(
            "target",
            "Only entries about this target (a path, dataset or account)",
            json!({"type": "string"}),
        ),
        "audit-limit" => query(
            "limit",
            "Entries listed at most",
            json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        ),
        "since" => query(
            "since",
            "Entries at or after this time (RFC 3339)",
            json!({"type": "string", "format": "date-time"}),
        ),
        "until" => query(
            "until",
            "Entries at or before this time (RFC 3339)",
            json!({"type": "string", "format": "date-time"}),
        ),
        "before" => query(
            "before",
            "Entries older than this sequence number",
            json!({"type": "integer", "minimum": 1}),
        ),
        "exportId" => path(
            "exportId",
            "Export id from POST /exports",
            json!({"type": "string"}),
        ),
        "uploadId" => path(
            "uploadId",
            "Upload id from POST /imports",
            json!({"type": "string"}),
        ),
        "fontstack" => path(
            "fontstack",
            "Font names separated by commas (any is answered with the console's font)",
            json!({"type": "string"}),
        ),
        "range" => path(
            "range",
            "Code point range START-END, 256 wide, e.g. 0-255 (optionally with .pbf)",
            json!({"type": "string", "pattern": "^[0-9]+-[0-9]+(\\.pbf)?$"}),
        ),
        "name" => {
            json!({"name": "name", "in": "query", "required": true, "description": "The file's name (its extension helps detect the format)", "schema": {"type": "string", "minLength": 1}, "example": "points.geojson"})
        }
        "format" => query(
            "format",
            "Force a format instead of detecting it",
            json!({"type": "string", "enum": ["geojson", "geojsonseq", "csv"]}),
        ),
        "lat" => query(
            "lat",
            "CSV latitude column (detected when absent)",
            json!({"type": "string"}),
        ),
        "lon" => query(
            "lon",
            "CSV longitude column (detected when absent)",
            json!({"type": "string"}),
        ),
        "wkt" => query(
            "wkt",
            "CSV WKT geometry column (detected when absent)",
            json!({"type": "string"}),
        ),
        "layer" => query(
            "layer",
            "Which layer: a GeoPackage table, a GPX layer or a zip member (needed when there are several)",
            json!({"type": "string"}),
        ),
        "source_crs" => query(
            "source_crs",
            "The file's CRS when it does not say: EPSG:32633, a PROJ string or WKT",
            json!({"type": "string"}),
        ),
        "encoding" => query(
            "encoding",
            "The text encoding of a shapefile's .dbf when neither its .cpg nor its header says (e.g. windows-1252, CP437)",
            json!({"type": "string"}),
        ),
        "datasets-query" => query(
            "datasets",
            "Only changes of these datasets, separated by commas",
            json!({"type": "string"}),
        ),
        // Any other name is an equality filter on a queryable property, checked by the handler against
        // the collection's queryables (OpenAPI's way to say so: a free-form object, one name per key).
        "queryables" => json!({"name": "properties", "in": "query", "required": false,
            "description": "Property = value equality filters on the collection's queryables",
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            "style": "form", "explode": true}),
        _ => return None,
    })
}

/// The names a route's query string may carry, and whether names beyond them (queryable properties) are
/// left to its handler.
pub fn query_names(route: &Route) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut open = false;
    for p in route.parameters.iter().filter_map(|p| parameter(p)) {
        match (
            p["in"].as_str(),
            p["style"].as_str(),
            p["explode"].as_bool(),
        ) {
            (Some("query"), Some("form"), Some(true)) => open = true,
            (Some("query"), ..) => names.extend(p["name"].as_str().map(str::to_string)),
            _ => {}
        }
    }
    (names, open)
}

/// A file every importer reads, so a client trying `POST /imports` from this document stages something.
const FILE_EXAMPLE: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"p1","geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{"name":"Berlin","at":"2024-05-01T12:00:00Z"}}]}"#;

/// Where one operation's answer names what another takes (OpenAPI links): the upload an import stages is
/// the one to import or forget, the feed just added the one to poll. Clients and fuzzers (schemathesis's
/// stateful phase) follow them to reach operations that need something to exist first.
fn links(method: &str, path: &str) -> Vec<(&'static str, Value)> {
    let to = |operation: &str, parameters: Value| json!({"operationId": operation, "parameters": parameters});
    let with_body = |operation: &str, parameters: Value, body: Value| json!({"operationId": operation, "parameters": parameters, "requestBody": body});
    match (method, path) {
        ("post", "/imports") => {
            let upload = json!({"uploadId": "$response.body#/id"});
            vec![
                ("status", to("imports_uploadId", upload.clone())),
                (
                    "import",
                    with_body(
                        "post_imports_uploadId",
                        upload.clone(),
                        json!({"dataset": "$response.body#/preview/suggested_dataset", "kind": "$response.body#/preview/suggested_kind", "mode": "replace"}),
                    ),
                ),
                ("forget", to("delete_imports_uploadId", upload)),
            ]
        }
        ("post", "/exports") => {
            let export = json!({"exportId": "$response.body#/id"});
            vec![
                ("status", to("exports_exportId", export.clone())),
                ("forget", to("delete_exports_exportId", export)),
            ]
        }
        ("post", "/rules") => {
            let rule = json!({"ruleId": "$response.body#/id"});
            vec![
                ("get", to("rules_ruleId", rule.clone())),
                ("delete", to("delete_rules_ruleId", rule)),
            ]
        }
        ("get", "/alerts") => {
            let alert = json!({"alertId": "$response.body#/alerts/0/seq"});
            vec![
                ("get", to("alerts_alertId", alert.clone())),
                (
                    "acknowledge",
                    to("post_alerts_alertId_acknowledge", alert.clone()),
                ),
                ("resolve", to("post_alerts_alertId_resolve", alert)),
            ]
        }
        ("post", "/feeds") => {
            let feed = json!({"feedName": "$response.body#/name"});
            vec![
                ("get", to("feeds_feedName", feed.clone())),
                (
                    "redefine",
                    with_body(
                        "put_feeds_feedName",
                        json!({"feedName": "$request.body#/name"}),
                        json!("$request.body"),
                    ),
                ),
                ("poll", to("post_feeds_feedName_poll", feed.clone())),
                ("pause", to("post_feeds_feedName_pause", feed.clone())),
                ("resume", to("post_feeds_feedName_resume", feed.clone())),
                ("delete", to("delete_feeds_feedName", feed)),
            ]
        }
        ("post", "/auth/tokens") => vec![(
            "revoke",
            to(
                "delete_auth_tokens_tokenId",
                json!({"tokenId": "$response.body#/id"}),
            ),
        )],
        ("post", "/users") => {
            let user = json!({"userName": "$response.body#/name"});
            vec![
                ("get", to("users_userName", user.clone())),
                ("change", to("put_users_userName", user)),
                (
                    "login",
                    with_body(
                        "post_auth_login",
                        json!({}),
                        json!({"user": "$request.body#/name", "password": "$request.body#/password"}),
                    ),
                ),
            ]
        }
        _ => Vec::new(),
    }
}

/// The whole OpenAPI 3.0 document. Each collection also gets its own items path listing its queryable
/// properties as equality parameters, which is how clients such as GDAL learn they may filter server-side.
pub fn openapi(base: &str, collections: &[geoconsole_model::Dataset]) -> Value {
    let mut paths = Map::new();
    // One generator for every body, so a type used by several routes is defined once in `components`.
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let exception =
        json!({"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}});
    for route in table() {
        let mut content = Map::new();
        for media in route.success.1 {
            content.insert((*media).to_string(), json!({"schema": {}}));
        }
        let mut responses = Map::new();
        responses.insert(
            route.success.0.to_string(),
            json!({"description": "Success", "content": content}),
        );
        for (status, description) in [
            ("400", "Invalid parameter"),
            ("404", "Not found"),
            ("500", "Server error"),
        ] {
            responses.insert(
                status.into(),
                json!({"description": description, "content": exception}),
            );
        }
        if route.tag == "Tiles" && route.success.1.contains(&tiles::MVT) {
            responses.insert("204".into(), json!({"description": "Empty tile"}));
            responses.insert("304".into(), json!({"description": "Not modified (ETag)"}));
            responses.insert(
                "406".into(),
                json!({"description": "Encoding not offered", "content": exception}),
            );
        }
        if route.parameters.contains(&"f") && !responses.contains_key("406") {
            responses.insert(
                "406".into(),
                json!({"description": "Encoding not offered", "content": exception}),
            );
        }
        if route.method != "get" {
            responses.insert(
                "403".into(),
                json!({"description": "Cross-site write refused", "content": exception}),
            );
            responses.insert(
                "503".into(),
                json!({"description": "Busy (too many imports at once) or a part this needs is not running", "content": exception}),
            );
        }
        if !matches!(route.body, Body::None) {
            for (status, description) in [
                ("413", "Body too large"),
                ("415", "Unsupported Content-Type"),
            ] {
                responses.insert(
                    status.into(),
                    json!({"description": description, "content": exception}),
                );
            }
        }
        for (status, why) in route.refusals {
            responses.insert(
                status.to_string(),
                json!({"description": why, "content": exception}),
            );
        }
        if route.path == "/readyz" {
            responses.insert("503".into(), json!({"description": "Still indexing", "content": {"application/json": {"schema": {}}}}));
        }
        if let Some(success) = responses.get_mut(&route.success.0.to_string()) {
            let links: Map<String, Value> = links(route.method, route.path)
                .into_iter()
                .map(|(name, link)| (name.to_string(), link))
                .collect();
            if !links.is_empty() {
                success["links"] = Value::Object(links);
            }
        }
        let mut operation_id = route
            .path
            .trim_matches('/')
            .replace(['{', '}'], "")
            .replace('/', "_");
        if route.method != "get" {
            operation_id = format!("{}_{operation_id}", route.method);
        }
        let mut parameters: Vec<Value> = route
            .parameters
            .iter()
            .filter_map(|p| parameter(p))
            .collect();
        // The collections that exist now, so clients and fuzzers try real ones.
        let ids: Vec<&str> = collections.iter().map(|d| d.id.as_str()).collect();
        for p in parameters
            .iter_mut()
            .filter(|p| p["name"] == "collectionId")
        {
            if !ids.is_empty() {
                p["schema"]["enum"] = json!(ids);
            }
        }
        responses.insert(
            "429".into(),
            json!({"description": "Too many requests from this client (see Retry-After)", "content": exception}),
        );
        let need = serde_json::to_value(route.need).unwrap_or(Value::Null);
        if route.need != Need::Public {
            for (status, description) in [
                (
                    "401",
                    "No valid credentials (log in, or send 'Authorization: Bearer <token>')",
                ),
                ("403", "The credentials do not allow this"),
            ] {
                responses.insert(
                    status.into(),
                    json!({"description": description, "content": exception}),
                );
            }
        }
        let mut operation = json!({
            "x-geoconsole-need": need,
            "security": if route.need == Need::Public { json!([]) } else { json!([{"bearer": []}, {"session": []}]) },
            "summary": route.summary,
            "operationId": if operation_id.is_empty() { "landing".to_string() } else { operation_id },
            "tags": [route.tag],
            "parameters": parameters,
            "responses": responses,
        });
        match route.body {
            Body::None => {}
            Body::File => {
                operation["requestBody"] = json!({"required": true, "description": "The file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}, "example": FILE_EXAMPLE}}});
            }
            Body::Json { schema, required } => {
                let schema = schema(&mut generator);
                operation["requestBody"] = json!({"required": required, "content": {"application/json": {"schema": schema}}});
            }
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    if let Some(generic) = paths.get("/collections/{collectionId}/items").cloned() {
        for dataset in collections {
            let mut operation = generic["get"].clone();
            let id = dataset.id.as_str();
            operation["operationId"] = json!(format!("items_{id}"));
            operation["summary"] = json!(format!("Features of {}", dataset.title));
            let mut parameters: Vec<Value> = operation["parameters"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter(|p| p["name"] != "collectionId" && p["name"] != "properties")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for field in dataset.schema.fields() {
                if parameters.iter().any(|p| p["name"] == field.name.as_str()) {
                    continue;
                }
                parameters.push(json!({
                    "name": field.name,
                    "in": "query",
                    "required": false,
                    "description": format!("Only features whose {} equals this value", field.name),
                    "schema": {"type": "string"},
                }));
            }
            operation["parameters"] = Value::Array(parameters);
            paths.insert(
                format!("/collections/{id}/items"),
                json!({"get": operation}),
            );
        }
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true);
    // Body fields naming a dataset that must exist list the ones that do, as `collectionId` does.
    let ids: Vec<&str> = collections.iter().map(|d| d.id.as_str()).collect();
    if !ids.is_empty() {
        for (schema, field) in [
            ("ExportChoice", "dataset"),
            ("LayerRisk", "dataset"),
            ("TrendRisk", "dataset"),
        ] {
            if let Some(property) = schemas
                .get_mut(schema)
                .and_then(|s| s.pointer_mut(&format!("/properties/{field}")))
            {
                property["enum"] = json!(ids);
            }
        }
    }
    schemas.insert(
        "exception".into(),
        json!({
            "type": "object",
            "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "geoconsole",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OGC API – Features (Core, CQL2 filtering, queryables) and Tiles over the console's datasets, plus vector tiles, change events and operations endpoints.",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token from POST /auth/tokens or 'geoconsole tokens create'"},
                "session": {"type": "apiKey", "in": "cookie", "name": "gc_session", "description": "The session cookie set by POST /auth/login; writes also need the X-CSRF-Token header"},
            },
            "schemas": schemas,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The web console's types are generated from `web/openapi.json` (`npm run gen:api`), so that copy must
    /// be this document: a route or body type changed here without regenerating fails this test rather than
    /// leaving the console compiled against a stale API. `GEOCONSOLE_WRITE_API=1` rewrites the copy.
    #[test]
    fn the_web_consoles_copy_of_the_api_is_current() {
        let copy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/openapi.json");
        // No collections: the console's types must not depend on which datasets one store happens to hold.
        let document = serde_json::to_string_pretty(&openapi("/", &[])).expect("json") + "\n";
        if std::env::var_os("GEOCONSOLE_WRITE_API").is_some() {
            std::fs::write(&copy, &document).expect("write web/openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(&copy).unwrap_or_default();
        assert!(
            committed == document,
            "web/openapi.json is not the API the server documents: run `npm run gen:api` in web/ and commit it"
        );
    }

    #[test]
    fn every_route_parameter_is_declared() {
        for route in table() {
            for name in route.parameters {
                assert!(
                    parameter(name).is_some(),
                    "{} {} names parameter '{name}', which `parameter` does not declare",
                    route.method,
                    route.path
                );
            }
        }
    }

    /// A link to an operation the document does not have would be followed by no client.
    #[test]
    fn every_link_names_an_operation_of_the_document() {
        let document = openapi("/", &[]);
        let ids: Vec<&str> = document["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(|item| item.as_object())
            .flat_map(|item| item.values())
            .filter_map(|operation| operation["operationId"].as_str())
            .collect();
        for route in table() {
            for (name, link) in links(route.method, route.path) {
                let target = link["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.contains(&target),
                    "{} {} links '{name}' to {target}",
                    route.method,
                    route.path
                );
            }
        }
    }

    #[test]
    fn path_parameters_are_the_paths_own() {
        for route in table() {
            for p in route.parameters.iter().filter_map(|p| parameter(p)) {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap_or_default();
                    assert!(
                        route.path.contains(&format!("{{{name}}}")),
                        "{} declares path parameter {name}",
                        route.path
                    );
                }
            }
        }
    }
}
