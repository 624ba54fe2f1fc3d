//! Patches: `ctx.patched(id)` and `ctx.deprecate_patch(id)`, Temporal's way
//! of changing workflow code while runs of the old code are in flight.
//!
//! A patch is recorded as a `Patched { id }` event among the commands of the
//! activation that first checked it live. It has no sequence number: a run
//! that replays history recorded before the patch finds no marker in that
//! activation and takes the old branch; code that no longer checks a patch
//! (its `deprecate_patch` call removed once no old run is left) skips the
//! recorded markers without diverging.
//!
//! The first answer for an id is kept for the rest of the run, so one run
//! never mixes the old and the new branch of a patch.

use super::{Effects, Issued};
use crate::history::Event;
use crate::run::RunCore;

/// `ctx.patched(id)`: whether this run takes the patched branch.
pub(crate) fn patched(core: &mut RunCore, id: &str) -> bool {
    if let Some(answer) = core.patches.get(id) {
        return *answer;
    }
    let answer = if core.is_replaying() {
        core.expected_patches.remove(id)
    } else {
        core.issued.push(Issued::Patch(id.to_owned()));
        true
    };
    core.patches.insert(id.to_owned(), answer);
    answer
}

/// `ctx.deprecate_patch(id)`: records the patch's marker live, so that runs
/// started now replay correctly on code that still checks `patched(id)`;
/// on replay, a recorded marker is consumed and a missing one is fine.
pub(crate) fn deprecate(core: &mut RunCore, id: &str) {
    if core.patches.contains_key(id) {
        return;
    }
    if core.is_replaying() {
        core.expected_patches.remove(id);
    } else {
        core.issued.push(Issued::Patch(id.to_owned()));
    }
    core.patches.insert(id.to_owned(), true);
}

pub(super) fn record(id: String, effects: &mut Effects) {
    effects.events.push(Event::Patched { id });
}
