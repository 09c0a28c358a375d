//! The project shipyard (`shipyard.yaml`, spec 0.2.x): stages, their task sequences, and how a
//! finished sequence triggers the next ones.
//!
//! Keptn decoded the shipyard with `gopkg.in/yaml.v3` into go-utils' `v0_2_0.Shipyard` and then
//! only checked the version (`spec.keptn.sh/<semver>` or a bare semver, at least 0.2) and the
//! stage names. Everything else it silently accepted (unknown keys, unparsable `triggeredAfter`,
//! triggers that can never fire), and sluice reports those as warnings. A sequence without tasks
//! is an error: Keptn refused to run it ("does not contain any tasks").
//!
//! Besides the parser this module has the lookups the sequence engine needs:
//! [`Shipyard::stage`](crate::shipyard::Shipyard::stage),
//! [`Stage::sequence`](crate::shipyard::Stage::sequence) (with the built-in `evaluation`
//! sequence) and
//! [`Shipyard::sequences_triggered_by`](crate::shipyard::Shipyard::sequences_triggered_by) (Keptn's `GetTaskSequencesByTrigger`).

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

use crate::Parsed;
use crate::diagnostic::{Diagnostics, FieldPath, Pos, Severity};
use crate::duration;
pub use crate::event::data::Verdict;
use crate::names;
use crate::yaml::{self, MapReader, Node};

/// The `apiVersion` prefix Keptn strips before reading the version.
pub const API_VERSION_PREFIX: &str = "spec.keptn.sh/";

/// The name of the built-in evaluation sequence and task.
pub const EVALUATION: &str = "evaluation";

/// A project's shipyard. Serializes back to Keptn's shape (`apiVersion`, `kind`,
/// `metadata.name`, `spec.stages`).
#[derive(Debug, Clone, PartialEq)]
pub struct Shipyard {
    /// `apiVersion` as written (`spec.keptn.sh/0.2.2`, or a bare `0.2.2`).
    pub api_version: String,
    /// `kind` as written (should be `Shipyard`; Keptn did not check it).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.stages`, in file order (the order matters: the first stage is where deliveries
    /// start).
    pub stages: Vec<Stage>,
}

impl Serialize for Shipyard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Metadata<'a> {
            name: &'a str,
        }
        #[derive(Serialize)]
        struct Spec<'a> {
            stages: &'a [Stage],
        }
        let mut st = s.serialize_struct("Shipyard", 4)?;
        st.serialize_field("apiVersion", &self.api_version)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("metadata", &Metadata { name: &self.name })?;
        st.serialize_field(
            "spec",
            &Spec {
                stages: &self.stages,
            },
        )?;
        st.end()
    }
}

/// A stage and its sequences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// Stage name (a Keptn entity name).
    pub name: String,
    /// The stage's sequences (may be empty: a stage without sequences is valid).
    pub sequences: Vec<Sequence>,
}

/// A task sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    /// Sequence name; the sequence is started by `sh.keptn.event.<stage>.<name>.triggered`.
    pub name: String,
    /// Events that start this sequence automatically.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggered_on: Vec<Trigger>,
    /// The tasks, run one after the other.
    pub tasks: Vec<Task>,
}

/// One `triggeredOn` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    /// The event as written; Keptn compared it verbatim with `<stage>.<sequence>.finished`.
    pub event: String,
    /// The event split into stage and sequence, when it has the `<stage>.<sequence>.finished`
    /// form.
    #[serde(skip)]
    pub source: Option<SequenceRef>,
    /// The selector; `None` when there is no `selector.match` mapping (Go's nil map), which
    /// means "fire on pass or warning".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
}

/// A `<stage>.<sequence>` pair named by a trigger event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceRef {
    /// The stage (the part before the first dot).
    pub stage: String,
    /// The sequence (everything between the first dot and `.finished`).
    pub sequence: String,
}

impl SequenceRef {
    /// Splits `<stage>.<sequence>.finished`; `None` for anything else.
    pub fn parse_finished_event(event: &str) -> Option<SequenceRef> {
        let body = event.strip_suffix(".finished")?;
        let (stage, sequence) = body.split_once('.')?;
        if stage.is_empty() || sequence.is_empty() {
            return None;
        }
        Some(SequenceRef {
            stage: stage.to_owned(),
            sequence: sequence.to_owned(),
        })
    }
}

/// A trigger's `selector.match` conditions, in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    /// `(key, value)` pairs, such as `("result", "fail")` or `("evaluation.result", "fail")`.
    pub matches: Vec<(String, String)>,
}

impl Selector {
    /// The value for a key (last one wins, like a Go map).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.matches
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Match<'a>(&'a [(String, String)]);
        impl Serialize for Match<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("match", &Match(&self.matches))?;
        m.end()
    }
}

/// One task of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Task name; any string (`deployment`, `je-test`, ...). Events are
    /// `sh.keptn.event.<name>.{triggered,started,finished}`.
    pub name: String,
    /// The delay before the task's `.triggered` event is sent, when `triggeredAfter` is a valid
    /// Go duration (negative values are zero). `None` when absent or unparsable (Keptn then
    /// sent the event immediately).
    #[serde(skip)]
    pub triggered_after: Option<Duration>,
    /// `triggeredAfter` as written.
    #[serde(rename = "triggeredAfter", skip_serializing_if = "Option::is_none")]
    pub triggered_after_raw: Option<String>,
    /// Free-form `properties` (JSON null when absent); sent to the task executor under
    /// `data.<task name>`.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub properties: serde_json::Value,
}

/// A sequence to start because another one finished: the stage it belongs to and its
/// definition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextSequence<'a> {
    /// The stage of the sequence to start.
    pub stage: &'a Stage,
    /// The sequence to start.
    pub sequence: &'a Sequence,
}

impl Shipyard {
    /// The first stage with this name.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The first stage of the shipyard (where deliveries usually start).
    pub fn first_stage(&self) -> Option<&Stage> {
        self.stages.first()
    }

    /// The sequences to start after sequence `sequence` in stage `stage` finished with `result`,
    /// where `last_task` is the name of the last task that actually ran.
    ///
    /// Keptn's rule (`GetTaskSequencesByTrigger`), over all stages in file order: every trigger
    /// whose `event` is exactly `<stage>.<sequence>.finished` fires
    /// - without `selector.match`: if the result is `pass` or `warning`;
    /// - with `selector.match`: if `match["result"]` equals the result, or
    ///   `match["<last_task>.result"]` does; other keys are ignored.
    ///
    /// A sequence with two matching triggers is returned twice, as Keptn started it twice.
    pub fn sequences_triggered_by(
        &self,
        stage: &str,
        sequence: &str,
        result: Verdict,
        last_task: &str,
    ) -> Vec<NextSequence<'_>> {
        let event = format!("{stage}.{sequence}.finished");
        let task_key = format!("{last_task}.result");
        let result = result.as_str();
        let mut out = Vec::new();
        for st in &self.stages {
            for seq in &st.sequences {
                for trigger in &seq.triggered_on {
                    if trigger.event != event {
                        continue;
                    }
                    let fires = match &trigger.selector {
                        None => result == "pass" || result == "warning",
                        Some(sel) => {
                            sel.get("result") == Some(result) || sel.get(&task_key) == Some(result)
                        }
                    };
                    if fires {
                        out.push(NextSequence {
                            stage: st,
                            sequence: seq,
                        });
                    }
                }
            }
        }
        out
    }
}

impl Stage {
    /// The sequence with this name (the first one, if the name repeats). A stage without a
    /// sequence named `evaluation` still has one: the built-in single-task `[evaluation]`
    /// sequence, returned as an owned value.
    pub fn sequence(&self, name: &str) -> Option<Cow<'_, Sequence>> {
        if let Some(seq) = self.sequences.iter().find(|s| s.name == name) {
            return Some(Cow::Borrowed(seq));
        }
        (name == EVALUATION).then(|| Cow::Owned(Sequence::built_in_evaluation()))
    }
}

impl Sequence {
    /// Keptn's built-in evaluation sequence: one task `evaluation`, no triggers.
    pub fn built_in_evaluation() -> Sequence {
        Sequence {
            name: EVALUATION.to_owned(),
            triggered_on: Vec::new(),
            tasks: vec![Task {
                name: EVALUATION.to_owned(),
                triggered_after: None,
                triggered_after_raw: None,
                properties: serde_json::Value::Null,
            }],
        }
    }
}

/// Checks an `apiVersion` the way shipyard-controller did: strip `spec.keptn.sh/`, parse the
/// rest as a (Masterminds) semantic version, require `>= 0.2` without a pre-release.
pub fn check_api_version(api_version: &str) -> Result<(), String> {
    let v = api_version
        .strip_prefix(API_VERSION_PREFIX)
        .unwrap_or(api_version);
    let Some(version) = Semver::parse(v) else {
        return Err(format!(
            "could not parse shipyard version `{api_version}`: expected `{API_VERSION_PREFIX}<version>`"
        ));
    };
    if !version.pre.is_empty() {
        return Err(format!(
            "shipyard version `{v}` is a pre-release; Keptn requires a release version >= 0.2"
        ));
    }
    if (version.major, version.minor, version.patch) < (0, 2, 0) {
        return Err(format!(
            "shipyard version `{v}` is too old; Keptn requires version 0.2 or newer"
        ));
    }
    Ok(())
}

/// A semantic version as Masterminds/semver v3 `NewVersion` reads it (lenient: `v` prefix,
/// missing minor/patch allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Semver {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

impl Semver {
    fn parse(s: &str) -> Option<Semver> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let (core, meta) = match s.split_once('+') {
            Some((c, m)) => (c, Some(m)),
            None => (s, None),
        };
        let (nums, pre) = match core.split_once('-') {
            Some((n, p)) => (n, Some(p)),
            None => (core, None),
        };
        let ident_ok = |part: &str| {
            !part.is_empty()
                && part.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        if let Some(m) = meta
            && !ident_ok(m)
        {
            return None;
        }
        if let Some(p) = pre {
            if !ident_ok(p) {
                return None;
            }
            // Numeric pre-release identifiers must not have leading zeros.
            if p.split('.').any(|id| {
                id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
            }) {
                return None;
            }
        }
        let mut parts = nums.split('.');
        let mut next = |required: bool| -> Option<u64> {
            match parts.next() {
                None if !required => Some(0),
                None => None,
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
                Some(_) => None,
            }
        };
        let major = next(true)?;
        let minor = next(false)?;
        let patch = next(false)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Semver {
            major,
            minor,
            patch,
            pre: pre.unwrap_or("").to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: &[&str] = &["name"];
const SPEC_KEYS: &[&str] = &["stages"];
const STAGE_KEYS: &[&str] = &["name", "sequences"];
const SEQUENCE_KEYS: &[&str] = &["name", "triggeredOn", "tasks"];
const TRIGGER_KEYS: &[&str] = &["event", "selector"];
const SELECTOR_KEYS: &[&str] = &["match"];
const TASK_KEYS: &[&str] = &["name", "triggeredAfter", "properties"];

/// Where a trigger was written, for the checks that need the whole shipyard.
struct TriggerSite {
    stage: usize,
    sequence: usize,
    trigger: usize,
    event_pos: Pos,
    path: FieldPath,
    /// `(key, key position, value, value position)` of `selector.match`.
    matches: Vec<(String, Pos, String, Pos)>,
}

struct Ctx {
    diags: Diagnostics,
    triggers: Vec<TriggerSite>,
    stage_pos: Vec<Pos>,
    sequence_pos: Vec<Vec<Pos>>,
}

/// Parses and validates a shipyard.
pub fn parse(src: &str) -> Parsed<Shipyard> {
    let mut diags = Diagnostics::new();
    let Some(root) = yaml::parse(src, &mut diags) else {
        return Parsed {
            value: None,
            diagnostics: diags,
        };
    };
    let mut ctx = Ctx {
        diags,
        triggers: Vec::new(),
        stage_pos: Vec::new(),
        sequence_pos: Vec::new(),
    };
    let value = read_shipyard(&root, &mut ctx);
    if let Some(shipyard) = &value {
        cross_check(shipyard, &mut ctx);
    }
    Parsed {
        value,
        diagnostics: ctx.diags,
    }
}

/// Reports keys that appear twice in one mapping: an error for fields Keptn decodes (yaml.v3
/// rejects those), a warning for keys it ignores.
fn duplicate_fields(node: &Node, path: &FieldPath, known: &[&str], diags: &mut Diagnostics) {
    let Some(entries) = node.as_map() else {
        return;
    };
    let mut seen: Vec<(&str, Pos)> = Vec::new();
    for e in entries {
        let Some(k) = e.key.as_scalar() else { continue };
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == k) {
            let is_known = known.contains(&k);
            let severity = if is_known {
                Severity::Error
            } else {
                Severity::Warning
            };
            diags
                .push(
                    severity,
                    e.key.pos,
                    &path.key(k),
                    format!("duplicate key `{k}` (first defined at line {})", first.line),
                )
                .hint(if is_known {
                    "remove one of the two; Keptn rejected shipyards with a repeated field"
                } else {
                    "remove one of the two"
                });
        } else {
            seen.push((k, e.key.pos));
        }
    }
}

fn open<'a>(
    node: &'a Node,
    path: &FieldPath,
    known: &[&str],
    diags: &mut Diagnostics,
) -> Option<MapReader<'a>> {
    duplicate_fields(node, path, known, diags);
    MapReader::new(node, path, diags)
}

fn read_shipyard(root: &Node, ctx: &mut Ctx) -> Option<Shipyard> {
    let rpath = FieldPath::root();
    if root.is_null() {
        ctx.diags
            .error(root.pos, &rpath, "the shipyard is empty")
            .hint("start from `apiVersion: spec.keptn.sh/0.2.3`, `kind: Shipyard`, `metadata.name` and `spec.stages`");
        return None;
    }
    // The Keptn 0.1 format: a top-level `stages` list with deployment/test strategies.
    if let Some(entries) = root.as_map() {
        let old = entries.iter().find(|e| e.key_str() == "stages");
        if let (Some(old), None) = (old, root.get("spec")) {
            ctx.diags
                .error(
                    old.key.pos,
                    &rpath.key("stages"),
                    "this is a Keptn 0.1 shipyard (top-level `stages` with deployment and test \
                     strategies); Keptn 0.8 and later only read the 0.2 format",
                )
                .hint(
                    "convert it to `apiVersion: spec.keptn.sh/0.2.3` with `spec.stages[].sequences[].tasks` \
                     (for an existing project, `keptn upgrade project <name> --shipyard` does it)",
                );
            return None;
        }
    }
    let mut r = open(root, &rpath, ROOT_KEYS, &mut ctx.diags)?;

    let api_version = match r.field("apiVersion") {
        Some((node, path)) => {
            let text = yaml::string(node, &path, &mut ctx.diags);
            if let Some(v) = &text {
                check_version_diag(v, node.pos, &path, &mut ctx.diags);
            } else if node.is_null() {
                ctx.diags
                    .error(node.pos, &path, "`apiVersion` must not be empty")
                    .hint("write `apiVersion: spec.keptn.sh/0.2.3`");
            }
            text.unwrap_or_default()
        }
        None => {
            ctx.diags
                .error(r.pos(), &rpath, "missing required field `apiVersion`")
                .hint("add `apiVersion: spec.keptn.sh/0.2.3`");
            String::new()
        }
    };

    let kind = match r.field("kind") {
        Some((node, path)) => {
            let kind = yaml::string(node, &path, &mut ctx.diags).unwrap_or_default();
            if kind != "Shipyard" {
                ctx.diags
                    .warning(
                        node.pos,
                        &path,
                        format!("`kind` is `{kind}`, expected `Shipyard`"),
                    )
                    .hint("write `kind: Shipyard` (Keptn did not check it)");
            }
            kind
        }
        None => {
            ctx.diags
                .warning(r.pos(), &rpath, "missing field `kind`")
                .hint("add `kind: Shipyard` (Keptn did not check it)");
            String::new()
        }
    };

    let mut name = String::new();
    match r.field("metadata") {
        Some((node, path)) => {
            if let Some(mut m) = open(node, &path, METADATA_KEYS, &mut ctx.diags) {
                match m.field("name") {
                    Some((n, p)) => name = yaml::string(n, &p, &mut ctx.diags).unwrap_or_default(),
                    None => {
                        ctx.diags
                            .warning(m.pos(), &path, "missing field `metadata.name`")
                            .hint("add `name: shipyard-<project>` under `metadata`");
                    }
                }
                m.finish(Severity::Warning, "shipyard metadata", &mut ctx.diags);
            }
        }
        None => {
            ctx.diags
                .warning(r.pos(), &rpath, "missing field `metadata`")
                .hint("add `metadata:` with `name: shipyard-<project>`");
        }
    }

    let mut stages = Vec::new();
    if let Some((spec, spath)) = r.required("spec", &mut ctx.diags)
        && let Some(mut s) = open(spec, &spath, SPEC_KEYS, &mut ctx.diags)
    {
        match s.field("stages") {
            Some((node, path)) => {
                if let Some(items) = yaml::seq(node, &path, &mut ctx.diags) {
                    if items.is_empty() {
                        no_stages(node.pos, &path, &mut ctx.diags);
                    }
                    for (i, item) in items.iter().enumerate() {
                        if let Some(stage) = read_stage(item, &path.index(i), ctx) {
                            stages.push(stage);
                        }
                    }
                }
            }
            None => no_stages(s.pos(), &spath, &mut ctx.diags),
        }
        s.finish(Severity::Warning, "the shipyard spec", &mut ctx.diags);
    }
    r.finish(Severity::Warning, "a shipyard", &mut ctx.diags);

    Some(Shipyard {
        api_version,
        kind,
        name,
        stages,
    })
}

fn no_stages(pos: Pos, path: &FieldPath, diags: &mut Diagnostics) {
    diags
        .error(pos, path, "the shipyard must contain at least one stage")
        .hint("add `stages:` with at least one `- name: <stage>`");
}

fn check_version_diag(v: &str, pos: Pos, path: &FieldPath, diags: &mut Diagnostics) {
    match check_api_version(v) {
        Ok(()) => {
            if !v.starts_with(API_VERSION_PREFIX) {
                diags
                    .warning(
                        pos,
                        path,
                        format!("`apiVersion` is a bare version `{v}`"),
                    )
                    .hint(format!(
                        "write `{API_VERSION_PREFIX}{}`; Keptn accepted the bare version, other tools may not",
                        v.trim_start_matches('v')
                    ));
            }
        }
        Err(msg) => {
            let d = diags.error(pos, path, msg);
            let tail = v.rsplit('/').next().unwrap_or(v);
            if v.contains('/') && !v.starts_with(API_VERSION_PREFIX) {
                d.hint(format!(
                    "the group is `spec.keptn.sh`: write `{API_VERSION_PREFIX}{tail}`"
                ));
            } else if Semver::parse(tail).is_some_and(|s| (s.major, s.minor) < (0, 2)) {
                d.hint(
                    "shipyard 0.1 is no longer supported: use `apiVersion: spec.keptn.sh/0.2.3` \
                     with stages, sequences and tasks",
                );
            } else {
                d.hint("write `apiVersion: spec.keptn.sh/0.2.3`");
            }
        }
    }
}

fn read_stage(node: &Node, path: &FieldPath, ctx: &mut Ctx) -> Option<Stage> {
    let mut r = open(node, path, STAGE_KEYS, &mut ctx.diags)?;
    let stage_index = ctx.stage_pos.len();
    ctx.stage_pos.push(node.pos);
    ctx.sequence_pos.push(Vec::new());

    let name = match r.field("name") {
        Some((n, p)) => {
            let name = yaml::string(n, &p, &mut ctx.diags).unwrap_or_default();
            if let Err(reason) = names::check_stage(&name) {
                ctx.diags.error(n.pos, &p, reason).hint(
                    "stage names become git branches and Kubernetes namespaces: use lower-case \
                     letters, digits and hyphens, e.g. `prod-a`",
                );
            }
            name
        }
        None => {
            ctx.diags
                .error(r.pos(), path, "every stage must have a name")
                .hint("add `name: <stage>` to this stage");
            String::new()
        }
    };

    let mut sequences = Vec::new();
    if let Some((n, p)) = r.field("sequences")
        && let Some(items) = yaml::seq(n, &p, &mut ctx.diags)
    {
        for (i, item) in items.iter().enumerate() {
            if let Some(seq) = read_sequence(item, &p.index(i), stage_index, sequences.len(), ctx) {
                if let Some(list) = ctx.sequence_pos.get_mut(stage_index) {
                    list.push(item.pos);
                }
                sequences.push(seq);
            }
        }
    }
    r.finish(Severity::Warning, "a shipyard stage", &mut ctx.diags);
    Some(Stage { name, sequences })
}

/// Characters that break event types (`sh.keptn.event.<stage>.<sequence>.triggered`) or NATS
/// subjects.
fn event_name_problem(name: &str) -> Option<&'static str> {
    if name.contains('.') {
        Some(
            "contains a dot, which breaks the event type `sh.keptn.event.<stage>.<name>.triggered`",
        )
    } else if name.chars().any(char::is_whitespace) {
        Some("contains white space, which is not allowed in an event type")
    } else if name.contains('*') || name.contains('>') {
        Some("contains `*` or `>`, which are wildcards in NATS subjects")
    } else {
        None
    }
}

fn read_sequence(
    node: &Node,
    path: &FieldPath,
    stage_index: usize,
    seq_index: usize,
    ctx: &mut Ctx,
) -> Option<Sequence> {
    let mut r = open(node, path, SEQUENCE_KEYS, &mut ctx.diags)?;
    let name = match r.field("name") {
        Some((n, p)) => {
            let name = yaml::string(n, &p, &mut ctx.diags).unwrap_or_default();
            if name.is_empty() {
                ctx.diags
                    .warning(
                        n.pos,
                        &p,
                        "sequence name is empty; it can never be triggered",
                    )
                    .hint("give the sequence a name such as `delivery`");
            } else if let Some(problem) = event_name_problem(&name) {
                ctx.diags
                    .warning(n.pos, &p, format!("sequence name `{name}` {problem}"))
                    .hint("use letters, digits, hyphens and underscores");
            }
            name
        }
        None => {
            ctx.diags
                .warning(
                    r.pos(),
                    path,
                    "sequence has no name; it can never be triggered",
                )
                .hint("add `name: <sequence>`");
            String::new()
        }
    };

    let mut triggered_on = Vec::new();
    if let Some((n, p)) = r.field("triggeredOn") {
        if let Some(text) = n.as_scalar() {
            ctx.diags
                .error(
                    n.pos,
                    &p,
                    format!(
                        "`triggeredOn` must be a list of `event:` entries, found {}",
                        n.describe()
                    ),
                )
                .hint(format!(
                    "write `triggeredOn:` followed by `- event: \"{text}\"`"
                ));
        } else if let Some(items) = yaml::seq(n, &p, &mut ctx.diags) {
            for (i, item) in items.iter().enumerate() {
                let tpath = p.index(i);
                if let Some(t) = read_trigger(item, &tpath, ctx) {
                    let matches = match_sites(item);
                    ctx.triggers.push(TriggerSite {
                        stage: stage_index,
                        sequence: seq_index,
                        trigger: triggered_on.len(),
                        event_pos: item.get("event").map_or(item.pos, |e| e.pos),
                        path: tpath,
                        matches,
                    });
                    triggered_on.push(t);
                }
            }
        }
    }

    let mut tasks = Vec::new();
    match r.field("tasks") {
        Some((n, p)) => {
            if let Some(items) = yaml::seq(n, &p, &mut ctx.diags) {
                if items.is_empty() {
                    no_tasks(&name, n.pos, &p, &mut ctx.diags);
                }
                let mut seen: Vec<(String, Pos)> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let tpath = p.index(i);
                    if let Some(task) = read_task(item, &tpath, &mut ctx.diags) {
                        if let Some((_, first)) = seen.iter().find(|(t, _)| *t == task.name) {
                            let pos = item.get("name").map_or(item.pos, |n| n.pos);
                            ctx.diags
                                .warning(
                                    pos,
                                    &tpath.key("name"),
                                    format!(
                                        "task `{}` appears twice in sequence `{name}` (first at line {})",
                                        task.name, first.line
                                    ),
                                )
                                .hint(
                                    "both runs report under the same key `data.<task>` of the event \
                                     payload, so the second overwrites the first; rename one or use \
                                     two sequences",
                                );
                        } else {
                            seen.push((task.name.clone(), item.pos));
                        }
                        tasks.push(task);
                    }
                }
            }
        }
        None => no_tasks(&name, r.pos(), path, &mut ctx.diags),
    }
    finish_sequence(r, &mut ctx.diags);
    Some(Sequence {
        name,
        triggered_on,
        tasks,
    })
}

/// Reports unknown keys of a sequence. `triggers`/`trigger`/`triggeredBy` are too far from
/// `triggeredOn` for the generic suggestion, but are a known mistake (Keptn's own test data has
/// `triggers:`), so they get a concrete hint.
fn finish_sequence(mut r: MapReader<'_>, diags: &mut Diagnostics) {
    const ALIASES: &[&str] = &[
        "triggers",
        "trigger",
        "triggeredBy",
        "triggered_by",
        "triggered_on",
    ];
    let mut hits = Vec::new();
    for e in r.unknown() {
        if let Some(alias) = ALIASES.iter().find(|a| **a == e.key_str()) {
            let example = e
                .value
                .as_seq()
                .and_then(|items| items.first())
                .and_then(Node::as_scalar)
                .unwrap_or("<stage>.<sequence>.finished");
            hits.push((*alias, e.key.pos, example.to_owned()));
        }
    }
    for (alias, pos, example) in hits {
        diags
            .warning(
                pos,
                &r.path().key(alias),
                format!("unknown field `{alias}` in a shipyard sequence; Keptn ignored it, so this sequence is never triggered automatically"),
            )
            .hint(format!("did you mean `triggeredOn`? write `triggeredOn:` with `- event: \"{example}\"`"));
        r.allow(&[alias]);
    }
    r.finish(Severity::Warning, "a shipyard sequence", diags);
}

fn no_tasks(name: &str, pos: Pos, path: &FieldPath, diags: &mut Diagnostics) {
    diags
        .error(
            pos,
            path,
            format!("sequence `{name}` does not contain any tasks"),
        )
        .hint(
            "add `tasks:` with at least one `- name: <task>`; Keptn refused to run empty sequences",
        );
}

fn match_sites(trigger: &Node) -> Vec<(String, Pos, String, Pos)> {
    let Some(entries) = trigger
        .get("selector")
        .and_then(|s| s.get("match"))
        .and_then(Node::as_map)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let v = match &e.value.value {
                yaml::Value::Scalar(s) => s.text.clone(),
                yaml::Value::Null => String::new(),
                _ => return None,
            };
            Some((e.key_str().to_owned(), e.key.pos, v, e.value.pos))
        })
        .collect()
}

fn read_trigger(node: &Node, path: &FieldPath, ctx: &mut Ctx) -> Option<Trigger> {
    let mut r = open(node, path, TRIGGER_KEYS, &mut ctx.diags)?;
    let event = match r.field("event") {
        Some((n, p)) => {
            let event = yaml::string(n, &p, &mut ctx.diags).unwrap_or_default();
            check_event_form(&event, n.pos, &p, &mut ctx.diags);
            event
        }
        None => {
            ctx.diags
                .warning(r.pos(), path, "trigger has no `event`; it never fires")
                .hint("add `event: <stage>.<sequence>.finished`");
            String::new()
        }
    };
    let source = SequenceRef::parse_finished_event(&event);

    let mut selector = None;
    if let Some((n, p)) = r.field("selector")
        && let Some(mut s) = open(n, &p, SELECTOR_KEYS, &mut ctx.diags)
    {
        match s.field("match") {
            Some((m, mp)) if !m.is_null() => {
                yaml::check_duplicate_keys(m, &mp, Severity::Error, &mut ctx.diags);
                if let Some(pairs) = yaml::string_map(m, &mp, &mut ctx.diags) {
                    if pairs.is_empty() {
                        ctx.diags
                                .warning(m.pos, &mp, "`selector.match` is empty, so this trigger never fires")
                                .hint("add `result: fail` (or `<task>.result: ...`), or remove the selector to fire on pass and warning");
                    }
                    selector = Some(Selector { matches: pairs });
                }
            }
            _ => {
                ctx.diags
                        .warning(n.pos, &p, "`selector` has no `match`, so it is ignored and the trigger fires on pass or warning")
                        .hint("add `match:` with `result: <pass|warning|fail>`, or remove the selector");
            }
        }
        s.finish(Severity::Warning, "a trigger selector", &mut ctx.diags);
    }
    r.finish(Severity::Warning, "a sequence trigger", &mut ctx.diags);
    Some(Trigger {
        event,
        source,
        selector,
    })
}

fn check_event_form(event: &str, pos: Pos, path: &FieldPath, diags: &mut Diagnostics) {
    if event.is_empty() {
        diags
            .warning(pos, path, "trigger event is empty; it never fires")
            .hint("write `<stage>.<sequence>.finished`");
        return;
    }
    if SequenceRef::parse_finished_event(event).is_some()
        && !event.starts_with(crate::event::kind::EVENT_TYPE_PREFIX)
    {
        return;
    }
    let d = diags.warning(
        pos,
        path,
        format!("trigger event `{event}` is not of the form `<stage>.<sequence>.finished`, so it never fires"),
    );
    if let Some(rest) = event.strip_prefix(crate::event::kind::EVENT_TYPE_PREFIX) {
        let rest = rest
            .trim_end_matches(".triggered")
            .trim_end_matches(".finished");
        d.hint(format!(
            "write it without the event-type prefix: `{rest}.finished`"
        ));
    } else if let Some(base) = event
        .strip_suffix(".triggered")
        .or_else(|| event.strip_suffix(".started"))
    {
        d.hint(format!(
            "sequences chain on the finished event: `{base}.finished`"
        ));
    } else {
        d.hint("write `<stage>.<sequence>.finished`, e.g. `dev.delivery.finished`");
    }
}

fn read_task(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Task> {
    let mut r = open(node, path, TASK_KEYS, diags)?;
    let name = match r.field("name") {
        Some((n, p)) => {
            let name = yaml::string(n, &p, diags).unwrap_or_default();
            if name.is_empty() {
                diags
                    .warning(
                        n.pos,
                        &p,
                        "task name is empty; no service will pick this task up",
                    )
                    .hint("name the task, e.g. `deployment`");
            } else if let Some(problem) = event_name_problem(&name) {
                diags
                    .warning(n.pos, &p, format!("task name `{name}` {problem}"))
                    .hint("use letters, digits, hyphens and underscores");
            }
            name
        }
        None => {
            diags
                .warning(
                    r.pos(),
                    path,
                    "task has no name; no service will pick it up",
                )
                .hint("add `name: <task>`");
            String::new()
        }
    };

    let mut triggered_after = None;
    let mut triggered_after_raw = None;
    if let Some((n, p)) = r.field("triggeredAfter")
        && let Some(raw) = yaml::string(n, &p, diags)
    {
        if !raw.is_empty() {
            match duration::parse(&raw) {
                Ok(d) => {
                    if d.is_negative() {
                        diags
                            .warning(
                                n.pos,
                                &p,
                                format!(
                                    "`triggeredAfter` `{raw}` is negative, so there is no delay"
                                ),
                            )
                            .hint("use a positive duration such as `10m`, or remove it");
                    }
                    triggered_after = Some(d.to_std());
                }
                Err(e) => {
                    diags
                            .warning(
                                n.pos,
                                &p,
                                format!("`triggeredAfter` `{raw}` is not a Go duration ({e}); Keptn ignored it and triggered the task without delay"),
                            )
                            .hint("write a duration such as `30s`, `10m` or `1h30m` (units ns, us, ms, s, m, h)");
                }
            }
        }
        triggered_after_raw = Some(raw);
    }

    let properties = match r.field("properties") {
        Some((n, p)) => {
            yaml::check_duplicate_keys(n, &p, Severity::Error, diags);
            if !n.is_null() && n.as_map().is_none() {
                diags
                    .warning(n.pos, &p, format!("`properties` is {}, expected a mapping", n.describe()))
                    .hint("task properties are passed to the executor as `data.<task>`, which should be an object");
            }
            check_known_properties(&name, n, &p, diags);
            n.to_json()
        }
        None => serde_json::Value::Null,
    };
    r.finish(Severity::Warning, "a shipyard task", diags);
    Some(Task {
        name,
        triggered_after,
        triggered_after_raw,
        properties,
    })
}

/// Checks the properties of the two tasks the control plane itself interprets.
fn check_known_properties(task: &str, props: &Node, path: &FieldPath, diags: &mut Diagnostics) {
    match task {
        "approval" => {
            for key in ["pass", "warning"] {
                let Some(v) = props.get(key) else { continue };
                let Some(text) = v.as_scalar() else { continue };
                if text != "automatic" && text != "manual" {
                    diags
                        .warning(
                            v.pos,
                            &path.key(key),
                            format!("approval strategy `{text}` is neither `automatic` nor `manual`; Keptn treats it as manual"),
                        )
                        .hint("write `automatic` or `manual`");
                }
            }
        }
        EVALUATION => {
            let Some(v) = props.get("timeframe") else {
                return;
            };
            let Some(text) = v.as_scalar() else { return };
            match duration::parse(text) {
                Err(e) => {
                    diags
                        .warning(
                            v.pos,
                            &path.key("timeframe"),
                            format!("evaluation timeframe `{text}` is not a Go duration ({e}); the evaluation will fail"),
                        )
                        .hint("write a duration such as `5m`");
                }
                Ok(d) if d.as_nanos() < 60_000_000_000 => {
                    diags
                        .warning(
                            v.pos,
                            &path.key("timeframe"),
                            format!("evaluation timeframe `{text}` is shorter than one minute; the evaluation will fail"),
                        )
                        .hint("Keptn requires an evaluation window of at least `1m`");
                }
                Ok(_) => {}
            }
        }
        _ => {}
    }
}

/// Checks that need the whole shipyard: duplicate names and triggers that refer to stages,
/// sequences or tasks that do not exist.
fn cross_check(shipyard: &Shipyard, ctx: &mut Ctx) {
    let stages_path = FieldPath::root().key("spec").key("stages");
    for (i, stage) in shipyard.stages.iter().enumerate() {
        if let Some(first) = shipyard.stages[..i]
            .iter()
            .position(|s| s.name == stage.name)
            && !stage.name.is_empty()
        {
            let pos = ctx.stage_pos.get(i).copied().unwrap_or_default();
            ctx.diags
                .warning(
                    pos,
                    &stages_path.index(i).key("name"),
                    format!(
                        "stage `{}` is defined twice (also spec.stages[{first}])",
                        stage.name
                    ),
                )
                .hint("Keptn only uses the first one; merge their sequences into one stage");
        }
        for (j, seq) in stage.sequences.iter().enumerate() {
            if seq.name.is_empty() {
                continue;
            }
            if let Some(first) = stage.sequences[..j].iter().position(|s| s.name == seq.name) {
                let pos = ctx
                    .sequence_pos
                    .get(i)
                    .and_then(|v| v.get(j))
                    .copied()
                    .unwrap_or_default();
                ctx.diags
                    .warning(
                        pos,
                        &stages_path.index(i).key("sequences").index(j).key("name"),
                        format!(
                            "sequence `{}` is defined twice in stage `{}` (also sequences[{first}])",
                            seq.name, stage.name
                        ),
                    )
                    .hint("Keptn only runs the first one; rename or remove this one");
            }
        }
    }

    let sites = std::mem::take(&mut ctx.triggers);
    for site in &sites {
        let Some(trigger) = shipyard
            .stages
            .get(site.stage)
            .and_then(|s| s.sequences.get(site.sequence))
            .and_then(|s| s.triggered_on.get(site.trigger))
        else {
            continue;
        };
        // The referenced sequence's tasks, if it exists.
        let mut tasks: Option<Vec<String>> = None;
        if let Some(src) = &trigger.source {
            match shipyard.stage(&src.stage) {
                None => {
                    let known: Vec<&str> = shipyard
                        .stages
                        .iter()
                        .map(|s| s.name.as_str())
                        .filter(|n| !n.is_empty())
                        .collect();
                    let d = ctx.diags.warning(
                        site.event_pos,
                        &site.path.key("event"),
                        format!("trigger refers to stage `{}`, which is not in this shipyard, so it never fires", src.stage),
                    );
                    match yaml::suggest(&src.stage, &known) {
                        Some(s) => d.hint(format!("did you mean `{s}.{}.finished`?", src.sequence)),
                        None => d.hint(format!("stages here: {}", known.join(", "))),
                    };
                }
                Some(stage) => match stage.sequence(&src.sequence) {
                    None => {
                        let known: Vec<&str> = stage
                            .sequences
                            .iter()
                            .map(|s| s.name.as_str())
                            .filter(|n| !n.is_empty())
                            .collect();
                        let d = ctx.diags.warning(
                            site.event_pos,
                            &site.path.key("event"),
                            format!(
                                "trigger refers to sequence `{}`, which stage `{}` does not have, so it never fires",
                                src.sequence, src.stage
                            ),
                        );
                        match yaml::suggest(&src.sequence, &known) {
                            Some(s) => {
                                d.hint(format!("did you mean `{}.{s}.finished`?", src.stage))
                            }
                            None => d.hint(format!(
                                "sequences of `{}`: {}",
                                src.stage,
                                known.join(", ")
                            )),
                        };
                    }
                    Some(seq) => {
                        tasks = Some(seq.tasks.iter().map(|t| t.name.clone()).collect());
                    }
                },
            }
        }
        for (key, key_pos, value, value_pos) in &site.matches {
            let mpath = site.path.key("selector").key("match").key(key);
            if key == "result" {
                // fine
            } else if let Some(task) = key.strip_suffix(".result") {
                if let Some(tasks) = &tasks
                    && !tasks.iter().any(|t| t == task)
                {
                    let known: Vec<&str> = tasks.iter().map(String::as_str).collect();
                    let d = ctx.diags.warning(
                            *key_pos,
                            &mpath,
                            format!("selector key `{key}` names task `{task}`, which the triggering sequence does not have, so it never matches"),
                        );
                    match yaml::suggest(task, &known) {
                        Some(s) => d.hint(format!("did you mean `{s}.result`?")),
                        None => d.hint(format!(
                            "tasks of the triggering sequence: {}",
                            known.join(", ")
                        )),
                    };
                }
            } else {
                ctx.diags
                    .warning(*key_pos, &mpath, format!("selector key `{key}` is ignored by Keptn"))
                    .hint("only `result` and `<task>.result` (for the last task that ran) are compared");
                continue;
            }
            if value.parse::<Verdict>().is_err() {
                let d = ctx.diags.warning(
                    *value_pos,
                    &mpath,
                    format!("`{value}` is not a result Keptn produces (pass, warning, fail), so this never matches"),
                );
                match value.as_str() {
                    "failed" | "failure" | "error" | "errored" => {
                        d.hint("Keptn's result is `fail`, not `failed` (the Keptn docs' examples are wrong)")
                    }
                    "passed" | "success" | "succeeded" => d.hint("Keptn's result is `pass`"),
                    "warn" | "warnings" => d.hint("Keptn's result is `warning`"),
                    _ => d.hint("use `pass`, `warning` or `fail`"),
                };
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    /// `(file name, contents)` of every `.yaml` file in `dir`, sorted.
    fn yaml_files(dir: &std::path::Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&p).expect("readable fixture");
                out.push((p.file_name().unwrap().to_string_lossy().into_owned(), text));
            }
        }
        out.sort();
        out
    }

    /// The shared Keptn corpus for a kind and verdict (`valid`/`invalid`), or `None` (with a
    /// note) when the corpus is not on this machine.
    pub(crate) fn corpus(kind: &str, verdict: &str) -> Option<Vec<(String, String)>> {
        let candidates = [
            PathBuf::from("/work/shared/keptn-corpus"),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/keptn-corpus"),
        ];
        for base in candidates {
            let dir = base.join(verdict).join(kind);
            if dir.is_dir() {
                return Some(yaml_files(&dir));
            }
        }
        println!("note: keptn corpus not found; skipping the corpus-wide {kind} test");
        None
    }

    /// The corpus files copied into this crate.
    pub(crate) fn fixtures(kind: &str, verdict: &str) -> Vec<(String, String)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(kind)
            .join(verdict);
        let files = yaml_files(&dir);
        assert!(!files.is_empty(), "no fixtures in {}", dir.display());
        files
    }

    /// Asserts Keptn's verdict on each file: no errors for valid files (and a warning for
    /// `odd-*` ones), at least one error for invalid ones.
    pub(crate) fn assert_verdicts(
        files: &[(String, String)],
        valid: bool,
        diags_of: impl Fn(&str) -> Diagnostics,
    ) {
        for (name, text) in files {
            let d = diags_of(text);
            let rendered = d.render(name);
            if valid {
                assert!(!d.has_errors(), "{name} must be accepted:\n{rendered}");
                if name.starts_with("odd-") {
                    assert!(d.warning_count() > 0, "{name} must warn:\n{rendered}");
                }
            } else {
                assert!(d.has_errors(), "{name} must be rejected:\n{rendered}");
            }
            for diag in d.iter() {
                assert!(diag.pos.line >= 1 && diag.pos.col >= 1, "{name}: {diag}");
            }
        }
    }

    fn diags(src: &str) -> Diagnostics {
        parse(src).diagnostics
    }

    fn ok(src: &str) -> Shipyard {
        let p = parse(src);
        assert!(!p.diagnostics.has_errors(), "{}", p.diagnostics.render("t"));
        p.value.expect("value")
    }

    fn find<'a>(d: &'a Diagnostics, needle: &str) -> &'a crate::diagnostic::Diagnostic {
        d.iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("no diagnostic containing {needle:?} in\n{}", d.render("t")))
    }

    #[test]
    fn corpus_verdicts() {
        for verdict in ["valid", "invalid"] {
            assert_verdicts(&fixtures("shipyard", verdict), verdict == "valid", diags);
            if let Some(files) = corpus("shipyard", verdict) {
                assert!(!files.is_empty());
                assert_verdicts(&files, verdict == "valid", diags);
            }
        }
    }

    #[test]
    fn bad_stage_name_position_and_path() {
        let src = include_str!("../tests/fixtures/shipyard/invalid/stage-name-underscore.yaml");
        let d = diags(src);
        let e = find(&d, "second_stage");
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.path, "spec.stages[1].name");
        assert_eq!(e.pos, Pos::new(12, 13));
        assert_eq!(d.error_count(), 1, "{}", d.render("t"));
        // The trigger on the misspelt stage is flagged too.
        let w = find(&d, "stage `secondstage`");
        assert_eq!(w.path, "spec.stages[2].sequences[0].triggeredOn[0].event");
        assert_eq!(
            w.hint.as_deref(),
            Some("did you mean `second_stage.echosequence.finished`?")
        );
    }

    #[test]
    fn trailing_hyphen_stage_is_third() {
        let src = "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyard\nmetadata: {name: x}\nspec:\n  stages:\n    - name: a\n    - name: b\n    - name: \"third-\"\n";
        let d = diags(src);
        let e = find(&d, "third-");
        assert_eq!(e.path, "spec.stages[2].name");
        assert_eq!(e.pos, Pos::new(8, 13));
    }

    #[test]
    fn versions() {
        for good in [
            "spec.keptn.sh/0.2.0",
            "spec.keptn.sh/0.2.3",
            "0.2.2",
            "spec.keptn.sh/1.0",
            "v0.2",
            "spec.keptn.sh/0.2.0+build",
        ] {
            assert!(check_api_version(good).is_ok(), "{good}");
        }
        for bad in [
            "spec.keptn.sh/0.1.7",
            "0.1.0",
            "keptn.sh/0.2.2",
            "",
            "spec.keptn.sh/",
            "spec.keptn.sh/0.2.3-alpha",
            "0.2.2 ",
            "spec.keptn.sh/0.2.x",
            "1.2.3.4",
        ] {
            assert!(check_api_version(bad).is_err(), "{bad}");
        }
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/invalid/apiversion-wrong-group.yaml"
        ));
        let e = find(&d, "could not parse shipyard version");
        assert_eq!((e.path.as_str(), e.pos), ("apiVersion", Pos::new(1, 13)));
        assert!(e.hint.as_deref().unwrap().contains("spec.keptn.sh/0.2.2"));
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/invalid/apiversion-0.1.7.yaml"
        ));
        assert!(find(&d, "too old").hint.as_deref().unwrap().contains("0.1"));
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/valid/odd-apiversion-without-prefix.yaml"
        ));
        assert_eq!(find(&d, "bare version").severity, Severity::Warning);
    }

    #[test]
    fn old_format_gets_one_error_with_upgrade_hint() {
        let p = parse(include_str!(
            "../tests/fixtures/shipyard/invalid/examples-onboarding-carts-0.1-format.yaml"
        ));
        assert!(p.value.is_none());
        assert_eq!(p.diagnostics.len(), 1);
        let e = find(&p.diagnostics, "Keptn 0.1 shipyard");
        assert_eq!((e.path.as_str(), e.pos), ("stages", Pos::new(1, 1)));
        assert!(e.hint.as_deref().unwrap().contains("0.2"));
    }

    #[test]
    fn triggered_on_must_be_a_list() {
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/invalid/triggeredon-not-a-list.yaml"
        ));
        assert_eq!(d.error_count(), 1, "{}", d.render("t"));
        let e = find(&d, "triggeredOn");
        assert_eq!(e.path, "spec.stages[1].sequences[0].triggeredOn");
        assert_eq!(e.pos, Pos::new(20, 24));
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("- event: \"qa.delivery.finished\"")
        );
    }

    #[test]
    fn sequence_without_tasks_and_no_stages() {
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/invalid/sequence-without-tasks.yaml"
        ));
        let e = find(&d, "does not contain any tasks");
        assert_eq!(e.path, "spec.stages[0].sequences[1]");
        assert_eq!(e.pos, Pos::new(17, 11));
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/invalid/no-stages.yaml"
        ));
        assert_eq!(find(&d, "at least one stage").path, "spec.stages");
        let d = diags(
            "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyard\nmetadata: {name: x}\nspec: {}\n",
        );
        assert_eq!(find(&d, "at least one stage").path, "spec");
        let d = diags(
            "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyard\nmetadata: {name: x}\nspec:\n  stages:\n  - name: dev\n    sequences:\n    - name: d\n      tasks: []\n",
        );
        assert!(d.has_errors());
    }

    #[test]
    fn duplicate_keys_known_are_errors_unknown_are_warnings() {
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/invalid/duplicate-key.yaml"
        ));
        let e = find(&d, "duplicate key `name`");
        assert_eq!(
            (e.severity, e.path.as_str(), e.pos),
            (Severity::Error, "metadata.name", Pos::new(5, 3))
        );
        let d = diags(
            "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyard\nmetadata: {name: x}\nowner: a\nowner: b\nspec:\n  stages:\n  - name: dev\n",
        );
        assert!(!d.has_errors(), "{}", d.render("t"));
        assert_eq!(
            find(&d, "duplicate key `owner`").severity,
            Severity::Warning
        );
        // Duplicates inside free-form properties are decoded by yaml.v3 and rejected.
        let d = diags(
            "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyard\nmetadata: {name: x}\nspec:\n  stages:\n  - name: dev\n    sequences:\n    - name: d\n      tasks:\n      - name: t\n        properties: {a: 1, a: 2}\n",
        );
        assert!(d.has_errors());
    }

    #[test]
    fn unknown_triggers_key_warns_with_suggestion() {
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/valid/keptn-sc-testshipyard-unknown-key-triggers.yaml"
        ));
        assert!(!d.has_errors());
        let w = find(&d, "unknown field `triggers`");
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(w.path, "spec.stages[1].sequences[0].triggers");
        assert_eq!(w.pos, Pos::new(23, 7));
        assert_eq!(
            w.hint.as_deref(),
            Some(
                "did you mean `triggeredOn`? write `triggeredOn:` with `- event: \"dev.artifact-delivery.finished\"`"
            )
        );
    }

    #[test]
    fn triggered_after() {
        let d = diags(include_str!(
            "../tests/fixtures/shipyard/valid/odd-triggeredafter-unparsable.yaml"
        ));
        let w = find(&d, "ten minutes");
        assert_eq!((w.severity, w.pos), (Severity::Warning, Pos::new(19, 31)));
        assert_eq!(
            w.path,
            "spec.stages[1].sequences[0].tasks[0].triggeredAfter"
        );
        let s = ok(include_str!(
            "../tests/fixtures/shipyard/valid/examples-onboarding-carts-sockshop.yaml"
        ));
        let rem = s
            .stage("production")
            .unwrap()
            .sequence("remediation")
            .unwrap();
        let eval = &rem.tasks[2];
        assert_eq!(eval.triggered_after, Some(Duration::from_secs(900)));
        assert_eq!(eval.triggered_after_raw.as_deref(), Some("15m"));
        assert_eq!(eval.properties, serde_json::json!({"timeframe": "15m"}));
        assert_eq!(rem.tasks[0].properties, serde_json::Value::Null);
    }

    #[test]
    fn certain_mistakes_warn() {
        let src = "apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: x}
spec:
  stages:
  - name: dev
    sequences:
    - name: delivery
      tasks:
      - name: deployment
      - name: approval
        properties: {pass: auto, warning: manual}
      - name: evaluation
        properties: {timeframe: 30s}
    - name: delivery
      tasks: [{name: t}]
  - name: prod
    sequences:
    - name: rollback
      triggeredOn:
      - event: dev.delivery.finished
        selector:
          match: {result: failed}
      - event: dev.delivery.finished
        selector:
          match: {deployment.result: fail, evaluaton.result: fail, status: errored}
      - event: sh.keptn.event.dev.delivery.finished
      - event: dev.delivry.finished
      - event: dev.delivery.triggered
      - event: dev.evaluation.finished
      - event: dev.delivery.finished
        selector: {}
      tasks: [{name: rollback}]
    - name: my.seq
      tasks: [{name: a}]
  - name: dev
";
        let d = diags(src);
        assert!(!d.has_errors(), "{}", d.render("t"));
        let w = find(&d, "`failed` is not a result");
        assert_eq!(
            w.path,
            "spec.stages[1].sequences[0].triggeredOn[0].selector.match.result"
        );
        assert!(w.hint.as_deref().unwrap().contains("`fail`"));
        assert_eq!(
            find(&d, "evaluaton").hint.as_deref(),
            Some("did you mean `evaluation.result`?")
        );
        assert!(find(&d, "selector key `status` is ignored").severity == Severity::Warning);
        assert!(
            find(
                &d,
                "`sh.keptn.event.dev.delivery.finished` is not of the form"
            )
            .hint
            .as_deref()
            .unwrap()
            .contains("`dev.delivery.finished`")
        );
        assert_eq!(
            find(&d, "sequence `delivry`").hint.as_deref(),
            Some("did you mean `dev.delivery.finished`?")
        );
        assert!(
            find(&d, "`dev.delivery.triggered` is not of the form")
                .hint
                .is_some()
        );
        assert!(
            !d.iter()
                .any(|d| d.message.contains("sequence `evaluation`")),
            "built-in evaluation exists"
        );
        find(&d, "has no `match`");
        find(&d, "approval strategy `auto`");
        find(&d, "shorter than one minute");
        find(&d, "sequence `delivery` is defined twice");
        find(&d, "stage `dev` is defined twice");
        find(&d, "sequence name `my.seq` contains a dot");
        // deployment.result names a real task: no warning for it.
        assert!(!d.iter().any(|d| d.message.contains("`deployment.result`")));
    }

    #[test]
    fn kind_and_metadata_are_warnings() {
        let d = diags(
            "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyrd\nspec:\n  stages:\n  - name: dev\n",
        );
        assert!(!d.has_errors());
        assert_eq!(find(&d, "expected `Shipyard`").path, "kind");
        find(&d, "missing field `metadata`");
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for src in [
            "- a\n- b\n",
            "",
            "apiVersion: spec.keptn.sh/0.2.0\nspec:\n  stages: dev\n",
            "apiVersion: spec.keptn.sh/0.2.0\nspec:\n  stages:\n  - name: [dev]\n",
            "apiVersion: spec.keptn.sh/0.2.0\nspec:\n  stages:\n  - dev\n",
            "apiVersion: spec.keptn.sh/0.2.0\nspec:\n  stages:\n  - name: dev\n    sequences:\n    - name: s\n      tasks: [{name: t}]\n      triggeredOn:\n      - event: a.b.finished\n        selector: {match: {result: [fail]}}\n",
            "apiVersion: [spec.keptn.sh/0.2.0]\nspec:\n  stages:\n  - name: dev\n",
            "apiVersion: spec.keptn.sh/0.2.0\n",
        ] {
            assert!(diags(src).has_errors(), "{src}");
        }
    }

    fn chain_shipyard() -> Shipyard {
        ok("apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: x}
spec:
  stages:
  - name: dev
    sequences:
    - name: delivery
      tasks: [{name: deployment}, {name: test}, {name: evaluation}]
  - name: prod-a
    sequences:
    - name: delivery
      triggeredOn: [{event: dev.delivery.finished}]
      tasks: [{name: deployment}]
    - name: rollback
      triggeredOn:
      - event: prod-a.delivery.finished
        selector: {match: {result: fail}}
      tasks: [{name: rollback}]
    - name: remediation
      triggeredOn:
      - event: prod-a.remediation.finished
        selector: {match: {evaluation.result: fail}}
      tasks: [{name: get-action}, {name: action}, {name: evaluation, triggeredAfter: 10m}]
  - name: prod-b
    sequences:
    - name: delivery
      triggeredOn: [{event: dev.delivery.finished}]
      tasks: [{name: deployment}]
    - name: smoke
      triggeredOn:
      - event: dev.delivery.finished
        selector: {match: {test.result: fail}}
      tasks: [{name: notify}]
")
    }

    fn fired(s: &Shipyard, stage: &str, seq: &str, r: Verdict, last: &str) -> Vec<String> {
        s.sequences_triggered_by(stage, seq, r, last)
            .iter()
            .map(|n| format!("{}.{}", n.stage.name, n.sequence.name))
            .collect()
    }

    #[test]
    fn no_selector_fires_on_pass_and_warning_in_parallel() {
        let s = chain_shipyard();
        use Verdict::*;
        assert_eq!(
            fired(&s, "dev", "delivery", Pass, "evaluation"),
            ["prod-a.delivery", "prod-b.delivery"]
        );
        assert_eq!(
            fired(&s, "dev", "delivery", Warning, "evaluation"),
            ["prod-a.delivery", "prod-b.delivery"]
        );
        assert!(fired(&s, "dev", "delivery", Fail, "evaluation").is_empty());
        assert!(fired(&s, "dev", "other", Pass, "x").is_empty());
    }

    #[test]
    fn result_selector() {
        let s = chain_shipyard();
        use Verdict::*;
        assert_eq!(
            fired(&s, "prod-a", "delivery", Fail, "deployment"),
            ["prod-a.rollback"]
        );
        assert!(fired(&s, "prod-a", "delivery", Pass, "deployment").is_empty());
        assert!(fired(&s, "prod-a", "delivery", Warning, "deployment").is_empty());
    }

    #[test]
    fn task_result_selector_only_matches_the_last_task() {
        let s = chain_shipyard();
        use Verdict::*;
        // The remediation loop: evaluation failed -> retrigger; get-action failed -> stop.
        assert_eq!(
            fired(&s, "prod-a", "remediation", Fail, "evaluation"),
            ["prod-a.remediation"]
        );
        assert!(fired(&s, "prod-a", "remediation", Fail, "get-action").is_empty());
        assert!(fired(&s, "prod-a", "remediation", Pass, "evaluation").is_empty());
        // `test.result: fail` never matches when test was not the last task that ran.
        assert!(
            !fired(&s, "dev", "delivery", Fail, "evaluation").contains(&"prod-b.smoke".to_owned())
        );
        assert_eq!(fired(&s, "dev", "delivery", Fail, "test"), ["prod-b.smoke"]);
    }

    #[test]
    fn two_matching_triggers_fire_twice() {
        let s = ok(
            "apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nmetadata: {name: x}\nspec:\n  stages:\n  - name: dev\n    sequences:\n    - name: a\n      tasks: [{name: t}]\n    - name: b\n      triggeredOn: [{event: dev.a.finished}, {event: dev.a.finished, selector: {match: {result: pass}}}]\n      tasks: [{name: t}]\n",
        );
        assert_eq!(
            fired(&s, "dev", "a", Verdict::Pass, "t"),
            ["dev.b", "dev.b"]
        );
        assert_eq!(fired(&s, "dev", "a", Verdict::Warning, "t"), ["dev.b"]);
    }

    #[test]
    fn lookups_and_built_in_evaluation() {
        let s = chain_shipyard();
        assert_eq!(s.first_stage().unwrap().name, "dev");
        assert!(s.stage("nope").is_none());
        let dev = s.stage("dev").unwrap();
        let eval = dev.sequence("evaluation").unwrap();
        assert!(matches!(eval, Cow::Owned(_)));
        assert_eq!(eval.tasks.len(), 1);
        assert_eq!(eval.tasks[0].name, "evaluation");
        assert!(dev.sequence("rollback").is_none());
        assert!(matches!(dev.sequence("delivery"), Some(Cow::Borrowed(_))));
        let own = ok(
            "apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nmetadata: {name: x}\nspec:\n  stages:\n  - name: dev\n    sequences:\n    - name: evaluation\n      tasks: [{name: test}, {name: evaluation}]\n",
        );
        assert_eq!(own.stages[0].sequence("evaluation").unwrap().tasks.len(), 2);
    }

    #[test]
    fn results_round_trip() {
        for r in [Verdict::Pass, Verdict::Warning, Verdict::Fail] {
            assert_eq!(r.to_string().parse::<Verdict>(), Ok(r));
        }
        assert!("failed".parse::<Verdict>().is_err());
    }

    #[test]
    fn serializes_with_keptn_field_names() {
        let s = chain_shipyard();
        let whole = serde_json::to_value(&s).unwrap();
        assert_eq!(whole["apiVersion"], "spec.keptn.sh/0.2.3");
        assert_eq!(whole["metadata"]["name"], "x");
        assert_eq!(whole["spec"]["stages"][1]["name"], "prod-a");
        let seq = &s.stages[1].sequences[1];
        let json = serde_json::to_value(seq).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "rollback", "triggeredOn": [{"event": "prod-a.delivery.finished", "selector": {"match": {"result": "fail"}}}], "tasks": [{"name": "rollback"}]})
        );
    }

    #[test]
    fn parse_finished_event() {
        let r = SequenceRef::parse_finished_event("dev.delivery-direct.finished").unwrap();
        assert_eq!(
            (r.stage.as_str(), r.sequence.as_str()),
            ("dev", "delivery-direct")
        );
        assert!(SequenceRef::parse_finished_event("dev.finished").is_none());
        assert!(SequenceRef::parse_finished_event(".x.finished").is_none());
        assert!(SequenceRef::parse_finished_event("dev.delivery.triggered").is_none());
    }

    mod fuzz {
        use proptest::prelude::*;

        const SEEDS: &[&str] = &[
            include_str!(
                "../tests/fixtures/shipyard/valid/examples-onboarding-carts-sockshop.yaml"
            ),
            include_str!("../tests/fixtures/sli/valid/examples-prometheus.yaml"),
            include_str!("../tests/fixtures/remediation/valid/keptn-remediation-service-test.yaml"),
        ];

        fn run_all(src: &str) {
            let _ = super::parse(src);
            let _ = crate::sli::parse(src);
            let _ = crate::remediation::parse(src);
            let _ = crate::duration::parse(src);
            let _ = crate::names::check_service(src);
            let _ = super::check_api_version(src);
        }

        proptest! {
            #[test]
            fn parsers_never_panic_on_arbitrary_text(src in "\\PC{0,200}") {
                run_all(&src);
            }

            #[test]
            fn parsers_never_panic_on_mutated_files(seed in 0usize..3, at in 0usize..4000, cut in 0usize..40, insert in "[ :\\-\\[\\]{}a-z0-9.\\n\"'#&*!|>]{0,12}") {
                let base = SEEDS[seed];
                let mut at = at.min(base.len());
                while !base.is_char_boundary(at) { at -= 1; }
                let mut end = (at + cut).min(base.len());
                while !base.is_char_boundary(end) { end -= 1; }
                let mutated = format!("{}{}{}", &base[..at], insert, &base[end..]);
                run_all(&mutated);
            }
        }
    }
}
