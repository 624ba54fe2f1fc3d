//! The round activity on SQLite files, one attempt at a time
//! (`reprise::testing::ActivityTest`): batches that cut through ties, a
//! retry after a commit whose completion was lost, a round from another
//! watermark, a version that breaks the rules.

use std::path::PathBuf;

use reprise::testing::ActivityTest;

use super::*;
use crate::db::{Change, SourceRow};

/// A folder with a source and a target, removed on drop.
struct Files(PathBuf);

impl Files {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "reprise-data-sync-{name}-{}-{}",
            std::process::id(),
            micros_now()
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints {
            source: Endpoint::Sqlite(self.0.join("source.db")),
            target: Endpoint::Sqlite(self.0.join("target.db")),
        }
    }

    async fn prepared(name: &str) -> (Self, Endpoints) {
        let files = Self::new(name);
        let endpoints = files.endpoints();
        db::ensure_source(&endpoints.source).await.unwrap();
        target::ensure(&endpoints.target).await.unwrap();
        (files, endpoints)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A valid row (the rules clean its name to "Ada Lovelace").
fn row(id: i64) -> SourceRow {
    SourceRow {
        id,
        name: Some("  ada LOVELACE ".into()),
        email: Some(format!("ada{id}@example.com")),
        country: Some("gb".into()),
        amount: Some(100 + id),
        updated_at: 0,
        deleted: false,
    }
}

fn request(round: u64, from: Watermark, batch_size: u64) -> RoundRequest {
    RoundRequest {
        sync_id: "sync-test".into(),
        round,
        from,
        batch_size,
        slow_ms: 0,
    }
}

/// Runs one attempt of the round activity.
async fn round(endpoints: Endpoints, request: RoundRequest) -> Result<RoundOutcome, ActivityError> {
    ActivityTest::new()
        .resource(endpoints)
        .run(sync_round, request)
        .await
}

#[tokio::test]
async fn batches_cut_through_a_tie_without_skipping_a_row() {
    let (files, endpoints) = Files::prepared("ties").await;
    // Ten rows, one transaction: one stamp for all.
    let stamp = db::write_source(
        &endpoints.source,
        (1..=10).map(|id| Change::Put(row(id))).collect(),
    )
    .await
    .unwrap();
    let mut from = Watermark::default();
    let mut reads = Vec::new();
    for n in 1..=4 {
        let outcome = round(files.endpoints(), request(n, from, 3)).await.unwrap();
        assert_eq!(outcome.from, from);
        reads.push(outcome.read);
        from = outcome.to;
    }
    assert_eq!(reads, [3, 3, 3, 1], "3 + 3 + 3 + 1 rows of the tie");
    assert_eq!(
        from,
        Watermark {
            updated_at: stamp,
            id: 10
        }
    );
    let target = target::load(&endpoints.target).await.unwrap();
    assert_eq!(
        target.rows.keys().copied().collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(target.rows[&7].name, "Ada Lovelace", "cleaned by the rules");
    assert_eq!(target.rows[&7].country, "GB");
}

#[tokio::test]
async fn a_round_run_again_after_its_commit_returns_its_stored_outcome_and_writes_nothing() {
    let (files, endpoints) = Files::prepared("retry").await;
    db::write_source(
        &endpoints.source,
        (1..=6).map(|id| Change::Put(row(id))).collect(),
    )
    .await
    .unwrap();
    let first = round(files.endpoints(), request(1, Watermark::default(), 4))
        .await
        .unwrap();
    assert_eq!((first.read, first.copied, first.behind), (4, 4, 2));

    // The source changes before the retry (its completion was lost): the
    // retry must not read again, or it would count and write other rows.
    let mut changed = row(2);
    changed.name = Some("Grace Hopper".into());
    db::write_source(
        &endpoints.source,
        vec![Change::Put(changed), Change::Delete(1)],
    )
    .await
    .unwrap();
    let before = target::load(&endpoints.target).await.unwrap().rows;
    let retry = round(files.endpoints(), request(1, Watermark::default(), 4))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&retry).unwrap(),
        serde_json::to_value(&first).unwrap()
    );
    assert_eq!(
        target::load(&endpoints.target).await.unwrap().rows,
        before,
        "nothing written"
    );

    // The next round goes on from the stored watermark and sees the changes.
    let second = round(files.endpoints(), request(2, first.to, 10))
        .await
        .unwrap();
    assert_eq!(
        (second.read, second.copied, second.deleted, second.behind),
        (4, 3, 1, 0)
    );
    let rows = target::load(&endpoints.target).await.unwrap().rows;
    assert!(!rows.contains_key(&1), "the tombstone removed row 1");
    assert_eq!(rows[&2].name, "Grace Hopper");
    assert_eq!(rows.len(), 5);
}

#[tokio::test]
async fn a_round_from_another_watermark_than_the_targets_is_refused() {
    let (files, endpoints) = Files::prepared("mismatch").await;
    db::write_source(
        &endpoints.source,
        (1..=3).map(|id| Change::Put(row(id))).collect(),
    )
    .await
    .unwrap();
    let first = round(files.endpoints(), request(1, Watermark::default(), 2))
        .await
        .unwrap();
    // Another sync that starts from the beginning into the same target.
    let mut other = request(1, Watermark::default(), 2);
    other.sync_id = "sync-other".into();
    let err = round(files.endpoints(), other).await.unwrap_err();
    assert_eq!(err.kind(), "WatermarkMismatch");
    assert!(err.is_non_retryable(), "{err}");
    // A sync from the target's watermark is fine.
    let mut other = request(1, first.to, 2);
    other.sync_id = "sync-other".into();
    assert_eq!(round(files.endpoints(), other).await.unwrap().read, 1);
}

#[tokio::test]
async fn a_version_that_breaks_the_rules_is_rejected_and_its_earlier_copy_removed() {
    let (files, endpoints) = Files::prepared("reject").await;
    db::write_source(
        &endpoints.source,
        vec![Change::Put(row(1)), Change::Put(row(2))],
    )
    .await
    .unwrap();
    let first = round(files.endpoints(), request(1, Watermark::default(), 10))
        .await
        .unwrap();
    assert_eq!(first.copied, 2);
    let mut broken = row(1);
    broken.email = Some("ada-at-example.com".into());
    let stamp = db::write_source(&endpoints.source, vec![Change::Put(broken)])
        .await
        .unwrap();
    let second = round(files.endpoints(), request(2, first.to, 10))
        .await
        .unwrap();
    assert_eq!(second.copied, 0);
    assert_eq!(second.validation.rejected.get("email(email)"), Some(&1));
    let target = target::load(&endpoints.target).await.unwrap();
    assert!(
        !target.rows.contains_key(&1),
        "the rejected row's old copy is gone"
    );
    assert!(target.rows.contains_key(&2));
    assert_eq!(
        target.rejects.get(&(1, stamp)).map(String::as_str),
        Some("sync-test")
    );
}
