use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use geoconsole_access::Scope;
use geoconsole_analytics::ImpactModel;
use geoconsole_formats::Format;
use geoconsole_model::{Dataset, DatasetId, Feature, FeatureId};
use geoconsole_query::FeatureQuery;
use geoconsole_store::{FeaturePage, FeatureStore};

use geoconsole_query::{DateTimeFilter, FilterLang};
use geoconsole_tiles::TileId;

use crate::export::{self, ExportReport};
use crate::import::{self, ImportOptions, ImportReport, Source};
use crate::live::Live;
use crate::reading::{self, ItemsPage, ItemsRequest, RenderedTile, TileRequest};
use crate::{AppError, AppErrorKind, AppResult};

/// Finest H3 cells by slot per dataset, with the dataset version they belong to.
pub(crate) type CellCache = std::collections::HashMap<DatasetId, (u64, Arc<Vec<u64>>)>;

/// What an import's audit entry names when the import fails before it has a dataset.
fn audit_target(options: &ImportOptions, path: &Path) -> String {
    options
        .dataset
        .as_ref()
        .map_or_else(|| path.display().to_string(), ToString::to_string)
}

/// The console's single entry point for data: every import and export goes through here, and so does
/// every read of the live index.
#[derive(Debug, Clone)]
pub struct Console {
    store: Arc<dyn FeatureStore>,
    live: Arc<Live>,
    /// The risk model set by configuration (TOML at start); `None` means the default for the datasets.
    risk_model: Arc<std::sync::RwLock<Option<geoconsole_analytics::RiskModel>>>,
    /// Impact models configured per hazard dataset (TOML `[impact.<dataset>]`); the rest get the default.
    impact_models: Arc<std::sync::RwLock<std::collections::HashMap<DatasetId, ImpactModel>>>,
    /// Rules, alerts and their delivery.
    pub(crate) alerting: Arc<crate::alerting::Alerting>,
    /// Live feeds: their registry, fetcher and schedule.
    pub(crate) feeding: Arc<crate::feeding::Feeding>,
    /// Accounts, tokens, sessions and the audit log.
    pub(crate) accounts: Arc<geoconsole_access::Accounts>,
    /// What outbound connections may reach beyond the public internet.
    pub(crate) network: Arc<geoconsole_feeds::NetworkPolicy>,
    /// Each indexed dataset's finest H3 cells by slot, for the version they were computed from.
    pub(crate) h3_cells: Arc<std::sync::Mutex<CellCache>>,
    /// News of other processes' commits and the leader's lease.
    pub(crate) cluster: Arc<dyn geoconsole_store::ClusterStore>,
    /// Answers items and tiles of the datasets too large to index, when configured.
    pub(crate) push_down: Option<Arc<dyn geoconsole_store::PushDownStore>>,
    /// Whether the leader's start-up rule catch-up has run (readiness waits for it on the leader).
    pub(crate) rules_caught_up: Arc<std::sync::atomic::AtomicBool>,
    /// Whether this instance holds the store's lease now.
    pub(crate) leading: Arc<std::sync::atomic::AtomicBool>,
}

/// One backend seen through every trait the console needs. Both backends (GeoPackage, PostGIS) implement
/// them all, so a console has every part; only push-down (PostGIS) is optional, set with
/// [`Console::with_push_down`].
#[derive(Clone)]
pub struct Stores {
    pub features: Arc<dyn FeatureStore>,
    pub alerts: Arc<dyn geoconsole_store::AlertStore>,
    pub feeds: Arc<dyn geoconsole_store::FeedStore>,
    pub access: Arc<dyn geoconsole_store::AccessStore>,
    pub cluster: Arc<dyn geoconsole_store::ClusterStore>,
}

impl Stores {
    /// Every part from one store that implements them all.
    pub fn of<S>(store: Arc<S>) -> Self
    where
        S: FeatureStore
            + geoconsole_store::AlertStore
            + geoconsole_store::FeedStore
            + geoconsole_store::AccessStore
            + geoconsole_store::ClusterStore
            + 'static,
    {
        Self {
            features: store.clone(),
            alerts: store.clone(),
            feeds: store.clone(),
            access: store.clone(),
            cluster: store,
        }
    }
}

/// What a console may reach and fetch beyond its store.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    /// The addresses outbound connections (feeds, webhooks) may reach beyond the public internet.
    pub network: geoconsole_feeds::NetworkPolicy,
    /// Caps on what one feed poll may fetch.
    pub fetch_limits: geoconsole_feeds::FetchLimits,
}

impl Console {
    /// A console over `stores`, with every part: data, alerting, feeds, accounts and the news of other
    /// processes' commits.
    pub fn open(stores: Stores, options: ConsoleOptions) -> AppResult<Self> {
        let network = Arc::new(options.network);
        let feeding = crate::feeding::Feeding::new(
            stores.feeds,
            Arc::clone(&network),
            options.fetch_limits,
            crate::area_codes::AreaTables::new(Arc::clone(&stores.features)),
        )?;
        Ok(Self {
            store: stores.features,
            live: Arc::new(Live::default()),
            risk_model: Arc::default(),
            impact_models: Arc::default(),
            alerting: Arc::new(crate::alerting::Alerting::new(stores.alerts)),
            feeding: Arc::new(feeding),
            accounts: Arc::new(geoconsole_access::Accounts::new(stores.access)),
            network,
            h3_cells: Arc::default(),
            cluster: stores.cluster,
            leading: Arc::default(),
            rules_caught_up: Arc::default(),
            push_down: None,
        })
    }

    /// The configured risk model, if any.
    pub fn risk_model(&self) -> Option<geoconsole_analytics::RiskModel> {
        self.risk_model
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The impact model for a hazard dataset: configured, else the default for its fields.
    pub fn impact_model(&self, dataset: &Dataset) -> ImpactModel {
        self.impact_models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&dataset.id)
            .cloned()
            .unwrap_or_else(|| geoconsole_analytics::default_model(dataset))
    }

    /// Configures impact models per hazard dataset; refuses a model whose numbers make no sense.
    pub fn set_impact_models(
        &self,
        models: std::collections::HashMap<DatasetId, ImpactModel>,
    ) -> AppResult<()> {
        for (id, m) in &models {
            m.check().map_err(|why| {
                AppError::new(
                    AppErrorKind::Invalid,
                    format!("impact model for '{id}': {why}"),
                )
            })?;
        }
        *self
            .impact_models
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = models;
        Ok(())
    }

    pub fn set_risk_model(&self, model: Option<geoconsole_analytics::RiskModel>) {
        *self
            .risk_model
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = model;
    }

    /// Accounts, tokens, sessions and the audit log.
    pub fn accounts(&self) -> &Arc<geoconsole_access::Accounts> {
        &self.accounts
    }

    /// What outbound connections (feeds, webhooks) may reach beyond the public internet.
    pub fn network(&self) -> &Arc<geoconsole_feeds::NetworkPolicy> {
        &self.network
    }

    pub fn store(&self) -> &Arc<dyn FeatureStore> {
        &self.store
    }

    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// Loads every dataset into the in-memory index and keeps it current from then on. Readiness
    /// ([`Live::is_ready`]) turns on when every dataset is loaded.
    pub async fn start_live(&self) -> AppResult<()> {
        self.live.enable();
        let started = std::time::Instant::now();
        let datasets = self.store.list_datasets().await?;
        for dataset in &datasets {
            self.live.refresh(&self.store, &dataset.id).await?;
        }
        self.live.mark_ready();
        tracing::info!(
            datasets = datasets.len(),
            bytes = self.live.indexes().memory_bytes(),
            ms = started.elapsed().as_millis() as u64,
            "index ready"
        );
        Ok(())
    }

    /// After a commit: the index catches up and the change is announced (when live).
    async fn committed(&self, id: &DatasetId) -> AppResult<()> {
        if self.live.is_enabled() {
            self.live.refresh(&self.store, id).await?;
        }
        Ok(())
    }

    async fn after_import(
        &self,
        result: AppResult<ImportReport>,
        requester: Option<crate::import::Requester>,
        target: String,
    ) -> AppResult<ImportReport> {
        if let Some(requester) = requester {
            let accounts = &self.accounts;
            let (target, outcome, detail) = match &result {
                Ok(r) => (
                    r.dataset.id.to_string(),
                    "ok".to_string(),
                    serde_json::json!({
                        "file": r.file, "format": r.format, "mode": r.mode,
                        "imported": r.imported, "rejected": r.rejected,
                        "dropped_columns": r.dropped_columns,
                        "allowed_personal_columns": r.allowed_personal,
                    }),
                ),
                Err(e) => (
                    target,
                    "failed".to_string(),
                    serde_json::json!({"error": e.to_string()}),
                ),
            };
            accounts
                .audit(geoconsole_access::AuditEntry {
                    at: chrono::Utc::now(),
                    actor: requester.actor,
                    action: "import".into(),
                    target,
                    outcome,
                    source: requester.source,
                    detail,
                })
                .await;
        }
        let report = result?;
        self.committed(&report.dataset.id).await?;
        self.alerts()
            .evaluate_rules(&report.dataset, &report.changed)
            .await;
        Ok(report)
    }

    /// Import options with what alerting needs: the written features, when a rule may look at them. Only an
    /// enabled exposure rule evaluates a batch from the features themselves (every other rule, and one added
    /// while the import runs, reads the store), so without one nothing is kept: kept for nothing, the first
    /// 100,000 features of a big import held about 100 MB until it committed.
    async fn for_rules(&self, mut options: ImportOptions) -> ImportOptions {
        options.capture = match self.alerts().rules().await {
            Ok(rules) => rules.iter().any(|rule| {
                rule.enabled && matches!(rule.when, crate::alerting::Condition::Exposure { .. })
            }),
            // A rule that no longer reads is reported by the evaluation; keeping the batch costs only memory.
            Err(_) => true,
        };
        options
    }

    /// A page of a dataset's features, answered from the index.
    pub async fn items(
        &self,
        scope: &Scope,
        id: &DatasetId,
        request: ItemsRequest,
    ) -> AppResult<ItemsPage> {
        if self.live.is_pushed_down(id) {
            let dataset = self.indexed_dataset(scope, id)?;
            return reading::items_from_store(&self.store, dataset, request).await;
        }
        let snapshot = self.indexed_snapshot(scope, id)?;
        reading::items(&self.store, snapshot, request).await
    }

    /// One vector tile with a layer per dataset. `filter` is compiled against each dataset in turn.
    pub async fn tile(
        &self,
        scope: &Scope,
        ids: &[DatasetId],
        tile: TileId,
        datetime: Option<DateTimeFilter>,
        filter: Option<(&str, FilterLang)>,
    ) -> AppResult<RenderedTile> {
        for id in ids {
            self.indexed_dataset(scope, id)?;
        }
        let (pushed, indexed): (Vec<&DatasetId>, Vec<&DatasetId>) =
            ids.iter().partition(|id| self.live.is_pushed_down(id));
        let snapshots = indexed
            .iter()
            .map(|id| self.indexed_snapshot(scope, id))
            .collect::<AppResult<Vec<_>>>()?;
        let mut pushed_layers = Vec::new();
        for id in pushed {
            let Some(store) = &self.push_down else {
                continue;
            };
            if filter.is_some() {
                return Err(AppError::new(
                    AppErrorKind::Invalid,
                    format!(
                        "dataset '{id}' is served from the database, whose tiles take no filter; filter its items instead"
                    ),
                ));
            }
            pushed_layers.push(
                store
                    .tile_layer(id, (tile.z, tile.x, tile.y), datetime.as_ref())
                    .await?,
            );
        }
        let filters = snapshots
            .iter()
            .map(|s| {
                filter
                    .map(|(text, lang)| reading::compile_filter(s.dataset(), text, lang))
                    .transpose()
            })
            .collect::<AppResult<Vec<_>>>()?;
        let request = TileRequest {
            tile,
            datetime,
            filters,
        };
        let mut rendered = reading::tile(&self.store, &snapshots, &request).await?;
        // A tile is a sequence of layers: the store's layers follow the index's as they are.
        for layer in pushed_layers {
            rendered.bytes.extend_from_slice(&layer);
        }
        Ok(rendered)
    }

    /// Serves datasets of more than `max_indexed_features` features from `store` instead of the in-memory
    /// index (items and tiles ask the database; only their metadata is kept).
    pub fn with_push_down(
        mut self,
        store: Arc<dyn geoconsole_store::PushDownStore>,
        max_indexed_features: u64,
    ) -> Self {
        self.live.set_push_down_above(max_indexed_features);
        self.push_down = Some(store);
        self
    }

    /// The committed states of datasets as the index holds them (for cache keys and ETags).
    pub fn generations(
        &self,
        scope: &Scope,
        ids: &[DatasetId],
    ) -> AppResult<Vec<geoconsole_model::Generation>> {
        ids.iter()
            .map(|id| {
                self.live
                    .generation(id)
                    .filter(|_| scope.sees(id.as_str()))
                    .ok_or_else(|| crate::visibility::missing("", id))
            })
            .collect()
    }

    /// Imports a file: detects its format, streams its features through validation, time and id rules
    /// into one store transaction. Atomic unless `options.skip_invalid`.
    pub async fn import(&self, path: &Path, options: ImportOptions) -> AppResult<ImportReport> {
        let options = self.for_rules(options).await;
        let (requester, target) = (options.requester.clone(), audit_target(&options, path));
        // A pipe, a FIFO or /dev/stdin can be read once: opened twice (to look for a feed document, then
        // to read), its first bytes went to the first look and the rest was read as another format.
        let source = match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                let file = std::fs::File::open(path).map_err(|e| {
                    AppError::new(AppErrorKind::Invalid, format!("{}: {e}", path.display()))
                })?;
                Source::Reader {
                    label: path.to_path_buf(),
                    reader: Box::new(std::io::BufReader::new(file)),
                }
            }
            _ => Source::File(path.to_path_buf()),
        };
        let result = import::import(&self.store, source, options).await;
        self.after_import(result, requester, target).await
    }

    /// Imports bytes that are not a file of their own (embedded data, uploads); `label` names them in
    /// messages and, by its extension, helps detect the format.
    pub async fn import_reader(
        &self,
        label: &Path,
        reader: Box<dyn std::io::BufRead + Send>,
        options: ImportOptions,
    ) -> AppResult<ImportReport> {
        let options = self.for_rules(options).await;
        let (requester, target) = (options.requester.clone(), audit_target(&options, label));
        let result = import::import(
            &self.store,
            Source::Reader {
                label: label.to_path_buf(),
                reader,
            },
            options,
        )
        .await;
        self.after_import(result, requester, target).await
    }

    /// Imports features the console made itself (generators), through the same rules as any file.
    pub async fn import_features(
        &self,
        label: &str,
        features: impl Iterator<Item = Feature> + Send + 'static,
        options: ImportOptions,
    ) -> AppResult<ImportReport> {
        let source = Source::Features {
            label: label.into(),
            features: Box::new(features),
        };
        let options = self.for_rules(options).await;
        let (requester, target) = (options.requester.clone(), label.to_string());
        let result = import::import(&self.store, source, options).await;
        self.after_import(result, requester, target).await
    }

    pub async fn drop_dataset(&self, id: &DatasetId) -> AppResult<()> {
        self.store.drop_dataset(id).await?;
        self.alerting.store().forget_marks(id.as_str()).await?;
        self.feeding.dataset_dropped(id).await?;
        tracing::info!(dataset = %id, "dataset dropped");
        self.committed(id).await
    }

    pub async fn query(
        &self,
        scope: &Scope,
        id: &DatasetId,
        query: &FeatureQuery,
    ) -> AppResult<FeaturePage> {
        self.dataset(scope, id).await?;
        Ok(self.store.query(id, query).await?)
    }

    pub async fn feature(
        &self,
        scope: &Scope,
        id: &DatasetId,
        feature: &FeatureId,
    ) -> AppResult<Feature> {
        self.dataset(scope, id).await?;
        Ok(self.store.feature(id, feature).await?)
    }

    /// Streams the features matching `query` (its limit caps the total) into `out` in `format`, page by page.
    /// Writes a dataset's features in `format`; `query` chooses by bbox, datetime and limit, `filter` (CQL2,
    /// compiled with [`Console::compile_filter`]) by anything else; `progress` counts features written.
    #[allow(clippy::too_many_arguments)]
    pub async fn export(
        &self,
        scope: &Scope,
        id: &DatasetId,
        format: Format,
        query: FeatureQuery,
        filter: Option<geoconsole_query::Filter>,
        out: Box<dyn Write + Send>,
        progress: Option<Arc<std::sync::atomic::AtomicU64>>,
    ) -> AppResult<ExportReport> {
        self.dataset(scope, id).await?;
        export::export(&self.store, id, format, query, filter, out, progress).await
    }

    /// A CQL2 filter checked against a dataset's queryables.
    pub async fn compile_filter(
        &self,
        scope: &Scope,
        id: &DatasetId,
        text: &str,
        lang: geoconsole_query::FilterLang,
    ) -> AppResult<geoconsole_query::Filter> {
        let dataset = self.dataset(scope, id).await?;
        crate::reading::compile_filter(&dataset, text, lang)
    }
}
