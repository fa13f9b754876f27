//! The limits a filter must keep before it is parsed, and the depth of what was parsed.
//!
//! Every stage that reads a filter recurses: the `cql2` crate's Pratt parser once per prefix operator and per
//! right-associative comparison, its `normalize` and `Drop` once per level of the tree, and our checker and
//! evaluator once per level too. A request that nests deeply enough overflows a tokio worker's stack, and a
//! stack overflow aborts the whole process, not the request. So the text is scanned first, without
//! recursion and aware of quotes, for what makes the parser recurse (runs of prefix operators, operator
//! counts, bracket depth), and the parsed tree is measured, again without recursion, before it is checked.
//!
//! What each stage survives on a 2 MiB thread, measured in a debug build (the worst case: release frames are
//! far smaller) before these limits existed:
//!
//! | stage | input | overflowed at |
//! |---|---|---|
//! | `cql2::parse_text` (Pratt, prefix) | `NOT NOT … mag > 1` | 748 `NOT`s |
//! | `cql2::parse_text` (Pratt, prefix) | `mag > - - … 1` | 806 signs |
//! | `cql2::parse_text` (Pratt, right-assoc.) | `mag = mag = … 1` | 524 comparisons |
//! | `cql2::parse_text` (`normalize`) | `a AND a AND …` | 971 connectives |
//! | `cql2::parse_text` (`normalize`) | `1 + 1 + …` | 748 operators |
//! | `cql2::parse_json` | `{"op":"not","args":[…]}` | serde_json's 128-level limit first; about 16 KiB per level |
//! | the checker (`Checker::filter`) | `NOT NOT …` | 192 levels, about 11 KiB each |
//! | the evaluator (`Filter::eval`) | `Filter::Not(…)` | 815 levels |
//!
//! At the limits below, parsing and checking the worst filter needs well under 1 MiB in a debug build (see
//! the test `the_worst_filter_within_the_limits_parses_on_a_small_stack`), and [`crate::parse_filter`]
//! runs on a stack with at least [`STACK_RED_ZONE`] left (`stacker`), as defence in depth.

use cql2::Expr;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 64 * 1024;
/// Brackets (`(`, `[`, `{`, outside strings) nested at most, in either encoding: CQL2 JSON spends two levels
/// per operation (`{"op":…,"args":[…]}`), so this bounds it to about 32 nested operations.
pub const MAX_BRACKET_DEPTH: usize = 64;
/// Parentheses nested at most in CQL2 text. The `cql2` crate's text parser backtracks, and its time doubles
/// with every level (measured in release: 12 levels 30 ms, 16 levels 0.5 s, 20 levels 6 s, 24 levels 84 s),
/// so one short filter could hold a worker for minutes. Fuzzing found it; 10 levels parse in under 10 ms and
/// leave room for a MULTIPOLYGON inside a function inside a few groups.
pub const MAX_TEXT_PARENS: usize = 10;
/// Prefix operators (`NOT`, unary `-`) in a row in CQL2 text: the parser recurses once for each.
pub const MAX_PREFIX_RUN: usize = 8;
/// Operators (`AND`, `OR`, `NOT`, comparisons, `LIKE`, `IN`, `BETWEEN`, `IS`, arithmetic) in one CQL2 text
/// filter. Chains of them make the parser and `normalize` recurse once per operator; 128 is far beyond a
/// filter a person writes, and a long `OR` of values is one `IN (…)`.
pub const MAX_OPERATORS: usize = 128;
/// Levels of the parsed expression (an operation inside an operation, a list inside a list), in either
/// encoding; the checker and the evaluator recurse once per level.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Stack that parsing and checking a filter may count on. Within the limits above they need well under
/// this in a debug build; when a caller's thread has less left, they run on a fresh stack of
/// [`FILTER_STACK_BYTES`].
pub const STACK_RED_ZONE: usize = 1024 * 1024;
pub const FILTER_STACK_BYTES: usize = 4 * 1024 * 1024;

/// Why a filter's text was refused before parsing.
pub(crate) type Refusal = String;

/// Bracket depth of CQL2 JSON, ignoring brackets inside strings.
pub(crate) fn check_json(text: &str) -> Result<(), Refusal> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_BRACKET_DEPTH {
        return Err(format!(
            "filter nests {deepest} levels of brackets; at most {MAX_BRACKET_DEPTH} are accepted"
        ));
    }
    Ok(())
}

/// What the previous token of CQL2 text was, which decides whether `-` and `NOT` are prefix operators.
#[derive(Clone, Copy, PartialEq)]
enum Previous {
    /// Start of text, `(` or `,`: an operand comes next.
    Open,
    /// A name, a string or a closing parenthesis.
    Operand,
    /// A number, possibly one of several side by side (a WKT coordinate).
    Number,
    /// An infix operator.
    Infix,
    /// A prefix operator (`NOT`, unary `-`).
    Prefix,
}

/// Numbers side by side in a WKT coordinate (`x y z m`). In `POINT(1 -2)` the `-2` is a signed number; were
/// the same text read as a function call instead, it would be `1 - 2`, so more signed numbers in a row than
/// a coordinate holds are counted as operators.
const NUMBERS_PER_COORDINATE: usize = 4;

/// Scans CQL2 text once, without recursion, honouring `'strings'` (with `''`) and `"identifiers"` (with
/// `""`), and refuses it when it would make the parser recurse too deep or take too long.
pub(crate) fn check_text(text: &str) -> Result<(), Refusal> {
    let bytes = text.as_bytes();
    let mut scan = TextScan {
        depth: 0,
        deepest: 0,
        operators: 0,
        run: 0,
        numbers: 0,
        previous: Previous::Open,
    };
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let digit_follows = bytes
            .get(i + 1)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'.');
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'\'' | b'"' => {
                i = quoted_end(bytes, i);
                scan.operand();
            }
            b'(' | b'[' => {
                scan.open();
                i += 1;
            }
            b')' | b']' => {
                scan.depth = scan.depth.saturating_sub(1);
                scan.operand();
                i += 1;
            }
            b',' => {
                scan.previous = Previous::Open;
                scan.run = 0;
                i += 1;
            }
            b'0'..=b'9' => {
                i = number_end(bytes, i);
                scan.number();
            }
            // A signed number: `-1` where an operand is expected, or `1 -2` in a coordinate.
            b'-' if digit_follows && scan.previous != Previous::Operand => {
                i = number_end(bytes, i + 1);
                scan.number();
            }
            b'-' if scan.previous != Previous::Operand && scan.previous != Previous::Number => {
                scan.prefix(i)?;
                i += 1;
            }
            b'<' | b'>' | b'!' | b'=' => {
                // `<>`, `<=`, `>=`, `!=` are one operator.
                let pair = bytes.get(i + 1).is_some_and(|b| matches!(b, b'=' | b'>'));
                scan.infix();
                i += if pair { 2 } else { 1 };
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => {
                scan.infix();
                i += 1;
            }
            _ if is_word_byte(byte) => {
                let start = i;
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                match text[start..i].to_ascii_lowercase().as_str() {
                    "and" | "or" | "like" | "in" | "between" | "is" | "div" => scan.infix(),
                    // After an operand, `NOT` belongs to `NOT LIKE`, `NOT IN`, `NOT BETWEEN`, whose second
                    // word is the operator; a further `NOT` is a prefix again.
                    "not"
                        if scan.previous == Previous::Operand
                            || scan.previous == Previous::Number =>
                    {
                        scan.previous = Previous::Infix;
                    }
                    "not" => scan.prefix(start)?,
                    _ => scan.operand(),
                }
            }
            // Anything else is the parser's to refuse.
            _ => i += 1,
        }
    }
    if scan.deepest > MAX_TEXT_PARENS {
        return Err(format!(
            "filter nests parentheses {} deep; CQL2 text allows at most {MAX_TEXT_PARENS} (parsing time doubles with each level), so use fewer parentheses or filter-lang=cql2-json",
            scan.deepest
        ));
    }
    if scan.operators > MAX_OPERATORS {
        return Err(format!(
            "filter uses {} operators (AND, OR, NOT, comparisons, arithmetic); at most {MAX_OPERATORS} are accepted (a long OR of values is one IN, e.g. kind IN ('a', 'b', 'c'))",
            scan.operators
        ));
    }
    Ok(())
}

struct TextScan {
    depth: usize,
    deepest: usize,
    operators: usize,
    /// Prefix operators in a row so far.
    run: usize,
    /// Numbers side by side so far.
    numbers: usize,
    previous: Previous,
}

impl TextScan {
    fn open(&mut self) {
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        self.previous = Previous::Open;
        self.run = 0;
    }

    fn operand(&mut self) {
        self.previous = Previous::Operand;
        self.run = 0;
    }

    fn number(&mut self) {
        self.numbers = if self.previous == Previous::Number {
            self.numbers + 1
        } else {
            1
        };
        if self.numbers > NUMBERS_PER_COORDINATE {
            self.operators += 1;
        }
        self.previous = Previous::Number;
        self.run = 0;
    }

    fn infix(&mut self) {
        self.operators += 1;
        self.previous = Previous::Infix;
        self.run = 0;
    }

    fn prefix(&mut self, at: usize) -> Result<(), Refusal> {
        self.operators += 1;
        self.run += 1;
        self.previous = Previous::Prefix;
        if self.run > MAX_PREFIX_RUN {
            return Err(format!(
                "filter repeats prefix operators (NOT, unary -) more than {MAX_PREFIX_RUN} times in a row (at byte {at})"
            ));
        }
        Ok(())
    }
}

/// Identifier characters of the grammar (`NameChar`), and any non-ASCII byte (letters in other scripts).
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b':') || !byte.is_ascii()
}

/// The index just past a quoted token starting at `start`; a doubled quote is an escaped one.
fn quoted_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    i
}

/// The index just past a number starting at `start` (digits, a fraction, an exponent with its sign).
fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
            i += 1;
        }
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

/// The depth of a parsed expression (a leaf is 1), measured without recursion so that any tree can be
/// measured before anything recursive walks it.
pub(crate) fn expr_depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(expr, 1usize)];
    while let Some((e, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        let children: &[Box<Expr>] = match e {
            Expr::Operation { args, .. } => args,
            Expr::Interval { interval } => interval,
            Expr::BBox { bbox } => bbox,
            Expr::Array(items) => items,
            Expr::Timestamp { timestamp } => std::slice::from_ref(timestamp),
            Expr::Date { date } => std::slice::from_ref(date),
            Expr::Property { .. }
            | Expr::Float(_)
            | Expr::Literal(_)
            | Expr::Bool(_)
            | Expr::Geometry(_)
            | Expr::Null => &[],
        };
        pending.extend(children.iter().map(|c| (&**c, depth + 1)));
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hide_brackets_and_operators() {
        let text = format!(
            "name = '{}' AND \"odd (name)\" = 'it''s NOT - - - - - - - - - -'",
            "(".repeat(40)
        );
        assert_eq!(check_text(&text), Ok(()));
        let json = format!(
            r#"{{"op":"=","args":[{{"property":"name"}},"{}\"["]}}"#,
            "[".repeat(80)
        );
        assert_eq!(check_json(&json), Ok(()));
    }

    #[test]
    fn geometry_coordinates_are_not_operators() {
        let ring: Vec<String> = (0..2_000)
            .map(|i| format!("-{}.5 -{}.25", i % 90, i % 80))
            .collect();
        let text = format!("S_INTERSECTS(geometry, POLYGON(({})))", ring.join(", "));
        assert_eq!(check_text(&text), Ok(()));
        // Read as a function call, signed numbers side by side would be a chain of subtractions.
        let chain = format!(
            "POINT(1 {})",
            "-1 ".repeat(MAX_OPERATORS + NUMBERS_PER_COORDINATE)
        );
        assert!(check_text(&chain).unwrap_err().contains("operators"));
    }

    #[test]
    fn not_before_like_in_and_between_is_not_a_prefix() {
        let text = "a NOT LIKE 'x' AND b NOT IN (1, 2) AND c NOT BETWEEN 1 AND 2 AND d IS NOT NULL";
        assert_eq!(check_text(text), Ok(()));
        assert_eq!(check_text("mag > -1 AND depth < - 2"), Ok(()));
    }

    #[test]
    fn runs_of_prefix_operators_are_bounded() {
        let fine = format!("{}mag > 1", "NOT ".repeat(MAX_PREFIX_RUN));
        assert_eq!(check_text(&fine), Ok(()));
        let long = format!("{}mag > 1", "NOT ".repeat(MAX_PREFIX_RUN + 1));
        assert!(check_text(&long).unwrap_err().contains("in a row"));
        let signs = format!("mag > {}1", "- ".repeat(MAX_PREFIX_RUN + 1));
        assert!(check_text(&signs).unwrap_err().contains("in a row"));
    }

    #[test]
    fn long_or_chains_are_told_to_use_in() {
        let values: Vec<String> = (0..100).map(|i| format!("kind = 'k{i}'")).collect();
        let err = check_text(&values.join(" OR ")).unwrap_err();
        assert!(
            err.contains("199 operators") && err.contains("IN ("),
            "{err}"
        );
        let list: Vec<String> = (0..5_000).map(|i| format!("-{i}")).collect();
        assert_eq!(
            check_text(&format!("depth IN ({})", list.join(", "))),
            Ok(())
        );
        let chain = format!("{}1", "mag = ".repeat(MAX_OPERATORS + 1));
        assert!(check_text(&chain).unwrap_err().contains("operators"));
    }

    #[test]
    fn expression_depth_is_measured_without_recursion() {
        let mut e = Expr::Bool(true);
        for _ in 0..100_000 {
            e = Expr::Operation {
                op: "not".into(),
                args: vec![Box::new(e)],
            };
        }
        let depth = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let depth = expr_depth(&e);
                // Dropping recurses; not on this small stack.
                std::mem::forget(e);
                depth
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(depth, 100_001);
    }
}
