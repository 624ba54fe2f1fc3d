//! Opening the store the command line names, as a client: the CLI never
//! runs workflows, so it takes no worker lock and may run beside a worker.

use reprise::{Runtime, RuntimeBuilder};

use crate::args::Cli;
use crate::error::CliError;

/// A client runtime over `--postgres URL`, or else `--db PATH` (which must
/// exist: a typo must not create an empty database), with what `register`
/// adds to the builder (an operator binary's workflow types).
pub(crate) async fn open(
    cli: &Cli,
    register: Option<impl FnOnce(RuntimeBuilder) -> RuntimeBuilder>,
) -> Result<Runtime, CliError> {
    let builder = match register {
        Some(register) => register(Runtime::builder()),
        None => Runtime::builder(),
    };
    let builder = builder.worker(false);
    let builder = match &cli.postgres {
        Some(url) => builder.postgres(url.clone()),
        None => {
            if !cli.db.exists() {
                return Err(CliError::NoDatabase(cli.db.clone()));
            }
            builder.sqlite(&cli.db)
        }
    };
    Ok(builder.build().await?)
}
