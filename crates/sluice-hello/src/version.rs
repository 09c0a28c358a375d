//! The helloservice version: parsed from a bare version or a container image reference, and what it means for behaviour.

use std::fmt;

use thiserror::Error;

/// The one podtatoserver version that is deliberately slow (the tutorial's "bad build").
const SLOW_VERSION: &str = "0.1.2";

/// Why a version string was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VersionError {
    /// The string was empty (or only whitespace).
    #[error(
        "the version is empty; pass e.g. `v0.1.1` or `ghcr.io/podtato-head/podtatoserver:v0.1.2`"
    )]
    Empty,
    /// The image reference ends in `:` with nothing after it.
    #[error("the image reference `{0}` has an empty tag")]
    EmptyTag(String),
}

/// A helloservice version, normalised without the leading `v` (`"0.1.1"`).
///
/// Built from what the tutorial's deploy step passes around: a bare version (`0.1.2`, `v0.1.2`) or a full image
/// reference (`ghcr.io/podtato-head/podtatoserver:v0.1.2`, registry ports and `@sha256:` digests allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceVersion(String);

impl ServiceVersion {
    /// Parses a bare version or an image reference.
    ///
    /// Rules: a digest (`@...`) is dropped; the tag is the text after the last `:` that follows the last `/`; an
    /// image reference containing `/` but no tag means Docker's default tag `latest`; a string with neither `/` nor
    /// `:` is a bare version. One leading `v` is removed from the result.
    pub fn parse(reference: &str) -> Result<Self, VersionError> {
        let trimmed = reference.trim();
        if trimmed.is_empty() {
            return Err(VersionError::Empty);
        }
        let without_digest = trimmed.split('@').next().unwrap_or(trimmed);
        if without_digest.is_empty() {
            return Err(VersionError::Empty);
        }
        let name_start = without_digest.rfind('/').map_or(0, |slash| slash + 1);
        let last_component = &without_digest[name_start..];
        let tag = match last_component.rfind(':') {
            Some(colon) => {
                let tag = &last_component[colon + 1..];
                if tag.is_empty() {
                    return Err(VersionError::EmptyTag(trimmed.to_owned()));
                }
                tag
            }
            None if name_start > 0 || without_digest.len() != trimmed.len() => "latest",
            None => last_component,
        };
        if tag.is_empty() {
            return Err(VersionError::Empty);
        }
        let bare = tag
            .strip_prefix('v')
            .filter(|rest| !rest.is_empty())
            .unwrap_or(tag);
        Ok(Self(bare.to_owned()))
    }

    /// The normalised version without the leading `v`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `/` sleeps after rendering, like podtatoserver's `ServiceVersion == "0.1.2"` check.
    ///
    /// Only 0.1.2 is slow; 0.1.0, 0.1.1 and any unknown version answer fast.
    pub fn is_slow(&self) -> bool {
        self.0 == SLOW_VERSION
    }

    /// The podtato-head part id the page shows: "03" for 0.1.2, "02" for 0.1.1, "01" otherwise.
    pub fn part_id(&self) -> &'static str {
        match self.0.as_str() {
            "0.1.2" => "03",
            "0.1.1" => "02",
            _ => "01",
        }
    }
}

impl fmt::Display for ServiceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> String {
        ServiceVersion::parse(s)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn bare_versions_with_and_without_v() {
        assert_eq!(parsed("v0.1.1"), "0.1.1");
        assert_eq!(parsed("0.1.2"), "0.1.2");
        assert_eq!(parsed("  v0.1.2\n"), "0.1.2");
        assert_eq!(parsed("v"), "v");
    }

    #[test]
    fn image_references_take_the_tag() {
        assert_eq!(parsed("ghcr.io/podtato-head/podtatoserver:v0.1.2"), "0.1.2");
        assert_eq!(parsed("podtatoserver:v0.1.1"), "0.1.1");
        assert_eq!(
            parsed("localhost:5000/podtato-head/podtatoserver:0.1.2"),
            "0.1.2"
        );
        assert_eq!(
            parsed("ghcr.io/podtato-head/podtatoserver:v0.1.2@sha256:abcd"),
            "0.1.2"
        );
    }

    #[test]
    fn image_without_tag_is_latest() {
        assert_eq!(parsed("ghcr.io/podtato-head/podtatoserver"), "latest");
        assert_eq!(parsed("localhost:5000/podtatoserver"), "latest");
        assert_eq!(parsed("podtatoserver@sha256:abcd"), "latest");
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(ServiceVersion::parse(""), Err(VersionError::Empty));
        assert_eq!(ServiceVersion::parse("   "), Err(VersionError::Empty));
        assert!(matches!(
            ServiceVersion::parse("ghcr.io/x/podtatoserver:"),
            Err(VersionError::EmptyTag(_))
        ));
        assert_eq!(
            ServiceVersion::parse("@sha256:abcd"),
            Err(VersionError::Empty)
        );
    }

    #[test]
    fn only_0_1_2_is_slow() {
        let slow = |s: &str| {
            ServiceVersion::parse(s)
                .map(|v| v.is_slow())
                .unwrap_or(false)
        };
        assert!(slow("v0.1.2"));
        assert!(slow("ghcr.io/podtato-head/podtatoserver:v0.1.2"));
        assert!(!slow("v0.1.1"));
        assert!(!slow("v0.1.0"));
        assert!(!slow("v0.1.20"));
        assert!(!slow("nightly"));
    }

    #[test]
    fn display_adds_v() {
        assert_eq!(
            ServiceVersion::parse("0.1.1").map(|v| v.to_string()),
            Ok("v0.1.1".to_owned())
        );
    }
}
