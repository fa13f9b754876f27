//! The data-protection guard over what a feed's readers made, the same guard every file import passes:
//! the standard readers copy more than the standard's fields (GeoRSS keeps every extension element), and a
//! feed's URL may serve anything, so no reader's output is trusted to hold only places and events. The one
//! allowance is the issuer's own address in the formats whose standard puts it there (CAP's `sender`, and
//! the `references` that repeat it): it names the organisation that issued a warning, not a person, and it
//! stays refused if it were special-category data.

use geoconsole_formats::privacy::{PrivacyGuard, PrivacyPolicy, Refusal};
use geoconsole_model::Properties;

use super::Parsed;
use crate::spec::{FeedFormat, FeedSpec};

/// Items looked at together for person names (the rest one by one), as an import's first features are.
const SAMPLE_ITEMS: usize = 1000;

impl FeedFormat {
    /// Properties the format's standard fills with the issuing organisation's address.
    pub fn issuer_fields(self) -> &'static [&'static str] {
        match self {
            Self::Cap | Self::CapIndex | Self::NwsAlerts => &["sender", "references"],
            _ => &[],
        }
    }
}

impl FeedSpec {
    /// What the guard is told for this feed's items: nothing dropped, the issuer's fields allowed.
    pub fn privacy_policy(&self) -> PrivacyPolicy {
        PrivacyPolicy {
            allow: self
                .format
                .issuer_fields()
                .iter()
                .map(|f| (*f).to_string())
                .collect(),
            ..PrivacyPolicy::default()
        }
    }
}

/// Runs the data-protection guard over a feed body's items (names, values, nested values, ids) and the
/// feed's dataset; a refusal refuses the whole body, as it refuses a whole file.
pub fn check_items(spec: &FeedSpec, parsed: &mut Parsed) -> Result<(), Refusal> {
    PrivacyGuard::check_dataset(&spec.dataset, &spec.name)?;
    let mut guard = PrivacyGuard::new(spec.privacy_policy());
    let mut sample: Vec<(&mut Properties, String)> = parsed
        .items
        .iter_mut()
        .take(SAMPLE_ITEMS)
        .map(|item| {
            let at = format!("item '{}'", item.id());
            (&mut item.feature.properties, at)
        })
        .collect();
    guard.inspect_sample(&mut sample)?;
    for item in &mut parsed.items {
        let at = format!("item '{}'", item.id());
        guard.check_id(item.id(), &at)?;
        guard.admit(&mut item.feature.properties, &at)?;
    }
    Ok(())
}
