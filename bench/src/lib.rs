//! Benchmarks live in `benches/` (criterion, one file per room) and in the peer scripts beside this crate
//! (`import_vs_ogr2ogr.py`), which write `RESULTS.md`. This library is empty on purpose.
