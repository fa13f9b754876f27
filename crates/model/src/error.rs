use thiserror::Error;

/// What went wrong, independent of where: lets callers map errors (e.g. to HTTP statuses) without string matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelErrorKind {
    /// A geometry breaks the rules of the model (range, finiteness, closure, emptiness).
    InvalidGeometry,
    /// A time value could not be understood.
    InvalidTime,
    /// An identifier (dataset id, kind name) is not acceptable.
    InvalidIdentifier,
    /// A bounding box is malformed.
    InvalidBbox,
}

#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct ModelError {
    kind: ModelErrorKind,
    message: String,
}

impl ModelError {
    pub fn new(kind: ModelErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ModelErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

pub type ModelResult<T> = Result<T, ModelError>;
