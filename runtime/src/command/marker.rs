//! Markers: values produced once and read back from the history on replay
//! (`ctx.side_effect`, `ctx.uuid`, `ctx.random_u64`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Effects, Issued};
use crate::history::Event;
use crate::run::{RunCore, RunFault};

/// What recorded an [`Event::Marker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MarkerKind {
    /// `ctx.side_effect(..)`.
    SideEffect,
    /// `ctx.uuid()`.
    Uuid,
    /// `ctx.random_u64()`.
    Random,
}

impl MarkerKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            MarkerKind::SideEffect => "`ctx.side_effect(..)`",
            MarkerKind::Uuid => "`ctx.uuid()`",
            MarkerKind::Random => "`ctx.random_u64()`",
        }
    }
}

/// The command: record `value` at `seq`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) seq: u32,
    pub(crate) kind: MarkerKind,
    pub(crate) value: Value,
}

impl Record {
    pub(super) fn record(self, effects: &mut Effects) {
        effects.events.push(Event::Marker {
            seq: self.seq,
            kind: self.kind,
            value: self.value,
        });
    }
}

/// The value of a marker call: the recorded one on replay, else `produce`'s,
/// recorded. `lock` gives the run's core (released while `produce` runs).
pub(crate) fn value<'a, T, F, L>(lock: L, kind: MarkerKind, produce: F) -> T
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> T,
    L: Fn() -> std::sync::MutexGuard<'a, RunCore>,
{
    let mut core = lock();
    let seq = core.next_seq();
    if core.is_replaying() {
        if let Some(value) = core.replay_marker(seq, kind) {
            match serde_json::from_value(value) {
                Ok(v) => return v,
                Err(e) => core.set_fault(RunFault::Decode {
                    seq,
                    what: kind.describe().to_owned(),
                    error: e.to_string(),
                }),
            }
        }
        // The run is stopped and nothing of this activation is kept; the
        // body still needs a value to go on to its next await.
        drop(core);
        return produce();
    }
    drop(core);
    let value = produce();
    let mut core = lock();
    match serde_json::to_value(&value) {
        Ok(json) => core.issued.push(Issued::Marker(Record {
            seq,
            kind,
            value: json,
        })),
        Err(e) => core.set_fault(RunFault::Decode {
            seq,
            what: kind.describe().to_owned(),
            error: format!("the value does not serialize: {e}"),
        }),
    }
    value
}
