//! What values give away: emails, phone numbers and staff numbers one by one (cheap byte tests first,
//! since they run on every value of every imported feature), person names and phone numbers written as
//! numbers by their share of a column's first values.

use serde_json::Number;
use unicode_normalization::UnicodeNormalization;

use super::Category;
use super::vocabulary::{PLACEHOLDERS, Telling};

pub(crate) fn is_email(text: &str) -> bool {
    let Some(at) = text.find('@') else {
        return false;
    };
    let (local, domain) = (&text[..at], &text[at + 1..]);
    !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

/// International or grouped phone numbers: `+44 20 7946 0958`, `(555) 123-4567`, `555-123-4567`. Plain
/// digit runs (ids, counts) and numbers, dates and times are not phones.
pub(crate) fn is_phone(text: &str) -> bool {
    let text = text.trim();
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=15).contains(&digits) || text.len() > 24 {
        return false;
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+'))
    {
        return false;
    }
    // E.164 (`+15551234567`) parses as a number but is written as a phone.
    if text.starts_with('+') && !text.contains('.') {
        return true;
    }
    if text.parse::<f64>().is_ok() {
        return false;
    }
    // 2024-05-01, 2024.05.01, 12.05.2024: dates, not phones.
    let groups: Vec<&str> = text
        .split(['-', '.', ' '])
        .filter(|g| !g.is_empty())
        .collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let date = match lengths.as_slice() {
        [4, a, b] | [a, b, 4] => *a <= 2 && *b <= 2,
        _ => false,
    };
    if date || text.contains(':') {
        return false;
    }
    let international = text.starts_with('+');
    let grouped = text.contains(['(', ' ', '-']) || groups.len() >= 3;
    international || grouped
}

/// `EMP-10234`, `STAFF0042`, `E123456` style staff numbers.
pub(crate) fn is_staff_number(text: &str) -> bool {
    // Runs on every text value of every imported feature: compares bytes in place, allocates nothing.
    let text = text.trim().as_bytes();
    [b"EMP".as_slice(), b"STAFF", b"PERS"].iter().any(|prefix| {
        text.len() > prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix) && {
            let mut rest = &text[prefix.len()..];
            while let [b'-' | b'_' | b'#' | b' ', tail @ ..] = rest {
                rest = tail;
            }
            (3..=10).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit)
        }
    })
}

/// Titles before a name: `Dr John Smith`, `Frau Müller`.
const TITLES: &[&str] = &[
    "dr", "mr", "mrs", "ms", "miss", "mx", "prof", "sir", "dame", "herr", "frau", "mme", "mlle",
    "sr", "sra", "srta", "dott", "sig", "dhr", "mevr",
];
/// Words that make two capitalised words a place, not a person (`George Street`, `Lake Charles`).
const PLACE_WORDS: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "drive",
    "way",
    "square",
    "park",
    "station",
    "hall",
    "house",
    "bridge",
    "hill",
    "lake",
    "river",
    "bay",
    "island",
    "point",
    "church",
    "school",
    "hospital",
    "centre",
    "center",
    "county",
    "city",
    "town",
    "village",
    "falls",
    "beach",
    "port",
    "harbour",
    "harbor",
    "airport",
    "mount",
    "valley",
    "creek",
    "springs",
    "heights",
    "gardens",
    "place",
    "court",
    "plaza",
    "market",
    "depot",
    "north",
    "south",
    "east",
    "west",
    "santa",
    "san",
    "saint",
    "fort",
    "new",
    "upper",
    "lower",
    "blvd",
    "boulevard",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "causeway",
    "expressway",
    "freeway",
    "turnpike",
    "terrace",
    "crescent",
    "tunnel",
    "canal",
    "pier",
    "wharf",
    "quay",
    "dock",
    "stadium",
    "arena",
    "library",
    "museum",
    "university",
    "college",
    "institute",
    "memorial",
    "tower",
    "building",
    "mall",
    "terminal",
    "strasse",
    "straße",
    "platz",
    "weg",
    "allee",
    "rue",
    "calle",
    "avenida",
    "via",
    "piazza",
    "corso",
    "rua",
    "praça",
    "praca",
    "ulica",
    "aleja",
    "plac",
    "straat",
    "laan",
    "plein",
    "gracht",
];

fn is_word(part: &str) -> bool {
    part.chars().next().is_some_and(char::is_alphabetic)
        && part
            .chars()
            .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
}

fn is_capitalised(part: &str) -> bool {
    is_word(part) && part.chars().next().is_some_and(char::is_uppercase)
}

/// `J.`, `J`, `J.R.`: initials (not a compass point: `N. Main`).
fn is_initials(part: &str) -> bool {
    let letters: Vec<char> = part.chars().filter(|c| *c != '.').collect();
    !letters.is_empty()
        && letters.len() <= 3
        && letters.iter().all(|c| c.is_uppercase())
        && (letters.len() > 1 || !matches!(letters[0], 'N' | 'S' | 'E' | 'W'))
        && part.chars().all(|c| c == '.' || c.is_alphabetic())
        && (letters.len() == 1 || part.contains('.'))
}

fn is_given(part: &str) -> bool {
    GIVEN_NAMES.contains(&part.to_lowercase().as_str())
}

/// A value written as a person's name: `John Smith`, `john smith`, `JOHN SMITH`, `Smith, John`,
/// `SMITH John`, `Dr John Smith`, `Dr Smith`, `J. Smith`. A given name the guard knows comes first (or
/// after the surname and a comma), or a title or initials do; a word of places (`George Street`) is not a
/// person.
pub(crate) fn looks_like_person_name(text: &str) -> bool {
    // Short values are the common case: no markup, one line, nothing to cut.
    if text.len() <= 64
        && !text.contains(['<', '\n', ':', ';', '&', '"'])
        && !text.contains(" and ")
    {
        return name_alone(text);
    }
    if text.len() > 2048 {
        return false;
    }
    // Markup (a KML description exported as HTML) is read as its text, a line break per `<br>`, `<p>`, `<tr>`.
    let plain;
    let text = if text.contains('<') {
        plain = without_markup(text);
        plain.as_str()
    } else {
        text
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(8)
        .any(|line| {
            // `Owner: John Smith`: a label before the name.
            let line = match line.split_once(':') {
                Some((label, rest))
                    if (1..=3).contains(&label.split_whitespace().count())
                        && label
                            .chars()
                            .all(|c| c.is_alphabetic() || c.is_whitespace() || c == '_') =>
                {
                    rest
                }
                _ => line,
            };
            // `John Smith and Mary Lee`, `Ann Lee; Bo Chan`: any one of them.
            line.split(';')
                .flat_map(|part| part.split(" and "))
                .flat_map(|part| part.split(" & "))
                .take(8)
                .any(|part| {
                    name_alone(part.trim_matches(|c: char| {
                        c.is_whitespace()
                            || matches!(c, '"' | '\'' | '“' | '”' | '„' | '«' | '»' | ',' | '.')
                    }))
                })
        })
}

/// The text of markup, tags dropped and line-breaking tags read as line breaks.
fn without_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            return out;
        };
        // The tag's name: `<br/>`, `</p>`, `<td class="x">` are `br`, `p`, `td`.
        let name = rest[open + 1..open + close]
            .trim_start_matches('/')
            .split([' ', '/'])
            .next()
            .unwrap_or_default();
        let breaks = ["br", "p", "tr", "li", "div", "td", "h1", "h2", "h3"]
            .iter()
            .any(|b| name.eq_ignore_ascii_case(b));
        out.push(if breaks { '\n' } else { ' ' });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// A whole value written as one person's name (see [`looks_like_person_name`]), with a middle initial
/// (`John A. Smith`) or a suffix (`John Smith Jr.`) allowed.
fn name_alone(text: &str) -> bool {
    let text = text.trim();
    if text.len() > 64 {
        return false;
    }
    let parts: Vec<&str> = text.split_whitespace().collect();
    let suffix = |p: &str| {
        ["jr", "sr", "ii", "iii", "iv"].contains(&p.trim_end_matches('.').to_lowercase().as_str())
    };
    // `Pieter de Vries`, `Ludwig van Beethoven`, `Anna dos Santos`: particles of a surname.
    let particle = |p: &str| {
        [
            "de", "van", "von", "der", "den", "da", "di", "del", "della", "du", "dos", "das", "la",
            "le", "ter", "zu",
        ]
        .contains(&p)
    };
    let skipped = |p: &str| is_initials(p) || particle(p);
    if parts.len() >= 3
        && (suffix(parts[parts.len() - 1])
            || parts[1..parts.len() - 1].iter().any(|p| skipped(p)) && is_given(parts[0]))
    {
        let kept: Vec<&str> = parts
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                let last = *i == parts.len() - 1;
                let inner = *i > 0 && !last;
                let dropped = if last { suffix(p) } else { inner && skipped(p) };
                !dropped
            })
            .map(|(_, p)| *p)
            .collect();
        if kept.len() >= 2 && kept.len() < parts.len() {
            return shaped_as_name(&kept.join(" "));
        }
    }
    shaped_as_name(text)
}

/// The shapes of one person's name, without middle initials or suffixes.
fn shaped_as_name(text: &str) -> bool {
    let text = text.trim();
    if let Some((surname, given)) = text.split_once(',') {
        let surname: Vec<&str> = surname.split_whitespace().collect();
        let given: Vec<&str> = given.split_whitespace().collect();
        return (1..=2).contains(&surname.len())
            && (1..=2).contains(&given.len())
            && surname.iter().all(|p| is_capitalised(p))
            && (is_given(given[0]) || is_initials(given[0]))
            && !surname
                .iter()
                .chain(&given)
                .any(|p| PLACE_WORDS.contains(&p.to_lowercase().as_str()));
    }
    let mut parts: Vec<&str> = text.split_whitespace().collect();
    if parts
        .iter()
        .any(|p| PLACE_WORDS.contains(&p.trim_end_matches('.').to_lowercase().as_str()))
    {
        return false;
    }
    let titled = parts.len() >= 2
        && TITLES.contains(&parts[0].trim_end_matches('.').to_lowercase().as_str());
    if titled {
        parts.remove(0);
        return (1..=3).contains(&parts.len())
            && parts.iter().all(|p| is_capitalised(p) || is_initials(p))
            && parts.last().is_some_and(|p| is_capitalised(p));
    }
    if !(2..=3).contains(&parts.len()) {
        return false;
    }
    if is_initials(parts[0]) {
        return parts[1..].iter().all(|p| is_capitalised(p));
    }
    if !parts.iter().all(|p| is_word(p)) {
        return false;
    }
    let lower = parts.iter().all(|p| !p.chars().any(char::is_uppercase));
    let upper = parts.iter().all(|p| !p.chars().any(char::is_lowercase));
    let capitalised = parts.iter().all(|p| is_capitalised(p));
    if is_given(parts[0]) && (lower || upper || capitalised) {
        return true;
    }
    // `SMITH John`: a surname in capitals, then the given name.
    parts[0].chars().count() >= 2
        && parts[0].chars().all(|c| c.is_uppercase() || c == '-')
        && is_capitalised(parts[1])
        && is_given(parts[1])
}

/// Whether a value in a column of an ambiguous name ([`Telling`]) says the column holds what the name may
/// mean: words other than a count, or a word of the category.
pub(crate) fn tells(text: &str, category: Category, telling: Telling) -> bool {
    let mut words = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase);
    match telling {
        Telling::People => words.any(|w| !PLACEHOLDERS.contains(&w.as_str())),
        Telling::Words(list) => {
            words.any(|w| list.contains(&w.as_str()))
                || super::names::category_of_name(text) == Some(category)
        }
    }
}

/// `ann (at) example (dot) org`, `ann[at]example.org`: an address written so a byte test misses it, as
/// written plainly. `None` for text with no such words.
fn spelled_out_email(value: &str) -> Option<String> {
    // Runs on every value: a byte test before anything is allocated.
    let marked = value.as_bytes().windows(3).any(|w| {
        w[0] | 0x20 == b'a' && w[1] | 0x20 == b't' && matches!(w[2], b')' | b']' | b'}' | b'>')
    });
    if !marked {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    if !["(at)", "[at]", "{at}", "<at>"]
        .iter()
        .any(|a| lower.contains(a))
    {
        return None;
    }
    let mut text = lower;
    for (from, to) in [
        ("(at)", "@"),
        ("[at]", "@"),
        ("{at}", "@"),
        ("<at>", "@"),
        ("(dot)", "."),
        ("[dot]", "."),
        ("{dot}", "."),
        ("<dot>", "."),
    ] {
        text = text.replace(from, to);
    }
    while text.contains(" @") || text.contains("@ ") || text.contains(" .") || text.contains(". ") {
        text = text
            .replace(" @", "@")
            .replace("@ ", "@")
            .replace(" .", ".")
            .replace(". ", ".");
    }
    Some(text)
}

/// Hyphens, dashes and minus signs of other code points than `-`.
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}'
    )
}

/// The category one value puts its column in, if any.
pub(crate) fn category_of_value(value: &str) -> Option<Category> {
    // Full-width `＠` and digits, and invisible characters, do not hide an address or a number: text that
    // is not ASCII is read again in plain form.
    if !value.is_ascii()
        && (unicode_normalization::is_nfkc_quick(value.chars())
            != unicode_normalization::IsNormalized::Yes
            || value
                .chars()
                .any(|c| super::names::is_invisible(c) || is_dash(c)))
    {
        // Dashes and minus signs of other code points read as the hyphen a phone number is written with.
        let plain: String = value
            .nfkc()
            .filter(|c| !super::names::is_invisible(*c))
            .map(|c| if is_dash(c) { '-' } else { c })
            .collect();
        if plain != value
            && let Some(category) = category_of_plain(&plain)
        {
            return Some(category);
        }
    }
    if let Some(spelled) = spelled_out_email(value)
        && category_of_plain(&spelled) == Some(Category::Email)
    {
        return Some(Category::Email);
    }
    category_of_plain(value)
}

fn category_of_plain(value: &str) -> Option<Category> {
    if value.contains('@') {
        // An address inside free text is still an address, whatever punctuation ends its sentence
        // (regression: `write to ann@example.org.` was not found for its full stop).
        let found = value
            .split(|c: char| {
                c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')' | '"' | '\'')
            })
            .any(|w| is_email(w.trim_matches(|c: char| !c.is_alphanumeric())));
        if found {
            return Some(Category::Email);
        }
    }
    if has_phone_in_text(value) {
        return Some(Category::Phone);
    }
    if value.len() > 256 {
        // Free text: a staff number is a whole value, not words in a paragraph.
        return None;
    }
    if is_phone(value) {
        return Some(Category::Phone);
    }
    if is_staff_number(value) {
        return Some(Category::StaffId);
    }
    None
}

/// Words that say the number after them is a phone's (`tel: 020 7946 0958`, `Handy 0151 1234567`), in the
/// guard's languages and a few more.
const PHONE_WORDS: &[&str] = &[
    "tel",
    "tél",
    "tele",
    "telephone",
    "téléphone",
    "phone",
    "ph",
    "mobile",
    "mob",
    "cell",
    "cellphone",
    "fax",
    "telefon",
    "telefono",
    "teléfono",
    "telefone",
    "telemovel",
    "telemóvel",
    "telefoon",
    "tlf",
    "handy",
    "gsm",
    "tfn",
    "call",
    "mobil",
    "móvil",
    "movil",
    "celular",
    "portable",
    "komórka",
    "komorka",
    "whatsapp",
    "sms",
    "contact",
    "kontakt",
    "puhelin",
    "bel",
    "zadzwoń",
    "zadzwon",
    "τηλέφωνο",
    "τηλ",
    "телефон",
    "тел",
    "電話",
    "전화",
];

/// A phone number inside free text (`call +44 20 7946 0958 after 6`, `tel: 020 7946 0958`, `Handy
/// 0171/1234567`): written in international form, or after a word that says it is one. A number in another
/// shape among other words is not judged: an official alert's `call the office at 1-800-427-4626` is an
/// agency's line, and prose is full of digit groups (populations, serials, readings). Toll-free numbers are
/// never a person's. Runs on every text value: a byte count first, and nothing is allocated.
fn has_phone_in_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.iter().filter(|b| b.is_ascii_digit()).count() < 7 {
        return false;
    }
    let phone_byte =
        |b: u8| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+' | b'/');
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_digit() || matches!(bytes[i], b'+' | b'(')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && phone_byte(bytes[i]) {
            i += 1;
        }
        let run = text[start..i].trim_end_matches([' ', '-', '.', '/', '(', '+']);
        let digits = run.bytes().filter(u8::is_ascii_digit).count();
        if !(7..=15).contains(&digits) || is_toll_free(run) {
            continue;
        }
        let international = run.starts_with('+') && digits >= 9 && is_phone(run);
        let said =
            said_phone(&text[..start]) && (is_phone(run) || is_phone(&run.replace('/', " ")));
        if international || said {
            return true;
        }
    }
    false
}

/// `1-800-427-4626`, `(888) 555 0100`, `0800 123 4567`: a line anyone may call, never a person's.
fn is_toll_free(run: &str) -> bool {
    let mut digits = run.bytes().filter(u8::is_ascii_digit);
    let mut first = [0u8; 4];
    for slot in &mut first {
        *slot = digits.next().unwrap_or(b'x');
    }
    let north_american = |d: &[u8]| {
        matches!(
            d,
            b"800" | b"888" | b"877" | b"866" | b"855" | b"844" | b"833"
        )
    };
    north_american(&first[..3])
        || (first[0] == b'1' && north_american(&first[1..4]))
        || matches!(&first, b"0800" | b"0808")
}

/// Whether one of the (up to three) words before a number says it is a phone's.
fn said_phone(before: &str) -> bool {
    before
        .rsplit(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(3)
        .any(|w| {
            if w.is_ascii() {
                PHONE_WORDS.iter().any(|p| w.eq_ignore_ascii_case(p))
            } else {
                PHONE_WORDS.contains(&w.to_lowercase().as_str())
            }
        })
}

/// Phone numbers written as JSON numbers lose their leading zero or `+`: a national number has 9 to 11
/// digits, an international one up to 15.
const PHONE_NUMBER_DIGITS: std::ops::RangeInclusive<usize> = 9..=15;
/// A phone number written as digits alone (`"01511234567"`, `"+4915112345678"`).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

fn digit_count(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// A number in a column named for mobiles (`mobile`, `handy`) with as many digits as a phone number.
pub(crate) fn is_phone_number_value(number: &Number) -> bool {
    number
        .as_u64()
        .is_some_and(|n| PHONE_NUMBER_DIGITS.contains(&digit_count(n)))
}

/// Text that is a phone number's digits alone, in a column named for mobiles.
pub(crate) fn is_digit_phone(text: &str) -> bool {
    let text = text.trim();
    let digits = text
        .strip_prefix('+')
        .or_else(|| text.strip_prefix("00"))
        .unwrap_or(text);
    PHONE_DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Mobile numbers in international form without the `+`, by country code, mobile prefix and length, in the
/// EU and its neighbours. North American numbers (`1` and ten digits) are left out: OpenStreetMap ids have
/// the same shape.
const MOBILE_SHAPES: &[(&str, usize, usize)] = &[
    ("4915", 12, 13),
    ("4916", 12, 13),
    ("4917", 12, 13),
    ("447", 12, 12),
    ("336", 11, 11),
    ("337", 11, 11),
    ("346", 11, 11),
    ("347", 11, 11),
    ("393", 11, 12),
    ("316", 11, 11),
    ("485", 11, 11),
    ("486", 11, 11),
    ("487", 11, 11),
    ("488", 11, 11),
    ("3519", 12, 12),
    ("324", 11, 11),
    ("436", 11, 13),
    ("417", 11, 11),
    ("3538", 12, 12),
    ("467", 11, 11),
];

pub(crate) fn digits_have_mobile_shape(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit())
        && MOBILE_SHAPES.iter().any(|(prefix, shortest, longest)| {
            digits.starts_with(prefix) && (*shortest..=*longest).contains(&digits.len())
        })
}

/// A value shaped like a mobile number in international form: a number, or digits with an optional `+`
/// or `00`. One such value proves nothing (an id may have the shape); most of a column's values do.
pub(crate) fn has_mobile_shape(value: &serde_json::Value) -> Option<bool> {
    match value {
        serde_json::Value::Number(n) => Some(
            n.as_u64()
                .is_some_and(|n| digits_have_mobile_shape(&n.to_string())),
        ),
        serde_json::Value::String(text) => {
            let text = text.trim();
            let digits = text
                .strip_prefix('+')
                .or_else(|| text.strip_prefix("00"))
                .unwrap_or(text);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits_have_mobile_shape(digits))
        }
        _ => None,
    }
}

/// Common given names across languages (the guard's eight and a few more, with and without accents), for
/// recognising person names by value. A column counts as names
/// when most of its values are two or three capitalised words starting with one of these.
const GIVEN_NAMES: &[&str] = &[
    "aaron",
    "adam",
    "agnieszka",
    "ahmed",
    "ahmet",
    "aisha",
    "alain",
    "alan",
    "alberto",
    "alejandro",
    "alessandro",
    "alessia",
    "alex",
    "alexander",
    "ali",
    "alice",
    "alvaro",
    "amanda",
    "amy",
    "ana",
    "anders",
    "andrea",
    "andreas",
    "andrew",
    "andrzej",
    "angela",
    "anna",
    "anne",
    "anouk",
    "anthony",
    "antoine",
    "antonio",
    "arthur",
    "astrid",
    "ayse",
    "ayşe",
    "barbara",
    "beatriz",
    "ben",
    "benjamin",
    "bernd",
    "birgit",
    "bjorn",
    "björn",
    "bram",
    "brian",
    "camille",
    "carlos",
    "carmen",
    "carol",
    "catarina",
    "catherine",
    "celine",
    "charles",
    "chen",
    "chiara",
    "chloe",
    "chloé",
    "chris",
    "christian",
    "christopher",
    "claire",
    "claudia",
    "cristina",
    "céline",
    "daan",
    "daniel",
    "david",
    "deborah",
    "diana",
    "diego",
    "dieter",
    "dimitris",
    "dmitri",
    "dolores",
    "donald",
    "dorothy",
    "duarte",
    "edward",
    "elena",
    "eleni",
    "elif",
    "elisa",
    "elizabeth",
    "elodie",
    "emily",
    "emma",
    "emre",
    "eric",
    "erik",
    "eva",
    "ewa",
    "fatima",
    "fatma",
    "federica",
    "felix",
    "femke",
    "fernando",
    "fleur",
    "florian",
    "francesca",
    "francesco",
    "francisco",
    "francois",
    "frank",
    "franz",
    "françois",
    "gary",
    "george",
    "gerhard",
    "giorgia",
    "giorgio",
    "giorgos",
    "giovanni",
    "giulia",
    "giuseppe",
    "goncalo",
    "gonçalo",
    "grzegorz",
    "guillaume",
    "gunter",
    "günter",
    "hannah",
    "hans",
    "hasan",
    "heinz",
    "helen",
    "helga",
    "hendrik",
    "henrik",
    "henry",
    "hiroshi",
    "horst",
    "hugo",
    "huseyin",
    "hüseyin",
    "ibrahim",
    "ines",
    "ingrid",
    "inês",
    "isabel",
    "isabelle",
    "ivan",
    "jack",
    "jacques",
    "jakub",
    "james",
    "jan",
    "jane",
    "jason",
    "javier",
    "jean",
    "jennifer",
    "jens",
    "jeroen",
    "jessica",
    "joanna",
    "joao",
    "johan",
    "johannes",
    "john",
    "jonas",
    "jonathan",
    "joost",
    "jorge",
    "jose",
    "josef",
    "joseph",
    "joshua",
    "josé",
    "joão",
    "juan",
    "juergen",
    "julia",
    "julien",
    "juliette",
    "jürgen",
    "kamil",
    "karen",
    "karin",
    "karl",
    "katarzyna",
    "kate",
    "katharina",
    "kenji",
    "kevin",
    "kirsten",
    "klaus",
    "koen",
    "konstantinos",
    "krzysztof",
    "lars",
    "laura",
    "laurent",
    "lea",
    "lena",
    "li",
    "linda",
    "lisa",
    "lorenzo",
    "lotte",
    "louis",
    "luca",
    "lucas",
    "lucia",
    "lucía",
    "luis",
    "lukas",
    "lukasz",
    "léa",
    "magdalena",
    "magnus",
    "malgorzata",
    "manfred",
    "manon",
    "manuel",
    "marcin",
    "marco",
    "maria",
    "mariana",
    "marie",
    "marieke",
    "mark",
    "markus",
    "marta",
    "martin",
    "martina",
    "mary",
    "mathieu",
    "matteo",
    "matthew",
    "matthias",
    "małgorzata",
    "mehmet",
    "mette",
    "michael",
    "michal",
    "michał",
    "michel",
    "michelle",
    "miguel",
    "mohamed",
    "mohammed",
    "monika",
    "muhammad",
    "mustafa",
    "nancy",
    "nathalie",
    "nicolas",
    "nicole",
    "nikos",
    "nils",
    "nuno",
    "ole",
    "olga",
    "olivier",
    "pablo",
    "paolo",
    "patricia",
    "paul",
    "paula",
    "pawel",
    "paweł",
    "pedro",
    "peter",
    "petra",
    "philippe",
    "pierre",
    "pieter",
    "pilar",
    "piotr",
    "priya",
    "rafael",
    "rahul",
    "raj",
    "ramon",
    "ramón",
    "raquel",
    "rebecca",
    "richard",
    "rita",
    "robert",
    "roberto",
    "ronald",
    "rosa",
    "ruben",
    "rui",
    "ryan",
    "sabine",
    "sander",
    "sandra",
    "sanne",
    "sara",
    "sarah",
    "sebastian",
    "sergei",
    "sergio",
    "silvia",
    "sofia",
    "sofía",
    "sophie",
    "soren",
    "stefan",
    "stefano",
    "stephen",
    "steven",
    "susan",
    "susanne",
    "sven",
    "sylvie",
    "sébastien",
    "søren",
    "thierry",
    "thijs",
    "thomas",
    "tiago",
    "timothy",
    "tobias",
    "tomasz",
    "ursula",
    "ute",
    "uwe",
    "valentina",
    "valerie",
    "valérie",
    "wang",
    "wei",
    "willem",
    "william",
    "wojciech",
    "wolfgang",
    "wouter",
    "yuki",
    "yusuf",
    "zeynep",
    "zhang",
    "zofia",
    "álvaro",
    "élodie",
    "łukasz",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_give_away_emails_phones_and_staff_numbers_but_not_numbers_or_dates() {
        assert!(is_email("ann.smith@example.com"));
        assert!(!is_email("@handle"));
        assert!(!is_email("M 4.5 @ 10 km"));
        for phone in [
            "+44 20 7946 0958",
            "(555) 123-4567",
            "555-123-4567",
            "+15551234567",
            "030 1234567",
        ] {
            assert!(is_phone(phone), "{phone}");
        }
        for not_phone in [
            "2024-05-01",
            "12.05.2024",
            "1234567",
            "-122.419416",
            "37.7749",
            "2024-05-01 12:30",
            "10000000",
        ] {
            assert!(!is_phone(not_phone), "{not_phone}");
        }
        assert!(is_staff_number("EMP-10234") && is_staff_number("staff0042"));
        assert!(!is_staff_number("EMPIRE STATE") && !is_staff_number("EMP-1"));
        assert_eq!(
            category_of_value("Contact: ann@example.org for access"),
            Some(Category::Email)
        );
        assert_eq!(category_of_value("Warehouse 7"), None);
    }

    #[test]
    fn numbers_are_phones_only_in_a_phone_column_or_by_their_shape_in_a_share() {
        let n = |v: u64| serde_json::Number::from(v);
        assert!(is_phone_number_value(&n(4_915_112_345_678)));
        assert!(!is_phone_number_value(&n(12_345)));
        assert!(is_digit_phone("+4915112345678") && is_digit_phone("01511234567"));
        assert!(!is_digit_phone("12a45678") && !is_digit_phone("123"));
        let shaped = |v: serde_json::Value| has_mobile_shape(&v);
        assert_eq!(shaped(serde_json::json!(4_915_112_345_678_u64)), Some(true));
        assert_eq!(shaped(serde_json::json!("+447700900123")), Some(true));
        assert_eq!(shaped(serde_json::json!(12_345_678_901_u64)), Some(false));
        assert_eq!(
            shaped(serde_json::json!(1_704_067_200_000_u64)),
            Some(false)
        );
        assert_eq!(shaped(serde_json::json!(4.5)), Some(false));
        assert_eq!(shaped(serde_json::json!("Depot")), None);
    }
}
