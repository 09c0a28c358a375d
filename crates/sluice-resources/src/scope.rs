//! The level a resource lives at (project, stage or service) and its directory in the tree.

use sluice_model::names;

use crate::STAGES_DIR;
use crate::error::ResourceError;

/// The level of a resource: Keptn's project, stage and service "resource contexts".
///
/// In the repository (directory mode) a project-level file `x` is at the root, a stage-level
/// file at `.keptn-stages/<stage>/x` and a service-level file at
/// `.keptn-stages/<stage>/<service>/x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope<'a> {
    /// Project level (repository root).
    Project {
        /// Project name.
        project: &'a str,
    },
    /// Stage level.
    Stage {
        /// Project name.
        project: &'a str,
        /// Stage name.
        stage: &'a str,
    },
    /// Service level within one stage.
    Service {
        /// Project name.
        project: &'a str,
        /// Stage name.
        stage: &'a str,
        /// Service name.
        service: &'a str,
    },
}

impl<'a> Scope<'a> {
    /// The project level of `project`.
    pub fn project(project: &'a str) -> Scope<'a> {
        Scope::Project { project }
    }

    /// The level of `stage` in `project`.
    pub fn stage(project: &'a str, stage: &'a str) -> Scope<'a> {
        Scope::Stage { project, stage }
    }

    /// The level of `service` in `stage` of `project`.
    pub fn service(project: &'a str, stage: &'a str, service: &'a str) -> Scope<'a> {
        Scope::Service {
            project,
            stage,
            service,
        }
    }

    /// The project name.
    pub fn project_name(&self) -> &'a str {
        match *self {
            Scope::Project { project }
            | Scope::Stage { project, .. }
            | Scope::Service { project, .. } => project,
        }
    }

    /// Checks every name with Keptn's rules ([`sluice_model::names`]).
    pub fn check_names(&self) -> Result<(), ResourceError> {
        check_project(self.project_name())?;
        match *self {
            Scope::Project { .. } => Ok(()),
            Scope::Stage { stage, .. } => check_stage(stage),
            Scope::Service { stage, service, .. } => {
                check_stage(stage)?;
                check_service(service)
            }
        }
    }

    /// The directory of this level as path segments (empty for the project level).
    pub(crate) fn directory(&self) -> Vec<&'a str> {
        match *self {
            Scope::Project { .. } => Vec::new(),
            Scope::Stage { stage, .. } => vec![STAGES_DIR, stage],
            Scope::Service { stage, service, .. } => vec![STAGES_DIR, stage, service],
        }
    }
}

/// [`names::check_project`] as a [`ResourceError`].
pub(crate) fn check_project(name: &str) -> Result<(), ResourceError> {
    names::check_project(name).map_err(ResourceError::InvalidName)
}

/// [`names::check_stage`] as a [`ResourceError`].
pub(crate) fn check_stage(name: &str) -> Result<(), ResourceError> {
    names::check_stage(name).map_err(ResourceError::InvalidName)
}

/// [`names::check_service`] as a [`ResourceError`], also refusing names git or a clone cannot
/// hold as a directory (`.git` in any case, control characters, backslashes), which Keptn's
/// check let through.
pub(crate) fn check_service(name: &str) -> Result<(), ResourceError> {
    names::check_service(name).map_err(ResourceError::InvalidName)?;
    if name.eq_ignore_ascii_case(".git") || name.chars().any(|c| c.is_control() || c == '\\') {
        return Err(ResourceError::InvalidName(format!(
            "service name `{}` cannot be stored as a directory in git (it is `.git` or contains \
             a backslash or a control character)",
            name.escape_debug()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_follow_keptns_directory_mode() {
        assert!(Scope::project("p").directory().is_empty());
        assert_eq!(
            Scope::stage("p", "dev").directory(),
            [".keptn-stages", "dev"]
        );
        assert_eq!(
            Scope::service("p", "dev", "carts").directory(),
            [".keptn-stages", "dev", "carts"]
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(Scope::service("p", "dev", "Carts_v2").check_names().is_ok());
        assert!(
            Scope::service("p", "dev", "app.github")
                .check_names()
                .is_ok()
        );
        for bad in [
            Scope::project("P"),
            Scope::project(""),
            Scope::stage("p", "Dev"),
            Scope::stage("p", "a/b"),
            Scope::service("p", "dev", "a/b"),
            Scope::service("p", "dev", ".."),
            Scope::service("p", "dev", ".git"),
            Scope::service("p", "dev", ".GIT"),
            Scope::service("p", "dev", "a\\b"),
            Scope::service("p", "dev", "a\nb"),
        ] {
            assert!(
                matches!(bad.check_names(), Err(ResourceError::InvalidName(_))),
                "{bad:?}"
            );
        }
    }
}
