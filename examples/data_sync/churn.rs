//! The source's writers: the seed (the first rows) and the churn, writers
//! that keep inserting, updating and deleting rows while the sync runs. Some
//! rows they write break the validation rules (a bad email, no name, an
//! amount out of range, an unknown country), and others need cleaning (case,
//! spaces), so the sync has something to reject and something to clean.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reprise::ActivityError;

use crate::db::{self, Change, Endpoint, SourceRow};

/// The countries the rules accept (`one_of`), and one they do not.
pub(crate) const COUNTRIES: [&str; 8] = ["BR", "DE", "ES", "FR", "GB", "IN", "NL", "US"];

/// First names of the generated rows.
const FIRST: [&str; 12] = [
    "ada", "alan", "grace", "linus", "barbara", "edsger", "frances", "ken", "margaret", "dennis",
    "radia", "tony",
];
/// Last names of the generated rows.
const LAST: [&str; 10] = [
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "liskov",
    "dijkstra",
    "allen",
    "thompson",
    "hamilton",
    "van rossum",
];

/// A small xorshift generator: the writers' choices need no more.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a seed (any seed, zero included).
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// One of `items`.
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A source row for `id`: mostly valid, sometimes in need of cleaning, about
/// one in twelve breaking a rule.
pub(crate) fn random_row(rng: &mut Rng, id: i64) -> SourceRow {
    let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
    let mut name = Some(format!("{first} {last}"));
    let mut email = Some(format!(
        "{first}.{}{}@example.com",
        last.replace(' ', ""),
        id % 97
    ));
    let mut country = Some(rng.pick(&COUNTRIES).to_owned());
    let mut amount = Some(i64::try_from(rng.below(100_000)).unwrap_or(0));
    // Dirt the rules clean up: upper case, stray spaces.
    match rng.below(6) {
        0 => name = name.map(|n| format!("  {}  ", n.to_uppercase())),
        1 => email = email.map(|e| format!(" {} ", e.to_uppercase())),
        2 => country = country.map(|c| c.to_lowercase()),
        _ => {}
    }
    // Rows the rules reject.
    match rng.below(48) {
        0 => email = Some(format!("{first}-at-example.com")),
        1 => name = Some("   ".into()),
        2 => amount = Some(-1 - i64::try_from(rng.below(500)).unwrap_or(0)),
        3 => country = Some("XX".into()),
        _ => {}
    }
    SourceRow {
        id,
        name,
        email,
        country,
        amount,
        updated_at: 0,
        deleted: false,
    }
}

/// Fills an empty source with `rows` rows (ids `1..=rows`), 250 rows a
/// transaction: each transaction's rows share one stamp, so the source
/// starts with long runs of equal `updated_at` that batches cut through.
pub(crate) async fn seed(source: &Endpoint, rows: u64, seed: u64) -> Result<u64, ActivityError> {
    let (existing, _) = db::source_extent(source).await?;
    if existing > 0 || rows == 0 {
        return Ok(0);
    }
    let mut rng = Rng::new(seed);
    let mut next = 1_i64;
    let last = i64::try_from(rows).unwrap_or(i64::MAX);
    while next <= last {
        let end = (next + 249).min(last);
        let changes = (next..=end)
            .map(|id| Change::Put(random_row(&mut rng, id)))
            .collect();
        db::write_source(source, changes).await?;
        next = end + 1;
    }
    Ok(rows)
}

/// What the churn did.
#[derive(Debug, Default)]
pub(crate) struct ChurnStats {
    pub(crate) transactions: AtomicU64,
    pub(crate) inserts: AtomicU64,
    pub(crate) updates: AtomicU64,
    pub(crate) deletes: AtomicU64,
}

/// Runs `writers` concurrent writers until `stop` is set, each committing
/// about `rate / writers` transactions a second of one to four changes:
/// inserts of new ids, updates of existing ids (some reviving a deleted
/// row), tombstones.
pub(crate) async fn churn(
    source: Endpoint,
    writers: u64,
    rate: f64,
    seed: u64,
    stop: Arc<AtomicBool>,
    stats: Arc<ChurnStats>,
) -> Result<(), ActivityError> {
    let (_, max_id) = db::source_extent(&source).await?;
    let next_id = Arc::new(AtomicI64::new(max_id + 1));
    let writers = writers.max(1);
    let pause = Duration::from_secs_f64(writers as f64 / rate.max(0.1));
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (source, stop, stats, next_id) =
                (source.clone(), stop.clone(), stats.clone(), next_id.clone());
            tokio::spawn(async move {
                let mut rng = Rng::new(seed ^ (w + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                let started = Instant::now();
                let mut done = 0_u32;
                while !stop.load(Ordering::Relaxed) {
                    let mut changes = Vec::new();
                    for _ in 0..1 + rng.below(4) {
                        let known = next_id.load(Ordering::Relaxed) - 1;
                        let roll = rng.below(10);
                        if roll < 4 || known < 1 {
                            let id = next_id.fetch_add(1, Ordering::Relaxed);
                            changes.push(Change::Put(random_row(&mut rng, id)));
                            stats.inserts.fetch_add(1, Ordering::Relaxed);
                        } else {
                            let id = 1 + i64::try_from(rng.below(known as u64)).unwrap_or(0);
                            if roll < 8 {
                                changes.push(Change::Put(random_row(&mut rng, id)));
                                stats.updates.fetch_add(1, Ordering::Relaxed);
                            } else {
                                changes.push(Change::Delete(id));
                                stats.deletes.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    db::write_source(&source, changes).await?;
                    stats.transactions.fetch_add(1, Ordering::Relaxed);
                    done += 1;
                    // Paced by the clock, so a slow commit does not lower the rate.
                    if let Some(wait) = (pause * done).checked_sub(started.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                Ok::<(), ActivityError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}
