//! Which images, namespaces and service accounts tasks may use: job-executor-service's image
//! allowlist (`ALLOWED_IMAGE_LIST`), extended to namespaces and service accounts because
//! `job/config.yaml` comes from git and anyone who can push to it chooses all three.

use std::fmt;

use sluice_model::job::Action;

use crate::JobSettings;

/// Setting holding the allowed images (job-executor-service: `ALLOWED_IMAGE_LIST`).
pub const ALLOWED_IMAGES_SETTING: &str = "SLUICE_KUBE_ALLOWED_IMAGES";
/// Setting holding the allowed namespaces.
pub const ALLOWED_NAMESPACES_SETTING: &str = "SLUICE_KUBE_ALLOWED_NAMESPACES";
/// Setting holding the allowed service accounts.
pub const ALLOWED_SERVICE_ACCOUNTS_SETTING: &str = "SLUICE_KUBE_ALLOWED_SERVICE_ACCOUNTS";

/// A comma-separated list of globs, as job-executor-service read `ALLOWED_IMAGE_LIST`: empty
/// entries are dropped, an empty list or a `*` entry allows everything, `*` matches any run
/// of characters (including `/`) and `?` any one character; everything else is literal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    /// The entries; empty means open.
    patterns: Vec<String>,
}

/// A list entry that uses glob syntax this list does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "entry `{entry}` of {setting} uses `{character}`, which is not supported: only `*` (any \
     characters) and `?` (one character) are wildcards; list the alternatives as separate \
     comma-separated entries"
)]
pub struct AllowlistParseError {
    /// The setting the list came from.
    pub setting: String,
    /// The offending entry.
    pub entry: String,
    /// The unsupported character.
    pub character: char,
}

impl Allowlist {
    /// Parses the comma-separated list of `setting`.
    ///
    /// job-executor-service's glob library also had `[...]` classes, `{a,b}` alternatives and
    /// `\` escapes; those are refused here rather than silently matched literally.
    pub fn parse(setting: &str, spec: &str) -> Result<Allowlist, AllowlistParseError> {
        let mut patterns = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                return Ok(Allowlist::default());
            }
            if let Some(character) = entry
                .chars()
                .find(|c| matches!(c, '[' | ']' | '{' | '}' | '\\'))
            {
                return Err(AllowlistParseError {
                    setting: setting.to_owned(),
                    entry: entry.to_owned(),
                    character,
                });
            }
            patterns.push(entry.to_owned());
        }
        Ok(Allowlist { patterns })
    }

    /// Whether everything is allowed.
    pub fn is_open(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `value` matches an entry (always, for an open list).
    pub fn permits(&self, value: &str) -> bool {
        self.is_open() || self.patterns.iter().any(|p| glob_match(p, value))
    }
}

/// Glob matching where `*` matches any run of characters (also `/`) and `?` one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The three allowlists of the Kubernetes backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterAllowlists {
    /// Container images ([`ALLOWED_IMAGES_SETTING`]).
    pub images: Allowlist,
    /// Namespaces a Job may be created in ([`ALLOWED_NAMESPACES_SETTING`]).
    pub namespaces: Allowlist,
    /// Service accounts a Job's pod may run as ([`ALLOWED_SERVICE_ACCOUNTS_SETTING`]).
    pub service_accounts: Allowlist,
}

/// Why a task may not run; the message names the task, the value and the setting to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The task's image is not allowed.
    Image {
        /// The task's name.
        task: String,
        /// The image.
        image: String,
    },
    /// The task's namespace (its own or the default) is not allowed.
    Namespace {
        /// The task's name.
        task: String,
        /// The namespace.
        namespace: String,
    },
    /// The task's service account (its own or the default) is not allowed.
    ServiceAccount {
        /// The task's name.
        task: String,
        /// The service account.
        service_account: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The first sentence is job-executor-service's own text.
            Refusal::Image { task, image } => write!(
                f,
                "Forbidden: Image {image} does not match configured image allowlist. \
                 (task '{task}'; allowed images are set by {ALLOWED_IMAGES_SETTING})"
            ),
            Refusal::Namespace { task, namespace } => write!(
                f,
                "Forbidden: namespace {namespace} of task '{task}' does not match the \
                 configured namespace allowlist ({ALLOWED_NAMESPACES_SETTING})"
            ),
            Refusal::ServiceAccount {
                task,
                service_account,
            } => write!(
                f,
                "Forbidden: service account {service_account} of task '{task}' does not match \
                 the configured service account allowlist ({ALLOWED_SERVICE_ACCOUNTS_SETTING})"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl ClusterAllowlists {
    /// Checks every task of `action` before any of them runs (job-executor-service checked all
    /// images of an action before starting the first Job, so an action never half-runs).
    /// The namespace and service account are the ones the Job would get: the task's own, else
    /// the defaults in `settings`.
    pub fn check_action(&self, action: &Action, settings: &JobSettings) -> Result<(), Refusal> {
        for task in &action.tasks {
            if !self.images.permits(&task.image) {
                return Err(Refusal::Image {
                    task: task.name.clone(),
                    image: task.image.clone(),
                });
            }
            let namespace = settings.namespace_for(task);
            if !self.namespaces.permits(namespace) {
                return Err(Refusal::Namespace {
                    task: task.name.clone(),
                    namespace: namespace.to_owned(),
                });
            }
            let service_account = settings.service_account_for(task);
            if !self.service_accounts.permits(service_account) {
                return Err(Refusal::ServiceAccount {
                    task: task.name.clone(),
                    service_account: service_account.to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sluice_model::job::Task;

    use super::*;

    fn list(spec: &str) -> Allowlist {
        Allowlist::parse("TEST", spec).unwrap()
    }

    #[test]
    fn empty_or_star_allows_everything() {
        assert!(list("").permits("anything/at:all"));
        assert!(list(" , ,").is_open());
        assert!(list("docker.io/*,*").is_open());
    }

    #[test]
    fn star_spans_slashes_as_in_jes() {
        let l = list("docker.io/*,ghcr.io/my-user/my-image:1.2.3");
        assert!(l.permits("docker.io/alpine/helm:3.9.0"));
        assert!(l.permits("ghcr.io/my-user/my-image:1.2.3"));
        assert!(!l.permits("ghcr.io/my-user/my-image:1.2.4"));
        // Matched literally, not normalised: `alpine/helm` is not `docker.io/alpine/helm`.
        assert!(!l.permits("alpine/helm:3.9.0"));
    }

    #[test]
    fn question_mark_is_one_character() {
        let l = list("alpine/helm:3.?.0");
        assert!(l.permits("alpine/helm:3.9.0"));
        assert!(!l.permits("alpine/helm:3.10.0"));
    }

    #[test]
    fn glob_backtracks() {
        assert!(glob_match("a*b*c", "axxbyybzc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("?", ""));
    }

    #[test]
    fn unsupported_glob_syntax_is_refused_precisely() {
        let e = Allowlist::parse(ALLOWED_IMAGES_SETTING, "docker.io/*,ghcr.io/{a,b}").unwrap_err();
        // `{a` and `b}` are split at the comma; the first entry with `{` is reported.
        assert_eq!(e.entry, "ghcr.io/{a");
        assert_eq!(e.character, '{');
        let msg = e.to_string();
        assert!(
            msg.contains(ALLOWED_IMAGES_SETTING) && msg.contains("separate"),
            "{msg}"
        );
        assert!(Allowlist::parse("X", "a[0-9]").is_err());
    }

    fn action(tasks: Vec<Task>) -> Action {
        Action {
            name: "a".into(),
            tasks,
            ..Action::default()
        }
    }

    fn task(name: &str, image: &str) -> Task {
        Task {
            name: name.into(),
            image: image.into(),
            ..Task::default()
        }
    }

    #[test]
    fn every_task_is_checked_before_any_runs() {
        let lists = ClusterAllowlists {
            images: list("alpine/*"),
            ..Default::default()
        };
        let a = action(vec![
            task("ok", "alpine/helm:3"),
            task("bad", "evil/miner:1"),
        ]);
        let e = lists.check_action(&a, &JobSettings::default()).unwrap_err();
        assert_eq!(
            e,
            Refusal::Image {
                task: "bad".into(),
                image: "evil/miner:1".into()
            }
        );
        assert!(e.to_string().starts_with(
            "Forbidden: Image evil/miner:1 does not match configured image allowlist."
        ));
    }

    #[test]
    fn namespace_allowlist_covers_the_default_and_the_tasks_own() {
        let lists = ClusterAllowlists {
            namespaces: list("sluice-jobs"),
            ..Default::default()
        };
        let settings = JobSettings {
            namespace: "sluice-jobs".into(),
            ..JobSettings::default()
        };
        assert_eq!(
            lists.check_action(&action(vec![task("t", "i")]), &settings),
            Ok(())
        );
        let mut t = task("t", "i");
        t.namespace = Some("kube-system".into());
        let e = lists.check_action(&action(vec![t]), &settings).unwrap_err();
        assert!(matches!(&e, Refusal::Namespace { namespace, .. } if namespace == "kube-system"));
        assert!(e.to_string().contains(ALLOWED_NAMESPACES_SETTING));
    }

    #[test]
    fn service_account_allowlist_covers_the_default_and_the_tasks_own() {
        let lists = ClusterAllowlists {
            service_accounts: list("sluice-task,jes-*"),
            ..Default::default()
        };
        let settings = JobSettings::default();
        let mut t = task("Run helm", "alpine/helm:3.9.0");
        assert_eq!(
            lists.check_action(&action(vec![t.clone()]), &settings),
            Ok(())
        );
        t.service_account = Some("jes-deploy-using-helm".into());
        assert_eq!(
            lists.check_action(&action(vec![t.clone()]), &settings),
            Ok(())
        );
        t.service_account = Some("cluster-admin".into());
        let e = lists.check_action(&action(vec![t]), &settings).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Forbidden: service account cluster-admin of task 'Run helm' does not match the \
             configured service account allowlist (SLUICE_KUBE_ALLOWED_SERVICE_ACCOUNTS)"
        );
    }
}
