// TEMPORARY placeholder written by the lead so the crate compiles while the
// SQLite store is being written: replace this whole file.
use std::path::Path;

#[derive(Debug)]
pub(crate) struct SqliteStore;

impl SqliteStore {
    pub(crate) async fn open(path: &Path) -> Result<super::memory::MemoryStore, crate::Error> {
        let _ = path;
        Ok(super::memory::MemoryStore::default())
    }
}
