//! `--postgres URL`: the same commands on a PostgreSQL store.

use reprise::Runtime;

use crate::common::pg::TestDatabase;
use crate::common::reprise;
use crate::flows::{greet, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_describe_on_postgres() {
    let pg = TestDatabase::new();
    let rt = register(Runtime::builder().postgres(&pg.url))
        .build()
        .await
        .unwrap();
    let h = rt.start(greet, "pg".to_owned()).id("on-pg").await.unwrap();
    h.result().await.unwrap();

    let out = reprise(None, &["--postgres", &pg.url, "list"]).await.ok();
    let row = out.lines().nth(1).unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.starts_with("on-pg") && row.contains("greet") && row.contains("completed"),
        "{out}"
    );
    // After the command, as clap's `global` allows.
    let out = reprise(None, &["describe", "on-pg", "--postgres", &pg.url])
        .await
        .ok();
    assert!(
        out.contains("status    completed") && out.contains("result    hello PG"),
        "{out}"
    );
    rt.shutdown().await.unwrap();
}
