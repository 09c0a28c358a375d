//! The helloservice version: parsed from a bare version or a container image reference, and what it means for behaviour.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// The one podtatoserver version that is deliberately slow (the tutorial's "bad build").
const SLOW_VERSION: &str = "0.1.2";

/// How long the slow build (0.1.2) sleeps after rendering `/`, as podtatoserver does since
/// commit c3fa4f1.
pub const SLOW_BUILD_DELAY: Duration = Duration::from_millis(400);
/// The canary-statistics scenario's baseline build: every `/` takes [`STEADY_DELAY`].
const STEADY_VERSION: &str = "0.2.0";
/// The canary-statistics scenario's regressed build: a slow tail.
const TAIL_VERSION: &str = "0.2.1";
/// The shortest pause of every `/` of builds 0.2.0 and 0.2.1.
pub const STEADY_DELAY: Duration = Duration::from_millis(5);
/// The pauses of builds 0.2.0 and 0.2.1 spread evenly over `STEADY_DELAY ..= STEADY_DELAY +
/// STEADY_SPREAD_MS` ms by request number, so that their response times are dominated by a
/// wide, known distribution rather than by the machine's load (which shifts a narrow one
/// enough for a rank test to notice).
pub const STEADY_SPREAD_MS: u64 = 20;

/// The steady pause of the `request`-th request.
fn steady_delay(request: u64) -> Duration {
    STEADY_DELAY + Duration::from_millis(request % (STEADY_SPREAD_MS + 1))
}
/// The extra pause of the slow tail of build 0.2.1.
pub const TAIL_DELAY: Duration = Duration::from_millis(250);
/// One request in this many is in the slow tail of build 0.2.1.
pub const TAIL_EVERY: u64 = 12;

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

    /// How long `/` waits before answering its `request`-th request (counted from 0 per
    /// process): 400 ms for the slow build 0.1.2 (podtatoserver's); for the two builds of the
    /// quickstart's canary-statistics scenario, which podtatoserver does not have, a steady
    /// delay (0.2.0), plus [`TAIL_DELAY`] on one request in [`TAIL_EVERY`] (0.2.1, a slow tail
    /// of about 8 % of the requests that leaves the median and the p90 alone); nothing for
    /// every other version.
    pub fn delay(&self, request: u64) -> Duration {
        match self.0.as_str() {
            SLOW_VERSION => SLOW_BUILD_DELAY,
            STEADY_VERSION => steady_delay(request),
            TAIL_VERSION if request % TAIL_EVERY == TAIL_EVERY - 1 => {
                steady_delay(request) + TAIL_DELAY
            }
            TAIL_VERSION => steady_delay(request),
            _ => Duration::ZERO,
        }
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
    fn delays_per_build() {
        let v = |s: &str| ServiceVersion::parse(s).unwrap();
        assert_eq!(v("0.1.2").delay(0), SLOW_BUILD_DELAY);
        assert_eq!(v("0.1.1").delay(11), Duration::ZERO);
        let steady: Vec<Duration> = (0..21).map(|n| v("0.2.0").delay(n)).collect();
        assert_eq!(steady[0], STEADY_DELAY);
        assert_eq!(steady[20], STEADY_DELAY + Duration::from_millis(20));
        assert_eq!(v("0.2.0").delay(21), STEADY_DELAY);
        let tail: Vec<Duration> = (0..84).map(|n| v("0.2.1").delay(n)).collect();
        assert_eq!(tail.iter().filter(|d| **d >= TAIL_DELAY).count(), 7);
        assert_eq!(
            tail[11],
            STEADY_DELAY + Duration::from_millis(11) + TAIL_DELAY
        );
        assert_eq!(tail[12], STEADY_DELAY + Duration::from_millis(12));
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
