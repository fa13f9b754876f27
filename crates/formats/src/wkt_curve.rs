//! Curved WKT (SQL-MM / ISO 13249-3: `CIRCULARSTRING`, `COMPOUNDCURVE`, `CURVEPOLYGON`, `MULTICURVE`,
//! `MULTISURFACE`), which the `wkt` crate does not read, linearised as the WKB decoder linearises curves
//! ([`crate::circular_arc`]), so a curve reads the same from a CSV as from a GeoPackage.
//!
//! The grammar fixes how deep these nest (a multisurface of curve polygons of compound curves of arcs: four
//! levels), so the parser's recursion is bounded by the grammar, not by the input; curves inside a
//! `GEOMETRYCOLLECTION` are refused. Z and M values are read and dropped, as for every geometry.

use geoconsole_model::geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPolygon, Polygon,
};

use crate::circular_arc;
use crate::wkb::MAX_LINEARISED_VERTICES;

const CURVE_KEYWORDS: [&str; 5] = [
    "CIRCULARSTRING",
    "COMPOUNDCURVE",
    "CURVEPOLYGON",
    "MULTICURVE",
    "MULTISURFACE",
];

/// Whether WKT text holds a curve type, which only this module reads.
pub(crate) fn is_curved(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    CURVE_KEYWORDS.iter().any(|k| upper.contains(k))
}

/// Reads curved WKT into a linearised geometry; an `EMPTY` one is an empty geometry of its type.
pub(crate) fn parse(text: &str) -> Result<Geometry<f64>, String> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
        vertices: 0,
    };
    let geometry = parser.geometry()?;
    match parser.tokens.get(parser.at) {
        None => Ok(geometry),
        Some(token) => Err(format!("WKT has {token:?} after the end of the geometry")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(f64),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'(' => tokens.push(Token::Open),
            b')' => tokens.push(Token::Close),
            b',' => tokens.push(Token::Comma),
            b if b.is_ascii_whitespace() => {}
            b if b.is_ascii_alphabetic() => {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                tokens.push(Token::Word(text[start..i].to_ascii_uppercase()));
                continue;
            }
            b if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.') => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit()
                        || matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    i += 1;
                }
                let number = &text[start..i];
                tokens.push(Token::Number(number.parse().map_err(|_| {
                    format!("WKT is not valid: '{number}' is not a number")
                })?));
                continue;
            }
            other => {
                return Err(format!(
                    "WKT is not valid: unexpected character '{}'",
                    char::from(other).escape_default()
                ));
            }
        }
        i += 1;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Vertices made so far, bounded like the WKB decoder's.
    vertices: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn expect(&mut self, token: &Token, what: &str) -> Result<(), String> {
        match self.tokens.get(self.at) {
            Some(t) if t == token => {
                self.at += 1;
                Ok(())
            }
            Some(t) => Err(format!("WKT is not valid: expected {what}, found {t:?}")),
            None => Err(format!("WKT is not valid: expected {what}, found the end")),
        }
    }

    /// A type keyword, past any `Z`, `M` or `ZM`; `None` when the next token is not a word.
    fn keyword(&mut self) -> Option<String> {
        let Some(Token::Word(word)) = self.peek().cloned() else {
            return None;
        };
        self.at += 1;
        if let Some(Token::Word(d)) = self.peek()
            && matches!(d.as_str(), "Z" | "M" | "ZM")
        {
            self.at += 1;
        }
        Some(word)
    }

    /// `EMPTY` in place of a body.
    fn empty(&mut self) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w == "EMPTY") {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Calls `item` for each member of a parenthesised, comma-separated list.
    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.expect(&Token::Open, "'('")?;
        let mut out = vec![item(self)?];
        while let Some(Token::Comma) = self.peek() {
            self.at += 1;
            out.push(item(self)?);
        }
        self.expect(&Token::Close, "')'")?;
        Ok(out)
    }

    fn position(&mut self) -> Result<Coord<f64>, String> {
        let mut values = Vec::with_capacity(4);
        while let Some(Token::Number(n)) = self.peek() {
            values.push(*n);
            self.at += 1;
        }
        match values[..] {
            [x, y] | [x, y, _] | [x, y, _, _] => {
                self.vertices += 1;
                self.bound()?;
                Ok(Coord { x, y })
            }
            _ => Err(format!(
                "WKT is not valid: a position of {} numbers (2 to 4 expected)",
                values.len()
            )),
        }
    }

    fn bound(&self) -> Result<(), String> {
        if self.vertices > MAX_LINEARISED_VERTICES {
            Err(format!(
                "curves linearise into more than {MAX_LINEARISED_VERTICES} vertices"
            ))
        } else {
            Ok(())
        }
    }

    fn positions(&mut self) -> Result<Vec<Coord<f64>>, String> {
        if self.empty() {
            return Ok(Vec::new());
        }
        self.list(Self::position)
    }

    fn circular_string(&mut self) -> Result<Vec<Coord<f64>>, String> {
        let points = self.positions()?;
        if points.is_empty() {
            return Ok(points);
        }
        if points.len() < 3 || points.len() % 2 == 0 {
            return Err(format!(
                "a circular string of {} positions; arcs need an odd number, at least 3",
                points.len()
            ));
        }
        let mut line = vec![points[0]];
        for arc in points.windows(3).step_by(2) {
            circular_arc::linearise(arc[0], arc[1], arc[2], &mut line);
        }
        self.vertices += line.len();
        self.bound()?;
        Ok(line)
    }

    /// A curve: a bare position list or a LINESTRING, a CIRCULARSTRING, or (when `compound`) a
    /// COMPOUNDCURVE.
    fn curve(&mut self, compound: bool) -> Result<Vec<Coord<f64>>, String> {
        if matches!(self.peek(), Some(Token::Open)) {
            return self.positions();
        }
        match self.keyword().as_deref() {
            Some("LINESTRING") => self.positions(),
            Some("CIRCULARSTRING") => self.circular_string(),
            Some("COMPOUNDCURVE") if compound => self.compound_curve(),
            Some(other) => Err(format!("WKT: {other} cannot stand here in a curve")),
            None => Err("WKT is not valid: expected a curve".into()),
        }
    }

    fn compound_curve(&mut self) -> Result<Vec<Coord<f64>>, String> {
        if self.empty() {
            return Ok(Vec::new());
        }
        let parts = self.list(|p| p.curve(false))?;
        let mut line: Vec<Coord<f64>> = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            match (line.last(), part.first()) {
                (Some(end), Some(start)) if !meets(*end, *start) => {
                    return Err(format!(
                        "compound curve member {i} does not start where member {} ends",
                        i.saturating_sub(1)
                    ));
                }
                (Some(_), Some(_)) => line.extend_from_slice(&part[1..]),
                _ => line.extend(part),
            }
        }
        Ok(line)
    }

    /// A polygon's rings: bare position lists or curves.
    fn rings(&mut self) -> Result<Polygon<f64>, String> {
        if self.empty() {
            return Ok(Polygon::new(LineString(Vec::new()), Vec::new()));
        }
        let mut rings = self.list(|p| p.curve(true).map(LineString))?.into_iter();
        let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
        Ok(Polygon::new(exterior, rings.collect()))
    }

    /// A surface: a bare ring list, a POLYGON or a CURVEPOLYGON.
    fn surface(&mut self) -> Result<Polygon<f64>, String> {
        if matches!(self.peek(), Some(Token::Open)) {
            return self.rings();
        }
        match self.keyword().as_deref() {
            Some("POLYGON" | "CURVEPOLYGON") => self.rings(),
            Some(other) => Err(format!("WKT: {other} cannot stand here in a surface")),
            None => Err("WKT is not valid: expected a surface".into()),
        }
    }

    fn geometry(&mut self) -> Result<Geometry<f64>, String> {
        let keyword = self
            .keyword()
            .ok_or("WKT is not valid: it does not start with a geometry type")?;
        Ok(match keyword.as_str() {
            "LINESTRING" => Geometry::LineString(LineString(self.positions()?)),
            "CIRCULARSTRING" => Geometry::LineString(LineString(self.circular_string()?)),
            "COMPOUNDCURVE" => Geometry::LineString(LineString(self.compound_curve()?)),
            "POLYGON" | "CURVEPOLYGON" => Geometry::Polygon(self.rings()?),
            "MULTILINESTRING" | "MULTICURVE" => {
                let lines = if self.empty() {
                    Vec::new()
                } else {
                    self.list(|p| p.curve(true).map(LineString))?
                };
                Geometry::MultiLineString(MultiLineString(lines))
            }
            "MULTIPOLYGON" | "MULTISURFACE" => {
                let polygons = if self.empty() {
                    Vec::new()
                } else {
                    self.list(Self::surface)?
                };
                Geometry::MultiPolygon(MultiPolygon(polygons))
            }
            other => {
                return Err(format!(
                    "WKT: curves inside {other} cannot be read (only in curve, surface and multi types)"
                ));
            }
        })
    }
}

/// Whether a compound curve's parts meet: the same position, give or take rounding in the last digits.
fn meets(a: Coord<f64>, b: Coord<f64>) -> bool {
    let close = |p: f64, q: f64| (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0);
    close(a.x, b.x) && close(a.y, b.y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_linearised_through_their_arcs() {
        let g = parse(
            "MULTICURVE (COMPOUNDCURVE ((-0.9105691 47.21951,1.414634 47.17073),CIRCULARSTRING (1.414634 47.17073,2.423818 47.48377,1.407531 46.72668),(1.407531 46.72668,-0.9243407 46.72668)))",
        )
        .expect("multicurve");
        let Geometry::MultiLineString(m) = g else {
            panic!("not a multilinestring: {g:?}");
        };
        assert_eq!(m.0.len(), 1);
        let line = &m.0[0].0;
        assert!(line.len() > 10, "the arc is cut into chords");
        assert_eq!(
            line[0],
            Coord {
                x: -0.9105691,
                y: 47.21951
            }
        );
        assert_eq!(
            *line.last().unwrap(),
            Coord {
                x: -0.9243407,
                y: 46.72668
            }
        );
        // The arc bulges east of its chord, past every control point.
        assert!(line.iter().any(|c| c.x > 2.423818));
    }

    #[test]
    fn surfaces_and_empties() {
        let g = parse("CURVEPOLYGON Z (CIRCULARSTRING Z (0 0 1, 2 0 1, 0 0 1))").expect("circle");
        let Geometry::Polygon(p) = g else {
            panic!("not a polygon");
        };
        assert_eq!(p.exterior().0.first(), p.exterior().0.last());
        let g = parse("MULTISURFACE (((0 0,1 0,1 1,0 0)), CURVEPOLYGON ((5 5,6 5,6 6,5 5)))")
            .expect("ms");
        assert!(matches!(g, Geometry::MultiPolygon(m) if m.0.len() == 2));
        assert!(geoconsole_model::is_empty_geometry(
            &parse("MULTICURVE EMPTY").expect("empty")
        ));
    }

    #[test]
    fn broken_curves_are_refused_with_the_reason() {
        for (wkt, why) in [
            ("CIRCULARSTRING (0 0, 1 1)", "odd number"),
            (
                "COMPOUNDCURVE ((0 0, 1 1), (2 2, 3 3))",
                "does not start where",
            ),
            (
                "MULTICURVE (COMPOUNDCURVE (COMPOUNDCURVE ((0 0, 1 1))))",
                "cannot stand here",
            ),
            (
                "GEOMETRYCOLLECTION (CIRCULARSTRING (0 0, 1 1, 2 0))",
                "cannot be read",
            ),
            ("CIRCULARSTRING (0 0, 1 1, 2 0) x", "after the end"),
            ("CIRCULARSTRING (0 0, 1 1, 2 0", "expected ')'"),
        ] {
            let e = parse(wkt).expect_err(wkt);
            assert!(e.contains(why), "{wkt}: {e}");
        }
    }
}
