//! What workflow and activity bodies receive: [`WorkflowContext`] and
//! [`ActivityContext`].

mod activity;
mod workflow;

pub use activity::ActivityContext;
pub(crate) use activity::AttemptInfo;
pub use workflow::{WorkflowContext, CONTINUE_AS_NEW_BYTES, CONTINUE_AS_NEW_EVENTS};
