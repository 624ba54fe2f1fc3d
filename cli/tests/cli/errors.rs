//! Every error is one line on standard error, `reprise: ...`, exit code 1;
//! a wrong command line exits with 2; help and version with 0.

use crate::common::{reprise, TempStore};
use crate::flows::{waiter, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_each() {
    let store = TempStore::new("errors");
    let rt = worker(&store.path).await;
    rt.start(waiter, ()).id("w").await.unwrap();
    let db = Some(store.path.as_path());

    let line = reprise(db, &["describe", ""]).await.fails(1);
    assert_eq!(line, "reprise: invalid workflow id ``: it is empty");
    let long = "x".repeat(2000);
    let line = reprise(db, &["cancel", &long]).await.fails(1);
    assert!(line.contains("2000 bytes long"), "{line}");
    let line = reprise(db, &["describe", "nobody"]).await.fails(1);
    assert_eq!(line, "reprise: no workflow with id `nobody`");
    let line = reprise(db, &["history", "nobody"]).await.fails(1);
    assert_eq!(line, "reprise: no workflow with id `nobody`");
    let line = reprise(db, &["describe", "two\nlines"]).await.fails(1);
    assert_eq!(line, r"reprise: no workflow with id `two\nlines`");

    let missing = store.dir.join("nope.db");
    let line = reprise(Some(&missing), &["list"]).await.fails(1);
    assert!(
        line.starts_with("reprise: no database at `") && line.contains("nope.db"),
        "{line}"
    );
    assert!(!missing.exists(), "the CLI never creates a store");

    let line = reprise(db, &["signal", "w", "stop", "{bad"]).await.fails(1);
    assert!(
        line.starts_with("reprise: argument JSON (the signal's payload) is not valid JSON"),
        "{line}"
    );

    // Usage errors: clap's first paragraph, one line, exit code 2.
    let line = reprise(db, &["list", "--status", "paused"]).await.fails(2);
    assert!(
        line.contains("'paused'") && line.contains("expected running"),
        "{line}"
    );
    assert!(line.ends_with("try 'reprise list --help'"), "{line}");
    let line = reprise(db, &["list", "--page", "abc"]).await.fails(2);
    assert!(line.contains("invalid page token `abc`"), "{line}");
    let line = reprise(db, &["list", "--since", "soon"]).await.fails(2);
    assert!(line.contains("--since"), "{line}");
    let line = reprise(db, &["describe"]).await.fails(2);
    assert!(
        line.contains("required arguments were not provided: <ID>"),
        "{line}"
    );
    let line = reprise(db, &["frobnicate"]).await.fails(2);
    assert!(
        line.contains("unrecognized subcommand 'frobnicate'"),
        "{line}"
    );
    assert!(line.ends_with("try 'reprise --help'"), "{line}");

    let out = reprise(None, &["--help"]).await.ok();
    assert!(
        out.contains("Usage: reprise") && out.contains("describe"),
        "{out}"
    );
    let out = reprise(None, &["--version"]).await.ok();
    assert!(out.starts_with("reprise "), "{out}");
    rt.shutdown().await.unwrap();
}
