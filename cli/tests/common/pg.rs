//! A fresh PostgreSQL database per test, on the server of
//! `REPRISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! made and dropped with `psql` (as the root package's `tests/common/pg.rs`).

use std::process::Command;

/// A database `reprise_cli_test_<random>`, dropped (with its connections) on drop.
pub(crate) struct TestDatabase {
    pub(crate) name: String,
    pub(crate) url: String,
}

fn server() -> String {
    std::env::var("REPRISE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The server URL with another database name.
fn retarget(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{db}")
}

fn psql(sql: &str) -> std::process::Output {
    Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(server())
        .arg("-c")
        .arg(sql)
        .output()
        .expect("psql runs")
}

impl TestDatabase {
    pub(crate) fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let name = format!("reprise_cli_test_{:016x}", h.finish());
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            url: retarget(&server(), &name),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
