//! A fresh PostgreSQL database per test, on the server of
//! `REPRISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! made and dropped with `psql`.

use std::process::Command;

/// A database `reprise_test_<random>`, dropped (with its connections) on drop.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

fn server() -> String {
    std::env::var("REPRISE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs one SQL command with `psql` on the server's maintenance database
/// (or `db`), and returns its unaligned output.
pub fn psql(db: Option<&str>, sql: &str) -> String {
    let url = match db {
        Some(db) => retarget(&server(), db),
        None => server(),
    };
    let out = Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
        .arg(&url)
        .arg("-c")
        .arg(sql)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql `{sql}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The server URL with another database name.
fn retarget(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{db}")
}

impl TestDatabase {
    pub fn new() -> Self {
        let name = format!("reprise_test_{}", uuid_like());
        psql(None, &format!("CREATE DATABASE {name}"));
        Self {
            url: retarget(&server(), &name),
            name,
        }
    }

    /// Runs SQL in this database.
    pub fn sql(&self, sql: &str) -> String {
        psql(Some(&self.name), sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q"])
            .arg(server())
            .arg("-c")
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// A random lowercase hex string, unique enough for a database name.
fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
