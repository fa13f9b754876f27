//! Which datasets a read on someone's behalf may touch, decided here and nowhere else. Every reader of the
//! console takes the caller's [`Scope`] and resolves datasets through these functions, whether the caller
//! named them (`collections/{id}`, `sites=a,b`), left a default to fill ("every sites dataset" when the list
//! is absent or empty), or reached one indirectly (regions `by=areas:…`, `by=sites:…`): a dataset outside
//! the scope is answered exactly as one that does not exist, and defaults cover only what the scope sees.
//!
//! The console's own duties (rule evaluation, feeds, the command line) act for the whole organisation and
//! say so with [`Scope::everything`].

use std::sync::Arc;

use geoconsole_access::Scope;
use geoconsole_index::Snapshot;
use geoconsole_model::{Dataset, DatasetId, DatasetKind};

use crate::{AppError, AppErrorKind, AppResult, Console};

/// What a caller hears of a dataset it may not read: the same as of one that does not exist, so ids of
/// hidden datasets cannot be probed.
pub(crate) fn missing(role: &str, id: &DatasetId) -> AppError {
    let role = if role.is_empty() {
        String::new()
    } else {
        format!("{role} ")
    };
    AppError::new(
        AppErrorKind::NotFound,
        format!("{role}dataset '{id}' does not exist"),
    )
}

/// The datasets `wanted` names, each of which the scope must see, or, when it names none, every dataset of
/// `kind` the scope sees. `role` names the list in messages ("sites", "hazard").
pub(crate) fn choose(
    all: &[Dataset],
    scope: &Scope,
    wanted: &[DatasetId],
    kind: DatasetKind,
    role: &str,
) -> AppResult<Vec<Dataset>> {
    if wanted.is_empty() {
        return Ok(all
            .iter()
            .filter(|d| d.kind == kind && scope.sees(d.id.as_str()))
            .cloned()
            .collect());
    }
    wanted
        .iter()
        .map(|id| {
            all.iter()
                .find(|d| &d.id == id && scope.sees(id.as_str()))
                .cloned()
                .ok_or_else(|| missing(role, id))
        })
        .collect()
}

impl Console {
    /// The datasets the scope sees, as the store lists them.
    pub async fn datasets(&self, scope: &Scope) -> AppResult<Vec<Dataset>> {
        let mut all = self.store().list_datasets().await?;
        all.retain(|d| scope.sees(d.id.as_str()));
        Ok(all)
    }

    /// One dataset, if the scope sees it.
    pub async fn dataset(&self, scope: &Scope, id: &DatasetId) -> AppResult<Dataset> {
        if !scope.sees(id.as_str()) {
            return Err(missing("", id));
        }
        Ok(self.store().dataset(id).await?)
    }

    /// The datasets the scope sees, as the serving index last published them (indexed or pushed down).
    pub fn indexed_datasets(&self, scope: &Scope) -> Vec<Dataset> {
        let mut all = self.live().datasets();
        all.retain(|d| scope.sees(d.id.as_str()));
        all
    }

    /// One dataset as the serving index last published it, if the scope sees it.
    pub fn indexed_dataset(&self, scope: &Scope, id: &DatasetId) -> AppResult<Dataset> {
        self.live()
            .dataset(id)
            .filter(|_| scope.sees(id.as_str()))
            .ok_or_else(|| missing("", id))
    }

    /// A dataset's live snapshot, if the scope sees it (only while serving).
    pub fn indexed_snapshot(&self, scope: &Scope, id: &DatasetId) -> AppResult<Arc<Snapshot>> {
        self.live()
            .indexes()
            .get(id)
            .filter(|_| scope.sees(id.as_str()))
            .ok_or_else(|| missing("", id))
    }

    /// A dataset's snapshot, if the scope sees it: the live one when serving; one-shot commands build it
    /// from the store.
    pub(crate) async fn snapshot_for(
        &self,
        scope: &Scope,
        id: &DatasetId,
    ) -> AppResult<Arc<Snapshot>> {
        if !scope.sees(id.as_str()) {
            return Err(missing("", id));
        }
        match self.live().indexes().get(id) {
            Some(s) => Ok(s),
            None => Ok(Arc::new(
                crate::live::build_snapshot(self.store(), id).await?,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(id: &str, kind: DatasetKind) -> Dataset {
        let now = chrono::Utc::now();
        Dataset {
            id: DatasetId::new(id).expect("id"),
            title: id.into(),
            kind,
            geometry_type: geoconsole_model::GeometryType::Point,
            time_fields: geoconsole_model::TimeFields::default(),
            id_field: None,
            schema: geoconsole_model::Schema::default(),
            source: "test".into(),
            version: 1,
            feature_count: 0,
            extent: None,
            time_extent: None,
            created: now,
            updated: now,
        }
    }

    #[test]
    fn defaults_cover_only_what_the_scope_sees_and_hidden_names_are_missing() {
        let all = [
            dataset("pub_sites", DatasetKind::Sites),
            dataset("secret_sites", DatasetKind::Sites),
            dataset("quakes", DatasetKind::Events),
        ];
        let scope = Scope::only(["pub_sites".to_string(), "quakes".to_string()]);
        let ids = |v: Vec<Dataset>| v.into_iter().map(|d| d.id.to_string()).collect::<Vec<_>>();
        let chosen = choose(&all, &scope, &[], DatasetKind::Sites, "sites").expect("default");
        assert_eq!(ids(chosen), ["pub_sites"]);
        let everything = choose(&all, &Scope::everything(), &[], DatasetKind::Sites, "sites");
        assert_eq!(ids(everything.expect("all")), ["pub_sites", "secret_sites"]);
        let hidden = DatasetId::new("secret_sites").expect("id");
        let absent = DatasetId::new("nowhere").expect("id");
        let refused = choose(&all, &scope, &[hidden], DatasetKind::Sites, "sites").unwrap_err();
        let unknown = choose(&all, &scope, &[absent], DatasetKind::Sites, "sites").unwrap_err();
        assert_eq!(refused.kind(), AppErrorKind::NotFound);
        assert_eq!(
            refused.to_string().replace("secret_sites", "X"),
            unknown.to_string().replace("nowhere", "X"),
            "a hidden dataset is answered as a missing one"
        );
    }
}
