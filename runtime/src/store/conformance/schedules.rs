//! Schedules: a definition written again keeps the state, a tick is one
//! compare-and-set that creates its run, two racing fires of one tick
//! start one run, pause and delete.

use super::*;
use crate::store::schedules::{Fired, ScheduleDef, ScheduleFire, ScheduleState};

fn def(id: &str, cron: &str, next_ms: u64, now_ms: u64) -> ScheduleDef {
    ScheduleDef {
        id: id.to_owned(),
        cron: cron.to_owned(),
        workflow: "etl".to_owned(),
        input: json!({ "day": "monday", "n": [1, 2] }),
        overlap: "skip".to_owned(),
        catchup_ms: 60_000,
        next_ms,
        now_ms,
    }
}

fn fire(id: &str, version: u64, state: ScheduleState, start: Option<&str>) -> ScheduleFire {
    ScheduleFire {
        id: id.to_owned(),
        version,
        state,
        start: start
            .map(|workflow_id| new_workflow(workflow_id, &format!("run-{workflow_id}"), 5_000)),
        now_ms: 5_000,
    }
}

pub(super) async fn a_schedule_written_again_keeps_its_state(store: &dyn Store) {
    store
        .put_schedule(def("nightly", "0 2 * * *", 7_200_000, 1_000))
        .await
        .unwrap();
    let first = store.schedule("nightly").await.unwrap().expect("stored");
    assert_eq!(first.cron, "0 2 * * *");
    assert_eq!(first.workflow, "etl");
    assert_eq!(first.input, json!({ "day": "monday", "n": [1, 2] }));
    assert_eq!(first.overlap, "skip");
    assert_eq!(first.catchup_ms, 60_000);
    assert!(!first.paused);
    assert_eq!(
        first.state,
        ScheduleState {
            next_ms: 7_200_000,
            ..ScheduleState::default()
        }
    );
    assert_eq!((first.created_ms, first.updated_ms), (1_000, 1_000));

    // Paused, fired once: then the application starts again and writes
    // the same schedule with a new input and policy.
    assert!(store
        .pause_schedule("nightly", true, None, 1_500)
        .await
        .unwrap());
    let version = store.schedule("nightly").await.unwrap().unwrap().version;
    let state = ScheduleState {
        next_ms: 93_600_000,
        skipped: 2,
        missed: 1,
        recent: vec!["nightly@a".to_owned()],
        ..ScheduleState::default()
    };
    assert_eq!(
        store
            .fire_schedule(fire("nightly", version, state.clone(), None))
            .await
            .unwrap(),
        Fired::Written(None)
    );
    let mut again = def("nightly", "0 2 * * *", 1, 9_000);
    again.input = json!("other");
    again.overlap = "allow_all".to_owned();
    store.put_schedule(again).await.unwrap();
    let kept = store.schedule("nightly").await.unwrap().unwrap();
    assert!(kept.paused, "writing a schedule again does not unpause it");
    assert_eq!(kept.state, state, "nor move its next tick or counters");
    assert_eq!(
        (kept.input.clone(), kept.overlap.as_str()),
        (json!("other"), "allow_all")
    );
    assert_eq!((kept.created_ms, kept.updated_ms), (1_000, 9_000));
    assert!(kept.version > version + 1);

    // A new cron expression takes the next tick given with it.
    store
        .put_schedule(def("nightly", "0 3 * * *", 10_800_000, 9_500))
        .await
        .unwrap();
    let moved = store.schedule("nightly").await.unwrap().unwrap();
    assert_eq!(
        (moved.cron.as_str(), moved.state.next_ms),
        ("0 3 * * *", 10_800_000)
    );
    assert_eq!(moved.state.skipped, 2);

    store
        .put_schedule(def("hourly", "0 * * * *", 3_600_000, 1_000))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .list_schedules()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["hourly", "nightly"]);
    assert!(store.schedule("weekly").await.unwrap().is_none());
}

pub(super) async fn a_tick_is_a_compare_and_set_that_creates_its_run(store: &dyn Store) {
    store
        .put_schedule(def("s", "* * * * *", 60_000, 1_000))
        .await
        .unwrap();
    let read = store.schedule("s").await.unwrap().unwrap();
    let state = ScheduleState {
        next_ms: 120_000,
        recent: vec!["s@1".to_owned()],
        ..ScheduleState::default()
    };
    let fired = store
        .fire_schedule(fire("s", read.version, state.clone(), Some("s@1")))
        .await
        .unwrap();
    assert_eq!(fired, Fired::Written(Some(Created::New { token: 0 })));
    let run = store
        .latest_run("s@1")
        .await
        .unwrap()
        .expect("the tick's run");
    assert_eq!(
        (run.name.as_str(), run.status),
        ("etl", WorkflowStatus::Running)
    );
    assert_eq!(history(store, "run-s@1").await, vec![started("run-s@1")]);
    let after = store.schedule("s").await.unwrap().unwrap();
    assert_eq!(after.state, state);
    assert!(after.version > read.version);
    assert_eq!(after.updated_ms, 5_000);

    // The version read is stale now: nothing is written, no run created.
    let stale = ScheduleState {
        next_ms: 180_000,
        ..state.clone()
    };
    assert_eq!(
        store
            .fire_schedule(fire("s", read.version, stale, Some("s@2")))
            .await
            .unwrap(),
        Fired::Stale
    );
    assert!(store.latest_run("s@2").await.unwrap().is_none());
    assert_eq!(store.schedule("s").await.unwrap().unwrap().state, state);

    // A deleted schedule does not fire.
    assert!(store.delete_schedule("s").await.unwrap());
    assert!(!store.delete_schedule("s").await.unwrap());
    assert_eq!(
        store
            .fire_schedule(fire("s", after.version, state, Some("s@3")))
            .await
            .unwrap(),
        Fired::Stale
    );
    assert!(store.latest_run("s@3").await.unwrap().is_none());
    assert!(
        store.latest_run("s@1").await.unwrap().is_some(),
        "its runs stay"
    );
    assert!(!store.pause_schedule("s", true, None, 6_000).await.unwrap());
}

pub(super) async fn racing_fires_of_one_tick_start_one_run(store: &dyn Store) {
    for round in 0..5u64 {
        let id = format!("race{round}");
        store
            .put_schedule(def(&id, "* * * * *", 60_000, 1_000))
            .await
            .unwrap();
        let read = store.schedule(&id).await.unwrap().unwrap();
        let workflow_id = format!("{id}@tick");
        let state = ScheduleState {
            next_ms: 120_000,
            recent: vec![workflow_id.clone()],
            ..ScheduleState::default()
        };
        let mut a = fire(&id, read.version, state.clone(), Some(&workflow_id));
        let mut b = fire(&id, read.version, state, Some(&workflow_id));
        // Each worker makes its own run id for the tick.
        a.start.as_mut().unwrap().run_id = format!("{id}-a");
        b.start.as_mut().unwrap().run_id = format!("{id}-b");
        let (a, b) = tokio::join!(store.fire_schedule(a), store.fire_schedule(b));
        let outcomes = [a.unwrap(), b.unwrap()];
        let written = outcomes
            .iter()
            .filter(|f| matches!(f, Fired::Written(Some(Created::New { .. }))))
            .count();
        let stale = outcomes.iter().filter(|f| **f == Fired::Stale).count();
        assert_eq!((written, stale), (1, 1), "{outcomes:?}");
        let runs = store.runs(&workflow_id).await.unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
    }
}

pub(super) async fn pausing_sets_the_next_tick_given(store: &dyn Store) {
    store
        .put_schedule(def("p", "* * * * *", 60_000, 1_000))
        .await
        .unwrap();
    assert!(store.pause_schedule("p", true, None, 2_000).await.unwrap());
    let paused = store.schedule("p").await.unwrap().unwrap();
    assert!(paused.paused);
    assert_eq!(paused.state.next_ms, 60_000);
    assert!(store
        .pause_schedule("p", false, Some(600_000), 3_000)
        .await
        .unwrap());
    let unpaused = store.schedule("p").await.unwrap().unwrap();
    assert!(!unpaused.paused);
    assert_eq!(
        (unpaused.state.next_ms, unpaused.updated_ms),
        (600_000, 3_000)
    );
    assert!(unpaused.version > paused.version);
}
