//! Why a poll failed. A failure changes no data, only the feed's health, which keeps the message: the
//! messages are the ones health records held before the error was typed, so the API, the CLI and their
//! tests read the same words.

use geoconsole_feeds::FetchError;
use geoconsole_formats::privacy::{Refusal, Remedy};
use geoconsole_store::StoreError;

use crate::AppError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    /// The stored definition's URL does not parse (checked when saved, so only an older definition).
    #[error("url: {0}")]
    Url(String),
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The reader's thread ended without an answer.
    #[error("reader failed: {0}")]
    Reader(#[from] tokio::task::JoinError),
    #[error("the body is not a {format} feed: {why}")]
    Read { format: &'static str, why: String },
    /// The data-protection guard refused the body; the message offers the way out this kind of poll has.
    #[error("{}", .0.explained(*.1))]
    Refused(Refusal, Remedy),
    /// The feed's memory could not be read or written.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The feed names a dataset id that is not one (checked when saved, so only an older definition).
    #[error("{0}")]
    Dataset(String),
    /// A paged source's service failed, or answered outside its protocol.
    #[error("{0}")]
    Source(#[from] geoconsole_feeds::connectors::ConnectorError),
    /// A full sync found nothing where the dataset holds rows: kept rather than emptied.
    #[error("{0}")]
    Empty(String),
    #[error("writing to dataset '{dataset}' failed: {source}")]
    Write { dataset: String, source: AppError },
}

/// A document feed's refusal: it has no columns to leave out.
impl From<Refusal> for PollError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal, Remedy::Feed)
    }
}
