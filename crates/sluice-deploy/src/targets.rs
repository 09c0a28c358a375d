//! Prometheus file-based service discovery: one target file per deployment listing its instances' metrics ports.
//!
//! Point a Prometheus `file_sd_configs` entry at `DIR/prometheus/*.json`; each file carries the label
//! `job="<service>-<project>-<stage>"`, which is what the tutorial's SLI queries filter on.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::Result;
use crate::id::DeploymentId;
use crate::state::{InstanceRecord, write_atomically};

/// The directory of the target files under the deployments directory.
pub const TARGETS_DIR: &str = "prometheus";

/// The target file of a deployment: `DIR/prometheus/<service>-<project>-<stage>.json`.
pub fn target_file(root: &Path, id: &DeploymentId) -> PathBuf {
    root.join(TARGETS_DIR)
        .join(format!("{}.json", id.job_name()))
}

/// The file's content for these instances.
pub fn target_json(id: &DeploymentId, instances: &[InstanceRecord]) -> serde_json::Value {
    let targets: Vec<String> = instances
        .iter()
        .map(|i| format!("127.0.0.1:{}", i.metrics_port))
        .collect();
    json!([{ "targets": targets, "labels": { "job": id.job_name() } }])
}

/// Writes (atomically, as Prometheus watches the file) the target file of a deployment.
pub fn write_targets(root: &Path, id: &DeploymentId, instances: &[InstanceRecord]) -> Result<()> {
    let mut text = serde_json::to_string_pretty(&target_json(id, instances)).unwrap_or_default();
    text.push('\n');
    write_atomically(&target_file(root, id), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_carry_the_tutorial_job_label() {
        let id =
            DeploymentId::new("fulltour", "qa", "helloservice").unwrap_or_else(|e| panic!("{e}"));
        let instances = [
            InstanceRecord {
                pid: 1,
                metrics_port: 4100,
                instance: "a".to_owned(),
            },
            InstanceRecord {
                pid: 2,
                metrics_port: 4101,
                instance: "b".to_owned(),
            },
        ];
        assert_eq!(
            target_json(&id, &instances),
            json!([{"targets": ["127.0.0.1:4100", "127.0.0.1:4101"], "labels": {"job": "helloservice-fulltour-qa"}}])
        );
        assert_eq!(
            target_file(Path::new("/d"), &id),
            Path::new("/d/prometheus/helloservice-fulltour-qa.json")
        );
    }
}
