//! Helpers of the `reprise` command's tests: a fresh SQLite store, the
//! command run as a subprocess, a worker runtime beside it.

#![allow(dead_code)]

pub(crate) mod pg;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reprise::{Runtime, WorkflowInfo, WorkflowStatus};

/// A fresh folder for a SQLite store, removed on drop.
pub(crate) struct TempStore {
    pub(crate) dir: PathBuf,
    pub(crate) path: PathBuf,
}

impl TempStore {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "reprise-cli-test-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            path: dir.join("reprise.db"),
            dir,
        }
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a run of the command printed, and its exit code.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    /// Asserts exit code 0 and an empty standard error; the standard output.
    pub(crate) fn ok(self) -> String {
        assert_eq!(self.code, 0, "{self:#?}");
        assert!(self.stderr.is_empty(), "{self:#?}");
        self.stdout
    }

    /// Asserts `code` and exactly one line on standard error, starting
    /// `reprise: `; that line.
    pub(crate) fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "{self:#?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:#?}");
        assert!(self.stderr.starts_with("reprise: "), "{self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        self.stderr.trim_end().to_owned()
    }

    /// The standard output as JSON.
    pub(crate) fn json(self) -> serde_json::Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }
}

/// Runs `reprise --db <db> ARGS` (no `--db` when `db` is `None`), off the
/// async threads so that a worker in the test process runs meanwhile.
pub(crate) async fn reprise(db: Option<&Path>, args: &[&str]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reprise"));
    command
        .env_remove("REPRISE_DB")
        .env_remove("REPRISE_POSTGRES");
    if let Some(db) = db {
        command.arg("--db").arg(db);
    }
    command.args(args);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the reprise binary runs");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits (20 s at most) until `check` holds for workflow `id`'s description.
pub(crate) async fn wait_until(
    rt: &Runtime,
    id: &str,
    what: &str,
    check: impl Fn(&WorkflowInfo) -> bool,
) -> WorkflowInfo {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = rt.describe(id).await.unwrap();
        if check(&info) {
            return info;
        }
        assert!(Instant::now() < deadline, "`{id}`: no {what}: {info:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until workflow `id` has `status`.
pub(crate) async fn wait_for_status(
    rt: &Runtime,
    id: &str,
    status: WorkflowStatus,
) -> WorkflowInfo {
    wait_until(rt, id, &format!("status {status}"), |i| i.status == status).await
}
