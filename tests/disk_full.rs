//! A run whose steps cannot be committed (the disk is full) is not silent:
//! `describe` shows why and since when while the run is `Running`.
//!
//! The full disk is a real one for the process: this test binary re-runs
//! itself (the `child` test, with `REPRISE_DISK_FULL` set) under a shell's
//! `ulimit -f` (a largest file size) with `SIGXFSZ` ignored, so SQLite's
//! writes past the limit fail as on a full disk.

#![cfg(unix)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::TempDb;
use reprise::prelude::*;

/// The child runs a worker on this path.
const PATH_VAR: &str = "REPRISE_DISK_FULL";

/// A payload large enough to fill the allowed file size in a few steps.
#[activity]
async fn bulky(i: u64) -> Result<String, ActivityError> {
    Ok(format!("{i}:{}", "x".repeat(16 * 1024)))
}

/// Writes big activity results until the disk is full.
#[workflow]
async fn filler(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    for i in 0..k {
        ctx.activity(bulky, i).await?;
    }
    Ok(k)
}

/// The child: starts `filler` and prints what `describe` says once the
/// steps stop committing (`STALLED <error>` with `SINCE <ms ago>`), or
/// `DONE` if they never do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child() {
    let Ok(path) = std::env::var(PATH_VAR) else {
        return;
    };
    let rt = Runtime::builder()
        .sqlite(&path)
        .workflow(filler)
        .activity(bulky)
        .build()
        .await
        .unwrap();
    let handle = rt.start(filler, 10_000).id("filler").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let info = rt.describe("filler").await;
        if let Ok(info) = &info {
            if let (Some(error), Some(since)) = (&info.error, info.error_since) {
                let ago = since.elapsed().unwrap_or_default();
                println!("STALLED {:?} {error}", info.status);
                println!("SINCE {}", ago.as_millis());
                drop(handle);
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("DONE {:?}", rt.describe("filler").await.map(|i| i.status));
}

#[test]
fn a_run_that_cannot_commit_shows_why_in_describe() {
    if std::env::var(PATH_VAR).is_ok() {
        return;
    }
    let db = TempDb::new("disk-full");
    let exe = std::env::current_exe().unwrap();
    // 3 MiB per file (`ulimit -f` counts 1 KiB blocks in bash, 512 B in some
    // shells: either way far below what 10 000 steps of 16 KiB need).
    let script =
        r#"trap '' XFSZ; ulimit -f 6144; exec "$0" --exact child --nocapture --test-threads=1"#;
    let out = Command::new("sh")
        .args(["-c", script])
        .arg(&exe)
        .env(PATH_VAR, &db.path)
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stalled = stdout
        .lines()
        .find_map(|l| l.find("STALLED").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no stall reported: {stdout}"));
    assert!(stalled.contains("Running"), "{stalled}");
    assert!(stalled.contains("cannot be recorded"), "{stalled}");
    let since: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SINCE "))
        .and_then(|ms| ms.trim().parse().ok())
        .unwrap_or_else(|| panic!("no time: {stdout}"));
    assert!(since < 60_000, "{since} ms ago");
}
