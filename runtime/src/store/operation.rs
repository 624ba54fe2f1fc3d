//! The names of the store's operations, as every store's errors give them
//! (`store error while committing a workflow step: …`).

pub(crate) const CREATE: &str = "creating a workflow";
pub(crate) const COMMIT: &str = "committing a workflow step";
pub(crate) const RETRY: &str = "recording a failed attempt";
pub(crate) const COMPLETE: &str = "recording an activity's completion";
pub(crate) const CLAIM_RUNS: &str = "claiming runs";
pub(crate) const CLAIM_TASKS: &str = "claiming activity tasks";
pub(crate) const RENEW: &str = "renewing leases";
pub(crate) const RELEASE: &str = "releasing leases";
pub(crate) const LOAD_RUN: &str = "loading a run";
pub(crate) const LATEST_RUN: &str = "loading the latest run of a workflow";
pub(crate) const UNFINISHED_RUNS: &str = "listing unfinished runs";
pub(crate) const TASKS: &str = "listing tasks";
pub(crate) const ENQUEUE: &str = "adding a message to a workflow's inbox";
pub(crate) const INBOX: &str = "listing inbox messages";
pub(crate) const LIST: &str = "listing workflows";
pub(crate) const RUNS: &str = "listing the runs of a workflow";
pub(crate) const HEARTBEAT: &str = "recording heartbeat details";
pub(crate) const ACQUIRE_SLOT: &str = "taking a slot of an activity's limits";
pub(crate) const RELEASE_SLOT: &str = "giving back a slot of an activity's limits";
