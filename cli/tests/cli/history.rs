//! `reprise history`: `--json` is `Runtime::history` exactly; the text is
//! a timeline.

use reprise::WorkflowHistory;

use crate::common::{reprise, TempStore};
use crate::flows::{greet, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_json_round_trips_and_the_text_is_a_timeline() {
    let store = TempStore::new("history");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());
    let h = rt.start(greet, "bob".to_owned()).id("hist").await.unwrap();
    h.result().await.unwrap();

    let ran = reprise(db, &["history", "hist", "--json"]).await;
    let printed: WorkflowHistory = serde_json::from_str(&ran.ok()).unwrap();
    assert_eq!(printed, rt.history("hist").await.unwrap());
    let run_id = h.run_id().to_owned();
    let ran = reprise(db, &["history", "hist", "--run", &run_id, "--json"]).await;
    let by_run: WorkflowHistory = serde_json::from_str(&ran.ok()).unwrap();
    assert_eq!(by_run, printed);

    let out = reprise(db, &["history", "hist"]).await.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "workflow `hist` (greet), run {run_id}, completed, {} events",
            printed.events.len()
        )
    );
    assert!(
        lines[1].ends_with("+0.000s  started greet with input bob"),
        "{out}"
    );
    assert!(
        lines[2].ends_with("+0.000s  activity shout (seq 0) scheduled"),
        "{out}"
    );
    assert!(
        lines[3].contains("s  activity shout (seq 0) completed: BOB"),
        "{out}"
    );
    assert!(lines[4].contains("s  completed: hello BOB"), "{out}");
    assert_eq!(lines.len(), 5, "{out}");

    let ran = reprise(db, &["history", "hist", "--run", "no-such-run"]).await;
    assert!(ran.fails(1).contains("has no run `no-such-run`"));
    rt.shutdown().await.unwrap();
}
