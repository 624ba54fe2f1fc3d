//! Replay checks before a deploy: `reprise::testing::replay` on one
//! recorded history, `Runtime::check_replay` and `check_replay_on_start`
//! on a SQLite store, and `replay-check` of an operator binary
//! (`examples/operator.rs`) against stores left by older code.

mod common;

/// The current code: the operator example's workflow, as it registers it.
#[path = "../examples/operator.rs"]
#[allow(dead_code)]
mod operator;

use std::process::Command;
use std::time::{Duration, Instant};

use reprise::prelude::*;
use reprise::testing::{replay, ReplayErrorKind};
use reprise::{ReplayOutcome, WorkflowStatus};
use serde_json::Value;

use operator::{order_approval, request_approval, ship, Approve};

/// The code before the deploy: it asked a manager by e-mail, another
/// activity, at sequence number 0.
mod v1 {
    use super::*;

    #[activity]
    pub async fn email_manager(_order: String) -> Result<(), ActivityError> {
        Ok(())
    }

    #[workflow(name = "order_approval")]
    pub async fn order_approval(
        ctx: WorkflowContext,
        order: String,
    ) -> Result<String, WorkflowError> {
        ctx.activity(email_manager, order.clone()).await?;
        let approval = ctx.signal::<Approve>().recv().await;
        Ok(ctx.activity(ship, (order, approval.by)).await?)
    }
}

/// Changed after the point every open run waits at: compatible with them.
mod later {
    use super::*;

    #[workflow(name = "order_approval")]
    pub async fn order_approval(
        ctx: WorkflowContext,
        order: String,
    ) -> Result<String, WorkflowError> {
        ctx.activity(request_approval, order.clone()).await?;
        let approval = ctx.signal::<Approve>().recv().await;
        ctx.sleep(Duration::from_secs(60)).await; // new: a cooling-off period
        Ok(ctx.activity(ship, (order, approval.by)).await?)
    }
}

#[activity]
async fn double(n: u64) -> Result<u64, ActivityError> {
    Ok(n * 2)
}

/// Ends in three ways over the same calls, and a fourth that panics.
mod ends {
    use super::*;

    #[workflow(name = "ender")]
    pub async fn ok(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
        Ok(ctx.activity(double, n).await?)
    }

    #[workflow(name = "ender")]
    pub async fn err(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
        let doubled = ctx.activity(double, n).await?;
        Err(WorkflowError::new(format!("{doubled} is too much")))
    }

    #[workflow(name = "ender")]
    pub async fn panics(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
        let doubled = ctx.activity(double, n).await?;
        if doubled == 6 {
            panic!("{doubled} is not allowed");
        }
        Ok(doubled)
    }

    /// `double`'s recorded `u64` read as a struct: it no longer decodes.
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Doubled {
        pub value: u64,
    }

    #[activity(name = "double")]
    pub async fn double_rich(n: u64) -> Result<Doubled, ActivityError> {
        Ok(Doubled { value: n * 2 })
    }

    #[workflow(name = "ender")]
    pub async fn decodes_otherwise(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
        Ok(ctx.activity(double_rich, n).await?.value)
    }
}

/// Waits on a long timer: unchanged between the versions.
#[workflow]
async fn sleeper(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(())
}

/// A type the new code no longer has.
#[workflow]
async fn legacy(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(())
}

/// Waits (10 s at most) until workflow `id`'s history holds an event of
/// type `event`; the history as JSON.
async fn wait_for_event(rt: &Runtime, id: &str, event: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let history = serde_json::to_value(rt.history(id).await.unwrap()).unwrap();
        if history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == event)
        {
            return history;
        }
        assert!(Instant::now() < deadline, "no {event} in {history:#}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The history of `order_approval` (the `v1` version when `old`) for `id`,
/// recorded in memory while it waits for its approval.
async fn recorded_approval(old: bool) -> Value {
    let builder = Runtime::builder().in_memory().activity(ship);
    let rt = if old {
        let rt = builder
            .workflow(v1::order_approval)
            .activity(v1::email_manager)
            .build()
            .await
            .unwrap();
        rt.start(v1::order_approval, "o-7".into())
            .id("o-7")
            .await
            .unwrap();
        rt
    } else {
        let rt = builder
            .workflow(order_approval)
            .activity(request_approval)
            .build()
            .await
            .unwrap();
        rt.start(order_approval, "o-7".into())
            .id("o-7")
            .await
            .unwrap();
        rt
    };
    let history = wait_for_event(&rt, "o-7", "ActivityCompleted").await;
    rt.shutdown().await.unwrap();
    history
}

#[tokio::test]
async fn a_recorded_history_replays_with_the_code_that_recorded_it() {
    let history = recorded_approval(false).await;
    replay(order_approval, &history).unwrap();
    // Code changed after the point the run waits at: nothing recorded
    // says otherwise.
    replay(later::order_approval, &history).unwrap();
    // A bare array of events, as in `WorkflowHistory::events`.
    replay(order_approval, &history["events"]).unwrap();
    // The typed history, serialized again.
    let typed: reprise::WorkflowHistory = serde_json::from_value(history.clone()).unwrap();
    replay(order_approval, &serde_json::to_value(&typed).unwrap()).unwrap();

    // Terminated while it waited: the termination is not the code's doing.
    let terminated = {
        let rt = Runtime::builder()
            .in_memory()
            .workflow(order_approval)
            .activity(request_approval)
            .build()
            .await
            .unwrap();
        rt.start(order_approval, "o-8".into())
            .id("o-8")
            .await
            .unwrap();
        wait_for_event(&rt, "o-8", "ActivityCompleted").await;
        rt.terminate("o-8", "by hand").await.unwrap();
        let history = wait_for_event(&rt, "o-8", "WorkflowTerminated").await;
        rt.shutdown().await.unwrap();
        history
    };
    assert_eq!(terminated["status"], "terminated");
    replay(order_approval, &terminated).unwrap();
    let err = replay(v1::order_approval, &terminated).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);
    // Terminated before its first activation.
    let started = serde_json::json!([
        terminated["events"][0].clone(),
        { "type": "WorkflowTerminated", "reason": "at once" },
    ]);
    replay(order_approval, &started).unwrap();
}

#[tokio::test]
async fn a_test_env_history_of_a_whole_run_replays() {
    let env = reprise::testing::TestEnv::builder()
        .workflow(later::order_approval)
        .mock(request_approval, |_order: String| Ok(()))
        .mock(ship, |(order, by): (String, String)| {
            Ok(format!("{order}/{by}"))
        })
        .build()
        .await
        .unwrap();
    let handle = env
        .start(later::order_approval, "o-9".into())
        .id("o-9")
        .await
        .unwrap();
    env.signal("o-9", Approve { by: "ada".into() })
        .await
        .unwrap();
    env.advance(Duration::from_secs(60)).await;
    assert_eq!(handle.result().await.unwrap(), "o-9/ada");
    let history = env.history("o-9").await.unwrap();
    assert_eq!(history["status"], "completed");
    replay(later::order_approval, &history).unwrap();
    // The code before the cooling-off period: the history recorded a
    // timer where it asks for the shipment.
    let err = replay(order_approval, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);
    assert_eq!(err.seq, Some(1));
    assert_eq!(err.recorded, "timer (`ctx.sleep(..)`)");
    assert_eq!(err.asked, "activity `ship`");
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn changed_code_diverges_at_the_first_different_call() {
    let history = recorded_approval(true).await;
    let err = replay(order_approval, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);
    assert_eq!(err.seq, Some(0));
    assert_eq!(err.recorded, "activity `email_manager`");
    assert_eq!(err.asked, "activity `request_approval`");
    assert_eq!(
        err.to_string(),
        "non-determinism at sequence number 0: the history recorded activity `email_manager`, \
         but the code asked for activity `request_approval`"
    );
}

/// Records a whole run of `ender` (the `ok` version, which completes).
async fn recorded_ending() -> Value {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(ends::ok)
        .activity(double)
        .build()
        .await
        .unwrap();
    let handle = rt.start(ends::ok, 3).id("e").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 6);
    let history = serde_json::to_value(rt.history("e").await.unwrap()).unwrap();
    rt.shutdown().await.unwrap();
    history
}

#[tokio::test]
async fn a_body_that_ends_otherwise_or_panics_or_reads_a_value_otherwise_diverges() {
    let history = recorded_ending().await;
    replay(ends::ok, &history).unwrap();

    let err = replay(ends::err, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);
    assert_eq!(err.seq, Some(1));
    assert_eq!(err.recorded, "the workflow's completion");
    assert!(
        err.asked
            .starts_with("the workflow's failure (`Err`: 6 is too much"),
        "{err}"
    );

    let err = replay(ends::panics, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Panic);
    assert_eq!(err.asked, "6 is not allowed");
    assert_eq!(
        err.to_string(),
        "the workflow code panicked: 6 is not allowed"
    );

    let err = replay(ends::decodes_otherwise, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Decode);
    assert_eq!(err.seq, Some(0));
    assert_eq!(err.recorded, "activity `double`");
    assert!(
        err.to_string().starts_with(
            "cannot decode the recorded result of activity `double` at sequence number 0"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_history_of_another_type_or_no_history_at_all_is_refused_clearly() {
    let history = recorded_ending().await;
    let err = replay(order_approval, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::WrongWorkflowType);
    assert_eq!(
        (err.recorded.as_str(), err.asked.as_str()),
        ("ender", "order_approval")
    );
    assert_eq!(
        err.to_string(),
        "the history is of workflow type `ender`, not `order_approval`: \
         replay it against the code of `ender`"
    );

    let bad = |json: Value| {
        let err = replay(ends::ok, &json).unwrap_err();
        assert_eq!(err.kind, ReplayErrorKind::BadHistory, "{err}");
        err.to_string()
    };
    assert!(bad(Value::from("events")).contains("found a string"));
    assert!(bad(serde_json::json!({ "workflow_id": "e" })).contains("an object with `events`"));
    assert_eq!(
        bad(serde_json::json!({ "events": {} })),
        "the history's `events` is not an array"
    );
    assert_eq!(
        bad(serde_json::json!([])),
        "the history has no events: it starts with `WorkflowStarted`"
    );
    assert!(
        bad(serde_json::json!([{ "type": "WorkflowStarted", "name": "ender", "input": 3 }, { "type": "Bogus" }]))
            .starts_with("history row 1 is not a valid event"),
    );
    assert!(
        bad(serde_json::json!([{ "type": "Activation", "time_ms": 1 }]))
            .starts_with("history row 0 is out of place: expected `WorkflowStarted`")
    );
    let mut shuffled = history["events"].clone();
    shuffled.as_array_mut().unwrap().swap(1, 2);
    assert!(bad(shuffled).starts_with("history row 1 is out of place"));
    // A recorded input the code cannot read.
    let mut input = history.clone();
    input["events"][0]["input"] = Value::from("three");
    let err = replay(ends::ok, &input).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Decode);
    assert!(
        err.to_string()
            .contains("input of workflow `ender` does not decode"),
        "{err}"
    );
}

/// A v1 worker on `db` leaves three open runs and shuts down: `o-1`
/// (`order_approval`, waiting for its approval), `s-1` (`sleeper`, on an
/// hour's timer), `l-1` (`legacy`, a type the new code dropped).
async fn leave_open_runs(db: &common::TempDb) {
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v1::order_approval)
        .workflow(sleeper)
        .workflow(legacy)
        .activity(v1::email_manager)
        .activity(ship)
        .build()
        .await
        .unwrap();
    rt.start(v1::order_approval, "o-1".into())
        .id("o-1")
        .await
        .unwrap();
    rt.start(sleeper, ()).id("s-1").await.unwrap();
    rt.start(legacy, ()).id("l-1").await.unwrap();
    wait_for_event(&rt, "o-1", "ActivityCompleted").await;
    wait_for_event(&rt, "s-1", "TimerStarted").await;
    wait_for_event(&rt, "l-1", "TimerStarted").await;
    rt.shutdown().await.unwrap();
}

/// A worker with the current code (`order_approval` and `sleeper`).
async fn new_worker(db: &common::TempDb, check: bool) -> Runtime {
    Runtime::builder()
        .sqlite(&db.path)
        .workflow(order_approval)
        .workflow(sleeper)
        .activity(request_approval)
        .activity(ship)
        .check_replay_on_start(check)
        .build()
        .await
        .unwrap()
}

const DIVERGENCE: &str = "non-determinism at sequence number 0: the history recorded activity \
                          `email_manager`, but the code asked for activity `request_approval`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_replay_reports_and_check_replay_on_start_blocks_the_divergent_runs() {
    let db = common::TempDb::new("replay-check");
    leave_open_runs(&db).await;

    // Without the check, the new worker does not replay a run waiting on a
    // signal: it would block `o-1` only when its approval comes.
    let rt = new_worker(&db, false).await;
    assert_eq!(
        rt.describe("o-1").await.unwrap().status,
        WorkflowStatus::Running
    );
    let events = rt.history("o-1").await.unwrap().events.len();
    let report = rt.check_replay().await.unwrap();
    let by_id = |id: &str| {
        report
            .runs
            .iter()
            .find(|r| r.workflow_id == id)
            .unwrap_or_else(|| panic!("{id} in {report:#?}"))
            .clone()
    };
    assert_eq!(report.runs.len(), 3, "{report:#?}");
    let o1 = by_id("o-1");
    assert_eq!(o1.workflow_type, "order_approval");
    assert_eq!(o1.status, WorkflowStatus::Running);
    let error = o1.error().expect("o-1 diverges");
    assert_eq!(error.kind, ReplayErrorKind::Nondeterminism);
    assert_eq!(error.to_string(), DIVERGENCE);
    assert_eq!(by_id("s-1").outcome, ReplayOutcome::Ok);
    assert_eq!(by_id("l-1").outcome, ReplayOutcome::NotRegistered);
    assert!(!report.is_clean());
    assert_eq!(report.divergences().count(), 1);
    assert_eq!(report.not_registered().count(), 1);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        (&json["ok"], &json["diverged"], &json["not_registered"]),
        (&Value::from(1), &Value::from(1), &Value::from(1))
    );
    let o1_json = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workflow_id"] == "o-1")
        .unwrap();
    assert_eq!(o1_json["outcome"], "diverged");
    assert_eq!(o1_json["status"], "running");
    assert_eq!(o1_json["error"]["kind"], "nondeterminism");
    assert_eq!(o1_json["error"]["seq"], 0);
    assert_eq!(o1_json["error"]["recorded"], "activity `email_manager`");
    assert_eq!(o1_json["error"]["message"], DIVERGENCE);
    // Nothing was written.
    let info = rt.describe("o-1").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Running);
    assert_eq!(info.error, None);
    assert_eq!(rt.history("o-1").await.unwrap().events.len(), events);
    rt.shutdown().await.unwrap();

    // With it, `o-1` is blocked by the time `build` returns, as a worker
    // that replayed it would block it; `s-1` goes on untouched.
    let rt = new_worker(&db, true).await;
    let info = rt.describe("o-1").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Blocked, "{info:?}");
    let error = info.error.unwrap();
    assert!(error.starts_with("workflow `o-1` run `"), "{error}");
    assert!(error.ends_with(&format!("`: {DIVERGENCE}")), "{error}");
    assert_eq!(rt.history("o-1").await.unwrap().events.len(), events);
    let sleeping = rt.describe("s-1").await.unwrap();
    assert_eq!(sleeping.status, WorkflowStatus::Running);
    assert_eq!(sleeping.error, None);
    assert_eq!(
        rt.describe("l-1").await.unwrap().status,
        WorkflowStatus::Running
    );
    // The report says the same of the blocked run.
    let report = rt.check_replay().await.unwrap();
    let o1 = report.runs.iter().find(|r| r.workflow_id == "o-1").unwrap();
    assert_eq!(o1.status, WorkflowStatus::Blocked);
    assert_eq!(o1.error().unwrap().to_string(), DIVERGENCE);
    rt.shutdown().await.unwrap();

    // A worker with the old code again: the run resumes, and the
    // approval finishes it.
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v1::order_approval)
        .activity(v1::email_manager)
        .activity(ship)
        .check_replay_on_start(true)
        .build()
        .await
        .unwrap();
    assert_eq!(
        rt.describe("o-1").await.unwrap().status,
        WorkflowStatus::Running
    );
    rt.signal("o-1", Approve { by: "ada".into() })
        .await
        .unwrap();
    let handle = rt.handle::<String>("o-1").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), "o-1-approved-by-ada");
    rt.shutdown().await.unwrap();
}

/// Runs the operator example with `--db db ARGS`: (exit code, stdout, stderr).
fn operator_binary(db: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let out = Command::new(BINARY.get_or_init(|| common::example_binary("operator")))
        .env_remove("REPRISE_DB")
        .env_remove("REPRISE_POSTGRES")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("the operator example runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_binary_replay_checks_a_store_before_a_deploy() {
    // A store whose open runs the operator's code replays: exit code 0.
    let fine = common::TempDb::new("replay-check-fine");
    let rt = Runtime::builder()
        .sqlite(&fine.path)
        .workflow(order_approval)
        .activity(request_approval)
        .activity(ship)
        .build()
        .await
        .unwrap();
    rt.start(order_approval, "o-2".into())
        .id("o-2")
        .await
        .unwrap();
    wait_for_event(&rt, "o-2", "ActivityCompleted").await;
    rt.shutdown().await.unwrap();
    let path = fine.path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || operator_binary(&path, &["replay-check"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "o-2  order_approval  running  ok\n1 open run: 1 ok, 0 diverged, 0 not registered here\n"
    );

    // `history --json` of the same binary reads back for `replay`.
    let path = fine.path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || operator_binary(&path, &["history", "o-2", "--json"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    let exported: Value = serde_json::from_str(&out).unwrap();
    replay(order_approval, &exported).unwrap();
    let err = replay(v1::order_approval, &exported).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);

    // A store left by the old code: exit code 1, the divergence named.
    let old = common::TempDb::new("replay-check-old");
    leave_open_runs(&old).await;
    let path = old.path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || operator_binary(&path, &["replay-check"]))
            .await
            .unwrap();
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines.contains(&format!("o-1  order_approval  running  DIVERGED: {DIVERGENCE}").as_str()),
        "{out}"
    );
    assert!(
        lines.contains(&"s-1  sleeper         running  not registered here"),
        "{out}"
    );
    assert!(
        lines.contains(&"l-1  legacy          running  not registered here"),
        "{out}"
    );
    assert_eq!(
        lines[3],
        "3 open runs: 0 ok, 1 diverged, 2 not registered here"
    );

    let path = old.path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || operator_binary(&path, &["replay-check", "--json"]))
            .await
            .unwrap();
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["diverged"], 1);
    assert_eq!(report["not_registered"], 2);
    let o1 = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workflow_id"] == "o-1")
        .unwrap();
    assert_eq!(o1["error"]["message"], DIVERGENCE);
}
