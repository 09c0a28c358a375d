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

/// Deepest nesting of lists and mappings a document may have (aliases count where they are
/// expanded). Keptn's files need fewer than ten levels; the limit only stops documents built to
/// exhaust the stack of whoever walks the tree (`a: [[[[...]]]]`, `- - - - ...`). Every tree this
/// module builds respects it, and every recursive walk here stops at it as well.
pub const MAX_DEPTH: usize = 128;

/// The node budget of a document of any size (see [`node_budget`]).
pub const MIN_NODE_BUDGET: usize = 10_000;
/// Values a document may have per byte of its text (see [`node_budget`]).
pub const NODES_PER_BYTE: usize = 4;
/// The node budget of the largest documents (see [`node_budget`]).
pub const MAX_NODE_BUDGET: usize = 1_000_000;

/// How many values a document of `len` bytes may build, counting each value of an alias's
/// expansion and each value copied to remember an anchor: [`NODES_PER_BYTE`] per byte, at
/// least [`MIN_NODE_BUDGET`] and at most [`MAX_NODE_BUDGET`].
///
/// A document without aliases has at most about one value per byte (`[a,b,c]`), so the budget
/// only stops alias bombs (`a: &a [x,x,x]`, `b: &b [*a,*a,*a]`, ...), and stops them after
/// work proportional to the size of the text rather than to what it would expand to.
pub fn node_budget(len: usize) -> usize {
    len.saturating_mul(NODES_PER_BYTE)
        .clamp(MIN_NODE_BUDGET, MAX_NODE_BUDGET)
}

/// Text the lenient re-parsing of [`parse`] may go through in all, in bytes (it parses the
/// document again after each line it re-indents).
const LENIENT_WORK_BYTES: usize = 16 * 1024 * 1024;

/// How many times [`parse`] may parse a document of `len` bytes while re-indenting flow
/// continuation lines: as many as fit in [`LENIENT_WORK_BYTES`], between 8 and 1000.
fn lenient_attempts(len: usize) -> usize {
    (LENIENT_WORK_BYTES / len.max(1)).clamp(8, 1000)
}

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
    ///
    /// Lists and mappings nested deeper than [`MAX_DEPTH`] (which [`parse`] never builds)
    /// become null.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_at(1)
    }

    fn to_json_at(&self, depth: usize) -> serde_json::Value {
        use serde_json::Value as J;
        if depth > MAX_DEPTH && matches!(self.value, Value::Seq(_) | Value::Map(_)) {
            return J::Null;
        }
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
            Value::Seq(items) => J::Array(items.iter().map(|n| n.to_json_at(depth + 1)).collect()),
            Value::Map(entries) => {
                let mut m = serde_json::Map::new();
                for e in entries {
                    let key = match &e.key.value {
                        Value::Scalar(s) => s.text.clone(),
                        Value::Null => "null".to_owned(),
                        _ => e.key.to_json_at(depth + 1).to_string(),
                    };
                    m.insert(key, e.value.to_json_at(depth + 1));
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

/// Parses YAML text strictly by YAML 1.2's rules (see [`parse`] for what Go accepted on top).
/// `budget` is the [`node_budget`] of the original text.
fn parse_strict(src: &str, budget: usize, diags: &mut Diagnostics) -> Option<Node> {
    let mut builder = Builder {
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
        nodes: 0,
        budget,
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
                if info.contains("recursion limit") {
                    // The scanner's own limit on `[`/`{` nesting (255), met while it looks
                    // ahead of the tree's.
                    let e = too_deep();
                    diags.error(pos, &FieldPath::root(), e.message).hint(e.hint);
                    return None;
                }
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
                if let Err(e) = builder.on_event(other, span) {
                    let d = diags.error(pos_of(span), &FieldPath::root(), e.message);
                    d.hint(e.hint);
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

/// What to do about a document nested too deeply.
fn depth_hint() -> String {
    format!(
        "sluice reads at most {MAX_DEPTH} nested lists and mappings (Keptn's files need fewer \
         than ten); check that this is the file you meant and flatten it"
    )
}

/// Why the tree could not be built (reported at the event's position).
struct BuildError {
    message: String,
    hint: String,
}

/// An open list or mapping.
struct Frame {
    shape: Shape,
    pos: Pos,
    anchor: usize,
    /// Values in the finished children (their whole subtrees).
    nodes: usize,
    /// Nesting of lists and mappings in the finished children (0 when all are scalars).
    height: usize,
}

enum Shape {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        pending_key: Option<Node>,
    },
}

/// A finished node with its size: values in its subtree, and the nesting of lists and
/// mappings in it (0 for a scalar).
struct Built {
    node: Node,
    nodes: usize,
    height: usize,
}

/// An anchored node, remembered with its size for the aliases that repeat it.
struct Anchored {
    node: Node,
    nodes: usize,
    height: usize,
}

/// Builds the tree from parser events with an explicit stack (no recursion), refusing
/// documents nested deeper than [`MAX_DEPTH`] or bigger than their node budget.
struct Builder {
    anchors: HashMap<usize, Anchored>,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Values built so far, counting copies made for anchors and alias expansions.
    nodes: usize,
    budget: usize,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), BuildError> {
        let pos = pos_of(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain)
                    || tag.as_ref().is_some_and(|t| t.suffix == "str");
                self.spend(1)?;
                let value = if !quoted && matches!(resolve_plain(&text), Resolved::Null) {
                    Value::Null
                } else {
                    Value::Scalar(Scalar {
                        text: text.into_owned(),
                        quoted,
                    })
                };
                self.complete(
                    Built {
                        node: Node::new(value, pos),
                        nodes: 1,
                        height: 0,
                    },
                    anchor,
                )
            }
            Event::SequenceStart(anchor, _) => self.open(Shape::Seq(Vec::new()), pos, anchor),
            Event::MappingStart(anchor, _) => self.open(
                Shape::Map {
                    entries: Vec::new(),
                    pending_key: None,
                },
                pos,
                anchor,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(BuildError {
                        message: "unbalanced end of a list or mapping".to_owned(),
                        hint: "check the brackets and indentation".to_owned(),
                    });
                };
                self.spend(1)?;
                let value = match frame.shape {
                    Shape::Seq(items) => Value::Seq(items),
                    Shape::Map { entries, .. } => Value::Map(entries),
                };
                self.complete(
                    Built {
                        node: Node::new(value, frame.pos),
                        nodes: frame.nodes + 1,
                        height: frame.height + 1,
                    },
                    frame.anchor,
                )
            }
            Event::Alias(id) => {
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err(BuildError {
                        message: "alias refers to an unknown anchor".to_owned(),
                        hint: "define the anchor (`&name`) before the alias (`*name`) uses it"
                            .to_owned(),
                    });
                };
                if self.stack.len() + anchored.height > MAX_DEPTH {
                    return Err(too_deep());
                }
                let (nodes, height) = (anchored.nodes, anchored.height);
                // Counted before copying: the copy is the work the budget bounds.
                self.spend(nodes)?;
                // An alias keeps the anchored content but is reported at the alias position.
                let mut node = self.anchors[&id].node.clone();
                node.pos = pos;
                self.complete(
                    Built {
                        node,
                        nodes,
                        height,
                    },
                    0,
                )
            }
            _ => Ok(()),
        }
    }

    fn open(&mut self, shape: Shape, pos: Pos, anchor: usize) -> Result<(), BuildError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(too_deep());
        }
        self.stack.push(Frame {
            shape,
            pos,
            anchor,
            nodes: 0,
            height: 0,
        });
        Ok(())
    }

    /// Counts `n` more values against the budget.
    fn spend(&mut self, n: usize) -> Result<(), BuildError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.budget {
            return Err(BuildError {
                message: format!(
                    "the document expands to more than {} values (through aliases, or simply too many)",
                    self.budget
                ),
                hint: format!(
                    "sluice builds at most {NODES_PER_BYTE} values per byte of a file (at least \
                     {MIN_NODE_BUDGET}, at most {MAX_NODE_BUDGET}); repeat smaller anchors \
                     (`*name`) fewer times"
                ),
            });
        }
        Ok(())
    }

    fn complete(&mut self, built: Built, anchor: usize) -> Result<(), BuildError> {
        if anchor != 0 {
            // Remembering the anchor copies the subtree.
            self.spend(built.nodes)?;
            self.anchors.insert(
                anchor,
                Anchored {
                    node: built.node.clone(),
                    nodes: built.nodes,
                    height: built.height,
                },
            );
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(built.node);
            return Ok(());
        };
        frame.nodes += built.nodes;
        frame.height = frame.height.max(built.height);
        match &mut frame.shape {
            Shape::Seq(items) => items.push(built.node),
            Shape::Map {
                entries,
                pending_key,
            } => match pending_key.take() {
                None => *pending_key = Some(built.node),
                // `? ` keys and the like are kept; decoders report them as unknown.
                Some(key) => entries.push(Entry {
                    key,
                    value: built.node,
                }),
            },
        }
        Ok(())
    }
}

fn too_deep() -> BuildError {
    BuildError {
        message: format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
        hint: depth_hint(),
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
    duplicate_keys_at(node, path, severity, diags, 1);
}

/// [`check_duplicate_keys`] of a node at nesting `depth`: stops below [`MAX_DEPTH`] (which
/// [`parse`] never builds), reporting the deeper part as an error.
fn duplicate_keys_at(
    node: &Node,
    path: &FieldPath,
    severity: Severity,
    diags: &mut Diagnostics,
    depth: usize,
) {
    if depth > MAX_DEPTH && matches!(node.value, Value::Seq(_) | Value::Map(_)) {
        let e = too_deep();
        diags.error(node.pos, path, e.message).hint(e.hint);
        return;
    }
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                duplicate_keys_at(item, &path.index(i), severity, diags, depth + 1);
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
                duplicate_keys_at(&e.value, &path.key(k), severity, diags, depth + 1);
            }
        }
        _ => {}
    }
}

/// The entries of a mapping; a null node reads as an empty mapping (Go's zero value).
/// Anything else is reported as an error and gives `None`.
pub fn map_entries<'a>(
    node: &'a Node,
    path: &FieldPath,
    diags: &mut Diagnostics,
) -> Option<&'a [Entry]> {
    match &node.value {
        Value::Map(entries) => Some(entries),
        Value::Null => Some(&[]),
        _ => {
            diags.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.describe()),
            );
            None
        }
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
        let entries = map_entries(node, path, diags)?;
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
    let entries = map_entries(node, path, diags)?;
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

/// Parses YAML text into a tree. Only the first document is read, as Go's `yaml.Unmarshal`
/// does. An empty input gives a null root. A syntax error is reported as one error diagnostic
/// (YAML cannot be read past a syntax error) and `None` is returned.
///
/// Besides YAML 1.2, this accepts what Go's libyaml-based decoders (and so Keptn) accepted
/// inside flow collections: continuation lines of a `[...]`/`{...}` that are indented no more
/// than the enclosing block (a closing `]` under its key, say). Such lines are re-indented and
/// the document parsed again; positions on them are mapped back to the original columns.
///
/// Documents nested more than [`MAX_DEPTH`] lists and mappings deep, or building more values
/// than their [`node_budget`] allows (alias bombs), are refused with one error diagnostic.
pub fn parse(src: &str, diags: &mut Diagnostics) -> Option<Node> {
    let budget = node_budget(src.len());
    let mut text = src.to_owned();
    let mut pads: HashMap<u32, u32> = HashMap::new();
    for _ in 0..lenient_attempts(src.len()) {
        let mut attempt = Diagnostics::new();
        if let Some(mut root) = parse_strict(&text, budget, &mut attempt) {
            if !pads.is_empty() {
                unpad(&mut root, &pads, 1);
            }
            return Some(root);
        }
        let Some(d) = attempt.iter().next() else {
            break;
        };
        let line = d.pos.line;
        let fixable = d.message.contains("invalid indentation")
            && !pads.contains_key(&line)
            && in_flow_before_line(&text, line);
        if !fixable {
            break;
        }
        let Some((new_text, pad)) = indent_line_past_previous(&text, line) else {
            break;
        };
        text = new_text;
        pads.insert(line, pad);
    }
    // Report the error as the strict parser sees the original text.
    parse_strict(src, budget, diags)
}

/// Whether a flow collection (`[` or `{`) is still open at the start of 1-based `line`.
fn in_flow_before_line(text: &str, line: u32) -> bool {
    let mut depth = 0usize;
    for (i, l) in text.lines().enumerate() {
        if i + 1 >= line as usize {
            break;
        }
        let mut quote: Option<char> = None;
        let mut prev_sig: Option<char> = None;
        let mut prev_char = ' ';
        let mut chars = l.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some(q) if c == q => {
                    if q == '\'' && chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
                Some(_) => {}
                None => match c {
                    '#' if prev_char.is_whitespace() => break,
                    '"' | '\''
                        if depth > 0
                            || matches!(prev_sig, None | Some(':' | '-' | ',' | '[' | '{')) =>
                    {
                        quote = Some(c)
                    }
                    '[' | '{' if depth > 0 || matches!(prev_sig, None | Some(':' | '-')) => {
                        depth += 1
                    }
                    ']' | '}' if depth > 0 => depth -= 1,
                    _ => {}
                },
            }
            if !c.is_whitespace() {
                prev_sig = Some(c);
            }
            prev_char = c;
        }
    }
    depth > 0
}

/// Re-indents 1-based `line` one column deeper than the previous non-blank line.
fn indent_line_past_previous(text: &str, line: u32) -> Option<(String, u32)> {
    let lines: Vec<&str> = text.split('\n').collect();
    let idx = (line as usize).checked_sub(1)?;
    let target = lines.get(idx)?;
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let prev = lines[..idx].iter().rev().find(|l| !l.trim().is_empty())?;
    let want = indent(prev) + 1;
    let have = indent(target);
    if want <= have {
        return None;
    }
    let pad = want - have;
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out[idx] = format!("{}{}", " ".repeat(pad), target);
    Some((out.join("\n"), u32::try_from(pad).ok()?))
}

/// Maps positions on re-indented lines back to the original columns, down to [`MAX_DEPTH`].
fn unpad(node: &mut Node, pads: &HashMap<u32, u32>, depth: usize) {
    if let Some(p) = pads.get(&node.pos.line) {
        node.pos.col = node.pos.col.saturating_sub(*p).max(1);
    }
    if depth > MAX_DEPTH {
        return;
    }
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| unpad(n, pads, depth + 1)),
        Value::Map(entries) => entries.iter_mut().for_each(|e| {
            unpad(&mut e.key, pads, depth + 1);
            unpad(&mut e.value, pads, depth + 1);
        }),
        _ => {}
    }
}

/// A list nested `depth` levels deep around a scalar, built by hand (as no parse would).
#[cfg(test)]
pub(crate) fn nested_by_hand(depth: usize) -> Node {
    let mut node = Node::new(
        Value::Scalar(Scalar {
            text: "yes".to_owned(),
            quoted: false,
        }),
        Pos::new(1, 1),
    );
    for _ in 0..depth {
        node = Node::new(Value::Seq(vec![node]), Pos::new(1, 1));
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostic;

    /// The depth bomb as it was reported: a mapping whose value is a block list nested
    /// `levels` deep on one line (`a:\n  - - - … x`).
    fn depth_bomb(levels: usize) -> String {
        format!("a:\n  {}x\n", "- ".repeat(levels))
    }

    fn refused(src: &str) -> Diagnostic {
        let mut d = Diagnostics::new();
        assert!(parse(src, &mut d).is_none(), "accepted");
        assert_eq!(d.len(), 1, "{d:?}");
        d.iter().next().unwrap().clone()
    }

    /// Nesting of lists and mappings in a tree (0 for a scalar).
    fn height(node: &Node) -> usize {
        match &node.value {
            Value::Seq(items) => 1 + items.iter().map(height).max().unwrap_or(0),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|e| height(&e.key).max(height(&e.value)))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn json_height(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(items) => 1 + items.iter().map(json_height).max().unwrap_or(0),
            serde_json::Value::Object(m) => 1 + m.values().map(json_height).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn yaml_depth_bomb_is_refused_with_a_position() {
        let d = refused(&depth_bomb(35_000));
        assert_eq!(d.severity, Severity::Error);
        // The mapping is level 1, so the 128th `- ` opens level 129.
        assert_eq!(d.pos, Pos::new(2, 3 + 2 * (MAX_DEPTH - 1) as u32));
        assert!(
            d.message.contains("nested more than 128 levels"),
            "{}",
            d.message
        );
        assert!(d.hint.as_deref().unwrap().contains("at most 128"));
        // Flow style is refused the same way.
        let flow = format!("a: {}x{}\n", "[".repeat(35_000), "]".repeat(35_000));
        assert!(refused(&flow).message.contains("nested more than 128"));
        let maps = format!("{}x\n", "k: {".repeat(300));
        assert!(refused(&maps).message.contains("nested more than 128"));
    }

    #[test]
    fn yaml_depth_limit_is_exactly_max_depth() {
        // The mapping plus MAX_DEPTH - 1 lists is MAX_DEPTH levels: accepted.
        let n = tree(&depth_bomb(MAX_DEPTH - 1));
        assert_eq!(height(&n), MAX_DEPTH);
        refused(&depth_bomb(MAX_DEPTH));
    }

    #[test]
    fn yaml_alias_depth_counts_where_it_is_expanded() {
        // An anchor 100 levels deep is fine on its own and fine near the top...
        let anchor = format!("a: &deep {}x{}\n", "[".repeat(100), "]".repeat(100));
        let n = tree(&format!("{anchor}b: *deep\n"));
        assert_eq!(height(&n), 101);
        // ...but not expanded 40 levels down.
        let d = refused(&format!(
            "{anchor}b: {}*deep{}\n",
            "[".repeat(40),
            "]".repeat(40)
        ));
        assert!(d.message.contains("nested more than 128"), "{}", d.message);
        assert_eq!(d.pos.line, 2);
    }

    #[test]
    fn yaml_node_budget_grows_with_the_text_between_floor_and_ceiling() {
        assert_eq!(node_budget(0), MIN_NODE_BUDGET);
        assert_eq!(node_budget(810), MIN_NODE_BUDGET);
        assert_eq!(node_budget(100_000), 100_000 * NODES_PER_BYTE);
        assert_eq!(node_budget(5 * 1024 * 1024), MAX_NODE_BUDGET);
    }

    /// A document whose last key expands `width` aliases of a list of `width` scalars
    /// `levels` times over: (width^levels) values from a few hundred bytes.
    fn alias_bomb(width: usize, levels: usize) -> String {
        let mut out = format!("l0: &l0 [{}]\n", vec!["x"; width].join(","));
        for i in 1..=levels {
            let prev = format!("*l{}", i - 1);
            out.push_str(&format!(
                "l{i}: &l{i} [{}]\n",
                vec![prev.as_str(); width].join(",")
            ));
        }
        out
    }

    #[test]
    fn yaml_alias_bomb_is_refused_within_its_node_budget() {
        // The classic bomb (9 levels of 9): 387 million values. Refused at the budget of its
        // size, which for a file this small is the floor.
        let bomb = alias_bomb(9, 9);
        assert!(bomb.len() < 1000);
        let d = refused(&bomb);
        assert!(
            d.message
                .contains(&format!("more than {MIN_NODE_BUDGET} values")),
            "{}",
            d.message
        );
        assert!(d.hint.as_deref().unwrap().contains("anchors"));
        // Under the budget, aliases expand as usual: 3 levels of 9 is 729 scalars; with the
        // lists and the copies kept for the anchors, 1 845 values.
        let ok = tree(&alias_bomb(9, 2));
        assert_eq!(ok.get("l2").unwrap().as_seq().unwrap().len(), 9);
        // One more level is 16 608 values: refused, although the text is hardly longer.
        refused(&alias_bomb(9, 3));
    }

    #[test]
    fn yaml_budget_counts_a_file_without_aliases_once() {
        // A flow list of 150 000 scalars (300 000 bytes) is 150 001 values: well inside
        // 4 per byte.
        let src = format!("[{}]", vec!["a"; 150_000].join(","));
        assert_eq!(tree(&src).as_seq().unwrap().len(), 150_000);
    }

    #[test]
    fn yaml_lenient_reparsing_is_bounded_by_the_text_size() {
        assert_eq!(lenient_attempts(100), 1000);
        assert_eq!(lenient_attempts(64 * 1024), 256);
        assert_eq!(lenient_attempts(5 * 1024 * 1024), 8);
    }

    #[test]
    fn yaml_to_json_stops_at_the_depth_limit() {
        let deep = nested_by_hand(2 * MAX_DEPTH);
        assert_eq!(json_height(&deep.to_json()), MAX_DEPTH);
        let ok = nested_by_hand(MAX_DEPTH);
        assert_eq!(json_height(&ok.to_json()), MAX_DEPTH);
    }

    #[test]
    fn yaml_duplicate_key_check_stops_at_the_depth_limit() {
        let mut d = Diagnostics::new();
        check_duplicate_keys(
            &nested_by_hand(2 * MAX_DEPTH),
            &FieldPath::root(),
            Severity::Error,
            &mut d,
        );
        assert_eq!(d.error_count(), 1);
        let diag = d.iter().next().unwrap();
        assert!(diag.message.contains("nested more than 128"));
        assert_eq!(diag.path.matches('[').count(), MAX_DEPTH);
        let mut d = Diagnostics::new();
        check_duplicate_keys(
            &nested_by_hand(MAX_DEPTH),
            &FieldPath::root(),
            Severity::Error,
            &mut d,
        );
        assert!(d.is_empty());
    }

    #[test]
    fn yaml_unpad_stops_at_the_depth_limit() {
        let mut deep = nested_by_hand(2 * MAX_DEPTH);
        let pads = HashMap::from([(1, 1)]);
        deep.pos.col = 5;
        unpad(&mut deep, &pads, 1);
        assert_eq!(deep.pos.col, 4);
    }

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

    #[test]
    fn lenient_flow_accepts_libyaml_indentation() {
        let src = "a:\n  args: [ \"x\",\n          \"y\"\n  ]\n  b: [1,\n2]\n";
        let mut d = Diagnostics::new();
        assert!(parse_strict(src, MAX_NODE_BUDGET, &mut Diagnostics::new()).is_none());
        let n = parse(src, &mut d).expect("lenient parse");
        assert!(d.is_empty());
        let a = n.get("a").unwrap();
        assert_eq!(a.get("args").unwrap().as_seq().unwrap().len(), 2);
        let b = a.get("b").unwrap().as_seq().unwrap();
        assert_eq!(b[1].pos, Pos::new(6, 1));
        // Block indentation mistakes stay errors.
        let bad = "a:\n  - name: x\n   files: [y]\n";
        let mut d = Diagnostics::new();
        assert!(parse(bad, &mut d).is_none());
        assert_eq!(d.error_count(), 1);
    }
}
