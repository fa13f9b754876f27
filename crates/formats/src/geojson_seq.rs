use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;

use geoconsole_model::Feature;

use crate::geojson_geometry::RawFeature;
use crate::record::Elevations;
use crate::record_bound::MAX_RECORD_BYTES;
use crate::write::{FeatureWriter, write_feature_json};
use crate::{FormatError, FormatErrorKind, FormatResult, Location, ReadNotes, SourceFeature};

/// Reads RFC 8142 GeoJSON text sequences (records led by the RS character) and newline-delimited GeoJSON.
/// Newline-delimited records are one per line; once a record opens with RS, records run from one RS to the
/// next, so a pretty-printed record spanning many lines (RFC 8142 allows any JSON text) reads whole. Each
/// record is its own feature, so a bad one is reported by the line it starts on and the others still read.
pub struct GeoJsonSeqReader<R> {
    path: PathBuf,
    reader: R,
    /// Lines consumed so far.
    line: u64,
    buffer: Vec<u8>,
    done: bool,
    /// Records are delimited by RS rather than by newlines.
    rs: bool,
    elevations: Elevations,
}

/// RFC 8142's record separator.
const RS: u8 = 0x1e;

impl<R: BufRead> GeoJsonSeqReader<R> {
    pub fn new(path: PathBuf, reader: R) -> Self {
        Self {
            elevations: Elevations::new(&path, ReadNotes::default()),
            path,
            reader,
            line: 0,
            buffer: Vec::with_capacity(4096),
            done: false,
            rs: false,
        }
    }

    /// Warnings about the file (Z dropped from lines and polygons) go to `notes`.
    #[must_use]
    pub fn noting(mut self, notes: &ReadNotes) -> Self {
        self.elevations = Elevations::new(&self.path, notes.clone());
        self
    }

    fn fatal(
        &mut self,
        kind: FormatErrorKind,
        message: String,
    ) -> Option<FormatResult<SourceFeature>> {
        self.done = true;
        Some(Err(FormatError::new(
            kind,
            &self.path,
            Location::Line(self.line + 1),
            message,
        )))
    }

    /// Appends the input up to and including `delimiter` to the buffer, bounded by the record limit.
    // The error is the stream's last item, boxed: it is rare and large.
    fn read_piece(
        &mut self,
        delimiter: u8,
    ) -> Result<usize, Box<Option<FormatResult<SourceFeature>>>> {
        let room = (MAX_RECORD_BYTES + 1).saturating_sub(self.buffer.len() as u64);
        match self
            .reader
            .by_ref()
            .take(room)
            .read_until(delimiter, &mut self.buffer)
        {
            Err(e) => Err(Box::new(self.fatal(FormatErrorKind::Io, e.to_string()))),
            Ok(_) if self.buffer.len() as u64 > MAX_RECORD_BYTES => Err(Box::new(self.fatal(
                FormatErrorKind::Syntax,
                format!(
                    "record longer than {} MiB",
                    MAX_RECORD_BYTES / (1024 * 1024)
                ),
            ))),
            Ok(n) => Ok(n),
        }
    }
}

impl<R: BufRead> Iterator for GeoJsonSeqReader<R> {
    type Item = FormatResult<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buffer.clear();
            let first = self.line == 0;
            let start = self.line + 1;
            let n = match self.read_piece(if self.rs { RS } else { b'\n' }) {
                Ok(n) => n,
                Err(item) => return *item,
            };
            if n == 0 {
                self.done = true;
                return None;
            }
            if !self.rs {
                let head = self.buffer.as_slice();
                let head = if first {
                    head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head)
                } else {
                    head
                };
                if head.trim_ascii_start().starts_with(&[RS]) {
                    // An RFC 8142 sequence: this record, and every later one, runs to the next RS.
                    self.rs = true;
                    if let Err(item) = self.read_piece(RS) {
                        return *item;
                    }
                }
            }
            // Where the record starts: past the blank lines before its text.
            let leading = self
                .buffer
                .iter()
                .take_while(|b| b.is_ascii_whitespace() || **b == RS)
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.line += self.buffer.iter().filter(|b| **b == b'\n').count() as u64;
            let mut record = self.buffer.as_slice();
            if first {
                record = record.strip_prefix(b"\xef\xbb\xbf").unwrap_or(record);
            }
            let record = record.trim_ascii();
            let record = record.strip_prefix(&[RS]).unwrap_or(record).trim_ascii();
            let record = record.strip_suffix(&[RS]).unwrap_or(record).trim_ascii();
            if record.is_empty() {
                continue;
            }
            let location = Location::Line(start + leading);
            let text = match std::str::from_utf8(record) {
                Ok(text) => text,
                Err(e) => {
                    // At the record's own line: the count has already moved past it.
                    self.done = true;
                    return Some(Err(FormatError::new(
                        FormatErrorKind::Encoding,
                        &self.path,
                        location,
                        format!(
                            "text is not valid UTF-8 (byte {} of the line); save the file as UTF-8",
                            e.valid_up_to() + 1
                        ),
                    )));
                }
            };
            let parsed = serde_json::from_str::<RawFeature>(text)
                .map_err(|e| {
                    let reason = e.to_string();
                    let reason = reason
                        .split(" at line ")
                        .next()
                        .unwrap_or(&reason)
                        .to_string();
                    if reason.contains("recursion limit") {
                        "JSON nested too deeply (more than 128 levels)".to_string()
                    } else if reason.contains("surrogate") || reason.contains("hex escape") {
                        crate::geojson::LONE_SURROGATE.to_string()
                    } else {
                        reason
                    }
                })
                .and_then(|raw| raw.into_feature(&mut self.elevations));
            return Some(match parsed {
                Ok(feature) => Ok(SourceFeature { location, feature }),
                Err(why) => Err(FormatError::new(
                    FormatErrorKind::InvalidFeature,
                    &self.path,
                    location,
                    why,
                )
                .with_snippet(text)),
            });
        }
        None
    }
}

/// Writes one feature per line (newline-delimited GeoJSON; with `rs` set, RFC 8142 record separators too).
pub struct GeoJsonSeqWriter<W: Write> {
    out: W,
    rs: bool,
    buffer: String,
}

impl<W: Write> GeoJsonSeqWriter<W> {
    pub fn new(out: W, rs: bool) -> Self {
        Self {
            out,
            rs,
            buffer: String::with_capacity(1024),
        }
    }
}

impl<W: Write + Send> FeatureWriter for GeoJsonSeqWriter<W> {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        self.buffer.clear();
        if self.rs {
            self.buffer.push('\u{1e}');
        }
        write_feature_json(feature, &mut self.buffer)?;
        self.buffer.push('\n');
        self.out.write_all(self.buffer.as_bytes())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<(u64, Feature), (u64, String)>> {
        GeoJsonSeqReader::new(PathBuf::from("t.geojsons"), text.as_bytes())
            .map(|item| match item {
                Ok(f) => Ok((line_of(f.location), f.feature)),
                Err(e) => Err((line_of(e.location()), e.message().to_string())),
            })
            .collect()
    }

    fn line_of(location: Location) -> u64 {
        match location {
            Location::Line(n) => n,
            other => panic!("not a line: {other:?}"),
        }
    }

    #[test]
    fn pretty_printed_records_after_the_record_separator_read_whole() {
        let point = |x: u32| {
            format!(
                "\u{1e}{{\n  \"type\": \"Feature\",\n  \"geometry\": {{\"type\": \"Point\",\n    \"coordinates\": [{x}, 2]}},\n  \"properties\": {{}}\n}}\n"
            )
        };
        let text = format!(
            "{}{}\u{1e}{{\"type\":\"Feature\",\"geometry\":null}}\n{}",
            point(1),
            point(3),
            point(5)
        );
        let got = read(&text);
        assert_eq!(got.len(), 4, "{got:?}");
        let lines: Vec<u64> = got
            .iter()
            .map(|r| *r.as_ref().map(|(l, _)| l).unwrap())
            .collect();
        assert_eq!(lines, vec![1, 7, 13, 14]);
        assert_eq!(got[2].as_ref().unwrap().1.geometry, None);
    }

    // From the fifth outside pass: bad UTF-8 was reported a line late, and a lone surrogate escape in
    // serde_json's words.
    #[test]
    fn encoding_errors_are_at_their_own_line_in_words_a_user_can_act_on() {
        let good = r#"{"type":"Feature","properties":{},"geometry":null}"#;
        let bytes = [
            good.as_bytes(),
            b"\n",
            b"{\"type\":\"Feature\",\"properties\":{\"a\":\"\xff\"},\"geometry\":null}",
            b"\n",
            good.as_bytes(),
            b"\n",
        ]
        .concat();
        let errors: Vec<(u64, String)> =
            GeoJsonSeqReader::new(PathBuf::from("t.geojsons"), &bytes[..])
                .filter_map(|item| item.err())
                .map(|e| (line_of(e.location()), e.message().to_string()))
                .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, 2, "{errors:?}");
        let lone = format!("{good}\n{}\n", good.replace("{}", r#"{"a":"\udc00"}"#));
        let got = read(&lone);
        let (line, why) = got[1].as_ref().unwrap_err();
        assert_eq!(*line, 2);
        assert!(why.contains("a \\u escape that is no character"), "{why}");
    }

    #[test]
    fn newline_delimited_records_keep_their_line_numbers() {
        let text = "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]}}\n\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,99]}}\n{\"type\":\"Feature\",\"geometry\":null}";
        let got = read(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().0, 1);
        let (line, why) = got[1].as_ref().unwrap_err();
        assert_eq!(*line, 3);
        assert!(why.contains("latitude 99"), "{why}");
        assert_eq!(got[2].as_ref().unwrap().0, 4);
    }

    #[test]
    fn a_bad_pretty_record_is_reported_at_its_line_and_the_next_still_reads() {
        let text = "\u{1e}{\n\"type\": \"Feature\",\n\"geometry\": {\"type\": \"Point\", \"coordinates\": [1, 2]\n\u{1e}{\"type\":\"Feature\",\"geometry\":null}\n";
        let got = read(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].as_ref().unwrap_err().0, 1);
        assert_eq!(got[1].as_ref().unwrap().0, 4);
    }
}
