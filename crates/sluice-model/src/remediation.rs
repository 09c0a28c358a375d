//! `remediation.yaml` (spec 0.1.4): which actions to try, in order, for a problem type; and the
//! remediation-service's get-action choice.
//!
//! Keptn's remediation-service decoded this file with `github.com/ghodss/yaml`: YAML (through
//! the lenient `yaml.v2`) is converted to JSON and decoded with `encoding/json`. So repeated
//! keys silently keep the last value, unknown keys are ignored, field names match
//! case-insensitively, and `value` is typed by YAML 1.1 rules (unquoted `off` is `false`). Then
//! `apiVersion` had to be exactly `spec.keptn.sh/0.1.4`. sluice rejects what that rejected and
//! warns about the rest.

use crate::Parsed;
use crate::diagnostic::{Diagnostics, FieldPath, Pos, Severity};
use crate::yaml::{self, Entry, Node, Value};

/// The only `apiVersion` the remediation-service accepted.
pub const API_VERSION: &str = "spec.keptn.sh/0.1.4";

/// The problem type used when neither the root cause nor the problem title matches.
pub const DEFAULT_PROBLEM_TYPE: &str = "default";

/// A remediation file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Remediation {
    /// `apiVersion` (always [`API_VERSION`] in a valid file).
    pub api_version: String,
    /// `kind` as written (should be `Remediation`; not checked by Keptn).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.remediations`, in file order.
    pub remediations: Vec<ProblemRemediation>,
}

/// The actions for one problem type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemRemediation {
    /// The problem type: compared with a problem's root cause, then its title; `default` is
    /// the fallback.
    pub problem_type: String,
    /// `actionsOnOpen`, tried one per get-action round. `None` when the key is missing or
    /// null: Keptn then skips this entry while searching (an empty list does not skip it).
    pub actions_on_open: Option<Vec<Action>>,
}

/// One remediation action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Action {
    /// Display name.
    pub name: String,
    /// The action an action provider acts on (`scaling`, `toggle-feature`, ...).
    pub action: String,
    /// Free text.
    pub description: String,
    /// Free-form value for the action provider, typed like Keptn did (YAML 1.1).
    pub value: serde_json::Value,
}

/// Why no action could be chosen. The texts are the remediation-service's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No problem type matched the root cause, the title, or `default`.
    #[error("unable to find actions for root cause {root_cause}")]
    NoActions {
        /// The problem's root cause.
        root_cause: String,
    },
    /// The matched list has no action at this index (all actions were tried).
    #[error(
        "failed to get action for root cause {root_cause}. There is no action with index {index}"
    )]
    NoActionWithIndex {
        /// The problem's root cause.
        root_cause: String,
        /// The requested index.
        index: usize,
    },
}

impl Remediation {
    /// Keptn's get-action choice: the actions of the first remediation whose problem type
    /// equals the root cause, else of the first that equals the problem title, else of the
    /// *last* one named `default`; entries without `actionsOnOpen` are skipped. Then the action
    /// at `action_index` (0 on the first round, incremented by each get-action).
    pub fn select_action(
        &self,
        problem_title: &str,
        root_cause: &str,
        action_index: usize,
    ) -> Result<&Action, SelectError> {
        let with_actions = || {
            self.remediations
                .iter()
                .filter_map(|r| r.actions_on_open.as_ref().map(|a| (r, a)))
        };
        let actions = with_actions()
            .find(|(r, _)| r.problem_type == root_cause)
            .or_else(|| with_actions().find(|(r, _)| r.problem_type == problem_title))
            .or_else(|| with_actions().rfind(|(r, _)| r.problem_type == DEFAULT_PROBLEM_TYPE))
            .map(|(_, a)| a)
            .ok_or_else(|| SelectError::NoActions {
                root_cause: root_cause.to_owned(),
            })?;
        actions
            .get(action_index)
            .ok_or_else(|| SelectError::NoActionWithIndex {
                root_cause: root_cause.to_owned(),
                index: action_index,
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Reads a mapping the way `encoding/json` decodes into a struct: keys match the field names
/// case-insensitively (an exact match is preferred), the last occurrence wins, unknown keys are
/// ignored (reported here as warnings).
struct JsonFields<'a> {
    entries: &'a [Entry],
    pos: Pos,
    path: FieldPath,
    known: &'static [&'static str],
}

impl<'a> JsonFields<'a> {
    /// `None` (with an error) if the node is not a mapping; null reads as empty.
    fn new(
        node: &'a Node,
        path: &FieldPath,
        known: &'static [&'static str],
        diags: &mut Diagnostics,
    ) -> Option<Self> {
        let entries = yaml::map_entries(node, path, diags)?;
        Some(JsonFields {
            entries,
            pos: node.pos,
            path: path.clone(),
            known,
        })
    }

    fn field(&self, key: &str, diags: &mut Diagnostics) -> Option<(&'a Node, FieldPath)> {
        let exact = self.entries.iter().rev().find(|e| e.key_str() == key);
        let found = exact.or_else(|| {
            self.entries
                .iter()
                .rev()
                .find(|e| e.key_str().eq_ignore_ascii_case(key))
        })?;
        let written = found.key_str();
        if written != key {
            diags
                .warning(
                    found.key.pos,
                    &self.path.key(written),
                    format!("`{written}` is read as `{key}` only because Keptn matched field names case-insensitively"),
                )
                .hint(format!("write `{key}`"));
        }
        Some((&found.value, self.path.key(key)))
    }

    fn finish(&self, what: &str, diags: &mut Diagnostics) {
        for e in self.entries {
            let k = e.key_str();
            if self.known.iter().any(|known| known.eq_ignore_ascii_case(k)) {
                continue;
            }
            let d = diags.warning(
                e.key.pos,
                &self.path.key(k),
                format!("unknown field `{k}` in {what}; Keptn ignored it"),
            );
            match yaml::suggest(k, self.known) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("known fields here: {}", self.known.join(", "))),
            };
        }
    }
}

/// Reads a string field like ghodss/yaml + encoding/json: any scalar becomes its text, null is
/// empty, a list or mapping is an error.
fn text(field: Option<(&Node, FieldPath)>, diags: &mut Diagnostics) -> String {
    field
        .and_then(|(n, p)| yaml::string(n, &p, diags))
        .unwrap_or_default()
}

const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: &[&str] = &["name"];
const SPEC_KEYS: &[&str] = &["remediations"];
const REMEDIATION_KEYS: &[&str] = &["problemType", "actionsOnOpen"];
const ACTION_KEYS: &[&str] = &["name", "action", "description", "value"];

/// Parses and validates a remediation file.
pub fn parse(src: &str) -> Parsed<Remediation> {
    let mut diags = Diagnostics::new();
    let value = yaml::parse(src, &mut diags).and_then(|root| read(&root, &mut diags));
    Parsed {
        value,
        diagnostics: diags,
    }
}

fn read(root: &Node, diags: &mut Diagnostics) -> Option<Remediation> {
    let rpath = FieldPath::root();
    if root.is_null() {
        diags
            .error(root.pos, &rpath, format!("the remediation file is empty; it does not conform to remediation spec {API_VERSION}"))
            .hint(format!("start with `apiVersion: {API_VERSION}`, `kind: Remediation`, `metadata.name` and `spec.remediations`"));
        return None;
    }
    // The Keptn 0.6 format: top-level `remediations` with `name` and `actions`.
    if let Some(old) = root
        .as_map()
        .and_then(|m| m.iter().find(|e| e.key_str() == "remediations"))
        && root.get("spec").is_none()
    {
        diags
            .error(
                old.key.pos,
                &rpath.key("remediations"),
                "this is a Keptn 0.6 remediation file (top-level `remediations` with `actions`), \
                 which Keptn 0.8 and later do not read",
            )
            .hint(format!(
                "convert it: `apiVersion: {API_VERSION}`, `kind: Remediation`, `metadata.name`, then \
                 `spec.remediations[]` with `problemType` (was `name`) and `actionsOnOpen` (was \
                 `actions`, each with `name`, `action`, `description`, `value`)"
            ));
        return None;
    }
    if matches!(root.value, Value::Scalar(_) | Value::Seq(_)) {
        diags
            .error(root.pos, &rpath, format!("a remediation file must be a mapping, found {}", root.describe()))
            .hint(format!("start with `apiVersion: {API_VERSION}` and `kind: Remediation`, each key followed by `:`"));
        return None;
    }
    // yaml.v2 (non-strict) keeps the last of repeated keys.
    yaml::check_duplicate_keys(root, &rpath, Severity::Warning, diags);
    let r = JsonFields::new(root, &rpath, ROOT_KEYS, diags)?;

    let api_version = match r.field("apiVersion", diags) {
        Some((n, p)) => {
            let v = yaml::string(n, &p, diags).unwrap_or_default();
            if v != API_VERSION {
                let d = diags.error(
                    n.pos,
                    &p,
                    format!("`apiVersion` is `{v}`; the file does not conform to remediation spec {API_VERSION}"),
                );
                if v.trim() == API_VERSION {
                    d.hint(format!(
                        "remove the surrounding white space: `{API_VERSION}`"
                    ));
                } else {
                    d.hint(format!(
                        "write `apiVersion: {API_VERSION}`; it is the only remediation version Keptn reads \
                         (there is no 0.2 remediation spec)"
                    ));
                }
            }
            v
        }
        None => {
            diags
                .error(
                    r.pos,
                    &rpath,
                    format!("missing `apiVersion`; the file does not conform to remediation spec {API_VERSION}"),
                )
                .hint(format!("add `apiVersion: {API_VERSION}`"));
            String::new()
        }
    };

    let kind = text(r.field("kind", diags), diags);
    if kind != "Remediation" {
        let pos = root.get("kind").map_or(r.pos, |n| n.pos);
        diags
            .warning(
                pos,
                &rpath.key("kind"),
                format!("`kind` is `{kind}`, expected `Remediation`"),
            )
            .hint("write `kind: Remediation` (Keptn did not check it)");
    }

    let mut name = String::new();
    if let Some((n, p)) = r.field("metadata", diags)
        && let Some(m) = JsonFields::new(n, &p, METADATA_KEYS, diags)
    {
        name = text(m.field("name", diags), diags);
        m.finish("remediation metadata", diags);
    }

    let mut remediations = Vec::new();
    let mut remediations_given = false;
    if let Some((n, p)) = r.field("spec", diags)
        && let Some(s) = JsonFields::new(n, &p, SPEC_KEYS, diags)
    {
        if let Some((list, lpath)) = s.field("remediations", diags)
            && let Some(items) = yaml::seq(list, &lpath, diags)
        {
            remediations_given = !items.is_empty();
            for (i, item) in items.iter().enumerate() {
                if let Some(rem) = read_remediation(item, &lpath.index(i), diags) {
                    remediations.push(rem);
                }
            }
        }
        s.finish("the remediation spec", diags);
    }
    if !remediations_given {
        let (pos, path) = root
            .get("spec")
            .map_or((r.pos, rpath.key("spec")), |n| (n.pos, rpath.key("spec")));
        diags
            .warning(pos, &path, "no `spec.remediations`: every get-action will fail with \"unable to find actions\"")
            .hint("add `remediations:` with a `problemType` and its `actionsOnOpen`");
    }
    r.finish("a remediation file", diags);

    Some(Remediation {
        api_version,
        kind,
        name,
        remediations,
    })
}

fn read_remediation(
    node: &Node,
    path: &FieldPath,
    diags: &mut Diagnostics,
) -> Option<ProblemRemediation> {
    let r = JsonFields::new(node, path, REMEDIATION_KEYS, diags)?;
    let problem_type = match r.field("problemType", diags) {
        Some((n, p)) => yaml::string(n, &p, diags).unwrap_or_default(),
        None => {
            diags
                .warning(r.pos, path, "remediation has no `problemType`; it only matches problems with an empty root cause or title")
                .hint("add `problemType: <problem title or root cause>`, or `default`");
            String::new()
        }
    };
    let actions_on_open = match r.field("actionsOnOpen", diags) {
        Some((n, p)) if !n.is_null() => match &n.value {
            Value::Seq(items) => {
                if items.is_empty() {
                    diags
                        .warning(n.pos, &p, format!("problem type `{problem_type}` has an empty `actionsOnOpen`, so get-action always fails for it"))
                        .hint("add at least one action, or remove this remediation");
                }
                let mut actions = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(a) = read_action(item, &p.index(i), diags) {
                        actions.push(a);
                    }
                }
                Some(actions)
            }
            _ => {
                diags
                    .error(
                        n.pos,
                        &p,
                        format!(
                            "`actionsOnOpen` must be a list of actions, found {}",
                            n.describe()
                        ),
                    )
                    .hint("put `- ` before the first key of each action (`- action: scale`)");
                None
            }
        },
        _ => {
            diags
                .warning(r.pos, path, format!("problem type `{problem_type}` has no `actionsOnOpen`; Keptn skips it when choosing actions"))
                .hint("add `actionsOnOpen:` with at least one action");
            None
        }
    };
    r.finish("a remediation", diags);
    Some(ProblemRemediation {
        problem_type,
        actions_on_open,
    })
}

fn read_action(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Action> {
    let r = JsonFields::new(node, path, ACTION_KEYS, diags)?;
    let name = text(r.field("name", diags), diags);
    let action = text(r.field("action", diags), diags);
    if action.is_empty() {
        diags
            .warning(
                r.pos,
                path,
                "action has no `action`; no action provider will act on it",
            )
            .hint("add `action: <what to do>`, e.g. `scaling` or `toggle-feature`");
    }
    let description = text(r.field("description", diags), diags);
    let value = match r.field("value", diags) {
        Some((n, p)) => {
            warn_yaml11_booleans(n, &p, diags, 1);
            yaml11_json(n, 1)
        }
        None => serde_json::Value::Null,
    };
    r.finish("a remediation action", diags);
    Some(Action {
        name,
        action,
        description,
        value,
    })
}

/// YAML 1.1 words that `yaml.v2` reads as booleans.
fn yaml11_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Warns about YAML 1.1 booleans in a value at nesting `depth`, down to [`yaml::MAX_DEPTH`]
/// (deeper trees are never parsed).
fn warn_yaml11_booleans(node: &Node, path: &FieldPath, diags: &mut Diagnostics, depth: usize) {
    if depth > yaml::MAX_DEPTH {
        return;
    }
    match &node.value {
        Value::Scalar(s)
            if !s.quoted
                && yaml11_bool(&s.text).is_some()
                && !matches!(s.text.to_ascii_lowercase().as_str(), "true" | "false") =>
        {
            let b = yaml11_bool(&s.text).unwrap_or_default();
            diags
                .warning(
                    node.pos,
                    path,
                    format!("unquoted `{}` is the boolean {b} for Keptn (YAML 1.1), not the text `{}`", s.text, s.text),
                )
                .hint(format!("write \"{}\" if the action provider expects text, or {b} if it expects a boolean", s.text));
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                warn_yaml11_booleans(item, &path.index(i), diags, depth + 1);
            }
        }
        Value::Map(entries) => {
            for e in entries {
                warn_yaml11_booleans(&e.value, &path.key(e.key_str()), diags, depth + 1);
            }
        }
        _ => {}
    }
}

/// A free-form value as Keptn's remediation-service saw it: YAML 1.1 scalar typing (`yaml.v2`)
/// converted to JSON (`ghodss/yaml`). Lists and mappings nested deeper than
/// [`yaml::MAX_DEPTH`] (never parsed) become null.
fn yaml11_json(node: &Node, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    if depth > yaml::MAX_DEPTH && matches!(node.value, Value::Seq(_) | Value::Map(_)) {
        return J::Null;
    }
    match &node.value {
        Value::Null => J::Null,
        Value::Scalar(s) if s.quoted => J::String(s.text.clone()),
        Value::Scalar(s) => yaml11_scalar(&s.text),
        Value::Seq(items) => J::Array(items.iter().map(|n| yaml11_json(n, depth + 1)).collect()),
        Value::Map(entries) => {
            let mut m = serde_json::Map::new();
            for e in entries {
                let key = match &e.key.value {
                    Value::Scalar(s) => s.text.clone(),
                    Value::Null => "null".to_owned(),
                    _ => yaml11_json(&e.key, depth + 1).to_string(),
                };
                m.insert(key, yaml11_json(&e.value, depth + 1));
            }
            J::Object(m)
        }
    }
}

fn yaml11_scalar(text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    if let Some(b) = yaml11_bool(text) {
        return J::Bool(b);
    }
    if matches!(text, "~" | "null" | "Null" | "NULL" | "") {
        return J::Null;
    }
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return J::String(text.to_owned());
    }
    let plain = text.replace('_', "");
    if let Some(i) = go_parse_int(&plain) {
        return J::from(i);
    }
    if is_yaml_style_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        // Go's JSON encoder writes integral floats without a fraction.
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            return J::from(f as i64);
        }
        if let Some(n) = serde_json::Number::from_f64(f) {
            return J::Number(n);
        }
    }
    // Anything else stays text (including `.inf`/`.nan`, which JSON cannot hold).
    J::String(text.to_owned())
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, `0x`/`0o`/`0b` prefixes, a leading `0`
/// for octal.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(h) = lower.strip_prefix("0x") {
        (16, h.to_owned())
    } else if let Some(o) = lower.strip_prefix("0o") {
        (8, o.to_owned())
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Pos;
    use crate::yaml::{MAX_DEPTH, nested_by_hand};

    fn json_height(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(items) => 1 + items.iter().map(json_height).max().unwrap_or(0),
            serde_json::Value::Object(m) => 1 + m.values().map(json_height).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn yaml11_walks_stop_at_the_depth_limit() {
        let deep = nested_by_hand(2 * MAX_DEPTH);
        assert_eq!(json_height(&yaml11_json(&deep, 1)), MAX_DEPTH);
        let mut d = Diagnostics::new();
        warn_yaml11_booleans(&deep, &FieldPath::root(), &mut d, 1);
        assert!(d.is_empty(), "the `yes` below the limit is not reached");
        // Within the limit the walk reaches the bottom: the scalar is level MAX_DEPTH.
        warn_yaml11_booleans(
            &nested_by_hand(MAX_DEPTH - 1),
            &FieldPath::root(),
            &mut d,
            1,
        );
        assert_eq!(d.warning_count(), 1);
    }
    use crate::shipyard::tests::{assert_verdicts, corpus, fixtures};
    use serde_json::json;

    fn diags(src: &str) -> Diagnostics {
        parse(src).diagnostics
    }

    fn find<'a>(d: &'a Diagnostics, needle: &str) -> &'a crate::diagnostic::Diagnostic {
        d.iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{}", d.render("t")))
    }

    #[test]
    fn corpus_verdicts() {
        for verdict in ["valid", "invalid"] {
            assert_verdicts(&fixtures("remediation", verdict), verdict == "valid", diags);
            if let Some(files) = corpus("remediation", verdict) {
                assert!(!files.is_empty());
                assert_verdicts(&files, verdict == "valid", diags);
            }
        }
    }

    #[test]
    fn api_version_must_be_exact() {
        let d = diags(include_str!(
            "../tests/fixtures/remediation/invalid/apiversion-trailing-space.yaml"
        ));
        let e = find(&d, "does not conform");
        assert_eq!((e.path.as_str(), e.pos), ("apiVersion", Pos::new(1, 13)));
        assert!(e.hint.as_deref().unwrap().contains("white space"));
        let d = diags(include_str!(
            "../tests/fixtures/remediation/invalid/apiversion-0.2.0.yaml"
        ));
        assert!(
            find(&d, "does not conform")
                .hint
                .as_deref()
                .unwrap()
                .contains("0.1.4")
        );
        let d = diags(include_str!(
            "../tests/fixtures/remediation/invalid/apiversion-missing.yaml"
        ));
        assert_eq!(find(&d, "missing `apiVersion`").pos, Pos::new(1, 1));
    }

    #[test]
    fn old_format_and_shapes() {
        let p = parse(include_str!(
            "../tests/fixtures/remediation/invalid/examples-0.6-format.yaml"
        ));
        assert!(p.value.is_none());
        assert_eq!(p.diagnostics.len(), 1);
        assert!(
            find(&p.diagnostics, "0.6")
                .hint
                .as_deref()
                .unwrap()
                .contains("actionsOnOpen")
        );
        let d = diags(include_str!(
            "../tests/fixtures/remediation/invalid/actionsonopen-not-a-list.yaml"
        ));
        assert_eq!(d.error_count(), 1, "{}", d.render("t"));
        let e = find(&d, "must be a list");
        assert_eq!(e.path, "spec.remediations[0].actionsOnOpen");
        assert_eq!(e.pos, Pos::new(9, 9));
        for src in [
            "",
            "- a\n",
            "apiVersion: spec.keptn.sh/0.1.4\nspec:\n  remediations: {a: b}\n",
        ] {
            assert!(diags(src).has_errors(), "{src:?}");
        }
    }

    #[test]
    fn lenient_decoder_warnings() {
        let p = parse(include_str!(
            "../tests/fixtures/remediation/valid/odd-duplicate-and-unknown-keys.yaml"
        ));
        let d = &p.diagnostics;
        assert!(!d.has_errors());
        let dup = find(d, "duplicate key `name`");
        assert_eq!(
            (dup.severity, dup.path.as_str(), dup.pos),
            (Severity::Warning, "metadata.name", Pos::new(5, 3))
        );
        let unk = find(d, "unknown field `owner`");
        assert_eq!((unk.severity, unk.pos), (Severity::Warning, Pos::new(6, 3)));
        // The last value wins.
        assert_eq!(p.value.unwrap().name, "carts-remediation-v2");
        // Field names match case-insensitively, like encoding/json.
        let p = parse(
            "APIVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata: {name: x}\nspec:\n  remediations:\n  - ProblemType: default\n    actionsOnOpen: [{action: a}]\n",
        );
        assert!(!p.diagnostics.has_errors(), "{}", p.diagnostics.render("t"));
        assert_eq!(
            find(&p.diagnostics, "`ProblemType` is read")
                .hint
                .as_deref(),
            Some("write `problemType`")
        );
        assert_eq!(p.value.unwrap().remediations[0].problem_type, "default");
    }

    #[test]
    fn values_are_typed_like_keptn() {
        let p = parse(include_str!(
            "../tests/fixtures/remediation/valid/spec-example.yaml"
        ));
        let r = p.value.unwrap();
        assert_eq!(
            r.remediations[0].actions_on_open.as_ref().unwrap()[0].value,
            json!({"EnablePromotion": false})
        );
        let w = find(&p.diagnostics, "unquoted `off`");
        assert_eq!(
            w.path,
            "spec.remediations[0].actionsOnOpen[0].value.EnablePromotion"
        );
        let p = parse(include_str!(
            "../tests/fixtures/remediation/valid/poc-helloservice.yaml"
        ));
        let acts = p.value.unwrap().remediations;
        assert_eq!(
            acts[0].actions_on_open.as_ref().unwrap()[0].value,
            json!("3")
        );
        assert_eq!(
            acts[0].actions_on_open.as_ref().unwrap()[1].value,
            json!("")
        );
        assert_eq!(
            acts[1].actions_on_open.as_ref().unwrap()[0].value,
            serde_json::Value::Null
        );
        for (text, want) in [
            ("1", json!(1)),
            ("+1", json!(1)),
            ("0x10", json!(16)),
            ("010", json!(8)),
            ("1_000", json!(1000)),
            ("1.5", json!(1.5)),
            ("1.0", json!(1)),
            ("yes", json!(true)),
            ("Off", json!(false)),
            ("~", json!(null)),
            ("abc", json!("abc")),
            ("1.2.3", json!("1.2.3")),
            ("-0b11", json!(-3)),
            (".5", json!(0.5)),
        ] {
            assert_eq!(yaml11_scalar(text), want, "{text}");
        }
    }

    fn escalating() -> Remediation {
        let p = parse(include_str!(
            "../tests/fixtures/remediation/valid/keptn-remediation-service-test.yaml"
        ));
        assert!(!p.diagnostics.has_errors());
        p.value.unwrap()
    }

    #[test]
    fn select_action_order_and_escalation() {
        let r = escalating();
        // Root cause first.
        assert_eq!(
            r.select_action("problemType2", "problemType1", 0)
                .unwrap()
                .action,
            "action1"
        );
        assert_eq!(
            r.select_action("problemType2", "problemType1", 1)
                .unwrap()
                .action,
            "action2"
        );
        let e = r
            .select_action("problemType2", "problemType1", 2)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to get action for root cause problemType1. There is no action with index 2"
        );
        // Then the title.
        assert_eq!(
            r.select_action("problemType2", "unknown", 0)
                .unwrap()
                .action,
            "action11"
        );
        // Then default.
        assert_eq!(
            r.select_action("x", "y", 0).unwrap().action,
            "escalateDefaultAction"
        );
        assert!(r.select_action("x", "y", 1).is_err());
    }

    #[test]
    fn select_action_without_default_and_skipping_null_lists() {
        let p = parse(
            "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata: {name: x}\nspec:\n  remediations:\n  - problemType: cpu\n  - problemType: cpu\n    actionsOnOpen: [{action: scale}]\n  - problemType: mem\n    actionsOnOpen: []\n  - problemType: default\n    actionsOnOpen: [{action: first}]\n  - problemType: default\n    actionsOnOpen: [{action: last}]\n",
        );
        assert!(!p.diagnostics.has_errors());
        let r = p.value.unwrap();
        // An entry without actionsOnOpen is skipped; an empty list is not.
        assert_eq!(r.select_action("", "cpu", 0).unwrap().action, "scale");
        assert_eq!(
            r.select_action("", "mem", 0).unwrap_err(),
            SelectError::NoActionWithIndex {
                root_cause: "mem".into(),
                index: 0
            }
        );
        // The last `default` wins (Keptn's loop does not stop at the first).
        assert_eq!(r.select_action("t", "rc", 0).unwrap().action, "last");
        let none = Remediation {
            remediations: vec![],
            ..r
        };
        assert_eq!(
            none.select_action("t", "rc", 0).unwrap_err().to_string(),
            "unable to find actions for root cause rc"
        );
    }
}
