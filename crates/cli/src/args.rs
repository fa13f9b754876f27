//! The command line, declared once: clap derives parsing, help and errors from these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use geoconsole_formats::{Format, TextEncoding};

#[derive(Debug, Parser)]
#[command(name = "geoconsole", version, about = "A self-hosted geospatial operating console", long_about = None)]
pub struct Cli {
    /// The store: a GeoPackage file path (created if missing). Default: `store` in the config, else geoconsole.gpkg
    #[arg(long, global = true, env = "GEOCONSOLE_STORE", value_name = "PATH")]
    pub store: Option<String>,

    /// Config file (TOML). Default: ./geoconsole.toml when it exists
    #[arg(long, global = true, env = "GEOCONSOLE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Folder for uploads, unpacked archives and export files. Default: <store>.staging beside a
    /// GeoPackage, geoconsole-staging in the temporary folder for PostgreSQL
    #[arg(
        long,
        global = true,
        env = "GEOCONSOLE_STAGING_DIR",
        value_name = "PATH"
    )]
    pub staging_dir: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables and sentences
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress bars
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// More log output (repeat for more)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a file as a dataset: GeoJSON, GeoJSONSeq, CSV, FlatGeobuf, GeoParquet, Shapefile (also
    /// zipped), a GeoPackage layer, KML/KMZ or GPX
    Import(Box<ImportArgs>),
    /// List, show or drop datasets
    #[command(subcommand)]
    Datasets(DatasetsCommand),
    /// Print a dataset's features as GeoJSON, filtered by bbox and time
    Query(QueryArgs),
    /// Write a dataset (or part of it) to a file
    Export(ExportArgs),
    /// Write synthetic clustered, time-spread events to a file, for benchmarks
    Generate(GenerateArgs),
    /// Build the offline demo scenario in the store (default store: demo.gpkg); --serve then serves it
    Demo(DemoArgs),
    /// Serve the store over HTTP: OGC API Features and Tiles, vector tiles, change events
    Serve(ServeArgs),
    /// Copy everything in the store (--store) into another store: GeoPackage ↔ PostgreSQL/PostGIS
    Migrate(MigrateArgs),
    /// Which sites lie within reach of which hazard events, by each hazard dataset's impact model
    Exposure(ExposureArgs),
    /// Sites ranked by an explainable risk score, optionally as of a past time
    Risk(RiskArgs),
    /// Events near each site per period against its own baseline; anomalies first, with reasons
    Trends(TrendsArgs),
    /// Alert rules: list, add from a TOML file, delete, or dry-run against stored history
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Alerts: list, follow as they are raised, acknowledge, resolve, and the webhook outbox
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Live feeds: add, list, show health and lag, pause, resume, delete, poll now, or simulate one
    #[command(subcommand)]
    Feeds(FeedsCommand),
    /// Whole layers from ArcGIS REST, Socrata, OGC API – Features and WFS 2.0 services, read page by page
    /// and kept in sync (feeds that page: they share the feeds' schedule, health and lag)
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// The built-in catalog of public sources: list, show one, or add one as a feed
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Accounts: add, list, change role, disable, reset password, limit to datasets
    #[command(subcommand)]
    Users(UsersCommand),
    /// API tokens: create (shown once), list, revoke
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// The audit log: who did what, when, from where
    Audit(AuditArgs),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add an account; the password is asked for (or read from stdin with --password-stdin)
    Add {
        name: String,
        /// viewer, editor or admin
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every account with its role, state and dataset limits
    List,
    /// Change an account's role (takes effect on its next request)
    SetRole { name: String, role: String },
    /// Disable an account: its sessions end and its tokens stop working
    Disable { name: String },
    /// Enable a disabled account again
    Enable { name: String },
    /// Set a new password (ends the account's sessions)
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Limit an account to named datasets (`--read a,b --write c`), or lift the limit with --all
    Grant {
        name: String,
        /// Datasets it may read
        #[arg(long, value_delimiter = ',')]
        read: Vec<String>,
        /// Datasets it may read and write
        #[arg(long, value_delimiter = ',')]
        write: Vec<String>,
        /// Lift every dataset limit
        #[arg(long, conflicts_with_all = ["read", "write"])]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make an API token for an account; its secret is printed once and never again
    Create {
        /// The account the token acts for
        #[arg(long)]
        user: String,
        /// read, write or admin (at most the account's role)
        #[arg(long, default_value = "read")]
        scope: String,
        /// What it is for (shown in lists)
        #[arg(long, default_value = "")]
        label: String,
        /// Only these datasets (default: whatever the account may reach)
        #[arg(long, value_delimiter = ',')]
        datasets: Vec<String>,
        /// Days until it expires
        #[arg(long, default_value_t = 90)]
        expires_days: u32,
    },
    /// Tokens (never their secrets), of one account or all
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id: it stops working at once
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries of this actor (user:NAME, token:ID (NAME), cli:NAME, local, anonymous)
    #[arg(long)]
    pub actor: Option<String>,
    /// Only actions starting with this (login, POST /rules, import, ...)
    #[arg(long)]
    pub action: Option<String>,
    /// Only targets starting with this
    #[arg(long)]
    pub target: Option<String>,
    /// Only entries at or after this time (RFC 3339, or a duration back from now: 30m, 12h, 7d)
    #[arg(long)]
    pub since: Option<String>,
    /// Entries listed at most
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Add a feed (its URL is checked now; a serving console starts polling it within seconds)
    Add(Box<FeedAddArgs>),
    /// Every feed with its health: ok, late, failing, paused; lag and last error
    List,
    /// One feed in full: definition, health, counts, lag, skipped entries
    Show { name: String },
    /// Stop polling a feed (its data stays)
    Pause { name: String },
    /// Poll a paused feed again
    Resume { name: String },
    /// Delete a feed (the data it brought stays in its dataset)
    Delete { name: String },
    /// Poll now and print what the poll did
    PollNow {
        /// The feed; or --all
        name: Option<String>,
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
    /// Serve the demo's earthquake week replayed live as a USGS feed, for trying feeds without the internet
    Simulate {
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
        /// Times faster than the week happened
        #[arg(long, default_value_t = 120.0)]
        speed: f64,
    },
}

#[derive(Debug, Args)]
pub struct FeedAddArgs {
    /// 1 to 64 letters, digits, '-' or '_'
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub url: String,
    /// usgs, nws_alerts, cap, cap_index, georss, firms, geojson, geojsonseq, csv, kml, gpx, fgb,
    /// geoparquet, shapefile, gpkg; or a paged service: arcgis, socrata
    #[arg(long)]
    pub format: String,
    /// The dataset items are written to (created on the first poll)
    #[arg(long)]
    pub dataset: String,
    /// Seconds between polls
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    /// The property that identifies items, when the format has no ids of its own
    #[arg(long)]
    pub id_field: Option<String>,
    /// The property holding the event time, when the format does not define it
    #[arg(long)]
    pub time: Option<String>,
    #[arg(long)]
    pub time_end: Option<String>,
    /// A property copied to `severity`
    #[arg(long)]
    pub severity: Option<String>,
    /// area (default) or point: which geometry to keep when an item has both
    #[arg(long)]
    pub footprint: Option<String>,
    /// Longest a poll may take, in milliseconds
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Largest body accepted, in bytes
    #[arg(long)]
    pub max_bytes: Option<u64>,
    /// Areas datasets placing alerts given only by codes (CAP geocodes, api.weather.gov zones): a dataset
    /// (with --area-code-field), or `SCHEME=dataset:field` entries separated by commas, e.g.
    /// `UGC=us_zones:STATE_ZONE,SAME=us_counties:FIPS`
    #[arg(long)]
    pub areas: Option<String>,
    /// The property of the --areas dataset holding the codes, for entries that name none
    #[arg(long, requires = "areas")]
    pub area_code_field: Option<String>,
    /// Add it paused
    #[arg(long)]
    pub paused: bool,
    /// Redefine the feed if it exists (its health and item memory stay)
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Entries, filtered by kind, protocol, hazard or words
    List {
        /// events, areas or reference
        #[arg(long)]
        kind: Option<String>,
        /// A protocol or feed format (arcgis, socrata, cap_index, usgs…)
        #[arg(long)]
        protocol: Option<String>,
        /// earthquake, flood, wildfire, weather, crime…
        #[arg(long)]
        hazard: Option<String>,
        /// Words that must all appear
        #[arg(long)]
        search: Option<String>,
        /// Also entries no reader here can read yet
        #[arg(long)]
        all: bool,
    },
    /// One entry in full: URL, licence, attribution, interval, key, suggested impact and style
    Show { name: String },
    /// Add an entry as a feed (a paged source for ArcGIS and Socrata entries)
    Add {
        name: String,
        /// The environment variable holding the entry's key (NASA FIRMS MAP_KEY, a Socrata app token)
        #[arg(long)]
        key_env: Option<String>,
        /// The feed's name (default: the entry's)
        #[arg(long = "as")]
        feed_name: Option<String>,
        /// The dataset written to (default: the entry's suggestion)
        #[arg(long)]
        dataset: Option<String>,
        /// Add it paused
        #[arg(long)]
        paused: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Add a layer or dataset of a service; a serving console syncs it within seconds
    Add(Box<SourceAddArgs>),
    /// Every source with its health, last sync, pages and features
    List,
    /// Sync now (a full sync when one is due, else only what changed) and print what it did
    Sync { name: String },
}

#[derive(Debug, Args)]
pub struct SourceAddArgs {
    /// The protocol: arcgis (FeatureServer/MapServer layer), socrata (SODA resource), oapif (OGC API –
    /// Features collection) or wfs (WFS 2.0 endpoint, with --layer)
    #[arg(long)]
    pub kind: String,
    /// The layer (`…/FeatureServer/0`) or resource (`…/resource/abcd-1234.json`), without a query
    #[arg(long)]
    pub url: String,
    /// The dataset the rows are written to (created on the first sync)
    #[arg(long)]
    pub dataset: String,
    /// The source's name (default: the dataset's)
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds between syncs
    #[arg(long, default_value_t = 3600)]
    pub interval: u64,
    /// What the dataset is for: events (default), areas, reference or sites
    #[arg(long)]
    pub dataset_kind: Option<String>,
    /// The field holding each row's event time (or start), for event layers
    #[arg(long)]
    pub time: Option<String>,
    #[arg(long)]
    pub time_end: Option<String>,
    /// Longest one request may take, in milliseconds
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Add it paused
    #[arg(long)]
    pub paused: bool,
    /// Redefine the source if it exists
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// How to read a paged service (formats arcgis, socrata, oapif and wfs).
#[derive(Debug, Args, Default)]
pub struct SourceArgs {
    /// A filter in the service's language: ArcGIS `where`, Socrata `$where`
    #[arg(long)]
    pub filter: Option<String>,
    /// Fields to fetch, separated by commas (default: all)
    #[arg(long, value_delimiter = ',')]
    pub fields: Vec<String>,
    /// The field saying when a row last changed (ArcGIS `EditDate`; Socrata uses `:updated_at`), so syncs
    /// between full ones fetch only changes
    #[arg(long)]
    pub updated_field: Option<String>,
    /// Rows per request (at most the layer's maxRecordCount)
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Socrata: the point or location column that becomes the geometry, or separate columns as
    /// `latitude_column,longitude_column` (found by name when not given)
    #[arg(long)]
    pub geometry_field: Option<String>,
    /// Seconds between full syncs, which also remove rows the service deleted (default one day)
    #[arg(long)]
    pub full_sync_s: Option<u64>,
    /// The environment variable holding a Socrata application token (kept off the command line)
    #[arg(long)]
    pub app_token_env: Option<String>,
    /// WFS: the feature type (`ns:name`)
    #[arg(long)]
    pub layer: Option<String>,
    /// OGC API – Features and WFS: only features in `west,south,east,north` (longitude, latitude)
    #[arg(long)]
    pub bbox: Option<String>,
    /// WFS: the property that tells features apart and orders pages (found when not given); OGC API –
    /// Features: the property that tells features apart when the server gives them no `id`
    #[arg(long)]
    pub key_field: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Every rule
    List,
    /// Create or replace the rules in a TOML file (`[[rules]]` tables, as in the config); they go live now
    Add { file: PathBuf },
    /// Delete a rule (its alerts stay)
    Delete { id: String },
    /// The alerts the rules in a TOML file would have raised on stored history; nothing is stored or sent
    DryRun {
        file: PathBuf,
        /// Only events active at this instant or in this interval (RFC 3339; `start/end`, `..` for open)
        #[arg(long)]
        datetime: Option<String>,
        /// Alerts listed per rule (--json lists all)
        #[arg(long, default_value_t = 20)]
        top: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alerts, newest first
    List {
        /// open, acknowledged or resolved
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print alerts as they are raised (reads the store, so it follows a console serving the same file)
    Tail {
        /// Start after this alert number. Default: only alerts raised from now on
        #[arg(long)]
        after: Option<i64>,
        /// Print what is there and stop
        #[arg(long)]
        once: bool,
    },
    /// Acknowledge an alert with a disposition
    Ack {
        id: i64,
        #[arg(long)]
        by: String,
        /// relevant, no_impact, false_positive or duplicate
        #[arg(long)]
        disposition: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve an alert (an open one needs a disposition)
    Resolve {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        disposition: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// The webhook outbox: pending, delivered and dead deliveries
    Deliveries {
        /// pending, delivered or dead
        #[arg(long)]
        state: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RiskArgs {
    /// Sites datasets, separated by commas. Default: every dataset of kind `sites`
    #[arg(long, value_delimiter = ',')]
    pub sites: Vec<String>,
    /// Score as of this instant (RFC 3339), from the events that had begun by then. Default: now
    #[arg(long)]
    pub as_of: Option<String>,
    /// The risk model (TOML, as the `[risk]` table of the config). Default: the config's, else one weight
    /// per events dataset
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Sites listed in the table (--json lists all)
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct TrendsArgs {
    /// The events dataset counted near each site
    #[arg(long)]
    pub dataset: String,
    /// Sites datasets, separated by commas. Default: every dataset of kind `sites`
    #[arg(long, value_delimiter = ',')]
    pub sites: Vec<String>,
    /// Events within this distance of a site count for it
    #[arg(long, default_value_t = 10.0)]
    pub radius_km: f64,
    /// hour, day, week or month
    #[arg(long, default_value = "week")]
    pub period: String,
    /// Periods of history before the current one
    #[arg(long, default_value_t = 12)]
    pub periods: u32,
    /// End of the current period (RFC 3339). Default: the end of the dataset's time extent
    #[arg(long)]
    pub end: Option<String>,
    /// Sum this numeric property instead of counting events
    #[arg(long)]
    pub sum: Option<String>,
    /// Deviations above the baseline mean that make an anomaly
    #[arg(long, default_value_t = 2.0)]
    pub threshold_sd: f64,
    /// Least count (or sum) in the current period for an anomaly
    #[arg(long, default_value_t = 3.0)]
    pub min_current: f64,
    /// Sites listed in the table (--json lists all)
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct ExposureArgs {
    /// Sites datasets, separated by commas. Default: every dataset of kind `sites`
    #[arg(long, value_delimiter = ',')]
    pub sites: Vec<String>,
    /// Hazard datasets, separated by commas. Default: every dataset of kind `events`
    #[arg(long, value_delimiter = ',')]
    pub hazards: Vec<String>,
    /// One fixed radius for every event instead of the impact models (to compare with other tools)
    #[arg(long)]
    pub radius_km: Option<f64>,
    /// Only events active at this instant or in this interval (RFC 3339; `start/end`, `..` for open)
    #[arg(long)]
    pub datetime: Option<String>,
    /// Print GeoJSON: one point per exposed site with its hits and reasons
    #[arg(long)]
    pub geojson: bool,
    /// List only each site's nearest hit (the count still counts all)
    #[arg(long, conflicts_with = "any")]
    pub nearest_only: bool,
    /// List only which sites are exposed, each with one event that reaches it (no count, not the nearest):
    /// the cheapest answer
    #[arg(long)]
    pub any: bool,
    /// Sites listed in the table (--json and --geojson list all)
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// New dataset; refused if it exists
    Create,
    /// Add features; a feature id already present is an error
    Append,
    /// Swap all features for the file's
    Replace,
    /// Update features by id, insert new ones
    Upsert,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Sites,
    Events,
    Areas,
    Reference,
}

/// A file format by the name users type: geojson, geojsonseq, csv, fgb, geoparquet, shapefile, gpkg, kml, gpx,
/// xlsx, ods.
pub fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import; `-` reads standard input (a pipe is read once, as it comes)
    pub file: PathBuf,
    /// Dataset id (lowercase letters, digits, _). Default: from the file name
    #[arg(long)]
    pub dataset: Option<String>,
    /// Human title. Default: the dataset id
    #[arg(long)]
    pub title: Option<String>,
    /// What the dataset is. Default: events when features have a time, reference otherwise
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    #[arg(long, value_enum, default_value = "create")]
    pub mode: ModeArg,
    /// Read the file as this format instead of detecting it (geojson, geojsonseq, csv, fgb, geoparquet,
    /// shapefile, gpkg, kml, gpx, xlsx, ods)
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Which layer: a GeoPackage table, a GPX layer (waypoints, routes, tracks, route_points,
    /// track_points), a sheet of an XLSX/ODS workbook (default: the first with data) or a member of a
    /// zip. Default: the only one
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// The file's coordinate reference system when it does not say: EPSG:32633, a PROJ string or WKT
    #[arg(long, value_name = "CRS")]
    pub source_crs: Option<String>,
    /// The text encoding of a shapefile's attributes (UTF-8, ISO-8859-1, windows-1252, CP437, CP850,
    /// Shift_JIS, ...), over what its .cpg or .dbf header says. Default: the .cpg, else the header's
    /// code page, else UTF-8 when the text is UTF-8 and ISO-8859-1 when not (as GDAL)
    #[arg(long, value_name = "LABEL")]
    pub encoding: Option<TextEncoding>,
    /// Only features whose extent meets west,south,east,north (FlatGeobuf reads just those, by its index)
    #[arg(long, allow_hyphen_values = true, value_name = "BBOX")]
    pub bbox: Option<String>,
    /// Property with the start (or instant) time. Default: detected from common names
    #[arg(long, value_name = "FIELD")]
    pub time: Option<String>,
    /// Property with the end time. Default: detected from common names
    #[arg(long, value_name = "FIELD")]
    pub time_end: Option<String>,
    /// Property holding each feature's stable id (needed for --mode upsert unless the file has ids)
    #[arg(long, value_name = "FIELD")]
    pub id_field: Option<String>,
    /// CSV: latitude column. Default: detected (lat, latitude, y, ...)
    #[arg(long, value_name = "COLUMN")]
    pub lat: Option<String>,
    /// CSV: longitude column. Default: detected (lon, lng, longitude, x, ...)
    #[arg(long, value_name = "COLUMN")]
    pub lon: Option<String>,
    /// CSV: a WKT geometry column instead of lat/lon
    #[arg(long, value_name = "COLUMN")]
    pub wkt: Option<String>,
    /// CSV: field delimiter (one character). Default: sniffed
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Import the valid features and write the others to a rejects report instead of failing
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where the rejects report goes. Default: <dataset>.rejects.jsonl
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,
    /// Remove these columns before anything is stored (e.g. personal data the guard found)
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    pub drop_column: Vec<String>,
    /// Keep these columns although they hold personal data, e.g. a duty phone number; recorded in the
    /// audit log. Special-category data (union membership, religion, health, ...) is refused regardless
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    pub allow_column: Vec<String>,
    /// CAP files: areas datasets placing alerts given only by codes (UGC, SAME, FIPS), as a feed's
    /// --areas: a dataset (with --area-code-field), or `SCHEME=dataset:field` entries separated by commas
    #[arg(long)]
    pub areas: Option<String>,
    /// The property of the --areas dataset holding the codes, for entries that name none
    #[arg(long, requires = "areas")]
    pub area_code_field: Option<String>,
    /// Most vertices one feature's geometry may have
    #[arg(long, default_value_t = 1_000_000)]
    pub max_vertices: usize,
    /// Most bytes of properties one feature may have
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_properties_bytes: usize,
    /// Zips: most bytes the member read (a shapefile's set together) may inflate to, in MiB
    #[arg(long, default_value_t = 4096, value_name = "MIB")]
    pub max_inflated_mb: u64,
}

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// One line per dataset
    List,
    /// Everything about one dataset, including its schema
    Show { dataset: String },
    /// Remove a dataset and its features
    Drop { dataset: String },
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// west,south,east,north in degrees; west > east crosses the antimeridian
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// An instant or interval: 2024-05-01T00:00:00Z, 2024-05-01/2024-05-08, ../2024-05-08, 2024-05-01/..
    #[arg(long)]
    pub datetime: Option<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    pub dataset: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Features per page (1 to 10000)
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Continue after this cursor (the `next` of a previous page)
    #[arg(long)]
    pub cursor: Option<String>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store to copy into: a GeoPackage path or postgres://user:password@host/db[?schema=NAME]
    #[arg(long, value_name = "STORE")]
    pub to: String,
    /// Copy only this dataset (repeatable); without it, every dataset and then rules, feeds, accounts,
    /// tokens, alerts and the audit log
    #[arg(long = "dataset", value_name = "ID")]
    pub datasets: Vec<String>,
    /// Replace datasets the target already has (otherwise the copy refuses to start)
    #[arg(long)]
    pub replace: bool,
    /// Remove these columns from every copied dataset (the copy passes the data-protection guard, as an
    /// import does)
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    pub drop_column: Vec<String>,
    /// Keep these columns although they hold personal data, as they were allowed at import (see
    /// `geoconsole audit --action import`). Special-category data is refused regardless
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    pub allow_column: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub dataset: String,
    /// Output format: fgb, geoparquet, gpkg, geojson, geojsonseq, csv or kml. Default: from the output
    /// file's extension
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Output file; `-` for standard output (text formats only)
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// A CQL2 filter on properties, geometry and time, e.g. "mag >= 5 AND type = 'earthquake'"
    #[arg(long = "where", value_name = "CQL2")]
    pub cql2: Option<String>,
    /// The filter's language: cql2-text or cql2-json
    #[arg(long, default_value = "cql2-text")]
    pub filter_lang: String,
    /// At most this many features
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many events
    #[arg(long, default_value_t = 100_000)]
    pub points: u64,
    /// Output file (.geojson, .geojsonl, .csv, .fgb, .parquet or .kml)
    #[arg(long, short)]
    pub output: PathBuf,
    /// Output format. Default: from the output file's extension
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Random seed; the same seed gives the same file
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Days the events spread over
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// End of the time window (RFC 3339). Default: 2024-06-01T00:00:00Z, so output is reproducible
    #[arg(long)]
    pub end: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed for the generated datasets
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Start the server on the demo store once it is built
    #[arg(long)]
    pub serve: bool,
    /// With --serve: no live feed (by default a local simulator replays the demo's earthquake week as a
    /// USGS feed, polled every 10 s, so new quakes arrive while you watch)
    #[arg(long)]
    pub no_live_feed: bool,
    /// Speed of the live feed's replay, times faster than the week happened
    #[arg(long, default_value_t = 120.0)]
    pub feed_speed: f64,
    #[command(flatten)]
    pub server: ServeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Loopback by default: other machines cannot connect
    #[arg(long, env = "GEOCONSOLE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Memory for cached vector tiles, in MiB (0 turns the cache off)
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub tile_cache_mb: usize,
    /// The URL clients reach this server at, used in links (e.g. behind a proxy). Default: from the Host header
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Log one JSON object per line instead of text
    #[arg(long)]
    pub log_json: bool,
    /// A web origin (scheme://host[:port]) whose pages may read this server's answers with an API token
    /// (CORS, reads only); repeat for several. None by default: no other site may read anything
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// With a PostGIS store: datasets of more features than this are not loaded into memory; their items and
    /// tiles are answered by the database (GiST, ST_AsMVT). Default: every dataset is indexed in memory
    #[arg(long, value_name = "FEATURES")]
    pub index_max_features: Option<u64>,
    /// Requests per second each client (account, or address when anonymous) may make after its burst;
    /// 0 turns the limit off
    #[arg(long, default_value_t = 100.0, value_name = "PER_SECOND")]
    pub rate_limit: f64,
    /// Requests a client may make at once before the rate applies
    #[arg(long, default_value_t = 1000.0, value_name = "REQUESTS")]
    pub rate_burst: f64,
    /// Largest file accepted by an upload, in MiB
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub upload_limit_mb: usize,
    /// Largest other request body, in KiB
    #[arg(long, default_value_t = 1024, value_name = "KIB")]
    pub body_limit_kb: usize,
    /// Longest a request may take before it is answered 408
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub request_timeout_s: u64,
    /// Most vertices one uploaded feature's geometry may have
    #[arg(long, default_value_t = 1_000_000)]
    pub max_vertices: usize,
    /// Most bytes of properties one uploaded feature may have
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_properties_bytes: usize,
    /// Uploads one account may have staged or importing at once
    #[arg(long, default_value_t = 4, value_name = "UPLOADS")]
    pub uploads_per_account: usize,
    /// Bytes one account's uploads may hold together, in MiB. Default: twice --upload-limit-mb
    #[arg(long, value_name = "MIB")]
    pub upload_quota_mb: Option<u64>,
    /// Most bytes an uploaded zip's member may inflate to, in MiB. Default: 8 times --upload-limit-mb
    #[arg(long, value_name = "MIB")]
    pub max_inflated_mb: Option<u64>,
    /// Free space the staging folder's disk must keep; uploads and unpacking stop short of it
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub staging_keep_free_mb: u64,
}
