//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// Builds an example (a no-op when `cargo test` already did) and returns its
/// executable, as cargo reports it: no guessing of the target folder.
pub fn example_binary(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--example",
            name,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    // `cargo test` sets these for this test process. Inherited, they look
    // like a changed environment to build scripts that watch them (ring's),
    // and the TLS stack would be rebuilt between `cargo test` and this build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_cargo_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ];
        if set_by_cargo_test.iter().any(|p| key.starts_with(p)) {
            cargo.env_remove(&*key);
        }
    }
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    // Without the variables `cargo test` sets for this test (which the
    // nested cargo would inherit), so the nested build sees the environment
    // of a build from the shell: build scripts that watch one of them
    // (`ring`'s watches CARGO_MANIFEST_DIR) are not rerun, and their crates
    // rebuilt, at every switch between `cargo test` and this build.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&name.as_ref())
        {
            cargo.env_remove(name.as_ref());
        }
    }
    let out = cargo.stderr(Stdio::inherit()).output().expect("cargo runs");
    assert!(
        out.status.success(),
        "`cargo build --example {name}` failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}
pub mod pg;
pub mod process;

/// Waits (10 s at most) until workflow `id` has `status`; its description.
pub async fn wait_for_status(
    rt: &reprise::Runtime,
    id: &str,
    status: reprise::WorkflowStatus,
) -> reprise::WorkflowInfo {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info = rt.describe(id).await.unwrap();
        if info.status == status {
            return info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} never became {status:?}: {info:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
