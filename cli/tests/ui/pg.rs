//! A fresh PostgreSQL database for a test, on the server of
//! `REPRISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! which `.ci/run` starts), made and dropped with `psql`.

use std::process::Command;

/// A database `reprise_ui_test_<random>`, dropped (with its connections) on drop.
pub(crate) struct TestDatabase {
    name: String,
    /// Its URL.
    pub(crate) url: String,
}

fn server() -> String {
    std::env::var("REPRISE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
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
        let name = format!("reprise_ui_test_{:016x}", h.finish());
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (base, _) = server()
            .rsplit_once('/')
            .map(|(b, d)| (b.to_owned(), d.to_owned()))
            .expect("a URL with a database");
        Self {
            url: format!("{base}/{name}"),
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
