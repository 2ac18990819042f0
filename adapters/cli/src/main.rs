//! The `ferrocore` binary: parses the command line and runs it (see the `ferrocore_cli`
//! crate docs, or `ferrocore --help`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ferrocore_cli::Cli::parse();
    match ferrocore_cli::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Whoever read our output went away (`ferrocore cat DIR | head`): nothing to say.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrocore: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
