//! A write transaction on its own thread. SQLite connections are not `Sync`, and a long import must not block
//! the async runtime, so the transaction lives on a dedicated thread that owns its connection; the async
//! [`GpkgWriter`] sends it batches and waits for each answer. Dropping the writer closes the channel, and the
//! thread rolls back.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use async_trait::async_trait;
use chrono::Utc;
use geoconsole_model::{Bbox, Dataset, Feature, FieldType, GeometryType, format_rfc3339};
use geoconsole_store::{
    Conflict, DatasetStats, DatasetWriter, StoreError, StoreErrorKind, StoreResult, WriteMode,
    WriteRequest,
};
use rusqlite::{Transaction, TransactionBehavior};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::catalog::{self, Entry};
use crate::columns::{ColumnMap, sql_type};
use crate::connection::{self, sqlite_error};
use crate::ddl::{self, quote};
use crate::{blob, read, rtree_bulk};

/// A batch's answer, with the batch itself: freeing a few thousand features (each a map of owned strings)
/// is work the writer thread, the import's bottleneck, hands back to the caller's side.
type Written = (StoreResult<Vec<Conflict>>, Vec<Feature>);

enum Command {
    Write(Vec<Feature>, oneshot::Sender<Written>),
    Commit(oneshot::Sender<StoreResult<Dataset>>),
    Abort(oneshot::Sender<StoreResult<()>>),
}

pub struct GpkgWriter {
    commands: mpsc::Sender<Command>,
}

fn writer_gone() -> StoreError {
    StoreError::new(
        StoreErrorKind::Internal,
        "the write transaction ended unexpectedly",
    )
}

impl GpkgWriter {
    /// Starts the transaction thread and waits until the transaction holds the write lock and the target
    /// table is ready (or the request is refused).
    pub async fn begin(path: PathBuf, request: WriteRequest) -> StoreResult<Self> {
        let (commands, receiver) = mpsc::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        thread::Builder::new()
            .name(format!("geoconsole-write-{}", request.id))
            .spawn(move || run(&path, &request, ready_tx, &receiver))
            .map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Internal,
                    format!("cannot start writer thread: {e}"),
                )
            })?;
        ready_rx.await.map_err(|_| writer_gone())??;
        Ok(Self { commands })
    }

    /// Sends the writer thread one command and waits for its reply.
    async fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> Command) -> StoreResult<R> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())
    }
}

#[async_trait]
impl DatasetWriter for GpkgWriter {
    async fn write(&mut self, features: Vec<Feature>) -> StoreResult<Vec<Conflict>> {
        let (result, written) = self.ask(|tx| Command::Write(features, tx)).await?;
        // Freeing a batch (thousands of maps of strings) takes a millisecond or more: not on the writer
        // thread, which bounds an import, nor on an async worker, which other requests wait for.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(written))),
            Err(_) => drop(written),
        }
        result
    }

    async fn commit(self: Box<Self>) -> StoreResult<Dataset> {
        self.ask(Command::Commit).await?
    }

    async fn abort(self: Box<Self>) -> StoreResult<()> {
        self.ask(Command::Abort).await?
    }
}

fn run(
    path: &Path,
    request: &WriteRequest,
    ready: oneshot::Sender<StoreResult<()>>,
    commands: &mpsc::Receiver<Command>,
) {
    let mut conn = match connection::open(path) {
        Ok(conn) => conn,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err(sqlite_error(path, e)));
            return;
        }
    };
    let mut state = match WriteState::prepare(path, &tx, request) {
        Ok(state) => state,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Ok(command) = commands.recv() {
        match command {
            Command::Write(features, reply) => {
                let result = state.write(&tx, &features);
                let _ = reply.send((result, features));
            }
            Command::Commit(reply) => {
                let result = state.finish(&tx).and_then(|dataset| {
                    crate::changes::prune(&tx).map_err(|e| sqlite_error(path, e))?;
                    let started = std::time::Instant::now();
                    tx.commit().map_err(|e| sqlite_error(path, e))?;
                    tracing::debug!(dataset = %dataset.id, elapsed_ms = started.elapsed().as_millis() as u64, "transaction committed");
                    Ok(dataset)
                });
                let _ = reply.send(result);
                return;
            }
            Command::Abort(reply) => {
                let _ = reply.send(tx.rollback().map_err(|e| sqlite_error(path, e)));
                return;
            }
        }
    }
    // The writer was dropped without commit: `tx` rolls back as it goes out of scope.
}

struct WriteState {
    path: PathBuf,
    table: String,
    entry: Entry,
    previous: Option<Dataset>,
    /// A table created by this transaction: its R-tree is filled in one pass at commit.
    fresh: bool,
    mode: WriteMode,
    skip_conflicts: bool,
    stats: DatasetStats,
    next_fid: i64,
    insert_sql: Option<String>,
    update_sql: Option<String>,
    /// The boxes of the rows written to a fresh table, for its R-tree's bulk load at commit.
    rtree: Option<rtree_bulk::Entries>,
    /// By column position: whether the DATETIME column holds date-times in another form than its own,
    /// waiting as BLOBs of their text (see [`Row::bind`]) to be rewritten at commit.
    datetimes_waiting: Vec<bool>,
}

impl WriteState {
    fn prepare(path: &Path, tx: &Transaction<'_>, request: &WriteRequest) -> StoreResult<Self> {
        let wrap = |e| sqlite_error(path, e);
        let id = &request.id;
        let existing = catalog::load(tx, id).map_err(wrap)?;
        if existing.is_none() && table_exists(tx, id.as_str()).map_err(wrap)? {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!(
                    "the GeoPackage already has a table named '{id}' that is not a console dataset; choose another dataset id"
                ),
            ));
        }
        let now = Utc::now();
        let dataset = |previous: Option<&Dataset>| Dataset {
            id: id.clone(),
            title: request.title.clone(),
            kind: request.kind,
            geometry_type: previous.map_or(GeometryType::Geometry, |p| p.geometry_type),
            time_fields: request.time_fields.clone(),
            id_field: request.id_field.clone(),
            schema: previous.map(|p| p.schema.clone()).unwrap_or_default(),
            source: request.source.clone(),
            version: previous.map_or(0, |p| p.version),
            feature_count: previous.map_or(0, |p| p.feature_count),
            extent: previous.and_then(|p| p.extent),
            time_extent: previous.and_then(|p| p.time_extent),
            created: previous.map_or(now, |p| p.created),
            updated: now,
        };
        let mut key_floor: i64 = 0;
        let (entry, previous, fresh) = match (request.mode, existing) {
            (WriteMode::Create, Some(_)) => {
                return Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    format!(
                        "dataset '{id}' already exists; choose --mode append, replace or upsert, or another id"
                    ),
                ));
            }
            (WriteMode::Replace, Some(old)) => {
                // Row keys are never reused for another feature (readers holding an index snapshot fetch
                // by key while the next snapshot loads), so the new table continues the old numbering.
                key_floor = tx
                    .query_row(
                        &format!("SELECT coalesce(max(fid), 0) FROM {}", quote(id.as_str())),
                        [],
                        |r| r.get(0),
                    )
                    .map_err(wrap)?;
                ddl::drop_feature_table(tx, id.as_str()).map_err(wrap)?;
                let mut fresh = dataset(Some(&old.dataset));
                fresh.schema = Default::default();
                fresh.geometry_type = GeometryType::Geometry;
                (
                    Entry {
                        dataset: fresh,
                        columns: ColumnMap::default(),
                    },
                    Some(old.dataset),
                    true,
                )
            }
            (WriteMode::Append | WriteMode::Upsert, Some(old)) => {
                let d = dataset(Some(&old.dataset));
                (
                    Entry {
                        dataset: d,
                        columns: old.columns,
                    },
                    Some(old.dataset),
                    false,
                )
            }
            (_, None) => (
                Entry {
                    dataset: dataset(None),
                    columns: ColumnMap::default(),
                },
                None,
                true,
            ),
        };
        if fresh {
            ddl::create_feature_table(tx, id.as_str(), &request.title, "").map_err(wrap)?;
        }
        let next_fid: i64 = tx
            .query_row(
                &format!(
                    "SELECT coalesce(max(fid), 0) + 1 FROM {}",
                    quote(id.as_str())
                ),
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(wrap)?
            .max(key_floor + 1);
        Ok(Self {
            path: path.to_path_buf(),
            table: id.as_str().to_string(),
            entry,
            previous,
            fresh,
            mode: request.mode,
            skip_conflicts: request.skip_conflicts,
            stats: DatasetStats::default(),
            next_fid,
            insert_sql: None,
            update_sql: None,
            datetimes_waiting: Vec::new(),
            rtree: fresh.then(|| {
                rtree_bulk::Entries::new(
                    path.parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new(".")),
                )
            }),
        })
    }

    fn wrap(&self, e: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, e)
    }

    /// Adds a column for every property not seen before; the statements are rebuilt when that happens.
    /// Answers whether the feature's properties are the columns in column order (then binding needs no lookup
    /// by name).
    fn ensure_columns(&mut self, tx: &Transaction<'_>, feature: &Feature) -> StoreResult<bool> {
        if aligned(&feature.properties, self.entry.columns.columns()) {
            return Ok(true);
        }
        for (name, value) in &feature.properties {
            if self.entry.columns.index_of(name).is_some() {
                continue;
            }
            let declared = FieldType::of_value(value).unwrap_or(FieldType::Text);
            let column = self.entry.columns.add(name, declared).column.clone();
            tx.execute_batch(&format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                quote(&self.table),
                quote(&column),
                sql_type(declared)
            ))
            .map_err(|e| self.wrap(e))?;
            self.insert_sql = None;
            self.update_sql = None;
        }
        Ok(false)
    }

    /// Builds the insert statement for the current columns, once per column change.
    fn ensure_insert_sql(&mut self) {
        let table = quote(&self.table);
        let columns = self.entry.columns.columns();
        let upsert = self.mode == WriteMode::Upsert;
        if upsert && self.update_sql.is_none() {
            // Upsert is UPDATE-then-INSERT rather than `INSERT ... ON CONFLICT DO UPDATE`: SQLite applies an
            // upsert's conflict handling to trigger bodies too, which breaks the R-tree triggers' INSERT OR REPLACE.
            let mut sql = format!("UPDATE {table} SET geom = ?2, time_start = ?4, time_end = ?5");
            for (i, column) in columns.iter().enumerate() {
                sql.push_str(&format!(", {} = ?{}", quote(&column.column), i + 6));
            }
            sql.push_str(" WHERE feature_id = ?3");
            self.update_sql = Some(sql);
        }
        self.insert_sql.get_or_insert_with(|| {
            let names: Vec<String> = columns.iter().map(|c| quote(&c.column)).collect();
            let mut sql =
                format!("INSERT INTO {table} (fid, geom, feature_id, time_start, time_end");
            for name in &names {
                sql.push_str(", ");
                sql.push_str(name);
            }
            sql.push_str(") VALUES (?1, ?2, ?3, ?4, ?5");
            for i in 0..names.len() {
                sql.push_str(&format!(", ?{}", i + 6));
            }
            sql.push(')');
            sql
        });
    }

    /// `INSERT` of [`ROWS_PER_INSERT`] rows in one statement: stepping one statement per row costs more than
    /// SQLite's B-tree work for a narrow row.
    fn multi_insert_sql(&self) -> String {
        let names: Vec<String> = self
            .entry
            .columns
            .columns()
            .iter()
            .map(|c| quote(&c.column))
            .collect();
        let per_row = FIXED_PARAMETERS + names.len();
        // A statement that writes several rows and may abort halfway needs a statement journal, into which
        // SQLite copies every page the statement touches first (a third of a fresh load's writer time went
        // there). `OR FAIL` keeps the rows before a failing one instead, so no journal is needed; the writer
        // then finds how many went in. Only for a fresh table: it has no triggers, whose own conflict
        // clauses the outer one would override (the R-tree triggers' `INSERT OR REPLACE`).
        let mut sql = format!(
            "INSERT {}INTO {} (fid, geom, feature_id, time_start, time_end{}{}) VALUES ",
            if self.fresh { "OR FAIL " } else { "" },
            quote(&self.table),
            if names.is_empty() { "" } else { ", " },
            names.join(", ")
        );
        for row in 0..ROWS_PER_INSERT {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            let placeholders: Vec<String> = (1..=per_row)
                .map(|i| format!("?{}", row * per_row + i))
                .collect();
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        sql
    }

    fn write(&mut self, tx: &Transaction<'_>, features: &[Feature]) -> StoreResult<Vec<Conflict>> {
        // Columns first, so that one set of statements serves the whole batch. Whether each feature lists
        // its properties in column order is learnt on the way (comparing names is a tenth of the writer's
        // time on a narrow row), and learnt again only if a column was added meanwhile.
        let columns_before = self.entry.columns.columns().len();
        let mut in_order = Vec::with_capacity(features.len());
        for feature in features {
            in_order.push(self.ensure_columns(tx, feature)?);
        }
        if self.entry.columns.columns().len() != columns_before {
            let columns = self.entry.columns.columns();
            for (flag, feature) in in_order.iter_mut().zip(features) {
                *flag = aligned(&feature.properties, columns);
            }
        }
        self.ensure_insert_sql();
        let encoded = features
            .iter()
            .enumerate()
            .map(|(position, feature)| {
                // An unlocated feature is stored with a NULL geometry (GeoPackage 1.3 §2.1.6), which the
                // R-tree triggers and the bulk loader pass by.
                let Some(geometry) = &feature.geometry else {
                    return Ok((None, None));
                };
                let bbox = Bbox::of_geometry(geometry).ok_or_else(|| {
                    StoreError::new(StoreErrorKind::Invalid, "feature has an empty geometry")
                        .at_position(position)
                })?;
                let blob = blob::encode(geometry, &bbox).map_err(|why| {
                    StoreError::new(StoreErrorKind::Invalid, why).at_position(position)
                })?;
                Ok((Some(bbox), Some(blob)))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let path = self.path.clone();
        let wrap = |e| sqlite_error(&path, e);
        let columns = self.entry.columns.columns().to_vec();
        self.datetimes_waiting.resize(columns.len(), false);
        let mut single = tx
            .prepare_cached(self.insert_sql.as_deref().unwrap_or_default())
            .map_err(wrap)?;
        let mut update = self
            .update_sql
            .as_deref()
            .map(|sql| tx.prepare_cached(sql))
            .transpose()
            .map_err(wrap)?;
        let mut multi = if update.is_none() && features.len() >= ROWS_PER_INSERT {
            Some(tx.prepare_cached(&self.multi_insert_sql()).map_err(wrap)?)
        } else {
            None
        };
        let mut conflicts = Vec::new();
        let mut start = 0;
        while start < features.len() {
            let end = (start + ROWS_PER_INSERT).min(features.len());
            if let (Some(statement), true) = (multi.as_mut(), end - start == ROWS_PER_INSERT) {
                let mut bound = Ok(());
                for (offset, position) in (start..end).enumerate() {
                    let row = Row::new(
                        self.next_fid + offset as i64,
                        encoded[position].1.as_deref(),
                        &features[position],
                    );
                    bound = bound.and_then(|()| {
                        row.bind(
                            statement,
                            &columns,
                            offset * (FIXED_PARAMETERS + columns.len()),
                            in_order[position],
                            &mut self.datetimes_waiting,
                        )
                    });
                }
                match bound.and_then(|()| statement.raw_execute()) {
                    Ok(_) => {
                        for (offset, position) in (start..end).enumerate() {
                            self.stats.observe(&features[position], encoded[position].0);
                            self.index_row(
                                self.next_fid + offset as i64,
                                encoded[position].1.as_deref(),
                            )?;
                        }
                        self.next_fid += ROWS_PER_INSERT as i64;
                        start = end;
                        continue;
                    }
                    // The rows go one by one to find the culprit. A failed statement changes nothing,
                    // except `OR FAIL` into a fresh table, which keeps the rows before the culprit.
                    Err(e) if is_duplicate_id(&e) => {
                        if self.fresh {
                            let last: i64 = tx
                                .query_row(
                                    &format!(
                                        "SELECT coalesce(max(fid), 0) FROM {}",
                                        quote(&self.table)
                                    ),
                                    [],
                                    |r| r.get(0),
                                )
                                .map_err(wrap)?;
                            let kept = usize::try_from(last - self.next_fid + 1)
                                .unwrap_or(0)
                                .min(end - start);
                            for (offset, position) in (start..start + kept).enumerate() {
                                self.stats.observe(&features[position], encoded[position].0);
                                self.index_row(
                                    self.next_fid + offset as i64,
                                    encoded[position].1.as_deref(),
                                )?;
                            }
                            self.next_fid += kept as i64;
                            start += kept;
                        }
                    }
                    Err(e) => return Err(wrap(e).at_position(start)),
                }
            }
            for position in start..end {
                let (feature, (bbox, blob)) = (&features[position], &encoded[position]);
                let row = Row::new(self.next_fid, blob.as_deref(), feature);
                if let Some(statement) = update.as_mut() {
                    let updated = row
                        .bind(
                            statement,
                            &columns,
                            0,
                            in_order[position],
                            &mut self.datetimes_waiting,
                        )
                        .and_then(|()| statement.raw_execute())
                        .map_err(wrap)?;
                    if updated > 0 {
                        self.stats.observe(feature, *bbox);
                        continue;
                    }
                }
                match row
                    .bind(
                        &mut single,
                        &columns,
                        0,
                        in_order[position],
                        &mut self.datetimes_waiting,
                    )
                    .and_then(|()| single.raw_execute())
                {
                    Ok(_) => {
                        self.index_row(self.next_fid, blob.as_deref())?;
                        self.next_fid += 1;
                        self.stats.observe(feature, *bbox);
                    }
                    Err(e) if is_duplicate_id(&e) => {
                        let reason = format!("duplicate feature id '{}'", row.feature_id);
                        if !self.skip_conflicts {
                            return Err(StoreError::new(StoreErrorKind::Conflict, reason)
                                .at_position(position));
                        }
                        conflicts.push(Conflict { position, reason });
                    }
                    Err(e) => return Err(wrap(e).at_position(position)),
                }
            }
            start = end;
        }
        Ok(conflicts)
    }

    /// Keeps the box of a row just inserted into a fresh table, for the R-tree's bulk load.
    fn index_row(&mut self, fid: i64, blob: Option<&[u8]>) -> StoreResult<()> {
        if let (Some(entries), Some(blob)) = (self.rtree.as_mut(), blob) {
            entries
                .add(fid, blob)
                .map_err(|e| spill_error(&self.path, &e))?;
        }
        Ok(())
    }

    fn finish(&mut self, tx: &Transaction<'_>) -> StoreResult<Dataset> {
        let path = self.path.clone();
        let wrap = |e| sqlite_error(&path, e);
        let table = self.table.clone();
        let mut dataset = self.entry.dataset.clone();
        if self.fresh {
            let started = std::time::Instant::now();
            // SQLite's sorter keeps up to a page cache's worth of keys in memory per sorting thread. Index
            // builds read the table once, in order, and need little cache, so shrinking it here keeps peak
            // memory flat whatever the dataset's size.
            tx.pragma_update(None, "cache_size", connection::INDEX_BUILD_CACHE_KIB)
                .map_err(wrap)?;
            if let Some(entries) = self.rtree.take() {
                rtree_bulk::load(tx, &table, entries).map_err(|e| match e {
                    rtree_bulk::LoadError::Sqlite(e) => wrap(e),
                    rtree_bulk::LoadError::Io(e) => spill_error(&path, &e),
                })?;
            }
            ddl::create_rtree_triggers(tx, &table).map_err(wrap)?;
            ddl::create_time_index(tx, &table).map_err(wrap)?;
            tx.pragma_update(None, "cache_size", connection::CACHE_KIB)
                .map_err(wrap)?;
            tracing::debug!(dataset = %table, elapsed_ms = started.elapsed().as_millis() as u64, "indexes built");
            dataset.schema = self.stats.schema.clone();
            dataset.geometry_type = self.stats.geometry_type.unwrap_or(GeometryType::Geometry);
            dataset.feature_count = self.stats.count;
            dataset.extent = self.stats.extent;
            dataset.time_extent = self.stats.time_extent;
        } else {
            dataset.schema.merge(&self.stats.schema);
            if let Some(seen) = self.stats.geometry_type {
                dataset.geometry_type = if dataset.feature_count == 0 {
                    seen
                } else {
                    dataset.geometry_type.merge(seen)
                };
            }
            if self.mode == WriteMode::Upsert {
                // Updates can move or shrink what is there, so read the truth back.
                let summary = read::summarise(tx, &table).map_err(wrap)?;
                dataset.feature_count = summary.count;
                dataset.extent = summary.extent;
                dataset.time_extent = summary.time_extent;
            } else {
                // Appends only add: the exact union avoids the R-tree's 32-bit rounding.
                let union = |a: Option<Bbox>, b: Option<Bbox>| match (a, b) {
                    (Some(a), Some(b)) => Some(a.union(&b)),
                    (a, b) => a.or(b),
                };
                dataset.feature_count += self.stats.count;
                dataset.extent = union(dataset.extent, self.stats.extent);
                dataset.time_extent = match (dataset.time_extent, self.stats.time_extent) {
                    (Some(a), Some(b)) => Some(a.union(&b)),
                    (a, b) => a.or(b),
                };
            }
        }
        self.retype_columns(tx, &dataset)?;
        self.rewrite_waiting_datetimes(tx)?;
        dataset.version = self.previous.as_ref().map_or(0, |p| p.version) + 1;
        dataset.updated = Utc::now();
        let entry = Entry {
            dataset: dataset.clone(),
            columns: self.entry.columns.clone(),
        };
        catalog::save(tx, &entry).map_err(wrap)?;
        Ok(dataset)
    }

    /// Date-times written in another form into columns that stayed DATETIME take the column's form (a
    /// column retyped to text kept them as written; one rebuilt as DATETIME rewrote them already).
    fn rewrite_waiting_datetimes(&mut self, tx: &Transaction<'_>) -> StoreResult<()> {
        for (index, column) in self.entry.columns.columns().iter().enumerate() {
            if column.declared != FieldType::DateTime
                || !self.datetimes_waiting.get(index).copied().unwrap_or(false)
            {
                continue;
            }
            let name = quote(&column.column);
            tx.execute(
                &format!(
                    "UPDATE {} SET {name} = gc_datetime({name}) WHERE typeof({name}) = 'blob'",
                    quote(&self.table)
                ),
                [],
            )
            .map_err(|e| self.wrap(e))?;
        }
        self.datetimes_waiting.clear();
        Ok(())
    }

    /// Columns are declared from the first value seen; when later values widened the type (integer to real,
    /// anything to text), the table is rebuilt with the right declarations so GDAL and QGIS read the right
    /// field types. The common case (no widening) costs nothing.
    fn retype_columns(&mut self, tx: &Transaction<'_>, dataset: &Dataset) -> StoreResult<()> {
        let mut changed = false;
        let before: Vec<FieldType> = self
            .entry
            .columns
            .columns()
            .iter()
            .map(|c| c.declared)
            .collect();
        for index in 0..self.entry.columns.columns().len() {
            let column = &self.entry.columns.columns()[index];
            let wanted = dataset
                .schema
                .field(&column.property)
                .map_or(column.declared, |f| f.field_type);
            if sql_type(wanted) != sql_type(column.declared) {
                self.entry.columns.set_declared(index, wanted);
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let table = quote(&self.table);
        let rebuilt = quote(&format!("{}__retype", self.table));
        let mut definitions = String::new();
        let mut selections = String::from("fid, geom, feature_id, time_start, time_end");
        for (column, was) in self.entry.columns.columns().iter().zip(&before) {
            let name = quote(&column.column);
            definitions.push_str(&format!(", {name} {}", sql_type(column.declared)));
            match column.declared {
                // Every value as its JSON text (`gc_json_text`): SQLite's CAST would write 1 for true
                // and 1.0e+21 for 1e21.
                FieldType::Text => selections.push_str(&format!(
                    ", gc_json_text({name}, {})",
                    i32::from(*was == FieldType::Boolean)
                )),
                FieldType::Real => selections.push_str(&format!(", CAST({name} AS REAL)")),
                // Values written before the column was a DATETIME (dates, or date-times kept as written
                // while the field had only nulls and its column was text) take the DATETIME form.
                FieldType::DateTime => selections.push_str(&format!(", gc_datetime({name})")),
                // A column declared while its field had only nulls (text) held the first values as their
                // JSON text; a boolean field stores them as 1 and 0. (Numbers need nothing: the new
                // column's affinity reads '7' as 7.)
                FieldType::Boolean if matches!(*was, FieldType::Text | FieldType::Json) => {
                    selections.push_str(&format!(
                        ", CASE {name} WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE {name} END"
                    ))
                }
                _ => selections.push_str(&format!(", {name}")),
            }
        }
        let name = |suffix: &str| quote(&format!("{}_{suffix}", ddl::rtree_name(&self.table)));
        let mut sql = String::new();
        for suffix in [
            "insert", "update1", "update2", "update3", "update4", "delete",
        ] {
            sql.push_str(&format!("DROP TRIGGER IF EXISTS {};", name(suffix)));
        }
        sql.push_str(&format!(
            "CREATE TABLE {rebuilt} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom GEOMETRY, feature_id TEXT, \
             time_start DATETIME, time_end DATETIME{definitions});
             INSERT INTO {rebuilt} SELECT {selections} FROM {table};
             DROP TABLE {table};
             ALTER TABLE {rebuilt} RENAME TO {table};
             CREATE UNIQUE INDEX {idx_id} ON {table} (feature_id);",
            idx_id = quote(&format!("{}_feature_id", self.table)),
        ));
        tx.execute_batch(&sql).map_err(|e| self.wrap(e))?;
        ddl::create_time_index(tx, &self.table).map_err(|e| self.wrap(e))?;
        ddl::create_rtree_triggers(tx, &self.table).map_err(|e| self.wrap(e))?;
        self.insert_sql = None;
        self.update_sql = None;
        Ok(())
    }
}

/// The spatial index's sort could not use its temporary file (a full disk, most likely).
fn spill_error(path: &Path, error: &std::io::Error) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        format!(
            "{}: cannot sort the spatial index in a temporary file beside it: {error}",
            path.display()
        ),
    )
}

fn table_exists(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE lower(name) = lower(?1)",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Rows bound per multi-row `INSERT`.
const ROWS_PER_INSERT: usize = 32;
/// Parameters before the property columns: fid, geometry, feature id, time start, time end.
const FIXED_PARAMETERS: usize = 5;

/// One feature's values, bound straight from the feature (no copies of its text) in the parameter order of
/// the insert and update statements: fid, geometry, feature id, time start, time end, then the columns.
struct Row<'a> {
    fid: i64,
    /// `None` for an unlocated feature: a NULL geometry.
    blob: Option<&'a [u8]>,
    /// The feature's own id, or its fid when it came without one.
    feature_id: std::borrow::Cow<'a, str>,
    feature: &'a Feature,
}

impl<'a> Row<'a> {
    fn new(fid: i64, blob: Option<&'a [u8]>, feature: &'a Feature) -> Self {
        let feature_id = feature
            .id
            .as_ref()
            .map_or_else(|| fid.to_string().into(), |id| id.as_str().into());
        Self {
            fid,
            blob,
            feature_id,
            feature,
        }
    }

    /// Binds the row's values to parameters `base + 1 ..` of `statement`.
    fn bind(
        &self,
        statement: &mut rusqlite::CachedStatement<'_>,
        columns: &[crate::columns::Column],
        base: usize,
        in_column_order: bool,
        datetimes_waiting: &mut [bool],
    ) -> rusqlite::Result<()> {
        statement.raw_bind_parameter(base + 1, self.fid)?;
        statement.raw_bind_parameter(base + 2, self.blob)?;
        statement.raw_bind_parameter(base + 3, self.feature_id.as_ref())?;
        let time = self.feature.time;
        let (mut start_text, mut end_text) = (Stamp::default(), Stamp::default());
        let start = time.map(|t| start_text.format(t.start));
        let end = time.and_then(|t| (!t.is_instant()).then(|| end_text.format(t.end)));
        statement.raw_bind_parameter(base + 4, start)?;
        statement.raw_bind_parameter(base + 5, end.or(start))?;
        let properties = &self.feature.properties;
        // Features usually list their properties in column order; then no lookup by name is needed.
        let mut in_order = in_column_order.then(|| properties.values());
        for (i, column) in columns.iter().enumerate() {
            let index = base + FIXED_PARAMETERS + 1 + i;
            let value = match &mut in_order {
                Some(values) => values.next(),
                None => properties.get(&column.property),
            };
            match value {
                None | Some(Value::Null) => {
                    statement.raw_bind_parameter(index, rusqlite::types::Null)?
                }
                // A value of another type than its column's makes the field text (the schema widens,
                // and the column is retyped before the write commits). Until then it waits as a BLOB of its
                // JSON text: no column affinity converts a BLOB, so `true`, 7 and "7" each come back as
                // the text they are, where SQLite would have made 7 of "7" and 1 of true.
                Some(value) if foreign(column.declared, value) => {
                    statement.raw_bind_parameter(index, json_text(value).as_bytes())?
                }
                // Text columns hold every value as its JSON text.
                Some(value @ (Value::Bool(_) | Value::Number(_)))
                    if matches!(column.declared, FieldType::Text | FieldType::Json) =>
                {
                    statement.raw_bind_parameter(index, json_text(value).as_ref())?
                }
                Some(Value::Bool(b)) => statement.raw_bind_parameter(index, i64::from(*b))?,
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(i) => statement.raw_bind_parameter(index, i)?,
                    None => statement.raw_bind_parameter(index, n.as_f64())?,
                },
                // A DATETIME column holds the GeoPackage form only (UTC, milliseconds, `Z`), and a bare
                // date beside date-times is that day's midnight, as GDAL writes it; text anywhere else is
                // kept as written. A value in another form waits as a BLOB of its own text until commit:
                // should a later value make the field text, the retype keeps what was written
                // (`+02:00`, a bare date), not its UTC rewrite; otherwise commit rewrites it.
                Some(Value::String(s)) if column.declared == FieldType::DateTime => {
                    if datetime_needs_rewrite(s) {
                        datetimes_waiting[i] = true;
                        statement.raw_bind_parameter(index, s.as_bytes())?
                    } else {
                        statement.raw_bind_parameter(index, s.as_str())?
                    }
                }
                Some(Value::String(s)) => statement.raw_bind_parameter(index, s.as_str())?,
                Some(other @ (Value::Array(_) | Value::Object(_))) => {
                    statement.raw_bind_parameter(index, other.to_string())?
                }
            }
        }
        Ok(())
    }
}

/// Whether `value` cannot be kept in a column declared `declared` as a value of that type: its field is
/// text once the schema takes it in.
fn foreign(declared: FieldType, value: &Value) -> bool {
    match (declared, value) {
        (_, Value::Null) | (FieldType::Text | FieldType::Json, _) => false,
        (FieldType::Boolean, Value::Bool(_))
        | (FieldType::Integer | FieldType::Real, Value::Number(_)) => false,
        // Text shaped like a date stays as it is: no affinity reads it as a number, and if it is no real
        // date the retype keeps its text. Parsing every time value here would slow every import.
        (FieldType::Date | FieldType::DateTime, Value::String(s)) => {
            let b = s.as_bytes();
            !(b.len() >= 10
                && b[4] == b'-'
                && b[7] == b'-'
                && b[..4].iter().all(u8::is_ascii_digit))
        }
        _ => true,
    }
}

/// A value as a text field holds it: text as it is, anything else as serde_json writes it.
fn json_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (if *b { "true" } else { "false" }).into(),
        other => other.to_string().into(),
    }
}

/// A time as the GeoPackage DATETIME text ([`format_rfc3339`]: `YYYY-MM-DDTHH:MM:SS.sssZ`), written into a
/// buffer on the stack: every row binds one or two, and the general formatter allocated and walked a format
/// description for each.
#[derive(Default)]
struct Stamp {
    bytes: [u8; 24],
    /// Times the fixed form cannot hold (years outside 0–9999, a leap second), formatted the general way.
    other: String,
}

impl Stamp {
    fn format(&mut self, at: chrono::DateTime<Utc>) -> &str {
        use chrono::{Datelike, Timelike};
        let (year, millis) = (at.year(), at.timestamp_subsec_millis());
        if !(0..=9999).contains(&year) || millis > 999 {
            self.other = format_rfc3339(at);
            return &self.other;
        }
        let b = &mut self.bytes;
        let mut put = |at: usize, value: u32, width: usize| {
            let mut value = value;
            for i in (at..at + width).rev() {
                b[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year.unsigned_abs(), 4);
        put(5, at.month(), 2);
        put(8, at.day(), 2);
        put(11, at.hour(), 2);
        put(14, at.minute(), 2);
        put(17, at.second(), 2);
        put(20, millis, 3);
        for (i, c) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ] {
            b[i] = c;
        }
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

/// Whether an error is the unique feature-id index refusing a duplicate.
fn is_duplicate_id(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, Some(message))
        if e.code == rusqlite::ErrorCode::ConstraintViolation && message.contains(".feature_id"))
}

/// Whether a feature's properties are exactly the columns, in column order.
fn aligned(properties: &geoconsole_model::Properties, columns: &[crate::columns::Column]) -> bool {
    properties.len() == columns.len()
        && properties
            .keys()
            .zip(columns)
            .all(|(name, column)| *name == column.property)
}

/// The text a DATETIME column holds for `text`: a date-time in another form rewritten in the GeoPackage
/// form, a bare date (`2024-05-02`) as its midnight UTC (GDAL writes a date beside date-times so too);
/// `None` for text that is already in the form or is neither.
pub(crate) fn datetime_column_text(text: &str) -> Option<String> {
    if !datetime_needs_rewrite(text) {
        return None;
    }
    if text.len() == 10 {
        return Some(format!("{text}T00:00:00.000Z"));
    }
    geoconsole_model::parse_time_value(&Value::String(text.to_string()))
        .ok()
        .map(format_rfc3339)
}

/// Whether a DATETIME column would hold `text` rewritten: a bare date, or a date-time not already in the
/// GeoPackage form (UTC, milliseconds, `Z`). Asked once per bound value, so it allocates nothing.
fn datetime_needs_rewrite(text: &str) -> bool {
    if text.len() == 10 {
        return FieldType::of_text(text) == FieldType::Date;
    }
    let b = text.as_bytes();
    let dated = b.len() > 10 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b' ');
    let canonical = b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z';
    dated && !canonical && FieldType::of_text(text) == FieldType::DateTime
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_match_the_general_formatter() {
        let times = [
            "2023-04-01T12:34:56.789Z",
            "1970-01-01T00:00:00Z",
            "0001-02-03T04:05:06.007Z",
            "9999-12-31T23:59:59.999Z",
            "2024-02-29T23:59:59.5Z",
        ];
        for text in times {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .expect("time")
                .with_timezone(&Utc);
            assert_eq!(Stamp::default().format(at), format_rfc3339(at), "{text}");
        }
        let far = chrono::DateTime::parse_from_rfc3339("+12345-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc));
        if let Ok(far) = far {
            assert_eq!(Stamp::default().format(far), format_rfc3339(far));
        }
    }
}
