//! Which backend runs a task: `local` (a process on the server's machine) or `kubernetes` (a
//! Kubernetes Job). Pure.
//!
//! The choice, most specific first:
//! 1. the task's annotation [`ANNOTATION`] (`sluice.dev/job-backend: local|kubernetes`):
//!    job-executor-service copied a task's `annotations` onto its Job and ignored them
//!    otherwise, so a config using it stays valid for JES;
//! 2. the server's override for the event's project and stage, then for the project
//!    (`--job-backend-override PROJECT[/STAGE]=BACKEND`): where a stage's tasks run is the
//!    operator's decision (the cluster credentials are the server's), so it is a server
//!    setting rather than a key in `job/config.yaml`, which anyone who can push to the
//!    project's repository writes and which stays byte-for-byte JES's;
//! 3. the server's default (`--job-backend`, `local` unless set).

/// The task annotation that picks a backend.
pub const ANNOTATION: &str = "sluice.dev/job-backend";

/// A task backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// A local process under a supervisor (the default).
    #[default]
    Local,
    /// A Kubernetes Job.
    Kubernetes,
}

impl BackendKind {
    /// The name used in settings, annotations and run records.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Kubernetes => "kubernetes",
        }
    }

    /// Parses `local` or `kubernetes`.
    pub fn parse(text: &str) -> Result<BackendKind, BackendError> {
        match text.trim() {
            "local" => Ok(BackendKind::Local),
            "kubernetes" => Ok(BackendKind::Kubernetes),
            other => Err(BackendError::Unknown(other.to_owned())),
        }
    }
}

/// A backend setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Not `local` or `kubernetes`.
    #[error("unknown job backend `{0}` (use local or kubernetes)")]
    Unknown(String),
    /// An override without `=`.
    #[error("job backend override `{0}` is not PROJECT[/STAGE]=BACKEND")]
    Override(String),
}

/// The server's backend settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendChoice {
    /// The server's default.
    pub default: BackendKind,
    /// `(project, stage or None for the whole project, backend)`.
    pub overrides: Vec<(String, Option<String>, BackendKind)>,
}

impl BackendChoice {
    /// Every task on `default`.
    pub fn only(default: BackendKind) -> BackendChoice {
        BackendChoice {
            default,
            overrides: Vec::new(),
        }
    }

    /// Adds overrides written `PROJECT[/STAGE]=BACKEND`, separated by commas or given one by
    /// one.
    pub fn with_overrides<'a>(
        mut self,
        specs: impl IntoIterator<Item = &'a str>,
    ) -> Result<BackendChoice, BackendError> {
        for spec in specs.into_iter().flat_map(|s| s.split(',')) {
            let spec = spec.trim();
            if spec.is_empty() {
                continue;
            }
            let (scope, backend) = spec
                .split_once('=')
                .ok_or_else(|| BackendError::Override(spec.to_owned()))?;
            let backend = BackendKind::parse(backend)?;
            let (project, stage) = match scope.trim().split_once('/') {
                Some((p, s)) => (p.to_owned(), Some(s.to_owned())),
                None => (scope.trim().to_owned(), None),
            };
            if project.is_empty() || stage.as_deref() == Some("") {
                return Err(BackendError::Override(spec.to_owned()));
            }
            self.overrides.push((project, stage, backend));
        }
        Ok(self)
    }

    /// Whether any task can end up on `kind` without an annotation.
    pub fn uses(&self, kind: BackendKind) -> bool {
        self.default == kind || self.overrides.iter().any(|(_, _, k)| *k == kind)
    }

    /// The backend of a task (see the module documentation for the order).
    pub fn for_task(
        &self,
        project: &str,
        stage: &str,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Result<BackendKind, BackendError> {
        if let Some(value) = annotations.get(ANNOTATION) {
            return BackendKind::parse(value);
        }
        let stage_level = self
            .overrides
            .iter()
            .find(|(p, s, _)| p == project && s.as_deref() == Some(stage));
        let project_level = || {
            self.overrides
                .iter()
                .find(|(p, s, _)| p == project && s.is_none())
        };
        Ok(stage_level
            .or_else(project_level)
            .map_or(self.default, |(_, _, k)| *k))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_most_specific_setting_wins() {
        let choice = BackendChoice::only(BackendKind::Local)
            .with_overrides(["shop=kubernetes, shop/dev=local", "other/prod=kubernetes"])
            .unwrap();
        let none = BTreeMap::new();
        assert_eq!(
            choice.for_task("shop", "prod", &none),
            Ok(BackendKind::Kubernetes)
        );
        assert_eq!(
            choice.for_task("shop", "dev", &none),
            Ok(BackendKind::Local)
        );
        assert_eq!(
            choice.for_task("other", "prod", &none),
            Ok(BackendKind::Kubernetes)
        );
        assert_eq!(
            choice.for_task("other", "dev", &none),
            Ok(BackendKind::Local)
        );
        let local = BTreeMap::from([(ANNOTATION.to_owned(), "local".to_owned())]);
        assert_eq!(
            choice.for_task("shop", "prod", &local),
            Ok(BackendKind::Local)
        );
        let bad = BTreeMap::from([(ANNOTATION.to_owned(), "docker".to_owned())]);
        assert_eq!(
            choice.for_task("shop", "prod", &bad),
            Err(BackendError::Unknown("docker".into()))
        );
        assert!(choice.uses(BackendKind::Kubernetes));
        assert!(!BackendChoice::default().uses(BackendKind::Kubernetes));
    }

    #[test]
    fn malformed_overrides_are_refused() {
        let base = BackendChoice::default;
        assert!(base().with_overrides(["shop"]).is_err());
        assert!(base().with_overrides(["shop/=local"]).is_err());
        assert!(base().with_overrides(["=local"]).is_err());
        assert!(base().with_overrides(["shop=docker"]).is_err());
        assert_eq!(base().with_overrides([""]).unwrap(), base());
    }
}
