//! Diagnostics: located, path-qualified errors and warnings about a user's file.
//!
//! Every parser in this crate reports problems as [`Diagnostic`]s and collects all of them
//! (not only the first) in a [`Diagnostics`] list, so a user can fix a file in one pass.
//! A diagnostic carries the 1-based line and column, the field path
//! (`spec.stages[1].sequences[0].tasks[2].name`), a message and, where one helps, a hint
//! saying what to do. The file name is added by whoever knows it (see [`Diagnostics::render`]).

use std::fmt;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Keptn accepted this, but it is almost certainly a mistake.
    Warning,
    /// Keptn rejected this; so does sluice.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A position in a source file: 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: u32,
    /// Column, starting at 1.
    pub col: u32,
}

impl Pos {
    /// A position from 1-based line and column.
    pub const fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A field path inside a document, such as `spec.stages[1].sequences[0].name`.
///
/// The root path is empty. Paths are cheap to build and only rendered when reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldPath(String);

impl FieldPath {
    /// The document root.
    pub fn root() -> Self {
        FieldPath(String::new())
    }

    /// The path of a mapping key below this one.
    pub fn key(&self, key: &str) -> Self {
        let mut s = self.0.clone();
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(key);
        FieldPath(s)
    }

    /// The path of a list element below this one.
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{}]", self.0, i))
    }

    /// The rendered path; empty for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the document root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(document)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where in the file.
    pub pos: Pos,
    /// Which field (rendered [`FieldPath`]; empty for the whole document).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something useful to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Renders `file:line:col: severity: path: message` plus an indented hint line.
    pub fn render(&self, file: &str) -> String {
        let mut out = format!("{file}:{}: {}: ", self.pos, self.severity);
        if !self.path.is_empty() {
            out.push_str(&self.path);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        if let Some(hint) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(hint);
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<input>"))
    }
}

/// An ordered collection of diagnostics, filled while a file is parsed and validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an error.
    pub fn error(
        &mut self,
        pos: Pos,
        path: &FieldPath,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Error, pos, path, message)
    }

    /// Adds a warning.
    pub fn warning(
        &mut self,
        pos: Pos,
        path: &FieldPath,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Warning, pos, path, message)
    }

    /// Adds a diagnostic of the given severity and returns it so a hint can be attached:
    /// `diags.error(pos, &path, "…").hint("…")`.
    pub fn push(
        &mut self,
        severity: Severity,
        pos: Pos,
        path: &FieldPath,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.items.push(Diagnostic {
            severity,
            pos,
            path: path.as_str().to_owned(),
            message: message.into(),
            hint: None,
        });
        self.items.last_mut().expect("just pushed")
    }

    /// Appends all diagnostics of another list.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The diagnostics, sorted by position (stable for equal positions).
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by_key(|d| d.pos);
        v
    }

    /// The diagnostics in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Renders every diagnostic (sorted by position) for the named file, one per line.
    pub fn render(&self, file: &str) -> String {
        let mut out = String::new();
        for d in self.sorted() {
            out.push_str(&d.render(file));
            out.push('\n');
        }
        out
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl Diagnostic {
    /// Attaches a hint saying what to do.
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_keptn_users_expect() {
        let p = FieldPath::root()
            .key("spec")
            .key("stages")
            .index(1)
            .key("name");
        assert_eq!(p.as_str(), "spec.stages[1].name");
        assert_eq!(FieldPath::root().to_string(), "(document)");
    }

    #[test]
    fn render_has_file_line_column_path_and_hint() {
        let mut d = Diagnostics::new();
        d.error(Pos::new(3, 7), &FieldPath::root().key("kind"), "bad kind")
            .hint("use Shipyard");
        d.warning(Pos::new(1, 1), &FieldPath::root(), "first");
        let text = d.render("shipyard.yaml");
        assert_eq!(
            text,
            "shipyard.yaml:1:1: warning: first\nshipyard.yaml:3:7: error: kind: bad kind\n  hint: use Shipyard\n"
        );
        assert!(d.has_errors());
        assert_eq!((d.error_count(), d.warning_count()), (1, 1));
    }
}
