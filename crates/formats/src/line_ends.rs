//! Where line breaks run together, so a CSV row's line number can be put right. The `csv` crate notes where
//! a row starts before it skips the line breaks in front of it: the LF of a CRLF (it ends a row at the CR and
//! takes the LF with the next row; BurntSushi/rust-csv#395) and blank lines. In a Windows file every row's
//! line number came out one too low, and every row after a blank line too. [`LineEnds`] sits under the
//! parser and notes the offsets of LFs that follow a CR or an LF; a row whose noted start falls on such a run
//! starts as many lines later as the run has LFs from there.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

/// The most offsets kept at once: the parser's read-ahead plus one row's CRLFs. A row with more line breaks
/// than this (a hostile file) leaves the rows in that stretch uncorrected rather than growing.
const MAX_NOTED: usize = 1 << 20;

#[derive(Debug, Default)]
struct Noted {
    /// Offsets of LFs that follow a CR or an LF, ascending, not yet passed by the parser.
    lfs: VecDeque<u64>,
    /// Offsets from here on went unnoted while the queue was full, up to the `.1` (exclusive).
    lost: Option<(u64, u64)>,
}

/// Asks how many line breaks lie between where the parser says a row starts and its first byte.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineEndsQuery(Arc<Mutex<Noted>>);

impl LineEndsQuery {
    /// The LFs in the run of line breaks that starts at `offset` (at its LF, or at the CR before it): 0
    /// when a row starts there. Offsets must be asked in ascending order, since what lies before `offset`
    /// is forgotten.
    pub(crate) fn lines_skipped_at(&self, offset: u64) -> u64 {
        let mut noted = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while noted.lfs.front().is_some_and(|&lf| lf < offset) {
            noted.lfs.pop_front();
        }
        if noted
            .lost
            .is_some_and(|(from, to)| (from..=to).contains(&offset))
        {
            return 0;
        }
        // Noted LFs of one run lie at most two bytes apart (a CR between): content between two breaks
        // makes the second one's predecessor content, and it is not noted.
        let mut skipped = 0;
        // The run's first LF is at `offset` or just after its CR.
        let mut reach = offset + 1;
        for &lf in &noted.lfs {
            if lf > reach {
                break;
            }
            skipped += 1;
            reach = lf + 2;
        }
        skipped
    }
}

/// A reader that notes, for [`LineEndsQuery`], where each LF that follows a CR or an LF lies.
#[derive(Debug)]
pub(crate) struct LineEnds<R> {
    inner: R,
    noted: LineEndsQuery,
    /// Bytes read so far.
    offset: u64,
    /// The last byte read was a CR or an LF.
    after_break: bool,
}

impl<R> LineEnds<R> {
    pub(crate) fn new(inner: R) -> (Self, LineEndsQuery) {
        let noted = LineEndsQuery::default();
        (
            Self {
                inner,
                noted: noted.clone(),
                offset: 0,
                after_break: false,
            },
            noted,
        )
    }
}

impl<R: Read> Read for LineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        // Most reads of an LF file have no run at all: two vectorised searches say so.
        let runs = (self.after_break && read.first() == Some(&b'\n'))
            || memchr::memmem::find(read, b"\r\n").is_some()
            || memchr::memmem::find(read, b"\n\n").is_some();
        if runs {
            let mut noted = self.noted.0.lock().unwrap_or_else(PoisonError::into_inner);
            let mut after_break = self.after_break;
            for (i, &b) in read.iter().enumerate() {
                if b == b'\n' && after_break {
                    let at = self.offset + i as u64;
                    if noted.lfs.len() < MAX_NOTED {
                        noted.lfs.push_back(at);
                    } else {
                        let from = noted.lost.map_or(at, |(from, _)| from);
                        noted.lost = Some((from, at + 1));
                    }
                }
                after_break = matches!(b, b'\r' | b'\n');
            }
        }
        self.after_break = read
            .last()
            .map_or(self.after_break, |&b| matches!(b, b'\r' | b'\n'));
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_breaks_of_each_run_across_reads() {
        // Offsets: a0 \r1 \n2 b3 \n4 \n5 c6 \r7 \n8 \r9 \n10 d11 \r12
        let text = b"a\r\nb\n\nc\r\n\r\nd\r";
        for chunk in [1, 3, 64] {
            let (mut reader, query) = LineEnds::new(io::Cursor::new(text.to_vec()));
            let mut buf = vec![0u8; chunk];
            while reader.read(&mut buf).expect("read") > 0 {}
            let skipped: Vec<u64> = (0..text.len() as u64)
                .map(|o| query.lines_skipped_at(o))
                .collect();
            assert_eq!(
                skipped,
                vec![0, 1, 1, 0, 1, 1, 0, 2, 2, 1, 1, 0, 0],
                "reads of {chunk} bytes"
            );
        }
    }
}
