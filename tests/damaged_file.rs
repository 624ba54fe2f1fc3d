//! A damaged SQLite file: once SQLite reports it, the runtime stops using
//! the file, and every API call says so (naming the file) instead of
//! waiting for ever or writing on.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use common::TempDb;
use reprise::prelude::*;

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Go;

#[activity]
async fn step(i: u64) -> Result<u64, ActivityError> {
    Ok(i)
}

/// A long history (pages of it to damage), then a wait for `Go`.
#[workflow]
async fn long(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..k {
        sum += ctx.activity(step, i).await?;
    }
    ctx.set_progress(&"waiting");
    ctx.signal::<Go>().recv().await;
    Ok(sum)
}

async fn build(db: &TempDb) -> Result<Runtime, reprise::Error> {
    Runtime::builder()
        .sqlite(&db.path)
        .workflow(long)
        .activity(step)
        .build()
        .await
}

/// Overwrites the middle of the file (history pages) with garbage.
fn damage(path: &std::path::Path) {
    let len = std::fs::metadata(path).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(len / 4)).unwrap();
    let garbage: Vec<u8> = (0..(len / 2)).map(|i| (i * 131 % 251) as u8).collect();
    file.write_all(&garbage).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_file_stops_the_runtime_and_every_call_says_so() {
    let db = TempDb::new("damaged");
    let rt = build(&db).await.unwrap();
    let handle = rt.start(long, 1500).id("long").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt.describe("long").await.unwrap().progress != Some(json!("waiting")) {
        assert!(
            Instant::now() < deadline,
            "the workflow never got to its wait"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(handle);
    rt.shutdown().await.unwrap();
    damage(&db.path);

    // The damage is found when the run is loaded again: at the latest
    // when a signal makes a worker replay it.
    let rt = match build(&db).await {
        Ok(rt) => rt,
        Err(e) => {
            // Start-up read a damaged page: refused at once, naming the file.
            let message = e.to_string();
            assert!(message.contains("reprise.db"), "{message}");
            return;
        }
    };
    let first = rt.signal("long", Go).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        match rt.describe("long").await {
            Err(e) => break e,
            Ok(info) => {
                assert!(
                    Instant::now() < deadline,
                    "the damage was never reported: {first:?} {info:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let message = refused.to_string();
    assert!(
        message.contains("is damaged") && message.contains("reprise stopped using it"),
        "{message}"
    );
    assert!(message.contains(&db.path.display().to_string()) || message.contains("reprise.db"));
    match &refused {
        reprise::Error::Store(e) => assert!(e.is_corrupt()),
        other => panic!("not a store error: {other:?}"),
    }
    // Every later call says the same, writes included.
    let start = rt.start(long, 1).id("another").await.unwrap_err();
    assert!(start.to_string().contains("is damaged"), "{start}");
    let signal = rt.signal("long", Go).await.unwrap_err();
    assert!(signal.to_string().contains("is damaged"), "{signal}");
    rt.shutdown().await.unwrap();
}
