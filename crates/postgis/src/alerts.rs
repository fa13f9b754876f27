//! Rules, alerts and the delivery outbox in `gc_rules`, `gc_rule_marks`, `gc_alerts` and `gc_deliveries`.
//! An alert and its deliveries are written in one transaction; the alert's unique key makes raising it again
//! (by this instance or another) a no-op, which is what keeps alerts single in a cluster.

use chrono::{DateTime, Utc};
use geoconsole_store::alerts::apply;
use geoconsole_store::{
    AlertFilter, AlertRecord, AlertState, AlertStore, Attempt, Delivery, DeliveryState,
    Disposition, NewAlert, RuleRecord, StoreError, StoreErrorKind, StoreResult, Transition,
};
use tokio_postgres::GenericClient;
use tokio_postgres::Row;

use crate::PostgisStore;
use crate::write::channel;

const ALERT_COLUMNS: &str = "seq, key, rule, severity, title, site_dataset, site, event_dataset, event, lon, lat, \
     detail, raised, state, disposition, acknowledged_by, acknowledged_at, resolved_by, resolved_at, note";

fn unreadable(what: &str, value: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Internal,
        format!("{what} '{value}' is not known"),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

fn alert_row(row: &Row) -> StoreResult<AlertRecord> {
    let lon: Option<f64> = row.get(9);
    let lat: Option<f64> = row.get(10);
    let state: String = row.get(13);
    let disposition: Option<String> = row.get(14);
    Ok(AlertRecord {
        seq: row.get(0),
        alert: NewAlert {
            key: row.get(1),
            rule: row.get(2),
            severity: row.get(3),
            title: row.get(4),
            site_dataset: row.get(5),
            site: row.get(6),
            event_dataset: row.get(7),
            event: row.get(8),
            position: lon.zip(lat).map(|(x, y)| [x, y]),
            detail: json(row.get(11)),
            raised: row.get(12),
        },
        state: AlertState::parse(&state).ok_or_else(|| unreadable("alert state", &state))?,
        disposition: disposition
            .map(|d| Disposition::parse(&d).ok_or_else(|| unreadable("disposition", &d)))
            .transpose()?,
        acknowledged_by: row.get(15),
        acknowledged_at: row.get(16),
        resolved_by: row.get(17),
        resolved_at: row.get(18),
        note: row.get(19),
    })
}

const DELIVERY_COLUMNS: &str =
    "id, alert_seq, target, state, attempts, next_attempt, last_error, delivered_at";

fn delivery_row(row: &Row) -> StoreResult<Delivery> {
    let state: String = row.get(3);
    Ok(Delivery {
        id: row.get(0),
        alert_seq: row.get(1),
        target: row.get(2),
        state: DeliveryState::parse(&state).ok_or_else(|| unreadable("delivery state", &state))?,
        attempts: row.get::<_, i32>(4).max(0) as u32,
        next_attempt: row.get(5),
        last_error: row.get(6),
        delivered_at: row.get(7),
    })
}

async fn load_alert(
    client: &impl GenericClient,
    seq: i64,
) -> Result<Option<StoreResult<AlertRecord>>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {ALERT_COLUMNS} FROM gc_alerts WHERE seq = $1"),
            &[&seq],
        )
        .await?;
    Ok(row.as_ref().map(alert_row))
}

fn missing_alert(seq: i64) -> StoreError {
    StoreError::not_found(format!("alert {seq} does not exist"))
}

#[async_trait::async_trait]
impl AlertStore for PostgisStore {
    async fn put_rule(&self, rule: RuleRecord, marks: Vec<(String, u64)>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        tx.execute(
            "INSERT INTO gc_rules (id, definition, created, updated) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, updated = EXCLUDED.updated",
            &[&rule.id, &rule.definition.to_string(), &rule.created, &rule.updated],
        )
        .await
        .map_err(|e| self.wrap(e))?;
        tx.execute("DELETE FROM gc_rule_marks WHERE rule = $1", &[&rule.id])
            .await
            .map_err(|e| self.wrap(e))?;
        for (dataset, version) in marks {
            tx.execute(
                "INSERT INTO gc_rule_marks (rule, dataset, version) VALUES ($1, $2, $3)",
                &[&rule.id, &dataset, &(version as i64)],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        }
        tx.commit().await.map_err(|e| self.wrap(e))
    }

    async fn rules(&self) -> StoreResult<Vec<RuleRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, definition, created, updated FROM gc_rules ORDER BY id",
                &[],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(rows
            .iter()
            .map(|r| RuleRecord {
                id: r.get(0),
                definition: json(r.get(1)),
                created: r.get(2),
                updated: r.get(3),
            })
            .collect())
    }

    async fn delete_rule(&self, id: &str) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        let n = tx
            .execute("DELETE FROM gc_rules WHERE id = $1", &[&id])
            .await
            .map_err(|e| self.wrap(e))?;
        if n == 0 {
            return Err(StoreError::not_found(format!("rule '{id}' does not exist")));
        }
        tx.execute("DELETE FROM gc_rule_marks WHERE rule = $1", &[&id])
            .await
            .map_err(|e| self.wrap(e))?;
        tx.commit().await.map_err(|e| self.wrap(e))
    }

    async fn marks(&self, rule: &str) -> StoreResult<Vec<(String, u64)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT dataset, version FROM gc_rule_marks WHERE rule = $1 ORDER BY dataset",
                &[&rule],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }

    async fn set_mark(&self, rule: &str, dataset: &str, version: u64) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO gc_rule_marks (rule, dataset, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (rule, dataset) DO UPDATE SET version = greatest(gc_rule_marks.version, EXCLUDED.version)",
                &[&rule, &dataset, &(version as i64)],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn forget_marks(&self, dataset: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM gc_rule_marks WHERE dataset = $1", &[&dataset])
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn raise(
        &self,
        alerts: Vec<NewAlert>,
        targets: Vec<String>,
    ) -> StoreResult<Vec<AlertRecord>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        let insert = tx
            .prepare(
                "INSERT INTO gc_alerts (key, rule, severity, title, site_dataset, site, event_dataset, event, \
                 lon, lat, detail, raised, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open') \
                 ON CONFLICT (key) DO NOTHING RETURNING seq",
            )
            .await
            .map_err(|e| self.wrap(e))?;
        let deliver = tx
            .prepare(
                "INSERT INTO gc_deliveries (alert_seq, target, state, next_attempt) VALUES ($1, $2, 'pending', $3)",
            )
            .await
            .map_err(|e| self.wrap(e))?;
        let mut raised = Vec::new();
        for a in alerts {
            let row = tx
                .query_opt(
                    &insert,
                    &[
                        &a.key,
                        &a.rule,
                        &a.severity,
                        &a.title,
                        &a.site_dataset,
                        &a.site,
                        &a.event_dataset,
                        &a.event,
                        &a.position.map(|p| p[0]),
                        &a.position.map(|p| p[1]),
                        &a.detail.to_string(),
                        &a.raised,
                    ],
                )
                .await
                .map_err(|e| self.wrap(e))?;
            // Another instance (or an earlier run) raised this key already.
            let Some(row) = row else { continue };
            let seq: i64 = row.get(0);
            for t in &targets {
                tx.execute(&deliver, &[&seq, t, &a.raised])
                    .await
                    .map_err(|e| self.wrap(e))?;
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
        if let Some(last) = raised.last() {
            let payload = serde_json::json!({ "alerts": last.seq }).to_string();
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&channel(self.config.schema()), &payload],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        }
        tx.commit().await.map_err(|e| self.wrap(e))?;
        Ok(raised)
    }

    async fn alerts(&self, filter: AlertFilter) -> StoreResult<Vec<AlertRecord>> {
        let client = self.client().await?;
        let order = if filter.newest_first { "DESC" } else { "ASC" };
        let rows = client
            .query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM gc_alerts WHERE seq > $1 AND ($2::text IS NULL OR state = $2) \
                     AND ($3::text IS NULL OR rule = $3) ORDER BY seq {order} LIMIT $4"
                ),
                &[
                    &filter.after.unwrap_or(0),
                    &filter.state.map(AlertState::as_str),
                    &filter.rule,
                    &(filter.limit as i64),
                ],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        rows.iter().map(alert_row).collect()
    }

    async fn alert(&self, seq: i64) -> StoreResult<AlertRecord> {
        let client = self.client().await?;
        load_alert(&**client, seq)
            .await
            .map_err(|e| self.wrap(e))?
            .ok_or_else(|| missing_alert(seq))?
    }

    async fn transition(&self, seq: i64, change: Transition) -> StoreResult<AlertRecord> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        let current = tx
            .query_opt(
                &format!("SELECT {ALERT_COLUMNS} FROM gc_alerts WHERE seq = $1 FOR UPDATE"),
                &[&seq],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .as_ref()
            .map(alert_row)
            .ok_or_else(|| missing_alert(seq))??;
        let next = apply(&current, change)?;
        tx.execute(
            "UPDATE gc_alerts SET state = $2, disposition = $3, acknowledged_by = $4, acknowledged_at = $5, \
             resolved_by = $6, resolved_at = $7, note = $8 WHERE seq = $1",
            &[
                &seq,
                &next.state.as_str(),
                &next.disposition.map(Disposition::as_str),
                &next.acknowledged_by,
                &next.acknowledged_at,
                &next.resolved_by,
                &next.resolved_at,
                &next.note,
            ],
        )
        .await
        .map_err(|e| self.wrap(e))?;
        let payload = serde_json::json!({ "alert_changed": seq }).to_string();
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&channel(self.config.schema()), &payload],
        )
        .await
        .map_err(|e| self.wrap(e))?;
        tx.commit().await.map_err(|e| self.wrap(e))?;
        Ok(next)
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(Delivery, AlertRecord)>> {
        let client = self.client().await?;
        let prefixed: Vec<String> = ALERT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect();
        let rows = client
            .query(
                &format!(
                    "SELECT {}, {} FROM gc_deliveries d JOIN gc_alerts a ON a.seq = d.alert_seq \
                     WHERE d.state = 'pending' AND d.next_attempt <= $1 ORDER BY d.next_attempt, d.id LIMIT $2",
                    prefixed.join(", "),
                    DELIVERY_COLUMNS
                        .split(", ")
                        .map(|c| format!("d.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[&now, &(limit as i64)],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        let alert_columns = prefixed.len();
        rows.iter()
            .map(|row| {
                let alert = alert_row(row)?;
                let state: String = row.get(alert_columns + 3);
                let delivery = Delivery {
                    id: row.get(alert_columns),
                    alert_seq: row.get(alert_columns + 1),
                    target: row.get(alert_columns + 2),
                    state: DeliveryState::parse(&state)
                        .ok_or_else(|| unreadable("delivery state", &state))?,
                    attempts: row.get::<_, i32>(alert_columns + 4).max(0) as u32,
                    next_attempt: row.get(alert_columns + 5),
                    last_error: row.get(alert_columns + 6),
                    delivered_at: row.get(alert_columns + 7),
                };
                Ok((delivery, alert))
            })
            .collect()
    }

    async fn record_attempt(&self, delivery: i64, attempt: Attempt) -> StoreResult<()> {
        let client = self.client().await?;
        let result = match attempt {
            Attempt::Delivered { at } => {
                client
                    .execute(
                        "UPDATE gc_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = $2, \
                         last_error = NULL WHERE id = $1",
                        &[&delivery, &at],
                    )
                    .await
            }
            Attempt::Retry { at, error } => {
                client
                    .execute(
                        "UPDATE gc_deliveries SET attempts = attempts + 1, next_attempt = $2, last_error = $3 WHERE id = $1",
                        &[&delivery, &at, &error],
                    )
                    .await
            }
            Attempt::Dead { error } => {
                client
                    .execute(
                        "UPDATE gc_deliveries SET state = 'dead', attempts = attempts + 1, last_error = $2 WHERE id = $1",
                        &[&delivery, &error],
                    )
                    .await
            }
        };
        result.map(|_| ()).map_err(|e| self.wrap(e))
    }

    async fn deliveries(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM gc_deliveries WHERE ($1::text IS NULL OR state = $1) \
                     ORDER BY id DESC LIMIT $2"
                ),
                &[&state.map(DeliveryState::as_str), &(limit as i64)],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        rows.iter().map(delivery_row).collect()
    }

    async fn retry_delivery(&self, delivery: i64, now: DateTime<Utc>) -> StoreResult<Delivery> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        let n = tx
            .execute(
                "UPDATE gc_deliveries SET state = 'pending', attempts = 0, next_attempt = $2 \
                 WHERE id = $1 AND state <> 'delivered'",
                &[&delivery, &now],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        let found = tx
            .query_opt(
                &format!("SELECT {DELIVERY_COLUMNS} FROM gc_deliveries WHERE id = $1"),
                &[&delivery],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .as_ref()
            .map(delivery_row)
            .ok_or_else(|| {
                StoreError::not_found(format!("delivery {delivery} does not exist"))
            })??;
        if n == 0 {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("delivery {delivery} was already delivered"),
            ));
        }
        tx.commit().await.map_err(|e| self.wrap(e))?;
        Ok(found)
    }
}
