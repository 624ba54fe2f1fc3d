//! An activity's output is stored in the history: it must be
//! `Serialize + DeserializeOwned`.

use reprise::prelude::*;

struct Report {
    rows: usize,
}

#[activity]
async fn load(rows: Vec<u64>) -> Result<Report, ActivityError> {
    Ok(Report { rows: rows.len() })
}

fn main() {}
