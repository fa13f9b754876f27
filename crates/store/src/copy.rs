//! Copying everything one store holds into another, through the traits alone, so any backend migrates to
//! any other (GeoPackage ↔ PostGIS): datasets with their metadata and features, then rules, feeds,
//! accounts, tokens, alerts with their lifecycle, and the audit log. Each dataset is written in one
//! transaction and counted back from the target before the next begins. A caller's [`CopyCheck`] sees every
//! dataset and page before it is written (the CLI runs the data-protection guard there: a copy is a way in
//! like an import, and a store made elsewhere may hold what an import refuses).

use std::sync::Arc;

use geoconsole_model::{Dataset, DatasetId, Feature};
use geoconsole_query::FeatureQuery;

use crate::{
    AccessStore, AlertFilter, AlertState, AlertStore, AuditFilter, FeatureStore, FeedStore,
    StoreError, StoreErrorKind, StoreResult, Transition, WriteMode, WriteRequest,
};

/// One backend seen through every trait it implements.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    pub features: &'a dyn FeatureStore,
    pub alerts: &'a dyn AlertStore,
    pub feeds: &'a dyn FeedStore,
    pub access: &'a dyn AccessStore,
}

#[derive(Clone, Default)]
pub struct CopyOptions {
    /// Only these datasets (and nothing but datasets); empty: everything.
    pub datasets: Vec<DatasetId>,
    /// Replace datasets the target already has instead of refusing.
    pub replace: bool,
    /// Looks at each dataset and its features before they are written.
    pub check: Option<Arc<dyn CopyCheck>>,
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("datasets", &self.datasets)
            .field("replace", &self.replace)
            .field("check", &self.check.is_some())
            .finish()
    }
}

/// What a copy shows its caller before writing. The store knows nothing of what is checked; a refusal
/// stops the copy with its reason, and nothing of the refused dataset is written.
pub trait CopyCheck: Send + Sync {
    /// Each chosen dataset, all of them before anything is copied.
    fn dataset(&self, dataset: &Dataset) -> Result<(), String>;
    /// The check for one dataset's features, given page by page in order.
    fn features(&self, dataset: &Dataset) -> Box<dyn FeatureCheck>;
}

/// Checks one dataset's features as a copy reads them; it may change them (remove columns) before they
/// are written.
pub trait FeatureCheck: Send {
    fn page(&mut self, features: &mut [Feature]) -> Result<(), String>;
}

fn refused(dataset: &DatasetId, why: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Invalid,
        format!("dataset '{dataset}': {why}"),
    )
}

/// What the copy is doing, for progress bars.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyProgress<'a> {
    /// A dataset begins: its id and how many features it has.
    Dataset { id: &'a DatasetId, features: u64 },
    /// Features of the current dataset copied so far.
    Features(u64),
    /// The current dataset is committed and its count verified.
    Verified { id: &'a DatasetId, features: u64 },
    /// Something other than features: rules, feeds, accounts...
    Records { what: &'static str, count: usize },
}

/// What was copied, per kind; datasets with their verified counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CopyReport {
    pub datasets: Vec<(DatasetId, u64)>,
    pub rules: usize,
    pub feeds: usize,
    pub users: usize,
    pub tokens: usize,
    pub alerts: usize,
    pub audit_entries: usize,
}

/// Features read and written per transaction step.
const PAGE: usize = 10_000;

pub async fn copy(
    from: Stores<'_>,
    to: Stores<'_>,
    options: &CopyOptions,
    progress: &mut (dyn FnMut(CopyProgress<'_>) + Send),
) -> StoreResult<CopyReport> {
    let mut report = CopyReport::default();
    let all = from.features.list_datasets().await?;
    let chosen: Vec<&Dataset> = if options.datasets.is_empty() {
        all.iter().collect()
    } else {
        options
            .datasets
            .iter()
            .map(|id| {
                all.iter().find(|d| d.id == *id).ok_or_else(|| {
                    StoreError::not_found(format!(
                        "dataset '{id}' is not in {}",
                        from.features.location()
                    ))
                })
            })
            .collect::<StoreResult<_>>()?
    };
    if !options.replace {
        for d in &chosen {
            if to.features.contains_dataset(&d.id).await? {
                return Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    format!(
                        "{} already has a dataset '{}'; pass --replace to overwrite it, or --dataset to choose others",
                        to.features.location(),
                        d.id
                    ),
                ));
            }
        }
    }
    if let Some(check) = &options.check {
        for d in &chosen {
            check.dataset(d).map_err(|why| refused(&d.id, &why))?;
        }
    }
    for dataset in chosen {
        let pages = options.check.as_ref().map(|c| c.features(dataset));
        let copied = copy_dataset(
            from.features,
            to.features,
            dataset,
            options.replace,
            pages,
            progress,
        )
        .await?;
        report.datasets.push((dataset.id.clone(), copied));
    }
    if !options.datasets.is_empty() {
        return Ok(report);
    }
    // Rules start from the target's versions: what they have seen at the source is in the copy already.
    let versions: Vec<(String, u64)> = to
        .features
        .list_datasets()
        .await?
        .into_iter()
        .map(|d| (d.id.to_string(), d.version))
        .collect();
    for rule in from.alerts.rules().await? {
        let watched: Vec<(String, u64)> = from
            .alerts
            .marks(&rule.id)
            .await?
            .into_iter()
            .filter_map(|(d, _)| versions.iter().find(|(id, _)| *id == d).cloned())
            .collect();
        to.alerts.put_rule(rule, watched).await?;
        report.rules += 1;
    }
    progress(CopyProgress::Records {
        what: "rules",
        count: report.rules,
    });
    for feed in from.feeds.feeds().await? {
        to.feeds.put_feed(&feed.name, feed.definition).await?;
        to.feeds.save_feed_state(&feed.name, feed.state).await?;
        report.feeds += 1;
    }
    progress(CopyProgress::Records {
        what: "feeds",
        count: report.feeds,
    });
    for user in from.access.users().await? {
        to.access.put_user(user).await?;
        report.users += 1;
    }
    progress(CopyProgress::Records {
        what: "accounts",
        count: report.users,
    });
    for token in from.access.tokens(None).await? {
        to.access.put_token(token).await?;
        report.tokens += 1;
    }
    progress(CopyProgress::Records {
        what: "tokens",
        count: report.tokens,
    });
    report.alerts = copy_alerts(from.alerts, to.alerts).await?;
    progress(CopyProgress::Records {
        what: "alerts",
        count: report.alerts,
    });
    report.audit_entries = copy_audit(from.access, to.access).await?;
    progress(CopyProgress::Records {
        what: "audit entries",
        count: report.audit_entries,
    });
    Ok(report)
}

async fn copy_dataset(
    from: &dyn FeatureStore,
    to: &dyn FeatureStore,
    dataset: &Dataset,
    replace: bool,
    mut pages: Option<Box<dyn FeatureCheck>>,
    progress: &mut (dyn FnMut(CopyProgress<'_>) + Send),
) -> StoreResult<u64> {
    progress(CopyProgress::Dataset {
        id: &dataset.id,
        features: dataset.feature_count,
    });
    let mut writer = to
        .begin_write(WriteRequest {
            id: dataset.id.clone(),
            title: dataset.title.clone(),
            kind: dataset.kind,
            source: dataset.source.clone(),
            time_fields: dataset.time_fields.clone(),
            id_field: dataset.id_field.clone(),
            mode: if replace {
                WriteMode::Replace
            } else {
                WriteMode::Create
            },
            skip_conflicts: false,
        })
        .await?;
    let mut query = FeatureQuery {
        limit: Some(PAGE),
        ..FeatureQuery::all()
    };
    let mut copied = 0_u64;
    loop {
        let mut page = from.query(&dataset.id, &query).await?;
        if let Some(check) = pages.as_mut()
            && let Err(why) = check.page(&mut page.features)
        {
            let _ = writer.abort().await;
            return Err(refused(&dataset.id, &why));
        }
        copied += page.features.len() as u64;
        writer.write(page.features).await?;
        progress(CopyProgress::Features(copied));
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let written = writer.commit().await?;
    // Counted back from the target's rows, not from its catalog: the copy is verified by what is there.
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&counted);
    to.scan_index(
        &dataset.id,
        Box::new(move |rows| {
            counter.fetch_add(rows.len() as u64, std::sync::atomic::Ordering::Relaxed);
            true
        }),
    )
    .await?;
    let counted = counted.load(std::sync::atomic::Ordering::Relaxed);
    if counted != dataset.feature_count || written.feature_count != dataset.feature_count {
        return Err(StoreError::new(
            StoreErrorKind::Internal,
            format!(
                "dataset '{}': {} features at the source, {} read, {} in the target's table; the copy is not trusted",
                dataset.id, dataset.feature_count, copied, counted
            ),
        ));
    }
    progress(CopyProgress::Verified {
        id: &dataset.id,
        features: counted,
    });
    Ok(counted)
}

/// Alerts are raised again in their order (new sequence numbers; keys keep them unique) and taken through the
/// lifecycle steps they went through. Deliveries are history of the source's webhooks and are not copied.
async fn copy_alerts(from: &dyn AlertStore, to: &dyn AlertStore) -> StoreResult<usize> {
    let mut after = 0;
    let mut copied = 0;
    loop {
        let batch = from
            .alerts(AlertFilter {
                after: Some(after),
                limit: 1000,
                ..AlertFilter::default()
            })
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for record in batch {
            let raised = to.raise(vec![record.alert.clone()], Vec::new()).await?;
            let Some(new) = raised.first() else { continue };
            copied += 1;
            if let (Some(by), Some(at)) = (&record.acknowledged_by, record.acknowledged_at) {
                to.transition(
                    new.seq,
                    Transition {
                        to: AlertState::Acknowledged,
                        by: by.clone(),
                        at,
                        disposition: record.disposition,
                        // The one note kept goes with the last step the alert took.
                        note: record
                            .resolved_at
                            .is_none()
                            .then(|| record.note.clone())
                            .flatten(),
                    },
                )
                .await?;
            }
            if let (Some(by), Some(at)) = (&record.resolved_by, record.resolved_at) {
                to.transition(
                    new.seq,
                    Transition {
                        to: AlertState::Resolved,
                        by: by.clone(),
                        at,
                        disposition: record.disposition,
                        note: record.note.clone(),
                    },
                )
                .await?;
            }
        }
    }
    Ok(copied)
}

/// The audit log, oldest first, appended to the target's (which keeps its own sequence numbers).
async fn copy_audit(from: &dyn AccessStore, to: &dyn AccessStore) -> StoreResult<usize> {
    let mut entries = Vec::new();
    let mut before = None;
    loop {
        let page = from
            .audit(AuditFilter {
                before,
                limit: 10_000,
                ..AuditFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        entries.extend(page.into_iter().map(|r| r.entry));
    }
    let count = entries.len();
    for entry in entries.into_iter().rev() {
        to.append_audit(entry).await?;
    }
    Ok(count)
}
