//! The data-protection guard: geoconsole keeps places and events, never people. Columns that hold
//! personal data are found by their names and by what their values look like, and refused with a message
//! that names them; special-category data (trade-union membership or activity, religion, health,
//! ethnicity, political opinion, sex life or orientation) is refused whatever the caller allows.
//!
//! Names are compared as words: `EmployeeID`, `employee_id` and `employee-id` are all `employee id`, so
//! `employees` (a headcount at a site) is not `employee` (a person). Values are checked one by one for
//! emails, phone numbers and staff numbers on every feature (cheap byte tests first), and for person names
//! over the first features, where most values of a column must look like a given name and a surname.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use geoconsole_model::Properties;
use serde::Serialize;
use serde_json::Value;

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

/// Column names by their words: a column is in the category when these words appear in it in order.
const NAME_RULES: &[(&[&str], Category)] = &[
    (&["first", "name"], Category::PersonName),
    (&["last", "name"], Category::PersonName),
    (&["given", "name"], Category::PersonName),
    (&["family", "name"], Category::PersonName),
    (&["middle", "name"], Category::PersonName),
    (&["full", "name"], Category::PersonName),
    (&["person", "name"], Category::PersonName),
    (&["contact", "name"], Category::PersonName),
    (&["employee", "name"], Category::PersonName),
    (&["staff", "name"], Category::PersonName),
    (&["driver", "name"], Category::PersonName),
    (&["reporter", "name"], Category::PersonName),
    (&["surname"], Category::PersonName),
    (&["forename"], Category::PersonName),
    (&["firstname"], Category::PersonName),
    (&["lastname"], Category::PersonName),
    (&["fullname"], Category::PersonName),
    (&["email"], Category::Email),
    (&["e", "mail"], Category::Email),
    (&["mail", "address"], Category::Email),
    (&["phone"], Category::Phone),
    (&["telephone"], Category::Phone),
    (&["mobile", "number"], Category::Phone),
    (&["cell", "number"], Category::Phone),
    (&["msisdn"], Category::Phone),
    (&["employee", "id"], Category::StaffId),
    (&["employee", "number"], Category::StaffId),
    (&["employee", "no"], Category::StaffId),
    (&["staff", "id"], Category::StaffId),
    (&["staff", "number"], Category::StaffId),
    (&["staff", "no"], Category::StaffId),
    (&["emp", "id"], Category::StaffId),
    (&["emp", "no"], Category::StaffId),
    (&["badge", "id"], Category::StaffId),
    (&["badge", "number"], Category::StaffId),
    (&["personnel", "number"], Category::StaffId),
    (&["personnel", "id"], Category::StaffId),
    (&["payroll"], Category::StaffId),
    (&["worker", "id"], Category::StaffId),
    (&["home", "address"], Category::HomeAddress),
    (&["home", "addr"], Category::HomeAddress),
    (&["home", "street"], Category::HomeAddress),
    (&["home", "postcode"], Category::HomeAddress),
    (&["home", "zip"], Category::HomeAddress),
    (&["residential", "address"], Category::HomeAddress),
    (&["residence"], Category::HomeAddress),
    (&["domicile"], Category::HomeAddress),
    (&["date", "of", "birth"], Category::PersonalId),
    (&["birth", "date"], Category::PersonalId),
    (&["birthdate"], Category::PersonalId),
    (&["birthday"], Category::PersonalId),
    (&["dob"], Category::PersonalId),
    (&["ssn"], Category::PersonalId),
    (&["social", "security"], Category::PersonalId),
    (&["national", "id"], Category::PersonalId),
    (&["passport"], Category::PersonalId),
    (&["union"], Category::TradeUnion),
    (&["unionised"], Category::TradeUnion),
    (&["unionized"], Category::TradeUnion),
    (&["unionisation"], Category::TradeUnion),
    (&["unionization"], Category::TradeUnion),
    (&["organising"], Category::TradeUnion),
    (&["organizing"], Category::TradeUnion),
    (&["organiser"], Category::TradeUnion),
    (&["organizer"], Category::TradeUnion),
    (&["collective", "bargaining"], Category::TradeUnion),
    (&["shop", "steward"], Category::TradeUnion),
    (&["religion"], Category::Religion),
    (&["religious"], Category::Religion),
    (&["faith"], Category::Religion),
    (&["belief"], Category::Religion),
    (&["beliefs"], Category::Religion),
    (&["health", "condition"], Category::Health),
    (&["health", "status"], Category::Health),
    (&["medical"], Category::Health),
    (&["diagnosis"], Category::Health),
    (&["disability"], Category::Health),
    (&["illness"], Category::Health),
    (&["sick", "leave"], Category::Health),
    (&["pregnancy"], Category::Health),
    (&["pregnant"], Category::Health),
    (&["mental", "health"], Category::Health),
    (&["medication"], Category::Health),
    (&["genetic"], Category::Health),
    (&["biometric"], Category::Health),
    (&["ethnicity"], Category::Ethnicity),
    (&["ethnic"], Category::Ethnicity),
    (&["race"], Category::Ethnicity),
    (&["racial"], Category::Ethnicity),
    (&["political"], Category::Political),
    (&["politics"], Category::Political),
    (&["party", "affiliation"], Category::Political),
    (&["party", "membership"], Category::Political),
    (&["voting", "intention"], Category::Political),
    (&["sexual"], Category::SexLife),
    (&["sexuality"], Category::SexLife),
    (&["sex", "life"], Category::SexLife),
    (&["gender", "identity"], Category::SexLife),
];

/// Column names that are, as a whole, a person: `victim`, `reported_by`.
const PERSON_COLUMNS: &[&[&str]] = &[
    &["employee"],
    &["worker"],
    &["person"],
    &["victim"],
    &["suspect"],
    &["witness"],
    &["patient"],
    &["offender"],
    &["passenger"],
    &["reporter"],
    &["reported", "by"],
    &["driver"],
    &["assignee"],
    &["owner", "name"],
];

/// Common given names across languages, for recognising person names by value. A column counts as names
/// when most of its values are two or three capitalised words starting with one of these.
const GIVEN_NAMES: &[&str] = &[
    "aaron",
    "adam",
    "ahmed",
    "aisha",
    "alan",
    "alex",
    "alexander",
    "alice",
    "ali",
    "amanda",
    "amy",
    "ana",
    "andrea",
    "andrew",
    "angela",
    "anna",
    "anne",
    "anthony",
    "antonio",
    "barbara",
    "ben",
    "benjamin",
    "brian",
    "carlos",
    "carol",
    "catherine",
    "charles",
    "chen",
    "chris",
    "christian",
    "christopher",
    "claire",
    "daniel",
    "david",
    "deborah",
    "diana",
    "dmitri",
    "donald",
    "dorothy",
    "edward",
    "elena",
    "elizabeth",
    "emily",
    "emma",
    "eric",
    "fatima",
    "francesco",
    "frank",
    "gary",
    "george",
    "giulia",
    "hannah",
    "hans",
    "helen",
    "henry",
    "hiroshi",
    "ibrahim",
    "isabel",
    "ivan",
    "jack",
    "james",
    "jan",
    "jane",
    "jason",
    "jean",
    "jennifer",
    "jessica",
    "joao",
    "john",
    "jonathan",
    "jose",
    "joseph",
    "joshua",
    "juan",
    "julia",
    "karen",
    "kate",
    "kenji",
    "kevin",
    "laura",
    "li",
    "linda",
    "lisa",
    "lucas",
    "luis",
    "maria",
    "marie",
    "mark",
    "martin",
    "mary",
    "matthew",
    "michael",
    "michelle",
    "mohamed",
    "mohammed",
    "muhammad",
    "nancy",
    "nicole",
    "olga",
    "patricia",
    "paul",
    "pedro",
    "peter",
    "pierre",
    "priya",
    "rahul",
    "raj",
    "rebecca",
    "richard",
    "robert",
    "ronald",
    "rosa",
    "ryan",
    "sandra",
    "sarah",
    "sergei",
    "sophie",
    "stephen",
    "steven",
    "susan",
    "thomas",
    "timothy",
    "wang",
    "wei",
    "william",
    "yuki",
    "zhang",
];

/// Words of a column name: split at non-alphanumerics and at lower-to-upper case changes.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
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
    words
}

fn contains_run(words: &[String], run: &[&str]) -> bool {
    !run.is_empty()
        && words
            .windows(run.len())
            .any(|w| w.iter().zip(run).all(|(a, b)| a == b))
}

/// The category a column's name alone puts it in, if any (special categories first).
pub fn category_of_name(name: &str) -> Option<Category> {
    let words = words(name);
    let mut found: Option<Category> = None;
    for (run, category) in NAME_RULES {
        if contains_run(&words, run)
            && found.is_none_or(|f| category.is_special() && !f.is_special())
        {
            found = Some(*category);
        }
    }
    if found.is_none()
        && PERSON_COLUMNS
            .iter()
            .any(|p| words.iter().map(String::as_str).eq(p.iter().copied()))
    {
        found = Some(Category::Person);
    }
    found
}

fn is_email(text: &str) -> bool {
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
fn is_phone(text: &str) -> bool {
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
fn is_staff_number(text: &str) -> bool {
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

fn looks_like_person_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if !(2..=3).contains(&parts.len()) {
        return false;
    }
    let capitalised = parts.iter().all(|p| {
        let mut chars = p.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.all(|c| c.is_alphabetic() || c == '-' || c == '\'')
    });
    capitalised && GIVEN_NAMES.contains(&parts[0].to_lowercase().as_str())
}

/// The category one value puts its column in, if any.
fn category_of_value(value: &str) -> Option<Category> {
    if value.len() > 256 {
        // Free text: an address inside it is still an address.
        return value
            .split_whitespace()
            .find(|w| {
                is_email(w.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '.'))
            })
            .map(|_| Category::Email);
    }
    if value.contains('@') {
        let found = value
            .split(|c: char| {
                c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')' | '"')
            })
            .any(is_email);
        if found {
            return Some(Category::Email);
        }
    }
    if is_phone(value) {
        return Some(Category::Phone);
    }
    if is_staff_number(value) {
        return Some(Category::StaffId);
    }
    None
}

/// One column found to hold personal data, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub column: String,
    pub category: Category,
    /// `name`, or where a value gave it away (`feature 12`, `line 40`).
    pub evidence: String,
}

impl Finding {
    fn sentence(&self) -> String {
        let how = if self.evidence == "name" {
            "by its name".to_string()
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
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(category) = self.dataset {
            return write!(
                f,
                "refused: the dataset is about {}, which geoconsole never stores (it keeps places and events, not people)",
                category.describe()
            );
        }
        let (special, personal): (Vec<&Finding>, Vec<&Finding>) =
            self.findings.iter().partition(|x| x.category.is_special());
        let columns = |list: &[&Finding]| {
            list.iter()
                .map(|x| x.column.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut parts = Vec::new();
        if !special.is_empty() {
            parts.push(format!(
                "special-category data, always refused: {}; remove it with --drop-column {}",
                special
                    .iter()
                    .map(|x| x.sentence())
                    .collect::<Vec<_>>()
                    .join("; "),
                columns(&special)
            ));
        }
        if !personal.is_empty() {
            parts.push(format!(
                "personal data: {}; remove it with --drop-column {}, or keep a contact column that must stay with --allow-column NAME (recorded in the audit log)",
                personal.iter().map(|x| x.sentence()).collect::<Vec<_>>().join("; "),
                columns(&personal)
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
    /// Columns whose name has been judged (and found clean, or allowed).
    named: HashSet<String>,
    /// Allowed columns found to hold personal data, for the audit log.
    allowed: BTreeMap<String, Category>,
}

/// How many of a column's sampled values must look like person names before the column counts as names.
const NAME_SHARE: f64 = 0.5;
const NAME_MIN_VALUES: usize = 3;

impl PrivacyGuard {
    pub fn new(policy: PrivacyPolicy) -> Self {
        Self {
            policy,
            named: HashSet::new(),
            allowed: BTreeMap::new(),
        }
    }

    /// A dataset whose id or title names special-category data is refused outright.
    pub fn check_dataset(id: &str, title: &str) -> Result<(), Refusal> {
        for text in [id, title] {
            if let Some(category) = category_of_name(text).filter(|c| c.is_special()) {
                return Err(Refusal {
                    findings: Vec::new(),
                    dataset: Some(category),
                });
            }
        }
        Ok(())
    }

    /// Judges a finding against the policy: dropped columns never get here; allowed ones are noted,
    /// unless special.
    fn judge(&mut self, finding: Finding, refused: &mut Vec<Finding>) {
        if self.policy.allow.contains(&finding.column) && !finding.category.is_special() {
            self.allowed.insert(finding.column, finding.category);
        } else if !refused.iter().any(|f| f.column == finding.column) {
            refused.push(finding);
        }
    }

    fn finish(refused: Vec<Finding>) -> Result<(), Refusal> {
        if refused.is_empty() {
            return Ok(());
        }
        let mut findings = refused;
        findings.sort_by_key(|f| (!f.category.is_special(), f.column.clone()));
        Err(Refusal {
            findings,
            dataset: None,
        })
    }

    /// Looks at the first features together: names, values, and person names by their share of a column.
    /// `at` says where each feature is, for messages.
    pub fn inspect_sample(
        &mut self,
        sample: &mut [(&mut Properties, String)],
    ) -> Result<(), Refusal> {
        let mut refused = Vec::new();
        let mut name_like: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (properties, at) in sample.iter_mut() {
            self.remove_dropped(properties);
            self.check_properties(properties, at, &mut refused);
            for (key, value) in properties.iter() {
                if let Value::String(text) = value {
                    if text.trim().is_empty() {
                        continue;
                    }
                    let entry = name_like.entry(key.clone()).or_default();
                    entry.1 += 1;
                    entry.0 += usize::from(looks_like_person_name(text));
                }
            }
        }
        for (column, (names, values)) in name_like {
            if values >= NAME_MIN_VALUES && names as f64 >= NAME_SHARE * values as f64 {
                let finding = Finding {
                    column,
                    category: Category::PersonName,
                    evidence: "the first features".into(),
                };
                self.judge(finding, &mut refused);
            }
        }
        Self::finish(refused)
    }

    /// Drops the dropped columns and checks one feature's names and values.
    pub fn admit(&mut self, properties: &mut Properties, at: &str) -> Result<(), Refusal> {
        self.remove_dropped(properties);
        let mut refused = Vec::new();
        self.check_properties(properties, at, &mut refused);
        Self::finish(refused)
    }

    fn remove_dropped(&self, properties: &mut Properties) {
        if !self.policy.drop.is_empty() {
            properties.retain(|k, _| !self.policy.drop.contains(k));
        }
    }

    fn check_properties(&mut self, properties: &Properties, at: &str, refused: &mut Vec<Finding>) {
        for (key, value) in properties {
            if !self.named.contains(key) {
                self.named.insert(key.clone());
                if let Some(category) = category_of_name(key) {
                    self.judge(
                        Finding {
                            column: key.clone(),
                            category,
                            evidence: "name".into(),
                        },
                        refused,
                    );
                }
            }
            if self.allowed.contains_key(key) || refused.iter().any(|f| &f.column == key) {
                continue;
            }
            let Value::String(text) = value else {
                continue;
            };
            if let Some(category) = category_of_value(text) {
                self.judge(
                    Finding {
                        column: key.clone(),
                        category,
                        evidence: at.to_string(),
                    },
                    refused,
                );
            }
        }
    }

    /// Allowed columns that do hold personal data, with what they hold: the audit log records them.
    pub fn allowed_personal(&self) -> &BTreeMap<String, Category> {
        &self.allowed
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
    fn datasets_named_for_special_categories_are_refused() {
        assert!(PrivacyGuard::check_dataset("union_activity", "Union activity").is_err());
        assert!(PrivacyGuard::check_dataset("staff_religion", "x").is_err());
        assert!(PrivacyGuard::check_dataset("earthquakes", "USGS earthquakes").is_ok());
    }
}
