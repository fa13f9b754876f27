//! What every reader hands on and how: features with where they came from ([`SourceFeature`]), the
//! options and notes a read shares ([`ReadOptions`], [`ReadNotes`]), and the producer thread that parses a
//! bounded number of chunks ahead of the consumer ([`spawn_producer`]). Readers depend on this room; the
//! dispatch that picks a reader (`read`) depends on them, so nothing here knows any reader.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use geoconsole_model::{Bbox, Feature};

use crate::archive::ArchiveLimits;
use crate::{Crs, CsvOptions, Format, FormatError, FormatResult, Location, TextEncoding};

/// A feature and where it came from in its file.
#[derive(Debug, Clone)]
pub struct SourceFeature {
    pub location: Location,
    pub feature: Feature,
}

/// The stream every reader produces. Recoverable errors (one bad feature) are followed by more items; any
/// other error is the last item.
pub type FeatureStream = Box<dyn Iterator<Item = FormatResult<SourceFeature>> + Send>;

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Forces a format instead of detecting it from content and extension.
    pub format: Option<Format>,
    pub csv: CsvOptions,
    /// Incremented with every byte read from the file, for progress bars.
    pub bytes_read: Option<Arc<AtomicU64>>,
    /// Which layer of a multi-layer source: a GeoPackage table, a GPX layer, a member of a zip.
    pub layer: Option<String>,
    /// The CRS of the coordinates when the file does not say (or says wrong).
    pub source_crs: Option<Crs>,
    /// Only features whose extent meets this box; FlatGeobuf answers it from its index.
    pub bbox: Option<Bbox>,
    /// Caps on zip archives.
    pub archive: ArchiveLimits,
    /// Where archive members and streamed files that must be seeked are unpacked (the console's staging
    /// folder); the system's temporary folder when not given.
    pub staging: Option<PathBuf>,
    /// The text encoding of a shapefile's attributes, over what its .cpg or .dbf header says.
    pub encoding: Option<TextEncoding>,
    /// Where readers leave what the user should be told besides errors; shared by clones.
    pub notes: ReadNotes,
}

/// What readers want the user told besides errors: an encoding assumed, characters that did not decode
/// (each naming its file, record and field). Clones share one list, so the caller reads what the reader
/// thread wrote; it keeps [`MAX_NOTES`] and counts the rest, so a file of a million bad values cannot fill
/// memory with warnings.
#[derive(Debug, Clone, Default)]
pub struct ReadNotes(Arc<Mutex<(Vec<String>, u64)>>);

/// Warnings kept by [`ReadNotes`]; more are counted.
pub const MAX_NOTES: usize = 100;

impl ReadNotes {
    pub fn warn(&self, message: impl Into<String>) {
        let mut notes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if notes.0.len() < MAX_NOTES {
            notes.0.push(message.into());
        } else {
            notes.1 += 1;
        }
    }

    /// The warnings so far, with a last line counting those not kept.
    pub fn warnings(&self) -> Vec<String> {
        let notes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = notes.0.clone();
        if notes.1 > 0 {
            all.push(format!("{} more warnings like these", notes.1));
        }
        all
    }
}

/// Buffer size for file reads: large enough that syscalls do not show in profiles.
pub(crate) const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Features travel between threads in chunks: one channel operation per chunk, not per feature.
const CHUNK_FEATURES: usize = 512;
/// Chunks in flight: bounds memory to a few thousand features whatever the file size.
const CHUNKS_IN_FLIGHT: usize = 8;

type Chunk = Vec<FormatResult<SourceFeature>>;

/// The producing half of a chunked channel. `push` returns false once the consumer has gone away.
pub(crate) struct ChunkSender {
    sender: SyncSender<Chunk>,
    chunk: Chunk,
}

impl ChunkSender {
    pub(crate) fn push(&mut self, item: FormatResult<SourceFeature>) -> bool {
        self.chunk.push(item);
        if self.chunk.len() >= CHUNK_FEATURES {
            return self.flush();
        }
        true
    }

    pub(crate) fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_FEATURES));
        self.sender.send(chunk).is_ok()
    }
}

/// The consuming half: an iterator over the features the producing thread sends.
pub struct ChunkReceiver {
    receiver: Receiver<Chunk>,
    current: std::vec::IntoIter<FormatResult<SourceFeature>>,
}

impl Iterator for ChunkReceiver {
    type Item = FormatResult<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.receiver.recv().ok()?.into_iter();
        }
    }
}

/// Runs `produce` on its own thread with a sender, returning the receiving iterator.
pub(crate) fn spawn_producer(
    name: &str,
    produce: impl FnOnce(&mut ChunkSender) + Send + 'static,
) -> ChunkReceiver {
    let (sender, receiver) = sync_channel(CHUNKS_IN_FLIGHT);
    let thread_name = name.to_string();
    let spawned = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let mut chunks = ChunkSender {
                sender,
                chunk: Vec::with_capacity(CHUNK_FEATURES),
            };
            // A panic in a reader (a parsing library's bug on a hostile file; fuzzing found one in
            // flatgeobuf) must end the stream with an error: ended silently, the stream would look like
            // the end of the file, and an import would commit what came before.
            let produced =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| produce(&mut chunks)));
            if let Err(panic) = produced {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown");
                chunks.push(Err(FormatError::new(
                    crate::FormatErrorKind::Syntax,
                    &PathBuf::from(&thread_name),
                    Location::File,
                    format!("the reader stopped on an internal error ({why}); the file is refused"),
                )));
            }
            chunks.flush();
        });
    if let Err(e) = spawned {
        // Without a thread there is nothing to read from; report it as the stream's only item.
        let (tx, rx) = sync_channel(1);
        let error = FormatError::new(
            crate::FormatErrorKind::Io,
            &PathBuf::from(name),
            Location::File,
            format!("cannot start reader thread: {e}"),
        );
        let _ = tx.send(vec![Err(error)]);
        return ChunkReceiver {
            receiver: rx,
            current: Vec::new().into_iter(),
        };
    }
    ChunkReceiver {
        receiver,
        current: Vec::new().into_iter(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: a reader thread that panicked (flatgeobuf on a property length past the end of its
    // buffer) ended the stream as if the file had ended, and an import committed what came before.
    #[test]
    fn a_reader_that_panics_ends_its_stream_with_an_error() {
        let stream = spawn_producer("geoconsole-test", |_| panic!("a library's bug"));
        let items: Vec<_> = stream.collect();
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().expect_err("an error, not an end");
        assert!(
            err.message().contains("internal error (a library's bug)"),
            "{err}"
        );
        assert!(!err.is_recoverable());
    }
}
