//! Esri JSON as the ArcGIS REST API writes it: geometries (points, multipoints, polylines, and polygons
//! whose rings say by their winding whether they are outer rings or holes), and the layer's field
//! definitions that give raw values their meaning (dates in epoch milliseconds, coded-value domains, per
//! subtype when the layer has subtypes).

use std::collections::HashMap;

use chrono::DateTime;
use geoconsole_model::geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use geoconsole_model::{Properties, format_rfc3339};
use serde::Deserialize;
use serde_json::Value;

/// One field of a layer's metadata (`fields` in `{layer}?f=json`).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct FieldInfo {
    pub name: String,
    #[serde(rename = "type", default)]
    pub field_type: String,
    #[serde(default)]
    pub domain: Option<Domain>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Domain {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub coded_values: Vec<CodedValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct CodedValue {
    pub name: String,
    pub code: Value,
}

/// A subtype (`types` in the metadata): its code and the domains that replace the fields' own for it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct SubtypeInfo {
    pub id: Value,
    #[serde(default)]
    pub domains: HashMap<String, Option<Domain>>,
}

pub(super) const DATE: &str = "esriFieldTypeDate";
pub(super) const OID: &str = "esriFieldTypeOID";

type Codes = HashMap<String, String>;

/// What each field's raw values mean.
#[derive(Debug, Default)]
pub(super) struct FieldRules {
    dates: std::collections::HashSet<String>,
    codes: HashMap<String, Codes>,
    subtype_field: Option<String>,
    /// Subtype code → field → that subtype's codes (`None` means the subtype has no domain on the field).
    subtype_codes: HashMap<String, HashMap<String, Option<Codes>>>,
}

/// Codes are numbers or strings in the metadata and the data alike; one key form for both.
fn code_key(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn coded(domain: &Option<Domain>) -> Option<Codes> {
    let domain = domain.as_ref()?;
    if domain.kind != "codedValue" {
        return None;
    }
    Some(
        domain
            .coded_values
            .iter()
            .filter_map(|c| Some((code_key(&c.code)?, c.name.clone())))
            .collect(),
    )
}

impl FieldRules {
    pub fn new(
        fields: &[FieldInfo],
        subtype_field: Option<&str>,
        subtypes: &[SubtypeInfo],
    ) -> Self {
        let mut rules = Self::default();
        for field in fields {
            if field.field_type == DATE {
                rules.dates.insert(field.name.clone());
            }
            if let Some(codes) = coded(&field.domain) {
                rules.codes.insert(field.name.clone(), codes);
            }
        }
        if let Some(type_field) = subtype_field.filter(|f| !f.is_empty()) {
            rules.subtype_field = Some(type_field.to_string());
            for subtype in subtypes {
                let Some(key) = code_key(&subtype.id) else {
                    continue;
                };
                let domains = subtype
                    .domains
                    .iter()
                    .map(|(field, domain)| (field.clone(), coded(domain)))
                    .collect();
                rules.subtype_codes.insert(key, domains);
            }
        }
        rules
    }

    /// Replaces codes by their names and epoch-millisecond dates by RFC 3339 times, in place. A code the
    /// domain does not list stays as it is: it is the data, and the domain may simply be out of date.
    pub fn apply(&self, properties: &mut Properties) {
        if self.dates.is_empty() && self.codes.is_empty() && self.subtype_codes.is_empty() {
            return;
        }
        let subtype = self
            .subtype_field
            .as_ref()
            .and_then(|f| properties.get(f))
            .and_then(code_key)
            .and_then(|k| self.subtype_codes.get(&k));
        for (name, value) in properties.iter_mut() {
            if value.is_null() {
                continue;
            }
            if self.dates.contains(name) {
                if let Some(at) = value.as_f64().and_then(epoch_millis) {
                    *value = Value::String(format_rfc3339(at));
                }
                continue;
            }
            let codes = match subtype.and_then(|s| s.get(name)) {
                Some(own) => own.as_ref(),
                None => self.codes.get(name),
            };
            if let Some(name) = codes.and_then(|c| code_key(value).and_then(|k| c.get(&k))) {
                *value = Value::String(name.clone());
            }
        }
    }
}

pub(super) fn epoch_millis(ms: f64) -> Option<DateTime<chrono::Utc>> {
    if !ms.is_finite() {
        return None;
    }
    DateTime::from_timestamp_millis(ms.round() as i64)
}

/// An Esri JSON geometry; `None` for a null or empty one.
pub(super) fn geometry(value: &Value) -> Result<Option<Geometry<f64>>, String> {
    let Some(object) = value.as_object() else {
        return if value.is_null() {
            Ok(None)
        } else {
            Err("a geometry must be an object".into())
        };
    };
    if let Some(x) = object.get("x") {
        let (Some(x), Some(y)) = (x.as_f64(), object.get("y").and_then(Value::as_f64)) else {
            // An empty point is written with null (or "NaN") coordinates.
            return Ok(None);
        };
        return Ok(Some(Geometry::Point(Point::new(x, y))));
    }
    if let Some(points) = object.get("points") {
        let points = positions(points)?;
        if points.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Geometry::MultiPoint(MultiPoint(
            points.into_iter().map(Point::from).collect(),
        ))));
    }
    if let Some(paths) = object.get("paths") {
        let mut lines = Vec::new();
        for path in parts(paths, "paths")? {
            let coords = positions(path)?;
            if coords.len() < 2 {
                return Err("a path has fewer than two points".into());
            }
            lines.push(LineString(coords));
        }
        return Ok(match lines.len() {
            0 => None,
            1 => lines.pop().map(Geometry::LineString),
            _ => Some(Geometry::MultiLineString(MultiLineString(lines))),
        });
    }
    if let Some(rings) = object.get("rings") {
        let mut all = Vec::new();
        for ring in parts(rings, "rings")? {
            let coords = positions(ring)?;
            if coords.len() < 4 {
                return Err("a ring has fewer than four points".into());
            }
            all.push(coords);
        }
        return Ok(polygons(all));
    }
    if object.is_empty() {
        return Ok(None);
    }
    if object.contains_key("curvePaths") || object.contains_key("curveRings") {
        return Err("true curves are not read; ask the layer without returnTrueCurves".into());
    }
    Err("not an Esri JSON geometry (no x/y, points, paths or rings)".into())
}

fn parts<'a>(value: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("'{what}' must be an array"))
}

/// `[[x, y], …]`; a third (z) and fourth (m) value are dropped.
fn positions(value: &Value) -> Result<Vec<Coord<f64>>, String> {
    let array = value
        .as_array()
        .ok_or_else(|| "coordinates must be arrays".to_string())?;
    array
        .iter()
        .map(|p| {
            let p = p.as_array().ok_or("a position must be an array")?;
            match (
                p.first().and_then(Value::as_f64),
                p.get(1).and_then(Value::as_f64),
            ) {
                (Some(x), Some(y)) => Ok(Coord { x, y }),
                _ => Err("a position must hold two numbers".to_string()),
            }
        })
        .collect()
}

/// Twice the signed area: positive when the ring turns anticlockwise (x east, y north).
fn signed_area2(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

fn inside(point: Coord<f64>, ring: &[Coord<f64>]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > point.y) != (b.y > point.y)
            && point.x < (b.x - a.x) * (point.y - a.y) / (b.y - a.y) + a.x
        {
            inside = !inside;
        }
    }
    inside
}

/// Esri polygons are a flat list of rings: outer rings run clockwise, holes anticlockwise, and a hole
/// belongs to the outer ring around it. Each hole goes to the smallest outer ring holding one of its
/// vertices; a hole no outer ring holds is taken as an outer ring (better drawn than dropped). A list with
/// no clockwise ring at all was written by a tool that winds the other way, so its rings are read
/// with the winding reversed.
fn polygons(rings: Vec<Vec<Coord<f64>>>) -> Option<Geometry<f64>> {
    if rings.is_empty() {
        return None;
    }
    let areas: Vec<f64> = rings.iter().map(|r| signed_area2(r)).collect();
    let clockwise_is_outer = areas.iter().any(|a| *a < 0.0);
    let is_outer = |a: f64| {
        if clockwise_is_outer {
            a < 0.0
        } else {
            a >= 0.0
        }
    };
    let mut outers: Vec<(usize, Vec<LineString<f64>>)> = Vec::new();
    let mut holes = Vec::new();
    for (i, area) in areas.iter().enumerate() {
        if is_outer(*area) {
            outers.push((i, Vec::new()));
        } else {
            holes.push(i);
        }
    }
    for hole in holes {
        let owner = outers
            .iter()
            .enumerate()
            .filter(|(_, (o, _))| {
                rings[hole]
                    .iter()
                    .take(rings[hole].len() - 1)
                    .any(|c| inside(*c, &rings[*o]))
            })
            .min_by(|a, b| areas[a.1.0].abs().total_cmp(&areas[b.1.0].abs()))
            .map(|(k, _)| k);
        match owner {
            Some(k) => outers[k].1.push(LineString(rings[hole].clone())),
            None => outers.push((hole, Vec::new())),
        }
    }
    let mut polygons: Vec<Polygon<f64>> = outers
        .into_iter()
        .map(|(o, interiors)| Polygon::new(LineString(rings[o].clone()), interiors))
        .collect();
    if polygons.len() == 1 {
        polygons.pop().map(Geometry::Polygon)
    } else {
        Some(Geometry::MultiPolygon(MultiPolygon(polygons)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rings_are_sorted_into_outer_rings_and_holes() {
        // Clockwise outer square with an anticlockwise hole, and a second clockwise square apart.
        let value = json!({"rings": [
            [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]],
            [[20, 0], [20, 5], [25, 5], [25, 0], [20, 0]],
            [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]
        ]});
        let Some(Geometry::MultiPolygon(mp)) = geometry(&value).unwrap() else {
            panic!("a multipolygon")
        };
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[1].interiors().len(), 0);
    }

    #[test]
    fn points_lines_and_empty_geometries() {
        assert_eq!(
            geometry(&json!({"x": 1.5, "y": -2.0})).unwrap(),
            Some(Geometry::Point(Point::new(1.5, -2.0)))
        );
        assert_eq!(geometry(&json!({"x": null, "y": null})).unwrap(), None);
        assert_eq!(geometry(&json!({"x": "NaN", "y": "NaN"})).unwrap(), None);
        assert_eq!(geometry(&Value::Null).unwrap(), None);
        assert!(matches!(
            geometry(&json!({"paths": [[[0, 0, 5], [1, 1, 5]]]})).unwrap(),
            Some(Geometry::LineString(_))
        ));
        assert!(geometry(&json!({"paths": [[[0, 0]]]})).is_err());
        assert!(geometry(&json!({"curveRings": []})).is_err());
    }

    #[test]
    fn codes_become_names_per_subtype_and_dates_become_times() {
        let fields: Vec<FieldInfo> = serde_json::from_value(json!([
            {"name": "KIND", "type": "esriFieldTypeSmallInteger",
             "domain": {"type": "codedValue", "name": "k", "codedValues": [{"name": "Levee", "code": 1}]}},
            {"name": "SUB", "type": "esriFieldTypeInteger"},
            {"name": "BUILT", "type": DATE}
        ]))
        .unwrap();
        let subtypes: Vec<SubtypeInfo> = serde_json::from_value(json!([
            {"id": 2, "domains": {"KIND": {"type": "codedValue", "codedValues": [{"name": "Dam", "code": 1}]}}}
        ]))
        .unwrap();
        let rules = FieldRules::new(&fields, Some("SUB"), &subtypes);
        let mut a = json!({"KIND": 1, "SUB": 1, "BUILT": 0})
            .as_object()
            .unwrap()
            .clone();
        rules.apply(&mut a);
        assert_eq!(a["KIND"], "Levee");
        assert_eq!(a["BUILT"], "1970-01-01T00:00:00.000Z");
        let mut b = json!({"KIND": 1, "SUB": 2, "BUILT": null})
            .as_object()
            .unwrap()
            .clone();
        rules.apply(&mut b);
        assert_eq!(b["KIND"], "Dam");
        assert!(b["BUILT"].is_null());
        let mut c = json!({"KIND": 9}).as_object().unwrap().clone();
        rules.apply(&mut c);
        assert_eq!(c["KIND"], 9);
    }
}
