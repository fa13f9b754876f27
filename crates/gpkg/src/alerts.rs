//! Rules, alerts and the delivery outbox in the GeoPackage, as plain SQLite tables beside the features (a
//! GeoPackage may hold other tables; GDAL and QGIS ignore them). Alerts are never deleted or rewritten except
//! for their lifecycle columns; each alert and its deliveries are written in one transaction.

use chrono::{DateTime, Utc};
use geoconsole_store::alerts::apply;
use geoconsole_store::{
    AlertFilter, AlertRecord, AlertState, AlertStore, Attempt, Delivery, DeliveryState,
    Disposition, NewAlert, RuleRecord, StoreError, StoreErrorKind, StoreResult, Transition,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::GpkgStore;
use crate::connection::{self, sqlite_error};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gc_rules (
  id TEXT PRIMARY KEY NOT NULL,
  definition TEXT NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gc_rule_marks (
  rule TEXT NOT NULL,
  dataset TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (rule, dataset)
);
CREATE TABLE IF NOT EXISTS gc_alerts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  rule TEXT NOT NULL,
  severity TEXT NOT NULL,
  title TEXT NOT NULL,
  site_dataset TEXT, site TEXT, event_dataset TEXT, event TEXT,
  lon DOUBLE, lat DOUBLE,
  detail TEXT NOT NULL,
  raised TEXT NOT NULL,
  state TEXT NOT NULL,
  disposition TEXT,
  acknowledged_by TEXT, acknowledged_at TEXT,
  resolved_by TEXT, resolved_at TEXT,
  note TEXT
);
CREATE INDEX IF NOT EXISTS gc_alerts_state ON gc_alerts (state, seq);
CREATE TABLE IF NOT EXISTS gc_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_seq INTEGER NOT NULL REFERENCES gc_alerts (seq),
  target TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt TEXT NOT NULL,
  last_error TEXT,
  delivered_at TEXT,
  UNIQUE (alert_seq, target)
);
CREATE INDEX IF NOT EXISTS gc_deliveries_due ON gc_deliveries (state, next_attempt);
";

/// Instants as fixed-width RFC 3339 text in UTC, so text order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn opt_ts(text: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    text.as_deref().map(parse_ts).transpose()
}

fn bad_value(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what} '{value}' is not known").into(),
    )
}

const ALERT_COLUMNS: &str = "seq, key, rule, severity, title, site_dataset, site, event_dataset, event, lon, lat, \
     detail, raised, state, disposition, acknowledged_by, acknowledged_at, resolved_by, resolved_at, note";

fn alert_row(row: &Row<'_>) -> rusqlite::Result<AlertRecord> {
    let lon: Option<f64> = row.get(9)?;
    let lat: Option<f64> = row.get(10)?;
    let detail: String = row.get(11)?;
    let state: String = row.get(13)?;
    let disposition: Option<String> = row.get(14)?;
    Ok(AlertRecord {
        seq: row.get(0)?,
        alert: NewAlert {
            key: row.get(1)?,
            rule: row.get(2)?,
            severity: row.get(3)?,
            title: row.get(4)?,
            site_dataset: row.get(5)?,
            site: row.get(6)?,
            event_dataset: row.get(7)?,
            event: row.get(8)?,
            position: lon.zip(lat).map(|(x, y)| [x, y]),
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            raised: parse_ts(&row.get::<_, String>(12)?)?,
        },
        state: AlertState::parse(&state).ok_or_else(|| bad_value("alert state", &state))?,
        disposition: disposition
            .map(|d| Disposition::parse(&d).ok_or_else(|| bad_value("disposition", &d)))
            .transpose()?,
        acknowledged_by: row.get(15)?,
        acknowledged_at: opt_ts(row.get(16)?)?,
        resolved_by: row.get(17)?,
        resolved_at: opt_ts(row.get(18)?)?,
        note: row.get(19)?,
    })
}

const DELIVERY_COLUMNS: &str =
    "id, alert_seq, target, state, attempts, next_attempt, last_error, delivered_at";

fn delivery_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let state: String = row.get(3)?;
    Ok(Delivery {
        id: row.get(0)?,
        alert_seq: row.get(1)?,
        target: row.get(2)?,
        state: DeliveryState::parse(&state).ok_or_else(|| bad_value("delivery state", &state))?,
        attempts: row.get(4)?,
        next_attempt: parse_ts(&row.get::<_, String>(5)?)?,
        last_error: row.get(6)?,
        delivered_at: opt_ts(row.get(7)?)?,
    })
}

fn load_alert(conn: &Connection, seq: i64) -> rusqlite::Result<Option<AlertRecord>> {
    conn.query_row(
        &format!("SELECT {ALERT_COLUMNS} FROM gc_alerts WHERE seq = ?1"),
        [seq],
        alert_row,
    )
    .optional()
}

impl GpkgStore {
    /// Runs `work` in its own write transaction on a fresh connection (alert writes are rare and small;
    /// feature writers keep theirs).
    pub(crate) async fn write_tx<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let path = self.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut conn = connection::open(&path)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sqlite_error(&path, e))?;
            let out = work(&tx)?;
            tx.commit().map_err(|e| sqlite_error(&path, e))?;
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::new(StoreErrorKind::Internal, format!("store task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl AlertStore for GpkgStore {
    async fn put_rule(&self, rule: RuleRecord, marks: Vec<(String, u64)>) -> StoreResult<()> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            tx.execute(
                "INSERT INTO gc_rules (id, definition, created, updated) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated = excluded.updated",
                params![rule.id, rule.definition.to_string(), ts(rule.created), ts(rule.updated)],
            )
            .map_err(wrap)?;
            tx.execute("DELETE FROM gc_rule_marks WHERE rule = ?1", [&rule.id])
                .map_err(wrap)?;
            for (dataset, version) in marks {
                tx.execute(
                    "INSERT INTO gc_rule_marks (rule, dataset, version) VALUES (?1, ?2, ?3)",
                    params![rule.id, dataset, version as i64],
                )
                .map_err(wrap)?;
            }
            Ok(())
        })
        .await
    }

    async fn rules(&self) -> StoreResult<Vec<RuleRecord>> {
        self.with_conn(|conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare("SELECT id, definition, created, updated FROM gc_rules ORDER BY id")
                .map_err(wrap)?;
            let rows = stmt
                .query_map([], |r| {
                    let definition: String = r.get(1)?;
                    Ok(RuleRecord {
                        id: r.get(0)?,
                        definition: serde_json::from_str(&definition)
                            .unwrap_or(serde_json::Value::Null),
                        created: parse_ts(&r.get::<_, String>(2)?)?,
                        updated: parse_ts(&r.get::<_, String>(3)?)?,
                    })
                })
                .map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn delete_rule(&self, id: &str) -> StoreResult<()> {
        let (id, path) = (id.to_string(), self.path().to_path_buf());
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            let n = tx
                .execute("DELETE FROM gc_rules WHERE id = ?1", [&id])
                .map_err(wrap)?;
            if n == 0 {
                return Err(StoreError::not_found(format!("rule '{id}' does not exist")));
            }
            tx.execute("DELETE FROM gc_rule_marks WHERE rule = ?1", [&id])
                .map_err(wrap)?;
            Ok(())
        })
        .await
    }

    async fn marks(&self, rule: &str) -> StoreResult<Vec<(String, u64)>> {
        let rule = rule.to_string();
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare(
                    "SELECT dataset, version FROM gc_rule_marks WHERE rule = ?1 ORDER BY dataset",
                )
                .map_err(wrap)?;
            let rows = stmt
                .query_map([&rule], |r| {
                    Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))
                })
                .map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn set_mark(&self, rule: &str, dataset: &str, version: u64) -> StoreResult<()> {
        let (rule, dataset, path) = (
            rule.to_string(),
            dataset.to_string(),
            self.path().to_path_buf(),
        );
        self.write_tx(move |tx| {
            tx.execute(
                "INSERT INTO gc_rule_marks (rule, dataset, version) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (rule, dataset) DO UPDATE SET version = max(version, excluded.version)",
                params![rule, dataset, version as i64],
            )
            .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn forget_marks(&self, dataset: &str) -> StoreResult<()> {
        let (dataset, path) = (dataset.to_string(), self.path().to_path_buf());
        self.write_tx(move |tx| {
            tx.execute("DELETE FROM gc_rule_marks WHERE dataset = ?1", [&dataset])
                .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn raise(
        &self,
        alerts: Vec<NewAlert>,
        targets: Vec<String>,
    ) -> StoreResult<Vec<AlertRecord>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            let mut insert = tx
                .prepare(
                    "INSERT INTO gc_alerts (key, rule, severity, title, site_dataset, site, event_dataset, event, \
                     lon, lat, detail, raised, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'open') \
                     ON CONFLICT (key) DO NOTHING",
                )
                .map_err(wrap)?;
            let mut deliver = tx
                .prepare(
                    "INSERT INTO gc_deliveries (alert_seq, target, state, next_attempt) VALUES (?1, ?2, 'pending', ?3)",
                )
                .map_err(wrap)?;
            let mut raised = Vec::new();
            for a in alerts {
                let n = insert
                    .execute(params![
                        a.key,
                        a.rule,
                        a.severity,
                        a.title,
                        a.site_dataset,
                        a.site,
                        a.event_dataset,
                        a.event,
                        a.position.map(|p| p[0]),
                        a.position.map(|p| p[1]),
                        a.detail.to_string(),
                        ts(a.raised),
                    ])
                    .map_err(wrap)?;
                if n == 0 {
                    continue;
                }
                let seq = tx.last_insert_rowid();
                for t in &targets {
                    deliver.execute(params![seq, t, ts(a.raised)]).map_err(wrap)?;
                }
                raised.push(AlertRecord {
                    seq,
                    alert: a,
                    state: AlertState::Open,
                    disposition: None,
                    acknowledged_by: None,
                    acknowledged_at: None,
                    resolved_by: None,
                    resolved_at: None,
                    note: None,
                });
            }
            Ok(raised)
        })
        .await
    }

    async fn alerts(&self, filter: AlertFilter) -> StoreResult<Vec<AlertRecord>> {
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let order = if filter.newest_first { "DESC" } else { "ASC" };
            let sql = format!(
                "SELECT {ALERT_COLUMNS} FROM gc_alerts WHERE seq > ?1 AND (?2 IS NULL OR state = ?2) \
                 AND (?3 IS NULL OR rule = ?3) ORDER BY seq {order} LIMIT ?4"
            );
            let mut stmt = conn.prepare(&sql).map_err(wrap)?;
            let rows = stmt
                .query_map(
                    params![
                        filter.after.unwrap_or(0),
                        filter.state.map(AlertState::as_str),
                        filter.rule,
                        filter.limit as i64
                    ],
                    alert_row,
                )
                .map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn alert(&self, seq: i64) -> StoreResult<AlertRecord> {
        self.with_conn(move |conn, path| {
            load_alert(conn, seq)
                .map_err(|e| sqlite_error(path, e))?
                .ok_or_else(|| StoreError::not_found(format!("alert {seq} does not exist")))
        })
        .await
    }

    async fn transition(&self, seq: i64, change: Transition) -> StoreResult<AlertRecord> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            let current = load_alert(tx, seq)
                .map_err(wrap)?
                .ok_or_else(|| StoreError::not_found(format!("alert {seq} does not exist")))?;
            let next = apply(&current, change)?;
            tx.execute(
                "UPDATE gc_alerts SET state = ?2, disposition = ?3, acknowledged_by = ?4, acknowledged_at = ?5, \
                 resolved_by = ?6, resolved_at = ?7, note = ?8 WHERE seq = ?1",
                params![
                    seq,
                    next.state.as_str(),
                    next.disposition.map(Disposition::as_str),
                    next.acknowledged_by,
                    next.acknowledged_at.map(ts),
                    next.resolved_by,
                    next.resolved_at.map(ts),
                    next.note,
                ],
            )
            .map_err(wrap)?;
            Ok(next)
        })
        .await
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(Delivery, AlertRecord)>> {
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM gc_deliveries WHERE state = 'pending' AND next_attempt <= ?1 \
                     ORDER BY next_attempt, id LIMIT ?2"
                ))
                .map_err(wrap)?;
            let due = stmt
                .query_map(params![ts(now), limit as i64], delivery_row)
                .map_err(wrap)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(wrap)?;
            let mut out = Vec::with_capacity(due.len());
            for d in due {
                if let Some(a) = load_alert(conn, d.alert_seq).map_err(wrap)? {
                    out.push((d, a));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn record_attempt(&self, delivery: i64, attempt: Attempt) -> StoreResult<()> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            let (sql, values): (&str, Vec<Option<String>>) = match attempt {
                Attempt::Delivered { at } => (
                    "UPDATE gc_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2, \
                     last_error = NULL WHERE id = ?1",
                    vec![Some(ts(at))],
                ),
                Attempt::Retry { at, error } => (
                    "UPDATE gc_deliveries SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3 WHERE id = ?1",
                    vec![Some(ts(at)), Some(error)],
                ),
                Attempt::Dead { error } => (
                    "UPDATE gc_deliveries SET state = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                    vec![Some(error)],
                ),
            };
            let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&delivery];
            for v in &values {
                bound.push(v);
            }
            tx.execute(sql, bound.as_slice())
                .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn deliveries(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM gc_deliveries WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
                ))
                .map_err(wrap)?;
            let rows = stmt
                .query_map(params![state.map(DeliveryState::as_str), limit as i64], delivery_row)
                .map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn retry_delivery(&self, delivery: i64, now: DateTime<Utc>) -> StoreResult<Delivery> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            let n = tx
                .execute(
                    "UPDATE gc_deliveries SET state = 'pending', attempts = 0, next_attempt = ?2 \
                     WHERE id = ?1 AND state <> 'delivered'",
                    params![delivery, ts(now)],
                )
                .map_err(wrap)?;
            let found = tx
                .query_row(
                    &format!("SELECT {DELIVERY_COLUMNS} FROM gc_deliveries WHERE id = ?1"),
                    [delivery],
                    delivery_row,
                )
                .optional()
                .map_err(wrap)?
                .ok_or_else(|| {
                    StoreError::not_found(format!("delivery {delivery} does not exist"))
                })?;
            if n == 0 {
                return Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    format!("delivery {delivery} was already delivered"),
                ));
            }
            Ok(found)
        })
        .await
    }
}
