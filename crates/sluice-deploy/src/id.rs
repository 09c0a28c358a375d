//! Which deployment: project, stage and service, validated so they are safe as directory names.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::DeployError;

/// One deployment: a service in a stage of a project (helm's release `<service>` in namespace `<project>-<stage>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeploymentId {
    project: String,
    stage: String,
    service: String,
}

impl DeploymentId {
    /// Validates the three names: each is a Keptn-style name (ASCII letters, digits and `-`, starting with a
    /// letter, at most 100 characters), so it can be used as a directory name as it is.
    pub fn new(project: &str, stage: &str, service: &str) -> Result<Self, DeployError> {
        check_name("project", project)?;
        check_name("stage", stage)?;
        check_name("service", service)?;
        Ok(Self {
            project: project.to_owned(),
            stage: stage.to_owned(),
            service: service.to_owned(),
        })
    }

    /// The project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The stage.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The service.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The Prometheus scrape job of this deployment, `<service>-<project>-<stage>` as the tutorial's SLIs query it.
    pub fn job_name(&self) -> String {
        format!("{}-{}-{}", self.service, self.project, self.stage)
    }

    /// The deployment's directory under the deployments directory.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.project)
            .join(&self.stage)
            .join(&self.service)
    }

    /// The name of an instance started for `revision`: `<service>-<stage>-r<revision>-<index>`.
    pub fn instance_name(&self, revision: u32, index: usize) -> String {
        format!("{}-{}-r{revision}-{index}", self.service, self.stage)
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.stage, self.service)
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), DeployError> {
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value.len() > 100 {
        Some("it is longer than 100 characters")
    } else if !value.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("it must start with a letter")
    } else if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("only ASCII letters, digits and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DeployError::InvalidName {
            what,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_paths_jobs_and_instances() {
        let id =
            DeploymentId::new("fulltour", "qa", "helloservice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.to_string(), "fulltour/qa/helloservice");
        assert_eq!(id.job_name(), "helloservice-fulltour-qa");
        assert_eq!(
            id.dir(Path::new("/d")),
            Path::new("/d/fulltour/qa/helloservice")
        );
        assert_eq!(id.instance_name(3, 2), "helloservice-qa-r3-2");
    }

    #[test]
    fn unsafe_names_are_rejected() {
        for (p, s, v) in [
            ("", "qa", "x"),
            ("..", "qa", "x"),
            ("a/b", "qa", "x"),
            ("p", "1qa", "x"),
            ("p", "qa", "x.y"),
            ("p", "qa", "x y"),
        ] {
            assert!(
                matches!(
                    DeploymentId::new(p, s, v),
                    Err(DeployError::InvalidName { .. })
                ),
                "{p}/{s}/{v}"
            );
        }
    }
}
