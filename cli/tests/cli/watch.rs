//! `reprise watch`: progress lines when standard error is not a terminal,
//! the final status, exit code 0 only for a completed workflow.

use crate::common::{reprise, TempStore};
use crate::flows::{counter, failing, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_to_the_end_and_exits_by_the_outcome() {
    let store = TempStore::new("watch");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());

    rt.start(counter, ()).id("count").await.unwrap();
    let out = reprise(db, &["watch", "count"]).await.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("counting [")),
        "a progress line with a bar: {out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("] 5/5 (100%)") && l.contains("counted")),
        "{out}"
    );
    assert_eq!(
        lines.last(),
        Some(&"workflow `count` completed: 5"),
        "{out}"
    );

    rt.start(failing, ()).id("fail").await.unwrap();
    let ran = reprise(db, &["watch", "fail"]).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.is_empty(), "{ran:?}");
    assert!(
        ran.stdout
            .ends_with("workflow `fail` failed: no luck today\n"),
        "{ran:?}"
    );
    let line = reprise(db, &["watch", "nobody"]).await.fails(1);
    assert_eq!(line, "reprise: no workflow with id `nobody`");
    rt.shutdown().await.unwrap();
}
