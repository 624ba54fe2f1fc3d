//! What workflow and activity bodies receive: [`WorkflowContext`] and
//! [`ActivityContext`].

mod activity;
mod workflow;

pub use activity::ActivityContext;
pub(crate) use activity::AttemptInfo;
pub use workflow::{ActivityCall, Cancelled, Recv, SignalChannel, Sleep, WorkflowContext};
