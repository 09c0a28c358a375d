//! Whether a project, stage and service exist: the one check behind every event, evaluation
//! and alert that names a scope, with the messages Keptn's shipyard-controller gave.

use std::fmt;

use sluice_store::Store;

/// The first part of a scope that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingScope {
    /// No such project.
    Project {
        /// The project named.
        project: String,
    },
    /// The project has no such stage.
    Stage {
        /// The project.
        project: String,
        /// The stage named.
        stage: String,
    },
    /// The project has no such service.
    Service {
        /// The project.
        project: String,
        /// The service named.
        service: String,
    },
}

impl fmt::Display for MissingScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingScope::Project { project } => write!(f, "project not found: {project}"),
            MissingScope::Stage { project, stage } => write!(
                f,
                "stage not found: {stage} is not a stage of project {project}"
            ),
            MissingScope::Service { project, service } => write!(
                f,
                "service not found: {service} is not a service of project {project}"
            ),
        }
    }
}

/// Checks that the project exists and has the stage and the service (one query, cached once
/// it holds). `Ok(Err(_))` names the first part that is missing; `Err(_)` is a store failure.
pub async fn check(
    store: &Store,
    project: &str,
    stage: &str,
    service: &str,
) -> Result<Result<(), MissingScope>, sluice_store::Error> {
    let exists = store.scope(project, stage, service).await?;
    Ok(if !exists.project {
        Err(MissingScope::Project {
            project: project.to_owned(),
        })
    } else if !exists.stage {
        Err(MissingScope::Stage {
            project: project.to_owned(),
            stage: stage.to_owned(),
        })
    } else if !exists.service {
        Err(MissingScope::Service {
            project: project.to_owned(),
            service: service.to_owned(),
        })
    } else {
        Ok(())
    })
}
