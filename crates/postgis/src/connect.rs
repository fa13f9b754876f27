//! Reaching the database: the store URL, the connection pool, single connections for writers, listeners and
//! leases, the migrations, and how PostgreSQL errors become store errors.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use geoconsole_store::{StoreError, StoreErrorKind, StoreResult};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

/// Where the store lives: a libpq-style URL, plus the schema holding the console's tables.
#[derive(Clone)]
pub struct PostgisConfig {
    config: Config,
    /// The URL without its password, for messages and logs.
    display: String,
    schema: String,
    pool_size: usize,
}

impl std::fmt::Debug for PostgisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgisConfig")
            .field("location", &self.display)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The schema used when the URL does not name one.
pub const DEFAULT_SCHEMA: &str = "geoconsole";

impl PostgisConfig {
    /// Parses `postgres://user:password@host:port/database?schema=NAME&pool=N` (other parameters as libpq
    /// takes them: `sslmode`, `connect_timeout`, `application_name`...). `schema` (default `geoconsole`) is
    /// where the console's tables go; `pool` is the most connections one instance opens for reads (default 8).
    pub fn parse(url: &str) -> StoreResult<Self> {
        let invalid = |why: String| StoreError::new(StoreErrorKind::Invalid, why);
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = DEFAULT_SCHEMA.to_string();
        let mut pool_size = 8;
        let mut passed = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", value)) => schema = value.to_string(),
                Some(("pool", value)) => {
                    pool_size = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=256).contains(n))
                        .ok_or_else(|| {
                            invalid(format!("pool={value}: give 1 to 256 connections"))
                        })?;
                }
                _ => passed.push(pair),
            }
        }
        if schema.is_empty()
            || schema.len() > 63
            || !schema.starts_with(|c: char| c.is_ascii_lowercase())
            || !schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(invalid(format!(
                "schema '{schema}': use 1 to 63 lowercase letters, digits and '_', starting with a letter"
            )));
        }
        let libpq = if passed.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", passed.join("&"))
        };
        let mut config =
            Config::from_str(&libpq).map_err(|e| invalid(format!("{}: {e}", redact(url))))?;
        if config.get_application_name().is_none() {
            config.application_name("geoconsole");
        }
        // Every connection finds the console's tables first and PostGIS (installed in `public`) after them.
        config.options(format!("-c search_path={schema},public"));
        Ok(Self {
            config,
            display: redact(base),
            schema,
            pool_size,
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn location(&self) -> &str {
        &self.display
    }

    /// A pool of connections for reads and short writes.
    pub fn pool(&self) -> StoreResult<Pool> {
        let manager = Manager::from_config(
            self.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(self.pool_size)
            .build()
            .map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Internal,
                    format!("{}: cannot build a connection pool: {e}", self.display),
                )
            })
    }

    /// One connection of its own (a write transaction, a listener, a lease), driven by its own task that
    /// ends when the client is dropped, closing the connection (and so rolling back anything uncommitted
    /// and releasing any session lock).
    pub async fn connect(&self) -> StoreResult<(Client, tokio::task::JoinHandle<()>)> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| pg_error(&self.display, e))?;
        let location = self.display.clone();
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(store = %location, error = %e, "database connection closed");
            }
        });
        Ok((client, driver))
    }

    /// Like [`Self::connect`], handing every asynchronous message (the `NOTIFY`s a `LISTEN` asked for) to
    /// `notices`.
    pub async fn connect_listening(
        &self,
        notices: tokio::sync::mpsc::UnboundedSender<tokio_postgres::Notification>,
    ) -> StoreResult<(Client, tokio::task::JoinHandle<()>)> {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| pg_error(&self.display, e))?;
        let location = self.display.clone();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        if notices.send(n).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(store = %location, error = %e, "listening connection lost");
                        break;
                    }
                }
            }
        });
        Ok((client, driver))
    }
}

/// The URL without its password.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

/// The migrations, in order. Each runs once, in its own transaction, recorded in `gc_migrations`.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "catalog, alerting, feeds and access tables",
        include_str!("../migrations/0001_core.sql"),
    ),
    (
        2,
        "unlocated features: dataset geometries may be NULL",
        include_str!("../migrations/0002_nullable_geometry.sql"),
    ),
];

/// Applies the migrations this build knows that the database has not seen. Several instances starting
/// together take turns on a transaction-level advisory lock, so each migration runs exactly once.
pub async fn migrate(client: &mut Client, config: &PostgisConfig) -> StoreResult<()> {
    let location = config.location();
    let wrap = |e| pg_error(location, e);
    let has_postgis: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')",
            &[],
        )
        .await
        .map_err(wrap)?
        .get(0);
    if !has_postgis {
        // Creating an extension usually needs a superuser; try, and say what to do when it is refused.
        if let Err(e) = client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
            .await
        {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "{location}: PostGIS is not installed in this database and cannot be created by this role ({}). \
                     Ask an administrator to run: CREATE EXTENSION postgis;",
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_string())
                ),
            ));
        }
    }
    let schema = quote(config.schema());
    let tx = client.transaction().await.map_err(wrap)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(wrap)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.gc_migrations (
           version integer PRIMARY KEY,
           description text NOT NULL,
           applied timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(wrap)?;
    let applied: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {schema}.gc_migrations"),
            &[],
        )
        .await
        .map_err(wrap)?
        .get(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if applied > newest {
        return Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!(
                "{location}: the database is at schema version {applied}, newer than this build knows ({newest}); \
                 upgrade geoconsole"
            ),
        ));
    }
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        tx.batch_execute(&format!("SET LOCAL search_path = {schema}, public;\n{sql}"))
            .await
            .map_err(|e| {
                let mut error = pg_error(location, e);
                error = StoreError::new(
                    error.kind(),
                    format!("migration {version} ({description}): {}", error.message()),
                );
                error
            })?;
        tx.execute(
            &format!("INSERT INTO {schema}.gc_migrations (version, description) VALUES ($1, $2)"),
            &[version, description],
        )
        .await
        .map_err(wrap)?;
        tracing::info!(store = %location, version, description, "migration applied");
    }
    tx.commit().await.map_err(wrap)
}

/// Advisory lock keys: one namespace (`geoconsole` as ASCII in the high bytes) per purpose.
const MIGRATION_LOCK: i64 = 0x67_65_6f_63_00_00_00_01;
pub const LEADER_LOCK: i64 = 0x67_65_6f_63_00_00_00_02;

/// A SQL identifier, quoted. Dataset ids and schema names are validated to `[a-z][a-z0-9_]*` already; the
/// quoting is for the reader and for the day that changes.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Wraps a PostgreSQL error as a store error naming the database.
pub fn pg_error(location: &str, error: tokio_postgres::Error) -> StoreError {
    let kind = match error.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreErrorKind::Conflict,
        Some(code)
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS =>
        {
            StoreErrorKind::Unavailable
        }
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            StoreErrorKind::Unavailable
        }
        Some(_) => StoreErrorKind::Internal,
        // No SQL state: the connection failed (refused, closed, timed out), or a value did not convert.
        None if error.is_closed()
            || std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>()) =>
        {
            StoreErrorKind::Unavailable
        }
        None => StoreErrorKind::Internal,
    };
    let message = match error.as_db_error() {
        Some(db) => format!("{location}: {}", db.message()),
        None => format!("{location}: {error}"),
    };
    StoreError::new(kind, message).with_source(error)
}

/// Wraps a pool error (which is a connection error or a timeout) as a store error.
pub fn pool_error(location: &str, error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(e) => pg_error(location, e),
        other => StoreError::new(
            StoreErrorKind::Unavailable,
            format!("{location}: no database connection: {other}"),
        ),
    }
}
