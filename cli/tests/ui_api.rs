//! The web UI's JSON API, against `reprise ui --port 0` run as a client
//! process on a SQLite store that a worker in this test process fills and
//! runs: the list's filters and pages, a workflow described, its timeline
//! in windows, the actions (one workflow and bulk), and the errors, each
//! a 4xx with `{"error": ...}`.

mod common;
mod ui;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reprise::WorkflowStatus;
use serde_json::{json, Value};

use ui::{failing, greet, register, stepper, wait_for_status, waiter, Fixture, UiProcess};

/// The ids of a list answer.
fn ids(page: &Value) -> Vec<String> {
    page["workflows"]
        .as_array()
        .unwrap_or_else(|| panic!("no workflows in {page}"))
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts a 4xx answer whose `error` contains `needle`.
fn assert_error(answer: &(u16, Value), status: u16, needle: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no `error` in {body}"));
    assert!(error.contains(needle), "`{error}` lacks `{needle}`");
}

/// 5 greetings (completed), 3 waiters (running), 1 failure.
async fn filled(name: &str) -> Fixture {
    let f = Fixture::new(name).await;
    for i in 0..5 {
        f.rt.start(greet, format!("guest {i}"))
            .id(format!("greet-{i}"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        f.rt.start(waiter, format!("w{i}"))
            .id(format!("wait-{i}"))
            .await
            .unwrap();
    }
    f.rt.start(failing, "deleting prod".to_owned())
        .id("fail-0")
        .await
        .unwrap();
    for i in 0..5 {
        wait_for_status(&f.rt, &format!("greet-{i}"), WorkflowStatus::Completed).await;
    }
    wait_for_status(&f.rt, "fail-0", WorkflowStatus::Failed).await;
    f
}

#[tokio::test]
async fn the_list_filters_and_pages() {
    let f = filled("list").await;

    // Every workflow, 4 a page: three pages, nothing twice, newest first.
    let mut seen = Vec::new();
    let mut path = "/api/workflows?limit=4".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = f.get(&path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(ids(&page));
        match page["next_page"].as_str() {
            Some(token) => path = format!("/api/workflows?limit=4&page={token}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 9);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 9, "{seen:?}");
    assert_eq!(seen[0], "fail-0", "newest first: {seen:?}");

    let set = |page: &Value| ids(page).into_iter().collect::<BTreeSet<_>>();
    let expect = |prefix: &str, n: usize| {
        (0..n)
            .map(|i| format!("{prefix}-{i}"))
            .collect::<BTreeSet<_>>()
    };
    let (_, running) = f.get("/api/workflows?status=running").await;
    assert_eq!(set(&running), expect("wait", 3));
    assert!(running["next_page"].is_null());
    let (_, greetings) = f.get("/api/workflows?name=greet&status=all").await;
    assert_eq!(set(&greetings), expect("greet", 5));
    let (_, done) = f
        .get("/api/workflows?status=completed&name=greet&within=1h")
        .await;
    assert_eq!(set(&done), expect("greet", 5));
    let (_, failed) = f.get("/api/workflows?status=failed").await;
    assert_eq!(set(&failed), expect("fail", 1));
    assert_eq!(failed["workflows"][0]["workflow_type"], "failing");
    let (_, none) = f.get("/api/workflows?name=nobody").await;
    assert_eq!(ids(&none), Vec::<String>::new());
    // Blank filters mean "any".
    let (_, blank) = f
        .get("/api/workflows?status=&name=&within=&page=&limit=")
        .await;
    assert_eq!(ids(&blank).len(), 9);

    // Bad input: 400 with one clear line.
    assert_error(
        &f.get("/api/workflows?status=paused").await,
        400,
        "unknown workflow status `paused`",
    );
    assert_error(
        &f.get("/api/workflows?page=yesterday").await,
        400,
        "invalid page token `yesterday`",
    );
    assert_error(&f.get("/api/workflows?limit=0").await, 400, "`limit`");
    assert_error(&f.get("/api/workflows?limit=5000").await, 400, "1 to 1000");
    assert_error(
        &f.get("/api/workflows?within=soon").await,
        400,
        "bad `within` value `soon`",
    );
    assert_error(&f.get("/api/nothing").await, 404, "no such page");
}

#[tokio::test]
async fn a_workflow_is_described_with_its_input_and_its_timeline_in_windows() {
    let f = filled("describe").await;

    let (status, greeting) = f.get("/api/workflows/greet-2").await;
    assert_eq!(status, 200, "{greeting}");
    assert_eq!(greeting["workflow_type"], "greet");
    assert_eq!(greeting["status"], "completed");
    assert_eq!(greeting["result"], "hello, guest 2");
    assert_eq!(greeting["progress"], json!({ "greeted": 1 }));
    assert_eq!(greeting["runs"].as_array().unwrap().len(), 1);
    assert!(greeting["now_ms"].as_u64().unwrap() > 0);

    let (status, timeline) = f.get("/api/workflows/greet-2/timeline").await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(timeline["input"], "guest 2");
    assert_eq!(timeline["run_id"], greeting["runs"][0]["run_id"]);
    let steps = timeline["steps"].as_array().unwrap();
    let summary: Vec<_> = steps
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [("activity", "hello"), ("end", "completed")]);
    assert_eq!(steps[0]["outcome"], "completed");
    assert_eq!(steps[0]["value"], "hello, guest 2");
    assert!(steps[0]["end_ms"].as_u64() >= steps[0]["start_ms"].as_u64());
    assert_eq!(timeline["total"], 2);

    // The same run asked for by id.
    let run = greeting["runs"][0]["run_id"].as_str().unwrap();
    let (status, by_run) = f
        .get(&format!("/api/workflows/greet-2/timeline?run={run}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_run["steps"], timeline["steps"]);

    // A failure: the error, on the workflow and on the step.
    let (_, failure) = f.get("/api/workflows/fail-0").await;
    assert_eq!(failure["status"], "failed");
    let (_, steps) = f.get("/api/workflows/fail-0/timeline").await;
    let activity = &steps["steps"][0];
    assert_eq!(activity["outcome"], "failed");
    assert_eq!(activity["error"], "Refused: deleting prod is not allowed");
    assert_eq!(activity["attempts"], 1);

    // A running waiter: its pending timer, and its timeline so far.
    let (_, waiting) = f.get("/api/workflows/wait-1").await;
    assert_eq!(waiting["status"], "running");
    assert_eq!(waiting["progress"], json!({ "waiting": "w1" }));
    let pending = waiting["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{waiting}");
    assert_eq!(pending[0]["kind"], "timer");
    let in_an_hour = pending[0]["due_ms"].as_u64().unwrap() - waiting["now_ms"].as_u64().unwrap();
    assert!(in_an_hour > 3_500_000, "{in_an_hour}");

    // 450 steps and the end: windows of the timeline.
    f.rt.start(stepper, 450).id("many").await.unwrap();
    wait_for_status(&f.rt, "many", WorkflowStatus::Completed).await;
    let (_, first) = f.get("/api/workflows/many/timeline").await;
    assert_eq!(first["total"], 451);
    assert_eq!(first["offset"], 0);
    assert_eq!(first["limit"], 200);
    assert_eq!(first["steps"].as_array().unwrap().len(), 200);
    assert!(
        first["events"].as_u64().unwrap() > 900,
        "{}",
        first["events"]
    );
    let (_, last) = f
        .get("/api/workflows/many/timeline?offset=400&limit=200")
        .await;
    let window = last["steps"].as_array().unwrap();
    assert_eq!(window.len(), 51);
    assert_eq!(window[0]["index"], 400);
    assert_eq!(window[50]["kind"], "end");
    assert!(last["first_ms"].as_u64() <= last["last_ms"].as_u64());
    let (_, past) = f.get("/api/workflows/many/timeline?offset=9999").await;
    assert_eq!(past["steps"], json!([]));

    // Unknown ids and runs: 404; bad windows: 400.
    assert_error(
        &f.get("/api/workflows/nobody").await,
        404,
        "no workflow with id `nobody`",
    );
    assert_error(
        &f.get("/api/workflows/nobody/timeline").await,
        404,
        "nobody",
    );
    assert_error(
        &f.get("/api/workflows/greet-2/timeline?run=r-404").await,
        404,
        "has no run `r-404`",
    );
    assert_error(
        &f.get("/api/workflows/many/timeline?offset=-1").await,
        400,
        "`offset`",
    );
    assert_error(
        &f.get("/api/workflows/many/timeline?limit=1001").await,
        400,
        "`limit`",
    );
    // An id with a slash and spaces travels percent-encoded.
    f.rt.start(greet, "odd".to_owned())
        .id("team a/job 1")
        .await
        .unwrap();
    wait_for_status(&f.rt, "team a/job 1", WorkflowStatus::Completed).await;
    let (status, odd) = f.get("/api/workflows/team%20a%2Fjob%201").await;
    assert_eq!(status, 200, "{odd}");
    assert_eq!(odd["workflow_id"], "team a/job 1");
}

#[tokio::test]
async fn actions_take_effect_and_bad_ones_are_refused_clearly() {
    let f = filled("actions").await;

    // Signal: the waiter returns the reason it was sent.
    let answer = f
        .post(
            "/api/workflows/wait-0/signal",
            json!({ "name": "stop", "payload": { "reason": "from the UI" } }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["message"], "signal `stop` sent to `wait-0`");
    wait_for_status(&f.rt, "wait-0", WorkflowStatus::Completed).await;
    let (_, done) = f.get("/api/workflows/wait-0").await;
    assert_eq!(done["result"], "from the UI");

    // Cancel and terminate.
    let answer = f.post("/api/workflows/wait-1/cancel", json!({})).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    wait_for_status(&f.rt, "wait-1", WorkflowStatus::Cancelled).await;
    let answer = f
        .post(
            "/api/workflows/wait-2/terminate",
            json!({ "reason": "stuck on purpose" }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    wait_for_status(&f.rt, "wait-2", WorkflowStatus::Terminated).await;
    let (_, ended) = f.get("/api/workflows/wait-2/timeline").await;
    let end = ended["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (end["kind"].as_str(), end["error"].as_str()),
        (Some("end"), Some("stuck on purpose"))
    );

    // A workflow that has ended takes nothing more: 409.
    assert_error(
        &f.post("/api/workflows/greet-0/cancel", json!({})).await,
        409,
        "has ended (completed)",
    );
    assert_error(
        &f.post(
            "/api/workflows/greet-0/signal",
            json!({ "name": "stop", "payload": null }),
        )
        .await,
        409,
        "has ended",
    );
    // Unknown workflow, unknown action, a signal without a name.
    assert_error(
        &f.post("/api/workflows/nobody/cancel", json!({})).await,
        404,
        "no workflow with id `nobody`",
    );
    assert_error(
        &f.post("/api/workflows/greet-0/explode", json!({})).await,
        404,
        "no action `explode`",
    );
    assert_error(
        &f.post("/api/workflows/greet-0/signal", json!({ "payload": 1 }))
            .await,
        400,
        "a signal needs a name",
    );

    // A body that is not JSON, or not sent as JSON, or from another origin.
    let raw = |body: &'static str, content_type: &'static str| {
        f.http
            .post(f.ui.at("/api/workflows/greet-0/cancel"))
            .header("content-type", content_type)
            .body(body)
    };
    let answer = raw("{not json", "application/json").send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body"),
        "{body}"
    );
    for content_type in ["application/x-www-form-urlencoded", "text/plain"] {
        let answer = raw("{}", content_type).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 415, "{content_type}");
        let body: Value = answer.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("application/json"),
            "{body}"
        );
    }
    let answer = raw("{}", "application/json")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);
    // A page of another host name (DNS rebinding) reads nothing.
    let answer = f
        .http
        .get(f.ui.at("/api/workflows"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );
}

#[tokio::test]
async fn a_bulk_action_walks_every_page_of_the_filter() {
    let f = Fixture::new("bulk").await;
    for i in 0..12 {
        f.rt.start(waiter, format!("b{i}"))
            .id(format!("bulk-{i}"))
            .await
            .unwrap();
    }
    f.rt.start(greet, "g".to_owned()).id("greet").await.unwrap();
    wait_for_status(&f.rt, "greet", WorkflowStatus::Completed).await;

    // A filter that matches only the greeting, which has ended: skipped.
    // Then every running waiter is terminated.
    let (status, report) = f
        .post("/api/bulk/cancel", json!({ "filter": { "name": "greet" } }))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            report["matched"].as_u64(),
            report["acted"].as_u64(),
            report["skipped"].as_u64()
        ),
        (Some(1), Some(0), Some(1))
    );
    let (status, report) = f
        .post(
            "/api/bulk/terminate",
            json!({ "filter": { "status": "running", "name": "waiter" }, "reason": "bulk" }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["matched"], 12, "{report}");
    assert_eq!(report["acted"], 12, "{report}");
    assert_eq!(report["failed_count"], 0, "{report}");
    assert_eq!(
        report["message"],
        "terminate: 12 of 12 matching workflows acted on, 0 skipped (already ended), 0 failed"
    );
    for i in 0..12 {
        wait_for_status(&f.rt, &format!("bulk-{i}"), WorkflowStatus::Terminated).await;
    }
    // Nothing is running any more: the same action matches nothing.
    let (_, again) = f
        .post(
            "/api/bulk/terminate",
            json!({ "filter": { "status": "running" } }),
        )
        .await;
    assert_eq!(again["matched"], 0, "{again}");
    // Bad filters and actions are refused before anything is done.
    assert_error(
        &f.post(
            "/api/bulk/cancel",
            json!({ "filter": { "status": "done" } }),
        )
        .await,
        400,
        "unknown workflow status `done`",
    );
    assert_error(
        &f.post("/api/bulk/explode", json!({})).await,
        404,
        "no action `explode`",
    );
}

#[tokio::test]
async fn the_pages_are_served_and_sigterm_stops_the_server() {
    let mut f = Fixture::new("pages").await;
    for path in ["/", "/workflow?id=x"] {
        let page = f.http.get(f.ui.at(path)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"<script src="/app.js""#), "{html}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing external"
        );
    }
    for (path, content_type) in [
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let asset = f.http.get(f.ui.at(path)).send().await.unwrap();
        assert_eq!(asset.status().as_u16(), 200, "{path}");
        let got = asset.headers()["content-type"].to_str().unwrap();
        assert!(got.starts_with(content_type), "{path}: {got}");
        assert_eq!(asset.headers()["x-content-type-options"], "nosniff");
    }
    // The script never puts data into the page as HTML.
    let script = f.http.get(f.ui.at("/app.js")).send().await.unwrap();
    let script = script.text().await.unwrap();
    assert!(
        !script.contains("innerHTML"),
        "app.js must build the DOM with textContent"
    );

    // SIGTERM: a graceful stop, exit code 0.
    let pid = f.ui.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = f.ui.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "`reprise ui` still runs 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
}

/// The same API over PostgreSQL (`reprise ui --postgres URL`), beside a
/// worker on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_works_on_postgres() {
    let pg = common::pg::TestDatabase::new();
    let rt = register(reprise::Runtime::builder().postgres(&pg.url))
        .build()
        .await
        .unwrap();
    rt.start(greet, "pg".to_owned())
        .id("pg-greet")
        .await
        .unwrap();
    rt.start(waiter, "pg".to_owned())
        .id("pg-wait")
        .await
        .unwrap();
    wait_for_status(&rt, "pg-greet", WorkflowStatus::Completed).await;
    let ui = UiProcess::start_with(&["--postgres".as_ref(), pg.url.as_ref()]);
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(ui.at(path));
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };

    let (status, page) = get("/api/workflows?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), ["pg-wait"]);
    let token = page["next_page"].as_str().unwrap().to_owned();
    let (_, next) = get(&format!("/api/workflows?limit=1&page={token}")).await;
    assert_eq!(ids(&next), ["pg-greet"]);
    let (_, done) = get("/api/workflows?status=completed").await;
    assert_eq!(ids(&done), ["pg-greet"]);
    let (_, timeline) = get("/api/workflows/pg-greet/timeline").await;
    assert_eq!(timeline["input"], "pg");
    assert_eq!(timeline["total"], 2);
    assert_error(&get("/api/workflows/nobody").await, 404, "nobody");

    let cancelled = http
        .post(ui.at("/api/workflows/pg-wait/cancel"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status().as_u16(), 200);
    wait_for_status(&rt, "pg-wait", WorkflowStatus::Cancelled).await;
    drop(ui);
    rt.shutdown().await.unwrap();
}
