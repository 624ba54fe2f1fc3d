//! `reprise ui`: the web UI, served on 127.0.0.1.

use reprise::Runtime;

use crate::error::CliError;

/// Serves the UI until the process is stopped.
pub(crate) async fn serve(rt: Runtime, port: u16) -> Result<(), CliError> {
    let _ = (rt, port);
    Err(CliError::Other("the web UI is not built yet".to_owned()))
}
