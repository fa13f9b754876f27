use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The dataset or feature does not exist.
    NotFound,
    /// The write collides with what is there: the dataset exists, or a feature id is taken.
    Conflict,
    /// The request cannot be carried out as asked (bad cursor, a mode that does not fit).
    Invalid,
    /// The store file or server is not usable (not a GeoPackage, corrupt, unreachable).
    Unavailable,
    /// Anything else; details go to the log, not to clients.
    Internal,
}

#[derive(Debug, Error)]
#[error("{message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    /// For a conflict inside a written batch: the feature's position in it.
    position: Option<usize>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            position: None,
            source: None,
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn at_position(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::NotFound, what)
    }

    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    pub fn position(&self) -> Option<usize> {
        self.position
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
