//! CQL2 (OGC 21-065r2) in both encodings, read with the `cql2` crate and checked into a typed [`Filter`]
//! against the dataset's queryables. Anything the console cannot evaluate exactly (arithmetic, arrays,
//! accent folding, unknown functions, unknown properties) is refused here with a message, never guessed at.

use std::collections::BTreeSet;
use std::str::FromStr;

use cql2::Expr;
use geoconsole_model::geo_types::{Geometry, Polygon, Rect, coord};
use geoconsole_model::parse_time_value;
use serde_json::Value;

use crate::filter::{CompareOp, Filter, Interval, Operand, SpatialOp, TemporalOp};
use crate::filter_limits::{
    self, FILTER_STACK_BYTES, MAX_FILTER_BYTES, MAX_FILTER_DEPTH, STACK_RED_ZONE,
};
use crate::{QueryError, QueryErrorKind, QueryResult};

/// The two encodings of the `filter-lang` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLang {
    Text,
    Json,
}

impl FromStr for FilterLang {
    type Err = QueryError;
    fn from_str(s: &str) -> QueryResult<Self> {
        match s {
            "cql2-text" => Ok(Self::Text),
            "cql2-json" => Ok(Self::Json),
            other => Err(invalid(format!(
                "filter-lang '{other}' is not supported (use cql2-text or cql2-json)"
            ))),
        }
    }
}

/// The names a filter may use on one dataset.
#[derive(Debug, Clone, Default)]
pub struct Queryables {
    /// Property names as stored.
    pub properties: BTreeSet<String>,
}

/// Names that stand for the feature's own geometry, id and time rather than a property.
pub const GEOMETRY_NAMES: [&str; 2] = ["geometry", "geom"];
pub const TIME_NAMES: [&str; 2] = ["datetime", "time"];

const ARITHMETIC: [&str; 7] = ["+", "-", "*", "/", "%", "^", "div"];

fn invalid(message: String) -> QueryError {
    QueryError::new(QueryErrorKind::InvalidParameter, message)
}

/// Parses and checks a filter. The text is checked against the limits of [`crate::filter_limits`] before it
/// is parsed, and the parsed expression's depth before it is checked, so that no filter can make a stage
/// recurse deep enough to overflow the stack (which would abort the process).
pub fn parse_filter(text: &str, lang: FilterLang, queryables: &Queryables) -> QueryResult<Filter> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(invalid(format!(
            "filter is {} bytes; the limit is {MAX_FILTER_BYTES}",
            text.len()
        )));
    }
    match lang {
        FilterLang::Text => filter_limits::check_text(text),
        FilterLang::Json => filter_limits::check_json(text),
    }
    .map_err(invalid)?;
    // Defence in depth: the limits keep parsing and checking well within this much stack, and a caller on a
    // thread with less left gets a fresh stack rather than an abort.
    stacker::maybe_grow(STACK_RED_ZONE, FILTER_STACK_BYTES, || {
        let expr = match lang {
            FilterLang::Text => cql2::parse_text(text)
                .map_err(|e| invalid(format!("filter is not valid CQL2 text: {e}")))?,
            FilterLang::Json => cql2::parse_json(text)
                .map_err(|e| invalid(format!("filter is not valid CQL2 JSON: {e}")))?,
        };
        let depth = filter_limits::expr_depth(&expr);
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid(format!(
                "filter nests {depth} levels deep; at most {MAX_FILTER_DEPTH} are accepted"
            )));
        }
        Checker { queryables }.filter(&expr)
    })
}

struct Checker<'a> {
    queryables: &'a Queryables,
}

impl Checker<'_> {
    fn filter(&self, expr: &Expr) -> QueryResult<Filter> {
        match expr {
            Expr::Bool(b) => Ok(Filter::Bool(*b)),
            Expr::Operation { op, args } => self.operation(op, args),
            other => Err(invalid(format!(
                "a filter must be a predicate; got {}",
                describe(other)
            ))),
        }
    }

    fn operation(&self, op: &str, args: &[Box<Expr>]) -> QueryResult<Filter> {
        // `cql2` canonicalises the standard's operators; extension functions keep the caller's case.
        let lowered = op.to_ascii_lowercase();
        let op = if lowered == "s_dwithin" {
            "s_dwithin"
        } else {
            op
        };
        let arity = |n: usize| -> QueryResult<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(invalid(format!(
                    "{op} takes {n} arguments, got {}",
                    args.len()
                )))
            }
        };
        match op {
            "and" | "or" => {
                let all = args
                    .iter()
                    .map(|a| self.filter(a))
                    .collect::<QueryResult<Vec<_>>>()?;
                Ok(if op == "and" {
                    Filter::And(all)
                } else {
                    Filter::Or(all)
                })
            }
            "not" => {
                arity(1)?;
                Ok(Filter::Not(Box::new(self.filter(&args[0])?)))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                let op = match op {
                    "=" => CompareOp::Eq,
                    "<>" => CompareOp::Ne,
                    "<" => CompareOp::Lt,
                    "<=" => CompareOp::Le,
                    ">" => CompareOp::Gt,
                    _ => CompareOp::Ge,
                };
                Ok(Filter::Compare {
                    op,
                    left: self.operand(&args[0])?,
                    right: self.operand(&args[1])?,
                })
            }
            "like" => {
                arity(2)?;
                let (pattern, case_insensitive) = match &*args[1] {
                    Expr::Literal(p) => (p.clone(), false),
                    Expr::Operation { op, args } if op == "casei" && args.len() == 1 => {
                        match &*args[0] {
                            Expr::Literal(p) => (p.clone(), true),
                            other => {
                                return Err(invalid(format!(
                                    "LIKE needs a text pattern, got {}",
                                    describe(other)
                                )));
                            }
                        }
                    }
                    other => {
                        return Err(invalid(format!(
                            "LIKE needs a text pattern, got {}",
                            describe(other)
                        )));
                    }
                };
                let value = self.operand(&args[0])?;
                let case_insensitive =
                    case_insensitive || matches!(value, Operand::CaseInsensitive(_));
                Ok(Filter::Like {
                    value,
                    pattern,
                    case_insensitive,
                })
            }
            "in" => {
                arity(2)?;
                let Expr::Array(items) = &*args[1] else {
                    return Err(invalid("IN needs a list of values".into()));
                };
                Ok(Filter::In {
                    value: self.operand(&args[0])?,
                    list: items
                        .iter()
                        .map(|i| self.operand(i))
                        .collect::<QueryResult<_>>()?,
                })
            }
            "between" => {
                arity(3)?;
                Ok(Filter::Between {
                    value: self.operand(&args[0])?,
                    low: self.operand(&args[1])?,
                    high: self.operand(&args[2])?,
                })
            }
            "isNull" => {
                arity(1)?;
                Ok(Filter::IsNull(self.operand(&args[0])?))
            }
            "s_dwithin" => {
                if args.len() != 3 && args.len() != 4 {
                    return Err(invalid(format!(
                        "S_DWITHIN takes (geometry, literal geometry, distance[, units]), got {} arguments",
                        args.len()
                    )));
                }
                let geometry = self.spatial_pair(op, &args[0], &args[1])?;
                let distance = match &*args[2] {
                    Expr::Float(d) if d.is_finite() && *d >= 0.0 => *d,
                    other => {
                        return Err(invalid(format!(
                            "S_DWITHIN distance must be a non-negative number, got {}",
                            describe(other)
                        )));
                    }
                };
                let units = match args.get(3).map(|a| &**a) {
                    None => "meters".to_string(),
                    Some(Expr::Literal(u)) => u.clone(),
                    Some(Expr::Property { property }) => property.clone(),
                    Some(other) => {
                        return Err(invalid(format!(
                            "S_DWITHIN units must be a name, got {}",
                            describe(other)
                        )));
                    }
                };
                Ok(Filter::DWithin {
                    geometry,
                    metres: distance * metres_per(&units)?,
                })
            }
            op if op.starts_with("s_") => {
                arity(2)?;
                let spatial = match op {
                    "s_intersects" => SpatialOp::Intersects,
                    "s_disjoint" => SpatialOp::Disjoint,
                    "s_within" => SpatialOp::Within,
                    "s_contains" => SpatialOp::Contains,
                    "s_equals" => SpatialOp::Equals,
                    "s_touches" => SpatialOp::Touches,
                    "s_crosses" => SpatialOp::Crosses,
                    "s_overlaps" => SpatialOp::Overlaps,
                    other => return Err(invalid(format!("unknown spatial operator {other}"))),
                };
                Ok(Filter::Spatial {
                    op: spatial,
                    geometry: self.spatial_pair(op, &args[0], &args[1])?,
                })
            }
            op if op.starts_with("t_") => {
                arity(2)?;
                let temporal = match op {
                    "t_after" => TemporalOp::After,
                    "t_before" => TemporalOp::Before,
                    "t_contains" => TemporalOp::Contains,
                    "t_disjoint" => TemporalOp::Disjoint,
                    "t_during" => TemporalOp::During,
                    "t_equals" => TemporalOp::Equals,
                    "t_finishedBy" => TemporalOp::FinishedBy,
                    "t_finishes" => TemporalOp::Finishes,
                    "t_intersects" => TemporalOp::Intersects,
                    "t_meets" => TemporalOp::Meets,
                    "t_metBy" => TemporalOp::MetBy,
                    "t_overlappedBy" => TemporalOp::OverlappedBy,
                    "t_overlaps" => TemporalOp::Overlaps,
                    "t_startedBy" => TemporalOp::StartedBy,
                    "t_starts" => TemporalOp::Starts,
                    other => return Err(invalid(format!("unknown temporal operator {other}"))),
                };
                let literal = match (self.is_time(&args[0]), self.is_time(&args[1])) {
                    (true, false) => &args[1],
                    _ => {
                        return Err(invalid(format!(
                            "{} compares the feature's time (`datetime`) with a literal instant or interval",
                            op.to_uppercase()
                        )));
                    }
                };
                Ok(Filter::Temporal {
                    op: temporal,
                    literal: interval(literal)?,
                })
            }
            "casei" | "accenti" => Err(invalid(format!(
                "{} can only wrap a value in a comparison",
                op.to_uppercase()
            ))),
            op if ARITHMETIC.contains(&op) => Err(invalid(format!(
                "arithmetic ({op}) is not supported in filters"
            ))),
            op if op.starts_with("a_") => {
                Err(invalid(format!("array operators ({op}) are not supported")))
            }
            other => Err(invalid(format!("unknown function or operator '{other}'"))),
        }
    }

    fn is_time(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Property { property } if TIME_NAMES.contains(&property.as_str()))
    }

    /// Checks that a spatial predicate compares the feature's geometry with a literal, and returns the literal.
    fn spatial_pair(&self, op: &str, a: &Expr, b: &Expr) -> QueryResult<Geometry<f64>> {
        let is_geometry = |e: &Expr| matches!(e, Expr::Property { property } if GEOMETRY_NAMES.contains(&property.as_str()));
        let literal = match (is_geometry(a), is_geometry(b)) {
            (true, false) => b,
            (false, true) => a,
            _ => {
                return Err(invalid(format!(
                    "{} compares the feature's `geometry` with a literal geometry",
                    op.to_uppercase()
                )));
            }
        };
        geometry(literal)
    }

    fn operand(&self, expr: &Expr) -> QueryResult<Operand> {
        match expr {
            Expr::Property { property } => {
                if self.queryables.properties.contains(property) {
                    Ok(Operand::Property(property.clone()))
                } else if property == "id" {
                    Ok(Operand::Id)
                } else {
                    let known: Vec<&str> = self
                        .queryables
                        .properties
                        .iter()
                        .map(String::as_str)
                        .take(50)
                        .collect();
                    Err(invalid(format!(
                        "unknown property '{property}'; queryables are: {}",
                        known.join(", ")
                    )))
                }
            }
            Expr::Float(f) => Ok(Operand::Literal(
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            )),
            Expr::Literal(s) => Ok(Operand::Literal(Value::String(s.clone()))),
            Expr::Bool(b) => Ok(Operand::Literal(Value::Bool(*b))),
            Expr::Null => Ok(Operand::Literal(Value::Null)),
            Expr::Timestamp { timestamp } | Expr::Date { date: timestamp } => {
                Ok(Operand::Timestamp(instant(timestamp)?))
            }
            Expr::Operation { op, args } if op == "casei" && args.len() == 1 => {
                Ok(Operand::CaseInsensitive(Box::new(self.operand(&args[0])?)))
            }
            Expr::Operation { op, .. } if op == "accenti" => {
                Err(invalid("ACCENTI is not supported".into()))
            }
            Expr::Operation { op, .. } if ARITHMETIC.contains(&op.as_str()) => Err(invalid(
                format!("arithmetic ({op}) is not supported in filters"),
            )),
            other => Err(invalid(format!("{} cannot be compared", describe(other)))),
        }
    }
}

fn instant(expr: &Expr) -> QueryResult<chrono::DateTime<chrono::Utc>> {
    match expr {
        Expr::Literal(t) => parse_time_value(&Value::String(t.clone()))
            .map_err(|e| invalid(format!("'{t}' is not a time: {}", e.message()))),
        Expr::Timestamp { timestamp } | Expr::Date { date: timestamp } => instant(timestamp),
        other => Err(invalid(format!("expected a time, got {}", describe(other)))),
    }
}

fn interval(expr: &Expr) -> QueryResult<Interval> {
    match expr {
        Expr::Interval { interval } if interval.len() == 2 => {
            let end = |e: &Expr| -> QueryResult<Option<chrono::DateTime<chrono::Utc>>> {
                match e {
                    Expr::Literal(t) if t == ".." => Ok(None),
                    other => instant(other).map(Some),
                }
            };
            let (start, stop) = (end(&interval[0])?, end(&interval[1])?);
            if let (Some(s), Some(e)) = (start, stop)
                && e < s
            {
                return Err(invalid("interval ends before it starts".into()));
            }
            Ok(Interval { start, end: stop })
        }
        Expr::Timestamp { .. } | Expr::Date { .. } => {
            let at = instant(expr)?;
            Ok(Interval {
                start: Some(at),
                end: Some(at),
            })
        }
        other => Err(invalid(format!(
            "expected TIMESTAMP, DATE or INTERVAL, got {}",
            describe(other)
        ))),
    }
}

fn geometry(expr: &Expr) -> QueryResult<Geometry<f64>> {
    match expr {
        Expr::Geometry(g) => {
            let text = g
                .to_wkt()
                .map_err(|e| invalid(format!("unreadable geometry: {e}")))?;
            let parsed = wkt::Wkt::<f64>::from_str(&text)
                .map_err(|e| invalid(format!("unreadable geometry: {e}")))?;
            let geometry: Geometry<f64> =
                parsed.try_into().map_err(|e: wkt::conversion::Error| {
                    invalid(format!("unsupported geometry: {e}"))
                })?;
            geoconsole_model::validate_geometry(&geometry)
                .map_err(|e| invalid(format!("geometry literal: {}", e.message())))?;
            Ok(geometry)
        }
        Expr::BBox { bbox } => {
            let numbers: Vec<f64> = bbox
                .iter()
                .map(|b| match &**b {
                    Expr::Float(f) => Ok(*f),
                    other => Err(invalid(format!(
                        "BBOX takes numbers, got {}",
                        describe(other)
                    ))),
                })
                .collect::<QueryResult<_>>()?;
            let text = numbers
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let b = geoconsole_model::Bbox::parse(&text)
                .map_err(|e| invalid(format!("BBOX: {}", e.message())))?;
            if b.crosses_antimeridian() {
                let parts = b.split_at_antimeridian();
                return Ok(Geometry::MultiPolygon(
                    parts
                        .iter()
                        .map(|p| rect(p.west, p.south, p.east, p.north))
                        .collect(),
                ));
            }
            Ok(Geometry::Polygon(rect(b.west, b.south, b.east, b.north)))
        }
        other => Err(invalid(format!(
            "expected a geometry literal, got {}",
            describe(other)
        ))),
    }
}

fn rect(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
    Rect::new(coord! { x: west, y: south }, coord! { x: east, y: north }).to_polygon()
}

fn metres_per(units: &str) -> QueryResult<f64> {
    Ok(match units.to_ascii_lowercase().as_str() {
        "m" | "meter" | "meters" | "metre" | "metres" => 1.0,
        "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => 1000.0,
        "mi" | "mile" | "miles" | "statute miles" => 1609.344,
        "nmi" | "nautical miles" | "nautical mile" => 1852.0,
        "ft" | "feet" | "foot" => 0.3048,
        other => {
            return Err(invalid(format!(
                "unknown distance unit '{other}' (use meters, kilometers, miles, nautical miles or feet)"
            )));
        }
    })
}

fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Operation { op, .. } => format!("the operation {op}"),
        Expr::Property { property } => format!("the property '{property}'"),
        Expr::Float(f) => format!("the number {f}"),
        Expr::Literal(s) => format!("the text '{s}'"),
        Expr::Bool(b) => format!("the boolean {b}"),
        Expr::Null => "NULL".into(),
        Expr::Interval { .. } => "an interval".into(),
        Expr::Timestamp { .. } | Expr::Date { .. } => "a time".into(),
        Expr::BBox { .. } | Expr::Geometry(_) => "a geometry".into(),
        Expr::Array(_) => "a list".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Subject;
    use chrono::{TimeZone, Utc};
    use geoconsole_model::geo_types::Point;
    use geoconsole_model::{Feature, FeatureId, Properties, TimeSpan};
    use serde_json::json;

    fn queryables() -> Queryables {
        Queryables {
            properties: ["mag", "place", "alert", "depth", "tsunami"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    fn quake(mag: f64, place: &str, lon: f64, lat: f64, day: u32) -> Feature {
        let Value::Object(properties) =
            json!({"mag": mag, "place": place, "alert": null, "depth": "10.5", "tsunami": false})
        else {
            unreachable!()
        };
        Feature {
            id: Some(FeatureId(format!("q{day}"))),
            geometry: Some(Geometry::Point(Point::new(lon, lat))),
            time: Some(TimeSpan::instant(
                Utc.with_ymd_and_hms(2024, 5, day, 6, 0, 0).unwrap(),
            )),
            properties: Properties::from(properties),
        }
    }

    fn text(f: &str) -> Filter {
        parse_filter(f, FilterLang::Text, &queryables()).unwrap_or_else(|e| panic!("{f}: {e}"))
    }

    #[test]
    fn text_filters_evaluate() {
        let q = quake(5.6, "45 km S of Kathmandu, Nepal", 85.3, 27.3, 3);
        let yes = [
            "mag > 5",
            "mag >= 5.6 AND place LIKE '%Nepal'",
            "CASEI(place) LIKE '%nepal'",
            "mag BETWEEN 5 AND 6",
            "mag IN (4.0, 5.6)",
            "alert IS NULL",
            "NOT (mag < 5)",
            "depth > 10",
            "tsunami = false",
            "id = 'q3'",
            "S_INTERSECTS(geometry, POLYGON((80 20, 90 20, 90 30, 80 30, 80 20)))",
            "S_WITHIN(geometry, BBOX(80, 20, 90, 30))",
            "S_DWITHIN(geometry, POINT(85.3 27.4), 12, kilometers)",
            "T_INTERSECTS(datetime, INTERVAL('2024-05-03T00:00:00Z', '2024-05-04T00:00:00Z'))",
            "T_DURING(datetime, INTERVAL('2024-05-01T00:00:00Z', '..'))",
            "T_AFTER(datetime, TIMESTAMP('2024-05-02T00:00:00Z'))",
        ];
        for f in yes {
            assert!(text(f).matches(&q), "{f} should match");
        }
        let no = [
            "mag > 6",
            "alert = 'red'",
            "NOT (alert = 'red')",
            "place LIKE 'nepal%'",
            "S_DWITHIN(geometry, POINT(85.3 27.4), 5, kilometers)",
            "T_BEFORE(datetime, DATE('2024-05-01'))",
        ];
        for f in no {
            assert!(!text(f).matches(&q), "{f} should not match");
        }
    }

    #[test]
    fn spatial_predicates_on_an_unlocated_feature_are_unknown() {
        let mut q = quake(5.6, "somewhere", 85.3, 27.3, 3);
        q.geometry = None;
        for f in [
            "S_INTERSECTS(geometry, POLYGON((80 20, 90 20, 90 30, 80 30, 80 20)))",
            "NOT S_INTERSECTS(geometry, POLYGON((80 20, 90 20, 90 30, 80 30, 80 20)))",
            "S_DWITHIN(geometry, POINT(85.3 27.4), 12, kilometers)",
            "NOT S_DISJOINT(geometry, BBOX(80, 20, 90, 30))",
        ] {
            assert_eq!(text(f).eval(&q), None, "{f}");
            assert!(!text(f).matches(&q), "{f}");
        }
        // Unknown OR true is true: the rest of the filter still speaks.
        assert!(text("S_INTERSECTS(geometry, BBOX(80, 20, 90, 30)) OR mag > 5").matches(&q));
    }

    #[test]
    fn json_filters_evaluate() {
        let q = quake(5.6, "Nepal", 85.3, 27.3, 3);
        let f = parse_filter(
            r#"{"op":"and","args":[{"op":">","args":[{"property":"mag"},5]},
                {"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[85.3,27.3]}]}]}"#,
            FilterLang::Json,
            &queryables(),
        )
        .unwrap();
        assert!(f.matches(&q));
        assert!(f.needs_properties());
        assert!(f.spatial_bounds().is_some());
    }

    #[test]
    fn bad_filters_are_refused_with_reasons() {
        for (f, why) in [
            ("nope > 1", "unknown property 'nope'"),
            ("mag >", "not valid CQL2"),
            ("mag + 1 > 2", "arithmetic"),
            (
                "S_INTERSECTS(POINT(1 1), POINT(1 1))",
                "feature's `geometry`",
            ),
            (
                "S_DWITHIN(geometry, POINT(1 1), 5, parsecs)",
                "unknown distance unit",
            ),
            (
                "T_INTERSECTS(datetime, INTERVAL('2024-05-03', '2024-05-01'))",
                "ends before",
            ),
            ("mag", "predicate"),
        ] {
            let err = parse_filter(f, FilterLang::Text, &queryables()).expect_err(f);
            assert!(err.to_string().contains(why), "{f}: {err}");
        }
        let deep = format!("{}mag > 1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse_filter(&deep, FilterLang::Text, &queryables()).is_err());
        assert!("cql2-yaml".parse::<FilterLang>().is_err());
    }

    #[test]
    fn null_comparisons_are_unknown_not_false() {
        let q = quake(5.6, "x", 0.0, 0.0, 3);
        assert!(!text("alert = 'red'").matches(&q));
        assert!(
            !text("NOT (alert = 'red')").matches(&q),
            "NOT unknown is unknown"
        );
        assert!(text("alert = 'red' OR mag > 1").matches(&q));
        assert!(q.property("alert").is_some());
    }

    #[test]
    fn spatial_only_filters_do_not_need_properties() {
        let f = text(
            "S_DWITHIN(geometry, POINT(0 0), 1000, meters) AND T_AFTER(datetime, TIMESTAMP('2024-01-01T00:00:00Z'))",
        );
        assert!(!f.needs_properties());
        let b = f.spatial_bounds().unwrap();
        assert!(b.west < 0.0 && b.east > 0.0 && (b.north - 0.00905).abs() < 0.001);
    }
}
