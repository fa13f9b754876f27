use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;

use geoconsole_model::Feature;

use crate::geojson_geometry::RawFeature;
use crate::record_bound::MAX_RECORD_BYTES;
use crate::write::{FeatureWriter, write_feature_json};
use crate::{FormatError, FormatErrorKind, FormatResult, Location, SourceFeature};

/// Reads RFC 8142 GeoJSON text sequences (records led by the RS character) and newline-delimited GeoJSON.
/// Each line is its own feature, so a bad line is reported by number and the others still read.
pub struct GeoJsonSeqReader<R> {
    path: PathBuf,
    reader: R,
    line: u64,
    buffer: Vec<u8>,
    done: bool,
}

impl<R: BufRead> GeoJsonSeqReader<R> {
    pub fn new(path: PathBuf, reader: R) -> Self {
        Self {
            path,
            reader,
            line: 0,
            buffer: Vec::with_capacity(4096),
            done: false,
        }
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
            Location::Line(self.line),
            message,
        )))
    }
}

impl<R: BufRead> Iterator for GeoJsonSeqReader<R> {
    type Item = FormatResult<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buffer.clear();
            self.line += 1;
            let read = self
                .reader
                .by_ref()
                .take(MAX_RECORD_BYTES + 1)
                .read_until(b'\n', &mut self.buffer);
            match read {
                Err(e) => return self.fatal(FormatErrorKind::Io, e.to_string()),
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(n) if n as u64 > MAX_RECORD_BYTES => {
                    return self.fatal(
                        FormatErrorKind::Syntax,
                        format!(
                            "record longer than {} MiB",
                            MAX_RECORD_BYTES / (1024 * 1024)
                        ),
                    );
                }
                Ok(_) => {}
            }
            let mut record = self.buffer.as_slice();
            if self.line == 1 {
                record = record.strip_prefix(b"\xef\xbb\xbf").unwrap_or(record);
            }
            let record = record.trim_ascii();
            let record = record.strip_prefix(b"\x1e").unwrap_or(record).trim_ascii();
            if record.is_empty() {
                continue;
            }
            let location = Location::Line(self.line);
            let text = match std::str::from_utf8(record) {
                Ok(text) => text,
                Err(e) => {
                    return self.fatal(
                        FormatErrorKind::Encoding,
                        format!(
                            "text is not valid UTF-8 (byte {} of the line); save the file as UTF-8",
                            e.valid_up_to() + 1
                        ),
                    );
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
                    } else {
                        reason
                    }
                })
                .and_then(RawFeature::into_feature);
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
