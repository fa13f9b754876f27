use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Properties;

/// The type of a property, inferred from the values seen at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Integer,
    Real,
    Text,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 date-time.
    #[serde(rename = "datetime")]
    DateTime,
    /// Nested objects or arrays, kept as JSON.
    Json,
}

impl FieldType {
    /// The type a single value suggests; `None` for null, which fits any type.
    pub fn of_value(value: &Value) -> Option<FieldType> {
        match value {
            Value::Null => None,
            Value::Bool(_) => Some(Self::Boolean),
            Value::Number(n) => Some(if n.is_i64() || n.is_u64() && n.as_i64().is_some() {
                Self::Integer
            } else {
                Self::Real
            }),
            Value::String(s) => Some(string_type(s)),
            Value::Array(_) | Value::Object(_) => Some(Self::Json),
        }
    }

    /// The type a text value suggests: date, date-time or text (what [`FieldType::of_value`] says of a JSON
    /// string, without building one).
    pub fn of_text(text: &str) -> FieldType {
        string_type(text)
    }

    /// The narrowest type that holds values of both types.
    pub fn merge(self, other: FieldType) -> FieldType {
        use FieldType as F;
        match (self, other) {
            (a, b) if a == b => a,
            (F::Integer, F::Real) | (F::Real, F::Integer) => F::Real,
            (F::Date, F::DateTime) | (F::DateTime, F::Date) => F::DateTime,
            _ => F::Text,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Real => "real",
            Self::Text => "text",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Json => "json",
        }
    }
}

/// Dates and date-times are recognised only in their ISO forms, so free text never turns into a time by accident.
fn string_type(s: &str) -> FieldType {
    let b = s.as_bytes();
    let looks_dated =
        b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit);
    if !looks_dated {
        return FieldType::Text;
    }
    if b.len() == 10 {
        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
            return FieldType::Date;
        }
    } else if (b[10] == b'T' || b[10] == b' ')
        && chrono::DateTime::parse_from_rfc3339(&if b[10] == b' ' {
            std::borrow::Cow::Owned(s.replacen(' ', "T", 1))
        } else {
            std::borrow::Cow::Borrowed(s)
        })
        .is_ok_and(|t| {
            // Stored in UTC with a four-digit year (RFC 3339, GeoPackage): an offset that moves the
            // instant past year 0000 or 9999 has no such form, so the value stays text.
            use chrono::Datelike;
            (0..=9999).contains(&t.to_utc().year())
        })
    {
        return FieldType::DateTime;
    }
    FieldType::Text
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
}

/// The properties of a dataset, in first-seen order, each with the narrowest type that holds every value seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Schema {
    fields: Vec<Field>,
    /// Fields seen only with nulls so far: their recorded type (text) gives way to the first real value. It is
    /// stored with the schema, so a field that was all null in the first import takes its type from the
    /// first append that carries a value.
    #[serde(default, rename = "untyped", skip_serializing_if = "all_typed")]
    nulls_only: Vec<bool>,
}

fn all_typed(nulls_only: &[bool]) -> bool {
    !nulls_only.contains(&true)
}

/// Two schemas are equal when their fields are; the inference bookkeeping does not count.
impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for Schema {}

impl Schema {
    pub fn new(fields: Vec<Field>) -> Self {
        Self {
            fields,
            nulls_only: Vec::new(),
        }
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Widens the schema with one feature's properties. Properties usually arrive in the same order as the
    /// fields, so the lookup tries the same position first: that keeps a million-feature import linear.
    pub fn observe(&mut self, properties: &Properties) {
        for (position, (name, value)) in properties.iter().enumerate() {
            let index = match self.fields.get(position) {
                Some(field) if field.name == *name => Some(position),
                _ => self.position(name),
            };
            let seen = FieldType::of_value(value);
            match index {
                Some(i) => {
                    if let Some(seen) = seen {
                        self.widen(i, seen);
                    }
                }
                None => {
                    self.nulls_only.resize(self.fields.len(), false);
                    self.nulls_only.push(seen.is_none());
                    self.fields.push(Field {
                        name: name.clone(),
                        field_type: seen.unwrap_or(FieldType::Text),
                    });
                }
            }
        }
    }

    /// Field `i` holds a value of type `seen`: a field seen only as null takes that type, any other widens.
    fn widen(&mut self, i: usize, seen: FieldType) {
        let field = &mut self.fields[i];
        if self.nulls_only.get(i).copied().unwrap_or(false) {
            field.field_type = seen;
            self.nulls_only[i] = false;
        } else {
            field.field_type = field.field_type.merge(seen);
        }
    }

    /// Merges another schema (e.g. a dataset's existing schema with the one of new rows). A field the other
    /// schema saw only as null says nothing about its type: it must not widen an existing field to text, or
    /// one appended feature with explicit nulls would turn every typed column into strings.
    pub fn merge(&mut self, other: &Schema) {
        for (j, field) in other.fields.iter().enumerate() {
            let other_nulls_only = other.nulls_only.get(j).copied().unwrap_or(false);
            match self.position(&field.name) {
                Some(_) if other_nulls_only => {}
                Some(i) => self.widen(i, field.field_type),
                None => {
                    self.nulls_only.resize(self.fields.len(), false);
                    self.nulls_only.push(other_nulls_only);
                    self.fields.push(field.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Properties {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn infers_and_widens_types() {
        let mut schema = Schema::default();
        schema.observe(&props(
            json!({"mag": 4, "place": "x", "when": "2024-05-01", "ok": true, "tags": [1]}),
        ));
        schema.observe(&props(json!({"mag": 4.5, "place": "y", "when": "2024-05-01T10:00:00Z", "ok": false, "extra": 1})));
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name.as_str(), f.field_type))
            .collect();
        assert_eq!(
            types,
            vec![
                ("mag", FieldType::Real),
                ("place", FieldType::Text),
                ("when", FieldType::DateTime),
                ("ok", FieldType::Boolean),
                ("tags", FieldType::Json),
                ("extra", FieldType::Integer),
            ]
        );
    }

    #[test]
    fn a_field_first_seen_null_takes_the_type_of_later_values() {
        let mut schema = Schema::default();
        schema.observe(&props(json!({"depth": null})));
        schema.observe(&props(json!({"depth": 3})));
        assert_eq!(
            schema.field("depth").unwrap().field_type,
            FieldType::Integer
        );
        let mut only_nulls = Schema::default();
        only_nulls.observe(&props(json!({"note": null})));
        assert_eq!(
            only_nulls.field("note").unwrap().field_type,
            FieldType::Text
        );
    }

    #[test]
    fn merging_nulls_keeps_types_and_untyped_fields_survive_storage() {
        let mut existing = Schema::default();
        existing.observe(&props(json!({"mag": 4, "ok": true, "note": null})));
        let stored: Schema =
            serde_json::from_str(&serde_json::to_string(&existing).unwrap()).unwrap();
        let mut nulls = Schema::default();
        nulls.observe(&props(
            json!({"mag": null, "ok": null, "note": null, "new": null}),
        ));
        let mut merged = stored.clone();
        merged.merge(&nulls);
        let types: Vec<_> = merged.fields().iter().map(|f| f.field_type).collect();
        assert_eq!(
            types,
            [
                FieldType::Integer,
                FieldType::Boolean,
                FieldType::Text,
                FieldType::Text
            ]
        );
        let mut valued = Schema::default();
        valued.observe(&props(json!({"note": "2024-05-01", "new": 1.5})));
        merged.merge(&valued);
        assert_eq!(merged.field("note").unwrap().field_type, FieldType::Date);
        assert_eq!(merged.field("new").unwrap().field_type, FieldType::Real);
    }

    #[test]
    fn mixed_kinds_fall_back_to_text() {
        let mut schema = Schema::default();
        schema.observe(&props(json!({"code": 12})));
        schema.observe(&props(json!({"code": "A7"})));
        assert_eq!(schema.field("code").unwrap().field_type, FieldType::Text);
    }

    #[test]
    fn free_text_is_never_a_date() {
        assert_eq!(
            FieldType::of_value(&json!("2024-13-45")),
            Some(FieldType::Text)
        );
        assert_eq!(
            FieldType::of_value(&json!("1999 was a year")),
            Some(FieldType::Text)
        );
    }

    // Found by an outside tester: an offset moved these past a four-digit year, and the GeoPackage's
    // DATETIME column held `-0001-12-31T23:30:00.000Z` and `+10000-01-01T00:30:00.000Z`, which GDAL flags.
    #[test]
    fn date_times_beyond_four_digit_years_in_utc_are_text() {
        for (text, expected) in [
            ("0000-01-01T00:30:00+01:00", FieldType::Text),
            ("9999-12-31T23:30:00-01:00", FieldType::Text),
            ("0000-01-01T00:30:00Z", FieldType::DateTime),
            ("9999-12-31T23:30:00+01:00", FieldType::DateTime),
        ] {
            assert_eq!(FieldType::of_value(&json!(text)), Some(expected), "{text}");
        }
    }
}
