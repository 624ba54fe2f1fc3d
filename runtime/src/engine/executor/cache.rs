//! The cache of live runs this worker holds: a run stays replayed in
//! memory between its steps, the least recently used evicted first.

use std::collections::HashMap;

use crate::replay::LiveRun;

/// Live runs in memory, least recently used evicted first.
pub(super) struct Cache {
    runs: HashMap<String, (LiveRun, u64)>,
    capacity: usize,
    clock: u64,
}

impl Cache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            runs: HashMap::new(),
            capacity: capacity.max(1),
            clock: 0,
        }
    }

    pub(super) fn get_mut(&mut self, run_id: &str) -> Option<&mut LiveRun> {
        self.clock += 1;
        let clock = self.clock;
        self.runs.get_mut(run_id).map(|(run, used)| {
            *used = clock;
            run
        })
    }

    pub(super) fn insert(&mut self, run_id: String, run: LiveRun) {
        self.clock += 1;
        self.runs.insert(run_id, (run, self.clock));
    }

    pub(super) fn remove(&mut self, run_id: &str) {
        self.runs.remove(run_id);
    }

    /// Evicts the least recently used runs beyond the capacity.
    pub(super) fn trim(&mut self) {
        if self.runs.len() <= self.capacity {
            return;
        }
        let excess = self.runs.len() - self.capacity;
        let mut by_age: Vec<(u64, String)> = self
            .runs
            .iter()
            .map(|(id, (_, used))| (*used, id.clone()))
            .collect();
        by_age.select_nth_unstable(excess - 1);
        for (_, id) in by_age.into_iter().take(excess) {
            self.runs.remove(&id);
        }
    }
}
