//! A workflow's live progress bar, drawn from what `ctx.set_progress`
//! publishes and the heartbeats of its pending activities.
