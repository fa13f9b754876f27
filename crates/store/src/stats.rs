use geoconsole_model::{Bbox, Feature, GeometryType, Schema, TimeSpan};

/// What a write learns about its features: count, schema, geometry type, spatial and time extent. Backends
/// fold it into the dataset's metadata at commit, so every backend derives them the same way.
#[derive(Debug, Clone, Default)]
pub struct DatasetStats {
    pub count: u64,
    pub schema: Schema,
    pub geometry_type: Option<GeometryType>,
    pub extent: Option<Bbox>,
    pub time_extent: Option<TimeSpan>,
}

impl DatasetStats {
    /// Folds in one stored feature whose bbox the backend has already computed (it needs it for its spatial
    /// index anyway).
    pub fn observe(&mut self, feature: &Feature, bbox: Option<Bbox>) {
        self.count += 1;
        self.schema.observe(&feature.properties);
        // An unlocated feature says nothing of the dataset's geometry type or extent.
        if let Some(geometry) = &feature.geometry {
            let kind = GeometryType::of(geometry);
            self.geometry_type = Some(self.geometry_type.map_or(kind, |t| t.merge(kind)));
        }
        if let Some(b) = bbox {
            self.extent = Some(self.extent.map_or(b, |e| e.union(&b)));
        }
        if let Some(t) = feature.time {
            self.time_extent = Some(self.time_extent.map_or(t, |e| e.union(&t)));
        }
    }
}
