//! Resource URIs: the checked, normalised relative path of a file inside a project level.
//!
//! Keptn's resource-service only rejected URIs containing `~` or `..` and then joined
//! `<level directory> + "/" + uri` on the file system. We store files in git trees that users
//! clone, so the rules are stricter (see [`ResourceUri::parse`]); everything Keptn's own
//! services and the CLI actually send (`shipyard.yaml`, `prometheus/sli.yaml`,
//! `job/config.yaml`, `helm/carts.tgz`, `/charts/x.tgz`) stays valid.

use std::fmt;

use crate::STAGES_DIR;
use crate::error::ResourceError;

/// Longest accepted resource URI, in bytes.
pub const MAX_URI_BYTES: usize = 1024;

/// Longest accepted path segment (file or directory name), in bytes: what common file systems
/// allow, so a clone of the repository can be checked out.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// A validated resource URI: a relative `/`-separated path such as `prometheus/sli.yaml`.
///
/// Always non-empty, without a leading `/`, without empty, `.` or `..` segments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceUri(String);

impl ResourceUri {
    /// Checks and normalises a resource URI as sent by a client (already URL-decoded).
    ///
    /// One leading `/` is stripped: Keptn's resource-service joined the URI to the level
    /// directory with a `/`, so `/slo.yaml` and `slo.yaml` named the same file there, and
    /// Keptn's CLI and job-executor configs write paths with a leading slash. Everything else
    /// that is not a plain relative path is rejected:
    /// empty URIs, a second leading `/` (`//x`), empty segments (`a//b`, `a/`), `.` segments,
    /// `..` anywhere (Keptn rejected the substring), `~` anywhere (Keptn too), backslashes,
    /// NUL and other control characters, `.git` anywhere in any case (git metadata; Keptn's
    /// listing hid such paths), a `.keptn-stages` segment (the directory holding stage and
    /// service levels, so a project-level URI cannot reach into a stage), URIs over
    /// [`MAX_URI_BYTES`] and segments over [`MAX_SEGMENT_BYTES`].
    pub fn parse(uri: &str) -> Result<ResourceUri, ResourceError> {
        let invalid = |reason: String| Err(ResourceError::InvalidResourceUri(reason));
        let path = uri.strip_prefix('/').unwrap_or(uri);
        if path.is_empty() {
            return invalid("the resource URI is empty".to_owned());
        }
        if uri.len() > MAX_URI_BYTES {
            return invalid(format!(
                "the resource URI is {} bytes long; at most {MAX_URI_BYTES} are allowed",
                uri.len()
            ));
        }
        if path.starts_with('/') {
            return invalid(format!("`{uri}` is an absolute path; use a relative path"));
        }
        if let Some(c) = path.chars().find(|c| c.is_control()) {
            return invalid(format!(
                "the resource URI contains the control character U+{:04X}",
                u32::from(c)
            ));
        }
        if path.contains('\\') {
            return invalid(format!(
                "`{uri}` contains a backslash; separate directories with `/`"
            ));
        }
        if path.contains('~') {
            return invalid(format!("`{uri}` contains `~`"));
        }
        if path.contains("..") {
            return invalid(format!("`{uri}` contains `..`"));
        }
        if path.to_ascii_lowercase().contains(".git") {
            return invalid(format!(
                "`{uri}` contains `.git`, which is reserved for git's own files"
            ));
        }
        for segment in path.split('/') {
            if segment.is_empty() {
                return invalid(format!("`{uri}` has an empty path segment"));
            }
            if segment == "." {
                return invalid(format!("`{uri}` has a `.` segment"));
            }
            if segment == STAGES_DIR {
                return invalid(format!(
                    "`{uri}` reaches into `{STAGES_DIR}`; address stage and service files \
                     through their stage or service"
                ));
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return invalid(format!(
                    "a segment of `{uri}` is {} bytes long; at most {MAX_SEGMENT_BYTES} are \
                     allowed",
                    segment.len()
                ));
            }
        }
        Ok(ResourceUri(path.to_owned()))
    }

    /// The normalised path, e.g. `prometheus/sli.yaml`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path segments.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ResourceUri {
    type Err = ResourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceUri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_keptn_services_send() {
        for (uri, want) in [
            ("shipyard.yaml", "shipyard.yaml"),
            ("prometheus/sli.yaml", "prometheus/sli.yaml"),
            ("job/config.yaml", "job/config.yaml"),
            ("charts/helloservice.tgz", "charts/helloservice.tgz"),
            ("/charts/helloservice.tgz", "charts/helloservice.tgz"),
            (
                "helm/carts/templates/deployment.yaml",
                "helm/carts/templates/deployment.yaml",
            ),
            ("a.b.yaml", "a.b.yaml"),
            ("metadata.yaml", "metadata.yaml"),
            ("dir with space/file.txt", "dir with space/file.txt"),
            ("ünïcode/ファイル.yaml", "ünïcode/ファイル.yaml"),
            (".hidden", ".hidden"),
        ] {
            let parsed = ResourceUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(parsed.as_str(), want, "{uri}");
        }
    }

    #[test]
    fn rejects_every_path_trick() {
        let long = "a/".repeat(600) + "b";
        let long_segment = "x".repeat(256);
        for uri in [
            "",
            "/",
            "//etc/passwd",
            "..",
            "../x",
            "a/../../x",
            "a/..",
            "a..b",
            ".",
            "./x",
            "a/./b",
            "a//b",
            "a/",
            "~",
            "~/x",
            "a/~b",
            "a\\b",
            "..\\x",
            "a\0b",
            "a\nb",
            "a\tb",
            "a\u{7f}b",
            ".git",
            ".git/config",
            "x/.git/HEAD",
            ".GIT/config",
            ".gitmodules",
            ".gitattributes",
            "a/x.git",
            ".keptn-stages",
            ".keptn-stages/dev/slo.yaml",
            "/.keptn-stages/dev/slo.yaml",
            "x/.keptn-stages/y",
            long.as_str(),
            long_segment.as_str(),
        ] {
            match ResourceUri::parse(uri) {
                Err(ResourceError::InvalidResourceUri(reason)) => {
                    assert!(!reason.is_empty());
                }
                other => panic!("{uri:?} was not rejected: {other:?}"),
            }
        }
    }

    #[test]
    fn length_limit_is_exact() {
        let ok = format!("{}/", "a".repeat(200)).repeat(4);
        let ok = ok.clone() + &"d".repeat(MAX_URI_BYTES - ok.len());
        assert_eq!(ok.len(), MAX_URI_BYTES);
        assert!(ResourceUri::parse(&ok).is_ok());
        assert!(ResourceUri::parse(&(ok + "e")).is_err());
    }

    #[test]
    fn error_message_keeps_keptns_phrase() {
        let err = ResourceUri::parse("../x").unwrap_err();
        assert!(err.to_string().starts_with("invalid resource uri"), "{err}");
    }
}
