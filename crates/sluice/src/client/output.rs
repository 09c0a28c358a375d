//! Printing answers: aligned tables, pretty JSON and YAML, and Keptn time for people.

use serde_json::Value;
use sluice_model::event::Timestamp;

use crate::cli::{ColorChoice, OutputFormat};
use crate::style::Painter;

/// A table with a header row; cells are plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra cells are dropped).
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text: columns separated by three spaces and padded to the widest cell,
    /// the header in bold when the painter colours, no trailing spaces.
    pub fn render(&self, paint: Painter) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let line = |cells: &[String], bold: bool| {
            let mut out = String::new();
            let last = cells.len().saturating_sub(1);
            for (i, cell) in cells.iter().enumerate() {
                let text = if bold { paint.bold(cell) } else { cell.clone() };
                out.push_str(&text);
                if i < last {
                    let pad = widths[i] - width(cell) + 3;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.trim_end().to_string()
        };
        let mut out = line(&self.headers, true);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row, false));
            out.push('\n');
        }
        out
    }
}

/// Prints `value` as JSON or YAML, or the table for `OutputFormat::Table`.
pub fn print(format: OutputFormat, value: &Value, table: impl FnOnce() -> Table) {
    match format {
        OutputFormat::Json => println!("{}", pretty_json(value)),
        OutputFormat::Yaml => print!(
            "{}",
            sluice_model::yaml_writer::to_yaml(
                value,
                sluice_model::yaml_writer::YamlStyle::Indented
            )
        ),
        OutputFormat::Table => {
            let t = table();
            print!("{}", t.render(Painter::for_stdout(ColorChoice::Auto)));
        }
    }
}

/// Pretty JSON text.
pub fn pretty_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A string field of a JSON object (`""` when absent or not a string).
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Keptn's times for people: `creationDate` is Unix nanoseconds as a decimal string, event
/// times are RFC 3339. Both become `YYYY-MM-DD HH:MM:SS` (UTC); anything else is kept.
pub fn human_time(raw: &str) -> String {
    let ts = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse::<i128>().ok().map(Timestamp::from_unix_nanos)
    } else {
        Timestamp::parse(raw).ok()
    };
    match ts {
        Some(t) => {
            let (y, mo, d, h, mi, s, _) = t.to_civil();
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
        }
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned() {
        let mut t = Table::new(&["NAME", "CREATION DATE"]);
        t.row(vec!["sockshop".into(), "2024-01-02 15:04:05".into()]);
        t.row(vec!["a".into()]);
        let painter = Painter::for_stdout(ColorChoice::Never);
        assert_eq!(
            t.render(painter),
            "NAME       CREATION DATE\nsockshop   2024-01-02 15:04:05\na\n"
        );
    }

    #[test]
    fn times_are_readable() {
        assert_eq!(human_time("1704207845000000000"), "2024-01-02 15:04:05");
        assert_eq!(
            human_time("2024-01-02T15:04:05.123Z"),
            "2024-01-02 15:04:05"
        );
        assert_eq!(human_time("soon"), "soon");
        assert_eq!(human_time(""), "");
    }
}
