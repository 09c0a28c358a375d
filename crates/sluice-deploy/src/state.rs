//! The persistent state of one deployment (`state.json`) and the lock that serialises changes to it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{DeployError, Result};

/// Name of the state file in a deployment's directory.
pub const STATE_FILE: &str = "state.json";
/// Name of the lock file in a deployment's directory.
pub const LOCK_FILE: &str = "lock";

/// One recorded revision, like an entry of `helm history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The revision number (1, 2, ...).
    pub revision: u32,
    /// The image deployed.
    pub image: String,
    /// The desired number of instances.
    pub replicas: u32,
    /// When it became current (RFC 3339, UTC).
    pub at: String,
}

/// One running (or last known) instance process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The process id.
    pub pid: u32,
    /// The instance's own metrics port (`/metrics` and `/health`), scraped by Prometheus.
    pub metrics_port: u16,
    /// The instance name, `<service>-<stage>-r<revision>-<index>`.
    pub instance: String,
}

/// The content of `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentState {
    /// The stage's stable port on 127.0.0.1, chosen at the first deploy and kept forever.
    pub port: u16,
    /// The current image (empty before the first successful deploy).
    pub image: String,
    /// The version the current image stands for, as helloservice shows it (`v0.1.1`).
    pub version: String,
    /// The desired number of instances.
    pub replicas: u32,
    /// The current revision (0 before the first successful deploy).
    pub revision: u32,
    /// Every revision, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The instances started for the current revision (and kept by later scalings).
    pub instances: Vec<InstanceRecord>,
}

impl DeploymentState {
    /// A state with a port and nothing deployed yet.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            image: String::new(),
            version: String::new(),
            replicas: 0,
            revision: 0,
            history: Vec::new(),
            instances: Vec::new(),
        }
    }

    /// Reads `state.json` from a deployment directory; `None` when it does not exist.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DeployError::io("read", path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| DeployError::DamagedState { path, source })
    }

    /// Writes `state.json` atomically (a temporary file renamed over the old one).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        write_atomically(&dir.join(STATE_FILE), text.as_bytes())
    }

    /// Records a new current revision with `image` and `replicas`; returns its number.
    pub fn record_revision(
        &mut self,
        image: &str,
        version: &str,
        replicas: u32,
        at: SystemTime,
    ) -> u32 {
        self.revision += 1;
        self.image = image.to_owned();
        self.version = version.to_owned();
        self.replicas = replicas;
        self.history.push(HistoryEntry {
            revision: self.revision,
            image: image.to_owned(),
            replicas,
            at: rfc3339_utc(at),
        });
        self.revision
    }

    /// The history entry of a revision.
    pub fn revision_entry(&self, revision: u32) -> Option<&HistoryEntry> {
        self.history.iter().find(|h| h.revision == revision)
    }
}

/// Writes a file through a temporary sibling and a rename, so readers never see half a file.
pub(crate) fn write_atomically(path: &Path, content: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(DeployError::io("create", parent))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(DeployError::io("write", path))
}

/// An exclusive lock on one deployment (an OS file lock, released when dropped or when the process dies).
#[derive(Debug)]
pub struct DeploymentLock {
    _file: File,
}

impl DeploymentLock {
    /// Waits for and takes the lock of the deployment in `dir` (created if missing).
    pub fn acquire(dir: &Path) -> Result<Self> {
        let file = open_lock_file(dir)?;
        file.lock()
            .map_err(DeployError::io("lock", dir.join(LOCK_FILE)))?;
        Ok(Self { _file: file })
    }

    /// Takes the lock if nobody holds it.
    pub fn try_acquire(dir: &Path) -> Result<Option<Self>> {
        let file = open_lock_file(dir)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(DeployError::io("lock", dir.join(LOCK_FILE))(e))
            }
        }
    }
}

fn open_lock_file(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(DeployError::io("create", dir))?;
    open_for_locking(dir.join(LOCK_FILE))
}

/// Opens (creating, never truncating) a file whose lock tells who holds something.
pub(crate) fn open_for_locking(path: PathBuf) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(DeployError::io("open", path))
}

/// Formats a time as RFC 3339 in UTC with second precision (`2024-05-01T12:00:00Z`); times
/// before 1970 or beyond jiff's range read as the epoch.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-deploy-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn state_round_trips_and_is_absent_before_the_first_save() {
        let dir = scratch("roundtrip");
        assert_eq!(DeploymentState::load(&dir).ok(), Some(None));
        let mut state = DeploymentState::new(40123);
        assert_eq!(
            state.record_revision("img:v0.1.1", "v0.1.1", 1, UNIX_EPOCH),
            1
        );
        state.instances.push(InstanceRecord {
            pid: 42,
            metrics_port: 40200,
            instance: "svc-qa-r1-1".to_owned(),
        });
        assert_eq!(
            state.record_revision("img:v0.1.2", "v0.1.2", 2, UNIX_EPOCH),
            2
        );
        state.save(&dir).unwrap_or_else(|e| panic!("{e}"));
        let loaded = DeploymentState::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.as_ref(), Some(&state));
        let loaded = loaded.unwrap_or_else(|| panic!("saved"));
        assert_eq!(loaded.port, 40123);
        assert_eq!(
            loaded.revision_entry(1).map(|h| h.image.as_str()),
            Some("img:v0.1.1")
        );
        assert_eq!(loaded.revision_entry(2).map(|h| h.replicas), Some(2));
        assert_eq!(loaded.revision_entry(3), None);
        // The JSON uses the documented field names.
        let text = std::fs::read_to_string(dir.join(STATE_FILE)).unwrap_or_default();
        for key in [
            "\"port\"",
            "\"history\"",
            "\"instances\"",
            "\"metrics_port\"",
            "\"at\"",
        ] {
            assert!(text.contains(key), "{key} in {text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_state_is_reported_with_its_path() {
        let dir = scratch("damaged");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join(STATE_FILE), "{\"port\": \"x\"}").unwrap_or_else(|e| panic!("{e}"));
        let err = DeploymentState::load(&dir).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("damaged") && e.contains(STATE_FILE)),
            "{err:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_lock_is_exclusive() {
        let dir = scratch("lock");
        let held = DeploymentLock::acquire(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(DeploymentLock::try_acquire(&dir), Ok(None)));
        drop(held);
        assert!(matches!(DeploymentLock::try_acquire(&dir), Ok(Some(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(rfc3339_utc(t), "2024-02-29T23:59:59Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_utc(t), "2000-02-29T00:00:00Z");
    }
}
