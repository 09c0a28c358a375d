//! What a run leaves on disk and the API reads back: the run directories, each task's
//! `run.json` record and `output.log`, its artifacts under `keptn/out/`, and the error log of
//! an event whose job config could not be used.
//!
//! ```text
//! <data_dir>/runs/<event id>/errors.json                error-log entries (config unusable)
//! <data_dir>/runs/<event id>/<action>-<task>/run.json   the task's record
//! <data_dir>/runs/<event id>/<action>-<task>/output.log stdout+stderr (redacted, ≤ 10 MiB)
//! <data_dir>/runs/<event id>/<action>-<task>/keptn/out/ artifacts (≤ 20 MiB)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Total size of a task's artifacts that is kept.
pub const MAX_ARTIFACT_BYTES: u64 = 20 * 1024 * 1024;

/// The record file of a task run.
pub const RECORD_FILE: &str = "run.json";

/// The output file of a task run.
pub const OUTPUT_FILE: &str = "output.log";

/// The error log of an event.
pub const ERRORS_FILE: &str = "errors.json";

/// Where a task run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// Started, not ended.
    Running,
    /// Exited with code 0.
    Succeeded,
    /// Exited non-zero, was killed by a signal, could not start or was refused.
    Failed,
    /// Killed at its time limit.
    TimedOut,
    /// Killed because its sequence was aborted.
    Aborted,
}

/// One file the task left under `/keptn/out/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Path relative to `keptn/out/`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// The record of one task run (`run.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// Id of the event the run answers (usually a `.triggered` event).
    pub triggered_id: String,
    /// The run's Keptn context.
    pub keptn_context: String,
    /// Type of that event.
    pub event_type: String,
    /// The Keptn task (from `sh.keptn.event.<task>.<kind>`; empty for other events).
    pub task: String,
    /// The job config action's name.
    pub action: String,
    /// Index of the action in the config.
    pub action_index: usize,
    /// The job config task's name.
    pub task_name: String,
    /// Index of the task in the action.
    pub task_index: usize,
    /// `image` from the config (recorded; the local backend does not use it).
    pub image: String,
    /// Where `job/config.yaml` was found: `service`, `stage` or `project`.
    pub config_level: String,
    /// When the task started (RFC 3339).
    pub start: String,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it failed (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes of output printed (the file keeps at most 10 MiB).
    #[serde(default)]
    pub output_bytes: u64,
    /// The files kept under `keptn/out/`.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Set when artifacts were dropped for the size cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts_note: Option<String>,
    /// The backend that ran it (`kubernetes`); absent for the local backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The Kubernetes Job it runs in, written before the Job is created, so that a restarted
    /// server re-attaches to it instead of starting another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<super::kubernetes::JobRef>,
}

/// A Keptn-style error-log entry (Keptn's uniform error log), kept per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLogEntry {
    /// When.
    pub time: String,
    /// Which integration (`job-executor-service`).
    pub integration: String,
    /// The run.
    pub keptn_context: String,
    /// The event concerned.
    pub triggered_id: String,
    /// The Keptn task, if any.
    pub task: String,
    /// What went wrong.
    pub message: String,
}

/// The directory name for an event id: the id itself when it is a safe file name, otherwise
/// a stable derived id.
pub fn dir_name(event_id: &str) -> String {
    let safe = !event_id.is_empty()
        && event_id.len() <= 128
        && event_id != "."
        && event_id != ".."
        && event_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        event_id.to_owned()
    } else {
        crate::runtime::ids::derived(event_id, "job-run-dir")
    }
}

/// The directory of everything one event caused.
pub fn event_dir(runs_dir: &Path, event_id: &str) -> PathBuf {
    runs_dir.join(dir_name(event_id))
}

/// The directory of one task run.
pub fn task_dir(
    runs_dir: &Path,
    event_id: &str,
    action_index: usize,
    task_index: usize,
) -> PathBuf {
    event_dir(runs_dir, event_id).join(format!("{action_index:03}-{task_index:03}"))
}

/// Writes a record atomically (write, then rename).
pub fn write_record(dir: &Path, record: &RunRecord) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{RECORD_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(RECORD_FILE))
}

/// The directory of the markers of handlings under way (one file per event, holding its id).
/// `+` never appears in an event directory's name ([`dir_name`]).
pub const ACTIVE_DIR: &str = "+active";

/// Marks an event's handling as under way (durably: a crash must not lose it).
pub fn mark_active(runs_dir: &Path, event_id: &str) -> std::io::Result<()> {
    let dir = runs_dir.join(ACTIVE_DIR);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("{}+tmp", dir_name(event_id)));
    let mut file = std::fs::File::create(&tmp)?;
    std::io::Write::write_all(&mut file, event_id.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(dir_name(event_id)))?;
    std::fs::File::open(&dir)?.sync_all()
}

/// Removes an event's mark.
pub fn unmark_active(runs_dir: &Path, event_id: &str) {
    let _ = std::fs::remove_file(runs_dir.join(ACTIVE_DIR).join(dir_name(event_id)));
}

/// The ids of the events whose handling was under way.
pub fn active_events(runs_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(runs_dir.join(ACTIVE_DIR)) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().contains('+'))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids
}

/// The prefix under which [`prune`] moves an event directory before deleting it.
const PRUNED_PREFIX: &str = "+pruned-";

/// Removes the event directories under `runs_dir` in which nothing changed since `before`
/// (the newest modification time of the directory, its entries and theirs: records, outputs,
/// error logs), except those of handlings under way (marked by [`mark_active`]). Each goes in
/// two steps: under `marking` (held by whoever marks a handling, so that one starting for the
/// same event now is either seen here or finds the directory gone) it is renamed to a
/// `+pruned-` name, which no reader looks at, and then deleted; what an interrupted pass left
/// under such names goes first. Answers how many directories went.
pub fn prune(
    runs_dir: &Path,
    before: std::time::SystemTime,
    marking: &std::sync::Mutex<()>,
) -> usize {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(PRUNED_PREFIX) {
            let _ = std::fs::remove_dir_all(&path);
            continue;
        }
        // `+active` and temporary names.
        if name.contains('+') || !path.is_dir() || newest_change(&path, 2) >= before {
            continue;
        }
        let pruned = runs_dir.join(format!("{PRUNED_PREFIX}{name}"));
        {
            let _marking = marking
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if runs_dir.join(ACTIVE_DIR).join(&name).exists()
                || std::fs::rename(&path, &pruned).is_err()
            {
                continue;
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&pruned) {
            tracing::warn!(error = %e, dir = %pruned.display(), "cannot remove an old job run");
        }
        removed += 1;
    }
    removed
}

/// The newest modification time of `path` and of what lies under it, `depth` levels down.
fn newest_change(path: &Path, depth: usize) -> std::time::SystemTime {
    let mut newest = std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    if depth > 0
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.filter_map(Result::ok) {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let changed = if is_dir {
                newest_change(&entry.path(), depth - 1)
            } else {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
            };
            newest = newest.max(changed);
        }
    }
    newest
}

/// The record of one task run directory, if it has one.
pub fn read_record(dir: &Path) -> Option<RunRecord> {
    let text = std::fs::read(dir.join(RECORD_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The task runs of one event, in action and task order, with their output text.
pub fn read_runs(runs_dir: &Path, event_id: &str) -> Vec<(RunRecord, String)> {
    let dir = event_dir(runs_dir, event_id);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .filter_map(|d| {
            let text = std::fs::read(d.join(RECORD_FILE)).ok()?;
            let record: RunRecord = serde_json::from_slice(&text).ok()?;
            let output = std::fs::read(d.join(OUTPUT_FILE))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Some((record, output))
        })
        .collect()
}

/// Appends an entry to an event's error log.
pub fn append_error(runs_dir: &Path, entry: &ErrorLogEntry) -> std::io::Result<()> {
    let dir = event_dir(runs_dir, &entry.triggered_id);
    std::fs::create_dir_all(&dir)?;
    let mut all = read_errors(runs_dir, &entry.triggered_id);
    if all.iter().any(|e| e.message == entry.message) {
        return Ok(());
    }
    all.push(entry.clone());
    let text = serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{ERRORS_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(ERRORS_FILE))
}

/// An event's error log.
pub fn read_errors(runs_dir: &Path, event_id: &str) -> Vec<ErrorLogEntry> {
    std::fs::read(event_dir(runs_dir, event_id).join(ERRORS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Keeps the regular files under `out_dir` up to [`MAX_ARTIFACT_BYTES`] in path order,
/// deleting the rest (and anything that is not a regular file). Returns the kept files and a
/// note when some were dropped.
pub fn collect_artifacts(out_dir: &Path) -> (Vec<Artifact>, Option<String>) {
    let mut files = Vec::new();
    walk(out_dir, out_dir, &mut files);
    files.sort();
    let mut kept = Vec::new();
    let mut total = 0u64;
    let (mut dropped, mut dropped_bytes) = (0usize, 0u64);
    for (rel, path, size) in files {
        if total + size <= MAX_ARTIFACT_BYTES {
            total += size;
            kept.push(Artifact { path: rel, size });
        } else {
            dropped += 1;
            dropped_bytes += size;
            let _ = std::fs::remove_file(&path);
        }
    }
    let note = (dropped > 0).then(|| {
        format!(
            "{dropped} artifact file(s) ({dropped_bytes} bytes) were removed: the artifacts of a task are kept up to {MAX_ARTIFACT_BYTES} bytes"
        )
    });
    (kept, note)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &path, out);
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((rel, path, meta.len()));
        } else {
            // Symlinks, sockets, fifos: not artifacts.
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes everything in the task's `keptn/` directory except `out/` (the materialised
/// inputs are copies of resources).
pub fn remove_inputs(keptn_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(keptn_dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name() == "out" {
            continue;
        }
        let path = entry.path();
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let _ = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_ids_get_derived_names() {
        assert_eq!(dir_name("abc-123_x.y"), "abc-123_x.y");
        assert_ne!(dir_name("../x"), "../x");
        assert_ne!(dir_name(".."), "..");
        assert_eq!(dir_name("a/b"), dir_name("a/b"));
        assert!(!dir_name("a/b").contains('/'));
    }

    /// Old directories go, those of handlings under way and fresh ones stay, and so do the
    /// marks; what an interrupted pass left goes.
    #[test]
    fn pruning_removes_only_unmarked_directories_unchanged_since_the_cut() {
        let base =
            std::env::temp_dir().join(format!("sluice-prune-{}", crate::runtime::ids::fresh()));
        let runs = base.join("runs");
        for id in ["old", "running"] {
            let dir = task_dir(&runs, id, 0, 0);
            std::fs::create_dir_all(dir.join("keptn/out")).unwrap();
            std::fs::write(dir.join(OUTPUT_FILE), "hello").unwrap();
        }
        mark_active(&runs, "running").unwrap();
        std::fs::create_dir_all(runs.join("+pruned-left")).unwrap();
        let marking = std::sync::Mutex::new(());
        let now = std::time::SystemTime::now();

        // Nothing changed before an hour ago.
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(prune(&runs, now - hour, &marking), 0);
        assert!(event_dir(&runs, "old").exists());
        assert!(!runs.join("+pruned-left").exists());

        // Everything is older than an hour from now, but one handling is under way.
        assert_eq!(prune(&runs, now + hour, &marking), 1);
        assert!(!event_dir(&runs, "old").exists());
        assert!(
            event_dir(&runs, "running")
                .join("000-000")
                .join(OUTPUT_FILE)
                .exists()
        );
        assert_eq!(active_events(&runs), vec!["running".to_owned()]);
        let left: Vec<String> = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");

        unmark_active(&runs, "running");
        assert_eq!(prune(&runs, now + hour, &marking), 1);
        assert!(!event_dir(&runs, "running").exists());
        let _ = std::fs::remove_dir_all(&base);
    }
}
