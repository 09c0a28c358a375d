//! A YAML document tree with source positions, and typed readers that report diagnostics.
//!
//! Keptn parsed its files with Go's YAML libraries straight into structs, so a mistake
//! surfaced as one terse error, or not at all. sluice parses a file once into a [`Node`] tree
//! that remembers where every value came from, then each format's decoder walks the tree with
//! the readers below ([`MapReader`], [`string`], [`seq`], [`integer`], ...). Readers never stop
//! at the first problem: they record a [`Diagnostic`](crate::diagnostic::Diagnostic) with the
//! position and field path and carry on, so validation reports everything at once.
//!
//! Scalar conversions follow Go's `gopkg.in/yaml.v3` when decoding into typed fields, because
//! that is what decided whether Keptn accepted a file: any scalar can be read as a string,
//! floats are truncated into integer fields, `yes`/`no`/`on`/`off` are booleans in boolean
//! fields, and null is the zero value.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diagnostic::{Diagnostics, FieldPath, Pos, Severity};

/// Maximum number of nodes a document may expand to (guards against alias bombs).
const MAX_NODES: usize = 1_000_000;

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub pos: Pos,
}

/// The shape of a YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// Any scalar (strings, numbers, booleans are all kept as text and typed on reading).
    Scalar(Scalar),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, in file order; duplicate keys are kept (see [`check_duplicate_keys`]).
    Map(Vec<Entry>),
}

/// A scalar's text and how it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's text, after YAML unescaping and folding.
    pub text: String,
    /// Whether the scalar was quoted (quoted scalars are always strings).
    pub quoted: bool,
}

/// A key/value pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key node (normally a scalar).
    pub key: Node,
    /// The value node.
    pub value: Node,
}

impl Entry {
    /// The key's text, or an empty string for a non-scalar key.
    pub fn key_str(&self) -> &str {
        self.key.as_scalar().unwrap_or("")
    }
}

impl Node {
    fn new(value: Value, pos: Pos) -> Self {
        Node { value, pos }
    }

    /// A null node at a position.
    pub fn null(pos: Pos) -> Self {
        Node::new(Value::Null, pos)
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar text, if this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of the last entry with this key, if this is a mapping that has it
    /// (Go's YAML decoders keep the last value of a repeated key).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|e| e.key_str() == key)
            .map(|e| &e.value)
    }

    /// A short name of the value's type for messages: "a string", "a list", ...
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar(s) if s.quoted => "a string",
            Value::Scalar(s) => match resolve_plain(&s.text) {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) | Resolved::Float(_) => "a number",
                Resolved::Str => "a string",
            },
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as JSON, typing plain scalars the way YAML 1.2's core schema (and Go's
    /// `yaml.v3` decoding into `interface{}`) does. Used for free-form `properties`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Scalar(s) if s.quoted => J::String(s.text.clone()),
            Value::Scalar(s) => match resolve_plain(&s.text) {
                Resolved::Null => J::Null,
                Resolved::Bool(b) => J::Bool(b),
                Resolved::Int(i) => J::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(J::Number)
                    .unwrap_or_else(|| J::String(s.text.clone())),
                Resolved::Str => J::String(s.text.clone()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                let mut m = serde_json::Map::new();
                for e in entries {
                    let key = match &e.key.value {
                        Value::Scalar(s) => s.text.clone(),
                        Value::Null => "null".to_owned(),
                        _ => e.key.to_json().to_string(),
                    };
                    m.insert(key, e.value.to_json());
                }
                J::Object(m)
            }
        }
    }
}

/// How a plain scalar resolves under YAML 1.2's core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_yaml_int(text) {
        return Resolved::Int(i);
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str
}

fn parse_yaml_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(body, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn looks_like_float(text: &str) -> bool {
    // YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        }
    };
    mantissa_ok && exp_ok
}

/// Parses YAML text into a tree. Only the first document is read, as Go's `yaml.Unmarshal`
/// does. An empty input gives a null root. A syntax error is reported as one error diagnostic
/// (YAML cannot be read past a syntax error) and `None` is returned.
pub fn parse(src: &str, diags: &mut Diagnostics) -> Option<Node> {
    let mut builder = Builder {
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(src);
    let mut in_document = false;
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                let pos = Pos::new(m.line() as u32, m.col() as u32 + 1);
                let info = e.info();
                let d = diags.error(pos, &FieldPath::root(), format!("invalid YAML: {info}"));
                if info.contains("tab") {
                    d.hint("indent with spaces; YAML does not allow tabs for indentation");
                } else {
                    d.hint(
                        "check the indentation and punctuation on this line and the one before it",
                    );
                }
                return None;
            }
        };
        match event {
            Event::DocumentStart(_) => in_document = true,
            Event::DocumentEnd => {
                if builder.root.is_some() || in_document {
                    break;
                }
            }
            Event::StreamEnd => break,
            _ if !in_document => {}
            other => {
                if let Err(msg) = builder.on_event(other, span) {
                    diags.error(pos_of(span), &FieldPath::root(), msg);
                    return None;
                }
                if builder.root.is_some() {
                    // The root value is complete; Go reads no further.
                    break;
                }
            }
        }
    }
    Some(builder.root.unwrap_or_else(|| Node::null(Pos::new(1, 1))))
}

fn pos_of(span: Span) -> Pos {
    Pos::new(span.start.line() as u32, span.start.col() as u32 + 1)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        pending_key: Option<Node>,
        pos: Pos,
        anchor: usize,
    },
}

struct Builder {
    anchors: HashMap<usize, Node>,
    stack: Vec<Frame>,
    root: Option<Node>,
    nodes: usize,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), String> {
        let pos = pos_of(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain)
                    || tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if !quoted && matches!(resolve_plain(&text), Resolved::Null) {
                    Value::Null
                } else {
                    Value::Scalar(Scalar {
                        text: text.into_owned(),
                        quoted,
                    })
                };
                self.complete(Node::new(value, pos), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    pos,
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { items, pos, anchor }) => {
                    self.complete(Node::new(Value::Seq(items), pos), anchor)
                }
                _ => Err("unbalanced sequence end".to_owned()),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    entries,
                    pos,
                    anchor,
                    ..
                }) => self.complete(Node::new(Value::Map(entries), pos), anchor),
                _ => Err("unbalanced mapping end".to_owned()),
            },
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| "alias refers to an unknown anchor".to_owned())?;
                self.nodes += count_nodes(&node);
                if self.nodes > MAX_NODES {
                    return Err(format!(
                        "document expands to more than {MAX_NODES} values through aliases"
                    ));
                }
                // An alias keeps the anchored content but is reported at the alias position.
                self.complete(Node { pos, ..node }, 0)
            }
            _ => Ok(()),
        }
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!("document has more than {MAX_NODES} values"));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    if key.is_null() && key.as_scalar().is_none() {
                        // `? ` keys and the like: keep them; decoders report them as unknown.
                    }
                    entries.push(Entry { key, value: node });
                }
            },
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries
            .iter()
            .map(|e| count_nodes(&e.key) + count_nodes(&e.value))
            .sum(),
        _ => 0,
    }
}

/// Reports every key that appears twice in the same mapping, anywhere in the tree.
///
/// Go's `yaml.v3` rejects such files (`mapping key "x" already defined`), `yaml.v2` silently
/// keeps the last value: each format decides the severity.
pub fn check_duplicate_keys(
    node: &Node,
    path: &FieldPath,
    severity: Severity,
    diags: &mut Diagnostics,
) {
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                check_duplicate_keys(item, &path.index(i), severity, diags);
            }
        }
        Value::Map(entries) => {
            let mut first: HashMap<&str, Pos> = HashMap::new();
            for e in entries {
                let Some(k) = e.key.as_scalar() else { continue };
                if let Some(prev) = first.get(k) {
                    let d = diags.push(
                        severity,
                        e.key.pos,
                        &path.key(k),
                        format!("duplicate key `{k}` (first defined at line {})", prev.line),
                    );
                    match severity {
                        Severity::Error => {
                            d.hint("remove one of the two; Keptn rejected files with repeated keys")
                        }
                        Severity::Warning => {
                            d.hint("remove one of the two; Keptn silently used the last one")
                        }
                    };
                } else {
                    first.insert(k, e.key.pos);
                }
                check_duplicate_keys(&e.value, &path.key(k), severity, diags);
            }
        }
        _ => {}
    }
}

/// Reads the fields of a mapping one by one and remembers which keys were asked for,
/// so that the remaining (unknown or misspelt) keys can be reported at the end.
#[derive(Debug)]
pub struct MapReader<'a> {
    entries: &'a [Entry],
    pos: Pos,
    path: FieldPath,
    known: Vec<&'static str>,
}

impl<'a> MapReader<'a> {
    /// Starts reading a mapping. A null node reads as an empty mapping (Go's zero value).
    /// Anything else is reported as an error and gives `None`.
    pub fn new(node: &'a Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Self> {
        let entries: &'a [Entry] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                diags.error(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", node.describe()),
                );
                return None;
            }
        };
        Some(MapReader {
            entries,
            pos: node.pos,
            path: path.clone(),
            known: Vec::new(),
        })
    }

    /// The mapping's path.
    pub fn path(&self) -> &FieldPath {
        &self.path
    }

    /// The mapping's position.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// Whether the mapping has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of a field (last occurrence wins) and its path, or `None` if the key is absent.
    /// A key with a null value is returned as a null node.
    pub fn field(&mut self, key: &'static str) -> Option<(&'a Node, FieldPath)> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.entries
            .iter()
            .rev()
            .find(|e| e.key_str() == key)
            .map(|e| (&e.value, self.path.key(key)))
    }

    /// Like [`MapReader::field`], but a missing or null value is reported as an error.
    pub fn required(
        &mut self,
        key: &'static str,
        diags: &mut Diagnostics,
    ) -> Option<(&'a Node, FieldPath)> {
        match self.field(key) {
            Some((node, path)) if !node.is_null() => Some((node, path)),
            Some((node, path)) => {
                diags
                    .error(node.pos, &path, format!("`{key}` must not be empty"))
                    .hint(format!("give `{key}` a value"));
                None
            }
            None => {
                diags
                    .error(
                        self.pos,
                        &self.path,
                        format!("missing required field `{key}`"),
                    )
                    .hint(format!("add `{key}:` here"));
                None
            }
        }
    }

    /// Declares keys as known without reading them (fields a format allows but ignores).
    pub fn allow(&mut self, keys: &[&'static str]) {
        for k in keys {
            if !self.known.contains(k) {
                self.known.push(k);
            }
        }
    }

    /// The entries whose keys were not asked for.
    pub fn unknown(&self) -> impl Iterator<Item = &'a Entry> + '_ {
        self.entries
            .iter()
            .filter(|e| !self.known.contains(&e.key_str()))
    }

    /// Reports every key that was not asked for, with a "did you mean" hint when a known
    /// key is close. `what` names the mapping in the message ("a shipyard stage").
    pub fn finish(self, severity: Severity, what: &str, diags: &mut Diagnostics) {
        for e in self.unknown() {
            let key = e.key_str();
            let path = self.path.key(key);
            let d = diags.push(
                severity,
                e.key.pos,
                &path,
                format!("unknown field `{key}` in {what}"),
            );
            match suggest(key, &self.known) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("known fields here: {}", self.known.join(", "))),
            };
        }
    }
}

/// The known key closest to `key`, if it is close enough to be a likely misspelling.
pub fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Reads a scalar as a string, as Go does for a `string` field: any scalar's text is
/// accepted, null gives `None`, a list or mapping is an error (and gives `None`).
pub fn string(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<String> {
    match &node.value {
        Value::Null => None,
        Value::Scalar(s) => Some(s.text.clone()),
        _ => {
            diags.error(
                node.pos,
                path,
                format!("expected a string, found {}", node.describe()),
            );
            None
        }
    }
}

/// Reads a list. Null reads as an empty list; a scalar or mapping is an error (`None`).
pub fn seq<'a>(node: &'a Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<&'a [Node]> {
    match &node.value {
        Value::Null => Some(&[]),
        Value::Seq(items) => Some(items),
        _ => {
            diags
                .error(
                    node.pos,
                    path,
                    format!("expected a list, found {}", node.describe()),
                )
                .hint("write each item on its own line starting with `- `, or use [a, b]");
            None
        }
    }
}

/// Reads a list of strings (`cmd`, `args`, `files`, ...).
pub fn string_list(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Vec<String>> {
    let items = seq(node, path, diags)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match &item.value {
            Value::Null => out.push(String::new()),
            Value::Scalar(s) => out.push(s.text.clone()),
            _ => {
                diags.error(
                    item.pos,
                    &path.index(i),
                    format!("expected a string, found {}", item.describe()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// Reads a mapping of strings to strings (`labels`, `filter`, `selector.match`, ...),
/// in file order. Non-scalar values are errors.
pub fn string_map(
    node: &Node,
    path: &FieldPath,
    diags: &mut Diagnostics,
) -> Option<Vec<(String, String)>> {
    let entries: &[Entry] = match &node.value {
        Value::Null => &[],
        Value::Map(m) => m,
        _ => {
            diags.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.describe()),
            );
            return None;
        }
    };
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    for e in entries {
        let key = e.key_str().to_owned();
        match &e.value.value {
            Value::Null => out.push((key, String::new())),
            Value::Scalar(s) => out.push((key, s.text.clone())),
            _ => {
                diags.error(
                    e.value.pos,
                    &path.key(&key),
                    format!("expected a string, found {}", e.value.describe()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A number read from an integer field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Integer {
    /// The value after Go's truncation of floats.
    pub value: i64,
    /// Whether the file had a fractional value that was truncated.
    pub truncated: bool,
}

/// Reads an integer field the way Go's YAML decoders do: integers as they are, floats
/// truncated towards zero (flagged in [`Integer::truncated`]), null as `None`; anything else
/// (for example `weight: high`) is an error.
pub fn integer(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Integer> {
    match &node.value {
        Value::Null => None,
        Value::Scalar(s) if !s.quoted => match resolve_plain(&s.text) {
            Resolved::Int(i) => Some(Integer {
                value: i,
                truncated: false,
            }),
            Resolved::Float(f) if f.is_finite() && f.abs() < 9.2e18 => Some(Integer {
                value: f.trunc() as i64,
                truncated: f.fract() != 0.0,
            }),
            _ => {
                diags.error(
                    node.pos,
                    path,
                    format!("expected a whole number, found `{}`", s.text),
                );
                None
            }
        },
        _ => {
            diags.error(
                node.pos,
                path,
                format!("expected a whole number, found {}", node.describe()),
            );
            None
        }
    }
}

/// Reads a boolean field like Go's `yaml.v3`: `true`/`false` and the YAML 1.1 words
/// `yes`/`no`/`on`/`off`/`y`/`n` (plain only); null is `None`.
pub fn boolean(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<bool> {
    match &node.value {
        Value::Null => None,
        Value::Scalar(s) if !s.quoted => match s.text.as_str() {
            "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
                Some(true)
            }
            "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off"
            | "OFF" => Some(false),
            other => {
                diags
                    .error(
                        node.pos,
                        path,
                        format!("expected true or false, found `{other}`"),
                    )
                    .hint("write true or false");
                None
            }
        },
        _ => {
            diags.error(
                node.pos,
                path,
                format!("expected true or false, found {}", node.describe()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> Node {
        let mut d = Diagnostics::new();
        let n = parse(src, &mut d).expect("valid yaml");
        assert!(d.is_empty(), "{d:?}");
        n
    }

    #[test]
    fn positions_are_one_based() {
        let n = tree("a: 1\nb:\n  - x\n  - {c: d}\n");
        let b = n.get("b").unwrap();
        assert_eq!(b.pos, Pos::new(3, 3));
        assert_eq!(b.as_seq().unwrap()[0].pos, Pos::new(3, 5));
    }

    #[test]
    fn tabs_are_reported_with_a_location() {
        let mut d = Diagnostics::new();
        assert!(parse("a:\n\t- b\n", &mut d).is_none());
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.pos.line, 2);
        assert!(diag.hint.as_deref().unwrap().contains("tabs"));
    }

    #[test]
    fn only_the_first_document_is_read() {
        let n = tree("---\na: 1\n---\nb: 2\n");
        assert!(n.get("a").is_some());
        assert!(n.get("b").is_none());
    }

    #[test]
    fn empty_input_is_null() {
        assert!(tree("").is_null());
        assert!(tree("# just a comment\n").is_null());
    }

    #[test]
    fn aliases_expand() {
        let n = tree("a: &x {k: v}\nb: *x\n");
        assert_eq!(n.get("b").unwrap().get("k").unwrap().as_scalar(), Some("v"));
    }

    #[test]
    fn null_forms() {
        let n = tree("a:\nb: ~\nc: null\nd: ''\n");
        assert!(n.get("a").unwrap().is_null());
        assert!(n.get("b").unwrap().is_null());
        assert!(n.get("c").unwrap().is_null());
        assert_eq!(n.get("d").unwrap().as_scalar(), Some(""));
    }

    #[test]
    fn json_typing_follows_the_core_schema() {
        let n = tree("a: 1\nb: 1.5\nc: true\nd: '1'\ne: 2m\nf: 0x10\ng: [x, 2]\n");
        assert_eq!(
            n.to_json(),
            serde_json::json!({"a": 1, "b": 1.5, "c": true, "d": "1", "e": "2m", "f": 16, "g": ["x", 2]})
        );
    }

    #[test]
    fn integers_truncate_like_go() {
        let n = tree("a: 1.5\nb: high\nc: 3\nd: '4'\n");
        let mut d = Diagnostics::new();
        let p = FieldPath::root();
        assert_eq!(
            integer(n.get("a").unwrap(), &p, &mut d),
            Some(Integer {
                value: 1,
                truncated: true
            })
        );
        assert_eq!(
            integer(n.get("c").unwrap(), &p, &mut d),
            Some(Integer {
                value: 3,
                truncated: false
            })
        );
        assert!(d.is_empty());
        assert_eq!(integer(n.get("b").unwrap(), &p, &mut d), None);
        assert_eq!(integer(n.get("d").unwrap(), &p, &mut d), None);
        assert_eq!(d.error_count(), 2);
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let n = tree("a: 1\nb:\n  - x: 1\n    x: 2\na: 3\n");
        let mut d = Diagnostics::new();
        check_duplicate_keys(&n, &FieldPath::root(), Severity::Error, &mut d);
        let paths: Vec<_> = d.iter().map(|d| (d.path.clone(), d.pos.line)).collect();
        assert_eq!(paths, vec![("b[0].x".to_owned(), 4), ("a".to_owned(), 5)]);
        // Last one wins, like Go.
        assert_eq!(n.get("a").unwrap().as_scalar(), Some("3"));
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let n = tree("comparision: {}\nobjectives: []\n");
        let mut d = Diagnostics::new();
        let mut r = MapReader::new(&n, &FieldPath::root(), &mut d).unwrap();
        r.field("comparison");
        r.field("objectives");
        r.finish(Severity::Warning, "an SLO file", &mut d);
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.severity, Severity::Warning);
        assert_eq!(diag.path, "comparision");
        assert_eq!(diag.hint.as_deref(), Some("did you mean `comparison`?"));
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let n = tree("cmd: wrong value\nlist: [a, {b: c}]\n");
        let mut d = Diagnostics::new();
        let p = FieldPath::root();
        assert!(string_list(n.get("cmd").unwrap(), &p.key("cmd"), &mut d).is_none());
        assert!(string_list(n.get("list").unwrap(), &p.key("list"), &mut d).is_none());
        let msgs: Vec<_> = d
            .iter()
            .map(|d| format!("{} {}", d.path, d.message))
            .collect();
        assert_eq!(
            msgs,
            vec![
                "cmd expected a list, found a string",
                "list[1] expected a string, found a mapping"
            ]
        );
    }
}
