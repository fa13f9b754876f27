//! Archives built byte by byte, for the ones no honest zip writer makes: two entries of one name, a
//! local header that disagrees with the central directory, sizes that lie, a bomb of a gigabyte in a
//! megabyte (deflate blocks repeated, so building it costs what compressing one block does).
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// One entry as written: its name in the central directory (and, unless told, in its local header), the
/// stored bytes, the method (0 stored, 8 deflate), and what the headers declare.
pub struct Entry {
    pub name: String,
    pub local_name: Option<String>,
    pub data: Vec<u8>,
    pub method: u16,
    pub crc: u32,
    pub size: u64,
    pub directory: bool,
}

impl Entry {
    /// A stored entry, declared truthfully.
    pub fn stored(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.into(),
            local_name: None,
            data: data.to_vec(),
            method: 0,
            crc: crc32(data),
            size: data.len() as u64,
            directory: false,
        }
    }

    /// A folder entry (`name` ends with `/`).
    pub fn folder(name: &str) -> Self {
        Self {
            directory: true,
            ..Self::stored(name, b"")
        }
    }

    /// A deflated entry that inflates to `repeats` MiB of `byte`: one compressed mebibyte, repeated.
    /// Its checksum is not computed (a reader stopped by a cap never gets to it).
    pub fn bomb(name: &str, byte: u8, repeats: usize) -> Self {
        let block = deflated_mebibyte(byte);
        let mut data = Vec::with_capacity(block.len() * repeats + 2);
        for _ in 0..repeats {
            data.extend_from_slice(&block);
        }
        // A final, empty fixed-Huffman block.
        data.extend_from_slice(&[0x03, 0x00]);
        Self {
            name: name.into(),
            local_name: None,
            data,
            method: 8,
            crc: 0,
            size: (repeats as u64) << 20,
            directory: false,
        }
    }
}

impl Entry {
    /// A bomb followed by `tail` MiB of stored (uncompressed) bytes: its whole compressed size is large, so
    /// only a ratio taken as it inflates sees the bomb at its start.
    pub fn bomb_with_tail(name: &str, byte: u8, repeats: usize, tail: usize) -> Self {
        let mut entry = Self::bomb(name, byte, repeats);
        entry.data.truncate(entry.data.len() - 2);
        for _ in 0..tail * 16 {
            let block = [b'x'; 65536 - 1];
            entry.data.push(0x00);
            entry
                .data
                .extend_from_slice(&(block.len() as u16).to_le_bytes());
            entry
                .data
                .extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
            entry.data.extend_from_slice(&block);
        }
        entry.data.extend_from_slice(&[0x03, 0x00]);
        entry.size += (tail as u64) * 16 * 65535;
        entry
    }
}

/// One MiB of `byte` as raw deflate blocks ending byte-aligned with no history needed, so copies of it
/// can follow each other in one stream.
fn deflated_mebibyte(byte: u8) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let input = vec![byte; 1 << 20];
    let mut compress = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(8192);
    compress
        .compress_vec(&input, &mut out, FlushCompress::Full)
        .expect("deflate");
    assert_eq!(
        compress.total_in(),
        1 << 20,
        "one call takes the whole input"
    );
    out
}

/// Writes the entries as a zip at `path`: local headers and data, then the central directory.
pub fn write(path: &Path, entries: &[Entry]) {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let local_name = entry.local_name.as_deref().unwrap_or(&entry.name);
        header(&mut out, 0x0403_4b50, entry, local_name, None);
        out.extend_from_slice(&entry.data);
        header(&mut central, 0x0201_4b50, entry, &entry.name, Some(offset));
    }
    let central_at = out.len() as u32;
    let central_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .expect("write zip");
}

fn header(out: &mut Vec<u8>, signature: u32, entry: &Entry, name: &str, offset: Option<u32>) {
    out.extend_from_slice(&signature.to_le_bytes());
    if offset.is_some() {
        out.extend_from_slice(&20u16.to_le_bytes()); // made by
    }
    out.extend_from_slice(&20u16.to_le_bytes()); // needed
    out.extend_from_slice(&0x0800u16.to_le_bytes()); // names are UTF-8
    out.extend_from_slice(&entry.method.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0x21, 0]); // 1980-01-01 00:00
    out.extend_from_slice(&entry.crc.to_le_bytes());
    out.extend_from_slice(&(entry.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(entry.size as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // extra
    if let Some(offset) = offset {
        out.extend_from_slice(&0u16.to_le_bytes()); // comment
        out.extend_from_slice(&0u16.to_le_bytes()); // disk
        out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        let external: u32 = if entry.directory { 0x10 } else { 0 };
        out.extend_from_slice(&external.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
    }
    out.extend_from_slice(name.as_bytes());
}

/// CRC-32 (IEEE), bit by bit: the entries it is used for are small.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A one-point shapefile named `stem` (its .shp, .shx and .dbf), as bytes, with `name` in its NAME field.
pub fn shapefile(stem: &str, name: &str) -> Vec<(String, Vec<u8>)> {
    use shapefile::dbase::{FieldValue, Record, TableWriterBuilder};
    let dir = tempfile::tempdir().expect("dir");
    let shp = dir.path().join(format!("{stem}.shp"));
    {
        let table = TableWriterBuilder::new()
            .add_character_field("NAME".try_into().expect("field name"), 20);
        let mut writer = shapefile::Writer::from_path(&shp, table).expect("writer");
        let mut record = Record::default();
        record.insert("NAME".into(), FieldValue::Character(Some(name.into())));
        writer
            .write_shape_and_record(&shapefile::Point::new(10.0, 20.0), &record)
            .expect("write");
    }
    ["shp", "shx", "dbf"]
        .into_iter()
        .map(|ext| {
            let bytes = std::fs::read(shp.with_extension(ext)).expect("read");
            (format!("{stem}.{ext}"), bytes)
        })
        .collect()
}
