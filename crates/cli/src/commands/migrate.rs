//! `geoconsole migrate --to STORE`: copies the store into another (GeoPackage ↔ PostGIS) with a bar per
//! dataset, and prints the counts it verified in the target.

use anyhow::Result;
use geoconsole_store::copy::{CopyOptions, CopyProgress, Stores};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{Cli, MigrateArgs};
use crate::{Backend, commands, open_backend};

pub async fn run(source: &Backend, args: &MigrateArgs, cli: &Cli) -> Result<()> {
    let target = open_backend(&args.to).await?;
    if source.features.location() == target.features.location() {
        anyhow::bail!("--to names the store being copied from");
    }
    let options = CopyOptions {
        datasets: args
            .datasets
            .iter()
            .map(|d| commands::dataset_id(d))
            .collect::<Result<_>>()?,
        replace: args.replace,
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
        println!(
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
            source.features.location(),
            target.features.location(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

impl Backend {
    pub fn stores(&self) -> Stores<'_> {
        Stores {
            features: &*self.features,
            alerts: &*self.alerts,
            feeds: &*self.feeds,
            access: &*self.access,
        }
    }
}
