//! Room `access`: who may do what. It owns accounts and their roles (viewer < editor < admin), per-dataset
//! grants, API tokens (shown once, kept as digests, scoped, expiring, revocable), login sessions with their
//! CSRF secret, password hashing (argon2id), throttling of failed logins, and the [`Principal`] every
//! request is judged by, with the one place that decides ([`Principal::allows`]). It writes the audit log
//! and reads it back for admins.
//!
//! Depends on `store` (the [`AccessStore`](geoconsole_store::AccessStore) contract), and on `model` for the
//! bounded excerpts an audit entry quotes. The HTTP side (cookies, headers, which route needs what) belongs
//! to `server`; the terminal side to `cli`.
#![forbid(unsafe_code)]

mod accounts;
mod audit;
mod error;
mod password;
mod principal;
mod secret;
mod throttle;

pub use accounts::{Accounts, LoginOutcome, NewToken, SessionPolicy, TokenRequest};
pub use error::{AccessError, AccessErrorKind, AccessResult};
pub use geoconsole_store::access::{
    AuditEntry, AuditFilter, AuditRecord, Grant, Role, SessionRecord, TokenRecord, UserRecord,
};
pub use password::MIN_PASSWORD_CHARS;
pub use principal::{Need, Principal, Scope, Via};
pub use secret::same as same_secret;
pub use throttle::ThrottleLimits;
