//! The map from property names to SQL columns. Property names are free text ("Name", "name", "fid",
//! `1' OR '1'='1`); SQLite column names are case-insensitive and some are taken by the table itself, so each
//! property gets a distinct column whose name is the property's own whenever it can be.
//! It also says how a field type is declared in SQL and how a retyped column writes values as text.

use std::collections::HashMap;

use geoconsole_model::FieldType;
use serde::{Deserialize, Serialize};

/// Columns every feature table has before any property.
pub const SYSTEM_COLUMNS: [&str; 5] = ["fid", "geom", "feature_id", "time_start", "time_end"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub property: String,
    pub column: String,
    /// The SQL type the column was declared with; when the dataset's schema later widens, the table is rebuilt.
    pub declared: FieldType,
}

#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    columns: Vec<Column>,
    by_property: HashMap<String, usize>,
}

impl ColumnMap {
    pub fn new(columns: Vec<Column>) -> Self {
        let by_property = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.property.clone(), i))
            .collect();
        Self {
            columns,
            by_property,
        }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn index_of(&self, property: &str) -> Option<usize> {
        self.by_property.get(property).copied()
    }

    /// Adds a column for a property seen for the first time and returns it.
    pub fn add(&mut self, property: &str, declared: FieldType) -> &Column {
        let base: String = property
            .chars()
            .filter(|c| !c.is_control())
            .take(60)
            .collect();
        let base = if base.trim().is_empty() {
            "property".to_string()
        } else {
            base
        };
        let taken = |name: &str| {
            SYSTEM_COLUMNS.iter().any(|s| s.eq_ignore_ascii_case(name))
                || self
                    .columns
                    .iter()
                    .any(|c| c.column.eq_ignore_ascii_case(name))
        };
        let mut column = base.clone();
        let mut n = 2;
        while taken(&column) {
            column = format!("{base}_{n}");
            n += 1;
        }
        self.by_property
            .insert(property.to_string(), self.columns.len());
        self.columns.push(Column {
            property: property.to_string(),
            column,
            declared,
        });
        self.columns.last().expect("just pushed")
    }

    pub fn set_declared(&mut self, index: usize, declared: FieldType) {
        self.columns[index].declared = declared;
    }
}

/// The SQL type GeoPackage readers (GDAL, QGIS) map back to the field type.
/// Registers `gc_json_text(value, was_boolean)`, which a column retyped to text uses to write each value as
/// its JSON text: integers and reals as serde_json writes them (SQLite's CAST writes 1e21 as `1.0e+21`),
/// 0 and 1 of a boolean column as `false` and `true`, BLOBs (values of another type waiting for the
/// retype) as the text they hold; and `gc_datetime(value)`, which a column retyped to DATETIME uses to
/// give its earlier text the DATETIME form.
pub fn register_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::ValueRef;
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("gc_json_text", 2, flags, |ctx| {
        let was_boolean = ctx.get::<i64>(1)? != 0;
        Ok(match ctx.get_raw(0) {
            ValueRef::Null => None,
            ValueRef::Integer(b @ (0 | 1)) if was_boolean => {
                Some(if b == 1 { "true" } else { "false" }.to_string())
            }
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(
                serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string()),
            ),
            ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        })
    })?;
    conn.create_scalar_function("gc_datetime", 1, flags, |ctx| {
        use rusqlite::types::Value;
        Ok(match ctx.get_raw(0) {
            // A BLOB is a date-time the writer kept as written until commit.
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                let text = String::from_utf8_lossy(t);
                Value::Text(crate::write::datetime_column_text(&text).unwrap_or(text.into_owned()))
            }
            other => Value::from(other),
        })
    })
}

pub fn sql_type(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Integer => "INTEGER",
        FieldType::Real => "REAL",
        FieldType::Text | FieldType::Json => "TEXT",
        FieldType::Boolean => "BOOLEAN",
        FieldType::Date => "DATE",
        FieldType::DateTime => "DATETIME",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_names_get_distinct_columns() {
        let mut map = ColumnMap::default();
        assert_eq!(map.add("name", FieldType::Text).column, "name");
        assert_eq!(map.add("Name", FieldType::Text).column, "Name_2");
        assert_eq!(map.add("fid", FieldType::Integer).column, "fid_2");
        assert_eq!(map.add("", FieldType::Text).column, "property");
        assert_eq!(map.index_of("Name"), Some(1));
    }
}
