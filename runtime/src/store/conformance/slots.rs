//! The generic cases of activities' limits: a pair's slots are capped,
//! released and fenced; a rate counts the starts of its window; a dead
//! worker's slots free themselves; concurrent requests never take more than
//! the limit. Times are real (the PostgreSQL store uses its own clock).

use std::sync::Arc;

use super::*;
use crate::clock::now_ms;

/// `count` runs of workflow `w`, each with one activity task (seq 1), held
/// by nobody (token 0).
async fn runs_with_a_task(store: &dyn Store, count: usize) {
    for i in 0..count {
        let (workflow_id, run_id) = (format!("w{i}"), format!("r{i}"));
        create(store, &workflow_id, &run_id, 1_000).await;
        let step = StepCommit {
            new_tasks: vec![activity(&workflow_id, &run_id, 1)],
            ..step(&run_id, 1, 1)
        };
        commit(store, vec![step]).await.unwrap();
    }
}

fn worker(name: &str, ms: u64) -> Arc<Lease> {
    Arc::new(Lease {
        worker: name.to_owned(),
        duration: Duration::from_millis(ms),
    })
}

fn request(
    run: usize,
    key: &str,
    max: Option<u32>,
    rate: Option<Rate>,
    by: &Arc<Lease>,
) -> SlotRequest {
    SlotRequest {
        run_id: format!("r{run}"),
        seq: 1,
        token: 0,
        activity: "fetch".to_owned(),
        key: key.to_owned(),
        max_concurrent: max,
        rate,
        lease: by.clone(),
        now_ms: now_ms(),
    }
}

async fn acquire(store: &dyn Store, request: SlotRequest) -> SlotGrant {
    store.acquire_slot(request).await.unwrap()
}

const BUSY: SlotGrant = SlotGrant::Busy { retry_at_ms: None };

async fn waiting_since(store: &dyn Store, run: usize) -> Option<u64> {
    let tasks = store.tasks(Some(&format!("r{run}"))).await.unwrap();
    tasks[0].slot_wait_ms
}

pub(super) async fn slots_cap_the_running_attempts_of_a_pair(store: &dyn Store) {
    runs_with_a_task(store, 4).await;
    let a = worker("a", 60_000);
    let max = Some(2);
    assert_eq!(
        acquire(store, request(0, "", max, None, &a)).await,
        SlotGrant::Granted
    );
    assert_eq!(
        acquire(store, request(1, "", max, None, &a)).await,
        SlotGrant::Granted
    );
    let before = now_ms();
    assert_eq!(acquire(store, request(2, "", max, None, &a)).await, BUSY);
    let since = waiting_since(store, 2)
        .await
        .expect("the task shows its wait");
    assert!(since + 5_000 >= before, "{since} vs {before}");
    assert_eq!(waiting_since(store, 0).await, None);
    // Asking again keeps the first time it waited.
    assert_eq!(acquire(store, request(2, "", max, None, &a)).await, BUSY);
    assert_eq!(waiting_since(store, 2).await, Some(since));
    // An attempt that holds a slot does not count against itself.
    assert_eq!(
        acquire(store, request(0, "", max, None, &a)).await,
        SlotGrant::Granted
    );
    // Another key is another pair.
    assert_eq!(
        acquire(store, request(3, "tenant-b", max, None, &a)).await,
        SlotGrant::Granted
    );
    // A slot given back is free for the waiting attempt, which stops waiting.
    store.release_slot("r1", 1).await.unwrap();
    store.release_slot("r1", 1).await.unwrap(); // twice: no error
    assert_eq!(
        acquire(store, request(2, "", max, None, &a)).await,
        SlotGrant::Granted
    );
    assert_eq!(waiting_since(store, 2).await, None);
    assert_eq!(acquire(store, request(1, "", max, None, &a)).await, BUSY);
}

pub(super) async fn a_rate_counts_the_starts_of_its_window(store: &dyn Store) {
    runs_with_a_task(store, 3).await;
    let a = worker("a", 60_000);
    let rate = Some(Rate::new(2, Duration::from_millis(400)));
    let first = now_ms();
    assert_eq!(
        acquire(store, request(0, "k", None, rate, &a)).await,
        SlotGrant::Granted
    );
    assert_eq!(
        acquire(store, request(1, "k", None, rate, &a)).await,
        SlotGrant::Granted
    );
    // The same attempt starting again counts again: a rate limits starts.
    match acquire(store, request(0, "k", None, rate, &a)).await {
        SlotGrant::Busy {
            retry_at_ms: Some(at),
        } => assert!(
            at + 5_000 >= first + 400 && at <= now_ms() + 400,
            "retry at {at}, first start {first}"
        ),
        other => panic!("a third start within the window: {other:?}"),
    }
    assert_eq!(
        acquire(store, request(2, "other", None, rate, &a)).await,
        SlotGrant::Granted
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        acquire(store, request(2, "k", None, rate, &a)).await,
        SlotGrant::Granted
    );
    // Without `max_concurrent`, a start holds no slot.
    assert_eq!(
        acquire(store, request(0, "k", Some(1), None, &a)).await,
        SlotGrant::Granted
    );
}

pub(super) async fn an_expired_slot_lease_frees_the_slot(store: &dyn Store) {
    runs_with_a_task(store, 2).await;
    let (dead, alive) = (worker("dead", 200), worker("alive", 60_000));
    assert_eq!(
        acquire(store, request(0, "", Some(1), None, &dead)).await,
        SlotGrant::Granted
    );
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &alive)).await,
        BUSY
    );
    // Renewal keeps it.
    tokio::time::sleep(Duration::from_millis(120)).await;
    store.renew(&dead).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &alive)).await,
        BUSY
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &alive)).await,
        SlotGrant::Granted
    );
}

pub(super) async fn releasing_a_worker_frees_its_slots(store: &dyn Store) {
    runs_with_a_task(store, 2).await;
    let (a, b) = (worker("a", 60_000), worker("b", 60_000));
    assert_eq!(
        acquire(store, request(0, "", Some(1), None, &a)).await,
        SlotGrant::Granted
    );
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &b)).await,
        BUSY
    );
    store
        .release(Release::Worker("a".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &b)).await,
        SlotGrant::Granted
    );
}

pub(super) async fn slot_requests_are_fenced_by_the_task_token(store: &dyn Store) {
    runs_with_a_task(store, 1).await;
    let a = worker("a", 60_000);
    let mut stale = request(0, "", Some(1), None, &a);
    stale.token = 99;
    let e = store.acquire_slot(stale).await.unwrap_err();
    assert!(e.is_fenced(), "{e}");
    let mut gone = request(0, "", Some(1), None, &a);
    gone.seq = 7;
    let e = store.acquire_slot(gone).await.unwrap_err();
    assert!(e.is_fenced(), "{e}");
    // Neither took the slot.
    assert_eq!(
        acquire(store, request(0, "", Some(1), None, &a)).await,
        SlotGrant::Granted
    );
}

pub(super) async fn concurrent_requests_never_exceed_the_limit(store: &dyn Store) {
    runs_with_a_task(store, 12).await;
    let workers: Vec<Arc<Lease>> = (0..3).map(|i| worker(&format!("w{i}"), 60_000)).collect();
    let grants = futures_util::future::join_all((0..12).map(|run| {
        let by = &workers[run % workers.len()];
        acquire(
            store,
            request(run, "", Some(3), Some(Rate::per_second(1_000)), by),
        )
    }))
    .await;
    let granted = grants.iter().filter(|g| **g == SlotGrant::Granted).count();
    assert_eq!(granted, 3, "{grants:?}");
}

pub(super) async fn a_slot_whose_task_is_gone_does_not_count(store: &dyn Store) {
    runs_with_a_task(store, 2).await;
    let a = worker("a", 60_000);
    assert_eq!(
        acquire(store, request(0, "", Some(1), None, &a)).await,
        SlotGrant::Granted
    );
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &a)).await,
        BUSY
    );
    // The call of run 0 ends (its task is done) without giving its slot back.
    let done = StepCommit {
        done_tasks: vec![1],
        ..step("r0", 2, 1)
    };
    commit(store, vec![done]).await.unwrap();
    assert_eq!(
        acquire(store, request(1, "", Some(1), None, &a)).await,
        SlotGrant::Granted
    );
}
