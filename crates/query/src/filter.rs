//! The typed filter AST every CQL2 expression is checked into, and its evaluation against one feature.
//! Comparisons follow SQL's three-valued logic: a missing or null property makes a comparison unknown,
//! and only features for which the whole filter is true are selected.

use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Intersects, Relate};
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Bbox, TimeSpan};
use serde_json::Value;

/// A checked filter. Property names have been resolved against the dataset (see [`Queryables`]).
///
/// Evaluation recurses once per level. [`crate::parse_filter`] builds filters at most
/// [`crate::filter_limits::MAX_FILTER_DEPTH`] levels deep, which evaluates in about 80 KiB of stack
/// even in a debug build; code that builds a filter itself must keep to that too.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Bool(bool),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        op: CompareOp,
        left: Operand,
        right: Operand,
    },
    Like {
        value: Operand,
        pattern: String,
        case_insensitive: bool,
    },
    In {
        value: Operand,
        list: Vec<Operand>,
    },
    Between {
        value: Operand,
        low: Operand,
        high: Operand,
    },
    IsNull(Operand),
    /// A spatial predicate between the feature's geometry and a literal geometry.
    Spatial {
        op: SpatialOp,
        geometry: Geometry<f64>,
    },
    /// The feature lies within `metres` of the literal geometry (geodesic distance, WGS84 sphere).
    DWithin {
        geometry: Geometry<f64>,
        metres: f64,
    },
    /// A temporal predicate between the feature's time and a literal instant or interval.
    Temporal {
        op: TemporalOp,
        literal: Interval,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    Intersects,
    Disjoint,
    Within,
    Contains,
    Equals,
    Touches,
    Crosses,
    Overlaps,
}

/// Allen's interval relations as CQL2 names them (`T_BEFORE` … `T_INTERSECTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalOp {
    After,
    Before,
    Contains,
    Disjoint,
    During,
    Equals,
    FinishedBy,
    Finishes,
    Intersects,
    Meets,
    MetBy,
    OverlappedBy,
    Overlaps,
    StartedBy,
    Starts,
}

/// A temporal literal: an instant (`start == end`) or an interval, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// A value in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(String),
    /// The feature's id.
    Id,
    Literal(Value),
    Timestamp(DateTime<Utc>),
    /// `CASEI(x)`: compared lower-cased.
    CaseInsensitive(Box<Operand>),
}

/// What a filter reads of a feature. Implemented by whole features, and by the index for filters that need
/// only geometry and time.
pub trait Subject {
    fn property(&self, name: &str) -> Option<&Value>;
    fn id(&self) -> Option<&str>;
    /// `None` for an unlocated feature, on which every spatial predicate is unknown.
    fn geometry(&self) -> Option<Geometry<f64>>;
    fn time(&self) -> Option<TimeSpan>;
}

impl Subject for geoconsole_model::Feature {
    fn property(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }
    fn id(&self) -> Option<&str> {
        self.id.as_ref().map(|i| i.as_str())
    }
    fn geometry(&self) -> Option<Geometry<f64>> {
        self.geometry.clone()
    }
    fn time(&self) -> Option<TimeSpan> {
        self.time
    }
}

/// A value as compared: numbers numerically, text by code point, instants in time, booleans.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Scalar {
    Number(f64),
    Text(String),
    Instant(DateTime<Utc>),
    Bool(bool),
}

impl Filter {
    /// Whether the feature is selected (unknown counts as not selected).
    pub fn matches(&self, subject: &dyn Subject) -> bool {
        self.eval(subject) == Some(true)
    }

    /// Whether evaluating the filter reads properties (or the id), which the in-memory index does not hold.
    pub fn needs_properties(&self) -> bool {
        match self {
            Filter::Bool(_)
            | Filter::Spatial { .. }
            | Filter::DWithin { .. }
            | Filter::Temporal { .. } => false,
            Filter::And(all) | Filter::Or(all) => all.iter().any(Filter::needs_properties),
            Filter::Not(inner) => inner.needs_properties(),
            _ => true,
        }
    }

    /// The properties the filter reads, so a caller holding them column by column builds only those.
    pub fn property_names(&self) -> std::collections::BTreeSet<&str> {
        fn operand<'f>(o: &'f Operand, names: &mut std::collections::BTreeSet<&'f str>) {
            match o {
                Operand::Property(name) => {
                    names.insert(name);
                }
                Operand::CaseInsensitive(inner) => operand(inner, names),
                Operand::Id | Operand::Literal(_) | Operand::Timestamp(_) => {}
            }
        }
        fn walk<'f>(f: &'f Filter, names: &mut std::collections::BTreeSet<&'f str>) {
            match f {
                Filter::And(all) | Filter::Or(all) => all.iter().for_each(|f| walk(f, names)),
                Filter::Not(inner) => walk(inner, names),
                Filter::Compare { left, right, .. } => {
                    operand(left, names);
                    operand(right, names);
                }
                Filter::Like { value, .. } | Filter::IsNull(value) => operand(value, names),
                Filter::In { value, list } => {
                    operand(value, names);
                    list.iter().for_each(|o| operand(o, names));
                }
                Filter::Between { value, low, high } => {
                    [value, low, high]
                        .into_iter()
                        .for_each(|o| operand(o, names));
                }
                Filter::Bool(_)
                | Filter::Spatial { .. }
                | Filter::DWithin { .. }
                | Filter::Temporal { .. } => {}
            }
        }
        let mut names = std::collections::BTreeSet::new();
        walk(self, &mut names);
        names
    }

    /// A box every selected feature's envelope must meet, when the filter implies one (a spatial predicate
    /// in a conjunction), so the index can narrow the candidates before anything else is evaluated.
    pub fn spatial_bounds(&self) -> Option<Bbox> {
        match self {
            Filter::Spatial {
                op:
                    SpatialOp::Intersects
                    | SpatialOp::Within
                    | SpatialOp::Equals
                    | SpatialOp::Touches
                    | SpatialOp::Crosses
                    | SpatialOp::Overlaps,
                geometry,
            } => Bbox::of_geometry(geometry),
            Filter::DWithin { geometry, metres } => {
                let bbox = Bbox::of_geometry(geometry)?;
                // One degree of latitude is at least 110.5 km; longitude degrees shrink towards the poles.
                let dlat = metres / 110_500.0;
                let widest = bbox.south.abs().max(bbox.north.abs()) + dlat;
                if widest >= 89.0 {
                    return Some(Bbox {
                        west: -180.0,
                        south: (bbox.south - dlat).max(-90.0),
                        east: 180.0,
                        north: (bbox.north + dlat).min(90.0),
                    });
                }
                let dlon = dlat / widest.to_radians().cos();
                if bbox.west - dlon < -180.0 || bbox.east + dlon > 180.0 {
                    return Some(Bbox {
                        west: -180.0,
                        south: bbox.south - dlat,
                        east: 180.0,
                        north: bbox.north + dlat,
                    });
                }
                Some(Bbox {
                    west: bbox.west - dlon,
                    south: bbox.south - dlat,
                    east: bbox.east + dlon,
                    north: bbox.north + dlat,
                })
            }
            Filter::And(all) => all
                .iter()
                .filter_map(Filter::spatial_bounds)
                .reduce(|a, b| {
                    // Both must be met: the intersection of two plain boxes, or the tighter one when either
                    // crosses the antimeridian.
                    if a.crosses_antimeridian() || b.crosses_antimeridian() {
                        return if (a.east - a.west).abs() < (b.east - b.west).abs() {
                            a
                        } else {
                            b
                        };
                    }
                    Bbox {
                        west: a.west.max(b.west),
                        south: a.south.max(b.south),
                        east: a.east.min(b.east),
                        north: a.north.min(b.north),
                    }
                }),
            _ => None,
        }
    }

    pub(crate) fn eval(&self, s: &dyn Subject) -> Option<bool> {
        match self {
            Filter::Bool(b) => Some(*b),
            Filter::And(all) => {
                let mut result = Some(true);
                for f in all {
                    match f.eval(s) {
                        Some(false) => return Some(false),
                        None => result = None,
                        Some(true) => {}
                    }
                }
                result
            }
            Filter::Or(all) => {
                let mut result = Some(false);
                for f in all {
                    match f.eval(s) {
                        Some(true) => return Some(true),
                        None => result = None,
                        Some(false) => {}
                    }
                }
                result
            }
            Filter::Not(inner) => inner.eval(s).map(|b| !b),
            Filter::Compare { op, left, right } => {
                let (a, b) = comparable(scalar(left, s)?, scalar(right, s)?)?;
                let ordering = a.partial_cmp(&b)?;
                Some(match op {
                    CompareOp::Eq => ordering.is_eq(),
                    CompareOp::Ne => ordering.is_ne(),
                    CompareOp::Lt => ordering.is_lt(),
                    CompareOp::Le => ordering.is_le(),
                    CompareOp::Gt => ordering.is_gt(),
                    CompareOp::Ge => ordering.is_ge(),
                })
            }
            Filter::Like {
                value,
                pattern,
                case_insensitive,
            } => {
                let text = match scalar(value, s)? {
                    Scalar::Text(t) => t,
                    Scalar::Number(n) => n.to_string(),
                    Scalar::Bool(b) => b.to_string(),
                    Scalar::Instant(t) => geoconsole_model::format_rfc3339(t),
                };
                if *case_insensitive {
                    Some(like(&text.to_lowercase(), &pattern.to_lowercase()))
                } else {
                    Some(like(&text, pattern))
                }
            }
            Filter::In { value, list } => {
                let v = scalar(value, s)?;
                let mut unknown = false;
                for item in list {
                    match scalar(item, s).and_then(|i| comparable(v.clone(), i)) {
                        Some((a, b)) if a == b => return Some(true),
                        Some(_) => {}
                        None => unknown = true,
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Filter::Between { value, low, high } => {
                let (v, lo) = comparable(scalar(value, s)?, scalar(low, s)?)?;
                let (v2, hi) = comparable(scalar(value, s)?, scalar(high, s)?)?;
                Some(v >= lo && v2 <= hi)
            }
            Filter::IsNull(operand) => Some(match operand {
                Operand::Property(name) => s.property(name).is_none_or(Value::is_null),
                Operand::Id => s.id().is_none(),
                _ => false,
            }),
            // Three-valued logic: where the feature has no place, whether it meets a place is unknown (so
            // `NOT S_INTERSECTS(...)` does not select it either).
            Filter::Spatial { op, geometry } => Some(spatial(*op, &s.geometry()?, geometry)),
            Filter::DWithin { geometry, metres } => {
                Some(distance_metres(&s.geometry()?, geometry) <= *metres)
            }
            Filter::Temporal { op, literal } => {
                let span = s.time()?;
                Some(temporal(*op, span, *literal))
            }
        }
    }
}

fn scalar(operand: &Operand, s: &dyn Subject) -> Option<Scalar> {
    match operand {
        Operand::Property(name) => to_scalar(s.property(name)?),
        Operand::Id => s.id().map(|i| Scalar::Text(i.to_string())),
        Operand::Literal(v) => to_scalar(v),
        Operand::Timestamp(t) => Some(Scalar::Instant(*t)),
        Operand::CaseInsensitive(inner) => match scalar(inner, s)? {
            Scalar::Text(t) => Some(Scalar::Text(t.to_lowercase())),
            other => Some(other),
        },
    }
}

fn to_scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) => n.as_f64().map(Scalar::Number),
        Value::String(t) => Some(Scalar::Text(t.clone())),
        other => Some(Scalar::Text(other.to_string())),
    }
}

/// Brings two scalars to one kind: text that reads as a number or an instant is compared as one when the
/// other side is, since CSV and GeoJSON sources do not always type their columns. `None` when the kinds
/// cannot be compared.
fn comparable(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    use Scalar::*;
    let instant = |t: &str| {
        geoconsole_model::parse_time_value(&Value::String(t.to_string()))
            .ok()
            .map(Instant)
    };
    match (a, b) {
        (Number(x), Number(y)) => Some((Number(x), Number(y))),
        (Text(x), Text(y)) => Some((Text(x), Text(y))),
        (Instant(x), Instant(y)) => Some((Instant(x), Instant(y))),
        (Bool(x), Bool(y)) => Some((Bool(x), Bool(y))),
        (Number(x), Text(y)) => y.trim().parse().ok().map(|y| (Number(x), Number(y))),
        (Text(x), Number(y)) => x.trim().parse().ok().map(|x| (Number(x), Number(y))),
        (Instant(x), Text(y)) => instant(&y).map(|y| (Instant(x), y)),
        (Text(x), Instant(y)) => instant(&x).map(|x| (x, Instant(y))),
        (Bool(x), Text(y)) => y.parse().ok().map(|y| (Bool(x), Bool(y))),
        (Text(x), Bool(y)) => x.parse().ok().map(|x| (Bool(x), Bool(y))),
        _ => None,
    }
}

/// CQL2 `LIKE`: `%` matches any run of characters, `_` exactly one, `\` escapes the next character.
pub fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            '\\' => Token::Char(chars.next().unwrap_or('\\')),
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy match with one backtrack point per `%`: linear in practice, never exponential.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                t += 1;
                p += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| *t == Token::Any)
}

fn spatial(op: SpatialOp, feature: &Geometry<f64>, literal: &Geometry<f64>) -> bool {
    match op {
        SpatialOp::Intersects => feature.intersects(literal),
        SpatialOp::Disjoint => !feature.intersects(literal),
        SpatialOp::Within => feature.relate(literal).is_within(),
        SpatialOp::Contains => feature.relate(literal).is_contains(),
        SpatialOp::Equals => feature.relate(literal).is_equal_topo(),
        SpatialOp::Touches => feature.relate(literal).is_touches(),
        SpatialOp::Crosses => feature.relate(literal).is_crosses(),
        SpatialOp::Overlaps => feature.relate(literal).is_overlaps(),
    }
}

/// Geodesic distance in metres between the closest points of two geometries: zero when they meet;
/// otherwise the closest pair is found in the longitude/latitude plane and measured on the sphere, which
/// is exact for points and within a fraction of a percent at the distances hazards are screened at.
pub fn distance_metres(a: &Geometry<f64>, b: &Geometry<f64>) -> f64 {
    use geo::{Closest, ClosestPoint, CoordsIter};
    if let (Geometry::Point(p), Geometry::Point(q)) = (a, b) {
        return Haversine.distance(*p, *q);
    }
    if a.intersects(b) {
        return 0.0;
    }
    let nearest_on = |target: &Geometry<f64>, from: Point<f64>| -> Option<Point<f64>> {
        match target.closest_point(&from) {
            Closest::Intersection(p) | Closest::SinglePoint(p) => Some(p),
            Closest::Indeterminate => None,
        }
    };
    let mut best = f64::INFINITY;
    for (from, to) in [(a, b), (b, a)] {
        for coord in from.coords_iter() {
            let p = Point::from(coord);
            if let Some(q) = nearest_on(to, p) {
                best = best.min(Haversine.distance(p, q));
            }
        }
    }
    best
}

fn temporal(op: TemporalOp, span: TimeSpan, literal: Interval) -> bool {
    let (a0, a1) = (span.start, span.end);
    // Open literal ends reach to the beginning or end of time.
    let b0 = literal.start.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let b1 = literal.end.unwrap_or(DateTime::<Utc>::MAX_UTC);
    use TemporalOp::*;
    match op {
        After => a0 > b1,
        Before => a1 < b0,
        Contains => a0 < b0 && a1 > b1,
        Disjoint => a1 < b0 || a0 > b1,
        During => a0 > b0 && a1 < b1,
        Equals => a0 == b0 && a1 == b1,
        FinishedBy => a0 < b0 && a1 == b1,
        Finishes => a0 > b0 && a1 == b1,
        Intersects => a0 <= b1 && a1 >= b0,
        Meets => a1 == b0,
        MetBy => a0 == b1,
        OverlappedBy => a0 > b0 && a0 < b1 && a1 > b1,
        Overlaps => a0 < b0 && a1 > b0 && a1 < b1,
        StartedBy => a0 == b0 && a1 > b1,
        Starts => a0 == b0 && a1 < b1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_are_every_property_an_expression_reads() {
        let p = |name: &str| Operand::Property(name.into());
        let filter = Filter::And(vec![
            Filter::Compare {
                op: CompareOp::Ge,
                left: p("severity"),
                right: Operand::Literal(Value::from(3)),
            },
            Filter::Not(Box::new(Filter::IsNull(Operand::CaseInsensitive(
                Box::new(p("category")),
            )))),
            Filter::Or(vec![
                Filter::In {
                    value: Operand::Id,
                    list: vec![p("alias")],
                },
                Filter::Between {
                    value: p("depth"),
                    low: p("min_depth"),
                    high: Operand::Literal(Value::from(9)),
                },
                Filter::Like {
                    value: p("place"),
                    pattern: "%x".into(),
                    case_insensitive: false,
                },
                Filter::Bool(true),
            ]),
        ]);
        let names: Vec<&str> = filter.property_names().into_iter().collect();
        assert_eq!(
            names,
            [
                "alias",
                "category",
                "depth",
                "min_depth",
                "place",
                "severity"
            ]
        );
    }

    #[test]
    fn like_handles_wildcards_and_escapes() {
        assert!(like("Kathmandu", "Kath%"));
        assert!(like("Kathmandu", "%man%"));
        assert!(like("Kathmandu", "K_thmandu"));
        assert!(!like("Kathmandu", "K_thmand"));
        assert!(like("100%", "100\\%"));
        assert!(!like("1000", "100\\%"));
        assert!(like("", "%"));
        assert!(like("aaa", "%a%a%a%"));
        assert!(!like("aa", "%a%a%a%"));
        let long = "a".repeat(10_000);
        assert!(
            !like(&long, &format!("{}b", "%a".repeat(50))),
            "no exponential backtracking"
        );
    }

    #[test]
    fn distances_are_geodesic_metres() {
        let paris = Geometry::Point(Point::new(2.3522, 48.8566));
        let london = Geometry::Point(Point::new(-0.1276, 51.5072));
        let d = distance_metres(&paris, &london);
        assert!((d - 343_500.0).abs() < 2_000.0, "{d}");
    }
}
