//! Several instances on one database: commits are announced with `NOTIFY` (sent by the committing
//! transaction, delivered only if it commits) and heard on a `LISTEN`ing connection of each instance;
//! leadership is a session advisory lock, which PostgreSQL releases the moment its connection ends, so a
//! leader that crashes, hangs up or loses the network is replaced at the next heartbeat of another instance.

use std::time::Duration;

use async_trait::async_trait;
use geoconsole_store::{ClusterEvent, ClusterStore, Lease, StoreResult, Subscription};
use tokio_postgres::Client;

use crate::PostgisStore;
use crate::connect::{LEADER_LOCK, PostgisConfig, pg_error, quote};
use crate::write::channel;

#[derive(Debug)]
pub struct Cluster {
    config: PostgisConfig,
}

impl Cluster {
    pub fn new(config: PostgisConfig) -> Self {
        Self { config }
    }
}

/// Reads a notification's payload as written by [`crate::write::notify`] or the alert store.
fn event_of(payload: &str) -> Option<ClusterEvent> {
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    if value.get("feeds").is_some() {
        return Some(ClusterEvent::Feeds);
    }
    if let Some(up_to) = value.get("alerts").and_then(serde_json::Value::as_i64) {
        return Some(ClusterEvent::Alerts { up_to });
    }
    if let Some(seq) = value
        .get("alert_changed")
        .and_then(serde_json::Value::as_i64)
    {
        return Some(ClusterEvent::AlertChanged { seq });
    }
    Some(ClusterEvent::Dataset {
        id: value.get("dataset")?.as_str()?.to_string(),
        version: value.get("version")?.as_u64()?,
    })
}

struct Listening(tokio::task::JoinHandle<()>);

impl Subscription for Listening {}

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens until the subscription is dropped, reconnecting after a lost connection (and telling the sink
/// to resynchronise, since notifications sent meanwhile are lost).
async fn listen(
    config: PostgisConfig,
    sink: Box<dyn Fn(ClusterEvent) + Send + Sync>,
    first: Client,
    first_driver: tokio::task::JoinHandle<()>,
    mut notices: tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) {
    let mut connection = Some((first, first_driver));
    let mut delay = Duration::from_millis(200);
    loop {
        if connection.is_some() {
            while let Some(n) = notices.recv().await {
                if let Some(event) = event_of(n.payload()) {
                    sink(event);
                }
            }
            // The driver ended: the connection is gone.
            connection = None;
            tracing::warn!(store = %config.location(), "change notifications interrupted; reconnecting");
        }
        tokio::time::sleep(delay).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        match subscribe_on(&config, tx).await {
            Ok(c) => {
                notices = rx;
                connection = Some(c);
                delay = Duration::from_millis(200);
                tracing::info!(store = %config.location(), "change notifications resumed");
                sink(ClusterEvent::Resynchronise);
            }
            Err(e) => {
                tracing::warn!(store = %config.location(), error = %e, "cannot listen for changes yet");
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn subscribe_on(
    config: &PostgisConfig,
    notices: tokio::sync::mpsc::UnboundedSender<tokio_postgres::Notification>,
) -> StoreResult<(Client, tokio::task::JoinHandle<()>)> {
    let (client, driver) = config.connect_listening(notices).await?;
    client
        .batch_execute(&format!("LISTEN {}", quote(&channel(config.schema()))))
        .await
        .map_err(|e| pg_error(config.location(), e))?;
    Ok((client, driver))
}

struct AdvisoryLease {
    client: Client,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for AdvisoryLease {
    fn drop(&mut self) {
        // Closing the connection releases the lock.
        self.driver.abort();
    }
}

#[async_trait]
impl Lease for AdvisoryLease {
    async fn still_held(&mut self) -> bool {
        // The lock lives as long as this session: a round trip proves the session does.
        matches!(
            tokio::time::timeout(Duration::from_secs(3), self.client.simple_query("SELECT 1"))
                .await,
            Ok(Ok(_))
        )
    }
}

#[async_trait]
impl ClusterStore for PostgisStore {
    async fn subscribe(
        &self,
        sink: Box<dyn Fn(ClusterEvent) + Send + Sync>,
    ) -> StoreResult<Option<Box<dyn Subscription>>> {
        let config = self.cluster.config.clone();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (client, driver) = subscribe_on(&config, tx).await?;
        Ok(Some(Box::new(Listening(tokio::spawn(listen(
            config, sink, client, driver, rx,
        ))))))
    }

    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Lease>>> {
        let config = &self.cluster.config;
        let (client, driver) = config.connect().await?;
        let key = LEADER_LOCK ^ i64::from(schema_hash(config.schema()));
        let held: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| pg_error(config.location(), e))?
            .get(0);
        if held {
            Ok(Some(Box::new(AdvisoryLease { client, driver })))
        } else {
            driver.abort();
            Ok(None)
        }
    }
}

/// Consoles in different schemas of one database lead independently.
fn schema_hash(schema: &str) -> u32 {
    schema.bytes().fold(2_166_136_261_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}
