//! The `reprise` command; see the crate docs of `reprise_cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    reprise_cli::main()
}
