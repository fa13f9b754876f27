//! Several console instances on one shared store. Each instance follows the store's news of commits (its
//! own and the others'), so its index, tiles and event stream catch up with a commit made anywhere within
//! the store's notification latency; and exactly one instance at a time, the holder of the store's lease,
//! does the work that must happen once: polling feeds, catching rules up, delivering webhooks. When the
//! leader dies its lease dies with its connection, and the next instance to try takes over.
//!
//! Rule evaluation after an import stays with the instance that committed it (it holds the written batch);
//! alert keys make any overlap with a new leader's catch-up raise nothing twice.

use std::collections::HashSet;
use std::time::Duration;

use geoconsole_model::DatasetId;
use geoconsole_store::{AlertFilter, ClusterEvent, Lease, Subscription};
use tokio::sync::watch;

use crate::alerting::AlertEvent;
use crate::{AppResult, Console};

/// How often the leader proves it still leads, and how often the others try to take over.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// Keeps the console following the store's news; dropping it stops.
pub struct Following {
    _subscription: Box<dyn Subscription>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Console {
    /// Starts following other processes' commits; `None` when the store has no news to follow.
    pub async fn follow_cluster(&self) -> AppResult<Option<Following>> {
        let cluster = std::sync::Arc::clone(&self.cluster);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let Some(subscription) = cluster
            .subscribe(Box::new(move |event| {
                let _ = tx.send(event);
            }))
            .await?
        else {
            return Ok(None);
        };
        {
            let alerting = &self.alerting;
            let newest = alerting
                .store()
                .alerts(AlertFilter {
                    newest_first: true,
                    limit: 1,
                    ..AlertFilter::default()
                })
                .await?;
            *alerting.news.read_up_to.lock().await = Some(newest.first().map_or(0, |a| a.seq));
            alerting
                .news
                .following
                .store(true, std::sync::atomic::Ordering::Release);
        }
        let console = self.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                console.on_cluster_event(event).await;
            }
        });
        tracing::info!(store = %self.store().location(), "following commits made by other instances");
        Ok(Some(Following {
            _subscription: subscription,
            task,
        }))
    }

    async fn on_cluster_event(&self, event: ClusterEvent) {
        match event {
            ClusterEvent::Dataset { id, version } => {
                let Ok(id) = DatasetId::new(id) else { return };
                // This instance's own commits are indexed already; only news reindexes.
                let known = self.live().version(&id);
                if version > 0 && known.is_some_and(|v| v >= version) {
                    return;
                }
                if self.live().is_enabled()
                    && let Err(e) = self.live().refresh(self.store(), &id).await
                {
                    tracing::error!(dataset = %id, error = %e, "could not index a commit made elsewhere");
                }
            }
            ClusterEvent::Alerts { up_to } => self.alerts_raised_elsewhere(up_to).await,
            ClusterEvent::Feeds => {
                self.feeding.wake.notify_one();
            }
            ClusterEvent::AlertChanged { seq } => {
                let alerting = &self.alerting;
                match alerting.store().alert(seq).await {
                    Ok(alert) => alerting.announce(AlertEvent::Updated { alert }),
                    Err(e) => {
                        tracing::warn!(alert = seq, error = %e, "could not read a changed alert")
                    }
                }
            }
            ClusterEvent::Resynchronise => {
                if !self.live().is_enabled() {
                    return;
                }
                // Only what changed while the news was interrupted is read again: new versions, new
                // datasets, and datasets that are gone.
                let mut ids: HashSet<DatasetId> =
                    self.live().datasets().into_iter().map(|d| d.id).collect();
                match self.store().list_datasets().await {
                    Ok(datasets) => {
                        for d in datasets {
                            if self.live().generation(&d.id) == Some(d.generation()) {
                                ids.remove(&d.id);
                            } else {
                                ids.insert(d.id);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not list datasets to resynchronise")
                    }
                }
                for id in ids {
                    if let Err(e) = self.live().refresh(self.store(), &id).await {
                        tracing::error!(dataset = %id, error = %e, "could not resynchronise");
                    }
                }
                self.alerts_raised_elsewhere(i64::MAX).await;
            }
        }
    }

    /// Announces the alerts other instances raised, up to `up_to`, to this instance's listeners.
    async fn alerts_raised_elsewhere(&self, up_to: i64) {
        let alerting = &self.alerting;
        let mut read_up_to = alerting.news.read_up_to.lock().await;
        let Some(after) = *read_up_to else { return };
        if after >= up_to {
            return;
        }
        let fresh = match alerting
            .store()
            .alerts(AlertFilter {
                after: Some(after),
                limit: 10_000,
                ..AlertFilter::default()
            })
            .await
        {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::warn!(error = %e, "could not read alerts raised elsewhere");
                return;
            }
        };
        for alert in fresh {
            *read_up_to = Some(alert.seq.max(read_up_to.unwrap_or(0)));
            alerting.announce(AlertEvent::Raised { alert });
        }
        // The leader's outbox may hold the new alerts' deliveries.
        alerting.wake_outbox();
    }

    /// Whether this instance answers with all data: every dataset indexed and, when it leads, the rules
    /// caught up with what they missed (so what the catch-up raises is there before the first reader looks).
    pub fn is_ready(&self) -> bool {
        self.live().is_ready()
            && (!self.is_leader()
                || self
                    .rules_caught_up
                    .load(std::sync::atomic::Ordering::Acquire))
    }

    /// Whether this instance leads now: it alone polls feeds, catches rules up and delivers webhooks.
    pub fn is_leader(&self) -> bool {
        self.leading.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Runs the once-per-cluster duties whenever this instance holds the store's lease, until `stop`:
    /// webhook deliveries at once, then (with the index ready) rules catching up and, with `poll_feeds`, the
    /// feed scheduler. A lost lease stops the duties and the instance goes back to trying.
    pub async fn lead_when_elected(&self, poll_feeds: bool, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let lease: Option<Box<dyn Lease>> = match self.cluster.try_lead().await {
                Ok(lease) => lease,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the store to check leadership");
                    None
                }
            };
            if let Some(mut lease) = lease {
                tracing::info!(
                    "this instance leads: it polls feeds, catches rules up and delivers webhooks"
                );
                self.leading
                    .store(true, std::sync::atomic::Ordering::Release);
                let (duties_stop, duties_stopped) = watch::channel(false);
                let duties = self.spawn_duties(poll_feeds, duties_stopped);
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(HEARTBEAT) => {
                            if !lease.still_held().await {
                                tracing::warn!("leadership lost: feeds, rules and webhooks stop here until it is won again");
                                break;
                            }
                        }
                        _ = stop.changed() => break,
                    }
                }
                self.leading
                    .store(false, std::sync::atomic::Ordering::Release);
                let _ = duties_stop.send(true);
                for duty in duties {
                    let _ = duty.await;
                }
                drop(lease);
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT) => {}
                _ = stop.changed() => {}
            }
        }
    }

    fn spawn_duties(
        &self,
        poll_feeds: bool,
        stop: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        // What was raised before a crash (or by the last leader) goes out now.
        let deliveries = tokio::spawn(crate::alerting::deliver::run(self.clone(), stop.clone()));
        let console = self.clone();
        let mut stopped = stop;
        let scheduled = tokio::spawn(async move {
            while !console.live().is_ready() {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = stopped.changed() => return,
                }
                if *stopped.borrow() {
                    return;
                }
            }
            // Rules catch up with commits they missed while no instance led; the key of each alert keeps a
            // replay from raising anything twice.
            if let Err(e) = console.alerts().catch_up().await {
                tracing::error!(error = %e, "alert rules could not catch up; they retry at the next election");
            }
            console
                .rules_caught_up
                .store(true, std::sync::atomic::Ordering::Release);
            if poll_feeds {
                console.feeds().run(stopped).await;
            }
        });
        vec![deliveries, scheduled]
    }
}
