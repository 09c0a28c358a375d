//! Which Keptn file format a document is, told from its content (and, as a last resort, its name).
//!
//! `sluice lint` is given files of every kind at once, so it has to tell them apart. Content
//! decides first (`kind: Shipyard`, `apiVersion: v2` with `actions`, `objectives`, `indicators`,
//! ...), including the old formats Keptn no longer accepted, so that they reach the right
//! parser and get its precise error. Only a document that shows nothing of its kind (such as an
//! SLI file with nothing but `spec_version`) is classified by its file or folder name.

use std::fmt;
use std::str::FromStr;

use crate::diagnostic::Diagnostics;
use crate::yaml::Node;

/// The file formats sluice reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `shipyard.yaml`: stages, sequences and tasks of a project.
    Shipyard,
    /// `slo.yaml`: objectives of a quality gate.
    Slo,
    /// `<provider>/sli.yaml`: the queries behind each SLI.
    Sli,
    /// `job/config.yaml`: the job executor's actions.
    Job,
    /// `remediation.yaml`: actions per problem type.
    Remediation,
    /// `webhook/webhook.yaml`: the webhook service's requests.
    Webhook,
}

impl FileKind {
    /// All kinds, in a stable order.
    pub const ALL: [FileKind; 6] = [
        FileKind::Shipyard,
        FileKind::Slo,
        FileKind::Sli,
        FileKind::Job,
        FileKind::Remediation,
        FileKind::Webhook,
    ];

    /// The short name used on the command line and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Shipyard => "shipyard",
            FileKind::Slo => "slo",
            FileKind::Sli => "sli",
            FileKind::Job => "job",
            FileKind::Remediation => "remediation",
            FileKind::Webhook => "webhook",
        }
    }

    /// Every diagnostic of `text` read as this kind: what `sluice lint` prints, and what the
    /// server answers when such a file is uploaded with errors.
    pub fn check(self, text: &str) -> Diagnostics {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match self {
            FileKind::Shipyard => crate::shipyard::parse(text).diagnostics,
            FileKind::Slo => crate::slo::parse(text).diagnostics,
            FileKind::Sli => crate::sli::parse(text).diagnostics,
            FileKind::Job => crate::job::parse(text).diagnostics,
            FileKind::Remediation => crate::remediation::parse(text).diagnostics,
            FileKind::Webhook => crate::webhook::parse(text).diagnostics,
        }
    }

    /// Tells the kind of a parsed document from its content; `None` when the content does
    /// not show it (see [`FileKind::from_path`]).
    pub fn detect(root: &Node) -> Option<FileKind> {
        root.as_map()?;
        let has = |key: &str| root.get(key).is_some();
        if let Some(kind) = root.get("kind").and_then(Node::as_scalar) {
            match kind.to_ascii_lowercase().as_str() {
                "shipyard" => return Some(FileKind::Shipyard),
                "remediation" => return Some(FileKind::Remediation),
                "webhookconfig" => return Some(FileKind::Webhook),
                _ => {}
            }
        }
        if root
            .get("apiVersion")
            .and_then(Node::as_scalar)
            .is_some_and(|v| v.starts_with("webhookconfig.keptn.sh/"))
        {
            return Some(FileKind::Webhook);
        }
        if let Some(spec) = root.get("spec") {
            if spec.get("webhooks").is_some() {
                return Some(FileKind::Webhook);
            }
            if spec.get("stages").is_some() {
                return Some(FileKind::Shipyard);
            }
            if spec.get("remediations").is_some() {
                return Some(FileKind::Remediation);
            }
        }
        if has("actions") {
            return Some(FileKind::Job);
        }
        if has("objectives") || has("total_score") || has("comparison") || has("comparision") {
            return Some(FileKind::Slo);
        }
        if has("indicators") || has("indicator") {
            return Some(FileKind::Sli);
        }
        // Formats from before Keptn 0.8: the shipyard had top-level stages, the remediation
        // file top-level remediations.
        if has("stages") {
            return Some(FileKind::Shipyard);
        }
        if has("remediations") {
            return Some(FileKind::Remediation);
        }
        None
    }

    /// Guesses the kind from a path: the file name (`shipyard.yaml`, `slo.yaml`,
    /// `sli.yaml`, `remediation.yaml`, `webhook.yaml`, `job/config.yaml`), then each folder name from the
    /// innermost outwards (`slo/`, `sli/`, `job/`, ...).
    pub fn from_path(path: &str) -> Option<FileKind> {
        let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
        let (file, dirs) = parts.split_last()?;
        let stem = file
            .rsplit_once('.')
            .map_or(*file, |(s, _)| s)
            .to_ascii_lowercase();
        let by_word = |word: &str| -> Option<FileKind> {
            let w = word.to_ascii_lowercase();
            let has = |k: &str| {
                w == k || w.starts_with(&format!("{k}-")) || w.starts_with(&format!("{k}_"))
            };
            if has("shipyard") {
                Some(FileKind::Shipyard)
            } else if has("slo") {
                Some(FileKind::Slo)
            } else if has("sli") {
                Some(FileKind::Sli)
            } else if has("remediation") {
                Some(FileKind::Remediation)
            } else if has("job") || w == "jobs" {
                Some(FileKind::Job)
            } else if has("webhook") || w == "webhooks" {
                Some(FileKind::Webhook)
            } else {
                None
            }
        };
        if let Some(k) = by_word(&stem) {
            return Some(k);
        }
        dirs.iter().rev().find_map(|d| by_word(d))
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown file kind `{0}` (expected shipyard, slo, sli, job, remediation or webhook)")]
pub struct UnknownKind(pub String);

impl FromStr for FileKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FileKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(src: &str) -> Option<FileKind> {
        let mut d = Diagnostics::new();
        FileKind::detect(&crate::yaml::parse(src, &mut d).unwrap())
    }

    #[test]
    fn content_decides() {
        assert_eq!(
            detect("apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\n"),
            Some(FileKind::Shipyard)
        );
        assert_eq!(detect("kind: Remediation\n"), Some(FileKind::Remediation));
        assert_eq!(detect("apiVersion: v2\nactions: []\n"), Some(FileKind::Job));
        assert_eq!(
            detect("spec_version: '1.0'\nobjectives: []\n"),
            Some(FileKind::Slo)
        );
        assert_eq!(detect("comparision: {}\n"), Some(FileKind::Slo));
        assert_eq!(detect("indicators: {a: b}\n"), Some(FileKind::Sli));
        assert_eq!(detect("stages:\n  - name: dev\n"), Some(FileKind::Shipyard));
        assert_eq!(detect("remediations: []\n"), Some(FileKind::Remediation));
        assert_eq!(
            detect("apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\n"),
            Some(FileKind::Webhook)
        );
        assert_eq!(detect("spec:\n  webhooks: []\n"), Some(FileKind::Webhook));
        assert_eq!(detect("spec_version: '1.0'\n"), None);
        assert_eq!(detect("- a\n"), None);
    }

    #[test]
    fn names_are_the_last_resort() {
        assert_eq!(
            FileKind::from_path("prometheus/sli.yaml"),
            Some(FileKind::Sli)
        );
        assert_eq!(
            FileKind::from_path("a/invalid/sli/no-indicators.yaml"),
            Some(FileKind::Sli)
        );
        assert_eq!(
            FileKind::from_path("helloservice/job/config.yaml"),
            Some(FileKind::Job)
        );
        assert_eq!(FileKind::from_path("slo-strict.yaml"), Some(FileKind::Slo));
        assert_eq!(
            FileKind::from_path("webhook/webhook.yaml"),
            Some(FileKind::Webhook)
        );
        assert_eq!(FileKind::from_path("sliding/values.yaml"), None);
        assert_eq!(FileKind::from_path("values.yaml"), None);
    }

    #[test]
    fn kinds_round_trip() {
        for k in FileKind::ALL {
            assert_eq!(k.as_str().parse::<FileKind>(), Ok(k));
        }
        assert!("helm".parse::<FileKind>().is_err());
    }
}
