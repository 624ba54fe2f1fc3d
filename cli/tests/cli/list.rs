//! `reprise list`: each filter, pages, `--json`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reprise::WorkflowStatus;
use serde_json::Value;

use crate::common::{reprise, wait_for_status, TempStore};
use crate::flows::{doomed_body, greet, waiter, worker};

/// The ids of a `--json` listing, and its next page token.
fn ids(listing: &Value) -> (Vec<String>, Option<String>) {
    let ids = listing["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap().to_owned())
        .collect();
    (ids, listing["next_page"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_status_name_and_age_and_pages() {
    let store = TempStore::new("list");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());
    let old = Instant::now();
    for n in 1..=3 {
        let h = rt
            .start(greet, format!("g{n}"))
            .id(format!("greet-{n}"))
            .await
            .unwrap();
        h.result().await.unwrap();
    }
    rt.start(doomed_body, ()).id("blocked-1").await.unwrap();
    wait_for_status(&rt, "blocked-1", WorkflowStatus::Blocked).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    rt.start(waiter, ()).id("waiting-1").await.unwrap();
    wait_for_status(&rt, "waiting-1", WorkflowStatus::Running).await;

    // The table: a header, a row per workflow, newest first.
    let out = reprise(db, &["list"]).await.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PROGRESS / ERROR"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("waiting-1") && lines[1].contains("running"),
        "{out}"
    );
    assert!(
        lines[1].contains("waiting for stop"),
        "progress shown: {out}"
    );
    let blocked = lines.iter().find(|l| l.starts_with("blocked-1")).unwrap();
    assert!(
        blocked.contains("blocked") && blocked.contains("error: "),
        "{out}"
    );
    let greeted = lines.iter().find(|l| l.starts_with("greet-2")).unwrap();
    assert!(
        greeted.contains("completed") && greeted.contains("greeted  1/1 (100%)"),
        "{out}"
    );

    // --status
    let listing = reprise(db, &["list", "--status", "running", "--json"])
        .await
        .json();
    assert_eq!(ids(&listing), (vec!["waiting-1".to_owned()], None));
    let listing = reprise(db, &["list", "--status", "blocked", "--json"])
        .await
        .json();
    assert_eq!(ids(&listing).0, ["blocked-1"]);
    assert!(listing["workflows"][0]["error"]
        .as_str()
        .unwrap()
        .contains("seven"));
    let out = reprise(db, &["list", "--status", "cancelled"]).await.ok();
    assert_eq!(out, "no workflows match\n");

    // --name
    let listing = reprise(db, &["list", "--name", "greet", "--json"])
        .await
        .json();
    let (mut names, _) = ids(&listing);
    names.sort();
    assert_eq!(names, ["greet-1", "greet-2", "greet-3"]);
    assert_eq!(listing["workflows"][0]["workflow_type"], "greet");
    assert_eq!(listing["workflows"][0]["status"], "completed");

    // --since: a cut between the first four and the last.
    let cut = format!("{}ms", old.elapsed().as_millis() - 1000);
    let listing = reprise(db, &["list", "--since", &cut, "--json"])
        .await
        .json();
    assert_eq!(ids(&listing).0, ["waiting-1"], "--since {cut}");
    let listing = reprise(db, &["list", "--since", "1h", "--json"])
        .await
        .json();
    assert_eq!(ids(&listing).0.len(), 5);

    // --limit and --page: every workflow once, over three pages.
    let mut seen = Vec::new();
    let mut page: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["list", "--limit", "2", "--json"];
        if let Some(token) = &page {
            args.extend(["--page", token.as_str()]);
        }
        let (got, next) = ids(&reprise(db, &args).await.json());
        pages += 1;
        assert!(got.len() <= 2);
        seen.extend(got);
        match next {
            Some(token) => page = Some(token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5, "{seen:?}");
    assert_eq!(seen[0], "waiting-1", "newest first");

    // The table's last line tells the next page's command.
    let out = reprise(db, &["list", "--limit", "2"]).await.ok();
    let more = out.lines().last().unwrap();
    let token = more
        .strip_prefix("more: reprise list --limit 2 --page ")
        .unwrap_or_else(|| panic!("{out}"));
    let out = reprise(db, &["list", "--limit", "2", "--page", token])
        .await
        .ok();
    assert_eq!(out.lines().count(), 4, "header, two rows, more: {out}");
    rt.shutdown().await.unwrap();
}
