//! The `sluice` binary: parses the command line and runs one subcommand.

mod cli;
mod evaluate;
mod lint;
mod server;
mod style;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Evaluate(args) => evaluate::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Server(args) => server::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
