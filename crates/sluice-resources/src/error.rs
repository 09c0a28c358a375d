//! The one error type of the resource repository, with Keptn's message phrases.

use std::fmt;

/// What kind of entity an [`ResourceError::AlreadyExists`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A project (its repository).
    Project,
    /// A stage directory.
    Stage,
    /// A service directory.
    Service,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Project => "project",
            Entity::Stage => "stage",
            Entity::Service => "service",
        })
    }
}

/// Why a resource repository operation failed.
///
/// The messages of the not-found and already-exists variants are exactly Keptn
/// resource-service's (`project not found`, `service already exists`, ...): Keptn's clients
/// detect these cases by message text, so the HTTP layer should pass [`ToString`] through.
/// The HTTP layer maps each variant to the status code Keptn used.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// No repository for this project.
    #[error("project not found")]
    ProjectNotFound,
    /// The stage has no directory (at the commit read).
    #[error("stage not found")]
    StageNotFound,
    /// The service has no directory in the stage (at the commit read).
    #[error("service not found")]
    ServiceNotFound,
    /// No file at this URI (at the commit read).
    #[error("resource not found")]
    ResourceNotFound,
    /// The project, stage or service to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(Entity),
    /// The resource URI is not an acceptable relative path, or names a directory.
    #[error("invalid resource uri: {0}")]
    InvalidResourceUri(String),
    /// A project, stage or service name breaks Keptn's naming rules.
    #[error("{0}")]
    InvalidName(String),
    /// A resource, or all resources of one write together, exceed the size limit.
    #[error("resource content too large: {size} bytes, at most {limit} bytes allowed")]
    TooLarge {
        /// Size of the offending content in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// One write holds more files than allowed.
    #[error(
        "too many files in one request: {count}, at most {limit} allowed; upload them in \
         several requests"
    )]
    TooManyFiles {
        /// Number of files sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The store was interrupted (the server is shutting down); nothing was written.
    #[error("the server is shutting down; nothing was written, try again later")]
    Interrupted,
    /// `gitCommitID` does not name a commit of the project's repository.
    #[error("revision does not exist: `{0}`")]
    CommitNotFound(String),
    /// `nextPageKey` is not a decimal offset.
    #[error("invalid next page key `{0}`: expected a decimal number")]
    InvalidPageKey(String),
    /// libgit2 failed (corrupt repository, disk full, ...).
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// Every attempt of a write to a shared repository found that another replica had
    /// changed the project first; nothing was written.
    #[error(
        "the project's resources were changed by another server during each of {attempts} \
         attempts; nothing was written, try again"
    )]
    Conflict {
        /// How many times the write was tried.
        attempts: u32,
    },
    /// The shared repositories (the database) failed or hold something unreadable.
    #[error("shared repository: {0}")]
    Shared(String),
    /// The project's git upstream already holds a project (Keptn's "repository not empty").
    #[error(
        "the git upstream already holds a project (metadata.yaml or shipyard.yaml on its default \
         branch): a new project needs an empty repository (to move a Keptn project, `sluice import keptn` it first, then attach the upstream with \
         `sluice update project`)"
    )]
    UpstreamNotEmpty,
    /// The upstream and sluice changed the same files differently since the last sync;
    /// nothing was written.
    #[error(
        "the git upstream and sluice both changed {}; nothing was merged or pushed: make the \
         files equal on one side (in the upstream, or through sluice), then retry",
        .0.join(", ")
    )]
    UpstreamConflict(Vec<String>),
    /// A file-system operation on the data directory failed.
    #[error("could not access the resource data directory: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_keptns() {
        assert_eq!(
            ResourceError::ProjectNotFound.to_string(),
            "project not found"
        );
        assert_eq!(ResourceError::StageNotFound.to_string(), "stage not found");
        assert_eq!(
            ResourceError::ServiceNotFound.to_string(),
            "service not found"
        );
        assert_eq!(
            ResourceError::ResourceNotFound.to_string(),
            "resource not found"
        );
        assert_eq!(
            ResourceError::AlreadyExists(Entity::Project).to_string(),
            "project already exists"
        );
        assert_eq!(
            ResourceError::AlreadyExists(Entity::Service).to_string(),
            "service already exists"
        );
    }
}
