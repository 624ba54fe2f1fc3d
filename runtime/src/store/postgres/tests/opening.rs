//! Opening a database: migrations under concurrency, refusals that change
//! nothing, configuration errors without the password; connection loss.

use super::*;

// ---------------------------------------------------------------------------
// Opening

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_migrate_once() {
    let (url, _db) = test_database().await;
    let opens = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStore::open(&PostgresConfig::new(url)).await })
    });
    let stores = futures_util::future::join_all(opens).await;
    for store in stores {
        let store = store.expect("join").expect("open");
        assert_eq!(store.unfinished_runs().await.expect("read"), Vec::new());
    }
    assert_eq!(schema_version(&url).await, SCHEMA_VERSION.to_string());
    // Opening an up-to-date database writes nothing.
    let before = snapshot(&url).await;
    let _store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("reopen");
    assert_eq!(snapshot(&url).await, before);
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_unchanged() {
    let (url, _db) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    create(&store, "w", "r").await;
    drop(store);
    let newer = (SCHEMA_VERSION + 1).to_string();
    client(&url)
        .await
        .execute(
            "UPDATE reprise_meta SET value = $1 WHERE key = 'schema_version'",
            &[&newer],
        )
        .await
        .expect("bump");
    let before = snapshot(&url).await;
    let error = open_error(PostgresStore::open(&PostgresConfig::new(url.clone())).await);
    let message = error.to_string();
    let Error::NewerSchema {
        what,
        version,
        supported,
    } = error
    else {
        panic!("expected `Error::NewerSchema`, got {error:?}");
    };
    assert!(what.starts_with("PostgreSQL database `"), "{what}");
    assert_eq!((version, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
    assert!(message.contains("newer reprise"), "{message}");
    assert!(
        message.contains(&format!("schema version {newer}")),
        "{message}"
    );
    assert_eq!(snapshot(&url).await, before);
}

#[tokio::test]
async fn another_applications_database_is_refused_and_left_unchanged() {
    let (url, _db) = test_database().await;
    client(&url)
        .await
        .batch_execute("CREATE TABLE runs (id INT PRIMARY KEY); INSERT INTO runs VALUES (7)")
        .await
        .expect("their table");
    let before = snapshot(&url).await;
    let error = open_error(PostgresStore::open(&PostgresConfig::new(url.clone())).await);
    let message = error.to_string();
    assert!(matches!(error, Error::NotADatabase { .. }), "{error:?}");
    assert!(message.contains("not a reprise database"), "{message}");
    assert!(message.contains("`runs`"), "{message}");
    assert_eq!(snapshot(&url).await, before);
}

#[tokio::test]
async fn a_bad_url_is_a_config_error_without_the_password() {
    for url in [
        "postgres://etl:s3cret@127.0.0.1:notaport/db",
        "postgres://etl:s3cret@127.0.0.1/db?nosuchoption=1",
        "host=127.0.0.1 password=s3cret port=x",
    ] {
        let message = config_error(PostgresStore::open(&PostgresConfig::new(url)).await);
        assert!(message.contains("invalid PostgreSQL URL"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

#[tokio::test]
async fn a_refused_port_is_a_config_error_without_the_password() {
    let message = config_error(
        PostgresStore::open(&PostgresConfig::new(
            "postgres://postgres:s3cret@127.0.0.1:1/postgres",
        ))
        .await,
    );
    assert!(
        message.contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn a_missing_database_is_a_config_error() {
    let (url, db) = test_database().await;
    let missing = url.replace(db.name(), "reprise_test_nosuchdatabase");
    let message = config_error(PostgresStore::open(&PostgresConfig::new(missing)).await);
    assert!(message.contains("reprise_test_nosuchdatabase"), "{message}");
}

#[tokio::test]
async fn a_user_without_rights_is_a_config_error() {
    let (url, db) = test_database().await;
    let role = format!("reprise_test_role_{}", uuid::Uuid::new_v4().simple());
    let admin = client(&super::testing::server_url()).await;
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .expect("role");
    let as_role = url.replacen("://postgres@", &format!("://{role}:s3cret@"), 1);
    assert_ne!(
        as_role, url,
        "the test server's URL must name user postgres"
    );
    let before = snapshot(&url).await;
    let result = PostgresStore::open(&PostgresConfig::new(as_role)).await;
    drop(db);
    if let Err(e) = admin.batch_execute(&format!("DROP ROLE {role}")).await {
        eprintln!("cannot drop role {role}: {}", describe(&e));
    }
    let message = config_error(result);
    assert!(message.contains(&role), "{message}");
    assert!(message.contains("lacks the rights"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(before.is_empty(), "{before:?}");
}

#[tokio::test]
async fn debug_output_names_the_database_not_the_password() {
    let (url, _db) = test_database().await;
    let url = url.replacen("://postgres@", "://postgres:s3cret@", 1);
    let store = PostgresStore::open(&PostgresConfig::new(url))
        .await
        .expect("open (trust auth ignores the password)");
    let debug = format!("{store:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
    assert!(debug.contains("reprise_test_"), "{debug}");
}

// ---------------------------------------------------------------------------
// Connection loss

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_after_terminated_connections_succeed() {
    let (url, _db) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    create(&store, "w", "r").await;
    // Fill the pool with a few connections, then kill them all.
    let reads = (0..4).map(|_| store.load_run("r"));
    for read in futures_util::future::join_all(reads).await {
        assert!(read.expect("read").is_some());
    }
    assert!(terminate_connections(&url).await >= 2);
    let (record, history) = store.load_run("r").await.expect("read").expect("run");
    assert_eq!(record.run_id, "r");
    assert_eq!(history.len(), 1);
    assert!(store.latest_run("w").await.expect("latest").is_some());
    let names = names();
    let claimed = store
        .claim_runs(&lease("a", 10_000), filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    terminate_connections(&url).await;
    assert!(store
        .renew(&lease("a", 10_000))
        .await
        .expect("renew")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_survives_terminated_connections() {
    let (url, _db) = test_database().await;
    let listening = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    let writer = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    let Notifications {
        mut work,
        mut done,
        mut slots,
    } = listening.notifications().expect("notifications");
    create(&writer, "w", "r").await;
    tokio::time::timeout(Duration::from_secs(5), work.changed())
        .await
        .expect("a creation notifies")
        .expect("listener alive");

    assert!(terminate_connections(&url).await >= 2);
    // Reconnected: both counters are bumped once, as something may have
    // been missed.
    done.borrow_and_update();
    tokio::time::timeout(Duration::from_secs(10), done.changed())
        .await
        .expect("the listener reconnects")
        .expect("listener alive");
    tokio::time::timeout(Duration::from_secs(10), slots.changed())
        .await
        .expect("every counter is bumped")
        .expect("listener alive");
    work.borrow_and_update();

    let mut accepted = None;
    for _ in 0..5 {
        match writer.enqueue("w", signal("go"), 3_000).await {
            Ok(enqueued) => {
                accepted = Some(enqueued);
                break;
            }
            // The writer's pooled connection was killed too: the caller retries.
            Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("enqueue: {e}"),
        }
    }
    assert!(
        matches!(accepted, Some(Enqueued::Accepted { .. })),
        "{accepted:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), work.changed())
        .await
        .expect("an enqueue after the reconnection notifies")
        .expect("listener alive");
}

/// The error of an open that must fail.
fn open_error(result: Result<PostgresStore, Error>) -> Error {
    match result {
        Err(e) => e,
        Ok(store) => panic!("expected an error, got {store:?}"),
    }
}
