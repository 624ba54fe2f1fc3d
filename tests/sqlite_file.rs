//! One SQLite file, one worker, whatever name each process gives the file:
//! a second worker process is refused (`Error::InUse`) when it opens the
//! file through a symbolic link, through `./reprise.db` from another current
//! folder, or through a hard link (on Linux); a client process
//! (`.worker(false)`) opens it by any name beside the worker; once the worker
//! is SIGKILLed, the next process opens the file at once.
//!
//! The processes are this same test binary, re-executed with
//! `REPRISE_FILE_OPEN` set, running only the `child` test.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use reprise::prelude::*;

/// The child opens a worker on this path.
const OPEN_VAR: &str = "REPRISE_FILE_OPEN";
/// Set: the child keeps the worker running until it is killed or its
/// standard input closes.
const HOLD_VAR: &str = "REPRISE_FILE_HOLD";

#[workflow]
async fn double(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(n * 2)
}

/// The child: opens a worker on `REPRISE_FILE_OPEN` and says how it went
/// (`OPENED`, `IN_USE <path>`, `ERROR <message>`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child() {
    let Ok(path) = std::env::var(OPEN_VAR) else {
        return;
    };
    match Runtime::builder()
        .sqlite(&path)
        .workflow(double)
        .build()
        .await
    {
        Ok(rt) => {
            println!("OPENED");
            if std::env::var(HOLD_VAR).is_ok() {
                // Until the parent kills this process, or is gone itself.
                let stdin = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)
                });
                let _ = tokio::time::timeout(Duration::from_secs(120), stdin).await;
            }
            rt.shutdown().await.unwrap();
        }
        Err(reprise::Error::InUse { path }) => println!("IN_USE {}", path.display()),
        Err(e) => println!("ERROR {e}"),
    }
}

fn is_child() -> bool {
    std::env::var(OPEN_VAR).is_ok()
}

fn child_command(path: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(OPEN_VAR, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// The child's answer: from `OPENED`, `IN_USE` or `ERROR` to the end of
/// its line (the test harness may have written `test child ... ` before).
fn answer(lines: impl Iterator<Item = std::io::Result<String>>) -> Option<String> {
    lines.map_while(Result::ok).find_map(|line| {
        ["OPENED", "IN_USE ", "ERROR "]
            .iter()
            .find_map(|word| line.find(word))
            .map(|start| line[start..].to_owned())
    })
}

/// A child process opening a worker on `path` from the folder `cwd`, and
/// ending: its answer.
fn open_in_child(path: &Path, cwd: &Path) -> String {
    let out = child_command(path)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    answer(stdout.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|| panic!("no answer from the child: {stdout}"))
}

/// A child process holding a worker on a file until killed.
struct Holder {
    child: Child,
    /// Closed when the test ends, however it ends: the child then exits.
    _stdin: ChildStdin,
}

impl Holder {
    fn start(path: &Path) -> Holder {
        let mut child = child_command(path)
            .env(HOLD_VAR, "1")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let holder = Holder {
            child,
            _stdin: stdin,
        };
        match answer(lines) {
            Some(line) if line == "OPENED" => holder,
            other => panic!("the holder could not open {}: {other:?}", path.display()),
        }
    }

    /// SIGKILL: no shutdown, no unlocking; the kernel releases the locks.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary folder with `reprise.db`, held by a worker process.
fn held_database(name: &str) -> (common::TempDb, PathBuf, Holder) {
    let tmp = common::TempDb::new(name);
    let canonical = std::fs::canonicalize(tmp.dir()).unwrap().join("reprise.db");
    let holder = Holder::start(&tmp.path);
    (tmp, canonical, holder)
}

fn in_use(canonical: &Path) -> String {
    format!("IN_USE {}", canonical.display())
}

#[test]
fn a_second_worker_through_a_symbolic_link_is_refused() {
    if is_child() {
        return;
    }
    let (tmp, canonical, holder) = held_database("link");
    let link = tmp.dir().join("link.db");
    std::os::unix::fs::symlink("reprise.db", &link).unwrap();
    assert_eq!(open_in_child(&link, &tmp.dir()), in_use(&canonical));
    // A link to the folder.
    let folder = tmp.dir().join("folder");
    std::os::unix::fs::symlink(tmp.dir(), &folder).unwrap();
    assert_eq!(
        open_in_child(&folder.join("reprise.db"), &tmp.dir()),
        in_use(&canonical)
    );
    holder.kill();
}

#[test]
fn a_second_worker_through_a_relative_path_from_another_folder_is_refused() {
    if is_child() {
        return;
    }
    let (tmp, canonical, holder) = held_database("relative");
    let relative = Path::new("./reprise.db");
    assert_eq!(open_in_child(relative, &tmp.dir()), in_use(&canonical));
    let sub = tmp.dir().join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert_eq!(
        open_in_child(Path::new("../reprise.db"), &sub),
        in_use(&canonical)
    );
    // From a folder reached through a symbolic link.
    let alias = tmp.dir().join("alias");
    std::os::unix::fs::symlink(&sub, &alias).unwrap();
    assert_eq!(
        open_in_child(Path::new("../reprise.db"), &alias),
        in_use(&canonical)
    );
    holder.kill();
}

/// Where the database file itself is locked (Linux): another name of the
/// same file is the same file.
#[cfg(target_os = "linux")]
#[test]
fn a_second_worker_through_a_hard_link_is_refused() {
    if is_child() {
        return;
    }
    let (tmp, canonical, holder) = held_database("hardlink");
    let hard = tmp.dir().join("hard.db");
    std::fs::hard_link(&tmp.path, &hard).unwrap();
    // The message names the name it was opened by: no name of a hard link
    // is more the file's than another.
    assert_eq!(
        open_in_child(&hard, &tmp.dir()),
        in_use(&canonical.with_file_name("hard.db"))
    );
    holder.kill();
}

#[test]
fn after_a_sigkill_the_next_process_opens_the_file_at_once() {
    if is_child() {
        return;
    }
    let (tmp, canonical, holder) = held_database("sigkill");
    let link = tmp.dir().join("link.db");
    std::os::unix::fs::symlink(&tmp.path, &link).unwrap();
    assert_eq!(open_in_child(&link, &tmp.dir()), in_use(&canonical));
    holder.kill();
    // No lease to wait out, no stale lock to remove: the kernel released
    // the locks with the process.
    assert_eq!(open_in_child(&link, &tmp.dir()), "OPENED");
    assert_eq!(open_in_child(&tmp.path, &tmp.dir()), "OPENED");
}

/// A client takes no lock: it opens the worker's file by another name, and
/// the worker (another process) runs what it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_through_a_symbolic_link_works_beside_the_worker() {
    if is_child() {
        return;
    }
    let (tmp, _canonical, holder) = held_database("client");
    let link = tmp.dir().join("link.db");
    std::os::unix::fs::symlink("reprise.db", &link).unwrap();
    let client = Runtime::builder()
        .sqlite(&link)
        .workflow(double)
        .worker(false)
        .build()
        .await
        .unwrap();
    let handle = client.start(double, 21).id("by-link").await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), handle.result())
        .await
        .expect("the worker process runs the workflow");
    assert_eq!(result.unwrap(), 42);
    client.shutdown().await.unwrap();
    holder.kill();
}
