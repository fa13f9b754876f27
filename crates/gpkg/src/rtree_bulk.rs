//! Bulk loading of the GeoPackage R-tree. SQLite's `rtree` module inserts one entry at a time with the R*-tree
//! split and forced-reinsert rules, about 23 µs per entry here: 23 s for a million points, most of an import.
//! A freshly loaded table instead gets a packed tree written straight into the module's shadow tables, in the
//! documented layout of SQLite's `rtree.c`:
//!
//! - `<name>_node(nodeno INTEGER PRIMARY KEY, data BLOB)`: node 1 is the root. A node blob is a 2-byte
//!   big-endian tree depth (meaningful in the root only), a 2-byte cell count, then cells of an 8-byte
//!   big-endian id (a rowid in leaves, a child node number above) and `minx, maxx, miny, maxy` as big-endian
//!   32-bit floats, zero-padded to the node size (the length of the root blob the module created).
//! - `<name>_rowid(rowid INTEGER PRIMARY KEY, nodeno)`: the leaf that holds each rowid.
//! - `<name>_parent(nodeno INTEGER PRIMARY KEY, parentnode)`: the parent of each non-root node.
//!
//! The writer hands every row's box to an [`Entries`] collector as the row is inserted (the table is never
//! read back); the collector sorts them along a Hilbert curve in runs of bounded size, spilled to an
//! unnamed temporary file beside the GeoPackage, and merges the runs (memory stays flat however many rows).
//! Sorted entries are packed into leaves, and the levels above are built from the leaves' boxes; which leaf
//! holds each rowid goes through a second sort, by rowid, so `_rowid` is appended in key order. `SELECT
//! rtreecheck(...)` validates the result in the tests; later inserts and deletes go through the module and
//! its triggers as usual.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Transaction, params};

use crate::blob;
use crate::ddl::{quote, rtree_name};

/// Bytes of one cell of a 2-D rtree: an 8-byte id and four 4-byte floats.
const CELL_BYTES: usize = 8 + 4 * 4;
/// Bytes before the first cell: depth and cell count.
const NODE_HEADER_BYTES: usize = 4;
/// Side of the Hilbert grid, as a power of two.
const HILBERT_ORDER: u32 = 16;

#[derive(Clone, Copy)]
struct Entry {
    id: i64,
    min_x: f32,
    max_x: f32,
    min_y: f32,
    max_y: f32,
}

impl Entry {
    fn union(&self, other: &Entry) -> Entry {
        Entry {
            id: self.id,
            min_x: self.min_x.min(other.min_x),
            max_x: self.max_x.max(other.max_x),
            min_y: self.min_y.min(other.min_y),
            max_y: self.max_y.max(other.max_y),
        }
    }
}

/// SQLite stores R-tree bounds as 32-bit floats rounded outward, so a box never shrinks; the same here.
fn round_down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

fn round_up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v { f.next_up() } else { f }
}

/// The distance along a Hilbert curve of order [`HILBERT_ORDER`] of a lon/lat point.
fn hilbert(lon: f64, lat: f64) -> i64 {
    let side = 1u64 << HILBERT_ORDER;
    let scale = |v: f64, lo: f64, hi: f64| {
        (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * (side - 1) as f64) as u64
    };
    let (mut x, mut y) = (scale(lon, -180.0, 180.0), scale(lat, -90.0, 90.0));
    let mut d = 0u64;
    let mut s = side / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = side - 1 - x;
                y = side - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d as i64
}

/// The boxes of a freshly created table's rows, gathered as the rows are inserted, for [`load`].
pub struct Entries {
    sorted: Sorter<Keyed>,
    dir: PathBuf,
    count: u64,
}

impl Entries {
    /// Spills go to an unnamed temporary file in `dir` (the GeoPackage's folder: the disk meant for it).
    pub fn new(dir: &Path) -> Self {
        Self {
            sorted: Sorter::new(dir),
            dir: dir.to_path_buf(),
            count: 0,
        }
    }

    /// Adds row `fid` with its geometry blob, boxed as the standard triggers box it (`ST_MinX` … of the
    /// blob: the header's envelope, or a point's position). A blob without one is not indexed, as the
    /// triggers pass empties by.
    pub fn add(&mut self, fid: i64, geometry: &[u8]) -> io::Result<()> {
        let Some((min_x, max_x, min_y, max_y)) = blob::envelope(geometry) else {
            return Ok(());
        };
        self.count += 1;
        self.sorted.push(Keyed {
            key: hilbert((min_x + max_x) / 2.0, (min_y + max_y) / 2.0),
            entry: Entry {
                id: fid,
                min_x: round_down(min_x),
                max_x: round_up(max_x),
                min_y: round_down(min_y),
                max_y: round_up(max_y),
            },
        })
    }
}

/// What can stop a load: the database, or the temporary file of a sort.
#[derive(Debug)]
pub enum LoadError {
    Sqlite(rusqlite::Error),
    Io(io::Error),
}

impl From<rusqlite::Error> for LoadError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

struct NodeWriter<'t> {
    tx: &'t Transaction<'t>,
    node_sql: String,
    parent_sql: String,
    data: Vec<u8>,
    next_nodeno: i64,
}

impl NodeWriter<'_> {
    fn write(&mut self, nodeno: i64, depth: u16, cells: &[Entry]) -> rusqlite::Result<()> {
        self.data.fill(0);
        let data = &mut self.data;
        data[0..2].copy_from_slice(&depth.to_be_bytes());
        // At most `capacity` cells, itself derived from a node size that fits in u16.
        data[2..4].copy_from_slice(&(cells.len() as u16).to_be_bytes());
        for (i, cell) in cells.iter().enumerate() {
            let at = NODE_HEADER_BYTES + i * CELL_BYTES;
            data[at..at + 8].copy_from_slice(&cell.id.to_be_bytes());
            for (j, v) in [cell.min_x, cell.max_x, cell.min_y, cell.max_y]
                .iter()
                .enumerate()
            {
                data[at + 8 + 4 * j..at + 12 + 4 * j].copy_from_slice(&v.to_bits().to_be_bytes());
            }
        }
        self.tx
            .prepare_cached(&self.node_sql)?
            .execute(params![nodeno, self.data])?;
        Ok(())
    }

    fn parent(&self, child: i64, parent: i64) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(&self.parent_sql)?
            .execute(params![child, parent])?;
        Ok(())
    }

    fn allocate(&mut self) -> i64 {
        let n = self.next_nodeno;
        self.next_nodeno += 1;
        n
    }
}

/// Splits `count` entries into the fewest nodes of at most `capacity`, as evenly as possible.
fn group_sizes(count: usize, capacity: usize) -> impl Iterator<Item = usize> {
    let groups = count.div_ceil(capacity).max(1);
    (0..groups).map(move |g| count / groups + usize::from(g < count % groups))
}

/// `_rowid` rows per `INSERT`: one statement step per row would cost more than the B-tree append.
const ROWID_ROWS_PER_INSERT: usize = 256;

/// Fills the (empty) R-tree of `table` with `entries`, the boxes of every row it holds.
pub fn load(tx: &Transaction<'_>, table: &str, entries: Entries) -> Result<(), LoadError> {
    let rtree = rtree_name(table);
    let node_table = quote(&format!("{rtree}_node"));
    let node_bytes: usize = tx.query_row(
        &format!("SELECT length(data) FROM {node_table} WHERE nodeno = 1"),
        [],
        |r| r.get(0),
    )?;
    let capacity = (node_bytes - NODE_HEADER_BYTES) / CELL_BYTES;
    let Entries { sorted, dir, count } = entries;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count == 0 {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut writer = NodeWriter {
        tx,
        node_sql: format!("INSERT OR REPLACE INTO {node_table} (nodeno, data) VALUES (?1, ?2)"),
        parent_sql: format!(
            "INSERT INTO {} (nodeno, parentnode) VALUES (?1, ?2)",
            quote(&format!("{rtree}_parent"))
        ),
        data: vec![0u8; node_bytes],
        next_nodeno: 2,
    };
    let mut sorted = sorted.sorted()?;
    let root_is_leaf = count <= capacity;
    let mut level: Vec<Entry> = Vec::with_capacity(count.div_ceil(capacity));
    let mut cells: Vec<Entry> = Vec::with_capacity(capacity);
    // Which leaf holds each rowid goes to `_rowid` in rowid order at the end: inserting it in Hilbert order
    // would be a million random B-tree inserts.
    let mut leaves: Sorter<Leaf> = Sorter::new(&dir);
    for size in group_sizes(count, capacity) {
        cells.clear();
        while cells.len() < size {
            let Some(keyed) = sorted.next()? else { break };
            cells.push(keyed.entry);
        }
        if cells.is_empty() {
            break;
        }
        let nodeno = if root_is_leaf { 1 } else { writer.allocate() };
        writer.write(nodeno, 0, &cells)?;
        for cell in &cells {
            leaves.push(Leaf {
                rowid: cell.id,
                nodeno,
            })?;
        }
        let bounds = cells[1..].iter().fold(cells[0], |acc, c| acc.union(c));
        level.push(Entry {
            id: nodeno,
            ..bounds
        });
    }
    drop(sorted);
    write_rowids(tx, &rtree, leaves.sorted()?)?;
    tracing::debug!(
        table,
        entries = count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "r-tree leaves written"
    );
    if root_is_leaf {
        return Ok(());
    }
    let mut depth: u16 = 1;
    while level.len() > capacity {
        let mut upper = Vec::with_capacity(level.len().div_ceil(capacity));
        let mut rest = level.as_slice();
        for size in group_sizes(level.len(), capacity) {
            let (children, tail) = rest.split_at(size);
            rest = tail;
            let nodeno = writer.allocate();
            writer.write(nodeno, 0, children)?;
            for child in children {
                writer.parent(child.id, nodeno)?;
            }
            let bounds = children[1..]
                .iter()
                .fold(children[0], |acc, c| acc.union(c));
            upper.push(Entry {
                id: nodeno,
                ..bounds
            });
        }
        level = upper;
        depth += 1;
    }
    writer.write(1, depth, &level)?;
    for child in &level {
        writer.parent(child.id, 1)?;
    }
    Ok(())
}

/// Appends `(rowid, nodeno)` rows to `_rowid`, in rowid order, several rows per statement.
fn write_rowids(
    tx: &Transaction<'_>,
    rtree: &str,
    mut leaves: Merge<Leaf>,
) -> Result<(), LoadError> {
    let table = quote(&format!("{rtree}_rowid"));
    let sql = |rows: usize| {
        let mut sql = format!("INSERT INTO {table} (rowid, nodeno) VALUES ");
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(?{}, ?{})", 2 * row + 1, 2 * row + 2));
        }
        sql
    };
    let mut many = tx.prepare(&sql(ROWID_ROWS_PER_INSERT))?;
    let mut one = tx.prepare(&sql(1))?;
    let mut pending: Vec<Leaf> = Vec::with_capacity(ROWID_ROWS_PER_INSERT);
    while let Some(leaf) = leaves.next()? {
        pending.push(leaf);
        if pending.len() < ROWID_ROWS_PER_INSERT {
            continue;
        }
        for (i, leaf) in pending.iter().enumerate() {
            many.raw_bind_parameter(2 * i + 1, leaf.rowid)?;
            many.raw_bind_parameter(2 * i + 2, leaf.nodeno)?;
        }
        many.raw_execute()?;
        pending.clear();
    }
    for leaf in &pending {
        one.execute(params![leaf.rowid, leaf.nodeno])?;
    }
    Ok(())
}

/// A fixed-size record the external sorter handles: ordered by `Ord`, stored as [`Record::BYTES`] bytes.
trait Record: Copy + Ord {
    const BYTES: usize;
    fn put(&self, out: &mut [u8]);
    fn take(bytes: &[u8]) -> Self;
}

fn word(bytes: &[u8], at: usize) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    w
}

fn half(bytes: &[u8], at: usize) -> [u8; 4] {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    w
}

/// An entry keyed by its place on the Hilbert curve (ties by id, so the order is total and repeatable).
#[derive(Clone, Copy)]
struct Keyed {
    key: i64,
    entry: Entry,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key, self.entry.id).cmp(&(other.key, other.entry.id))
    }
}

impl Record for Keyed {
    const BYTES: usize = 8 + CELL_BYTES;

    fn put(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.key.to_le_bytes());
        out[8..16].copy_from_slice(&self.entry.id.to_le_bytes());
        let e = &self.entry;
        for (j, v) in [e.min_x, e.max_x, e.min_y, e.max_y].iter().enumerate() {
            out[16 + 4 * j..20 + 4 * j].copy_from_slice(&v.to_le_bytes());
        }
    }

    fn take(bytes: &[u8]) -> Self {
        let float = |j: usize| f32::from_le_bytes(half(bytes, 16 + 4 * j));
        Keyed {
            key: i64::from_le_bytes(word(bytes, 0)),
            entry: Entry {
                id: i64::from_le_bytes(word(bytes, 8)),
                min_x: float(0),
                max_x: float(1),
                min_y: float(2),
                max_y: float(3),
            },
        }
    }
}

/// Which leaf holds a rowid, ordered by rowid.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Leaf {
    rowid: i64,
    nodeno: i64,
}

impl Record for Leaf {
    const BYTES: usize = 16;

    fn put(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.rowid.to_le_bytes());
        out[8..16].copy_from_slice(&self.nodeno.to_le_bytes());
    }

    fn take(bytes: &[u8]) -> Self {
        Leaf {
            rowid: i64::from_le_bytes(word(bytes, 0)),
            nodeno: i64::from_le_bytes(word(bytes, 8)),
        }
    }
}

/// Bytes of records an external sort keeps in memory before it spills a sorted run: what bounds the
/// loader's memory, whatever the number of rows.
const RUN_BYTES: usize = 8 << 20;

/// An external merge sort of fixed-size records: sorted runs of at most [`RUN_BYTES`] go to one unnamed
/// temporary file (removed by the OS when closed, also after a crash), and are merged on the way out.
struct Sorter<T: Record> {
    dir: PathBuf,
    buffer: Vec<T>,
    spill: Option<BufWriter<File>>,
    /// Records in each spilled run, in file order.
    runs: Vec<u64>,
}

impl<T: Record> Sorter<T> {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            buffer: Vec::new(),
            spill: None,
            runs: Vec::new(),
        }
    }

    fn run_records() -> usize {
        RUN_BYTES / T::BYTES
    }

    fn push(&mut self, record: T) -> io::Result<()> {
        if self.buffer.len() >= Self::run_records() {
            self.spill_run()?;
        }
        self.buffer.push(record);
        Ok(())
    }

    fn spill_run(&mut self) -> io::Result<()> {
        self.buffer.sort_unstable();
        let out = match &mut self.spill {
            Some(out) => out,
            None => self.spill.insert(BufWriter::with_capacity(
                1 << 16,
                tempfile::tempfile_in(&self.dir)?,
            )),
        };
        let mut bytes = vec![0u8; T::BYTES];
        for record in &self.buffer {
            record.put(&mut bytes);
            out.write_all(&bytes)?;
        }
        self.runs.push(self.buffer.len() as u64);
        self.buffer.clear();
        Ok(())
    }

    /// Every record pushed, in order.
    fn sorted(mut self) -> io::Result<Merge<T>> {
        self.buffer.sort_unstable();
        let mut readers = Vec::new();
        if let Some(out) = self.spill.take() {
            let file = Arc::new(out.into_inner().map_err(io::IntoInnerError::into_error)?);
            let mut offset = 0u64;
            for records in &self.runs {
                let end = offset + records * T::BYTES as u64;
                readers.push(RunReader {
                    file: Arc::clone(&file),
                    next_offset: offset,
                    end,
                    buffer: Vec::new(),
                    at: 0,
                });
                offset = end;
            }
        }
        let mut merge = Merge {
            memory: std::mem::take(&mut self.buffer).into_iter().peekable(),
            readers,
            heap: BinaryHeap::new(),
        };
        for index in 0..merge.readers.len() {
            if let Some(record) = merge.readers[index].next()? {
                merge.heap.push(Reverse((record, index)));
            }
        }
        Ok(merge)
    }
}

/// One spilled run, read back in order by positional reads, so the runs of one file need no handles of
/// their own.
struct RunReader {
    file: Arc<File>,
    next_offset: u64,
    end: u64,
    buffer: Vec<u8>,
    at: usize,
}

/// Records read from a run at a time.
const READ_RECORDS: usize = 2048;

impl RunReader {
    fn next<T: Record>(&mut self) -> io::Result<Option<T>> {
        if self.at >= self.buffer.len() {
            let want = (self.end - self.next_offset).min((READ_RECORDS * T::BYTES) as u64) as usize;
            if want == 0 {
                return Ok(None);
            }
            self.buffer.resize(want, 0);
            self.file
                .read_exact_at(&mut self.buffer, self.next_offset)?;
            self.next_offset += want as u64;
            self.at = 0;
        }
        let record = T::take(&self.buffer[self.at..self.at + T::BYTES]);
        self.at += T::BYTES;
        Ok(Some(record))
    }
}

/// The merge of the in-memory run and the spilled ones.
struct Merge<T: Record> {
    memory: std::iter::Peekable<std::vec::IntoIter<T>>,
    readers: Vec<RunReader>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
}

impl<T: Record> Merge<T> {
    fn next(&mut self) -> io::Result<Option<T>> {
        let from_disk = self.heap.peek().map(|Reverse((record, _))| *record);
        match (self.memory.peek(), from_disk) {
            (Some(m), Some(d)) if *m <= d => Ok(self.memory.next()),
            (_, Some(_)) => {
                let Some(Reverse((record, index))) = self.heap.pop() else {
                    return Ok(None);
                };
                if let Some(next) = self.readers[index].next()? {
                    self.heap.push(Reverse((next, index)));
                }
                Ok(Some(record))
            }
            (_, None) => Ok(self.memory.next()),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_never_shrinks_a_box() {
        for v in [0.1, -0.1, 179.999_999_9, -89.123_456_789, 1e-10] {
            assert!(
                f64::from(round_down(v)) <= v && f64::from(round_up(v)) >= v,
                "{v}"
            );
        }
        assert_eq!(round_down(1.5), 1.5);
    }

    #[test]
    fn groups_are_even_and_cover_everything() {
        let sizes: Vec<usize> = group_sizes(103, 51).collect();
        assert_eq!(sizes, vec![35, 34, 34]);
        assert_eq!(group_sizes(51, 51).collect::<Vec<_>>(), vec![51]);
        assert_eq!(group_sizes(5000, 51).sum::<usize>(), 5000);
    }

    #[test]
    fn hilbert_distance_visits_each_cell_once() {
        let corners = [
            hilbert(-180.0, -90.0),
            hilbert(-180.0, 90.0),
            hilbert(180.0, 90.0),
            hilbert(180.0, -90.0),
        ];
        let mut sorted = corners.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert_eq!(corners[0], 0);
    }
}
