//! Reads Locust's `--csv <prefix>` output into a [`LoadSummary`]: the `Aggregated` row of
//! `<prefix>_stats.csv`, the first and last `Timestamp` of `<prefix>_stats_history.csv` (start
//! and end) and, when present, the error classes of `<prefix>_failures.csv`.
//!
//! Strict: a missing column, a non-numeric value or `N/A` (Locust's placeholder when it has no
//! response times) is an error naming the file, row and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sluice_model::event::Timestamp;

use crate::histogram::LatencyMs;
use crate::summary::{FailureReason, LoadSummary, TOOL_LOCUST};

/// Why Locust's CSV output could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocustError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        reason: String,
    },
    /// The file is not well-formed CSV.
    #[error("{file}: line {line}: {reason}")]
    Csv {
        /// Which file (`stats`, `stats_history`, `failures` or a path).
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The header lacks a column we need.
    #[error(
        "{file}: missing column {column:?} (is this Locust's --csv output? found columns: {found})"
    )]
    MissingColumn {
        /// Which file.
        file: String,
        /// The column name.
        column: &'static str,
        /// The header as found.
        found: String,
    },
    /// `_stats.csv` has no `Aggregated` row.
    #[error("{file}: no row named \"Aggregated\" (Locust writes it last)")]
    NoAggregatedRow {
        /// Which file.
        file: String,
    },
    /// A cell is not the number we expect.
    #[error("{file}: line {line}, column {column:?}: {value:?} is not {expected}{hint}")]
    BadValue {
        /// Which file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The column name.
        column: &'static str,
        /// The cell as found.
        value: String,
        /// What was expected, e.g. "a whole number".
        expected: &'static str,
        /// Extra advice (may be empty).
        hint: &'static str,
    },
}

const STATS: &str = "stats";
const HISTORY: &str = "stats_history";
const FAILURES: &str = "failures";

/// Reads `<prefix>_stats.csv` (required), `<prefix>_stats_history.csv` and
/// `<prefix>_failures.csv` (both optional) from disk.
pub fn read_locust_csv(prefix: &Path) -> Result<LoadSummary, LocustError> {
    let with_suffix = |suffix: &str| {
        let mut name = prefix.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| LocustError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let optional = |path: PathBuf| -> Result<Option<String>, LocustError> {
        if path.exists() {
            read(&path).map(Some)
        } else {
            Ok(None)
        }
    };
    let stats = read(&with_suffix("_stats.csv"))?;
    let history = optional(with_suffix("_stats_history.csv"))?;
    let failures = optional(with_suffix("_failures.csv"))?;
    parse_locust_csv(&stats, history.as_deref(), failures.as_deref())
}

/// Builds a summary (tool `locust`, empty `url`) from the texts of Locust's CSV files.
pub fn parse_locust_csv(
    stats: &str,
    history: Option<&str>,
    failures: Option<&str>,
) -> Result<LoadSummary, LocustError> {
    let table = Table::parse(STATS, stats)?;
    let name = table.column("Name")?;
    table.column("Type")?;
    let (line, row) = table
        .rows
        .iter()
        .find(|(_, r)| r.get(name).map(String::as_str) == Some("Aggregated"))
        .ok_or_else(|| LocustError::NoAggregatedRow { file: STATS.into() })?;
    let line = *line;
    let count = |c| table.count(line, row, c);
    let millis = |c| table.number(line, row, c);
    let requests = count("Request Count")?;
    let failure_count = count("Failure Count")?;
    let rps = millis("Requests/s")?;
    let latency_ms = LatencyMs {
        min: millis("Min Response Time")?,
        p50: millis("50%")?,
        p90: millis("90%")?,
        p95: millis("95%")?,
        p99: millis("99%")?,
        max: millis("Max Response Time")?,
        mean: millis("Average Response Time")?,
    };

    let (start, end) = match history {
        Some(text) => history_span(text)?,
        None => (None, None),
    };
    let duration_seconds = match (start, end) {
        (Some(s), Some(e)) if e > s => e.nanos_since(s) as f64 / 1e9,
        _ if rps > 0.0 => requests as f64 / rps,
        _ => 0.0,
    };

    let mut failures_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(text) = failures {
        for (reason, n) in failure_classes(text)? {
            *failures_by_reason.entry(reason.to_string()).or_default() += n;
        }
    }
    let classified: u64 = failures_by_reason.values().sum();
    if failure_count > classified {
        *failures_by_reason
            .entry(FailureReason::Other.to_string())
            .or_default() += failure_count - classified;
    }

    Ok(LoadSummary {
        tool: TOOL_LOCUST.to_string(),
        url: String::new(),
        start: start.map(Timestamp::to_keptn_string),
        end: end.map(Timestamp::to_keptn_string),
        duration_seconds: (duration_seconds * 1000.0).round() / 1000.0,
        requests,
        failures: failure_count,
        failures_by_reason,
        throughput_per_second: rps,
        latency_ms: Some(latency_ms),
        latency_histogram: None,
    })
}

/// First and last `Timestamp` (Unix seconds) of `_stats_history.csv`.
fn history_span(text: &str) -> Result<(Option<Timestamp>, Option<Timestamp>), LocustError> {
    let table = Table::parse(HISTORY, text)?;
    table.column("Timestamp")?;
    let mut span: Option<(Timestamp, Timestamp)> = None;
    for (line, row) in &table.rows {
        let secs = table.number(*line, row, "Timestamp")?;
        let t = Timestamp::from_unix_nanos((secs * 1e9).round() as i128);
        span = Some(match span {
            None => (t, t),
            Some((a, b)) => (a.min(t), b.max(t)),
        });
    }
    Ok((span.map(|s| s.0), span.map(|s| s.1)))
}

/// Occurrences per failure class from `_failures.csv` (`Method,Name,Error,Occurrences`).
fn failure_classes(text: &str) -> Result<Vec<(FailureReason, u64)>, LocustError> {
    let table = Table::parse(FAILURES, text)?;
    let error = table.column("Error")?;
    table.column("Occurrences")?;
    table
        .rows
        .iter()
        .map(|(line, row)| {
            let n = table.count(*line, row, "Occurrences")?;
            let text = row.get(error).map(String::as_str).unwrap_or_default();
            Ok((classify(text), n))
        })
        .collect()
}

/// Maps a Locust error text to a failure reason, e.g.
/// `HTTPError('500 Server Error: ...')`, `BadStatusCode('http://h/x', code=503)`,
/// `ConnectionRefusedError(111, 'Connection refused')`, `ReadTimeout(...)`.
fn classify(error: &str) -> FailureReason {
    let status_after = |marker: &str| {
        error.find(marker).and_then(|i| {
            let digits: String = error[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits
                .parse::<u16>()
                .ok()
                .filter(|c| (100..600).contains(c))
        })
    };
    if let Some(code) = status_after("HTTPError('").or_else(|| status_after("code=")) {
        return FailureReason::Status(code);
    }
    let lower = error.to_ascii_lowercase();
    if lower.contains("timeout") || lower.contains("timed out") {
        FailureReason::Timeout
    } else if lower.contains("connectionrefused")
        || lower.contains("connection refused")
        || lower.contains("newconnectionerror")
        || lower.contains("failed to establish")
        || lower.contains("name or service not known")
    {
        FailureReason::Connect
    } else if lower.contains("connectionreset")
        || lower.contains("remotedisconnected")
        || lower.contains("connection aborted")
    {
        FailureReason::Protocol
    } else {
        FailureReason::Other
    }
}

/// A parsed CSV file: header and data rows with their 1-based line numbers.
struct Table {
    file: &'static str,
    header: Vec<String>,
    rows: Vec<Record>,
}

impl Table {
    fn parse(file: &'static str, text: &str) -> Result<Table, LocustError> {
        let mut records = parse_csv(text).map_err(|(line, reason)| LocustError::Csv {
            file: file.into(),
            line,
            reason,
        })?;
        if records.is_empty() {
            return Err(LocustError::Csv {
                file: file.into(),
                line: 1,
                reason: "the file is empty (no header row)",
            });
        }
        let (_, header) = records.remove(0);
        let header = header.into_iter().map(|h| h.trim().to_string()).collect();
        Ok(Table {
            file,
            header,
            rows: records,
        })
    }

    fn column(&self, name: &'static str) -> Result<usize, LocustError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| LocustError::MissingColumn {
                file: self.file.into(),
                column: name,
                found: self.header.join(","),
            })
    }

    fn cell<'r>(
        &self,
        line: usize,
        row: &'r [String],
        column: &'static str,
    ) -> Result<&'r str, LocustError> {
        let i = self.column(column)?;
        row.get(i)
            .map(|s| s.trim())
            .ok_or_else(|| LocustError::BadValue {
                file: self.file.into(),
                line,
                column,
                value: String::new(),
                expected: "present",
                hint: " (the row has fewer cells than the header)",
            })
    }

    fn bad(
        &self,
        line: usize,
        column: &'static str,
        value: &str,
        expected: &'static str,
    ) -> LocustError {
        LocustError::BadValue {
            file: self.file.into(),
            line,
            column,
            value: value.to_string(),
            expected,
            hint: if value.eq_ignore_ascii_case("N/A") {
                " (Locust writes N/A when it recorded no response times: did the test send any requests?)"
            } else {
                ""
            },
        }
    }

    fn count(&self, line: usize, row: &[String], column: &'static str) -> Result<u64, LocustError> {
        let v = self.cell(line, row, column)?;
        v.parse::<u64>()
            .map_err(|_| self.bad(line, column, v, "a whole number"))
    }

    fn number(
        &self,
        line: usize,
        row: &[String],
        column: &'static str,
    ) -> Result<f64, LocustError> {
        let v = self.cell(line, row, column)?;
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| self.bad(line, column, v, "a non-negative number"))
    }
}

/// A CSV record with the 1-based line it starts on.
type Record = (usize, Vec<String>);

/// RFC 4180 CSV (as Python's `csv` module writes it): `,` separators, `"` quoting with `""`
/// escapes, CRLF or LF line ends. Blank lines are skipped. Errors carry the 1-based line.
fn parse_csv(text: &str) -> Result<Vec<Record>, (usize, &'static str)> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut in_quotes = false;
    let mut field_was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !field_was_quoted => {
                in_quotes = true;
                field_was_quoted = true;
            }
            '"' => return Err((line, "a quote in the middle of an unquoted field")),
            ',' => {
                record.push(std::mem::take(&mut field));
                field_was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if !(record.is_empty() && field.is_empty() && !field_was_quoted) {
                    record.push(std::mem::take(&mut field));
                    records.push((record_line, std::mem::take(&mut record)));
                }
                field_was_quoted = false;
                line += 1;
                record_line = line;
            }
            _ if field_was_quoted => {
                return Err((line, "text after the closing quote of a field"));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err((record_line, "a quoted field is not closed"));
    }
    if !(record.is_empty() && field.is_empty() && !field_was_quoted) {
        record.push(field);
        records.push((record_line, record));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS_OK: &str = include_str!("../tests/fixtures/locust_stats.csv");
    const HISTORY_OK: &str = include_str!("../tests/fixtures/locust_stats_history.csv");
    const FAILURES_OK: &str = include_str!("../tests/fixtures/locust_failures.csv");

    #[test]
    fn reads_the_aggregated_row() {
        let s = parse_locust_csv(STATS_OK, Some(HISTORY_OK), Some(FAILURES_OK)).unwrap();
        assert_eq!(s.tool, "locust");
        assert_eq!(s.requests, 1179);
        assert_eq!(s.failures, 106);
        assert_eq!(s.throughput_per_second, 121.4628);
        let l = s.latency_ms.unwrap();
        assert_eq!(
            (l.min, l.p50, l.p90, l.p95, l.p99, l.max, l.mean),
            (0.9871, 3.0, 5.0, 6.0, 11.0, 23.3102, 3.0794)
        );
        assert_eq!(s.start.as_deref(), Some("2026-11-20T10:00:00.000Z"));
        assert_eq!(s.end.as_deref(), Some("2026-11-20T10:00:10.000Z"));
        assert_eq!(s.duration_seconds, 10.0);
        assert_eq!(
            s.failures_by_reason,
            BTreeMap::from([
                ("connect".to_string(), 4),
                ("http_500".to_string(), 100),
                ("http_503".to_string(), 1),
                ("other".to_string(), 1),
            ])
        );
        assert!(s.latency_histogram.is_none());
    }

    #[test]
    fn without_history_there_are_no_times() {
        let s = parse_locust_csv(STATS_OK, None, None).unwrap();
        assert_eq!((s.start.as_deref(), s.end.as_deref()), (None, None));
        // Duration falls back to requests / throughput.
        assert!((s.duration_seconds - 1179.0 / 121.4628).abs() < 0.001);
        // Without _failures.csv every failure is unclassified.
        assert_eq!(
            s.failures_by_reason,
            BTreeMap::from([("other".to_string(), 106)])
        );
        // A header-only history has no times either.
        let header_only = HISTORY_OK.lines().next().unwrap();
        let s = parse_locust_csv(STATS_OK, Some(header_only), None).unwrap();
        assert_eq!(s.start, None);
    }

    #[test]
    fn reads_from_disk_by_prefix() {
        let dir = std::env::temp_dir().join(format!("sluice-load-locust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = dir.join("run");
        std::fs::write(dir.join("run_stats.csv"), STATS_OK).unwrap();
        std::fs::write(dir.join("run_stats_history.csv"), HISTORY_OK).unwrap();
        let s = read_locust_csv(&prefix).unwrap();
        assert_eq!(s.requests, 1179);
        assert!(s.start.is_some());
        let missing = read_locust_csv(&dir.join("nope")).unwrap_err();
        assert!(matches!(missing, LocustError::Io { .. }), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn replace_aggregated_cell(column: &str, value: &str) -> String {
        let mut lines: Vec<String> = STATS_OK.lines().map(String::from).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let i = header.iter().position(|h| *h == column).unwrap();
        let last = lines.len() - 1;
        let mut cells: Vec<String> = lines[last].split(',').map(String::from).collect();
        cells[i] = value.to_string();
        lines[last] = cells.join(",");
        lines.join("\n")
    }

    #[test]
    fn n_a_is_an_error_with_a_hint() {
        let err = parse_locust_csv(&replace_aggregated_cell("95%", "N/A"), None, None).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                LocustError::BadValue {
                    column: "95%",
                    line: 4,
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains("did the test send any requests"), "{text}");
    }

    #[test]
    fn non_numeric_and_negative_values_are_errors() {
        for (column, value) in [
            ("Request Count", "12.5"),
            ("Request Count", "many"),
            ("Failure Count", "-1"),
            ("Average Response Time", "fast"),
            ("Requests/s", "inf"),
            ("50%", "-3"),
        ] {
            let err =
                parse_locust_csv(&replace_aggregated_cell(column, value), None, None).unwrap_err();
            assert!(
                matches!(err, LocustError::BadValue { .. }),
                "{column}={value}: {err}"
            );
        }
    }

    #[test]
    fn missing_columns_and_rows_are_errors() {
        let no_p95 = STATS_OK.replacen(",95%,", ",96%,", 1);
        let err = parse_locust_csv(&no_p95, None, None).unwrap_err();
        assert!(
            matches!(err, LocustError::MissingColumn { column: "95%", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("found columns: Type,Name"));

        let no_aggregated = STATS_OK.replace(",Aggregated,", ",Total,");
        assert!(matches!(
            parse_locust_csv(&no_aggregated, None, None),
            Err(LocustError::NoAggregatedRow { .. })
        ));
        assert!(matches!(
            parse_locust_csv("", None, None),
            Err(LocustError::Csv { .. })
        ));
        let short_row = format!("{}\n,Aggregated,5", STATS_OK.lines().next().unwrap());
        assert!(matches!(
            parse_locust_csv(&short_row, None, None),
            Err(LocustError::BadValue { .. })
        ));
        let bad_history = "Timestamp,User Count\nyesterday,10\n";
        let err = parse_locust_csv(STATS_OK, Some(bad_history), None).unwrap_err();
        assert!(
            matches!(err, LocustError::BadValue { file, column: "Timestamp", .. } if file == "stats_history")
        );
        let err = parse_locust_csv(STATS_OK, Some("User Count\n1\n"), None).unwrap_err();
        assert!(matches!(
            err,
            LocustError::MissingColumn {
                column: "Timestamp",
                ..
            }
        ));
        let err = parse_locust_csv(STATS_OK, None, Some("Method,Name\nGET,/\n")).unwrap_err();
        assert!(matches!(
            err,
            LocustError::MissingColumn {
                column: "Error",
                ..
            }
        ));
    }

    #[test]
    fn csv_quoting_follows_rfc_4180() {
        let rows = parse_csv("a,\"b,c\",\"d \"\"e\"\"\"\r\n\r\n1,,\"x\ny\"\n").unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec!["a".into(), "b,c".into(), "d \"e\"".into()]),
                (3, vec!["1".into(), "".into(), "x\ny".into()]),
            ]
        );
        assert_eq!(parse_csv("a,\"b").unwrap_err().0, 1);
        assert!(parse_csv("a,b\"c").is_err());
        assert!(parse_csv("\"a\"b").is_err());
        assert_eq!(parse_csv("").unwrap(), vec![]);
        let err = parse_locust_csv("Type,Name\n,\"Aggregated", None, None).unwrap_err();
        assert!(matches!(err, LocustError::Csv { line: 2, .. }), "{err}");
    }

    #[test]
    fn failure_texts_are_classified() {
        assert_eq!(
            classify("HTTPError('404 Client Error: NOT FOUND for url: /x')"),
            FailureReason::Status(404)
        );
        assert_eq!(
            classify("BadStatusCode('http://h/x', code=502)"),
            FailureReason::Status(502)
        );
        assert_eq!(
            classify("ConnectionRefusedError(111, 'Connection refused')"),
            FailureReason::Connect
        );
        assert_eq!(classify("ReadTimeout('timed out')"), FailureReason::Timeout);
        assert_eq!(
            classify("RemoteDisconnected('Remote end closed connection')"),
            FailureReason::Protocol
        );
        assert_eq!(
            classify("CatchResponseError('wrong body')"),
            FailureReason::Other
        );
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for text in [
            "\"",
            ",,,\n,,",
            "\u{feff}Type,Name\n",
            "Type,Name\n,Aggregated\n",
            "\r\r\n\"",
        ] {
            let _ = parse_locust_csv(text, Some(text), Some(text));
        }
    }
}
