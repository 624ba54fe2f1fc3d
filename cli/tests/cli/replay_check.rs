//! `reprise replay-check` needs the workflows' code: the plain `reprise`
//! refuses it with exit code 2 (an operator binary built with
//! `reprise_cli::main_with` runs it: tests/replay_check.rs of the root
//! package).

use crate::common::reprise;

#[tokio::test]
async fn the_plain_reprise_has_no_code_to_replay() {
    // Refused before any store is opened: this one does not exist.
    let missing = std::env::temp_dir().join("reprise-replay-check-none.db");
    for args in [&["replay-check"][..], &["replay-check", "--json"]] {
        let line = reprise(Some(&missing), args).await.fails(2);
        assert!(
            line.starts_with("reprise: replay-check replays open runs against your workflows' code, which this binary does not have"),
            "{line}"
        );
        assert!(line.contains("reprise_cli::main_with"), "{line}");
    }
    assert!(!missing.exists());
}
