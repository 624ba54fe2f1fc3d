//! The restart measurement: the child, and the parent that kills and
//! respawns it.

use super::*;

/// The restart child: prints `MAIN`, `BUILT`, then the `STEP` lines of its
/// first two activities (and `REACHED` at `--kill-at`); runs until killed.
pub(super) fn child_restart(dir: &Path, sync: SyncArg, kill_at: u64) -> Res<()> {
    println!("MAIN {}", unix_us());
    KILL_AT.store(kill_at, Ordering::Relaxed);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio_rt.block_on(async {
        let rt = Runtime::builder()
            .sqlite(dir.join("reprise.db"))
            .sqlite_sync(sqlite_sync(sync))
            .workflow(long_run)
            .activity(restart_step)
            .build()
            .await?;
        println!("BUILT {}", unix_us());
        // Idempotent: the second child gets the existing workflow.
        let handle = rt.start(long_run, u64::MAX).id("restart").await?;
        handle.result().await?;
        Ok(())
    })
}

pub(super) fn spawn_restart_child(
    dir: &Path,
    sync: SyncArg,
    kill_at: u64,
) -> Res<(Child, BufReader<ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--child-restart")
        .arg(dir)
        .args(["--sync", sync.name(), "--kill-at", &kill_at.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child.stdout.take().ok_or("no stdout")?;
    Ok((child, BufReader::new(out)))
}

/// Reads the lines of a child until it has printed one with each of `tags`
/// (in any order; a tag listed twice needs two lines): their fields.
pub(super) fn collect_lines(out: &mut BufReader<ChildStdout>, tags: &[&str]) -> Res<Vec<Vec<u64>>> {
    let mut found: Vec<Option<Vec<u64>>> = vec![None; tags.len()];
    let mut buf = String::new();
    while found.iter().any(Option::is_none) {
        buf.clear();
        if out.read_line(&mut buf)? == 0 {
            let missing: Vec<&str> = (0..tags.len())
                .filter(|&i| found[i].is_none())
                .map(|i| tags[i])
                .collect();
            return Err(format!("the child ended without printing {missing:?}").into());
        }
        let mut words = buf.split_whitespace();
        let Some(tag) = words.next() else { continue };
        if let Some(i) = (0..tags.len()).find(|&i| tags[i] == tag && found[i].is_none()) {
            let fields = words
                .map(|w| w.parse::<u64>().map_err(BoxError::from))
                .collect::<Res<Vec<u64>>>()?;
            found[i] = Some(fields);
        }
    }
    Ok(found.into_iter().flatten().collect())
}

/// SIGKILLs the child `pid` unless `done` is dropped within `limit`, so
/// that a stuck child fails the measurement instead of hanging the bench.
pub(super) fn watchdog(pid: u32, limit: Duration) -> std::sync::mpsc::Sender<()> {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            eprintln!("bench: the child {pid} is stuck; killing it");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    done
}

pub(super) fn kill(mut child: Child) -> Res<()> {
    child.kill()?; // SIGKILL
    child.wait()?;
    Ok(())
}

pub(super) fn restart(sync: SyncArg, quick: bool) -> Res<()> {
    let dir = TempDir::new("restart")?;
    let kill_at: u64 = if quick { 200 } else { 2000 };
    // First child: runs the workflow until step `kill_at`, then SIGKILL.
    let (first, mut out) = spawn_restart_child(&dir.0, sync, kill_at)?;
    let guard = watchdog(first.id(), Duration::from_secs(120));
    let reached = collect_lines(&mut out, &["REACHED"]);
    kill(first)?;
    drop(guard);
    reached?;
    // Second child: resumes; the clock starts just before the spawn.
    let spawn_us = unix_us();
    let (second, mut out) = spawn_restart_child(&dir.0, sync, u64::MAX)?;
    let guard = watchdog(second.id(), Duration::from_secs(120));
    let lines = collect_lines(&mut out, &["MAIN", "BUILT", "STEP", "STEP"]);
    kill(second)?;
    drop(guard);
    let [main, built, first_step, second_step] =
        <[Vec<u64>; 4]>::try_from(lines?).map_err(|_| "unexpected restart child output")?;
    let (main_us, built_us) = (main[0], built[0]);
    let ms = |t: u64| round(t.saturating_sub(spawn_us) as f64 / 1e3, 2);
    let first_ms = ms(first_step[1]);
    let mut m = line("restart", StoreArg::Sqlite, sync, quick);
    m.insert("killed_after_step".into(), kill_at.into());
    m.insert("resumed_at_step".into(), first_step[0].into());
    m.insert(
        "history_events_at_restart".into(),
        (3 * first_step[0] + 2).into(),
    );
    m.insert("spawn_to_main_ms".into(), ms(main_us).into());
    m.insert("spawn_to_built_ms".into(), ms(built_us).into());
    m.insert("spawn_to_first_step_ms".into(), first_ms.into());
    m.insert("next_step".into(), second_step[0].into());
    m.insert("spawn_to_next_step_ms".into(), ms(second_step[1]).into());
    m.insert("wall_s".into(), round(first_ms / 1e3, 4).into());
    m.insert("target_ms".into(), 50.into());
    m.insert("met".into(), (first_ms <= 50.0).into());
    emit(m);
    Ok(())
}
