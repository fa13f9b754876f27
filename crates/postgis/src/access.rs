//! Accounts, API tokens, sessions and the audit log in `gc_users`, `gc_tokens`, `gc_sessions` and
//! `gc_audit`. The audit table refuses UPDATE, DELETE and TRUNCATE with triggers (migration 1), so even a
//! client with the console's credentials cannot rewrite history through SQL.

use chrono::{DateTime, Utc};
use geoconsole_store::{
    AccessStore, AuditEntry, AuditFilter, AuditRecord, Role, SessionRecord, StoreError,
    StoreErrorKind, StoreResult, TokenRecord, UserRecord,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PostgisStore;

fn role(text: &str) -> StoreResult<Role> {
    Role::parse(text)
        .ok_or_else(|| StoreError::new(StoreErrorKind::Internal, format!("unknown role '{text}'")))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> StoreResult<Option<T>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Internal,
                format!("unreadable stored list: {e}"),
            )
        })
    })
    .transpose()
}

fn to_json<T: serde::Serialize>(value: &Option<T>) -> Option<String> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
}

const USER_COLUMNS: &str = "name, role, password_hash, disabled, datasets, created, updated";

fn user_row(row: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        name: row.get(0),
        role: role(row.get(1))?,
        password_hash: row.get(2),
        disabled: row.get(3),
        datasets: parse_json(row.get(4))?,
        created: row.get(5),
        updated: row.get(6),
    })
}

const TOKEN_COLUMNS: &str =
    "id, \"user\", label, secret_hash, scope, datasets, created, expires, revoked, last_used";

fn token_row(row: &Row) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0),
        user: row.get(1),
        label: row.get(2),
        secret_hash: row.get(3),
        scope: role(row.get(4))?,
        datasets: parse_json(row.get(5))?,
        created: row.get(6),
        expires: row.get(7),
        revoked: row.get(8),
        last_used: row.get(9),
    })
}

const SESSION_COLUMNS: &str = "id_hash, \"user\", csrf, created, last_seen, expires";

fn session_row(row: &Row) -> SessionRecord {
    SessionRecord {
        id_hash: row.get(0),
        user: row.get(1),
        csrf: row.get(2),
        created: row.get(3),
        last_seen: row.get(4),
        expires: row.get(5),
    }
}

#[async_trait::async_trait]
impl AccessStore for PostgisStore {
    async fn put_user(&self, user: UserRecord) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO gc_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash, \
                     disabled = EXCLUDED.disabled, datasets = EXCLUDED.datasets, created = EXCLUDED.created, \
                     updated = EXCLUDED.updated"
                ),
                &[
                    &user.name,
                    &user.role.as_str(),
                    &user.password_hash,
                    &user.disabled,
                    &to_json(&user.datasets),
                    &user.created,
                    &user.updated,
                ],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn user(&self, name: &str) -> StoreResult<UserRecord> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM gc_users WHERE name = $1"),
                &[&name],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .as_ref()
            .map(user_row)
            .ok_or_else(|| StoreError::not_found(format!("user '{name}' does not exist")))?
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM gc_users ORDER BY name"),
                &[],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn put_token(&self, token: TokenRecord) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO gc_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (id) DO UPDATE SET \"user\" = EXCLUDED.\"user\", label = EXCLUDED.label, \
                     secret_hash = EXCLUDED.secret_hash, scope = EXCLUDED.scope, datasets = EXCLUDED.datasets, \
                     created = EXCLUDED.created, expires = EXCLUDED.expires, revoked = EXCLUDED.revoked, \
                     last_used = EXCLUDED.last_used"
                ),
                &[
                    &token.id,
                    &token.user,
                    &token.label,
                    &token.secret_hash,
                    &token.scope.as_str(),
                    &to_json(&token.datasets),
                    &token.created,
                    &token.expires,
                    &token.revoked,
                    &token.last_used,
                ],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn token(&self, id: &str) -> StoreResult<TokenRecord> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM gc_tokens WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .as_ref()
            .map(token_row)
            .ok_or_else(|| StoreError::not_found(format!("token '{id}' does not exist")))?
    }

    async fn tokens(&self, user: Option<&str>) -> StoreResult<Vec<TokenRecord>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM gc_tokens WHERE $1::text IS NULL OR \"user\" = $1 ORDER BY created, id"
                ),
                &[&user],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .iter()
            .map(token_row)
            .collect()
    }

    async fn put_session(&self, session: SessionRecord) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO gc_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (id_hash) DO UPDATE SET \"user\" = EXCLUDED.\"user\", csrf = EXCLUDED.csrf, \
                     created = EXCLUDED.created, last_seen = EXCLUDED.last_seen, expires = EXCLUDED.expires"
                ),
                &[
                    &session.id_hash,
                    &session.user,
                    &session.csrf,
                    &session.created,
                    &session.last_seen,
                    &session.expires,
                ],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<SessionRecord> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM gc_sessions WHERE id_hash = $1"),
                &[&id_hash],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .as_ref()
            .map(session_row)
            .ok_or_else(|| StoreError::not_found("no such session"))
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM gc_sessions WHERE id_hash = $1", &[&id_hash])
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn delete_sessions_of(&self, user: &str) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM gc_sessions WHERE \"user\" = $1", &[&user])
            .await
            .map_err(|e| self.wrap(e))
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM gc_sessions WHERE expires < $1", &[&now])
            .await
            .map_err(|e| self.wrap(e))
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO gc_audit (at, actor, action, target, outcome, source, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
                &[
                    &entry.at,
                    &entry.actor,
                    &entry.action,
                    &entry.target,
                    &entry.outcome,
                    &entry.source,
                    &entry.detail.to_string(),
                ],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        if let Some(actor) = filter.actor {
            conditions.push("actor = $");
            values.push(Box::new(actor));
        }
        if let Some(action) = filter.action {
            // starts_with, not LIKE: the prefix is data, and LIKE would read its '_' and '%' as wildcards.
            conditions.push("starts_with(action, $)");
            values.push(Box::new(action));
        }
        if let Some(target) = filter.target {
            conditions.push("starts_with(target, $)");
            values.push(Box::new(target));
        }
        if let Some(since) = filter.since {
            conditions.push("at >= $");
            values.push(Box::new(since));
        }
        if let Some(until) = filter.until {
            conditions.push("at <= $");
            values.push(Box::new(until));
        }
        if let Some(before) = filter.before {
            conditions.push("seq < $");
            values.push(Box::new(i64::try_from(before).unwrap_or(i64::MAX)));
        }
        let mut sql = String::from(
            "SELECT seq, at, actor, action, target, outcome, source, detail FROM gc_audit WHERE true",
        );
        for (i, clause) in conditions.iter().enumerate() {
            sql.push_str(" AND ");
            sql.push_str(&clause.replacen('$', &format!("${}", i + 1), 1));
        }
        values.push(Box::new(filter.limit.clamp(1, 10_000) as i64));
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", values.len()));
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref() as _).collect();
        let client = self.client().await?;
        let rows = client.query(&sql, &refs).await.map_err(|e| self.wrap(e))?;
        Ok(rows
            .iter()
            .map(|row| AuditRecord {
                seq: row.get::<_, i64>(0) as u64,
                entry: AuditEntry {
                    at: row.get(1),
                    actor: row.get(2),
                    action: row.get(3),
                    target: row.get(4),
                    outcome: row.get(5),
                    source: row.get(6),
                    detail: serde_json::from_str(row.get(7)).unwrap_or(serde_json::Value::Null),
                },
            })
            .collect())
    }
}
