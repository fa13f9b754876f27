//! The console's staging folder: uploads waiting to be imported, archive members unpacked for a reader, and
//! export files waiting to be downloaded. It lives beside the store (`<store>.gpkg.staging/`; for a
//! PostgreSQL store, a configured folder or `geoconsole-staging` in the system's temporary folder), so what
//! a console stages is on the disk its data is on and never outlives it unnoticed.
//!
//! Each process works in a folder of its own (`<pid>-<random>/`) held by a lock on `<pid>-<random>.lock`;
//! two consoles on one store (two `serve` may share a GeoPackage) never touch each other's files. A process
//! that ends removes its folder; one that crashed leaves it, and the next console to open the staging
//! folder removes every folder whose lock nobody holds, refused uploads included.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::{AppError, AppErrorKind, AppResult};

/// A process's own folder in the staging folder, removed when dropped.
#[derive(Debug)]
pub struct Staging {
    root: PathBuf,
    dir: PathBuf,
    lock_path: PathBuf,
    /// Held for as long as the folder is in use; the kernel lets go of it if the process dies.
    _lock: File,
}

fn failed(what: &str, path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::new(
        AppErrorKind::Internal,
        format!("staging folder {}: cannot {what}: {e}", path.display()),
    )
}

/// Lock files that never got their name (a process stopped between making and naming one) are removed
/// once they are this old.
const UNNAMED_LOCK_AGE: std::time::Duration = std::time::Duration::from_secs(600);

impl Staging {
    /// Where the staging folder of the store at `location` goes when none is configured: beside a
    /// GeoPackage file, or in the system's temporary folder for a database URL.
    pub fn root_for(location: &str) -> PathBuf {
        if location.contains("://") {
            std::env::temp_dir().join("geoconsole-staging")
        } else {
            PathBuf::from(format!("{location}.staging"))
        }
    }

    /// Opens the staging folder at `root` (creating it), removes what crashed processes left there, and
    /// makes this process's own locked folder.
    pub fn open(root: &Path) -> AppResult<Self> {
        fs::create_dir_all(root).map_err(|e| failed("create it", root, e))?;
        let removed = sweep(root);
        if removed > 0 {
            tracing::info!(staging = %root.display(), removed, "removed what stopped consoles left in the staging folder");
        }
        // The lock is taken under a temporary name and then renamed into place, so a sweeping process
        // never sees a lock file that is not locked yet.
        let unnamed = tempfile::Builder::new()
            .prefix(".lock-")
            .tempfile_in(root)
            .map_err(|e| failed("make a lock file", root, e))?;
        unnamed
            .as_file()
            .try_lock()
            .map_err(|e| failed("lock", root, e))?;
        let name = format!(
            "{}-{:08x}",
            std::process::id(),
            crate::uploads::rand_id() as u32
        );
        let lock_path = root.join(format!("{name}.lock"));
        let lock = unnamed
            .persist(&lock_path)
            .map_err(|e| failed("name its lock file", root, e.error))?;
        let dir = root.join(&name);
        fs::create_dir(&dir).map_err(|e| failed("create a folder", &dir, e))?;
        Ok(Self {
            root: root.to_path_buf(),
            dir,
            lock_path,
            _lock: lock,
        })
    }

    /// This process's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The staging folder all processes share.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A folder of this process's for one use (`uploads`, `exports`, `unpacked`), created when missing.
    pub fn folder(&self, name: &str) -> AppResult<PathBuf> {
        let path = self.dir.join(name);
        fs::create_dir_all(&path).map_err(|e| failed("create a folder", &path, e))?;
        Ok(path)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// Removes the folders of processes that are gone: a folder whose lock file can be locked (its owner no
/// longer holds it) or that has no lock file at all. Returns how many were removed.
fn sweep(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".lock") {
            let Ok(file) = File::options().read(true).write(true).open(&path) else {
                continue;
            };
            if file.try_lock().is_ok() {
                // Nobody holds it: its process is gone. Its folder goes first, then the lock.
                let folder = root.join(stem);
                if folder.is_dir() {
                    let _ = fs::remove_dir_all(&folder);
                    removed += 1;
                }
                let _ = fs::remove_file(&path);
            }
        } else if name.starts_with(".lock-") {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNNAMED_LOCK_AGE);
            if old {
                let _ = fs::remove_file(&path);
            }
        } else if path.is_dir() && !root.join(format!("{name}.lock")).exists() {
            // A folder is made after its lock is in place, so one without a lock has no owner.
            let _ = fs::remove_dir_all(&path);
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_file_stages_beside_itself_and_a_database_in_the_temporary_folder() {
        assert_eq!(
            Staging::root_for("/data/ops.gpkg"),
            PathBuf::from("/data/ops.gpkg.staging")
        );
        assert_eq!(
            Staging::root_for("postgres://u:p@db/geo"),
            std::env::temp_dir().join("geoconsole-staging")
        );
    }

    #[test]
    fn two_processes_keep_their_folders_and_a_crashed_ones_is_swept() {
        let root = tempfile::tempdir().expect("dir");
        let first = Staging::open(root.path()).expect("first");
        let upload = first.folder("uploads").expect("folder").join("x.csv");
        fs::write(&upload, b"a").expect("write");
        // A second console on the same store leaves the first's folder alone.
        let second = Staging::open(root.path()).expect("second");
        assert!(upload.exists());
        assert_ne!(first.dir(), second.dir());
        // A crashed process: a folder and a lock file nobody holds, and a folder without any lock.
        fs::create_dir(root.path().join("999-dead")).expect("dead");
        fs::write(root.path().join("999-dead/refused.zip"), b"PK").expect("file");
        fs::write(root.path().join("999-dead.lock"), b"").expect("lock");
        fs::create_dir(root.path().join("orphan")).expect("orphan");
        let third = Staging::open(root.path()).expect("third");
        assert!(!root.path().join("999-dead").exists());
        assert!(!root.path().join("999-dead.lock").exists());
        assert!(!root.path().join("orphan").exists());
        assert!(upload.exists(), "a live process's files stay");
        let dir = first.dir().to_path_buf();
        drop(first);
        assert!(!dir.exists(), "a process that ends takes its folder along");
        drop((second, third));
    }
}
