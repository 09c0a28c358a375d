//! Finding `job/config.yaml` for an event, in JES 0.3.0's order: the service level and the
//! stage level at the event's `gitcommitid`, then the project level at the latest commit.

use sluice_resources::{ResourceStore, Scope};

/// The resource JES reads.
pub const CONFIG_URI: &str = "job/config.yaml";

/// A config file that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundConfig {
    /// `service`, `stage` or `project`.
    pub level: &'static str,
    /// The file's text (lossy UTF-8).
    pub text: String,
}

/// Looks the config up; `None` when no level has one. Any error reading a level (the stage or
/// service does not exist, the commit is unknown, ...) moves on to the next level, as JES did.
/// Blocking (git): call it on a blocking thread.
pub fn find(
    resources: &ResourceStore,
    project: &str,
    stage: &str,
    service: &str,
    commit: Option<&str>,
) -> Option<FoundConfig> {
    if project.is_empty() {
        return None;
    }
    let mut levels: Vec<(&'static str, Scope<'_>, Option<&str>)> = Vec::new();
    if !stage.is_empty() && !service.is_empty() {
        levels.push(("service", Scope::service(project, stage, service), commit));
    }
    if !stage.is_empty() {
        levels.push(("stage", Scope::stage(project, stage), commit));
    }
    levels.push(("project", Scope::project(project), None));
    for (level, scope, at) in levels {
        match resources.get_resource(scope, CONFIG_URI, at) {
            Ok(resource) => {
                return Some(FoundConfig {
                    level,
                    text: String::from_utf8_lossy(&resource.content).into_owned(),
                });
            }
            Err(e) => tracing::debug!(level, error = %e, "no job config at this level"),
        }
    }
    None
}
