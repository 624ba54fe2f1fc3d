//! Signals: typed, named messages sent to a running workflow.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A type a workflow can receive as a signal: derive it with
/// `#[derive(Serialize, Deserialize, Signal)]`.
///
/// The name (the type's name in snake_case, or `#[signal(name = "...")]`)
/// identifies the signal in the history and in by-name sends
/// ([`Runtime::signal_by_name`](crate::Runtime::signal_by_name)), so keep it stable.
///
/// ```
/// use reprise::prelude::*;
///
/// #[derive(Serialize, Deserialize, Signal)]
/// struct StopStreaming;
///
/// #[derive(Serialize, Deserialize, Signal)]
/// #[signal(name = "resize")]
/// struct SetWindow { seconds: u64 }
///
/// assert_eq!(<StopStreaming as reprise::Signal>::NAME, "stop_streaming");
/// assert_eq!(<SetWindow as reprise::Signal>::NAME, "resize");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a signal",
    label = "not a signal",
    note = "derive it: `#[derive(Serialize, Deserialize, Signal)]`"
)]
pub trait Signal: Serialize + DeserializeOwned + Send + 'static {
    /// The signal's name.
    const NAME: &'static str;
}
