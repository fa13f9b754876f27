//! Reports that point at a record without repeating the personal data in it. A rejects report keeps where
//! a record was, why it was refused and which columns it had; the values of columns the guard refuses (by
//! name, or because the caller dropped or allowed them) and any value that looks like an email, a phone
//! number, a staff number or a person's name become `[redacted]`.
//!
//! JSON is redacted as text, token by token, so a record cut off mid-way (rejects keep the first 200
//! characters) is redacted as far as it goes; nothing here can fail or panic on what it is given.

use super::values::{
    digits_have_mobile_shape, is_digit_phone, is_email, is_phone, is_staff_number,
    looks_like_person_name,
};

/// What a hidden value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Characters around a word that are not part of it: quotes, brackets, punctuation.
fn is_wrapping(c: char) -> bool {
    matches!(
        c,
        '\'' | '"' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | ':' | '!' | '?' | '`'
    )
}

fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '+' | '(' | ')' | '-' | '.' | '/')
}

/// Longest run of number-like words tried as one phone number (`+44 20 7946 0958` is four).
const MAX_PHONE_WORDS: usize = 6;

/// Free text with emails, phone numbers and staff numbers in it replaced by `[redacted]`; everything else
/// as it was.
pub fn redact_text(text: &str) -> String {
    // Byte ranges of the words' cores (a word without what wraps it).
    let mut cores: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    for word in text.split_whitespace() {
        let Some(offset) = text[at..].find(word) else {
            continue;
        };
        let start = at + offset;
        at = start + word.len();
        let core = word.trim_matches(|c| is_wrapping(c) || c == '.');
        if core.is_empty() {
            continue;
        }
        let Some(inner) = word.find(core) else {
            continue;
        };
        cores.push((start + inner, start + inner + core.len()));
    }
    let mut hidden: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < cores.len() {
        let (start, end) = cores[i];
        let core = &text[start..end];
        if (core.contains('@') && is_email(core)) || is_staff_number(core) {
            hidden.push((start, end));
            i += 1;
            continue;
        }
        // The longest run of number-like words from here that reads as a phone number.
        let phone_like = |k: usize| text[cores[k].0..cores[k].1].chars().all(is_phone_char);
        if phone_like(i) && core.chars().any(|c| c.is_ascii_digit()) {
            let mut last = i;
            while last + 1 < cores.len() && last + 1 - i < MAX_PHONE_WORDS && phone_like(last + 1) {
                last += 1;
            }
            let found = (i..=last)
                .rev()
                .find(|&j| is_phone(&text[start..cores[j].1]));
            if let Some(j) = found {
                hidden.push((start, cores[j].1));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    if hidden.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in hidden {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// One value of a record as a report may show it: hidden whole when its column is hidden or the value is a
/// person's name, with emails and numbers hidden inside free text otherwise. `None` when unchanged.
pub(crate) fn redact_value(value: &str, hidden: bool, phone_hint: bool) -> Option<String> {
    if value.trim().is_empty() {
        return None;
    }
    if hidden || looks_like_person_name(value) || (phone_hint && is_digit_phone(value)) {
        return Some(REDACTED.to_string());
    }
    let text = redact_text(value);
    (text != value).then_some(text)
}

/// A JSON container being read: an object (with the last key read, and whether a key comes next) or an
/// array (with the key it is the value of).
struct Frame {
    object: bool,
    key: Option<String>,
    expecting_key: bool,
}

/// Byte index just past the string starting at `start` (a `"`), or the end of `text` when it is cut off.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Byte index just past the value starting at `start` (an object or array), skipping strings, or the end
/// of `text` when it is cut off.
fn container_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Notes that the value under `key` was hidden.
fn note(key: &Option<String>, redacted: &mut Vec<String>) {
    let name = key.clone().unwrap_or_else(|| "(value)".to_string());
    if !redacted.contains(&name) {
        redacted.push(name);
    }
}

/// JSON text (maybe cut off) with the values under hidden keys replaced by `"[redacted]"`, and personal
/// values under other keys redacted as [`redact_value`] does; with the keys whose values were hidden.
/// `None` when the text is not JSON.
pub(crate) fn redact_json(
    text: &str,
    hides: &dyn Fn(&str) -> bool,
    phone_hint: &dyn Fn(&str) -> bool,
) -> Option<(String, Vec<String>)> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut redacted: Vec<String> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // The key the next value is under, and whether it is hidden.
        let key = stack.last().and_then(|f| f.key.clone());
        let in_value = stack.last().is_some_and(|f| !(f.object && f.expecting_key));
        match b {
            b'{' | b'[' => {
                if in_value && key.as_deref().is_some_and(hides) {
                    let end = container_end(bytes, i);
                    out.push('"');
                    out.push_str(REDACTED);
                    out.push('"');
                    note(&key, &mut redacted);
                    i = end;
                    continue;
                }
                stack.push(Frame {
                    object: b == b'{',
                    key: if b == b'[' { key } else { None },
                    expecting_key: b == b'{',
                });
                out.push(b as char);
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                out.push(b as char);
                i += 1;
            }
            b',' => {
                if let Some(frame) = stack.last_mut()
                    && frame.object
                {
                    frame.expecting_key = true;
                }
                out.push(',');
                i += 1;
            }
            b'"' => {
                let end = string_end(bytes, i);
                let raw = &text[i..end];
                let content = raw
                    .strip_prefix('"')
                    .map(|r| r.strip_suffix('"').unwrap_or(r))
                    .unwrap_or(raw);
                match stack.last_mut() {
                    Some(frame) if frame.object && frame.expecting_key => {
                        frame.key = Some(content.to_string());
                        frame.expecting_key = false;
                        out.push_str(raw);
                    }
                    _ => {
                        let hidden = key.as_deref().is_some_and(hides);
                        let hint = key.as_deref().is_some_and(phone_hint);
                        match redact_value(content, hidden, hint) {
                            Some(value) => {
                                out.push('"');
                                out.push_str(&value);
                                out.push('"');
                                note(&key, &mut redacted);
                            }
                            None => out.push_str(raw),
                        }
                    }
                }
                i = end;
            }
            b if b.is_ascii_whitespace() || b == b':' => {
                out.push(b as char);
                i += 1;
            }
            _ => {
                // A number or a literal, up to the next delimiter.
                let mut end = i;
                while end < bytes.len()
                    && !matches!(bytes[end], b',' | b'}' | b']' | b':' | b'"')
                    && !bytes[end].is_ascii_whitespace()
                {
                    end += 1;
                }
                // Tokens stop at ASCII delimiters only, so `end` is on a character boundary.
                let token = &text[i..end];
                let hidden = in_value && key.as_deref().is_some_and(hides);
                let hint = key.as_deref().is_some_and(phone_hint);
                let digits = token.bytes().all(|c| c.is_ascii_digit());
                if hidden
                    || (hint && digits && is_digit_phone(token))
                    || (digits && digits_have_mobile_shape(token))
                {
                    out.push('"');
                    out.push_str(REDACTED);
                    out.push('"');
                    note(&key, &mut redacted);
                } else {
                    out.push_str(token);
                }
                i = end;
            }
        }
    }
    Some((out, redacted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_loses_addresses_and_numbers_and_keeps_its_words() {
        assert_eq!(
            redact_text("call +44 20 7946 0958 or mail <ops@example.org>."),
            "call [redacted] or mail <[redacted]>."
        );
        assert_eq!(redact_text("badge EMP-10234 lost"), "badge [redacted] lost");
        for kept in [
            "time: '2024-05-01 12:30' is not a time",
            "latitude 91.5 out of range [-90, 90]",
            "row has 7 fields, the header has 6",
            "",
            "   ",
        ] {
            assert_eq!(redact_text(kept), kept);
        }
    }

    #[test]
    fn json_keeps_its_keys_and_shape_even_cut_off() {
        let hides = |k: &str| k == "email";
        let hint = |k: &str| k == "mobile";
        let (out, redacted) = redact_json(
            r#"{"email":"a@b.co","mobile":4915112345678,"n":[1,{"email":["x"]}],"s":"Maria Garcia","t":"ok"#,
            &hides,
            &hint,
        )
        .expect("json");
        assert_eq!(
            out,
            r#"{"email":"[redacted]","mobile":"[redacted]","n":[1,{"email":"[redacted]"}],"s":"[redacted]","t":"ok"#
        );
        assert_eq!(redacted, ["email", "mobile", "s"]);
        assert!(redact_json("not json", &hides, &hint).is_none());
        // Whatever it is given, it ends.
        for odd in [
            "{",
            "[\"",
            "{\"a\\",
            "{\"a\":é",
            "[[[[",
            "}}}",
            "{\"email\":{\"a\":[1,",
        ] {
            let _ = redact_json(odd, &hides, &hint);
        }
    }
}
