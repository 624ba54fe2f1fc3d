//! Starting workflows: idempotent ids, and clear errors for bad requests.

mod common;

use serde_json::json;

use reprise::prelude::*;
use reprise::WorkflowStatus;

#[activity]
async fn greet(name: String) -> Result<String, ActivityError> {
    Ok(format!("hello {name}"))
}

#[workflow]
async fn hello(ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    let greeting = ctx.activity(greet, name).await?;
    ctx.set_progress(&json!({ "greeted": true }));
    Ok(greeting)
}

#[workflow]
async fn other(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

async fn runtime() -> Runtime {
    Runtime::builder()
        .in_memory()
        .workflow(hello)
        .workflow(other)
        .activity(greet)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_id_returns_the_same_workflow() {
    let rt = runtime().await;
    let first = rt.start(hello, "ada".into()).id("greeting").await.unwrap();
    assert_eq!(first.result().await.unwrap(), "hello ada");
    let second = rt.start(hello, "bob".into()).id("greeting").await.unwrap();
    assert_eq!(second.run_id(), first.run_id());
    assert_eq!(
        second.result().await.unwrap(),
        "hello ada",
        "the new input is ignored"
    );
    let info = rt.describe("greeting").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Completed);
    assert_eq!(info.workflow_type, "hello");
    assert_eq!(info.progress, Some(json!({ "greeted": true })));
    assert!(info.pending.is_empty());
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let rt = runtime().await;
    let err = rt.start_by_name("etl", json!({}), None).await.unwrap_err();
    assert!(matches!(err, reprise::Error::UnknownWorkflowType { .. }));
    assert!(
        err.to_string().contains("unknown workflow type `etl`"),
        "{err}"
    );

    let err = rt
        .start_by_name("hello", json!(42), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the input of workflow `hello`"),
        "{err}"
    );

    rt.start(hello, "ada".into()).id("taken").await.unwrap();
    let err = rt.start(other, ()).id("taken").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "workflow `taken` already exists as a `hello`, not a `other`"
    );

    let err = rt.describe("nobody").await.unwrap_err();
    assert_eq!(err.to_string(), "no workflow with id `nobody`");

    // None of that disturbed the good workflow.
    let ok: String = rt.handle("taken").await.unwrap().result().await.unwrap();
    assert_eq!(ok, "hello ada");
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn start_by_name_runs_the_workflow() {
    let rt = runtime().await;
    let handle = rt
        .start_by_name("hello", json!("cy"), Some("by-name".into()))
        .await
        .unwrap();
    assert_eq!(handle.result().await.unwrap(), json!("hello cy"));
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_a_reprise_database_is_refused_untouched() {
    let tmp = common::TempDb::new("notdb");
    let path = tmp.dir().join("notes.db");
    std::fs::write(&path, b"these are my notes, not a database").unwrap();
    let err = Runtime::builder()
        .sqlite(&path)
        .workflow(hello)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, reprise::Error::NotADatabase { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("is not a reprise database"),
        "{err}"
    );
    assert!(err.to_string().contains("notes.db"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"these are my notes, not a database"
    );
}
