//! The data-protection guard: geoconsole keeps places and events, never people. Columns that hold
//! personal data are found by their names and by what their values look like, and refused with a message
//! that names them; special-category data (trade-union membership or activity, religion, health,
//! ethnicity, political opinion, sex life or orientation) is refused whatever the caller allows.
//!
//! Names ([`names`]) are read as words after they are brought to plain letters (look-alike letters,
//! invisible characters, full-width forms and accents do not hide a word), in English, German, French,
//! Spanish, Italian, Portuguese, Dutch and Polish ([`vocabulary`]); joined words are split and names cut at
//! the DBF limit read as what they were. `employees` (a headcount at a site) is still not `employee`.
//! Values ([`values`]) are checked one by one for emails, phone numbers and staff numbers on every feature
//! (cheap byte tests first), and for person names and phone numbers written as numbers over the first
//! features, where most values of a column must look like one. Nested objects and arrays are walked, their
//! keys judged like column names (and key/value pairs, `[["first_name","John"]]` or `{"k":…,"v":…}`, as
//! named fields), to a bounded depth: deeper than that is refused, not skipped. Values are read in plain
//! form (NFKC) when they are not ASCII. A feature's own id is checked too, since it cannot be dropped: an
//! id written as a phone, or numeric ids most of whose first ones are shaped like mobile numbers.
//!
//! The guard also redacts what a rejects report shows of a record ([`redact`]).

mod names;
mod redact;
mod values;
mod vocabulary;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use geoconsole_model::Properties;
use serde::Serialize;
use serde_json::Value;

pub use names::category_of_name;
pub use redact::{REDACTED, redact_text};

use names::NameReading;
use values::{
    category_of_value, digits_have_mobile_shape, has_mobile_shape, is_digit_phone, is_phone,
    is_phone_number_value, is_staff_number, looks_like_person_name, tells,
};

/// What kind of personal data a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    PersonName,
    Email,
    Phone,
    StaffId,
    HomeAddress,
    PersonalId,
    /// A column that names people by their role in an event (victim, suspect, driver, employee...).
    Person,
    TradeUnion,
    Religion,
    Health,
    Ethnicity,
    Political,
    SexLife,
}

impl Category {
    /// Special categories (GDPR art. 9) are refused even when a caller allows the column.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            Self::TradeUnion
                | Self::Religion
                | Self::Health
                | Self::Ethnicity
                | Self::Political
                | Self::SexLife
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::PersonName => "person names",
            Self::Email => "email addresses",
            Self::Phone => "phone numbers",
            Self::StaffId => "staff identifiers",
            Self::HomeAddress => "home addresses",
            Self::PersonalId => "personal identifiers (birth dates, national ids, passports)",
            Self::Person => "references to individual people",
            Self::TradeUnion => "trade-union membership or activity",
            Self::Religion => "religion or belief",
            Self::Health => "health data",
            Self::Ethnicity => "racial or ethnic origin",
            Self::Political => "political opinion",
            Self::SexLife => "sex life or sexual orientation",
        }
    }
}

/// The column of a finding about features' own ids (GeoJSON `id`, or the column `--id-field` names): ids
/// cannot be dropped or allowed, only chosen otherwise.
pub const FEATURE_ID: &str = "(feature id)";

/// Levels of objects and arrays the guard walks inside one column's value; a value nested deeper is
/// refused, since what it holds is unknown.
pub const MAX_DEPTH: usize = 32;
/// Keys inside one feature's nested values the guard reads as names; a feature with more is refused like
/// one nested too deep.
const MAX_NESTED_KEYS: usize = 10_000;
/// Names whose reading is remembered; past this (a file whose keys are data), names are read again each
/// time they are met.
const MAX_REMEMBERED_NAMES: usize = 65_536;

/// One column found to hold personal data, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub column: String,
    pub category: Category,
    /// `name`; `key a.b` for a key nested in the column's value; or where a value gave it away
    /// (`feature 12`, `line 40`, `the first features`).
    pub evidence: String,
}

impl Finding {
    fn sentence(&self) -> String {
        let how = if self.evidence == "name" {
            "by its name".to_string()
        } else if let Some(path) = self.evidence.strip_prefix("key ") {
            format!("by its nested key '{path}'")
        } else if self.evidence.starts_with("the ") {
            format!("by most of its values in {}", self.evidence)
        } else {
            format!("by its values, e.g. at {}", self.evidence)
        };
        format!(
            "'{}' holds {} ({how})",
            self.column,
            self.category.describe()
        )
    }
}

/// Why an import is refused: every finding, special categories first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub findings: Vec<Finding>,
    /// The dataset's own id or title names special-category data.
    pub dataset: Option<Category>,
    /// Columns whose values nest deeper than [`MAX_DEPTH`] (or hold more keys than the guard reads), so
    /// the guard cannot say what they hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

impl Refusal {
    fn of(findings: Vec<Finding>) -> Self {
        Self {
            findings,
            dataset: None,
            unchecked: Vec::new(),
        }
    }
}

/// Where the refused data came from, which decides what the message offers as the way out: a file's import
/// has `--drop-column` and `--allow-column`, a paged source chooses its fields, a feed has neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    Import,
    Source,
    Feed,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explained(Remedy::Import))
    }
}

impl Refusal {
    /// The refusal, with the way out that `remedy`'s caller has.
    pub fn explained(&self, remedy: Remedy) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_explained(&mut text, remedy);
        text
    }

    fn write_explained(&self, f: &mut impl fmt::Write, remedy: Remedy) -> fmt::Result {
        let remove = |columns: &str| match remedy {
            Remedy::Import => format!("remove it with --drop-column {columns}"),
            Remedy::Source => {
                format!("leave {columns} out by naming the fields to keep with --fields")
            }
            Remedy::Feed => format!(
                "a feed cannot leave {columns} out: import a copy of the document with --drop-column {columns} instead"
            ),
        };
        if let Some(category) = self.dataset {
            return write!(
                f,
                "refused: the dataset is about {}, which geoconsole never stores (it keeps places and events, not people)",
                category.describe()
            );
        }
        let (ids, findings): (Vec<&Finding>, Vec<&Finding>) =
            self.findings.iter().partition(|x| x.column == FEATURE_ID);
        let (special, personal): (Vec<&Finding>, Vec<&Finding>) =
            findings.into_iter().partition(|x| x.category.is_special());
        let columns = |list: &[&Finding]| {
            list.iter()
                .map(|x| x.column.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut parts = Vec::new();
        if !special.is_empty() {
            parts.push(format!(
                "special-category data, always refused: {}; {}",
                special
                    .iter()
                    .map(|x| x.sentence())
                    .collect::<Vec<_>>()
                    .join("; "),
                remove(&columns(&special))
            ));
        }
        if !personal.is_empty() {
            let keep = if remedy == Remedy::Import {
                ", or keep a contact column that must stay with --allow-column NAME (recorded in the audit log)"
            } else {
                ""
            };
            parts.push(format!(
                "personal data: {}; {}{keep}",
                personal
                    .iter()
                    .map(|x| x.sentence())
                    .collect::<Vec<_>>()
                    .join("; "),
                remove(&columns(&personal))
            ));
        }
        for id in ids {
            let ids_from = match remedy {
                Remedy::Source => "; the service's own ids cannot be stored",
                _ => "; give features other ids with --id-field",
            };
            parts.push(format!(
                "the feature ids hold {} (e.g. at {}){ids_from}",
                id.category.describe(),
                id.evidence
            ));
        }
        if !self.unchecked.is_empty() {
            parts.push(format!(
                "{} nest values more than {MAX_DEPTH} levels deep (or hold more than {MAX_NESTED_KEYS} keys in one feature), deeper than the guard looks; flatten them, or {}",
                self.unchecked
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                remove(&self.unchecked.join(","))
            ));
        }
        write!(
            f,
            "refused: geoconsole keeps places and events, not people. {}",
            parts.join(". ")
        )
    }
}

impl std::error::Error for Refusal {}

/// What the caller decided about columns the guard would refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivacyPolicy {
    /// Removed from every feature before anything is checked or stored.
    pub drop: BTreeSet<String>,
    /// Kept although they hold personal data (never special-category data).
    pub allow: BTreeSet<String>,
}

/// Checks features as they stream past. One per import.
#[derive(Debug)]
pub struct PrivacyGuard {
    policy: PrivacyPolicy,
    /// What each column's name says; judged the first time the column is met.
    names: HashMap<String, NameReading>,
    /// The readings of the last feature's columns by position: features of a file list the same columns
    /// in the same order, and comparing a name with the one at its place is cheaper than hashing it.
    by_position: Vec<(String, NameReading)>,
    /// What each key nested inside a column's value says (a key is judged for every column it is in).
    keys: HashMap<String, NameReading>,
    /// Allowed columns found to hold personal data, for the audit log.
    allowed: BTreeMap<String, Category>,
    /// Feature ids written as digits alone among the first ones, and how many are shaped like mobile
    /// numbers.
    numeric_ids: usize,
    mobile_ids: usize,
    /// Person names and mobile numbers keep being counted after the first features, so a column that
    /// turns to them later in a file is found too.
    running: Running,
}

/// After the first features, one feature in [`RUNNING_ONE_IN`] (picked at random, so a file cannot place
/// its names between the ones looked at) is counted into blocks of [`RUNNING_BLOCK`] values per column,
/// each judged like the first features. Counting every feature would cost the import a name test per text
/// value; a column that holds names for a stretch of 300 features is still found (a block spans about
/// 200).
#[derive(Debug)]
struct Running {
    shares: Shares,
    state: u64,
}

const RUNNING_ONE_IN: u64 = 4;
const RUNNING_BLOCK: usize = 48;

impl Running {
    fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self {
            shares: Shares::default(),
            state: seed | 1,
        }
    }

    /// Whether to count this feature (xorshift64*: a feature's chance does not depend on its place).
    fn pick(&mut self) -> bool {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .is_multiple_of(RUNNING_ONE_IN)
    }
}

/// How many of a column's sampled values must look like person names before the column counts as names.
const NAME_SHARE: f64 = 0.5;
const NAME_MIN_VALUES: usize = 3;
/// How many of a column's sampled numbers must be shaped like mobile numbers before it counts as phones:
/// most, so one id that happens to have the shape does not.
const MOBILE_SHARE: f64 = 0.8;
const MOBILE_MIN_VALUES: usize = 3;
/// Feature ids looked at for their share of mobile-number shapes.
const MOBILE_IDS_LOOKED_AT: usize = 1000;

/// Fields of an object that name what its other field holds: `{"k": "religion", "v": …}`,
/// `{"name": "first_name", "value": …}`.
const PAIR_KEYS: &[&str] = &[
    "k",
    "key",
    "name",
    "field",
    "attribute",
    "attr",
    "property",
    "prop",
    "label",
    "tag",
];
const PAIR_VALUES: &[&str] = &["v", "value", "val", "values", "data"];

/// The name an object written as a key/value pair (two or three fields) gives its value.
fn pair_name(map: &serde_json::Map<String, Value>) -> Option<&str> {
    let is = |list: &[&str], k: &str| list.iter().any(|p| k.eq_ignore_ascii_case(p));
    if !(2..=3).contains(&map.len()) || !map.keys().any(|k| is(PAIR_VALUES, k)) {
        return None;
    }
    map.iter().find_map(|(k, v)| match v {
        Value::String(name) if is(PAIR_KEYS, k) => Some(name.as_str()),
        _ => None,
    })
}

/// The names a list of pairs (`[["first_name", "John"], ["last_name", "Smith"]]`) gives its values.
fn pair_list_names(items: &[Value]) -> Option<Vec<&str>> {
    if items.is_empty() {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            Value::Array(pair) if pair.len() == 2 => pair[0].as_str(),
            _ => None,
        })
        .collect()
}

/// What one check found: refused columns, and columns too deep to check.
#[derive(Default)]
struct Verdict {
    refused: Vec<Finding>,
    unchecked: Vec<String>,
}

impl Verdict {
    fn settled(&self, column: &str) -> bool {
        self.refused.iter().any(|f| f.column == column)
            || self.unchecked.iter().any(|c| c == column)
    }
}

/// A value that stands for no value: empty, a placeholder word, or punctuation alone.
fn is_filler(text: &str) -> bool {
    const FILLERS: &[&str] = &[
        "x", "unknown", "tbd", "tba", "none", "n/a", "na", "null", "nil", "nan", "pending",
        "various",
    ];
    let text = text.trim();
    (text.chars().count() <= 3 && !text.chars().any(char::is_alphabetic))
        || FILLERS.iter().any(|f| text.eq_ignore_ascii_case(f))
}

/// Counts of values, per column or nested path.
#[derive(Debug, Default)]
struct Shares {
    /// path → (column, values looking like person names, text values)
    names: BTreeMap<String, (String, usize, usize)>,
    /// path → (column, values shaped like mobile numbers, numeric values)
    mobiles: BTreeMap<String, (String, usize, usize)>,
}

impl Shares {
    fn count(&mut self, column: &str, path: &str, value: &Value) {
        fn tally<'m>(
            map: &'m mut BTreeMap<String, (String, usize, usize)>,
            column: &str,
            path: &str,
        ) -> &'m mut (String, usize, usize) {
            if !map.contains_key(path) {
                map.insert(path.to_string(), (column.to_string(), 0, 0));
            }
            // Inserted just above when missing.
            map.get_mut(path).expect("tally present")
        }
        // Fillers (`unknown`, `TBD`, `?`) say nothing: a column of names and fillers is a column of names.
        if let Value::String(text) = value
            && !is_filler(text)
        {
            let entry = tally(&mut self.names, column, path);
            entry.2 += 1;
            entry.1 += usize::from(looks_like_person_name(text));
        }
        if let Some(shaped) = has_mobile_shape(value) {
            let entry = tally(&mut self.mobiles, column, path);
            entry.2 += 1;
            entry.1 += usize::from(shaped);
        }
    }

    fn count_all(&mut self, properties: &Properties) {
        for (key, value) in properties {
            walk_leaves(key, value, &mut |path, leaf| self.count(key, path, leaf));
        }
    }

    /// Columns most of whose counted values (at least `least` of them) are person names or mobile numbers;
    /// the paths judged are forgotten, so the next values start a new count.
    fn take_findings(&mut self, least: usize, evidence: &dyn Fn() -> String) -> Vec<Finding> {
        let mut found = Vec::new();
        for (map, share, min, category) in [
            (
                &mut self.names,
                NAME_SHARE,
                NAME_MIN_VALUES,
                Category::PersonName,
            ),
            (
                &mut self.mobiles,
                MOBILE_SHARE,
                MOBILE_MIN_VALUES,
                Category::Phone,
            ),
        ] {
            map.retain(|_, (column, hits, values)| {
                if *values < least {
                    return true;
                }
                if *values >= min && *hits as f64 >= share * *values as f64 {
                    found.push(Finding {
                        column: column.clone(),
                        category,
                        evidence: evidence(),
                    });
                }
                false
            });
        }
        found
    }
}

impl PrivacyGuard {
    pub fn new(policy: PrivacyPolicy) -> Self {
        Self {
            policy,
            names: HashMap::new(),
            by_position: Vec::new(),
            keys: HashMap::new(),
            allowed: BTreeMap::new(),
            numeric_ids: 0,
            mobile_ids: 0,
            running: Running::new(),
        }
    }

    /// A dataset whose id or title names special-category data is refused outright.
    pub fn check_dataset(id: &str, title: &str) -> Result<(), Refusal> {
        for text in [id, title] {
            if let Some(category) = category_of_name(text).filter(|c| c.is_special()) {
                return Err(Refusal {
                    dataset: Some(category),
                    ..Refusal::of(Vec::new())
                });
            }
        }
        Ok(())
    }

    /// Judges a finding against the policy: dropped columns never get here; allowed ones are noted,
    /// unless special. Feature ids are never allowed.
    fn judge(&mut self, finding: Finding, verdict: &mut Verdict) {
        if finding.column != FEATURE_ID
            && self.policy.allow.contains(&finding.column)
            && !finding.category.is_special()
        {
            self.allowed.insert(finding.column, finding.category);
        } else if !verdict.refused.iter().any(|f| f.column == finding.column) {
            verdict.refused.push(finding);
        }
    }

    fn finish(verdict: Verdict) -> Result<(), Refusal> {
        if verdict.refused.is_empty() && verdict.unchecked.is_empty() {
            return Ok(());
        }
        let mut findings = verdict.refused;
        findings.sort_by_key(|f| (!f.category.is_special(), f.column.clone()));
        Err(Refusal {
            unchecked: verdict.unchecked,
            ..Refusal::of(findings)
        })
    }

    /// [`Self::column_reading`] for the column at `position` of a feature, remembered by place.
    fn column_reading_at(
        &mut self,
        position: usize,
        column: &str,
        verdict: &mut Verdict,
    ) -> NameReading {
        if let Some((name, reading)) = self.by_position.get(position)
            && name == column
        {
            return *reading;
        }
        let reading = self.column_reading(column, verdict);
        if position < MAX_REMEMBERED_NAMES {
            let entry = (column.to_string(), reading);
            if position < self.by_position.len() {
                self.by_position[position] = entry;
            } else if position == self.by_position.len() {
                self.by_position.push(entry);
            }
        }
        reading
    }

    /// What a column's name says, read and judged the first time the column is met.
    fn column_reading(&mut self, column: &str, verdict: &mut Verdict) -> NameReading {
        if let Some(reading) = self.names.get(column) {
            return *reading;
        }
        let reading = names::read(column);
        if let Some(category) = reading.category {
            self.judge(
                Finding {
                    column: column.to_string(),
                    category,
                    evidence: "name".into(),
                },
                verdict,
            );
        }
        if self.names.len() < MAX_REMEMBERED_NAMES {
            self.names.insert(column.to_string(), reading);
        }
        reading
    }

    /// What a key nested in a column's value says (read once per key), judged for the column: `path` is
    /// where the key is, for the message.
    fn key_reading(
        &mut self,
        column: &str,
        path: &str,
        key: &str,
        verdict: &mut Verdict,
    ) -> NameReading {
        let reading = match self.keys.get(key) {
            Some(reading) => *reading,
            None => {
                let reading = names::read(key);
                if self.keys.len() < MAX_REMEMBERED_NAMES {
                    self.keys.insert(key.to_string(), reading);
                }
                reading
            }
        };
        if let Some(category) = reading.category
            && (category.is_special() || !self.allowed.contains_key(column))
        {
            self.judge(
                Finding {
                    column: column.to_string(),
                    category,
                    evidence: format!("key {path}"),
                },
                verdict,
            );
        }
        reading
    }

    /// Looks at the first features together: names, values, and person names and phone numbers written as
    /// numbers by their share of a column. `at` says where each feature is, for messages.
    pub fn inspect_sample(
        &mut self,
        sample: &mut [(&mut Properties, String)],
    ) -> Result<(), Refusal> {
        let mut verdict = Verdict::default();
        let mut shares = Shares::default();
        for (properties, at) in sample.iter_mut() {
            self.remove_dropped(properties);
            self.check_properties(properties, &at.as_str(), &mut verdict);
            shares.count_all(properties);
        }
        for finding in shares.take_findings(0, &|| "the first features".into()) {
            self.judge(finding, &mut verdict);
        }
        Self::finish(verdict)
    }

    /// Drops the dropped columns and checks one feature's names and values.
    /// `at` is written out only for a refusal: every feature passes here.
    pub fn admit(
        &mut self,
        properties: &mut Properties,
        at: impl fmt::Display,
    ) -> Result<(), Refusal> {
        self.remove_dropped(properties);
        let mut verdict = Verdict::default();
        self.check_properties(properties, &at, &mut verdict);
        if self.running.pick() {
            self.running.shares.count_all(properties);
            let around = || format!("the features up to {at}");
            for finding in self.running.shares.take_findings(RUNNING_BLOCK, &around) {
                self.judge(finding, &mut verdict);
            }
        }
        Self::finish(verdict)
    }

    /// Checks a feature's own id (after the id field was applied): an id that is an email, a phone number
    /// written as one, or a staff number is refused. Ids cannot be allowed. Runs on every feature: byte
    /// tests only, and `at` is written out only for a refusal.
    pub fn check_id(&mut self, id: &str, at: impl fmt::Display) -> Result<(), Refusal> {
        let category = if id.contains('@') && category_of_value(id) == Some(Category::Email) {
            Some(Category::Email)
        } else if is_staff_number(id) {
            Some(Category::StaffId)
        } else if (id.starts_with('+') || id.contains([' ', '('])) && is_phone(id) {
            Some(Category::Phone)
        } else if self.numeric_ids < MOBILE_IDS_LOOKED_AT
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
        {
            // A number alone proves nothing (OpenStreetMap and object ids are long numbers too); most of the
            // first ids shaped like mobile numbers do.
            self.numeric_ids += 1;
            self.mobile_ids += usize::from(digits_have_mobile_shape(id));
            (self.mobile_ids >= MOBILE_MIN_VALUES
                && self.mobile_ids as f64 >= MOBILE_SHARE * self.numeric_ids as f64)
                .then_some(Category::Phone)
        } else {
            None
        };
        let mut verdict = Verdict::default();
        if let Some(category) = category {
            self.judge(
                Finding {
                    column: FEATURE_ID.to_string(),
                    category,
                    evidence: at.to_string(),
                },
                &mut verdict,
            );
        }
        Self::finish(verdict)
    }

    fn remove_dropped(&self, properties: &mut Properties) {
        if !self.policy.drop.is_empty() {
            properties.retain(|k, _| !self.policy.drop.contains(k));
        }
    }

    /// The category one value under a name puts its column in, if any.
    fn value_finding(value: &Value, reading: NameReading) -> Option<Category> {
        let phone_hint = reading.phone_hint;
        match value {
            Value::String(text) => category_of_value(text)
                .or_else(|| (phone_hint && is_digit_phone(text)).then_some(Category::Phone))
                .or_else(|| {
                    reading
                        .telling
                        .filter(|(category, telling)| tells(text, *category, *telling))
                        .map(|(category, _)| category)
                }),
            Value::Number(number) => {
                (phone_hint && is_phone_number_value(number)).then_some(Category::Phone)
            }
            _ => None,
        }
    }

    fn check_properties(
        &mut self,
        properties: &Properties,
        at: &dyn fmt::Display,
        verdict: &mut Verdict,
    ) {
        for (position, (key, value)) in properties.iter().enumerate() {
            let reading = self.column_reading_at(position, key, verdict);
            if verdict.settled(key) {
                continue;
            }
            // Values of an allowed column are kept as they are; its nested keys are still read, since a
            // key may name special-category data.
            let values = !self.allowed.contains_key(key);
            match value {
                Value::Array(_) | Value::Object(_) => {
                    self.walk(key, value, reading, values, at, verdict);
                }
                leaf if values => {
                    if let Some(category) = Self::value_finding(leaf, reading) {
                        self.judge(
                            Finding {
                                column: key.clone(),
                                category,
                                evidence: at.to_string(),
                            },
                            verdict,
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// Walks one column's nested value without recursion: keys as names, leaves as values, to
    /// [`MAX_DEPTH`] levels and [`MAX_NESTED_KEYS`] keys.
    fn walk(
        &mut self,
        column: &str,
        value: &Value,
        reading: NameReading,
        values: bool,
        at: &dyn fmt::Display,
        verdict: &mut Verdict,
    ) {
        let mut stack: Vec<(String, &Value, usize, NameReading)> =
            vec![(column.to_string(), value, 1, reading)];
        let mut keys = 0usize;
        while let Some((path, value, depth, hint)) = stack.pop() {
            if depth > MAX_DEPTH {
                verdict.unchecked.push(column.to_string());
                return;
            }
            // Key/value pairs are named fields: `{"k": "religion", "v": …}`, `[["first_name", "John"]]`.
            let pair_names: Vec<&str> = match value {
                Value::Object(map) => pair_name(map).map(|n| vec![n]),
                Value::Array(items) => pair_list_names(items),
                _ => None,
            }
            .unwrap_or_default();
            for name in pair_names {
                keys += 1;
                if keys > MAX_NESTED_KEYS {
                    verdict.unchecked.push(column.to_string());
                    return;
                }
                self.key_reading(column, &format!("{path}.{name}"), name, verdict);
                if verdict.settled(column) {
                    return;
                }
            }
            let children: Box<dyn Iterator<Item = (Option<&String>, &Value)>> = match value {
                Value::Object(map) => Box::new(map.iter().map(|(k, v)| (Some(k), v))),
                Value::Array(items) => Box::new(items.iter().map(|v| (None, v))),
                _ => continue,
            };
            for (key, child) in children {
                let (child_path, child_hint) = match key {
                    Some(key) => {
                        keys += 1;
                        if keys > MAX_NESTED_KEYS {
                            verdict.unchecked.push(column.to_string());
                            return;
                        }
                        let child_path = format!("{path}.{key}");
                        let reading = self.key_reading(column, &child_path, key, verdict);
                        if verdict.settled(column) {
                            return;
                        }
                        (Some(child_path), reading)
                    }
                    None => (None, hint),
                };
                match child {
                    Value::Array(_) | Value::Object(_) => stack.push((
                        child_path.unwrap_or_else(|| path.clone()),
                        child,
                        depth + 1,
                        child_hint,
                    )),
                    leaf if values => {
                        if let Some(category) = Self::value_finding(leaf, child_hint) {
                            self.judge(
                                Finding {
                                    column: column.to_string(),
                                    category,
                                    evidence: at.to_string(),
                                },
                                verdict,
                            );
                            if verdict.settled(column) {
                                return;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Allowed columns that do hold personal data, with what they hold: the audit log records them.
    pub fn allowed_personal(&self) -> &BTreeMap<String, Category> {
        &self.allowed
    }

    /// Whether a rejects report hides a column's values: the guard refuses it by name, or the caller
    /// dropped or allowed it.
    pub fn hides(&self, column: &str) -> bool {
        self.policy.drop.contains(column)
            || self.policy.allow.contains(column)
            || self.allowed.contains_key(column)
            || self
                .names
                .get(column)
                .map_or_else(|| category_of_name(column), |r| r.category)
                .is_some()
    }

    fn phone_hint(&self, column: &str) -> bool {
        self.names
            .get(column)
            .map_or_else(|| names::read(column).phone_hint, |r| r.phone_hint)
    }

    /// A delimited record (CSV) as a rejects report may show it: its values joined with `,` as before, the
    /// hidden ones `[redacted]`; with the columns whose values were hidden (`field N` past the header).
    pub fn redact_record(&self, columns: &[String], values: &[String]) -> (String, Vec<String>) {
        let mut redacted = Vec::new();
        let shown: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let column = columns.get(i);
                let hidden = column.is_some_and(|c| self.hides(c));
                let hint = column.is_some_and(|c| self.phone_hint(c));
                match redact::redact_value(value, hidden, hint) {
                    Some(shown) => {
                        redacted.push(
                            column
                                .cloned()
                                .unwrap_or_else(|| format!("field {}", i + 1)),
                        );
                        shown
                    }
                    None => value.clone(),
                }
            })
            .collect();
        (shown.join(","), redacted)
    }

    /// A record as read (JSON, maybe cut off) as a rejects report may show it, with the keys whose values
    /// were hidden; text that is not JSON is redacted as free text.
    pub fn redact_json(&self, text: &str) -> (String, Vec<String>) {
        let hides = |key: &str| self.hides(key);
        let hint = |key: &str| self.phone_hint(key);
        redact::redact_json(text, &hides, &hint).unwrap_or_else(|| {
            let shown = redact_text(text);
            let redacted = if shown == text {
                Vec::new()
            } else {
                vec!["(text)".to_string()]
            };
            (shown, redacted)
        })
    }
}

/// Calls `f` with each leaf of a column's value and its path (`contact.phone`; array items share their
/// array's path), to [`MAX_DEPTH`] levels and [`MAX_NESTED_KEYS`] keys, without recursion.
fn walk_leaves<'a>(column: &str, value: &'a Value, f: &mut dyn FnMut(&str, &'a Value)) {
    if !matches!(value, Value::Object(_) | Value::Array(_)) {
        return f(column, value);
    }
    let mut stack: Vec<(String, &'a Value, usize)> = vec![(column.to_string(), value, 1)];
    let mut keys = 0usize;
    while let Some((path, value, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            continue;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    keys += 1;
                    if keys > MAX_NESTED_KEYS {
                        return;
                    }
                    let child_path = format!("{path}.{key}");
                    match child {
                        Value::Object(_) | Value::Array(_) => {
                            stack.push((child_path, child, depth + 1));
                        }
                        leaf => f(&child_path, leaf),
                    }
                }
            }
            Value::Array(items) => {
                for child in items {
                    match child {
                        Value::Object(_) | Value::Array(_) => {
                            stack.push((path.clone(), child, depth + 1));
                        }
                        leaf => f(&path, leaf),
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Properties {
        match value {
            Value::Object(map) => map,
            _ => Properties::new(),
        }
    }

    #[test]
    fn names_are_read_as_words() {
        assert_eq!(category_of_name("EmployeeID"), Some(Category::StaffId));
        assert_eq!(category_of_name("employee-id"), Some(Category::StaffId));
        assert_eq!(category_of_name("first_name"), Some(Category::PersonName));
        assert_eq!(category_of_name("contactEmail"), Some(Category::Email));
        assert_eq!(category_of_name("union_member"), Some(Category::TradeUnion));
        assert_eq!(
            category_of_name("UnionActivity"),
            Some(Category::TradeUnion)
        );
        assert_eq!(
            category_of_name("organizing_drive"),
            Some(Category::TradeUnion)
        );
        assert_eq!(category_of_name("religion"), Some(Category::Religion));
        assert_eq!(category_of_name("victim"), Some(Category::Person));
        // A victim's or suspect's traits make a person-level record (LAPD's crime table, issue 22).
        assert_eq!(category_of_name("vict_age"), Some(Category::Person));
        assert_eq!(category_of_name("Vict Sex"), Some(Category::Person));
        assert_eq!(category_of_name("vict_descent"), Some(Category::Ethnicity));
        assert_eq!(category_of_name("suspect_race"), Some(Category::Ethnicity));
        assert_eq!(category_of_name("driver_age"), Some(Category::Person));
        assert_eq!(
            category_of_name("home_address"),
            Some(Category::HomeAddress)
        );
        assert_eq!(category_of_name("phone_email"), Some(Category::Email));
        // Places and events keep their ordinary columns.
        for clean in [
            "name",
            "NAME",
            "employees",
            "site_name",
            "address",
            "mag",
            "place",
            "severity",
            "sender",
            "senderName",
            "health_district",
            "strike_count",
            "region",
            "type",
            "lightning_strikes",
            "phonetic",
            "timezone",
        ] {
            assert_eq!(category_of_name(clean), None, "{clean}");
        }
    }

    #[test]
    fn person_names_are_found_by_their_share_of_a_column_not_one_value() {
        let mut guard = PrivacyGuard::new(PrivacyPolicy::default());
        let mut rows: Vec<Properties> = ["Maria Garcia", "John Smith", "Wei Zhang", "Depot North"]
            .iter()
            .map(|n| props(json!({"contact": n, "city": "Victoria Falls"})))
            .collect();
        let mut sample: Vec<(&mut Properties, String)> = rows
            .iter_mut()
            .enumerate()
            .map(|(i, p)| (p, format!("feature {i}")))
            .collect();
        let refusal = guard.inspect_sample(&mut sample).expect_err("names");
        assert_eq!(refusal.findings.len(), 1, "{refusal}");
        assert_eq!(refusal.findings[0].column, "contact");
        assert_eq!(refusal.findings[0].category, Category::PersonName);
        let text = refusal.to_string();
        assert!(
            text.contains("'contact' holds person names") && text.contains("--drop-column contact"),
            "{text}"
        );
        // Found by an outside tester: a source's refusal offered flags `sources add` does not have.
        let source = refusal.explained(Remedy::Source);
        assert!(
            source.contains("naming the fields to keep with --fields")
                && !source.contains("--drop-column")
                && !source.contains("--allow-column"),
            "{source}"
        );
        let feed = refusal.explained(Remedy::Feed);
        assert!(
            feed.contains("a feed cannot leave contact out") && !feed.contains("--allow-column"),
            "{feed}"
        );

        let mut guard = PrivacyGuard::new(PrivacyPolicy::default());
        let mut places: Vec<Properties> = [
            "Santa Maria",
            "San Jose",
            "Victoria Station",
            "Lake Charles",
        ]
        .iter()
        .map(|n| props(json!({"name": n})))
        .collect();
        let mut sample: Vec<(&mut Properties, String)> = places
            .iter_mut()
            .enumerate()
            .map(|(i, p)| (p, format!("feature {i}")))
            .collect();
        assert!(
            guard.inspect_sample(&mut sample).is_ok(),
            "place names are not people"
        );
    }

    #[test]
    fn drop_removes_allow_keeps_and_special_categories_stay_refused() {
        let policy = PrivacyPolicy {
            drop: ["email".to_string()].into(),
            allow: ["duty_phone".to_string(), "union_rep".to_string()].into(),
        };
        let mut guard = PrivacyGuard::new(policy);
        let mut p =
            props(json!({"email": "a@b.co", "duty_phone": "+1 555 010 2030", "site": "Depot"}));
        guard
            .admit(&mut p, "feature 0")
            .expect("dropped and allowed");
        assert!(!p.contains_key("email"));
        assert_eq!(
            guard.allowed_personal().get("duty_phone"),
            Some(&Category::Phone)
        );
        let mut q = props(json!({"union_rep": "yes"}));
        let refusal = guard.admit(&mut q, "feature 1").expect_err("special");
        assert!(refusal.to_string().contains("always refused"), "{refusal}");
        // A column that was clean at first is refused where an email first appears.
        let mut r = props(json!({"notes": "call the depot"}));
        guard.admit(&mut r, "feature 2").expect("clean");
        let mut s = props(json!({"notes": "ask ops-lead@example.com"}));
        let refusal = guard.admit(&mut s, "line 40").expect_err("email");
        assert!(refusal.to_string().contains("e.g. at line 40"), "{refusal}");
    }

    #[test]
    fn a_personal_column_is_found_at_a_place_a_clean_one_held_before() {
        // Names are remembered by their place in a feature; a file whose columns move must still be read.
        let mut guard = PrivacyGuard::new(PrivacyPolicy::default());
        for i in 0..3 {
            let mut p = props(json!({"site": "Depot", "notes": "ok"}));
            guard
                .admit(&mut p, format_args!("feature {i}"))
                .expect("clean");
        }
        let mut moved = props(json!({"site": "Depot", "email_address": "x", "notes": "ok"}));
        let refusal = guard
            .admit(&mut moved, "feature 3")
            .expect_err("a column named for email addresses");
        assert!(refusal.to_string().contains("email_address"), "{refusal}");
        let mut again = props(json!({"site": "Depot", "notes": "ok"}));
        guard.admit(&mut again, "feature 4").expect("clean again");
    }

    #[test]
    fn datasets_named_for_special_categories_are_refused() {
        assert!(PrivacyGuard::check_dataset("union_activity", "Union activity").is_err());
        assert!(PrivacyGuard::check_dataset("staff_religion", "x").is_err());
        assert!(PrivacyGuard::check_dataset("earthquakes", "USGS earthquakes").is_ok());
    }
}
