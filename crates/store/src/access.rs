//! The durable side of access control: accounts, API tokens, login sessions and the audit log. The store
//! keeps what the `access` room decides; it never hashes, checks or interprets a secret itself. Secrets
//! are stored only as digests.
//!
//! The audit log is append-only by contract: there is no method to change or remove an entry, and
//! backends refuse it below this trait too (the GeoPackage store with triggers).
//!
//! Instants are kept to the microsecond, PostgreSQL's precision: finer parts may be lost.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// What an account may do, each role including the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads data, maps, analytics, alerts, feeds and rules.
    Viewer,
    /// Also imports, edits rules and feeds, and acknowledges alerts.
    Editor,
    /// Also manages accounts, everyone's tokens, and reads the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// A token's scope in the words of what it allows: read, write, admin.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Viewer => "read",
            Self::Editor => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse_scope(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.scope() == text)
    }
}

/// What an account may do with one dataset when its access is limited to named datasets.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Grant {
    Read,
    Write,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    /// PHC string (argon2id); never the password.
    pub password_hash: String,
    pub disabled: bool,
    /// `None`: every dataset the role allows. `Some`: only these, each read or read and write.
    pub datasets: Option<BTreeMap<String, Grant>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// An API token as stored: its public id, and a digest of its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    pub label: String,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// The most the token may do; the account's role caps it further.
    pub scope: Role,
    /// `None`: whatever the account may reach. `Some`: only these datasets.
    pub datasets: Option<Vec<String>>,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
}

/// A login session as stored, keyed by a digest of the cookie's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user: String,
    /// Sent back with every cookie-authenticated write (header `X-CSRF-Token`).
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The absolute end, whatever the activity.
    pub expires: DateTime<Utc>,
}

/// Something that happened, as written to the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// `user:NAME`, `token:ID (NAME)`, `cli:OSUSER`, `local` or `anonymous`.
    pub actor: String,
    /// What was attempted: `login`, `logout`, `import`, `rules.put`, `POST /feeds`, ...
    pub action: String,
    /// What it was done to: a dataset, rule, feed, user, token or path.
    pub target: String,
    /// `ok`, `refused` or `failed`, with the HTTP status where there is one: `refused 403`.
    pub outcome: String,
    /// Where from: the client's address, or `cli`.
    pub source: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact actor.
    pub actor: Option<String>,
    /// Entries whose action starts with this.
    pub action: Option<String>,
    /// Entries whose target starts with this.
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this sequence number (paging).
    pub before: Option<u64>,
    pub limit: usize,
}

#[async_trait]
pub trait AccessStore: Send + Sync + Debug {
    /// Creates an account or replaces it, keyed by name.
    async fn put_user(&self, user: UserRecord) -> StoreResult<()>;
    /// One account; `NotFound` when absent.
    async fn user(&self, name: &str) -> StoreResult<UserRecord>;
    async fn users(&self) -> StoreResult<Vec<UserRecord>>;

    /// Creates a token or replaces it, keyed by id.
    async fn put_token(&self, token: TokenRecord) -> StoreResult<()>;
    /// One token; `NotFound` when absent.
    async fn token(&self, id: &str) -> StoreResult<TokenRecord>;
    /// Every token, or those of one account.
    async fn tokens(&self, user: Option<&str>) -> StoreResult<Vec<TokenRecord>>;

    async fn put_session(&self, session: SessionRecord) -> StoreResult<()>;
    /// One session; `NotFound` when absent.
    async fn session(&self, id_hash: &str) -> StoreResult<SessionRecord>;
    /// Ends one session; ending an absent one is not an error (logout is idempotent).
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every session of an account (disabled, password or role changed); returns how many.
    async fn delete_sessions_of(&self, user: &str) -> StoreResult<u64>;
    /// Forgets sessions that ended before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Appends an entry and returns its sequence number (increasing, never reused).
    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<u64>;
    async fn audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRecord>>;
}
