//! The command line: every subcommand and flag, as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// sluice: continuous delivery with SLO quality gates, compatible with Keptn v1.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score SLI values against an SLO offline, exactly like Keptn's quality gate.
    ///
    /// Exit code: 0 for pass and warning, 1 for fail (and for warning with
    /// --fail-on-warning), 2 for unusable input.
    Evaluate(EvaluateArgs),
    /// Run the control plane: Keptn-compatible API, event store and sequence engine.
    ///
    /// All state lives in the data directory. The API token is created on first start,
    /// stored there with mode 0600 and printed once (or given with SLUICE_API_TOKEN).
    Server(ServerArgs),
    /// Validate Keptn files (shipyard, SLO, SLI, job-executor config, remediation).
    ///
    /// The kind of each file is told from its content. Directories are searched for
    /// *.yaml and *.yml files. Exit code: 0 when there are no errors (and, with --strict,
    /// no warnings), 1 otherwise, 2 when a file cannot be read.
    Lint(LintArgs),
}

/// Output formats of `evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvaluateFormat {
    /// A table that explains the verdict.
    Text,
    /// Keptn's `evaluation.finished` event data.
    Json,
}

/// Flags of `sluice evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The SLO file (slo.yaml). Without it, nothing is evaluated and the result is pass,
    /// as in Keptn.
    #[arg(long, value_name = "FILE")]
    pub slo: Option<PathBuf>,
    /// The SLI values: a JSON array of {"metric", "value", "success", "message"}
    /// (Keptn's get-sli indicatorValues), or a get-sli.finished event or its data.
    #[arg(long, value_name = "FILE")]
    pub sli: Option<PathBuf>,
    /// Earlier evaluations to compare with: a JSON array of evaluation.finished event data
    /// objects (or whole events), newest first.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = EvaluateFormat::Text)]
    pub output: EvaluateFormat,
    /// Exit with 1 when the result is a warning.
    #[arg(long)]
    pub fail_on_warning: bool,
    /// Start of the evaluated time window, copied into the result (Keptn time format).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End of the evaluated time window, copied into the result.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// When to use colours in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Flags of `sluice server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Directory for the database, the project repositories and the API token.
    #[arg(
        long,
        value_name = "DIR",
        env = "SLUICE_DATA_DIR",
        default_value = "sluice-data"
    )]
    pub data_dir: PathBuf,
    /// Address to listen on. Loopback by default; expose it deliberately.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,
}

/// Output formats of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// `file:line:column: severity: path: message` lines.
    Text,
    /// A JSON array with one object per file.
    Json,
}

/// Flags of `sluice lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files or directories to check.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors for the exit code.
    #[arg(long)]
    pub strict: bool,
    /// Check every file as this kind instead of telling the kind from the content.
    #[arg(long, value_name = "KIND", value_parser = ["shipyard", "slo", "sli", "job", "remediation"])]
    pub kind: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = LintFormat::Text)]
    pub output: LintFormat,
    /// When to use colours in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Whether to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}
