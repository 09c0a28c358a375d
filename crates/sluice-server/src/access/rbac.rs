//! Roles and authorization: who may do what where, decided by pure functions over an explicit
//! route table.
//!
//! Every request is classified by [`classify`] into an [`Action`] on a [`Target`]; a route
//! missing from the table is instance-admin only (deny by default). `POST /api/v1/event` is
//! classified again by the event's type once its body is read ([`event_action`]), and a
//! sequence control by the stage in its body. [`authorize`] then answers with the reason of a
//! denial, which the API turns into Keptn's `{code: 403, message}`.

use sluice_model::event::{EventType, SequenceEventKind, TaskEventKind};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Reads projects, sequences, events, evaluations, resources; secret names only.
    Viewer,
    /// A viewer that may also answer approvals (`approval.finished`).
    Approver,
    /// A viewer that may also trigger sequences and evaluations, and pause, resume and abort.
    Operator,
    /// An executor: registers, polls, answers tasks (`.started`/`.finished`), reads.
    Integration,
    /// Everything within its project: the above plus shipyard, resources, services,
    /// monitoring settings and the project's tokens.
    ProjectAdmin,
    /// Everything, including projects, secrets and tokens of every project (the bootstrap
    /// token).
    InstanceAdmin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 6] = [
        Role::Viewer,
        Role::Approver,
        Role::Operator,
        Role::Integration,
        Role::ProjectAdmin,
        Role::InstanceAdmin,
    ];

    /// The wire name (the CLI's `--role`, the API, the store).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Approver => "approver",
            Role::Operator => "operator",
            Role::Integration => "integration",
            Role::ProjectAdmin => "admin",
            Role::InstanceAdmin => "instance-admin",
        }
    }

    /// The role with this wire name.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the role includes the right to `action`.
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::InstanceAdmin => true,
            Role::ProjectAdmin => action != Administer,
            Role::Viewer => action == Read,
            Role::Approver => matches!(action, Read | Approve),
            Role::Operator => matches!(action, Read | Trigger | Control),
            Role::Integration => matches!(action, Read | Answer),
        }
    }
}

/// A right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read anything but secret values.
    Read,
    /// Start a sequence or an evaluation, send an alert.
    Trigger,
    /// Answer an approval.
    Approve,
    /// Pause, resume or abort a sequence; invalidate an evaluation; pin a baseline.
    Control,
    /// Answer a task (`.started`, `.finished`), register and poll as an integration.
    Answer,
    /// Change a project's files, services, settings and tokens.
    Configure,
    /// Create and delete projects, write secrets, read the whole audit log.
    Administer,
}

impl Action {
    /// The name used in denials.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Trigger => "trigger sequences",
            Action::Approve => "approve",
            Action::Control => "pause, resume and abort sequences",
            Action::Answer => "answer tasks",
            Action::Configure => "configure projects",
            Action::Administer => "administer the instance",
        }
    }

    /// Whether the action changes something (stage limits apply to changes only).
    fn changes(self) -> bool {
        self != Action::Read
    }
}

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Something of the instance that belongs to no project and shows no project's data
    /// (metadata, integrations, secret names, the token check).
    Shared,
    /// Data of every project at once (an unfiltered event list, the stream, the log): only
    /// tokens not limited to a project.
    AllProjects,
    /// One project, and a stage when the request names one (`None`: every stage).
    Project {
        /// The project.
        project: String,
        /// The stage.
        stage: Option<String>,
    },
}

impl Target {
    /// One project, optionally one stage.
    pub fn project(project: &str, stage: Option<&str>) -> Target {
        Target::Project {
            project: project.to_owned(),
            stage: stage.filter(|s| !s.is_empty()).map(str::to_owned),
        }
    }
}

/// Who sent a request: a token's name, role and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name (`admin` for the bootstrap token).
    pub name: String,
    /// The stored token's id (`None` for the bootstrap token).
    pub token_id: Option<String>,
    /// Its role.
    pub role: Role,
    /// The project it is limited to (`None`: every project).
    pub project: Option<String>,
    /// The stages it is limited to (empty: every stage).
    pub stages: Vec<String>,
}

impl Principal {
    /// The bootstrap token (`api-token`, `SLUICE_API_TOKEN`).
    pub fn instance_admin() -> Principal {
        Principal {
            name: "admin".to_owned(),
            token_id: None,
            role: Role::InstanceAdmin,
            project: None,
            stages: Vec::new(),
        }
    }

    /// Whether the token may see `project` at all.
    pub fn sees_project(&self, project: &str) -> bool {
        self.project.as_deref().is_none_or(|p| p == project)
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// Whether `principal` may do `action` on `target`: the role must include the action; a
/// token limited to a project acts only on that project (and on [`Target::Shared`] things);
/// a token limited to stages changes only those stages (reads are not limited by stage).
pub fn authorize(principal: &Principal, action: Action, target: &Target) -> Result<(), Denied> {
    let who = format!(
        "token {:?} (role {})",
        principal.name,
        principal.role.as_str()
    );
    if !principal.role.allows(action) {
        return Err(Denied(format!(
            "{who} may not {}: it needs a role with that right",
            action.as_str()
        )));
    }
    match target {
        Target::Shared => Ok(()),
        Target::AllProjects => match &principal.project {
            None if principal.stages.is_empty() || !action.changes() => Ok(()),
            None => Err(Denied(format!(
                "{who} is limited to stages {} and may not {} in every stage at once",
                principal.stages.join(", "),
                action.as_str()
            ))),
            Some(p) => Err(Denied(format!(
                "{who} is limited to project {p}: name the project (e.g. ?project={p})"
            ))),
        },
        Target::Project { project, stage } => {
            if !principal.sees_project(project) {
                return Err(Denied(format!(
                    "{who} is limited to project {} and may not act on project {project}",
                    principal.project.as_deref().unwrap_or_default()
                )));
            }
            if principal.stages.is_empty() || !action.changes() {
                return Ok(());
            }
            match stage {
                Some(s) if principal.stages.iter().any(|x| x == s) => Ok(()),
                Some(s) => Err(Denied(format!(
                    "{who} is limited to stages {} and may not {} in stage {s}",
                    principal.stages.join(", "),
                    action.as_str()
                ))),
                None => Err(Denied(format!(
                    "{who} is limited to stages {} and may not {} in every stage of project {project}",
                    principal.stages.join(", "),
                    action.as_str()
                ))),
            }
        }
    }
}

/// How a route is authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// This action on this target.
    Check(Action, Target),
    /// Decided by the handler once the body is read (events, sequence control); the
    /// middleware only checks that the token may see the project named in the path, if any.
    InHandler(Option<String>),
}

/// The parts of a route's path the table names.
#[derive(Debug, Default)]
struct Captures<'a> {
    project: Option<&'a str>,
    stage: Option<&'a str>,
}

/// Matches `path` against a pattern whose `{name}` segments match one segment and whose
/// `{*rest}` matches the rest.
fn matches<'a>(pattern: &str, path: &'a str) -> Option<Captures<'a>> {
    let mut captures = Captures::default();
    let mut parts = path.trim_end_matches('/').split('/');
    for want in pattern.split('/') {
        if want.starts_with("{*") {
            return parts.next().map(|_| captures);
        }
        let got = parts.next()?;
        match want {
            "{project}" => captures.project = Some(got),
            "{stage}" => captures.stage = Some(got),
            w if w.starts_with('{') => {}
            w if w == got => {}
            _ => return None,
        }
    }
    parts.next().is_none().then_some(captures)
}

/// How a route's target is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// [`Target::Shared`].
    Shared,
    /// The project (and stage) in the path.
    Path,
    /// The `project` (and `stage`) query parameters; [`Target::AllProjects`] without one.
    Query,
}

/// The route table: method (`*` for any), path pattern, right, where the target comes from.
/// A route that is not here is instance-admin only.
const ROUTES: &[(&str, &str, Action, Scope)] = {
    use Action::*;
    use Scope::*;
    &[
        ("POST", "/api/v1/auth", Read, Shared),
        ("GET", "/api/v1/metadata", Read, Shared),
        // Counts over every project: a token not limited to a project (e.g. a viewer for
        // Prometheus).
        ("GET", "/metrics", Read, Path),
        ("GET", "/api/sluice/v1/session", Read, Shared),
        ("GET", "/api/controlPlane/v1/project", Read, Shared),
        ("POST", "/api/controlPlane/v1/project", Administer, Query),
        // The project is in the body: the handler checks it.
        ("PUT", "/api/controlPlane/v1/project", Configure, Shared),
        ("GET", "/api/controlPlane/v1/project/{project}", Read, Path),
        (
            "DELETE",
            "/api/controlPlane/v1/project/{project}",
            Administer,
            Path,
        ),
        (
            "GET",
            "/api/controlPlane/v1/project/{project}/stage",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/controlPlane/v1/project/{project}/stage/{stage}",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/controlPlane/v1/project/{project}/stage/{stage}/service",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/controlPlane/v1/project/{project}/stage/{stage}/service/{service}",
            Read,
            Path,
        ),
        (
            "POST",
            "/api/controlPlane/v1/project/{project}/service",
            Configure,
            Path,
        ),
        (
            "DELETE",
            "/api/controlPlane/v1/project/{project}/service/{service}",
            Configure,
            Path,
        ),
        (
            "POST",
            "/api/controlPlane/v1/project/{project}/stage/{stage}/service/{service}/evaluation",
            Trigger,
            Path,
        ),
        (
            "GET",
            "/api/resource-service/v1/project/{project}/resource",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/resource-service/v1/project/{project}/resource/{*uri}",
            Read,
            Path,
        ),
        (
            "*",
            "/api/resource-service/v1/project/{project}/resource",
            Configure,
            Path,
        ),
        (
            "*",
            "/api/resource-service/v1/project/{project}/resource/{*uri}",
            Configure,
            Path,
        ),
        (
            "GET",
            "/api/resource-service/v1/project/{project}/stage/{stage}/resource",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/resource-service/v1/project/{project}/stage/{stage}/resource/{*uri}",
            Read,
            Path,
        ),
        (
            "*",
            "/api/resource-service/v1/project/{project}/stage/{stage}/resource",
            Configure,
            Path,
        ),
        (
            "*",
            "/api/resource-service/v1/project/{project}/stage/{stage}/resource/{*uri}",
            Configure,
            Path,
        ),
        (
            "GET",
            "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource/{*uri}",
            Read,
            Path,
        ),
        (
            "*",
            "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource",
            Configure,
            Path,
        ),
        (
            "*",
            "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource/{*uri}",
            Configure,
            Path,
        ),
        ("GET", "/api/mongodb-datastore/event", Read, Query),
        (
            "GET",
            "/api/mongodb-datastore/event/type/{type}",
            Read,
            Query,
        ),
        ("GET", "/api/controlPlane/v1/sequence/{project}", Read, Path),
        (
            "GET",
            "/api/controlPlane/v1/sequence-execution",
            Read,
            Query,
        ),
        (
            "GET",
            "/api/controlPlane/v1/event/triggered/{type}",
            Read,
            Query,
        ),
        ("GET", "/api/sluice/v1/stream", Read, Query),
        // By context or id: the handlers check the project of what they found.
        ("GET", "/api/sluice/v1/logs", Read, Shared),
        (
            "GET",
            "/api/sluice/v1/project/{project}/monitoring",
            Read,
            Path,
        ),
        (
            "POST",
            "/api/sluice/v1/project/{project}/monitoring",
            Configure,
            Path,
        ),
        (
            "GET",
            "/api/sluice/v1/project/{project}/alerting-rules",
            Read,
            Path,
        ),
        ("POST", "/api/sluice/v1/alerts", Trigger, Path),
        (
            "GET",
            "/api/sluice/v1/project/{project}/stage/{stage}/service/{service}/evaluations",
            Read,
            Path,
        ),
        ("GET", "/api/sluice/v1/evaluation/{id}", Read, Path),
        (
            "GET",
            "/api/sluice/v1/project/{project}/stage/{stage}/service/{service}/baseline",
            Read,
            Path,
        ),
        (
            "GET",
            "/api/sluice/v1/project/{project}/baselines",
            Read,
            Path,
        ),
        (
            "PUT",
            "/api/sluice/v1/project/{project}/stage/{stage}/service/{service}/baseline",
            Control,
            Path,
        ),
        (
            "DELETE",
            "/api/sluice/v1/project/{project}/stage/{stage}/service/{service}/baseline",
            Control,
            Path,
        ),
        (
            "POST",
            "/api/sluice/v1/evaluation/{id}/invalidate",
            Control,
            Path,
        ),
        (
            "GET",
            "/api/controlPlane/v1/uniform/registration",
            Read,
            Shared,
        ),
        (
            "POST",
            "/api/controlPlane/v1/uniform/registration",
            Answer,
            Shared,
        ),
        (
            "DELETE",
            "/api/controlPlane/v1/uniform/registration/{id}",
            Answer,
            Shared,
        ),
        (
            "PUT",
            "/api/controlPlane/v1/uniform/registration/{id}/ping",
            Answer,
            Shared,
        ),
        (
            "GET",
            "/api/controlPlane/v1/uniform/registration/{id}/subscription",
            Read,
            Shared,
        ),
        (
            "GET",
            "/api/controlPlane/v1/uniform/registration/{id}/subscription/{sid}",
            Read,
            Shared,
        ),
        (
            "*",
            "/api/controlPlane/v1/uniform/registration/{id}/subscription",
            Answer,
            Shared,
        ),
        (
            "*",
            "/api/controlPlane/v1/uniform/registration/{id}/subscription/{sid}",
            Answer,
            Shared,
        ),
        ("GET", "/api/controlPlane/v1/log", Read, Shared),
        ("POST", "/api/controlPlane/v1/log", Answer, Shared),
        ("GET", "/api/secrets/v1/secret", Read, Shared),
        ("GET", "/api/secrets/v1/scope", Read, Shared),
        // The handlers keep a token limited to a project to that project's tokens and log.
        ("GET", "/api/sluice/v1/tokens", Configure, Shared),
        ("POST", "/api/sluice/v1/tokens", Configure, Shared),
        ("DELETE", "/api/sluice/v1/tokens/{id}", Configure, Shared),
        ("GET", "/api/sluice/v1/audit", Configure, Shared),
        ("GET", "/api/v1/audit", Configure, Shared),
        // Notification channels, rules and the delivery log: viewers read, project admins
        // change.
        (
            "GET",
            "/api/sluice/v1/project/{project}/notification/channel",
            Read,
            Path,
        ),
        (
            "POST",
            "/api/sluice/v1/project/{project}/notification/channel",
            Configure,
            Path,
        ),
        (
            "DELETE",
            "/api/sluice/v1/project/{project}/notification/channel/{name}",
            Configure,
            Path,
        ),
        (
            "GET",
            "/api/sluice/v1/project/{project}/notification/rule",
            Read,
            Path,
        ),
        (
            "POST",
            "/api/sluice/v1/project/{project}/notification/rule",
            Configure,
            Path,
        ),
        (
            "DELETE",
            "/api/sluice/v1/project/{project}/notification/rule/{name}",
            Configure,
            Path,
        ),
        (
            "GET",
            "/api/sluice/v1/project/{project}/notification/delivery",
            Read,
            Path,
        ),
    ]
};

/// Routes whose right depends on the body: the handler decides.
const IN_HANDLER: &[(&str, &str)] = &[
    ("POST", "/api/v1/event"),
    ("POST", "/api/controlPlane/v1/event"),
    (
        "POST",
        "/api/controlPlane/v1/sequence/{project}/{context}/control",
    ),
];

/// What a request needs: the first matching entry of the route table; anything else is
/// instance-admin only. `query` is the request's query parameters.
pub fn classify(method: &str, path: &str, query: &[(String, String)]) -> Need {
    for (m, pattern) in IN_HANDLER {
        if *m == method
            && let Some(c) = matches(pattern, path)
        {
            return Need::InHandler(c.project.map(str::to_owned));
        }
    }
    let method = if method == "HEAD" { "GET" } else { method };
    for (m, pattern, action, scope) in ROUTES {
        if (*m == method || *m == "*")
            && let Some(c) = matches(pattern, path)
        {
            let param = |name: &str| {
                query
                    .iter()
                    .find(|(k, v)| k == name && !v.is_empty())
                    .map(|(_, v)| v.as_str())
            };
            let target = match scope {
                Scope::Shared => Target::Shared,
                Scope::Path => match c.project {
                    Some(p) => Target::project(p, c.stage),
                    None => Target::AllProjects,
                },
                Scope::Query => match param("project") {
                    Some(p) => Target::project(p, param("stage")),
                    None => Target::AllProjects,
                },
            };
            return Need::Check(*action, target);
        }
    }
    Need::Check(Action::Administer, Target::AllProjects)
}

/// The right an incoming event needs: a sequence `.triggered` triggers; `approval.finished`
/// approves; other task `.started`/`.finished` (and status changes, error logs) answer; a
/// task `.triggered` triggers; an `.invalidated` controls; project and service lifecycle
/// events and legacy monitoring configuration configure.
pub fn event_action(kind: &EventType) -> Action {
    match kind {
        EventType::Sequence {
            kind: SequenceEventKind::Triggered,
            ..
        } => Action::Trigger,
        EventType::Sequence { .. } => Action::Control,
        EventType::Task { task, kind } => match kind {
            TaskEventKind::Finished if task == "approval" => Action::Approve,
            TaskEventKind::Triggered => Action::Trigger,
            TaskEventKind::Invalidated => Action::Control,
            TaskEventKind::Started | TaskEventKind::Finished | TaskEventKind::Other(_) => {
                Action::Answer
            }
        },
        EventType::TaskStatusChanged { .. } | EventType::LogError => Action::Answer,
        EventType::LegacyProblem => Action::Trigger,
        EventType::Lifecycle { .. } | EventType::MonitoringConfigure => Action::Configure,
    }
}

/// Which rights a principal has, for the web UI to show only what it may use.
pub fn rights(principal: &Principal) -> Vec<&'static str> {
    [
        Action::Read,
        Action::Trigger,
        Action::Approve,
        Action::Control,
        Action::Answer,
        Action::Configure,
        Action::Administer,
    ]
    .into_iter()
    .filter(|a| principal.role.allows(*a))
    .map(|a| match a {
        Action::Read => "read",
        Action::Trigger => "trigger",
        Action::Approve => "approve",
        Action::Control => "control",
        Action::Answer => "answer",
        Action::Configure => "configure",
        Action::Administer => "administer",
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: Role, project: Option<&str>, stages: &[&str]) -> Principal {
        Principal {
            name: "t".into(),
            token_id: Some("id".into()),
            role,
            project: project.map(Into::into),
            stages: stages.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn roles_round_trip_and_separate_trigger_from_approve() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(!Role::Approver.allows(Action::Trigger));
        assert!(!Role::Operator.allows(Action::Approve));
        assert!(!Role::Integration.allows(Action::Approve));
        assert!(!Role::Integration.allows(Action::Trigger));
        assert!(!Role::Viewer.allows(Action::Control));
        assert!(!Role::ProjectAdmin.allows(Action::Administer));
    }

    #[test]
    fn project_and_stage_limits() {
        let t = token(Role::Approver, Some("shop"), &["production"]);
        let prod = Target::project("shop", Some("production"));
        assert_eq!(authorize(&t, Action::Approve, &prod), Ok(()));
        let err = authorize(&t, Action::Approve, &Target::project("shop", Some("qa")))
            .unwrap_err()
            .0;
        assert!(err.contains("limited to stages production"), "{err}");
        assert!(authorize(&t, Action::Approve, &Target::project("shop", None)).is_err());
        assert_eq!(
            authorize(&t, Action::Read, &Target::project("shop", Some("qa"))),
            Ok(())
        );
        assert!(authorize(&t, Action::Read, &Target::project("other", None)).is_err());
        let err = authorize(&t, Action::Read, &Target::AllProjects)
            .unwrap_err()
            .0;
        assert!(err.contains("?project=shop"), "{err}");
        assert_eq!(authorize(&t, Action::Read, &Target::Shared), Ok(()));
        let err = authorize(&t, Action::Trigger, &prod).unwrap_err().0;
        assert!(err.contains("may not trigger sequences"), "{err}");
    }

    #[test]
    fn the_route_table_classifies_paths_and_denies_unknown_routes() {
        let none: &[(String, String)] = &[];
        assert_eq!(
            classify(
                "PUT",
                "/api/resource-service/v1/project/shop/stage/qa/service/carts/resource/a/b.yaml",
                none
            ),
            Need::Check(Action::Configure, Target::project("shop", Some("qa")))
        );
        assert_eq!(
            classify(
                "GET",
                "/api/resource-service/v1/project/shop/resource",
                none
            ),
            Need::Check(Action::Read, Target::project("shop", None))
        );
        assert_eq!(
            classify("GET", "/api/mongodb-datastore/event", none),
            Need::Check(Action::Read, Target::AllProjects)
        );
        let q = vec![("project".to_owned(), "shop".to_owned())];
        assert_eq!(
            classify("GET", "/api/mongodb-datastore/event", &q),
            Need::Check(Action::Read, Target::project("shop", None))
        );
        assert_eq!(
            classify(
                "POST",
                "/api/controlPlane/v1/sequence/shop/ctx/control",
                none
            ),
            Need::InHandler(Some("shop".into()))
        );
        assert_eq!(
            classify("POST", "/api/v1/import", none),
            Need::Check(Action::Administer, Target::AllProjects)
        );
        assert_eq!(
            classify("GET", "/metrics", none),
            Need::Check(Action::Read, Target::AllProjects)
        );
        assert_eq!(
            classify("DELETE", "/api/v1/metadata", none),
            Need::Check(Action::Administer, Target::AllProjects)
        );
    }

    #[test]
    fn viewers_read_notifications_and_admins_change_them() {
        let none: &[(String, String)] = &[];
        let shop = Target::project("shop", None);
        for (method, path, action) in [
            (
                "GET",
                "/api/sluice/v1/project/shop/notification/rule",
                Action::Read,
            ),
            (
                "GET",
                "/api/sluice/v1/project/shop/notification/channel",
                Action::Read,
            ),
            (
                "GET",
                "/api/sluice/v1/project/shop/notification/delivery",
                Action::Read,
            ),
            (
                "POST",
                "/api/sluice/v1/project/shop/notification/rule",
                Action::Configure,
            ),
            (
                "POST",
                "/api/sluice/v1/project/shop/notification/channel",
                Action::Configure,
            ),
            (
                "DELETE",
                "/api/sluice/v1/project/shop/notification/rule/r",
                Action::Configure,
            ),
            (
                "DELETE",
                "/api/sluice/v1/project/shop/notification/channel/c",
                Action::Configure,
            ),
        ] {
            assert_eq!(
                classify(method, path, none),
                Need::Check(action, shop.clone()),
                "{method} {path}"
            );
        }
        let viewer = token(Role::Viewer, Some("shop"), &[]);
        assert_eq!(authorize(&viewer, Action::Read, &shop), Ok(()));
        assert!(authorize(&viewer, Action::Configure, &shop).is_err());
        assert!(authorize(&viewer, Action::Read, &Target::project("other", None)).is_err());
        let admin = token(Role::ProjectAdmin, Some("shop"), &[]);
        assert_eq!(authorize(&admin, Action::Configure, &shop), Ok(()));
        assert!(authorize(&admin, Action::Configure, &Target::project("other", None)).is_err());
    }

    #[test]
    fn events_are_classified_by_type() {
        let kind = |t: &str| t.parse::<EventType>().unwrap();
        assert_eq!(
            event_action(&kind("sh.keptn.event.production.delivery.triggered")),
            Action::Trigger
        );
        assert_eq!(
            event_action(&kind("sh.keptn.event.approval.finished")),
            Action::Approve
        );
        assert_eq!(
            event_action(&kind("sh.keptn.event.deployment.finished")),
            Action::Answer
        );
        assert_eq!(
            event_action(&kind("sh.keptn.event.approval.started")),
            Action::Answer
        );
        assert_eq!(
            event_action(&kind("sh.keptn.event.evaluation.triggered")),
            Action::Trigger
        );
    }
}
