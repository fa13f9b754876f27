//! Column names read as words, whatever way they are written. A name is first brought to plain letters:
//! Unicode NFKC (full-width and mathematical letters become ordinary ones), invisible characters removed
//! (zero-width spaces and joiners, soft hyphens, bidirectional marks), letters that look Latin mapped to
//! the Latin letter they look like (Cyrillic `е`, Greek `ο`, small capitals), accents dropped and case
//! folded. It is then split at separators and case changes, the small words of [`FILLERS`] are left out, and
//! a word that is several known words joined (`tradeunionmember`, `emailaddress`) is split into them. A name
//! at the DBF length limit may end in a cut word (`health_con`), which counts as the word it was cut from.
//! Words written to hide them are read as the words they are: a trailing number is a count (`surname1`),
//! digits between letters are letters (`rel1gion`), and pieces split by a separator are joined again
//! (`relig_ion`, `heal th`). A person's role followed by a name or id word (`victim_name`, `driver_id`) is
//! that person; a few names are read only as a whole (`mail`, `party`), and a few ambiguous ones
//! (`victims`, `orientation`) are left to their values ([`NameReading::telling`]).
//!
//! This runs once per column (never per feature), so it may take a few microseconds.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use super::Category;
use super::vocabulary::{
    FILLERS, HIDDEN_ALONE, ID_WORDS, JOINERS, NAME_WORDS, NEUTRAL, ORIGIN_WORDS, PERSON_COLUMNS,
    PHONE_HINTS, ROLES, RULES, TELLING, TRAIT_WORDS, Telling, WHOLE_NAMES,
};

/// Characters of a name that are read; a longer name is judged by its start. Bounds the work one hostile
/// header can ask for.
const MAX_NAME_CHARS: usize = 256;
/// Longest word split into joined words: the split costs the square of the word's length.
const MAX_JOINED_CHARS: usize = 48;
/// Shapefile (DBF) column names are cut at 10 characters; some writers keep 9.
const DBF_CUT: std::ops::RangeInclusive<usize> = 9..=10;
/// The shortest cut word that counts: a cut rule word in a longer phrase (`health_con`); alone after a
/// word the guard knows (`trade_unio`); alone after anything (`disabilit`), where a short cut (`medi` of
/// `value_median`) would be any abbreviation; and the start of a stem (`gewerkscha`).
const MIN_CUT_IN_PHRASE: usize = 2;
const MIN_CUT_AFTER_KNOWN: usize = 4;
const MIN_CUT_ALONE: usize = 5;
const MIN_CUT_STEM: usize = 5;

struct Vocabulary {
    /// Word rules, fillers left out.
    phrases: Vec<(Vec<&'static str>, Category)>,
    /// Stems found inside words.
    stems: Vec<(&'static str, Category)>,
    persons: Vec<Vec<&'static str>>,
    neutral: Vec<Vec<&'static str>>,
    /// Every word a joined word may be split into.
    known: HashSet<&'static str>,
    fillers: HashSet<&'static str>,
    hints: HashSet<&'static str>,
}

fn phrase(text: &'static str, fillers: &HashSet<&'static str>) -> Vec<&'static str> {
    text.split(' ').filter(|w| !fillers.contains(w)).collect()
}

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let fillers: HashSet<&'static str> = FILLERS.iter().copied().collect();
    let mut phrases = Vec::new();
    let mut stems = Vec::new();
    for (rule, category) in RULES {
        match rule.strip_prefix('~') {
            Some(stem) => stems.push((stem, *category)),
            None => phrases.push((phrase(rule, &fillers), *category)),
        }
    }
    let persons: Vec<Vec<&'static str>> =
        PERSON_COLUMNS.iter().map(|p| phrase(p, &fillers)).collect();
    let neutral: Vec<Vec<&'static str>> = NEUTRAL.iter().map(|p| phrase(p, &fillers)).collect();
    let mut known: HashSet<&'static str> = JOINERS.iter().copied().collect();
    known.extend(FILLERS.iter().copied().filter(|w| w.len() >= 2));
    known.extend(WHOLE_NAMES.iter().map(|(w, _)| *w));
    known.extend(ROLES.iter().map(|(w, _)| *w));
    known.extend(NAME_WORDS.iter().copied());
    known.extend(ID_WORDS.iter().copied());
    known.extend(TELLING.iter().map(|(w, _, _)| *w));
    known.extend(HIDDEN_ALONE.iter().map(|(w, _)| *w));
    for words in phrases
        .iter()
        .map(|(p, _)| p)
        .chain(&persons)
        .chain(&neutral)
    {
        // Short words of phrases (`on strike`, `en greve`) would split ordinary words (`intel` is not
        // `in tel`): only joiners and fillers are that short.
        known.extend(words.iter().copied().filter(|w| w.len() >= 3));
    }
    Vocabulary {
        phrases,
        stems,
        persons,
        neutral,
        known,
        fillers,
        hints: PHONE_HINTS.iter().copied().collect(),
    }
});

/// Format characters that render as nothing: a rule word with one inside is still the rule word.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Letters of other scripts that look like a Latin letter, as that letter (case kept, so `IDNumber` still
/// splits where it changes); and Latin letters with no decomposition, as their plain spelling.
fn push_plain(c: char, out: &mut String) {
    let mapped = match c {
        // Cyrillic.
        'а' => 'a',
        'в' => 'b',
        'е' => 'e',
        'і' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'һ' => 'h',
        'ӏ' => 'l',
        'ү' => 'y',
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'І' => 'I',
        'Ј' => 'J',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'У' => 'Y',
        'Х' => 'X',
        'Ѕ' => 'S',
        'Ԛ' => 'Q',
        'Ԝ' => 'W',
        'Ӏ' => 'l',
        'Ү' => 'Y',
        // Greek.
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'ω' => 'w',
        'γ' => 'y',
        'η' => 'n',
        'μ' => 'u',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        // Armenian.
        'օ' => 'o',
        'ս' => 'u',
        'հ' => 'h',
        // Latin look-alikes and small capitals.
        'ı' => 'i',
        'ȷ' => 'j',
        'ɑ' => 'a',
        'ɡ' => 'g',
        'ɩ' => 'i',
        'ᴀ' => 'a',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ɢ' => 'g',
        'ʜ' => 'h',
        'ɪ' => 'i',
        'ᴊ' => 'j',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' => 'p',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        'ł' => 'l',
        'Ł' => 'L',
        'đ' => 'd',
        'Đ' => 'D',
        'ø' => 'o',
        'Ø' => 'O',
        'ß' => return out.push_str("ss"),
        'ẞ' => return out.push_str("SS"),
        'æ' => return out.push_str("ae"),
        'Æ' => return out.push_str("AE"),
        'œ' => return out.push_str("oe"),
        'Œ' => return out.push_str("OE"),
        other => other,
    };
    out.push(mapped);
}

/// The name in plain letters, as written otherwise (separators and case kept).
fn plain(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().take(MAX_NAME_CHARS).nfkc() {
        if is_invisible(c) {
            continue;
        }
        decompose_canonical(c, |d| {
            if !is_combining_mark(d) && !is_invisible(d) {
                push_plain(d, &mut out);
            }
        });
    }
    out
}

/// Words of a name: split at anything but letters and digits and at lower-to-upper case changes, lower
/// case; `e` before `mail…` joined to it (`e-mail`, `E_Mail_Adresse`).
fn split(plain: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in plain.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut joined: Vec<String> = Vec::with_capacity(words.len());
    for word in words {
        match joined.last_mut() {
            Some(last) if last == "e" && word.starts_with("mail") => last.push_str(&word),
            _ => joined.push(word),
        }
    }
    joined
}

/// `word` as known words joined, if it is (at least two, each at least two letters); with `cut`, the last
/// may be the start of a known word (a name cut at the DBF limit), and every word it may have been is given.
fn split_joined(word: &str, cut: bool) -> Vec<Vec<&'static str>> {
    let vocabulary = &*VOCABULARY;
    let n = word.len();
    if !word.is_ascii() || !(4..=MAX_JOINED_CHARS).contains(&n) {
        return Vec::new();
    }
    // from[i]: where the last known word of a split of word[..i] starts.
    let mut from: Vec<Option<usize>> = vec![None; n + 1];
    from[0] = Some(0);
    for end in 2..=n {
        for start in (0..=end - 2).rev() {
            if from[start].is_some() && vocabulary.known.contains(&word[start..end]) {
                from[end] = Some(start);
                break;
            }
        }
    }
    let pieces_to = |end: usize| -> Vec<&'static str> {
        let mut pieces = Vec::new();
        let mut at = end;
        while at > 0 {
            let Some(start) = from[at] else { break };
            if let Some(known) = vocabulary.known.get(&word[start..at]) {
                pieces.push(*known);
            }
            at = start;
        }
        pieces.reverse();
        pieces
    };
    // A split that starts or ends with a small word (`la` + `bel…`) is a coincidence, not joined words.
    let filler = |piece: &&str| vocabulary.fillers.contains(piece);
    let mut splits = Vec::new();
    if from[n].is_some() {
        let pieces = pieces_to(n);
        if pieces.len() >= 2
            && !pieces.first().is_some_and(filler)
            && !pieces.last().is_some_and(filler)
        {
            splits.push(pieces);
        }
    }
    if cut && splits.is_empty() {
        for start in (1..n).filter(|s| from[*s].is_some()) {
            let rest = &word[start..];
            let head = pieces_to(start);
            if rest.len() < MIN_CUT_AFTER_KNOWN || head.first().is_none_or(filler) {
                continue;
            }
            for known in vocabulary.known.iter().filter(|k| k.starts_with(rest)) {
                let mut pieces = head.clone();
                pieces.push(known);
                splits.push(pieces);
            }
        }
    }
    splits
}

fn contains_run(words: &[&str], live: &[bool], run: &[&str]) -> bool {
    !run.is_empty()
        && words.len() >= run.len()
        && (0..=words.len() - run.len()).any(|at| {
            run.iter()
                .enumerate()
                .all(|(i, w)| live[at + i] && words[at + i] == *w)
        })
}

/// Prefers special categories, then the first rule found.
fn better(found: Option<Category>, candidate: Category) -> Option<Category> {
    match found {
        Some(f) if f.is_special() || !candidate.is_special() => Some(f),
        _ => Some(candidate),
    }
}

/// The category word rules give these words (fillers left out), and whether they are a person as a whole.
fn category_of_words(words: &[&str]) -> Option<Category> {
    let vocabulary = &*VOCABULARY;
    // Words inside a neutral phrase (Union Station) are out of the rules.
    let mut live = vec![true; words.len()];
    for phrase in &vocabulary.neutral {
        if words.len() < phrase.len() {
            continue;
        }
        for at in 0..=words.len() - phrase.len() {
            if words[at..at + phrase.len()] == phrase[..] {
                live[at..at + phrase.len()]
                    .iter_mut()
                    .for_each(|l| *l = false);
            }
        }
    }
    let mut found = None;
    for (run, category) in &vocabulary.phrases {
        if contains_run(words, &live, run) {
            found = better(found, *category);
        }
    }
    // A person by their role, then their name, id, trait or origin: `victim_name`, `driver_id`,
    // `empl_no`, `vict_age`, `suspect_race`.
    for (at, pair) in words.windows(2).enumerate() {
        if !(live[at] && live[at + 1]) {
            continue;
        }
        let Some((_, staff)) = ROLES.iter().find(|(role, _)| *role == pair[0]) else {
            continue;
        };
        let category = if NAME_WORDS.contains(&pair[1]) {
            Category::PersonName
        } else if ORIGIN_WORDS.contains(&pair[1]) {
            // `vict_descent`, `suspect_race`: one person's racial or ethnic origin.
            Category::Ethnicity
        } else if TRAIT_WORDS.contains(&pair[1]) {
            // `vict_age`, `driver_sex`: a trait of one person makes the row a person-level record.
            Category::Person
        } else if ID_WORDS.contains(&pair[1]) {
            if *staff {
                Category::StaffId
            } else {
                Category::Person
            }
        } else {
            continue;
        };
        found = better(found, category);
    }
    if found.is_none() && vocabulary.persons.iter().any(|p| p[..] == *words) {
        found = Some(Category::Person);
    }
    if found.is_none()
        && let [word] = words
        && let Some((_, category)) = WHOLE_NAMES.iter().find(|(w, _)| w == word)
    {
        found = Some(*category);
    }
    found
}

/// Whether a word is one the guard knows, or starts with a stem: what a disguised word is compared with.
fn is_vocabulary(word: &str) -> bool {
    let vocabulary = &*VOCABULARY;
    vocabulary.known.contains(word) || vocabulary.stems.iter().any(|(s, _)| word.starts_with(s))
}

/// Digits written for the letters they look like (`rel1gion`, `3mail`, `he4lth`); `1` may be `i` or `l`.
fn leet_variants(word: &str) -> Vec<String> {
    let mut variants = vec![String::with_capacity(word.len())];
    for c in word.chars() {
        let letters: &[char] = match c {
            '0' => &['o'],
            '1' => &['i', 'l'],
            '3' => &['e'],
            '4' => &['a'],
            '5' => &['s'],
            '7' => &['t'],
            '8' => &['b'],
            '9' => &['g'],
            c if c.is_ascii_digit() => return Vec::new(),
            c => {
                variants.iter_mut().for_each(|v| v.push(c));
                continue;
            }
        };
        if variants.len() * letters.len() > 16 {
            return Vec::new();
        }
        variants = variants
            .iter()
            .flat_map(|v| {
                letters.iter().map(move |l| {
                    let mut v = v.clone();
                    v.push(*l);
                    v
                })
            })
            .collect();
    }
    variants
}

/// Words as written to hide them, read as the words they are: a number at the end is a count
/// (`surname1`), digits between letters are letters (`rel1gion`), and pieces of a word split by a separator
/// are joined again (`relig_ion`, `heal th`) when neither piece is a word the guard knows and together
/// they are. Gives the words, and those that were disguised.
fn undisguise(words: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut hidden = Vec::new();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for word in words {
        let has_digit = word.bytes().any(|b| b.is_ascii_digit());
        if !has_digit || word.bytes().all(|b| b.is_ascii_digit()) || !word.is_ascii() {
            out.push(word);
            continue;
        }
        let stripped = word.trim_end_matches(|c: char| c.is_ascii_digit());
        if !stripped.bytes().any(|b| b.is_ascii_digit()) {
            out.push(stripped.to_string());
            continue;
        }
        match leet_variants(stripped)
            .into_iter()
            .find(|v| is_vocabulary(v))
        {
            Some(letters) => {
                hidden.push(letters.clone());
                out.push(letters);
            }
            None => out.push(word),
        }
    }
    // Pieces joined again, longest run first.
    let mut joined: Vec<String> = Vec::with_capacity(out.len());
    let mut at = 0;
    while at < out.len() {
        let mut taken = 1;
        for run in (2..=4).rev() {
            let Some(pieces) = out.get(at..at + run) else {
                continue;
            };
            if pieces.iter().any(|p| {
                VOCABULARY.known.contains(p.as_str()) || p.bytes().any(|b| b.is_ascii_digit())
            }) {
                continue;
            }
            let word = pieces.concat();
            if word.len() >= 5 && is_vocabulary(&word) {
                hidden.push(word.clone());
                joined.push(word);
                taken = run;
                break;
            }
        }
        if taken == 1 {
            joined.push(out[at].clone());
        }
        at += taken;
    }
    (joined, hidden)
}

fn category_of_stems(word: &str) -> Option<Category> {
    VOCABULARY
        .stems
        .iter()
        .filter(|(stem, _)| word.contains(stem))
        .fold(None, |found, (_, category)| better(found, *category))
}

/// What a column's name says: the category it puts the column in, and whether its numbers may be phone
/// numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NameReading {
    pub category: Option<Category>,
    pub phone_hint: bool,
    /// An ambiguous name whose values decide: what they must look like, and what the column then holds.
    pub telling: Option<(Category, Telling)>,
}

pub(crate) fn read(name: &str) -> NameReading {
    let vocabulary = &*VOCABULARY;
    let (raw, hidden) = undisguise(split(&plain(name)));
    let words: Vec<&str> = raw
        .iter()
        .map(String::as_str)
        .filter(|w| !vocabulary.fillers.contains(w))
        .collect();
    let mut found: Option<Category> = None;
    // Stems, inside each word; and inside the whole name when it is written in fragments (`e_m_a_i_l`).
    for word in &words {
        if let Some(c) = category_of_stems(word) {
            found = better(found, c);
        }
    }
    if raw.len() >= 2 && raw.iter().all(|w| w.chars().count() <= 3) {
        let whole: String = raw.concat();
        if let Some(c) = category_of_stems(&whole) {
            found = better(found, c);
        }
        if let Some(pieces) = split_joined(&whole, false).into_iter().next() {
            let pieces: Vec<&str> = pieces
                .into_iter()
                .filter(|w| !vocabulary.fillers.contains(w))
                .collect();
            if let Some(c) = category_of_words(&pieces) {
                found = better(found, c);
            }
        }
    }
    // Words, with joined words split into the words they join.
    let mut split_words: Vec<&str> = Vec::with_capacity(words.len());
    for word in &words {
        let joined = if vocabulary.known.contains(word) {
            None
        } else {
            split_joined(word, false).into_iter().next()
        };
        match joined {
            Some(pieces) => split_words.extend(
                pieces
                    .into_iter()
                    .filter(|w| !vocabulary.fillers.contains(w)),
            ),
            None => split_words.push(word),
        }
    }
    if let Some(c) = category_of_words(&split_words) {
        found = better(found, c);
    }
    let cut = DBF_CUT.contains(&name.chars().count());
    if cut && let Some(c) = category_of_cut(&words) {
        found = better(found, c);
    }
    for word in &hidden {
        if let Some((_, c)) = HIDDEN_ALONE.iter().find(|(w, _)| w == word) {
            found = better(found, *c);
        }
    }
    let phone_hint = split_words.iter().any(|w| vocabulary.hints.contains(w));
    let telling = match (found, split_words.as_slice()) {
        (None, [word]) => TELLING
            .iter()
            .find(|(w, _, _)| w == word)
            .map(|(_, c, t)| (*c, *t)),
        _ => None,
    };
    NameReading {
        category: found,
        phone_hint,
        telling,
    }
}

/// A name at the DBF limit whose last word was cut: `health_con` is `health condition`, `gewerkscha` is
/// `gewerkschaft`, `unionmembe` is `union member`.
fn category_of_cut(words: &[&str]) -> Option<Category> {
    let vocabulary = &*VOCABULARY;
    let (last, before) = words.split_last()?;
    let mut found = None;
    for (run, category) in &vocabulary.phrases {
        let Some((run_last, run_before)) = run.split_last() else {
            continue;
        };
        let shortest = match (run_before.is_empty(), before.last()) {
            (false, _) => MIN_CUT_IN_PHRASE,
            (true, Some(word)) if vocabulary.known.contains(word) => MIN_CUT_AFTER_KNOWN,
            (true, _) => MIN_CUT_ALONE,
        };
        if last.len() >= shortest
            && run_last.len() > last.len()
            && run_last.starts_with(last)
            && before.ends_with(run_before)
        {
            found = better(found, *category);
        }
    }
    if last.len() >= MIN_CUT_STEM {
        for (stem, category) in &vocabulary.stems {
            if stem.len() > last.len() && stem.starts_with(last) {
                found = better(found, *category);
            }
        }
    }
    for pieces in split_joined(last, true) {
        let mut all: Vec<&str> = before.to_vec();
        all.extend(
            pieces
                .into_iter()
                .filter(|w| !vocabulary.fillers.contains(w)),
        );
        if let Some(c) = category_of_words(&all) {
            found = better(found, c);
        }
    }
    found
}

/// The category a column's name alone puts it in, if any (special categories first).
pub fn category_of_name(name: &str) -> Option<Category> {
    read(name).category
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_brought_to_plain_words_before_they_are_read() {
        assert_eq!(
            split(&plain("ＥｍａｉｌＡｄｄｒｅｓｓ")),
            ["email", "address"]
        );
        assert_eq!(split(&plain("em\u{200b}ail")), ["email"]);
        assert_eq!(split(&plain("\u{0415}-Mail")), ["email"]);
        assert_eq!(
            split(&plain("Przynależność_Związkowa")),
            ["przynaleznosc", "zwiazkowa"]
        );
        assert_eq!(split(&plain("Straße")), ["strasse"]);
        assert_eq!(split(&plain("IDNumber")), ["idnumber"]);
        assert_eq!(split(&plain("employeeID")), ["employee", "id"]);
    }

    #[test]
    fn joined_words_split_only_into_known_words() {
        assert_eq!(split_joined("tradeunion", false), [["trade", "union"]]);
        assert_eq!(
            split_joined("dateofbirth", false),
            [vec!["date", "of", "birth"]]
        );
        assert!(split_joined("phonetic", false).is_empty());
        assert!(split_joined("employees", false).is_empty());
        assert!(
            split_joined("unionmembe", true)
                .iter()
                .any(|s| s[..] == ["union", "member"])
        );
    }

    #[test]
    fn numbers_of_columns_named_for_mobiles_are_worth_reading() {
        assert!(read("mobile").phone_hint);
        assert!(read("Handy").phone_hint);
        assert!(!read("population").phone_hint);
        assert_eq!(read("mobile").category, None);
    }
}
