//! What the server checks in a resource upload before anything is written: the number of
//! files, and every file that sluice itself reads later (shipyard, SLO, SLI, job config,
//! remediation), validated as `sluice lint` validates it.
//!
//! Keptn stored any file and failed later, when a service read it; sluice refuses a file
//! with errors at the door, with every diagnostic (file, line, column, message, hint), so a
//! stored file can never stop an evaluation or a task, and a bad upload leaves nothing behind.
//! Parsing is CPU work: call [`check`] on the blocking pool.

use serde::Serialize;
use sluice_model::diagnostic::{Diagnostic, Diagnostics, FieldPath, Pos};
use sluice_model::kind::FileKind;
use sluice_resources::{ResourceError, ResourceUri, Scope};

use crate::services::{evaluation, jobs, prometheus, remediation};

/// The levels a file is read at.
#[derive(Debug, Clone, Copy)]
enum Levels {
    Project,
    StageAndService,
    Service,
    All,
}

/// Every file sluice reads from a project's repository: where, at which levels, as what.
const READ_FILES: [(&str, Levels, FileKind); 6] = [
    (
        crate::projects::SHIPYARD_URI,
        Levels::Project,
        FileKind::Shipyard,
    ),
    (evaluation::SLO_URI, Levels::Service, FileKind::Slo),
    (prometheus::SLI_URI, Levels::All, FileKind::Sli),
    (jobs::CONFIG_URI, Levels::All, FileKind::Job),
    (
        remediation::REMEDIATION_URI,
        Levels::StageAndService,
        FileKind::Remediation,
    ),
    (sluice_model::webhook::URI, Levels::All, FileKind::Webhook),
];

/// The kind of file sluice reads at `uri` of a level, if it reads one there.
pub fn kind_read_at(scope: Scope<'_>, uri: &ResourceUri) -> Option<FileKind> {
    READ_FILES
        .iter()
        .find(|(path, levels, _)| {
            *path == uri.as_str()
                && matches!(
                    (levels, scope),
                    (Levels::All, _)
                        | (Levels::Project, Scope::Project { .. })
                        | (Levels::Service, Scope::Service { .. })
                        | (
                            Levels::StageAndService,
                            Scope::Stage { .. } | Scope::Service { .. }
                        )
                )
        })
        .map(|(_, _, kind)| *kind)
}

/// The diagnostics of one refused file, in `sluice lint --output json`'s shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The resource URI as uploaded (normalised).
    pub file: String,
    /// The kind it was read as.
    pub kind: &'static str,
    /// Everything found, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    /// The diagnostics as `sluice lint` prints them (`file:line:col: error: path: message`
    /// and an indented hint line).
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.file))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Too many files, or a URI that is not acceptable.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// Files sluice would read have errors.
    #[error("{}", summary(.0))]
    Invalid(Vec<FileReport>),
}

/// The message of a refused upload: which files, then every diagnostic as lint prints it.
pub fn summary(files: &[FileReport]) -> String {
    let mut out = String::from("invalid ");
    out.push_str(
        &files
            .iter()
            .map(|f| format!("{} file `{}`", f.kind, f.file))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str(" (nothing was written; `sluice lint` shows the same):");
    for f in files {
        out.push('\n');
        out.push_str(&f.render());
    }
    out
}

/// Checks an upload of `(uri, content)` files at a level: at most
/// [`sluice_resources::MAX_FILES_PER_WRITE`] files, and no errors in any file sluice reads
/// (warnings pass). All refused files are reported together.
pub fn check(scope: Scope<'_>, files: &[(&str, &[u8])]) -> Result<(), Error> {
    sluice_resources::check_file_count(files.len())?;
    let mut refused = Vec::new();
    for (uri, content) in files {
        let uri = ResourceUri::parse(uri)?;
        let Some(kind) = kind_read_at(scope, &uri) else {
            continue;
        };
        let diagnostics = match std::str::from_utf8(content) {
            Ok(text) => kind.check(text),
            Err(e) => {
                let mut d = Diagnostics::new();
                d.error(
                    Pos::new(1, 1),
                    &FieldPath::root(),
                    format!("the file is not UTF-8 text ({e})"),
                )
                .hint("save the file as UTF-8; YAML files must be text");
                d
            }
        };
        if diagnostics.has_errors() {
            refused.push(FileReport {
                file: uri.as_str().to_owned(),
                kind: kind.as_str(),
                diagnostics: diagnostics.sorted().into_iter().cloned().collect(),
            });
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> ResourceUri {
        ResourceUri::parse(s).unwrap()
    }

    #[test]
    fn kinds_are_told_where_sluice_reads_them() {
        let project = Scope::project("p");
        let stage = Scope::stage("p", "s");
        let service = Scope::service("p", "s", "v");
        assert_eq!(
            kind_read_at(project, &uri("/shipyard.yaml")),
            Some(FileKind::Shipyard)
        );
        assert_eq!(kind_read_at(stage, &uri("shipyard.yaml")), None);
        assert_eq!(kind_read_at(service, &uri("slo.yaml")), Some(FileKind::Slo));
        assert_eq!(kind_read_at(stage, &uri("slo.yaml")), None);
        for scope in [project, stage, service] {
            assert_eq!(
                kind_read_at(scope, &uri("job/config.yaml")),
                Some(FileKind::Job)
            );
            assert_eq!(
                kind_read_at(scope, &uri("prometheus/sli.yaml")),
                Some(FileKind::Sli)
            );
            assert_eq!(kind_read_at(scope, &uri("helm/chart.tgz")), None);
        }
        assert_eq!(kind_read_at(project, &uri("remediation.yaml")), None);
        assert_eq!(
            kind_read_at(stage, &uri("remediation.yaml")),
            Some(FileKind::Remediation)
        );
    }

    #[test]
    fn refused_files_carry_lints_diagnostics() {
        let service = Scope::service("p", "s", "v");
        let bad_slo: &[u8] = b"objectives:\n  - sli: x\n    pass: 5\n";
        let good_sli: &[u8] = b"indicators:\n  x: up\n";
        let not_text: &[u8] = &[0xff, 0xfe];
        let e = check(
            service,
            &[
                ("prometheus/sli.yaml", good_sli),
                ("slo.yaml", bad_slo),
                ("job/config.yaml", not_text),
                ("other.bin", not_text),
            ],
        )
        .unwrap_err();
        let Error::Invalid(files) = &e else {
            panic!("{e}")
        };
        let names: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(names, ["slo.yaml", "job/config.yaml"]);
        let slo = &files[0];
        let lint = FileKind::Slo.check(std::str::from_utf8(bad_slo).unwrap());
        assert_eq!(slo.render(), lint.render("slo.yaml").trim_end());
        let message = e.to_string();
        assert!(
            message.starts_with("invalid slo file `slo.yaml`, job file"),
            "{message}"
        );
        assert!(message.contains("slo.yaml:3:"), "{message}");
        assert!(message.contains("job/config.yaml:1:1: error:"), "{message}");
    }

    #[test]
    fn yaml_alias_bomb_upload_is_refused_with_a_diagnostic() {
        // Nine levels of nine aliases: 387 million values from 600 bytes.
        let mut bomb = String::from("l0: &l0 [x,x,x,x,x,x,x,x,x]\n");
        for i in 1..=9 {
            let prev = format!("*l{}", i - 1);
            bomb.push_str(&format!("l{i}: &l{i} [{}]\n", [prev.as_str(); 9].join(",")));
        }
        let e = check(
            Scope::service("p", "s", "v"),
            &[("slo.yaml", bomb.as_bytes())],
        )
        .unwrap_err();
        let Error::Invalid(files) = &e else {
            panic!("{e}")
        };
        let d = &files[0].diagnostics[0];
        assert!(
            d.message.contains(&format!(
                "more than {} values",
                sluice_model::yaml::node_budget(bomb.len())
            )),
            "{}",
            d.message
        );
        assert!(d.pos.line >= 1 && d.hint.is_some(), "{d:?}");
    }

    #[test]
    fn file_count_is_checked_first() {
        let files: Vec<(String, &[u8])> = (0..=sluice_resources::MAX_FILES_PER_WRITE)
            .map(|i| (format!("f{i}"), &b""[..]))
            .collect();
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(u, c)| (u.as_str(), *c)).collect();
        let e = check(Scope::project("p"), &refs).unwrap_err();
        assert!(
            matches!(e, Error::Resource(ResourceError::TooManyFiles { .. })),
            "{e}"
        );
    }
}
