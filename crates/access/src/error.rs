use std::fmt;

use geoconsole_store::{StoreError, StoreErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessErrorKind {
    /// The request itself is wrong (a short password, an unknown role).
    Invalid,
    /// No valid credentials: log in or send a token.
    Unauthenticated,
    /// Valid credentials that do not allow this.
    Forbidden,
    NotFound,
    /// Too many failed logins; try again later.
    Throttled,
    /// The store failed.
    Store,
}

#[derive(Debug, Clone)]
pub struct AccessError {
    pub kind: AccessErrorKind,
    pub message: String,
}

pub type AccessResult<T> = Result<T, AccessError>;

impl AccessError {
    pub fn new(kind: AccessErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(AccessErrorKind::Invalid, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(AccessErrorKind::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(AccessErrorKind::Forbidden, message)
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AccessError {}

impl From<StoreError> for AccessError {
    fn from(e: StoreError) -> Self {
        let kind = match e.kind() {
            StoreErrorKind::NotFound => AccessErrorKind::NotFound,
            _ => AccessErrorKind::Store,
        };
        Self::new(kind, e.to_string())
    }
}
