//! The most one record may take while it is parsed. Parsers of text formats buffer a whole record (a CSV
//! row, a KML placemark, a GeoJSON feature) before they can judge it, so a record without an end (a 1 GB
//! line in a 1 MB zip) would be buffered whole: it once took 985 MiB. [`RecordBound`] sits between the
//! file and the parser and refuses to hand out more than the cap since the parser last said a record
//! ended ([`RecordMark::ended`]); the parser then fails with a located error instead of growing.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most bytes one record of a text format may hold: a CSV row (a WKT cell of a million vertices fits),
/// a KML placemark, a GeoJSON feature. The same as a GeoJSONSeq line.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// The most bytes a CSV header row may hold.
pub const MAX_HEADER_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Default)]
struct Shared {
    /// Bumped by every mark; the reader restarts its count when it changes.
    epoch: AtomicU64,
    max: AtomicU64,
}

/// How the parser tells the reader beneath it that a record ended, or that the next ones have another cap.
#[derive(Debug, Clone)]
pub(crate) struct RecordMark(Arc<Shared>);

impl RecordMark {
    /// The current record ended: the next one gets the whole cap.
    pub(crate) fn ended(&self) {
        self.0.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Records from now on may hold at most `max` bytes (and the current one starts over).
    pub(crate) fn limit(&self, max: u64) {
        self.0.max.store(max, Ordering::Relaxed);
        self.ended();
    }
}

/// A reader that hands out at most the cap (plus one byte, for the record's terminator) between two marks,
/// and after that fails with [`record_too_long`]'s error.
#[derive(Debug)]
pub(crate) struct RecordBound<R> {
    inner: R,
    shared: Arc<Shared>,
    seen_epoch: u64,
    /// Bytes handed out since the last mark seen.
    used: u64,
}

impl<R> RecordBound<R> {
    pub(crate) fn new(inner: R, max: u64) -> (Self, RecordMark) {
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            max: AtomicU64::new(max),
        });
        let mark = RecordMark(Arc::clone(&shared));
        (
            Self {
                inner,
                shared,
                seen_epoch: 0,
                used: 0,
            },
            mark,
        )
    }

    /// Bytes the current record may still take, or the error once it has taken them all.
    fn allowance(&mut self) -> io::Result<u64> {
        let epoch = self.shared.epoch.load(Ordering::Relaxed);
        if epoch != self.seen_epoch {
            self.seen_epoch = epoch;
            self.used = 0;
        }
        let max = self.shared.max.load(Ordering::Relaxed);
        let left = (max + 1).saturating_sub(self.used);
        if left == 0 {
            return Err(record_too_long(max));
        }
        Ok(left)
    }
}

/// The error a record beyond the cap ends the read with; its text is what the reader's message says.
pub(crate) fn record_too_long(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "record longer than {} MiB (a line, row or placemark without an end?); refused before it \
             is buffered",
            max.div_ceil(1024 * 1024)
        ),
    )
}

/// Whether an I/O error is the one [`RecordBound`] ends a read with.
pub(crate) fn is_record_too_long(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::InvalidData
        && error.to_string().starts_with("record longer than")
}

impl<R: Read> Read for RecordBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.allowance()?;
        let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..take])?;
        self.used += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for RecordBound<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let left = self.allowance()?;
        let available = self.inner.fill_buf()?;
        let take = available
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        Ok(&available[..take])
    }

    fn consume(&mut self, amount: usize) {
        self.used += amount as u64;
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_gets_the_cap_and_no_more() {
        let (mut bound, mark) = RecordBound::new(&b"0123456789abcdef"[..], 4);
        let mut first = [0u8; 16];
        assert_eq!(
            bound.read(&mut first).expect("read"),
            5,
            "the cap and one byte"
        );
        let error = bound.read(&mut first).expect_err("the cap is reached");
        assert!(is_record_too_long(&error), "{error}");
        mark.ended();
        assert_eq!(
            bound.read(&mut first).expect("read"),
            5,
            "a new record, a new cap"
        );
        mark.limit(100);
        let mut rest = Vec::new();
        bound.read_to_end(&mut rest).expect("read");
        assert_eq!(rest, b"abcdef");
    }

    #[test]
    fn buffered_reads_are_bounded_too() {
        let (mut bound, _mark) = RecordBound::new(io::Cursor::new(vec![b'x'; 100]), 9);
        let mut line = Vec::new();
        let error = bound.read_until(b'\n', &mut line).expect_err("no end");
        assert!(is_record_too_long(&error));
        assert_eq!(line.len(), 10);
    }
}
