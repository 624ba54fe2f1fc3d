//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// A fresh path for a SQLite store, removed (with its WAL files) on drop.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "reprise-test-{}-{}-{}",
            name,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            path: dir.join("reprise.db"),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.path.parent().unwrap().to_path_buf()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.dir());
    }
}
