//! A paged source's poll (formats `arcgis`, `socrata`): the whole layer read page by page through the
//! connectors, then written as one transaction. A full sync replaces the dataset, so rows the service
//! deleted go and a sync killed at any point leaves the previous sync's data whole; the polls between full
//! syncs fetch only the rows changed since the newest "updated" time seen and upsert them.
//!
//! The same guard, write path, health, lag and schedule as a document feed: only the fetching differs.

use chrono::{DateTime, Utc};
use geoconsole_feeds::connectors::{SourceSpec, SourceSync, SyncLimits};
use geoconsole_feeds::{Action, FeedItem, FeedSpec, FeedState, Parsed, PollCounts};
use geoconsole_model::{DatasetId, DatasetKind, Feature};
use geoconsole_store::WriteMode;

use super::error::PollError;
use super::{Feeding, Written, record_written};
use crate::{Console, ImportOptions};

/// How long a source goes between full syncs when its definition does not say.
const FULL_SYNC_EVERY: chrono::Duration = chrono::Duration::days(1);

/// The most features one sync keeps: a full sync is written in one transaction, from memory.
const MAX_SOURCE_FEATURES: u64 = 2_000_000;

impl Console {
    /// Reads the source and writes what it holds. `Ok(Some(_))` after a write (or nothing to write).
    pub(super) async fn sync_source(
        &self,
        feeding: &Feeding,
        spec: &FeedSpec,
        source: SourceSpec,
        state: &mut FeedState,
        counts: &mut PollCounts,
    ) -> Result<Option<Written>, PollError> {
        let now = Utc::now();
        let full = full_sync_due(&source, state, now);
        // Known before anything is fetched, so a sync that fails at once is still labelled for what it was.
        counts.full_sync = full;
        let since = if full { None } else { state.sync_since };
        let limits = SyncLimits {
            max_features: MAX_SOURCE_FEATURES,
            // Each request within the source's own time (`--timeout-ms`) and byte caps.
            fetch: Some(spec.limits(feeding.fetcher.limits())),
            ..SyncLimits::default()
        };
        let mut sync = SourceSync::start(&feeding.fetcher, &source, since, limits).await?;
        let mut features = Vec::new();
        while let Some(page) = sync.next_page().await? {
            features.extend(page.features);
        }
        let report = sync.report();
        counts.pages = u64::from(report.pages);
        counts.bytes = report.bytes;
        counts.full_sync = full;

        let dataset =
            DatasetId::new(&spec.dataset).map_err(|e| PollError::Dataset(e.message().into()))?;
        let stored_count = match self.store().dataset(&dataset).await {
            Ok(d) => Some(d.feature_count),
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        if features.is_empty() && report.skipped > 0 {
            // Nothing usable is not an empty layer: the service sent rows, and every one was refused.
            return Err(PollError::Empty(format!(
                "all {} features the source sent were skipped, so nothing was written; the first: {}",
                report.skipped,
                report.skipped_reasons.first().map_or("", String::as_str)
            )));
        }
        if full && features.is_empty() && stored_count.is_some_and(|n| n > 0) {
            return Err(PollError::Empty(format!(
                "the source answered no rows on a full sync; dataset '{}' keeps its {} features \
                 (a service that lost its data, or a filter that matches nothing)",
                spec.dataset,
                stored_count.unwrap_or_default()
            )));
        }
        // A full sync that skipped features cannot tell a row the service deleted from one it still has
        // but sent unusable: it writes what arrived over the dataset and withdraws nothing, so a row that
        // turned invalid keeps its last good version. Deletions wait for a full sync that skips nothing.
        let withdraws = full && report.skipped == 0;

        // The guard reads a source's rows as it reads a feed's items.
        let mut parsed = Parsed {
            items: features.into_iter().map(item).collect(),
            ..Parsed::default()
        };
        geoconsole_feeds::check_items(spec, &mut parsed).map_err(|refusal| {
            PollError::Refused(refusal, geoconsole_formats::privacy::Remedy::Source)
        })?;
        counts.items = parsed.items.len() as u64;

        let ids = parsed.items.iter().map(|i| i.id().to_string()).collect();
        let known = feeding.store.fingerprints(&spec.name, ids).await?;
        let mut remembered = Vec::with_capacity(parsed.items.len());
        let mut changed = Vec::new();
        let mut event_times = Vec::new();
        for item in parsed.items {
            let fingerprint = item.fingerprint();
            match known.get(item.id()) {
                None => counts.added += 1,
                Some(k) if *k != fingerprint => counts.updated += 1,
                Some(_) => {
                    counts.unchanged += 1;
                    if !full {
                        remembered.push((item.id().to_string(), fingerprint));
                        continue;
                    }
                }
            }
            if let Some(t) = item.feature.time {
                event_times.push(t.start);
            }
            remembered.push((item.id().to_string(), fingerprint));
            changed.push(item.feature);
        }
        // The source's own time fields, else the ones the service declares (an ArcGIS layer's timeInfo).
        let (time, time_end) = match (&spec.time, &report.time_fields) {
            (None, Some((start, end))) => (Some(start.clone()), end.clone()),
            _ => (spec.time.clone(), spec.time_end.clone()),
        };
        let options = |mode| ImportOptions {
            dataset: Some(dataset.clone()),
            kind: Some(spec.kind.unwrap_or(DatasetKind::Events)),
            mode,
            source: Some(spec.url.clone()),
            time: time.clone(),
            time_end: time_end.clone(),
            id_field: None,
            // One bad row (a broken ring in a public layer) is skipped and counted, not the whole sync.
            skip_invalid: true,
            privacy: spec.privacy_policy(),
            ..ImportOptions::default()
        };
        let unchanged_all = counts.added + counts.updated == 0;
        let written = if withdraws {
            // A full sync rewrites the dataset even when nothing changed, unless it already holds exactly
            // these rows: then nothing was deleted either.
            let same = unchanged_all && stored_count == Some(counts.items);
            if same {
                None
            } else {
                Some(
                    self.write_source(spec, options(WriteMode::Replace), changed)
                        .await?,
                )
            }
        } else if changed.is_empty() {
            None
        } else {
            Some(
                self.write_source(spec, options(WriteMode::Upsert), changed)
                    .await?,
            )
        };
        if let (true, Some(after)) = (withdraws, written.map(|w| w.count)) {
            counts.withdrawn = (stored_count.unwrap_or(0) + counts.added).saturating_sub(after);
        }
        // Left out by the connector (a geometry that cannot be used), by the guard, or by the store.
        counts.skipped =
            report.skipped + parsed.skipped.len() as u64 + written.map_or(0, |w| w.rejected);
        if !remembered.is_empty() {
            let at = Utc::now();
            feeding.store.remember(&spec.name, remembered, at).await?;
            if withdraws {
                // A full sync saw every row the service has: a fingerprint it did not renew belongs to a
                // row withdrawn now, and a row restored later (even unchanged) must come back as new.
                feeding
                    .store
                    .forget_seen_before(&spec.name, at, super::plan::TOMBSTONE)
                    .await?;
            }
        }
        if full {
            state.last_full_sync = Some(now);
        }
        if let Some(latest) = report.latest_update {
            state.sync_since = Some(state.sync_since.map_or(latest, |s| s.max(latest)));
        }
        record_written(state, Default::default(), counts, event_times);
        tracing::info!(
            feed = %spec.name,
            full,
            pages = report.pages,
            requests = report.requests,
            features = report.features,
            duplicates = report.duplicates,
            mode = ?report.mode,
            features_per_s = report.features_per_second() as u64,
            "source synced"
        );
        let mut warnings = report.warnings;
        if full && !withdraws {
            warnings.push(format!(
                "{} features were skipped, so this full sync withdrew nothing (a skipped row may be one the \
                 service still has); rows it deleted go at the next full sync that skips none",
                report.skipped
            ));
        }
        if let Some(why) = report.fallback {
            warnings.push(format!("paged by object ids: {why}"));
        }
        if report.duplicates > 0 {
            warnings.push(format!(
                "{} rows came twice (pages overlapped) and were kept once",
                report.duplicates
            ));
        }
        let mut skipped_reasons = report.skipped_reasons;
        skipped_reasons.extend(parsed.skipped);
        Ok(Some(Written {
            skipped_reasons,
            warnings,
        }))
    }

    async fn write_source(
        &self,
        spec: &FeedSpec,
        options: ImportOptions,
        features: Vec<Feature>,
    ) -> Result<SourceWrite, PollError> {
        let report = self
            .import_features(
                &format!("source {}", spec.name),
                features.into_iter(),
                options,
            )
            .await
            .map_err(|source| PollError::Write {
                dataset: spec.dataset.clone(),
                source,
            })?;
        Ok(SourceWrite {
            count: report.dataset.feature_count,
            rejected: report.rejected,
        })
    }
}

#[derive(Clone, Copy)]
struct SourceWrite {
    /// Features in the dataset after the write.
    count: u64,
    rejected: u64,
}

/// Whether this poll reads the whole layer: the first one, every `full_sync_s`, and every poll of a source
/// that cannot say what changed.
fn full_sync_due(source: &SourceSpec, state: &FeedState, now: DateTime<Utc>) -> bool {
    let incremental = match source.kind {
        geoconsole_feeds::connectors::SourceKind::Socrata => true,
        _ => source.options.updated_field.is_some(),
    };
    let every = source
        .options
        .full_sync_s
        .and_then(|s| chrono::Duration::try_seconds(s as i64))
        .unwrap_or(FULL_SYNC_EVERY);
    !incremental
        || state.sync_since.is_none()
        || state.last_full_sync.is_none_or(|t| now - t >= every)
}

fn item(feature: Feature) -> FeedItem {
    FeedItem {
        event_time: feature.time.map(|t| t.start),
        feature,
        action: Action::Publish,
        supersedes: Vec::new(),
    }
}
