use geoconsole_formats::FormatError;
use geoconsole_store::{StoreError, StoreErrorKind};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppErrorKind {
    /// The input file or its content is at fault; nothing was changed.
    Input,
    /// The options do not fit the data or each other.
    Invalid,
    /// The dataset or feature does not exist.
    NotFound,
    /// The change collides with what is stored (dataset exists, duplicate id).
    Conflict,
    /// The store is unusable (not a GeoPackage, locked, unreachable).
    Unavailable,
    /// A fault of ours or of the machine; details are logged.
    Internal,
}

#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    Format(#[from] FormatError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{message}")]
    Other { kind: AppErrorKind, message: String },
}

impl AppError {
    pub fn new(kind: AppErrorKind, message: impl Into<String>) -> Self {
        Self::Other {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> AppErrorKind {
        match self {
            Self::Format(_) => AppErrorKind::Input,
            Self::Store(e) => e.kind().into(),
            Self::Other { kind, .. } => *kind,
        }
    }
}

impl From<StoreErrorKind> for AppErrorKind {
    fn from(kind: StoreErrorKind) -> Self {
        match kind {
            StoreErrorKind::NotFound => AppErrorKind::NotFound,
            StoreErrorKind::Conflict => AppErrorKind::Conflict,
            StoreErrorKind::Invalid => AppErrorKind::Invalid,
            StoreErrorKind::Unavailable => AppErrorKind::Unavailable,
            StoreErrorKind::Internal => AppErrorKind::Internal,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
