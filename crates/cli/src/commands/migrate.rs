//! `geoconsole migrate --to STORE`: copies the store into another (GeoPackage ↔ PostGIS) with a bar per
//! dataset, and prints the counts it verified in the target. What it copies passes the data-protection
//! guard as an import does (a store written by an older version, or made elsewhere, may hold what the guard
//! refuses): a dataset named for special-category data, or holding personal data, stops the copy before
//! any of that dataset is written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Result;
use geoconsole_feeds::FeedSpec;
use geoconsole_formats::privacy::{PrivacyGuard, PrivacyPolicy};
use geoconsole_model::{Dataset, Feature, Properties};
use geoconsole_store::copy::{CopyCheck, CopyOptions, CopyProgress, FeatureCheck, Stores};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{Cli, MigrateArgs};
use crate::{Backend, commands, open_backend};

pub async fn run(source: &Backend, args: &MigrateArgs, cli: &Cli) -> Result<()> {
    let target = open_backend(&args.to).await?;
    if source.stores.features.location() == target.stores.features.location() {
        anyhow::bail!("--to names the store being copied from");
    }
    let options = CopyOptions {
        datasets: args
            .datasets
            .iter()
            .map(|d| commands::dataset_id(d))
            .collect::<Result<_>>()?,
        replace: args.replace,
        check: Some(Arc::new(
            GuardCheck::new(source, &args.drop_column, &args.allow_column).await?,
        )),
    };
    let show = crate::progress::enabled(cli.quiet, false);
    let bar = ProgressBar::new(0);
    if !show {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let quiet = cli.quiet;
    let report =
        geoconsole_store::copy::copy(source.stores(), target.stores(), &options, &mut |step| {
            match step {
                CopyProgress::Dataset { id, features } => {
                    bar.reset();
                    bar.set_length(features);
                    bar.set_prefix(id.to_string());
                }
                CopyProgress::Features(n) => bar.set_position(n),
                CopyProgress::Verified { id, features } => {
                    bar.println(format!(
                        "{id}: {} features copied and counted in the target",
                        HumanCount(features)
                    ));
                }
                CopyProgress::Records { what, count } => {
                    if !quiet {
                        bar.println(format!("{what}: {count}"));
                    }
                }
            }
        })
        .await?;
    bar.finish_and_clear();
    if !quiet {
        let features: u64 = report.datasets.iter().map(|(_, n)| n).sum();
        outln!(
            "copied {} datasets ({} features), {} rules, {} feeds, {} accounts, {} tokens, {} alerts, {} audit entries \
             from {} to {} in {:.1} s",
            report.datasets.len(),
            HumanCount(features),
            report.rules,
            report.feeds,
            report.users,
            report.tokens,
            report.alerts,
            report.audit_entries,
            source.stores.features.location(),
            target.stores.features.location(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

impl Backend {
    pub fn stores(&self) -> Stores<'_> {
        Stores {
            features: &*self.stores.features,
            alerts: &*self.stores.alerts,
            feeds: &*self.stores.feeds,
            access: &*self.stores.access,
        }
    }
}

/// The data-protection guard over a copy: the migrate's `--drop-column`/`--allow-column`, and for datasets a
/// feed writes to, the issuer fields its format allows (CAP's `sender`).
struct GuardCheck {
    policy: PrivacyPolicy,
    feed_fields: BTreeMap<String, BTreeSet<String>>,
}

impl GuardCheck {
    async fn new(source: &Backend, drop: &[String], allow: &[String]) -> Result<Self> {
        let mut feed_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for record in source.stores.feeds.feeds().await? {
            // A definition this version cannot read allows nothing.
            if let Ok(spec) = serde_json::from_value::<FeedSpec>(record.definition) {
                feed_fields
                    .entry(spec.dataset.clone())
                    .or_default()
                    .extend(spec.privacy_policy().allow);
            }
        }
        Ok(Self {
            policy: PrivacyPolicy {
                drop: drop.iter().cloned().collect(),
                allow: allow.iter().cloned().collect(),
            },
            feed_fields,
        })
    }
}

impl CopyCheck for GuardCheck {
    fn dataset(&self, dataset: &Dataset) -> Result<(), String> {
        PrivacyGuard::check_dataset(dataset.id.as_str(), &dataset.title).map_err(|r| r.to_string())
    }

    fn features(&self, dataset: &Dataset) -> Box<dyn FeatureCheck> {
        let mut policy = self.policy.clone();
        if let Some(fields) = self.feed_fields.get(dataset.id.as_str()) {
            policy.allow.extend(fields.iter().cloned());
        }
        Box::new(GuardPages {
            guard: PrivacyGuard::new(policy),
            seen: 0,
        })
    }
}

/// Features sampled together before the rest are checked one by one, as an import does.
const SAMPLE_FEATURES: usize = 1000;

struct GuardPages {
    guard: PrivacyGuard,
    seen: usize,
}

impl FeatureCheck for GuardPages {
    fn page(&mut self, features: &mut [Feature]) -> Result<(), String> {
        let at = |i: usize, f: &Feature| match &f.id {
            Some(id) => format!("feature '{id}'"),
            None => format!("feature {i}"),
        };
        if self.seen == 0 {
            let mut sample: Vec<(&mut Properties, String)> = features
                .iter_mut()
                .take(SAMPLE_FEATURES)
                .enumerate()
                .map(|(i, f)| {
                    let at = at(i, f);
                    (&mut f.properties, at)
                })
                .collect();
            self.guard
                .inspect_sample(&mut sample)
                .map_err(|r| r.to_string())?;
        }
        for feature in features.iter_mut() {
            let at = at(self.seen, feature);
            self.seen += 1;
            self.guard
                .admit(&mut feature.properties, &at)
                .map_err(|r| r.to_string())?;
            if let Some(id) = &feature.id {
                self.guard
                    .check_id(id.as_str(), &at)
                    .map_err(|r| r.to_string())?;
            }
        }
        Ok(())
    }
}
