//! A snapshot's copy of its features' ids and properties, column by column, holding each value as a vector
//! tile writes it (bool, signed or unsigned integer, double, or text; arrays and objects as their JSON
//! text). Tiles of a dataset that has one never ask the store for properties: a tile becomes a tree query,
//! a walk over these columns and the encoding.
//!
//! Columns whose values repeat (categories, flags, small integers, rounded measures) are dictionaries with a
//! one- or two-byte code per feature; columns of mostly distinct values (timestamps as text, names) keep one
//! 16-byte cell per feature, with text in one buffer per table. Which is which is found while building: a
//! column becomes plain once its dictionary outgrows [`DICTIONARY_MAX`] distinct values.
//!
//! A property missing from a feature (a store with free-form properties) is told apart from one present
//! with a null value, because a tile writes its own `id`, `time_start` and `time_end` only when the
//! feature's properties lack those names.

use std::collections::HashMap;

use geoconsole_model::Properties;
use serde_json::Value;

/// Distinct values a column may hold as a dictionary; beyond it the column keeps one cell per feature.
pub const DICTIONARY_MAX: usize = 1 << 12;

/// One property value as a vector tile carries it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Bool(bool),
    Sint(i64),
    Uint(u64),
    Double(f64),
    Str(&'a str),
}

/// What a feature holds under a column's name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    /// The feature's properties lack the name.
    Absent,
    /// Present, with a null value (a tile leaves it out).
    Null,
    Value(Cell<'a>),
}

/// What a feature holds under a column's name, as an item of a page writes it: arrays and objects (kept
/// as their JSON text) apart from text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ItemValue<'a> {
    Absent,
    Null,
    Cell(Cell<'a>),
    Json(&'a str),
}

/// A stored value: text as a range of the table's text buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stored {
    Absent,
    Null,
    Bool(bool),
    Sint(i64),
    Uint(u64),
    Double(f64),
    Str {
        start: u32,
        len: u32,
    },
    /// An array or object, as its JSON text.
    Json {
        start: u32,
        len: u32,
    },
}

/// The dictionary key of a value while building (text owned, doubles by their bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Distinct {
    Absent,
    Null,
    Bool(bool),
    Sint(i64),
    Uint(u64),
    Double(u64),
    Str(String),
    Json(String),
}

#[derive(Debug)]
enum Codes {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

impl Codes {
    #[inline]
    fn get(&self, slot: usize) -> usize {
        match self {
            Codes::U8(c) => usize::from(c[slot]),
            Codes::U16(c) => usize::from(c[slot]),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Codes::U8(c) => c.capacity(),
            Codes::U16(c) => c.capacity() * 2,
        }
    }
}

#[derive(Debug)]
enum Cells {
    /// A code per slot into `values`.
    Dictionary { codes: Codes, values: Vec<Stored> },
    /// A value per slot.
    Plain(Vec<Stored>),
}

#[derive(Debug)]
struct Column {
    name: String,
    cells: Cells,
}

/// Ids and properties by slot, column by column.
#[derive(Debug)]
pub struct PropertyTable {
    len: usize,
    /// Feature ids: `ids[id_ends[slot - 1]..id_ends[slot]]`.
    ids: String,
    id_ends: Vec<u32>,
    columns: Vec<Column>,
    text: String,
    /// Slots the store no longer had when the table was read (sorted): no tile draws them.
    vanished: Vec<u32>,
    /// The row of each slot, when the rows are arranged in another order than the slots ([`Self::arranged`]).
    row_of: Option<Vec<u32>>,
}

impl PropertyTable {
    /// The same table with its rows in `order` (a permutation of the slots), each slot still reading its own
    /// values. A tile reads the features of one small area: with rows in the spatial index's order they lie
    /// on neighbouring cache lines instead of one line per feature and column across the whole table.
    pub fn arranged(self, order: &[u32]) -> Result<Self, String> {
        if order.len() != self.len {
            return Err(format!(
                "an order of {} slots for a table of {}",
                order.len(),
                self.len
            ));
        }
        let mut row_of = vec![u32::MAX; self.len];
        for (row, slot) in order.iter().enumerate() {
            match row_of.get_mut(*slot as usize) {
                Some(r) if *r == u32::MAX => *r = row as u32,
                _ => return Err(format!("slot {slot} is out of range or listed twice")),
            }
        }
        let mut ids = String::with_capacity(self.ids.len());
        let mut id_ends = Vec::with_capacity(self.len);
        for slot in order {
            ids.push_str(self.id(*slot));
            id_ends.push(ids.len() as u32);
        }
        let mut columns: Vec<Column> = self
            .columns
            .iter()
            .map(|column| Column {
                name: column.name.clone(),
                cells: match &column.cells {
                    Cells::Dictionary { codes, values } => Cells::Dictionary {
                        codes: match codes {
                            Codes::U8(c) => {
                                Codes::U8(order.iter().map(|s| c[*s as usize]).collect())
                            }
                            Codes::U16(c) => {
                                Codes::U16(order.iter().map(|s| c[*s as usize]).collect())
                            }
                        },
                        values: values.clone(),
                    },
                    Cells::Plain(values) => {
                        Cells::Plain(order.iter().map(|s| values[*s as usize]).collect())
                    }
                },
            })
            .collect();
        let text = match rearranged_text(&self.text, &mut columns) {
            Some(text) => text,
            // More text once cells that shared it each hold their own copy than a table may address: the
            // rows keep the text where it was (found further apart, read the same).
            None => {
                for (column, old) in columns.iter_mut().zip(&self.columns) {
                    match (&mut column.cells, &old.cells) {
                        (Cells::Plain(cells), Cells::Plain(old_cells)) => {
                            *cells = order.iter().map(|s| old_cells[*s as usize]).collect();
                        }
                        (
                            Cells::Dictionary { values, .. },
                            Cells::Dictionary {
                                values: old_values, ..
                            },
                        ) => values.clone_from(old_values),
                        _ => {}
                    }
                }
                self.text
            }
        };
        Ok(Self {
            len: self.len,
            ids,
            id_ends,
            columns,
            text,
            vanished: self.vanished,
            row_of: Some(row_of),
        })
    }

    /// Where a slot's values sit. A caller reading several columns of many slots (a tile) finds each row
    /// once and reads the columns with [`Self::entry_in_row`] and [`Self::code_in_row`].
    pub fn row(&self, slot: u32) -> usize {
        match &self.row_of {
            Some(rows) => rows[slot as usize] as usize,
            None => slot as usize,
        }
    }

    /// Features (slots) covered, vanished ones included.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the feature was still in the store when the table was read.
    pub fn contains(&self, slot: u32) -> bool {
        (slot as usize) < self.len
            && (self.vanished.is_empty() || self.vanished.binary_search(&slot).is_err())
    }

    /// The feature's id.
    pub fn id(&self, slot: u32) -> &str {
        self.id_in_row(self.row(slot))
    }

    /// The id of the feature whose values sit in `row`.
    #[inline]
    pub fn id_in_row(&self, row: usize) -> &str {
        let start = if row == 0 {
            0
        } else {
            self.id_ends[row - 1] as usize
        };
        &self.ids[start..self.id_ends[row] as usize]
    }

    /// Column names, in the order a feature's properties list them.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// The position of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// What the feature holds in column `column` (arrays and objects as their JSON text).
    pub fn entry(&self, column: usize, slot: u32) -> Entry<'_> {
        self.entry_in_row(column, self.row(slot))
    }

    /// [`Self::entry`] of the feature whose values sit in `row`.
    pub fn entry_in_row(&self, column: usize, row: usize) -> Entry<'_> {
        self.entry_of(self.stored_in_row(column, row))
    }

    #[inline]
    fn entry_of(&self, stored: Stored) -> Entry<'_> {
        match self.item_value_of(stored) {
            ItemValue::Absent => Entry::Absent,
            ItemValue::Null => Entry::Null,
            ItemValue::Cell(cell) => Entry::Value(cell),
            ItemValue::Json(text) => Entry::Value(Cell::Str(text)),
        }
    }

    /// Appends the codes of `rows` in a column that holds few distinct values and returns `true`; a column
    /// of one value per feature appends nothing and returns `false`. With [`Self::entry_of_code`], a tile
    /// reads a dictionary column as small integers and looks each distinct value up once.
    pub fn codes_in_rows(&self, column: usize, rows: &[usize], out: &mut Vec<u32>) -> bool {
        match &self.columns[column].cells {
            Cells::Dictionary {
                codes: Codes::U8(codes),
                ..
            } => out.extend(rows.iter().map(|row| u32::from(codes[*row]))),
            Cells::Dictionary {
                codes: Codes::U16(codes),
                ..
            } => out.extend(rows.iter().map(|row| u32::from(codes[*row]))),
            Cells::Plain(_) => return false,
        }
        true
    }

    /// What a code of a dictionary column stands for (see [`Self::codes_in_rows`]).
    pub fn entry_of_code(&self, column: usize, code: usize) -> Entry<'_> {
        match &self.columns[column].cells {
            Cells::Dictionary { values, .. } => self.entry_of(values[code]),
            Cells::Plain(_) => Entry::Absent,
        }
    }

    /// Appends the entries of `rows` in `column`, read in one loop over the column.
    pub fn entries_in_rows<'t>(&'t self, column: usize, rows: &[usize], out: &mut Vec<Entry<'t>>) {
        match &self.columns[column].cells {
            Cells::Dictionary { codes, values } => out.extend(
                rows.iter()
                    .map(|row| self.entry_of(values[codes.get(*row)])),
            ),
            Cells::Plain(values) => out.extend(rows.iter().map(|row| self.entry_of(values[*row]))),
        }
    }

    /// What the feature holds in column `column`, arrays and objects told apart from text.
    pub fn item_value(&self, column: usize, slot: u32) -> ItemValue<'_> {
        self.item_value_in_row(column, self.row(slot))
    }

    fn item_value_in_row(&self, column: usize, row: usize) -> ItemValue<'_> {
        self.item_value_of(self.stored_in_row(column, row))
    }

    #[inline]
    fn item_value_of(&self, stored: Stored) -> ItemValue<'_> {
        match stored {
            Stored::Absent => ItemValue::Absent,
            Stored::Null => ItemValue::Null,
            Stored::Bool(b) => ItemValue::Cell(Cell::Bool(b)),
            Stored::Sint(i) => ItemValue::Cell(Cell::Sint(i)),
            Stored::Uint(u) => ItemValue::Cell(Cell::Uint(u)),
            Stored::Double(d) => ItemValue::Cell(Cell::Double(d)),
            Stored::Str { start, len } => ItemValue::Cell(Cell::Str(self.text_at(start, len))),
            Stored::Json { start, len } => ItemValue::Json(self.text_at(start, len)),
        }
    }

    fn stored(&self, column: usize, slot: u32) -> Stored {
        self.stored_in_row(column, self.row(slot))
    }

    fn stored_in_row(&self, column: usize, row: usize) -> Stored {
        match &self.columns[column].cells {
            Cells::Dictionary { codes, values } => values[codes.get(row)],
            Cells::Plain(values) => values[row],
        }
    }

    /// The feature's code in a column that holds few distinct values (`None` for a column of one value per
    /// feature): features with the same code hold the same value, so a tile can look a value up once per code.
    pub fn code(&self, column: usize, slot: u32) -> Option<usize> {
        self.code_in_row(column, self.row(slot))
    }

    /// [`Self::code`] of the feature whose values sit in `row`.
    pub fn code_in_row(&self, column: usize, row: usize) -> Option<usize> {
        match &self.columns[column].cells {
            Cells::Dictionary { codes, .. } => Some(codes.get(row)),
            Cells::Plain(_) => None,
        }
    }

    /// Codes a dictionary column may hold (0 for a column without one).
    pub fn codes(&self, column: usize) -> usize {
        match &self.columns[column].cells {
            Cells::Dictionary { values, .. } => values.len(),
            Cells::Plain(_) => 0,
        }
    }

    #[inline]
    fn text_at(&self, start: u32, len: u32) -> &str {
        &self.text[start as usize..start as usize + len as usize]
    }

    /// The feature's properties as the store gave them (an item of a page): the same names in the same order
    /// and the same values, arrays and objects included.
    pub fn properties(&self, slot: u32) -> Properties {
        self.properties_in(slot, 0..self.columns.len())
    }

    /// The feature's values of `columns` only (what a filter reads), named as [`Self::properties`] names them.
    pub fn properties_in(&self, slot: u32, columns: impl IntoIterator<Item = usize>) -> Properties {
        let mut properties = Properties::new();
        for column in columns {
            let value = match self.stored(column, slot) {
                Stored::Absent => continue,
                Stored::Null => Value::Null,
                Stored::Bool(b) => Value::Bool(b),
                Stored::Sint(i) => Value::from(i),
                Stored::Uint(u) => Value::from(u),
                Stored::Double(d) => {
                    serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
                }
                Stored::Str { start, len } => Value::String(self.text_at(start, len).to_string()),
                // Written by serde_json from a value it parsed: it reads back.
                Stored::Json { start, len } => {
                    serde_json::from_str(self.text_at(start, len)).unwrap_or(Value::Null)
                }
            };
            properties.insert(self.columns[column].name.clone(), value);
        }
        properties
    }

    /// Bytes held on the heap.
    pub fn memory_bytes(&self) -> usize {
        let cells = |c: &Column| match &c.cells {
            Cells::Dictionary { codes, values } => {
                codes.heap_bytes() + values.capacity() * size_of::<Stored>()
            }
            Cells::Plain(values) => values.capacity() * size_of::<Stored>(),
        };
        self.ids.capacity()
            + self.id_ends.capacity() * 4
            + self.text.capacity()
            + self.vanished.capacity() * 4
            + self.row_of.as_ref().map_or(0, |r| r.capacity() * 4)
            + self
                .columns
                .iter()
                .map(|c| cells(c) + c.name.capacity() + size_of::<Column>())
                .sum::<usize>()
    }
}

/// The text of `columns` (already in row order) copied into a new buffer in the order it is read: each
/// dictionary's values, then row by row the text of the columns of one value per feature. A tile reads the
/// rows of one small area, so their text then sits on neighbouring cache lines too, rather than wherever
/// the store's order left it. `None` when the copy would pass the 4 GiB a table addresses (cells that
/// shared text each get their own copy).
fn rearranged_text(old: &str, columns: &mut [Column]) -> Option<String> {
    let mut text = String::with_capacity(old.len());
    let mut moved = |stored: &mut Stored| -> Option<()> {
        if let Stored::Str { start, len } | Stored::Json { start, len } = stored {
            let new_start = u32::try_from(text.len()).ok()?;
            text.push_str(&old[*start as usize..(*start + *len) as usize]);
            u32::try_from(text.len()).ok()?;
            *start = new_start;
        }
        Some(())
    };
    for column in columns.iter_mut() {
        if let Cells::Dictionary { values, .. } = &mut column.cells {
            values.iter_mut().try_for_each(&mut moved)?;
        }
    }
    let rows = columns.first().map_or(0, |c| match &c.cells {
        Cells::Dictionary { codes, .. } => match codes {
            Codes::U8(c) => c.len(),
            Codes::U16(c) => c.len(),
        },
        Cells::Plain(cells) => cells.len(),
    });
    for row in 0..rows {
        for column in columns.iter_mut() {
            if let Cells::Plain(cells) = &mut column.cells {
                moved(&mut cells[row])?;
            }
        }
    }
    Some(text)
}

/// A column while building: a dictionary (with its lookup) until it has too many distinct values.
#[derive(Debug)]
struct ColumnBuilder {
    name: String,
    lookup: Option<HashMap<Distinct, u16>>,
    codes: Vec<u16>,
    values: Vec<Stored>,
}

/// Builds a [`PropertyTable`] from the rows a store hands back by key, in slot order.
#[derive(Debug)]
pub struct PropertyTableBuilder {
    len: usize,
    ids: String,
    id_ends: Vec<u32>,
    columns: Vec<ColumnBuilder>,
    text: String,
    vanished: Vec<u32>,
    positions: Vec<usize>,
}

impl PropertyTableBuilder {
    pub fn with_capacity(slots: usize) -> Self {
        Self {
            len: 0,
            ids: String::new(),
            id_ends: Vec::with_capacity(slots),
            columns: Vec::new(),
            text: String::new(),
            vanished: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// Slots added so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held so far (an estimate while building, for a caller that keeps tables under a budget).
    pub fn memory_bytes(&self) -> usize {
        self.ids.capacity()
            + self.id_ends.capacity() * 4
            + self.text.capacity()
            + self
                .columns
                .iter()
                .map(|c| c.codes.capacity() * 2 + c.values.capacity() * size_of::<Stored>())
                .sum::<usize>()
    }

    /// The next slot's feature is gone from the store.
    pub fn push_vanished(&mut self) -> Result<(), String> {
        self.vanished.push(self.next_slot()?);
        self.id_ends.push(self.id_ends.last().copied().unwrap_or(0));
        for column in &mut self.columns {
            column.push(&mut self.text, Distinct::Absent)?;
        }
        self.len += 1;
        Ok(())
    }

    /// The next slot's id and properties. Fails when the table cannot hold them as the store gave them:
    /// properties listed in an order other features contradict (the table keeps one order per dataset),
    /// or more text than 4 GiB; the caller then serves properties from the store.
    pub fn push(&mut self, id: &str, properties: &Properties) -> Result<(), String> {
        self.next_slot()?;
        self.ids.push_str(id);
        self.id_ends.push(
            u32::try_from(self.ids.len()).map_err(|_| "ids hold more than 4 GiB".to_string())?,
        );
        self.positions.clear();
        let mut last = None;
        for (name, value) in properties {
            let position = match self.columns.iter().position(|c| &c.name == name) {
                Some(p) => p,
                None => {
                    self.columns.push(ColumnBuilder::new(name, self.len));
                    self.columns.len() - 1
                }
            };
            if last.is_some_and(|l| l >= position) {
                return Err(format!(
                    "feature {}: property '{name}' comes in another order than in the features before",
                    self.len
                ));
            }
            last = Some(position);
            self.positions.push(position);
            let distinct = distinct(value);
            self.columns[position].push(&mut self.text, distinct)?;
        }
        // Columns this feature lacks.
        for (i, column) in self.columns.iter_mut().enumerate() {
            if !self.positions.contains(&i) {
                column.push(&mut self.text, Distinct::Absent)?;
            }
        }
        self.len += 1;
        Ok(())
    }

    fn next_slot(&self) -> Result<u32, String> {
        u32::try_from(self.len).map_err(|_| "too many features".to_string())
    }

    pub fn finish(self) -> PropertyTable {
        let mut ids = self.ids;
        ids.shrink_to_fit();
        let mut id_ends = self.id_ends;
        id_ends.shrink_to_fit();
        let mut text = self.text;
        text.shrink_to_fit();
        PropertyTable {
            len: self.len,
            ids,
            id_ends,
            columns: self
                .columns
                .into_iter()
                .map(ColumnBuilder::finish)
                .collect(),
            text,
            vanished: self.vanished,
            row_of: None,
        }
    }
}

impl ColumnBuilder {
    /// A column first seen at slot `slots`: the features before lack it.
    fn new(name: &str, slots: usize) -> Self {
        let mut lookup = HashMap::new();
        lookup.insert(Distinct::Absent, 0);
        lookup.insert(Distinct::Null, 1);
        Self {
            name: name.to_string(),
            lookup: Some(lookup),
            codes: vec![0; slots],
            values: vec![Stored::Absent, Stored::Null],
        }
    }

    fn push(&mut self, text: &mut String, value: Distinct) -> Result<(), String> {
        if let Some(lookup) = &mut self.lookup {
            if let Some(code) = lookup.get(&value) {
                self.codes.push(*code);
                return Ok(());
            }
            if lookup.len() < DICTIONARY_MAX {
                let code = lookup.len() as u16;
                self.values.push(store(text, &value)?);
                lookup.insert(value, code);
                self.codes.push(code);
                return Ok(());
            }
            // Too many distinct values: one cell per feature from now on.
            let plain: Vec<Stored> = self
                .codes
                .iter()
                .map(|c| self.values[usize::from(*c)])
                .collect();
            self.values = plain;
            self.codes = Vec::new();
            self.lookup = None;
        }
        self.values.push(store(text, &value)?);
        Ok(())
    }

    fn finish(self) -> Column {
        let cells = match self.lookup {
            Some(_) => {
                let codes = if self.values.len() <= 256 {
                    Codes::U8(self.codes.iter().map(|c| *c as u8).collect())
                } else {
                    let mut codes = self.codes;
                    codes.shrink_to_fit();
                    Codes::U16(codes)
                };
                Cells::Dictionary {
                    codes,
                    values: self.values,
                }
            }
            None => {
                let mut values = self.values;
                values.shrink_to_fit();
                Cells::Plain(values)
            }
        };
        Column {
            name: self.name,
            cells,
        }
    }
}

fn store(text: &mut String, value: &Distinct) -> Result<Stored, String> {
    Ok(match value {
        Distinct::Absent => Stored::Absent,
        Distinct::Null => Stored::Null,
        Distinct::Bool(b) => Stored::Bool(*b),
        Distinct::Sint(i) => Stored::Sint(*i),
        Distinct::Uint(u) => Stored::Uint(*u),
        Distinct::Double(bits) => Stored::Double(f64::from_bits(*bits)),
        Distinct::Str(s) => {
            let (start, len) = append(text, s)?;
            Stored::Str { start, len }
        }
        Distinct::Json(s) => {
            let (start, len) = append(text, s)?;
            Stored::Json { start, len }
        }
    })
}

fn append(text: &mut String, s: &str) -> Result<(u32, u32), String> {
    let too_big = || "property text holds more than 4 GiB".to_string();
    let start = u32::try_from(text.len()).map_err(|_| too_big())?;
    let len = u32::try_from(s.len()).map_err(|_| too_big())?;
    start.checked_add(len).ok_or_else(too_big)?;
    text.push_str(s);
    Ok((start, len))
}

/// A JSON value as a tile writes it: integers that fit `i64` as signed, larger ones unsigned, other numbers
/// as doubles, arrays and objects as their JSON text.
fn distinct(value: &Value) -> Distinct {
    match value {
        Value::Null => Distinct::Null,
        Value::Bool(b) => Distinct::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Distinct::Sint(i)
            } else if let Some(u) = n.as_u64() {
                Distinct::Uint(u)
            } else {
                n.as_f64()
                    .map_or(Distinct::Null, |f| Distinct::Double(f.to_bits()))
            }
        }
        Value::String(s) => Distinct::Str(s.clone()),
        other => Distinct::Json(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Properties {
        match value {
            Value::Object(map) => map,
            _ => Properties::new(),
        }
    }

    #[test]
    fn values_come_back_as_tiles_write_them() {
        let mut b = PropertyTableBuilder::with_capacity(8);
        for i in 0..6000u32 {
            let category = ["a", "b", "c"][i as usize % 3];
            b.push(
                &format!("f{i}"),
                &props(json!({
                    "category": category,
                    "n": i,
                    "score": f64::from(i) / 4.0,
                    "ok": i.is_multiple_of(2),
                    "note": if i.is_multiple_of(5) { Value::Null } else { json!({"k": [i]}) },
                    "big": u64::MAX,
                })),
            )
            .unwrap();
        }
        b.push_vanished().unwrap();
        // A later feature with a new name and without some of the old ones.
        b.push("last", &props(json!({"category": "z", "extra": -1})))
            .unwrap();
        let t = b.finish();
        assert_eq!(t.len(), 6002);
        assert_eq!(
            t.names().collect::<Vec<_>>(),
            ["category", "n", "score", "ok", "note", "big", "extra"]
        );
        let col = |n: &str| t.column(n).unwrap();
        assert_eq!(t.id(0), "f0");
        assert_eq!(t.id(5999), "f5999");
        assert_eq!(t.id(6000), "");
        assert!(!t.contains(6000) && t.contains(6001) && !t.contains(6002));
        assert_eq!(t.entry(col("category"), 4), Entry::Value(Cell::Str("b")));
        assert_eq!(t.entry(col("n"), 4321), Entry::Value(Cell::Sint(4321)));
        assert_eq!(
            t.entry(col("score"), 5999),
            Entry::Value(Cell::Double(5999.0 / 4.0))
        );
        assert_eq!(t.entry(col("ok"), 3), Entry::Value(Cell::Bool(false)));
        assert_eq!(t.entry(col("note"), 10), Entry::Null);
        assert_eq!(
            t.entry(col("note"), 11),
            Entry::Value(Cell::Str("{\"k\":[11]}"))
        );
        assert_eq!(t.entry(col("big"), 1), Entry::Value(Cell::Uint(u64::MAX)));
        assert_eq!(t.entry(col("extra"), 7), Entry::Absent);
        assert_eq!(t.entry(col("extra"), 6001), Entry::Value(Cell::Sint(-1)));
        assert_eq!(t.entry(col("n"), 6001), Entry::Absent);
        assert_eq!(t.entry(col("category"), 6001), Entry::Value(Cell::Str("z")));
        assert!(t.memory_bytes() > 0);
    }

    #[test]
    fn properties_come_back_as_the_store_gave_them() {
        let rows = [
            json!({"a": "x", "n": 1, "f": 1.0, "o": {"k": [1, 2.5, null]}, "t": "{\"k\":1}"}),
            json!({"a": null, "n": -7, "f": 1e-7, "o": [true], "t": "plain"}),
            json!({"n": u64::MAX, "f": 0.1, "o": "{\"k\":[1,2.5,null]}"}),
        ];
        let mut b = PropertyTableBuilder::with_capacity(3);
        for (i, row) in rows.iter().enumerate() {
            b.push(&format!("r{i}"), &props(row.clone())).unwrap();
        }
        assert!(b.memory_bytes() > 0);
        let t = b.finish();
        for (i, row) in rows.iter().enumerate() {
            let back = Value::Object(t.properties(i as u32));
            assert_eq!(&back, row, "row {i}");
            // The same text, number formatting included.
            assert_eq!(back.to_string(), row.to_string(), "row {i}");
        }
    }

    #[test]
    fn arranged_rows_read_as_the_slots_they_came_from() {
        let mut b = PropertyTableBuilder::with_capacity(600);
        for i in 0..600u32 {
            if i == 77 {
                b.push_vanished().unwrap();
                continue;
            }
            b.push(
                &format!("f{i}"),
                &props(json!({"c": if i % 2 == 0 { "a" } else { "b" }, "n": i, "o": {"k": i}})),
            )
            .unwrap();
        }
        let plain = b.finish();
        let expected: Vec<_> = (0..600u32)
            .map(|s| {
                (
                    plain.id(s).to_string(),
                    plain.properties(s),
                    plain.contains(s),
                )
            })
            .collect();
        // Any permutation: here a stride through the slots.
        let order: Vec<u32> = (0..600u32).map(|i| (i * 7) % 600).collect();
        let arranged = plain.arranged(&order).unwrap();
        for (s, (id, properties, contains)) in expected.iter().enumerate() {
            let s = s as u32;
            assert_eq!(arranged.id(s), id);
            assert_eq!(&arranged.properties(s), properties);
            assert_eq!(arranged.contains(s), *contains);
            assert!(arranged.code(0, s).is_some(), "c is a dictionary");
        }
        // A column of one text per feature (past the dictionary's size), whose text moves with its rows.
        let count = DICTIONARY_MAX as u32 + 100;
        let mut b = PropertyTableBuilder::with_capacity(count as usize);
        for i in 0..count {
            let text = format!("text {i}");
            b.push(
                &format!("g{i}"),
                &props(json!({"t": text, "k": i % 3, "n": if i % 5 == 0 { json!(null) } else { json!(i) }})),
            )
            .unwrap();
        }
        let plain = b.finish();
        assert!(plain.code(0, 0).is_none(), "t is one value per feature");
        let expected: Vec<_> = (0..count).map(|s| plain.properties(s)).collect();
        let order: Vec<u32> = (0..count).map(|i| (i * 11) % count).collect();
        let arranged = plain.arranged(&order).unwrap();
        for (s, properties) in expected.iter().enumerate() {
            assert_eq!(&arranged.properties(s as u32), properties);
        }
        let empty = PropertyTableBuilder::with_capacity(2).finish();
        assert!(
            empty.arranged(&[0]).is_err(),
            "an order longer than the table"
        );
    }

    #[test]
    fn a_contradicting_order_is_refused() {
        let mut b = PropertyTableBuilder::with_capacity(2);
        b.push("a", &props(json!({"x": 1, "y": 2}))).unwrap();
        assert!(b.push("b", &props(json!({"y": 1, "x": 2}))).is_err());
    }
}
