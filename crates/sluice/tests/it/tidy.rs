//! Tidy tests: ARCHITECTURE.md's invariants checked over the workspace's source text.
//!
//! Each rule reads every `.rs` file under `crates/` and fails with the offending file and
//! line. Test code (files under a `tests/` directory, `#[cfg(test)]` module files and the
//! inline `#[cfg(test)]` module at the end of a file) is exempt from the rules about what
//! production code may do, but not from the `//!` rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

/// The crates that do no IO beyond their own storage: no wall clock, no HTTP.
const PURE_CRATES: &[&str] = &[
    "sluice-model",
    "sluice-engine",
    "sluice-slo",
    "sluice-store",
    "sluice-resources",
    "sluice-kube",
];

/// Crates that are the command line's edges (the CLI itself, the local deployer, the load
/// generator, the demo service): they may read the wall clock.
const EDGE_CRATES: &[&str] = &["sluice", "sluice-deploy", "sluice-load", "sluice-hello"];

/// The one library file that reads the wall clock.
const CLOCK_FILE: &str = "crates/sluice-model/src/clock.rs";

/// The one place that maps event kinds to wire strings.
const KIND_FILE: &str = "crates/sluice-model/src/event/kind.rs";

/// One source file: its path from the repository root and its text.
struct Source {
    path: String,
    text: String,
    /// The whole file is test code.
    is_test: bool,
}

impl Source {
    fn crate_name(&self) -> &str {
        self.path.split('/').nth(1).unwrap_or("")
    }

    /// The production lines (1-based line number, text): everything before the file's
    /// inline `#[cfg(test)]` module; nothing for a test file.
    fn production_lines(&self) -> Vec<(usize, &str)> {
        if self.is_test {
            return Vec::new();
        }
        let lines: Vec<&str> = self.text.lines().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i].trim();
            if line == "#[cfg(test)]" {
                let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
                if next.contains("mod ") && next.ends_with('{') {
                    break;
                }
                // `#[cfg(test)]` on a single item (a `mod x;` or a function): skip that line.
                i += 2;
                continue;
            }
            out.push((i + 1, lines[i]));
            i += 1;
        }
        out
    }
}

fn repo_root() -> PathBuf {
    crate::repo_root()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name == "fixtures" {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of modules declared `#[cfg(test)] mod name;` (and everything below them).
fn test_module_files(root: &Path, files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let decl = Regex::new(r"#\[cfg\(test\)\]\s*\n\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*;")
        .expect("regex");
    let mut dirs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let parent = file.parent().unwrap_or(root);
        let base = if matches!(stem, "mod" | "lib" | "main") {
            parent.to_path_buf()
        } else {
            parent.join(stem)
        };
        for cap in decl.captures_iter(&text) {
            let name = &cap[1];
            dirs.push(base.join(format!("{name}.rs")));
            dirs.push(base.join(name));
        }
    }
    files
        .iter()
        .filter(|f| dirs.iter().any(|d| f.starts_with(d)))
        .cloned()
        .collect()
}

fn sources() -> Vec<Source> {
    let root = repo_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    files.sort();
    assert!(files.len() > 100, "found only {} files", files.len());
    let test_modules = test_module_files(&root, &files);
    files
        .iter()
        .map(|file| {
            let path = file
                .strip_prefix(&root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let is_test = path.split('/').any(|c| c == "tests" || c == "benches")
                || path.ends_with("/tests.rs")
                || test_modules.contains(file);
            Source {
                text: std::fs::read_to_string(file).expect("read source"),
                path,
                is_test,
            }
        })
        .collect()
}

/// Every match of `pattern` in the production lines of the files that `applies` selects.
fn violations(pattern: &str, applies: impl Fn(&Source) -> bool) -> Vec<String> {
    let re = Regex::new(pattern).expect("regex");
    let mut out = Vec::new();
    for source in sources().iter().filter(|s| applies(s)) {
        for (n, line) in source.production_lines() {
            let code = line.split("//").next().unwrap_or("");
            if re.is_match(code) {
                out.push(format!("{}:{n}: {}", source.path, line.trim()));
            }
        }
    }
    out
}

fn assert_none(rule: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "{rule}:\n  {}\n(see ARCHITECTURE.md, Invariants)",
        found.join("\n  ")
    );
}

#[test]
fn the_wall_clock_is_read_only_in_the_clock_module_and_the_command_line_edges() {
    let found = violations(
        r"SystemTime::now|Utc::now|Local::now|OffsetDateTime::now|Timestamp::now|Zoned::now|Signature::now",
        |s| s.path != CLOCK_FILE && !EDGE_CRATES.contains(&s.crate_name()),
    );
    assert_none(
        "the wall clock is read outside sluice-model's clock.rs (pass `now` or a Clock)",
        found,
    );
}

#[test]
fn pure_crates_never_call_the_clock() {
    let found = violations(r"clock::system\b|clock::now\b", |s| {
        matches!(
            s.crate_name(),
            "sluice-model" | "sluice-engine" | "sluice-slo" | "sluice-kube"
        ) && s.path != CLOCK_FILE
    });
    assert_none("a pure crate reads the clock", found);
}

#[test]
fn event_types_are_built_only_where_kinds_map_to_wire_strings() {
    let found = violations(
        r#"format!\(\s*"sh\.keptn\.|format!\([^)]*EVENT_TYPE_PREFIX|"sh\.keptn\.event\.[^"]*"\s*\.to_string\(\)\s*\+|push_str\(\s*(?:"sh\.keptn|EVENT_TYPE_PREFIX)"#,
        |s| s.path != KIND_FILE,
    );
    assert_none(
        "an event type is built from pieces outside sluice-model/src/event/kind.rs (use EventType's constructors)",
        found,
    );
}

#[test]
fn only_the_servers_http_layer_knows_status_codes() {
    let pure = violations(
        r"\bStatusCode\b|\baxum::|\bhyper::|\breqwest::|\bhttp::",
        |s| PURE_CRATES.contains(&s.crate_name()),
    );
    assert_none("a pure crate knows HTTP", pure);
    let server = violations(r"\bStatusCode\b", |s| {
        s.crate_name() == "sluice-server"
            && !s.path.starts_with("crates/sluice-server/src/api/")
            && s.path != "crates/sluice-server/src/error.rs"
            && s.path != "crates/sluice-server/src/net/http.rs"
    });
    assert_none(
        "server code outside api/, error.rs and net/http.rs uses HTTP status codes",
        server,
    );
}

#[test]
fn every_module_starts_with_a_line_saying_what_it_is_for() {
    let missing: Vec<String> = sources()
        .iter()
        .filter(|s| !s.text.trim_start().starts_with("//!"))
        .map(|s| s.path.clone())
        .collect();
    assert_none("modules without a leading `//!` line", missing);
}

#[test]
fn the_workspace_has_one_integration_test_binary() {
    let root = repo_root();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))
        .expect("crates")
        .flatten()
    {
        let tests = entry.path().join("tests");
        let Ok(files) = std::fs::read_dir(&tests) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let top_level_test =
                path.extension().is_some_and(|e| e == "rs") || path.join("main.rs").is_file();
            if top_level_test {
                found.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    assert_eq!(
        found,
        ["crates/sluice/tests/it"],
        "integration-test binaries"
    );
}

#[test]
fn the_rules_see_violations() {
    // The scanner itself: a production line is seen, a test module is not.
    let source = Source {
        path: "crates/sluice-engine/src/x.rs".into(),
        text: "//! x\nfn a() { SystemTime::now(); }\n#[cfg(test)]\nmod tests {\n    fn b() { SystemTime::now(); }\n}\n".into(),
        is_test: false,
    };
    let lines = source.production_lines();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].1.contains("SystemTime::now"));
    assert_eq!(source.crate_name(), "sluice-engine");
}
