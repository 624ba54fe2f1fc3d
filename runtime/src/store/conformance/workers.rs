//! The generic cases of several workers on one store: two claimers never
//! get the same run or attempt, a burst of claims is capped per call, an
//! expired lease moves work, a fenced stale write changes nothing, release
//! gives work back at once.

use serde_json::json;

use super::*;

fn lease(worker: &str, ms: u64) -> Lease {
    Lease {
        worker: worker.to_owned(),
        duration: Duration::from_millis(ms),
    }
}

const NAMES: &[&str] = &["etl", "fetch"];

fn filter(names: &[String], limit: usize) -> ClaimFilter<'_> {
    ClaimFilter {
        names,
        limit,
        horizon_ms: 0,
    }
}

fn names() -> Vec<String> {
    NAMES.iter().map(|n| (*n).to_owned()).collect()
}

/// Runs `w0..wN` created by no worker, as a client creates them.
async fn client_runs(store: &dyn Store, count: usize) {
    for i in 0..count {
        create(store, &format!("w{i}"), &format!("r{i}"), 1_000 + i as u64).await;
    }
}

async fn claim_runs_by(store: &dyn Store, worker: &Lease, limit: usize) -> Vec<ClaimedRun> {
    let names = names();
    store
        .claim_runs(worker, filter(&names, limit))
        .await
        .unwrap()
}

async fn claim_tasks_by(store: &dyn Store, worker: &Lease, limit: usize) -> Vec<Task> {
    let names = names();
    store
        .claim_tasks(worker, filter(&names, limit))
        .await
        .unwrap()
}

fn run_ids(claimed: &[ClaimedRun]) -> Vec<String> {
    claimed.iter().map(|c| c.record.run_id.clone()).collect()
}

pub(super) async fn claim_hands_out_new_runs_once_each_capped_per_call(store: &dyn Store) {
    client_runs(store, 5).await;
    let (a, b) = (lease("a", 60_000), lease("b", 60_000));
    let first = claim_runs_by(store, &a, 3).await;
    assert_eq!(run_ids(&first), ["r0", "r1", "r2"], "oldest first, capped");
    assert!(first.iter().all(|c| c.taken && c.token > 0));
    let second = claim_runs_by(store, &b, 10).await;
    assert_eq!(
        run_ids(&second),
        ["r3", "r4"],
        "never a run another worker holds"
    );
    assert!(claim_runs_by(store, &b, 10).await.is_empty());
    // A's own runs come back only with new messages, under the same token.
    assert!(claim_runs_by(store, &a, 10).await.is_empty());
    store.enqueue("w1", InboxItem::Cancel, 2_000).await.unwrap();
    let again = claim_runs_by(store, &a, 10).await;
    assert_eq!(run_ids(&again), ["r1"]);
    assert!(!again[0].taken);
    assert_eq!(again[0].token, first[1].token);
    assert_eq!(again[0].inbox.len(), 1);
    assert!(claim_runs_by(store, &b, 10).await.is_empty());
    // Tokens are never given twice.
    let mut tokens: Vec<u64> = first.iter().chain(&second).map(|c| c.token).collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), 5);
}

pub(super) async fn concurrent_claimers_never_share_a_run(store: &dyn Store) {
    client_runs(store, 40).await;
    let workers: Vec<Lease> = (0..4).map(|i| lease(&format!("w{i}"), 60_000)).collect();
    let claims = futures_util::future::join_all(workers.iter().map(|w| async move {
        let mut mine = Vec::new();
        loop {
            let got = claim_runs_by(store, w, 3).await;
            if got.is_empty() {
                return mine;
            }
            mine.extend(run_ids(&got));
        }
    }))
    .await;
    let mut all: Vec<String> = claims.into_iter().flatten().collect();
    assert_eq!(all.len(), 40, "every run claimed once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "no run claimed twice");
}

pub(super) async fn an_expired_lease_moves_work_and_fences_the_old_owner(store: &dyn Store) {
    client_runs(store, 1).await;
    let (a, b) = (lease("a", 200), lease("b", 60_000));
    let claimed = claim_runs_by(store, &a, 10).await;
    let old = claimed[0].token;
    let mut first = step("r0", 1, 2);
    first.token = old;
    first.lease = Some(std::sync::Arc::new(a.clone()));
    first.new_tasks = vec![timer("w0", "r0", 0, 0)];
    commit(store, vec![first]).await.unwrap();
    // While A's lease lasts, B gets nothing, even with the timer due.
    assert!(claim_runs_by(store, &b, 10).await.is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = claim_runs_by(store, &b, 10).await;
    assert_eq!(
        run_ids(&taken),
        ["r0"],
        "an expired lease with a due timer moves"
    );
    assert!(taken[0].taken);
    assert_ne!(taken[0].token, old);
    assert_eq!(
        task_keys(&taken[0].tasks),
        [("r0", 0)],
        "the new owner arms its timers"
    );
    // A's stale write changes nothing.
    let mut stale = step("r0", 3, 1);
    stale.token = old;
    let err = commit(store, vec![stale]).await.unwrap_err();
    assert!(err.is_fenced(), "{err}");
    assert_eq!(history(store, "r0").await, expected_history("r0", 3));
    // B's write goes through.
    let mut fresh = step("r0", 3, 1);
    fresh.token = taken[0].token;
    commit(store, vec![fresh]).await.unwrap();
    assert_eq!(history(store, "r0").await.len(), 4);
}

pub(super) async fn renewal_keeps_a_lease_and_release_gives_it_back(store: &dyn Store) {
    client_runs(store, 1).await;
    let (a, b) = (lease("a", 300), lease("b", 60_000));
    let claimed = claim_runs_by(store, &a, 10).await;
    assert_eq!(claimed.len(), 1);
    store.enqueue("w0", InboxItem::Cancel, 2_000).await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        store.renew(&a).await.unwrap();
        assert!(
            claim_runs_by(store, &b, 10).await.is_empty(),
            "renewed: still A's"
        );
    }
    store
        .release(Release::Worker("a".to_owned()))
        .await
        .unwrap();
    let taken = claim_runs_by(store, &b, 10).await;
    assert_eq!(run_ids(&taken), ["r0"], "released: B takes it at once");
    // Releasing one run needs its current token.
    store
        .release(Release::Run {
            run_id: "r0".to_owned(),
            token: claimed[0].token,
        })
        .await
        .unwrap();
    assert!(
        claim_runs_by(store, &a, 10).await.is_empty(),
        "a stale release does nothing"
    );
    store
        .release(Release::Run {
            run_id: "r0".to_owned(),
            token: taken[0].token,
        })
        .await
        .unwrap();
    assert_eq!(run_ids(&claim_runs_by(store, &a, 10).await), ["r0"]);
}

pub(super) async fn claim_tasks_hands_out_free_attempts_once_each(store: &dyn Store) {
    client_runs(store, 1).await;
    let a = lease("a", 200);
    let (b, c) = (lease("b", 60_000), lease("c", 60_000));
    let run = claim_runs_by(store, &a, 10).await;
    let mut first = step("r0", 1, 2);
    first.token = run[0].token;
    first.lease = Some(std::sync::Arc::new(a.clone()));
    first.new_tasks = (1..=4).map(|seq| activity("w0", "r0", seq)).collect();
    commit(store, vec![first]).await.unwrap();
    assert!(
        claim_tasks_by(store, &b, 10).await.is_empty(),
        "A's tasks are A's"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (got_b, got_c) =
        futures_util::future::join(claim_tasks_by(store, &b, 3), claim_tasks_by(store, &c, 3))
            .await;
    assert!(got_b.len() <= 3 && got_c.len() <= 3, "capped per call");
    let mut seqs: Vec<u32> = got_b.iter().chain(&got_c).map(|t| t.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3, 4], "each task once");
    assert!(got_b.iter().chain(&got_c).all(|t| t.token != run[0].token));
    // Tasks of other types are left for workers that have them.
    let only: Vec<String> = vec!["other".to_owned()];
    assert!(store
        .claim_tasks(&lease("d", 60_000), filter(&only, 10))
        .await
        .unwrap()
        .is_empty());
}

pub(super) async fn task_writes_are_fenced_by_the_task_token(store: &dyn Store) {
    client_runs(store, 1).await;
    let a = lease("a", 200);
    let b = lease("b", 60_000);
    let run = claim_runs_by(store, &a, 10).await;
    let mut first = step("r0", 1, 2);
    first.token = run[0].token;
    first.lease = Some(std::sync::Arc::new(a.clone()));
    first.new_tasks = vec![activity("w0", "r0", 1)];
    commit(store, vec![first]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = claim_tasks_by(store, &b, 10).await;
    assert_eq!(taken.len(), 1);
    let old = run[0].token;
    let fresh = taken[0].token;
    // The old holder's retry, heartbeat and completion change nothing.
    let retry = |token| TaskRetry {
        run_id: "r0".to_owned(),
        seq: 1,
        token,
        next_attempt: 2,
        due_ms: 99_000,
        last_error: "x".to_owned(),
    };
    assert!(store.retry_task(retry(old)).await.unwrap_err().is_fenced());
    let beat = store
        .record_heartbeat("r0", 1, old, json!("stale"), LEASE)
        .await;
    assert!(beat.unwrap_err().is_fenced());
    let done = |token| TaskDone {
        workflow_id: "w0".to_owned(),
        run_id: "r0".to_owned(),
        seq: 1,
        token,
        result: Ok(json!(7)),
        now_ms: 5_000,
    };
    assert!(store
        .complete_task(done(old))
        .await
        .unwrap_err()
        .is_fenced());
    let tasks = store.tasks(Some("r0")).await.unwrap();
    assert_eq!(tasks[0].attempt, 1);
    assert_eq!(tasks[0].details, Some(json!({ "offset": 42 })));
    assert!(store.inbox().await.unwrap().is_empty());
    // The new holder's completion ends the task and becomes the run's input,
    // once: a second completion of the same call adds nothing.
    store.complete_task(done(fresh)).await.unwrap();
    store.complete_task(done(fresh)).await.unwrap();
    assert!(store.tasks(Some("r0")).await.unwrap().is_empty());
    let inbox = store.inbox().await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].item,
        InboxItem::Completed {
            seq: 1,
            result: Ok(json!(7))
        }
    );
    // A's lease had expired: the run, with its new input, goes to a claimer.
    let claimed = claim_runs_by(store, &b, 10).await;
    assert_eq!(run_ids(&claimed), ["r0"]);
    assert_eq!(claimed[0].inbox.len(), 1);
}

pub(super) async fn a_finished_run_is_not_claimed_and_drops_its_messages(store: &dyn Store) {
    client_runs(store, 1).await;
    let a = lease("a", 60_000);
    let run = claim_runs_by(store, &a, 10).await;
    store
        .enqueue("w0", signal("late", json!(1)), 2_000)
        .await
        .unwrap();
    let mut end = step("r0", 1, 2);
    end.token = run[0].token;
    end.status = status(WorkflowStatus::Completed, Some(json!(1)), None);
    commit(store, vec![end]).await.unwrap();
    assert!(store.inbox().await.unwrap().is_empty());
    assert!(claim_runs_by(store, &lease("b", 60_000), 10)
        .await
        .is_empty());
}
