//! `sluice lint`: finds Keptn files, tells their kind, validates them and prints every diagnostic.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sluice_model::diagnostic::{Diagnostic, Diagnostics, FieldPath, Pos, Severity};
use sluice_model::kind::FileKind;
use sluice_model::yaml;

use crate::cli::{LintArgs, LintFormat};
use crate::style::Painter;

/// Files larger than this are not Keptn configuration; they are reported, not read.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The outcome of checking one file.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// The path as given or found.
    pub file: String,
    /// The kind it was checked as, if one could be told.
    pub kind: Option<&'static str>,
    /// Everything found, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs the command and returns the process exit code.
pub fn run(args: &LintArgs) -> Result<i32> {
    let forced: Option<FileKind> = args.kind.as_deref().map(str::parse).transpose()?;
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &mut files).with_context(|| format!("cannot read {}", path.display()))?;
    }
    let reports: Vec<FileReport> = files.iter().map(|f| check_file(f, forced)).collect();

    let errors: usize = reports.iter().map(|r| count(r, Severity::Error)).sum();
    let warnings: usize = reports.iter().map(|r| count(r, Severity::Warning)).sum();
    match args.output {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        LintFormat::Text => print_text(&reports, errors, warnings, Painter::for_stdout(args.color)),
    }
    let failed = errors > 0 || (args.strict && warnings > 0);
    Ok(i32::from(failed))
}

fn count(report: &FileReport, severity: Severity) -> usize {
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

fn print_text(reports: &[FileReport], errors: usize, warnings: usize, paint: Painter) {
    for report in reports {
        for d in &report.diagnostics {
            let severity = match d.severity {
                Severity::Error => paint.bad("error"),
                Severity::Warning => paint.warn("warning"),
            };
            let path = if d.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", paint.bold(&d.path))
            };
            println!("{}:{}: {severity}: {path}{}", report.file, d.pos, d.message);
            if let Some(hint) = &d.hint {
                println!("  {} {hint}", paint.dim("hint:"));
            }
        }
    }
    let files = reports.len();
    let summary = format!(
        "checked {files} file{}: {errors} error{}, {warnings} warning{}",
        plural(files),
        plural(errors),
        plural(warnings)
    );
    let summary = if errors > 0 {
        paint.bad(&summary)
    } else if warnings > 0 {
        paint.warn(&summary)
    } else {
        paint.good(&summary)
    };
    println!("{summary}");
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Adds `path` (a file) or every YAML file below it (a directory), in a stable order.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(entry);
        }
    }
    Ok(())
}

/// Reads and checks one file; problems reading it are reported as diagnostics too.
pub fn check_file(path: &Path, forced: Option<FileKind>) -> FileReport {
    let file = path.display().to_string();
    let mut report = FileReport {
        file,
        kind: None,
        diagnostics: Vec::new(),
    };
    let at_start = |message: String, hint: &str| {
        let mut d = Diagnostics::new();
        d.error(Pos::new(1, 1), &FieldPath::root(), message)
            .hint(hint);
        d.into_iter().collect::<Vec<_>>()
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            report.diagnostics = at_start(
                format!(
                    "file is {} bytes; Keptn files are far smaller than {MAX_FILE_BYTES}",
                    m.len()
                ),
                "check that this is the file you meant",
            );
            return report;
        }
        Err(e) => {
            report.diagnostics = at_start(
                format!("cannot read file: {e}"),
                "check the path and permissions",
            );
            return report;
        }
        Ok(_) => {}
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            report.diagnostics = at_start(
                format!("cannot read file: {e}"),
                "check the path and permissions",
            );
            return report;
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        report.diagnostics = at_start(
            "file is not UTF-8 text".to_owned(),
            "save the file as UTF-8; YAML files must be text",
        );
        return report;
    };
    let (kind, diagnostics) = check_source(&text, &report.file, forced);
    report.kind = kind.map(FileKind::as_str);
    report.diagnostics = diagnostics.sorted().into_iter().cloned().collect();
    report
}

/// Checks a document's text: tells its kind (unless forced) and runs that kind's parser.
pub fn check_source(
    text: &str,
    path_hint: &str,
    forced: Option<FileKind>,
) -> (Option<FileKind>, Diagnostics) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut diags = Diagnostics::new();
    let Some(root) = yaml::parse(text, &mut diags) else {
        // A syntax error: the kind does not matter, the parser could not get further either.
        return (forced.or_else(|| FileKind::from_path(path_hint)), diags);
    };
    let kind = forced
        .or_else(|| FileKind::detect(&root))
        .or_else(|| FileKind::from_path(path_hint));
    let Some(kind) = kind else {
        let message = if root.is_null() {
            "the file is empty".to_owned()
        } else {
            "cannot tell which kind of Keptn file this is".to_owned()
        };
        diags
            .error(root.pos, &FieldPath::root(), message)
            .hint("expected a shipyard, SLO, SLI, job-executor config or remediation file; name the kind with --kind");
        return (None, diags);
    };
    (Some(kind), kind.check(text))
}
