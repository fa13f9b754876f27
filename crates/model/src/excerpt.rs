//! Input quoted back in messages. A message that echoes what it refused must not grow with that input: a
//! 50 MB CSV header once came back whole in an error, filled a terminal and broke the audit write. Every
//! message that quotes outside text goes through [`excerpt`] (or [`excerpt_list`] for a list of names).

use std::borrow::Cow;

/// Characters of outside text a message quotes by default: enough to recognise a value, a column name or
/// a line, short enough to keep a message to one screen line or two.
pub const EXCERPT_CHARS: usize = 80;

/// Names a message lists by default before it says how many more there are.
pub const EXCERPT_NAMES: usize = 20;

/// `text` as a message may quote it: whole when it has at most `max_chars` characters, otherwise its first
/// `max_chars` characters followed by a marker saying how long it really is (`…[+N bytes]`). Control
/// characters become spaces, so a quoted value cannot break a log line or steer a terminal.
pub fn excerpt(text: &str, max_chars: usize) -> Cow<'_, str> {
    let mut end = text.len();
    let mut clean = true;
    for (count, (at, c)) in text.char_indices().enumerate() {
        if count == max_chars {
            end = at;
            break;
        }
        clean &= !c.is_control();
    }
    if end == text.len() && clean {
        return Cow::Borrowed(text);
    }
    let mut out: String = text[..end]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if end < text.len() {
        out.push_str(&format!("…[+{} bytes]", text.len() - end));
    }
    Cow::Owned(out)
}

/// Names joined with `, `, each an [`excerpt`] of [`EXCERPT_CHARS`], at most `max_names` of them and then
/// how many were left out (`… and 9,998 more`).
pub fn excerpt_list<S: AsRef<str>>(names: &[S], max_names: usize) -> String {
    let mut out = names
        .iter()
        .take(max_names)
        .map(|n| excerpt(n.as_ref(), EXCERPT_CHARS))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > max_names {
        out.push_str(&format!(" … and {} more", names.len() - max_names));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_as_it_is() {
        assert!(matches!(excerpt("latitude", 80), Cow::Borrowed("latitude")));
        assert_eq!(excerpt("", 80), "");
    }

    #[test]
    fn long_text_is_cut_with_a_marker_saying_how_much_is_left_out() {
        let long = "b".repeat(50 << 20);
        let shown = excerpt(&long, 10);
        assert_eq!(shown, format!("bbbbbbbbbb…[+{} bytes]", (50 << 20) - 10));
        // Cut on a character boundary, counting characters, not bytes.
        assert_eq!(excerpt("ééééé", 2), "éé…[+6 bytes]");
    }

    #[test]
    fn control_characters_cannot_reach_a_terminal() {
        assert_eq!(excerpt("a\u{1b}[2Jb\nc", 80), "a [2Jb c");
    }

    #[test]
    fn lists_say_how_many_names_were_left_out() {
        let names: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
        let shown = excerpt_list(&names, 3);
        assert_eq!(shown, "c0, c1, c2 … and 22 more");
        assert_eq!(excerpt_list(&["a", "b"], 3), "a, b");
    }
}
