use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// A parameter is malformed or out of range: the caller's fault.
    InvalidParameter,
}

#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct QueryError {
    kind: QueryErrorKind,
    message: String,
}

impl QueryError {
    pub fn new(kind: QueryErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> QueryErrorKind {
        self.kind
    }
}

pub type QueryResult<T> = Result<T, QueryError>;
