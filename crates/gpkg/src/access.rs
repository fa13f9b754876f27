//! Accounts, tokens, sessions and the audit log in the GeoPackage, as plain SQLite tables beside the
//! features. The audit table refuses UPDATE and DELETE with triggers, so even a tool that opens the file
//! directly cannot quietly rewrite history (it would have to drop the trigger first, which is itself
//! visible in the schema).

use chrono::{DateTime, Utc};
use geoconsole_store::access::{
    AccessStore, AuditEntry, AuditFilter, AuditRecord, Role, SessionRecord, TokenRecord, UserRecord,
};
use geoconsole_store::{StoreError, StoreResult};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use crate::GpkgStore;
use crate::alerts::parse_ts;
use crate::connection::sqlite_error;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gc_users (
  name TEXT PRIMARY KEY NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  datasets TEXT,
  created TEXT NOT NULL,
  updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gc_tokens (
  id TEXT PRIMARY KEY NOT NULL,
  user TEXT NOT NULL,
  label TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  scope TEXT NOT NULL,
  datasets TEXT,
  created TEXT NOT NULL,
  expires TEXT,
  revoked TEXT,
  last_used TEXT
);
CREATE INDEX IF NOT EXISTS gc_tokens_user ON gc_tokens (user);
CREATE TABLE IF NOT EXISTS gc_sessions (
  id_hash TEXT PRIMARY KEY NOT NULL,
  user TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gc_sessions_user ON gc_sessions (user);
CREATE TABLE IF NOT EXISTS gc_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  source TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gc_audit_at ON gc_audit (at);
CREATE INDEX IF NOT EXISTS gc_audit_actor ON gc_audit (actor, seq);
CREATE TRIGGER IF NOT EXISTS gc_audit_no_update BEFORE UPDATE ON gc_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gc_audit_no_delete BEFORE DELETE ON gc_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// Fixed-width RFC 3339 with nanoseconds: text order is time order, and instants round-trip exactly.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn opt_ts(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts)
}

fn parse_opt(text: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    text.as_deref().map(parse_ts).transpose()
}

fn parse_role(text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role '{text}'").into(),
        )
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> rusqlite::Result<Option<T>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

const USER_COLUMNS: &str = "name, role, password_hash, disabled, datasets, created, updated";

fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        name: row.get(0)?,
        role: parse_role(&row.get::<_, String>(1)?)?,
        password_hash: row.get(2)?,
        disabled: row.get(3)?,
        datasets: parse_json(row.get(4)?)?,
        created: parse_ts(&row.get::<_, String>(5)?)?,
        updated: parse_ts(&row.get::<_, String>(6)?)?,
    })
}

const TOKEN_COLUMNS: &str =
    "id, user, label, secret_hash, scope, datasets, created, expires, revoked, last_used";

fn token_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        label: row.get(2)?,
        secret_hash: row.get(3)?,
        scope: parse_role(&row.get::<_, String>(4)?)?,
        datasets: parse_json(row.get(5)?)?,
        created: parse_ts(&row.get::<_, String>(6)?)?,
        expires: parse_opt(row.get(7)?)?,
        revoked: parse_opt(row.get(8)?)?,
        last_used: parse_opt(row.get(9)?)?,
    })
}

const SESSION_COLUMNS: &str = "id_hash, user, csrf, created, last_seen, expires";

fn session_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id_hash: row.get(0)?,
        user: row.get(1)?,
        csrf: row.get(2)?,
        created: parse_ts(&row.get::<_, String>(3)?)?,
        last_seen: parse_ts(&row.get::<_, String>(4)?)?,
        expires: parse_ts(&row.get::<_, String>(5)?)?,
    })
}

fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.get::<_, i64>(0)? as u64,
        entry: AuditEntry {
            at: parse_ts(&row.get::<_, String>(1)?)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            target: row.get(4)?,
            outcome: row.get(5)?,
            source: row.get(6)?,
            detail: serde_json::from_str(&row.get::<_, String>(7)?)
                .unwrap_or(serde_json::Value::Null),
        },
    })
}

fn to_json<T: serde::Serialize>(value: &Option<T>) -> Option<String> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
}

/// `LIKE` pattern matching text that starts with `prefix`, with its own wildcards escaped.
fn starts_with(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait::async_trait]
impl AccessStore for GpkgStore {
    async fn put_user(&self, user: UserRecord) -> StoreResult<()> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO gc_users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    user.name,
                    user.role.as_str(),
                    user.password_hash,
                    user.disabled,
                    to_json(&user.datasets),
                    ts(user.created),
                    ts(user.updated)
                ],
            )
            .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn user(&self, name: &str) -> StoreResult<UserRecord> {
        let name = name.to_string();
        self.with_conn(move |conn, path| {
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM gc_users WHERE name = ?1"),
                [&name],
                user_row,
            )
            .optional()
            .map_err(|e| sqlite_error(path, e))?
            .ok_or_else(|| StoreError::not_found(format!("user '{name}' does not exist")))
        })
        .await
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        self.with_conn(|conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {USER_COLUMNS} FROM gc_users ORDER BY name"
                ))
                .map_err(wrap)?;
            let rows = stmt.query_map([], user_row).map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn put_token(&self, token: TokenRecord) -> StoreResult<()> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO gc_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    token.id,
                    token.user,
                    token.label,
                    token.secret_hash,
                    token.scope.as_str(),
                    to_json(&token.datasets),
                    ts(token.created),
                    opt_ts(token.expires),
                    opt_ts(token.revoked),
                    opt_ts(token.last_used)
                ],
            )
            .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn token(&self, id: &str) -> StoreResult<TokenRecord> {
        let id = id.to_string();
        self.with_conn(move |conn, path| {
            conn.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM gc_tokens WHERE id = ?1"),
                [&id],
                token_row,
            )
            .optional()
            .map_err(|e| sqlite_error(path, e))?
            .ok_or_else(|| StoreError::not_found(format!("token '{id}' does not exist")))
        })
        .await
    }

    async fn tokens(&self, user: Option<&str>) -> StoreResult<Vec<TokenRecord>> {
        let user = user.map(str::to_string);
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM gc_tokens WHERE ?1 IS NULL OR user = ?1 ORDER BY created, id"
                ))
                .map_err(wrap)?;
            let rows = stmt.query_map([&user], token_row).map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn put_session(&self, session: SessionRecord) -> StoreResult<()> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO gc_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    session.id_hash,
                    session.user,
                    session.csrf,
                    ts(session.created),
                    ts(session.last_seen),
                    ts(session.expires)
                ],
            )
            .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn session(&self, id_hash: &str) -> StoreResult<SessionRecord> {
        let id_hash = id_hash.to_string();
        self.with_conn(move |conn, path| {
            conn.query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM gc_sessions WHERE id_hash = ?1"),
                [&id_hash],
                session_row,
            )
            .optional()
            .map_err(|e| sqlite_error(path, e))?
            .ok_or_else(|| StoreError::not_found("no such session"))
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let (id_hash, path) = (id_hash.to_string(), self.path().to_path_buf());
        self.write_tx(move |tx| {
            tx.execute("DELETE FROM gc_sessions WHERE id_hash = ?1", [&id_hash])
                .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn delete_sessions_of(&self, user: &str) -> StoreResult<u64> {
        let (user, path) = (user.to_string(), self.path().to_path_buf());
        self.write_tx(move |tx| {
            let n = tx
                .execute("DELETE FROM gc_sessions WHERE user = ?1", [&user])
                .map_err(|e| sqlite_error(&path, e))?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            let n = tx
                .execute("DELETE FROM gc_sessions WHERE expires < ?1", [ts(now)])
                .map_err(|e| sqlite_error(&path, e))?;
            Ok(n as u64)
        })
        .await
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<u64> {
        let path = self.path().to_path_buf();
        self.write_tx(move |tx| {
            tx.execute(
                "INSERT INTO gc_audit (at, actor, action, target, outcome, source, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    ts(entry.at),
                    entry.actor,
                    entry.action,
                    entry.target,
                    entry.outcome,
                    entry.source,
                    entry.detail.to_string()
                ],
            )
            .map_err(|e| sqlite_error(&path, e))?;
            Ok(tx.last_insert_rowid() as u64)
        })
        .await
    }

    async fn audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut conditions: Vec<(&str, SqlValue)> = Vec::new();
            if let Some(actor) = &filter.actor {
                conditions.push(("actor = ?", SqlValue::Text(actor.clone())));
            }
            if let Some(action) = &filter.action {
                conditions.push(("action LIKE ? ESCAPE '\\'", SqlValue::Text(starts_with(action))));
            }
            if let Some(target) = &filter.target {
                conditions.push(("target LIKE ? ESCAPE '\\'", SqlValue::Text(starts_with(target))));
            }
            if let Some(since) = filter.since {
                conditions.push(("at >= ?", SqlValue::Text(ts(since))));
            }
            if let Some(until) = filter.until {
                conditions.push(("at <= ?", SqlValue::Text(ts(until))));
            }
            if let Some(before) = filter.before {
                let before = i64::try_from(before).unwrap_or(i64::MAX);
                conditions.push(("seq < ?", SqlValue::Integer(before)));
            }
            let mut sql = String::from(
                "SELECT seq, at, actor, action, target, outcome, source, detail FROM gc_audit WHERE 1 = 1",
            );
            let mut values = Vec::with_capacity(conditions.len() + 1);
            for (clause, value) in conditions {
                sql.push_str(" AND ");
                sql.push_str(clause);
                values.push(value);
            }
            sql.push_str(" ORDER BY seq DESC LIMIT ?");
            values.push(SqlValue::Integer(filter.limit.clamp(1, 10_000) as i64));
            let mut stmt = conn.prepare(&sql).map_err(wrap)?;
            let rows = stmt
                .query_map(params_from_iter(values.iter()), audit_row)
                .map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }
}
