//! Claims, fencing, notifications, leases and corrupt rows, beyond the
//! conformance suite: what only a real server can show (its clock,
//! `SKIP LOCKED` under concurrency, `NOTIFY`).

use super::*;

// ---------------------------------------------------------------------------
// Claims and fencing

#[tokio::test]
async fn runs_are_claimed_once_and_stale_writers_are_fenced() {
    let (store, _db) = test_store().await;
    let names = names();
    create(&store, "w", "r").await;
    let a = lease("a", 60_000);
    let b = lease("b", 60_000);

    // Never activated: claimable once.
    let claimed = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let first = &claimed[0];
    assert!(first.taken);
    assert!(first.token > 0);
    assert_eq!(first.record.run_id, "r");
    let token = first.token;
    assert!(store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    assert!(store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    // Another type's runs are left alone.
    let other = vec!["other".to_owned()];
    assert!(store
        .claim_runs(&b, filter(&other, 10))
        .await
        .expect("claim")
        .is_empty());

    // The owner's run with a message: handed again, same token.
    store
        .enqueue("w", signal("go"), 3_000)
        .await
        .expect("enqueue");
    assert!(store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    let again = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert!(!again[0].taken);
    assert_eq!(again[0].token, token);
    assert_eq!(again[0].inbox.len(), 1);

    // A write under another token is fenced and writes nothing.
    let e = commit(&store, step("r", token + 1, 1, 1))
        .await
        .expect_err("fenced");
    assert!(e.is_fenced(), "{e}");
    assert_eq!(
        store
            .load_run("r")
            .await
            .expect("load")
            .expect("run")
            .1
            .len(),
        1
    );
    commit(&store, step("r", token, 1, 1))
        .await
        .expect("the owner writes");

    // An expired lease is taken by another worker, with a new token.
    let short = lease("a", 1);
    store.renew(&short).await.expect("renew");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert!(taken[0].taken);
    assert!(taken[0].token > token);
    let e = commit(&store, step("r", token, 2, 1))
        .await
        .expect_err("fenced");
    assert!(e.is_fenced(), "{e}");
    commit(&store, step("r", taken[0].token, 2, 1))
        .await
        .expect("the new owner writes");
}

#[tokio::test]
async fn tasks_are_claimed_completed_and_fenced() {
    let (store, _db) = test_store().await;
    let names = names();
    let a = lease("a", 60_000);
    let created = store
        .create_workflow(new_workflow("w", "r", Some(&a)))
        .await
        .expect("create");
    let Created::New { token } = created else {
        panic!("{created:?}")
    };
    assert!(token > 0);
    // Held by its creator: nobody claims it.
    assert!(store
        .claim_runs(&lease("b", 60_000), filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());

    // The step leaves its activity to any worker.
    let mut s = step("r", token, 1, 1);
    s.new_tasks = vec![activity("w", "r", 1), activity("w", "r", 2)];
    commit(&store, s).await.expect("commit");
    let fetch = vec!["fetch".to_owned()];
    let b = lease("b", 60_000);
    let tasks = store
        .claim_tasks(&b, filter(&fetch, 1))
        .await
        .expect("claim");
    assert_eq!(tasks.len(), 1);
    let task = tasks[0].clone();
    assert!(task.token > token);
    let rest = store
        .claim_tasks(&lease("c", 60_000), filter(&fetch, 10))
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].seq, task.seq);
    assert!(store
        .claim_tasks(&b, filter(&fetch, 10))
        .await
        .expect("claim")
        .is_empty());

    // Heartbeats and retries are fenced by the task's token.
    let e = store
        .record_heartbeat(
            "r",
            task.seq,
            task.token + 100,
            json!(1),
            Duration::from_secs(5),
        )
        .await
        .expect_err("fenced");
    assert!(e.is_fenced(), "{e}");
    store
        .record_heartbeat(
            "r",
            task.seq,
            task.token,
            json!({"at": 3}),
            Duration::from_secs(5),
        )
        .await
        .expect("heartbeat");
    let retry = TaskRetry {
        run_id: "r".to_owned(),
        seq: task.seq,
        token: task.token + 100,
        next_attempt: 2,
        due_ms: 5,
        last_error: "boom".to_owned(),
    };
    assert!(store
        .retry_task(retry.clone())
        .await
        .expect_err("fenced")
        .is_fenced());
    store
        .retry_task(TaskRetry {
            token: task.token,
            ..retry.clone()
        })
        .await
        .expect("retry");
    store
        .retry_task(TaskRetry { seq: 99, ..retry })
        .await
        .expect("a missing task is not an error");

    let done = TaskDone {
        workflow_id: "w".to_owned(),
        run_id: "r".to_owned(),
        seq: task.seq,
        token: task.token + 100,
        result: Ok(json!("ok")),
        now_ms: 4_000,
    };
    assert!(store
        .complete_task(done.clone())
        .await
        .expect_err("fenced")
        .is_fenced());
    let Notifications { mut work, .. } = store.notifications().expect("notifications");
    work.borrow_and_update();
    let done = TaskDone {
        token: task.token,
        ..done
    };
    store.complete_task(done.clone()).await.expect("complete");
    tokio::time::timeout(Duration::from_secs(5), work.changed())
        .await
        .expect("a completion notifies")
        .expect("alive");
    store
        .complete_task(done)
        .await
        .expect("a second completion adds nothing");
    let inbox = store.inbox().await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].item,
        InboxItem::Completed {
            seq: task.seq,
            result: Ok(json!("ok"))
        }
    );
    let remaining = store.tasks(Some("r")).await.expect("tasks");
    assert_eq!(remaining.len(), 1);
    // A heartbeat of a gone task is fenced: the attempt has lost its task.
    assert!(store
        .record_heartbeat("r", task.seq, task.token, json!(1), Duration::from_secs(5))
        .await
        .expect_err("fenced")
        .is_fenced());

    // The run's owner gets the message; taken by another once released.
    let claimed = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(!claimed[0].taken);
    assert_eq!(claimed[0].inbox.len(), 1);
    store
        .release(Release::Run {
            run_id: "r".to_owned(),
            token: token + 1_000,
        })
        .await
        .expect("a stale release does nothing");
    assert!(store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    store
        .release(Release::Run {
            run_id: "r".to_owned(),
            token,
        })
        .await
        .expect("release");
    let taken = store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert!(taken[0].taken);
    assert_eq!(taken[0].tasks.len(), 1);
    assert_eq!(taken[0].inbox.len(), 1);
}

#[tokio::test]
async fn finishing_steps_notify_and_continue_as_new_keeps_the_owner() {
    let (store, _db) = test_store().await;
    let a = lease("a", 60_000);
    let Created::New { token } = store
        .create_workflow(new_workflow("w", "r1", Some(&a)))
        .await
        .expect("create")
    else {
        panic!("exists")
    };
    let Notifications { mut done, .. } = store.notifications().expect("notifications");
    done.borrow_and_update();
    let mut s = step("r1", token, 1, 1);
    s.lease = Some(Arc::new(a.clone()));
    s.status = Some(StatusChange {
        status: WorkflowStatus::ContinuedAsNew,
        result: None,
        error: None,
    });
    s.new_run = Some(NewRun {
        run_id: "r2".to_owned(),
        started_event: "{}".to_owned(),
    });
    commit(&store, s).await.expect("continue as new");
    tokio::time::timeout(Duration::from_secs(5), done.changed())
        .await
        .expect("an ended run notifies")
        .expect("alive");
    let latest = store.latest_run("w").await.expect("latest").expect("run");
    assert_eq!(latest.run_id, "r2");
    // The same worker holds the next run under the same token.
    let enqueued = store.enqueue("w", signal("x"), 5).await.expect("enqueue");
    assert!(matches!(enqueued, Enqueued::Accepted { ref run_id, .. } if run_id == "r2"));
    let names = names();
    assert!(store
        .claim_runs(&lease("b", 60_000), filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    let mine = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].token, token);
    let mut end = step("r2", token, 1, 1);
    end.status = Some(StatusChange {
        status: WorkflowStatus::Completed,
        result: Some(json!(5)),
        error: None,
    });
    commit(&store, end).await.expect("complete");
    assert!(store.inbox().await.expect("inbox").is_empty());
    assert_eq!(
        store
            .enqueue("w", signal("late"), 6)
            .await
            .expect("enqueue"),
        Enqueued::Finished(WorkflowStatus::Completed)
    );
}

#[tokio::test]
async fn renew_uses_the_database_clock_and_release_gives_everything_back() {
    let (store, _db) = test_store().await;
    let before = unix_ms();
    let now = store
        .renew(&lease("a", 1_000))
        .await
        .expect("renew")
        .expect("the database's clock");
    assert!(
        now + 5_000 >= before && now <= unix_ms() + 5_000,
        "{now} vs {before}"
    );

    let names = names();
    for i in 0..3 {
        create(&store, &format!("w{i}"), &format!("r{i}")).await;
    }
    assert_eq!(
        store
            .claim_runs(&lease("a", 60_000), filter(&names, 10))
            .await
            .expect("claim")
            .len(),
        3
    );
    store
        .release(Release::Worker("a".to_owned()))
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_runs(&lease("b", 60_000), filter(&names, 2))
            .await
            .expect("claim")
            .len(),
        2
    );
}

#[tokio::test]
async fn concurrent_creations_of_one_id_make_one_workflow() {
    let (store, _db) = test_store().await;
    let store = Arc::new(store);
    let creations = (0..8).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .create_workflow(new_workflow("w", &format!("r{i}"), None))
                .await
                .expect("create")
        })
    });
    let results = futures_util::future::join_all(creations).await;
    let new = results
        .iter()
        .filter(|r| matches!(r, Ok(Created::New { .. })))
        .count();
    assert_eq!(new, 1);
    assert_eq!(store.runs("w").await.expect("runs").len(), 1);
}

#[tokio::test]
async fn corrupt_rows_are_errors_naming_the_row() {
    let (url, _db) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    create(&store, "w1", "r1").await;
    create(&store, "w2", "r2").await;
    store.enqueue("w1", signal("a"), 1).await.expect("enqueue");
    store.enqueue("w2", signal("b"), 1).await.expect("enqueue");
    let admin = client(&url).await;
    admin
        .batch_execute(
            "UPDATE runs SET result = 'not json' WHERE run_id = 'r1';
             UPDATE inbox SET payload = '{' WHERE workflow_id = 'w1'",
        )
        .await
        .expect("corrupt");
    let e = store.load_run("r1").await.expect_err("corrupt");
    let message = e.to_string();
    assert!(
        message.contains("corrupt row in `runs` (run_id `r1`)"),
        "{message}"
    );
    assert!(message.contains("column `result`"), "{message}");
    assert!(!e.is_retryable());
    // Listings skip the bad row.
    let unfinished = store.unfinished_runs().await.expect("list");
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].run_id, "r2");
    let inbox = store.inbox().await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].workflow_id, "w2");
}
