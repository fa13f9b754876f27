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
    /// The caller holds as much as its quota allows (uploads staged at once); it must finish or remove
    /// something first.
    Quota,
    /// What was sent is larger than what the caller may still store.
    TooLarge,
    /// The machine's disk has no room left to keep its reserve.
    NoSpace,
    /// A fault of ours or of the machine; details are logged.
    Internal,
}

/// Longest message an error keeps.
const MESSAGE_CHARS: usize = 4000;

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
        let message = message.into();
        Self::Other {
            kind,
            // Messages quote input through `excerpt`; this bounds whatever else they picked up.
            message: geoconsole_model::excerpt(&message, MESSAGE_CHARS).into_owned(),
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
