//! Decoding and checking `job/config.yaml`: the positioned YAML tree → [`JobConfig`].
//!
//! Errors follow what JES 0.3.0 rejected: `yaml.v2` `UnmarshalStrict` (unknown keys, repeated
//! keys, wrong shapes), `apiVersion` missing or not `v2`, and the run-time failures that hit
//! every run of a task (unknown `valueFrom`, unparsable resource quantities, out-of-range
//! integers). Everything else that is almost certainly a mistake is a warning.

use std::collections::{BTreeMap, HashMap};

use crate::Parsed;
use crate::diagnostic::{Diagnostics, FieldPath, Pos, Severity};
use crate::yaml::{self, MapReader, Node, Value};

use super::{
    API_VERSION, Action, BUILTIN_ENV_VARS, Capabilities, EVENT_MAP_KEYS, EnvFormat, EnvSource,
    EnvVar, EventMatcher, JobConfig, JsonPath, JsonPathFilter, MIN_TTL_SECONDS_AFTER_FINISHED,
    ResourceList, Resources, SeccompProfile, SecurityContext, Task, var_references,
};

/// The keys of one YAML mapping type (from the Go struct tags), plus likely wrong names.
struct Shape {
    what: &'static str,
    keys: &'static [&'static str],
    aliases: &'static [(&'static str, &'static str)],
}

const CONFIG: Shape = Shape {
    what: "the job config",
    keys: &["apiVersion", "actions"],
    aliases: &[("version", "apiVersion"), ("action", "actions")],
};
const ACTION: Shape = Shape {
    what: "an action",
    keys: &["name", "events", "tasks", "silent"],
    aliases: &[("task", "tasks"), ("quiet", "silent")],
};
const EVENT: Shape = Shape {
    what: "an event matcher",
    keys: &["name", "jsonpath"],
    aliases: &[
        ("type", "name"),
        ("jsonPath", "jsonpath"),
        ("filter", "jsonpath"),
    ],
};
const JSONPATH: Shape = Shape {
    what: "a jsonpath filter",
    keys: &["property", "match"],
    aliases: &[
        ("value", "match"),
        ("equals", "match"),
        ("path", "property"),
    ],
};
const TASK: Shape = Shape {
    what: "a task",
    keys: &[
        "name",
        "files",
        "image",
        "imagePullPolicy",
        "cmd",
        "args",
        "env",
        "resources",
        "workingDir",
        "maxPollDuration",
        "namespace",
        "ttlSecondsAfterFinished",
        "securityContext",
        "serviceAccount",
        "annotations",
    ],
    aliases: &[
        ("command", "cmd"),
        ("commands", "cmd"),
        ("entrypoint", "cmd"),
        ("arguments", "args"),
        ("environment", "env"),
        ("workdir", "workingDir"),
        ("workingDirectory", "workingDir"),
        ("serviceAccountName", "serviceAccount"),
        ("ttl", "ttlSecondsAfterFinished"),
        ("timeout", "maxPollDuration"),
        ("pullPolicy", "imagePullPolicy"),
        ("resource", "resources"),
    ],
};
const ENV: Shape = Shape {
    what: "an env entry",
    keys: &["name", "value", "valueFrom", "as"],
    aliases: &[
        ("from", "valueFrom"),
        ("source", "valueFrom"),
        ("format", "as"),
        ("formatting", "as"),
    ],
};
const RESOURCES: Shape = Shape {
    what: "resources",
    keys: &["limits", "requests"],
    aliases: &[("limit", "limits"), ("request", "requests")],
};
const RESOURCE_LIST: Shape = Shape {
    what: "a resource list",
    keys: &["cpu", "memory"],
    aliases: &[("mem", "memory")],
};
const SECURITY_CONTEXT: Shape = Shape {
    what: "a securityContext",
    keys: &[
        "capabilities",
        "privileged",
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "procMount",
        "seccompProfile",
    ],
    aliases: &[],
};
const CAPABILITIES: Shape = Shape {
    what: "capabilities",
    keys: &["add", "drop"],
    aliases: &[],
};
const SECCOMP: Shape = Shape {
    what: "a seccompProfile",
    keys: &["type", "localhostProfile"],
    aliases: &[],
};

/// Kubernetes securityContext fields that JES's subset does not have.
const UNSUPPORTED_SECURITY_FIELDS: &[&str] = &[
    "seLinuxOptions",
    "windowsOptions",
    "fsGroup",
    "fsGroupChangePolicy",
    "supplementalGroups",
    "sysctls",
    "appArmorProfile",
];

/// Reports every key of `r` that is not in `shape`, as an error (JES used `UnmarshalStrict`).
fn reject_unknown(
    r: &MapReader<'_>,
    shape: &Shape,
    diags: &mut Diagnostics,
    special: &dyn Fn(&str) -> Option<String>,
) {
    for e in r.unknown() {
        let key = e.key_str();
        let path = r.path().key(key);
        let d = diags.error(
            e.key.pos,
            &path,
            format!(
                "unknown field `{key}` in {}; job-executor-service rejects the whole file",
                shape.what
            ),
        );
        let alias = shape
            .aliases
            .iter()
            .find(|(wrong, _)| wrong.eq_ignore_ascii_case(key))
            .map(|(_, right)| *right);
        if let Some(h) = special(key) {
            d.hint(h);
        } else if let Some(s) = alias.or_else(|| yaml::suggest(key, shape.keys)) {
            d.hint(format!("did you mean `{s}`?"));
        } else {
            d.hint(format!("known fields here: {}", shape.keys.join(", ")));
        }
    }
}

/// Whether an unknown key of `r` is probably a misspelling of `target` (then a "missing
/// `target`" warning would only repeat the unknown-key error).
fn unknown_meant(r: &MapReader<'_>, shape: &Shape, target: &str) -> bool {
    r.unknown().any(|e| {
        let key = e.key_str();
        shape
            .aliases
            .iter()
            .any(|(wrong, right)| wrong.eq_ignore_ascii_case(key) && *right == target)
            || yaml::suggest(key, shape.keys) == Some(target)
    })
}

/// Reads a list of strings, with a hint that fits a single string written instead.
fn string_list(
    node: &Node,
    path: &FieldPath,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<String>> {
    if let Value::Scalar(s) = &node.value {
        let items: Vec<String> = s
            .text
            .split_whitespace()
            .map(|w| format!("{w:?}"))
            .collect();
        diags
            .error(
                node.pos,
                path,
                format!(
                    "`{key}` must be a list of strings, found {}",
                    node.describe()
                ),
            )
            .hint(format!(
                "write one item per argument: `{key}: [{}]`",
                items.join(", ")
            ));
        return None;
    }
    yaml::string_list(node, path, diags)
}

fn opt_string(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<String> {
    yaml::string(node, path, diags).filter(|s| !s.is_empty())
}

/// Reads an integer field of a Go type with the given bit width.
fn int_field(node: &Node, path: &FieldPath, bits: u32, diags: &mut Diagnostics) -> Option<i64> {
    let i = yaml::integer(node, path, diags)?;
    let (min, max) = if bits >= 64 {
        (i64::MIN, i64::MAX)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    };
    if i.value < min || i.value > max {
        diags
            .error(
                node.pos,
                path,
                format!("{} does not fit a {bits}-bit integer", i.value),
            )
            .hint(format!("use a value between {min} and {max}"));
        return None;
    }
    if i.truncated {
        diags
            .warning(
                node.pos,
                path,
                format!(
                    "fraction dropped: job-executor-service read this as {}",
                    i.value
                ),
            )
            .hint("write a whole number");
    }
    Some(i.value)
}

struct Decoder<'d> {
    diags: &'d mut Diagnostics,
    /// Where the file shows signs of the pre-v2 (JES 0.1.x) format.
    pre_v2: Vec<Pos>,
}

pub(super) fn parse(src: &str) -> Parsed<JobConfig> {
    let mut diags = Diagnostics::new();
    let Some(root) = yaml::parse(src, &mut diags) else {
        return Parsed {
            value: None,
            diagnostics: diags,
        };
    };
    let root_path = FieldPath::root();
    if !matches!(root.value, Value::Map(_) | Value::Null) {
        diags
            .error(
                root.pos,
                &root_path,
                format!("a job config must be a mapping, found {}", root.describe()),
            )
            .hint("start the file with `apiVersion: v2` and `actions:`");
        return Parsed {
            value: None,
            diagnostics: diags,
        };
    }
    yaml::check_duplicate_keys(&root, &root_path, Severity::Error, &mut diags);
    let mut d = Decoder {
        diags: &mut diags,
        pre_v2: Vec::new(),
    };
    let config = d.config(&root);
    Parsed {
        value: Some(config),
        diagnostics: diags,
    }
}

impl Decoder<'_> {
    fn config(&mut self, root: &Node) -> JobConfig {
        let mut config = JobConfig::default();
        let Some(mut r) = MapReader::new(root, &FieldPath::root(), self.diags) else {
            return config;
        };
        let api = r.field("apiVersion");
        let actions_field = r.field("actions");
        reject_unknown(&r, &CONFIG, self.diags, &|_| None);

        let mut action_nodes: Vec<&Node> = Vec::new();
        if let Some((node, path)) = actions_field {
            if let Some(items) = yaml::seq(node, &path, self.diags) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(a) = self.action(item, &path.index(i)) {
                        config.actions.push(a);
                        action_nodes.push(item);
                    }
                }
            }
            if node.as_seq().is_some_and(<[Node]>::is_empty) || node.is_null() {
                self.diags
                    .warning(
                        node.pos,
                        &path,
                        "no actions: this config never runs anything",
                    )
                    .hint("add actions, each with `events` and `tasks`");
            }
        } else {
            self.diags
                .warning(
                    r.pos(),
                    &FieldPath::root(),
                    "no `actions`: this config never runs anything",
                )
                .hint("add `actions:` with `events` and `tasks`");
        }
        self.duplicate_names(
            config.actions.iter().map(|a| a.name.as_str()),
            &action_nodes,
            &FieldPath::root().key("actions"),
            "action",
        );

        self.api_version(root, api, &mut config);
        config
    }

    fn api_version(
        &mut self,
        root: &Node,
        api: Option<(&Node, FieldPath)>,
        config: &mut JobConfig,
    ) {
        let pre_v2_hint = || {
            "this looks like the pre-v2 (JES 0.1.x) format: add `apiVersion: v2`, replace each \
             action's `event: X` (and its `jsonpath`) with `events: [{name: X, jsonpath: ...}]`, \
             and write `cmd` as a list such as `cmd: [\"locust\", \"-f\", ...]`"
                .to_owned()
        };
        match api {
            Some((node, path)) if !node.is_null() => {
                let Some(v) = yaml::string(node, &path, self.diags) else {
                    return;
                };
                if v != API_VERSION {
                    self.diags
                        .error(
                            node.pos,
                            &path,
                            format!("apiVersion `{v}` is not supported, use {API_VERSION}"),
                        )
                        .hint(if self.pre_v2.is_empty() {
                            "write `apiVersion: v2`; job-executor-service 0.1.3 and later read only v2 configs"
                                .to_owned()
                        } else {
                            pre_v2_hint()
                        });
                }
                config.api_version = v;
            }
            other => {
                let (pos, path) = match &other {
                    Some((node, path)) => (node.pos, path.clone()),
                    None => (root.pos, FieldPath::root()),
                };
                self.diags
                    .error(pos, &path, "apiVersion must be specified")
                    .hint(if self.pre_v2.is_empty() {
                        "add `apiVersion: v2` as the first line".to_owned()
                    } else {
                        pre_v2_hint()
                    });
            }
        }
    }

    fn duplicate_names<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str>,
        nodes: &[&Node],
        list_path: &FieldPath,
        what: &str,
    ) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.enumerate() {
            if name.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(name) {
                let node = nodes.get(i).copied();
                let pos = node
                    .and_then(|n| n.get("name"))
                    .or(node)
                    .map(|n| n.pos)
                    .unwrap_or_default();
                self.diags
                    .warning(
                        pos,
                        &list_path.index(i).key("name"),
                        format!("duplicate {what} name `{name}` (also {what} {first})"),
                    )
                    .hint(format!(
                        "give each {what} its own name: job-executor-service's init container \
                         looks {what}s up by name and would use the first one's files"
                    ));
            } else {
                seen.insert(name, i);
            }
        }
    }

    fn action(&mut self, node: &Node, path: &FieldPath) -> Option<Action> {
        let mut r = MapReader::new(node, path, self.diags)?;
        let name = r.field("name");
        let events = r.field("events");
        let tasks = r.field("tasks");
        let silent = r.field("silent");
        for e in r.unknown() {
            if e.key_str() == "event" {
                self.pre_v2.push(e.key.pos);
            }
        }
        let events_misspelt = unknown_meant(&r, &ACTION, "events");
        let tasks_misspelt = unknown_meant(&r, &ACTION, "tasks");
        reject_unknown(&r, &ACTION, self.diags, &|key| match key {
            "event" => Some(
                "v2 configs list matchers under `events`: `events: [{name: <event type>}]` \
                 (the single `event:` key is the pre-v2 format)"
                    .to_owned(),
            ),
            "jsonpath" => Some(
                "in v2, `jsonpath` belongs to an entry of `events`: \
                 `events: [{name: ..., jsonpath: {property: ..., match: ...}}]`"
                    .to_owned(),
            ),
            _ => None,
        });

        let mut action = Action::default();
        if let Some((n, p)) = name {
            action.name = yaml::string(n, &p, self.diags).unwrap_or_default();
        }
        if action.name.is_empty() {
            self.diags
                .warning(node.pos, &path.key("name"), "action has no name")
                .hint("name every action; job-executor-service labels its jobs and looks tasks up by it");
        }
        if let Some((n, p)) = silent {
            action.silent = yaml::boolean(n, &p, self.diags).unwrap_or(false);
        }
        let mut events_ok = true;
        if let Some((n, p)) = &events {
            if let Some(items) = yaml::seq(n, p, self.diags) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(e) = self.event(item, &p.index(i)) {
                        action.events.push(e);
                    }
                }
            } else {
                events_ok = false;
            }
        }
        if events_ok && !events_misspelt && action.events.is_empty() {
            let (pos, p) = match &events {
                Some((n, p)) => (n.pos, p.clone()),
                None => (node.pos, path.key("events")),
            };
            self.diags
                .warning(pos, &p, "action has no events, so it never runs")
                .hint("add `events: [{name: sh.keptn.event.<task>.triggered}]`");
        }
        let mut task_nodes: Vec<&Node> = Vec::new();
        let mut tasks_ok = true;
        if let Some((n, p)) = &tasks {
            if let Some(items) = yaml::seq(n, p, self.diags) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(t) = self.task(item, &p.index(i)) {
                        action.tasks.push(t);
                        task_nodes.push(item);
                    }
                }
            } else {
                tasks_ok = false;
            }
        }
        if tasks_ok && !tasks_misspelt && action.tasks.is_empty() {
            let (pos, p) = match &tasks {
                Some((n, p)) => (n.pos, p.clone()),
                None => (node.pos, path.key("tasks")),
            };
            self.diags
                .warning(
                    pos,
                    &p,
                    "action has no tasks: it reports success without doing anything",
                )
                .hint("add `tasks:` with at least an `image` and a `cmd`");
        }
        self.duplicate_names(
            action.tasks.iter().map(|t| t.name.as_str()),
            &task_nodes,
            &path.key("tasks"),
            "task",
        );
        Some(action)
    }

    fn event(&mut self, node: &Node, path: &FieldPath) -> Option<EventMatcher> {
        if let Value::Scalar(s) = &node.value {
            self.diags
                .error(
                    node.pos,
                    path,
                    format!(
                        "an event matcher must be a mapping, found {}",
                        node.describe()
                    ),
                )
                .hint(format!("write `- name: {}`", s.text));
            return None;
        }
        let mut r = MapReader::new(node, path, self.diags)?;
        let name = r.field("name");
        let jsonpath = r.field("jsonpath");
        reject_unknown(&r, &EVENT, self.diags, &|_| None);

        let mut name_text = String::new();
        if let Some((n, p)) = &name {
            name_text = yaml::string(n, p, self.diags).unwrap_or_default();
        }
        let (name_pos, name_path) = match &name {
            Some((n, p)) => (n.pos, p.clone()),
            None => (node.pos, path.key("name")),
        };
        if name_text.is_empty() {
            self.diags
                .warning(
                    name_pos,
                    &name_path,
                    "empty event name: as a regular expression it matches every event",
                )
                .hint("set `name` to an event type such as sh.keptn.event.test.triggered");
        }
        let filter = match jsonpath {
            Some((n, p)) => self.jsonpath_filter(n, &p),
            None => None,
        };
        let matcher = EventMatcher::new(name_text, filter);
        if matcher.regex().is_none() {
            let err = regex::Regex::new(&matcher.name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            let first = err
                .lines()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("invalid regular expression")
                .trim_start_matches("error:")
                .trim();
            self.diags
                .warning(
                    name_pos,
                    &name_path,
                    format!(
                        "event name is not a valid regular expression ({first}), so it never matches"
                    ),
                )
                .hint("event names are Go regular expressions; escape special characters with `\\`");
        }
        Some(matcher)
    }

    fn jsonpath_filter(&mut self, node: &Node, path: &FieldPath) -> Option<JsonPathFilter> {
        let mut r = MapReader::new(node, path, self.diags)?;
        let property = r.field("property");
        let matched = r.field("match");
        let match_misspelt = unknown_meant(&r, &JSONPATH, "match");
        let property_misspelt = unknown_meant(&r, &JSONPATH, "property");
        reject_unknown(&r, &JSONPATH, self.diags, &|_| None);
        let mut f = JsonPathFilter::default();
        if let Some((n, p)) = &property {
            f.property = yaml::string(n, p, self.diags).unwrap_or_default();
        }
        if let Some((n, p)) = &matched {
            f.match_value = yaml::string(n, p, self.diags).unwrap_or_default();
        }
        let prop_at = property
            .as_ref()
            .map(|(n, p)| (n.pos, p.clone()))
            .unwrap_or_else(|| (node.pos, path.key("property")));
        if f.property.is_empty() {
            if property_misspelt {
                return Some(f);
            }
            self.diags
                .warning(
                    prop_at.0,
                    &prop_at.1,
                    "empty jsonpath property: the filter is ignored and any event of this type matches",
                )
                .hint("set `property`, e.g. `$.data.action.action`, or remove `jsonpath`");
            return Some(f);
        }
        if f.match_value.is_empty() && !match_misspelt {
            let (pos, p) = matched
                .as_ref()
                .map(|(n, p)| (n.pos, p.clone()))
                .unwrap_or_else(|| (node.pos, path.key("match")));
            self.diags
                .warning(
                    pos,
                    &p,
                    "empty `match`: only an empty string value would match",
                )
                .hint("set `match` to the value the property must have");
        }
        self.check_event_path(&f.property, prop_at.0, &prop_at.1);
        Some(f)
    }

    /// Warns about a JSONPath into the event map that cannot select a single value.
    fn check_event_path(&mut self, text: &str, pos: Pos, path: &FieldPath) {
        match text.parse::<JsonPath>() {
            Err(e) => {
                self.diags
                    .warning(pos, path, format!("unusable JSONPath `{text}`: {e}"))
                    .hint("write a path to one value, such as `$.data.test.teststrategy`");
            }
            Ok(jp) => {
                if let Some(super::jsonpath::Segment::Key(first)) = jp.segments().first()
                    && !EVENT_MAP_KEYS.contains(&first.as_str())
                {
                    let rest = text.trim_start().strip_prefix('$').unwrap_or(text);
                    self.diags
                            .warning(
                                pos,
                                path,
                                format!(
                                    "`{first}` is not a key of the event (keys: {}), so this path never resolves",
                                    EVENT_MAP_KEYS.join(", ")
                                ),
                            )
                            .hint(format!("did you mean `$.data{rest}`?"));
                }
            }
        }
    }

    fn task(&mut self, node: &Node, path: &FieldPath) -> Option<Task> {
        let mut r = MapReader::new(node, path, self.diags)?;
        let f_name = r.field("name");
        let f_files = r.field("files");
        let f_image = r.field("image");
        let f_pull = r.field("imagePullPolicy");
        let f_cmd = r.field("cmd");
        let f_args = r.field("args");
        let f_env = r.field("env");
        let f_resources = r.field("resources");
        let f_workdir = r.field("workingDir");
        let f_poll = r.field("maxPollDuration");
        let f_ns = r.field("namespace");
        let f_ttl = r.field("ttlSecondsAfterFinished");
        let f_sec = r.field("securityContext");
        let f_sa = r.field("serviceAccount");
        let f_ann = r.field("annotations");
        let cmd_misspelt = unknown_meant(&r, &TASK, "cmd");
        let image_misspelt = unknown_meant(&r, &TASK, "image");
        reject_unknown(&r, &TASK, self.diags, &|_| None);

        let mut t = Task::default();
        if let Some((n, p)) = &f_name {
            t.name = yaml::string(n, p, self.diags).unwrap_or_default();
        }
        if t.name.is_empty() {
            self.diags
                .warning(node.pos, &path.key("name"), "task has no name")
                .hint("name every task; job-executor-service reports results and looks files up by it");
        }
        if let Some((n, p)) = &f_image {
            t.image = yaml::string(n, p, self.diags).unwrap_or_default();
        }
        if t.image.is_empty()
            && !image_misspelt
            && f_image.as_ref().is_none_or(|(n, _)| n.is_null())
        {
            let (pos, p) = f_image
                .as_ref()
                .map(|(n, p)| (n.pos, p.clone()))
                .unwrap_or_else(|| (node.pos, path.key("image")));
            self.diags
                .warning(
                    pos,
                    &p,
                    "task has no image: Kubernetes refuses to create its job",
                )
                .hint("set `image`, e.g. `image: alpine:3.16`");
        }
        if let Some((n, p)) = &f_pull {
            t.image_pull_policy = opt_string(n, p, self.diags);
            if let Some(v) = &t.image_pull_policy
                && !["Always", "IfNotPresent", "Never"].contains(&v.as_str())
            {
                let d = self.diags.warning(
                    n.pos,
                    p,
                    format!("imagePullPolicy `{v}` is not one Kubernetes accepts"),
                );
                match yaml::suggest(v, &["Always", "IfNotPresent", "Never"]) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint("use Always, IfNotPresent or Never"),
                };
            }
        }
        if let Some((n, p)) = &f_files {
            t.files = string_list(n, p, "files", self.diags).unwrap_or_default();
        }
        let mut cmd_nodes: Vec<(&Node, FieldPath)> = Vec::new();
        if let Some((n, p)) = &f_cmd {
            if matches!(n.value, Value::Scalar(_)) {
                self.pre_v2.push(n.pos);
            }
            t.cmd = string_list(n, p, "cmd", self.diags).unwrap_or_default();
            if let Some(items) = n.as_seq() {
                cmd_nodes.extend(items.iter().enumerate().map(|(i, it)| (it, p.index(i))));
            }
        }
        if let Some((n, p)) = &f_args {
            t.args = string_list(n, p, "args", self.diags).unwrap_or_default();
            if let Some(items) = n.as_seq() {
                cmd_nodes.extend(items.iter().enumerate().map(|(i, it)| (it, p.index(i))));
            }
        }
        if t.cmd.is_empty()
            && !cmd_misspelt
            && f_cmd
                .as_ref()
                .is_none_or(|(n, _)| !matches!(n.value, Value::Scalar(_)))
        {
            let (pos, p) = f_cmd
                .as_ref()
                .map(|(n, p)| (n.pos, p.clone()))
                .unwrap_or_else(|| (node.pos, path.key("cmd")));
            self.diags
                .warning(
                    pos,
                    &p,
                    "task has no `cmd`: Kubernetes runs the image's entrypoint, but sluice's local \
                     process backend needs a command",
                )
                .hint("set `cmd`, e.g. `cmd: [\"sh\", \"-c\"]`");
        }

        let mut declared: Vec<String> = Vec::new();
        let mut has_secret = false;
        if let Some((n, p)) = &f_env
            && let Some(items) = yaml::seq(n, p, self.diags)
        {
            for (i, item) in items.iter().enumerate() {
                let (env, name, source_ok) = self.env(item, &p.index(i));
                if let Some(name) = name {
                    declared.push(name);
                }
                if env
                    .as_ref()
                    .is_some_and(|e| e.value_from == EnvSource::Secret)
                    || !source_ok
                {
                    has_secret = true;
                }
                if let Some(env) = env {
                    t.env.push(env);
                }
            }
        }
        if !has_secret {
            self.undeclared_vars(&cmd_nodes, &declared);
        }

        if let Some((n, p)) = &f_resources {
            t.resources = self.resources(n, p);
        }
        if let Some((n, p)) = &f_workdir {
            t.working_dir = opt_string(n, p, self.diags);
        }
        if let Some((n, p)) = &f_poll {
            t.max_poll_duration = int_field(n, p, 64, self.diags);
            if let Some(v) = t.max_poll_duration
                && v <= 0
            {
                self.diags
                        .warning(
                            n.pos,
                            p,
                            format!("maxPollDuration {v}: job-executor-service gives up on the job before polling it once"),
                        )
                        .hint("set a positive number of seconds (default 300), or remove it");
            }
        }
        if let Some((n, p)) = &f_ns {
            t.namespace = opt_string(n, p, self.diags);
        }
        if let Some((n, p)) = &f_ttl {
            t.ttl_seconds_after_finished =
                int_field(n, p, 32, self.diags).and_then(|v| i32::try_from(v).ok());
            if let Some(v) = t.ttl_seconds_after_finished
                && v < MIN_TTL_SECONDS_AFTER_FINISHED
            {
                self.diags
                        .warning(
                            n.pos,
                            p,
                            format!(
                                "ttlSecondsAfterFinished {v} is below {MIN_TTL_SECONDS_AFTER_FINISHED}: \
                                 job-executor-service raises it to {MIN_TTL_SECONDS_AFTER_FINISHED}"
                            ),
                        )
                        .hint(format!("write {MIN_TTL_SECONDS_AFTER_FINISHED} or more to say what happens"));
            }
        }
        if let Some((n, p)) = &f_sec {
            t.security_context = self.security_context(n, p);
        }
        if let Some((n, p)) = &f_sa {
            // A pointer in Go: `serviceAccount: ""` is kept (and means Kubernetes' default).
            t.service_account = yaml::string(n, p, self.diags);
        }
        if let Some((n, p)) = &f_ann
            && let Some(pairs) = yaml::string_map(n, p, self.diags)
        {
            t.annotations = pairs.into_iter().collect::<BTreeMap<_, _>>();
        }
        Some(t)
    }

    /// Warns about `$(VAR)` in cmd/args that no env entry or JES built-in defines.
    fn undeclared_vars(&mut self, nodes: &[(&Node, FieldPath)], declared: &[String]) {
        for (node, path) in nodes {
            let Some(text) = node.as_scalar() else {
                continue;
            };
            for var in var_references(text) {
                if !looks_like_env_name(var)
                    || BUILTIN_ENV_VARS.contains(&var)
                    || var.starts_with("LABELS_")
                    || declared.iter().any(|d| d == var)
                {
                    continue;
                }
                self.diags
                    .warning(
                        node.pos,
                        path,
                        format!("`$({var})` is not defined, so it stays as the literal text `$({var})`"),
                    )
                    .hint(format!(
                        "declare it under `env` (e.g. `- {{name: {var}, value: \"$.data...\", valueFrom: event}}`), \
                         or use KEPTN_PROJECT, KEPTN_STAGE, KEPTN_SERVICE or LABELS_<KEY>"
                    ));
            }
        }
    }

    /// Reads one env entry; returns it (when valid), its declared name, and whether
    /// `valueFrom` was understood.
    fn env(&mut self, node: &Node, path: &FieldPath) -> (Option<EnvVar>, Option<String>, bool) {
        let Some(mut r) = MapReader::new(node, path, self.diags) else {
            return (None, None, true);
        };
        let f_name = r.field("name");
        let f_value = r.field("value");
        let f_from = r.field("valueFrom");
        let f_as = r.field("as");
        reject_unknown(&r, &ENV, self.diags, &|_| None);

        let name = f_name
            .as_ref()
            .and_then(|(n, p)| yaml::string(n, p, self.diags))
            .unwrap_or_default();
        let value = f_value
            .as_ref()
            .and_then(|(n, p)| yaml::string(n, p, self.diags))
            .unwrap_or_default();
        let from_text = f_from
            .as_ref()
            .and_then(|(n, p)| yaml::string(n, p, self.diags))
            .unwrap_or_default();
        let (from_pos, from_path) = f_from
            .as_ref()
            .map(|(n, p)| (n.pos, p.clone()))
            .unwrap_or_else(|| (node.pos, path.key("valueFrom")));
        let source = match from_text.parse::<EnvSource>() {
            Ok(s) => Some(s),
            Err(_) => {
                let d = self.diags.error(
                    from_pos,
                    &from_path,
                    if from_text.is_empty() {
                        format!(
                            "env `{name}` has no valueFrom; job-executor-service fails the task"
                        )
                    } else {
                        format!(
                            "unknown valueFrom `{from_text}`; job-executor-service fails the task"
                        )
                    },
                );
                match yaml::suggest(&from_text, &["event", "secret", "string"]) {
                    Some(s) if !from_text.is_empty() => d.hint(format!("did you mean `{s}`?")),
                    _ => d.hint(
                        "use `event` (value is a JSONPath into the event), `secret` (name is a \
                         Kubernetes Secret) or `string` (value is the literal)",
                    ),
                };
                None
            }
        };

        let mut format = None;
        if let Some((n, p)) = &f_as
            && let Some(text) = opt_string(n, p, self.diags)
        {
            match text.parse::<EnvFormat>() {
                Ok(fm) => format = Some(fm),
                Err(_) => {
                    self.diags
                        .warning(
                            n.pos,
                            p,
                            format!("`as: {text}` is ignored by job-executor-service"),
                        )
                        .hint("use `as: json` or `as: yaml`, or remove it");
                }
            }
            if source.is_some_and(|s| s != EnvSource::Event) {
                self.diags
                    .warning(
                        n.pos,
                        p,
                        "`as` only applies to `valueFrom: event`; it is ignored here",
                    )
                    .hint("remove `as`");
            }
        }

        let name_at = f_name
            .as_ref()
            .map(|(n, p)| (n.pos, p.clone()))
            .unwrap_or_else(|| (node.pos, path.key("name")));
        if name.is_empty() {
            self.diags
                .warning(name_at.0, &name_at.1, "env entry has no name")
                .hint("give the variable (or, for `valueFrom: secret`, the Secret) a name");
        }
        let value_at = f_value
            .as_ref()
            .map(|(n, p)| (n.pos, p.clone()))
            .unwrap_or_else(|| (node.pos, path.key("value")));
        match source {
            Some(EnvSource::Event) => {
                if !value.trim_start().starts_with('$') {
                    self.diags
                        .warning(
                            value_at.0,
                            &value_at.1,
                            format!(
                                "`valueFrom: event` needs a JSONPath in `value`, found `{value}`"
                            ),
                        )
                        .hint(if value.is_empty() {
                            "set `value` to a path such as `$.data.project`".to_owned()
                        } else {
                            {
                                let v = value.trim_start_matches('.');
                                let top = v.split(['.', '[']).next().unwrap_or("");
                                let path = if EVENT_MAP_KEYS.contains(&top) {
                                    format!("$.{v}")
                                } else {
                                    format!("$.data.{v}")
                                };
                                format!("write `{path}`, or use `valueFrom: string` for a literal")
                            }
                        });
                } else {
                    self.check_event_path(&value, value_at.0, &value_at.1);
                }
            }
            Some(EnvSource::Secret) => {
                if !value.is_empty() {
                    self.diags
                        .warning(
                            value_at.0,
                            &value_at.1,
                            format!(
                                "`value` is ignored for `valueFrom: secret`: job-executor-service loads the Secret named `{name}` and exposes each of its keys"
                            ),
                        )
                        .hint("put the Secret's name in `name` and remove `value`");
                }
                if !name.is_empty() && !is_dns_subdomain(&name) {
                    self.diags
                        .warning(
                            name_at.0,
                            &name_at.1,
                            format!("`{name}` cannot be a Kubernetes Secret name (lowercase letters, digits, `-` and `.` only)"),
                        )
                        .hint(format!("did you mean `{}`?", kebab(&name)));
                }
            }
            Some(EnvSource::String) | None => {}
        }

        let declared = (!name.is_empty()).then(|| name.clone());
        let env = source.map(|value_from| EnvVar {
            name,
            value,
            value_from,
            format,
        });
        (env, declared, source.is_some())
    }

    fn resources(&mut self, node: &Node, path: &FieldPath) -> Option<Resources> {
        let mut r = MapReader::new(node, path, self.diags)?;
        let limits = r.field("limits");
        let requests = r.field("requests");
        reject_unknown(&r, &RESOURCES, self.diags, &|_| None);
        let mut res = Resources::default();
        if let Some((n, p)) = limits {
            res.limits = self.resource_list(n, &p).unwrap_or_default();
        }
        if let Some((n, p)) = requests {
            res.requests = self.resource_list(n, &p).unwrap_or_default();
        }
        Some(res)
    }

    fn resource_list(&mut self, node: &Node, path: &FieldPath) -> Option<ResourceList> {
        let mut r = MapReader::new(node, path, self.diags)?;
        let cpu = r.field("cpu");
        let memory = r.field("memory");
        reject_unknown(&r, &RESOURCE_LIST, self.diags, &|_| None);
        let mut list = ResourceList::default();
        for (field, slot, example) in [
            (cpu, &mut list.cpu, "500m"),
            (memory, &mut list.memory, "512Mi"),
        ] {
            let Some((n, p)) = field else { continue };
            let Some(text) = opt_string(n, &p, self.diags) else {
                continue;
            };
            if !is_quantity(&text) {
                self.diags
                    .error(
                        n.pos,
                        &p,
                        format!("`{text}` is not a Kubernetes quantity; job-executor-service fails the task"),
                    )
                    .hint(format!("write a number with an optional unit, e.g. `{example}`"));
            }
            *slot = Some(text);
        }
        Some(list)
    }

    fn security_context(&mut self, node: &Node, path: &FieldPath) -> Option<SecurityContext> {
        let mut r = MapReader::new(node, path, self.diags)?;
        let f_caps = r.field("capabilities");
        let f_priv = r.field("privileged");
        let f_user = r.field("runAsUser");
        let f_group = r.field("runAsGroup");
        let f_nonroot = r.field("runAsNonRoot");
        let f_ro = r.field("readOnlyRootFilesystem");
        let f_esc = r.field("allowPrivilegeEscalation");
        let f_proc = r.field("procMount");
        let f_seccomp = r.field("seccompProfile");
        reject_unknown(&r, &SECURITY_CONTEXT, self.diags, &|key| {
            UNSUPPORTED_SECURITY_FIELDS.contains(&key).then(|| {
                format!(
                    "job-executor-service supports only part of Kubernetes' securityContext, without `{key}`: {}",
                    SECURITY_CONTEXT.keys.join(", ")
                )
            })
        });
        let mut sc = SecurityContext::default();
        let flag = |f: Option<(&Node, FieldPath)>, diags: &mut Diagnostics| {
            f.and_then(|(n, p)| yaml::boolean(n, &p, diags))
        };
        sc.privileged = flag(f_priv.clone(), self.diags);
        sc.run_as_non_root = flag(f_nonroot, self.diags);
        sc.read_only_root_filesystem = flag(f_ro, self.diags);
        sc.allow_privilege_escalation = flag(f_esc, self.diags);
        if sc.privileged == Some(true)
            && let Some((n, p)) = &f_priv
        {
            self.diags
                .warning(
                    n.pos,
                    p,
                    "privileged containers are refused unless job-executor-service was installed \
                         with jobConfig.allowPrivilegedJobs",
                )
                .hint("avoid `privileged: true`; add only the capabilities the task needs");
        }
        sc.run_as_user = f_user.and_then(|(n, p)| int_field(n, &p, 64, self.diags));
        sc.run_as_group = f_group.and_then(|(n, p)| int_field(n, &p, 64, self.diags));
        sc.proc_mount = f_proc.and_then(|(n, p)| yaml::string(n, &p, self.diags));
        if let Some((n, p)) = f_caps
            && let Some(mut cr) = MapReader::new(n, &p, self.diags)
        {
            let add = cr.field("add");
            let drop = cr.field("drop");
            reject_unknown(&cr, &CAPABILITIES, self.diags, &|_| None);
            sc.capabilities = Some(Capabilities {
                add: add
                    .and_then(|(n, p)| string_list(n, &p, "add", self.diags))
                    .unwrap_or_default(),
                drop: drop
                    .and_then(|(n, p)| string_list(n, &p, "drop", self.diags))
                    .unwrap_or_default(),
            });
        }
        if let Some((n, p)) = f_seccomp
            && let Some(mut sr) = MapReader::new(n, &p, self.diags)
        {
            let ty = sr.field("type");
            let local = sr.field("localhostProfile");
            reject_unknown(&sr, &SECCOMP, self.diags, &|_| None);
            sc.seccomp_profile = Some(SeccompProfile {
                profile_type: ty.and_then(|(n, p)| yaml::string(n, &p, self.diags)),
                localhost_profile: local.and_then(|(n, p)| yaml::string(n, &p, self.diags)),
            });
        }
        Some(sc)
    }
}

/// Whether `$(name)` could refer to an environment variable (Kubernetes' relaxed rule:
/// letters, digits, `_`, `-`, `.`, not starting with a digit). Shell substitutions such as
/// `$(kubectl get …)` are not.
fn looks_like_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `LocustSecret` / `locust_secret` → `locust-secret`.
fn kebab(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('-');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c == '_' {
            '-'
        } else {
            c.to_ascii_lowercase()
        });
    }
    out
}

/// Whether `s` is a valid Kubernetes object name (RFC 1123 subdomain).
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Whether `s` parses as a Kubernetes resource quantity (`resource.ParseQuantity`):
/// a signed decimal number followed by a binary-SI (`Ki`…`Ei`), decimal-SI (`m`, `k`, `M`…`E`)
/// or exponent (`e3`, `E-2`) suffix, or none.
pub(crate) fn is_quantity(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    let suffix = &s[i..];
    match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => {
            true
        }
        _ => {
            let Some(exp) = suffix.strip_prefix(['e', 'E']) else {
                return false;
            };
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && exp.bytes().all(|c| c.is_ascii_digit())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in [
            "1", "50m", "512Mi", "0.5", ".5", "1.", "+1Gi", "1e3", "2E-2", "100k",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "m", "1 Gi", "1GB", "1mi", "one", "1e", "--1", "1.2.3"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn env_names_and_secret_names() {
        assert!(looks_like_env_name("E2E-jsonPathLabel"));
        assert!(!looks_like_env_name("kubectl get pods"));
        assert!(!looks_like_env_name("(${A}+1"));
        assert!(is_dns_subdomain("locust-secret"));
        assert!(!is_dns_subdomain("LocustSecret"));
        assert!(!is_dns_subdomain("a..b"));
        assert_eq!(kebab("LocustSecret"), "locust-secret");
        assert_eq!(kebab("my_secret2X"), "my-secret2-x");
    }
}
