use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use geoconsole_formats::Format;
use geoconsole_model::{Dataset, DatasetId, Feature, FeatureId};
use geoconsole_query::FeatureQuery;
use geoconsole_store::{FeaturePage, FeatureStore};

use crate::AppResult;
use crate::export::{self, ExportReport};
use crate::import::{self, ImportOptions, ImportReport, Source};

/// The console's single entry point for data: every import and export goes through here.
#[derive(Debug, Clone)]
pub struct Console {
    store: Arc<dyn FeatureStore>,
}

impl Console {
    pub fn new(store: Arc<dyn FeatureStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<dyn FeatureStore> {
        &self.store
    }

    /// Imports a file: detects its format, streams its features through validation, time and id rules
    /// into one store transaction. Atomic unless `options.skip_invalid`.
    pub async fn import(&self, path: &Path, options: ImportOptions) -> AppResult<ImportReport> {
        import::import(&self.store, Source::File(path.to_path_buf()), options).await
    }

    /// Imports bytes that are not a file of their own (embedded data, uploads); `label` names them in
    /// messages and, by its extension, helps detect the format.
    pub async fn import_reader(
        &self,
        label: &Path,
        reader: Box<dyn std::io::BufRead + Send>,
        options: ImportOptions,
    ) -> AppResult<ImportReport> {
        import::import(
            &self.store,
            Source::Reader {
                label: label.to_path_buf(),
                reader,
            },
            options,
        )
        .await
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
        import::import(&self.store, source, options).await
    }

    pub async fn datasets(&self) -> AppResult<Vec<Dataset>> {
        Ok(self.store.list_datasets().await?)
    }

    pub async fn dataset(&self, id: &DatasetId) -> AppResult<Dataset> {
        Ok(self.store.dataset(id).await?)
    }

    pub async fn drop_dataset(&self, id: &DatasetId) -> AppResult<()> {
        self.store.drop_dataset(id).await?;
        tracing::info!(dataset = %id, "dataset dropped");
        Ok(())
    }

    pub async fn query(&self, id: &DatasetId, query: &FeatureQuery) -> AppResult<FeaturePage> {
        Ok(self.store.query(id, query).await?)
    }

    pub async fn feature(&self, id: &DatasetId, feature: &FeatureId) -> AppResult<Feature> {
        Ok(self.store.feature(id, feature).await?)
    }

    /// Streams the features matching `query` (its limit caps the total) into `out` in `format`, page by page.
    pub async fn export(
        &self,
        id: &DatasetId,
        format: Format,
        query: FeatureQuery,
        out: Box<dyn Write + Send>,
    ) -> AppResult<ExportReport> {
        export::export(&self.store, id, format, query, out).await
    }
}
