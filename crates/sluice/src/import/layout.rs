//! Keptn's layouts of a project's git upstream, read into what sluice creates: the shipyard,
//! the services, and every file at its level (project, stage, service).
//!
//! Keptn's resource service (`resource-service/handler/stage_context.go`) keeps a project in
//! one of two layouts:
//! - **branches** (Keptn 1.x's default): the default branch holds `shipyard.yaml`, Keptn's
//!   `metadata.yaml` and the project's files; each stage is a branch named after it, made from
//!   the default branch (so it carries copies of `shipyard.yaml` and `metadata.yaml`), with the
//!   stage's files at its root and each service as a folder with its own `metadata.yaml`;
//! - **directories**: one branch; stage `S` lives in `.keptn-stages/S/` (stage files and a
//!   `metadata.yaml`), service `V` of it in `.keptn-stages/S/V/`.
//!
//! A folder of a stage is a service when it has Keptn's `metadata.yaml` (written when the
//! service was created) or an `slo.yaml` (read only at service level); other folders are the
//! stage's own files (`prometheus/sli.yaml`, `job/config.yaml`, ...).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use sluice_model::diagnostic::Diagnostics;

/// Keptn's bookkeeping file in the project root, each stage and each service.
pub const KEPTN_METADATA: &str = "metadata.yaml";
/// The project's shipyard at the root of the default branch.
pub const SHIPYARD: &str = "shipyard.yaml";
/// The folder of the stages in Keptn's directory layout.
pub const STAGES_DIR: &str = ".keptn-stages";

/// The files of one branch: path (with `/`) to content.
pub type Tree = BTreeMap<String, Vec<u8>>;

/// What was read from the repository: its default branch and every branch's files.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The branch the repository's HEAD names.
    pub default_branch: String,
    /// Every branch and its files.
    pub branches: BTreeMap<String, Tree>,
}

/// Which of Keptn's layouts the repository uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One branch per stage.
    Branches,
    /// `.keptn-stages/<stage>/<service>/` on one branch.
    Directories,
}

impl Layout {
    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Branches => "one branch per stage",
            Layout::Directories => "directories (.keptn-stages/)",
        }
    }
}

/// Where a file goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The project.
    Project,
    /// A stage.
    Stage(String),
    /// A service of a stage: (stage, service).
    Service(String, String),
}

impl Level {
    /// `project`, `stage dev` or `dev/carts`, as the report shows the level.
    pub fn describe(&self) -> String {
        match self {
            Level::Project => "project".into(),
            Level::Stage(s) => format!("stage {s}"),
            Level::Service(s, v) => format!("{s}/{v}"),
        }
    }
}

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Its level.
    pub level: Level,
    /// Its resource URI at that level.
    pub uri: String,
    /// Its bytes, unchanged.
    pub content: Vec<u8>,
    /// Where it was found: `branch:path`.
    pub origin: String,
}

/// A file that is not uploaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `branch:path`.
    pub origin: String,
    /// Why.
    pub reason: String,
}

/// A Keptn project as its repository holds it.
#[derive(Debug)]
pub struct KeptnProject {
    /// The layout found.
    pub layout: Layout,
    /// The project name in Keptn's `metadata.yaml`, when there is one.
    pub keptn_name: Option<String>,
    /// The shipyard's text.
    pub shipyard: String,
    /// The shipyard's stages, in order.
    pub stages: Vec<String>,
    /// Every service found in any stage.
    pub services: BTreeSet<String>,
    /// The files to upload (the shipyard is not among them: it creates the project).
    pub resources: Vec<Resource>,
    /// Keptn's bookkeeping and copies, not uploaded.
    pub skipped: Vec<Skipped>,
    /// What could not be used (branches or folders that are no stage, services with names
    /// sluice refuses, stages without files).
    pub unused: Vec<String>,
}

/// Reads a snapshot in whichever layout it uses.
pub fn read(snapshot: &Snapshot) -> Result<KeptnProject> {
    let default = &snapshot.default_branch;
    let Some(root) = snapshot.branches.get(default) else {
        bail!("the repository has no branch {default:?} (its HEAD)");
    };
    let Some(shipyard) = root.get(SHIPYARD) else {
        bail!(
            "the default branch {default:?} has no {SHIPYARD}: this is not a Keptn project's \
             repository (branches: {})",
            snapshot
                .branches
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let Ok(shipyard) = String::from_utf8(shipyard.clone()) else {
        bail!("{default}:{SHIPYARD} is not UTF-8 text");
    };
    let parsed = sluice_model::shipyard::parse(&shipyard);
    if parsed.diagnostics.has_errors() {
        bail!(
            "{default}:{SHIPYARD} is not a valid shipyard; nothing was imported:\n{}",
            parsed
                .diagnostics
                .render(&format!("{default}:{SHIPYARD}"))
                .trim_end()
        );
    }
    let stages: Vec<String> = parsed
        .value
        .map(|s| s.stages.into_iter().map(|st| st.name).collect())
        .unwrap_or_default();
    // Keptn's project metadata, read with sluice's YAML reader (a file that is no mapping
    // names nothing).
    let metadata = root.get(KEPTN_METADATA).and_then(|m| {
        sluice_model::yaml::parse(&String::from_utf8_lossy(m), &mut Diagnostics::new())
    });
    let field = |key: &str| {
        metadata
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_scalar())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let directories = root
        .keys()
        .any(|p| p.starts_with(&format!("{STAGES_DIR}/")))
        || field("isUsingDirectoryStructure").is_some_and(|v| v == "true");
    let mut project = KeptnProject {
        layout: if directories {
            Layout::Directories
        } else {
            Layout::Branches
        },
        keptn_name: field("projectName"),
        shipyard,
        stages,
        services: BTreeSet::new(),
        resources: Vec::new(),
        skipped: Vec::new(),
        unused: Vec::new(),
    };
    if directories {
        read_directories(&mut project, default, root);
        for branch in snapshot.branches.keys().filter(|b| *b != default) {
            project.unused.push(format!(
                "branch {branch}: the directory layout keeps everything on {default}"
            ));
        }
    } else {
        read_branches(&mut project, snapshot);
    }
    Ok(project)
}

/// The project files of the default branch (everything outside `skip_prefix`).
fn read_project_files(project: &mut KeptnProject, branch: &str, root: &Tree, skip_prefix: &str) {
    for (path, content) in root {
        if !skip_prefix.is_empty() && path.starts_with(skip_prefix) {
            continue;
        }
        let origin = format!("{branch}:{path}");
        match path.as_str() {
            SHIPYARD => {}
            KEPTN_METADATA => project.skipped.push(Skipped {
                origin,
                reason: "Keptn's project metadata".into(),
            }),
            _ => project.resources.push(Resource {
                level: Level::Project,
                uri: path.clone(),
                content: content.clone(),
                origin,
            }),
        }
    }
}

fn read_branches(project: &mut KeptnProject, snapshot: &Snapshot) {
    let default = &snapshot.default_branch;
    read_project_files(project, default, &snapshot.branches[default], "");
    let stages = project.stages.clone();
    for stage in &stages {
        let Some(tree) = snapshot.branches.get(stage) else {
            project.unused.push(format!(
                "stage {stage}: the repository has no branch {stage}, so the stage has no files"
            ));
            continue;
        };
        let mut files: Tree = tree.clone();
        for (name, reason) in [
            (
                KEPTN_METADATA,
                "Keptn's project metadata, copied into the stage branch",
            ),
            (
                SHIPYARD,
                "the copy of the shipyard Keptn keeps in each stage branch",
            ),
        ] {
            if files.remove(name).is_some() {
                project.skipped.push(Skipped {
                    origin: format!("{stage}:{name}"),
                    reason: reason.into(),
                });
            }
        }
        read_stage(project, stage, stage, "", &files);
    }
    for branch in snapshot.branches.keys() {
        if branch != default && !project.stages.contains(branch) {
            project.unused.push(format!(
                "branch {branch}: not a stage of the shipyard (stages: {})",
                project.stages.join(", ")
            ));
        }
    }
}

fn read_directories(project: &mut KeptnProject, branch: &str, root: &Tree) {
    let prefix = format!("{STAGES_DIR}/");
    read_project_files(project, branch, root, &prefix);
    let mut by_stage: BTreeMap<String, Tree> = BTreeMap::new();
    for (path, content) in root {
        if let Some(rest) = path.strip_prefix(&prefix)
            && let Some((stage, inner)) = rest.split_once('/')
        {
            by_stage
                .entry(stage.to_owned())
                .or_default()
                .insert(inner.to_owned(), content.clone());
        }
    }
    for (stage, files) in &by_stage {
        if !project.stages.contains(stage) {
            project.unused.push(format!(
                "{branch}:{prefix}{stage}/: not a stage of the shipyard ({} file{} not imported)",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ));
        }
    }
    for stage in project.stages.clone() {
        match by_stage.get(&stage) {
            Some(files) => {
                let base = format!("{prefix}{stage}/");
                read_stage(project, branch, &stage, &base, files);
            }
            None => project.unused.push(format!(
                "stage {stage}: the repository has no {prefix}{stage}/, so the stage has no files"
            )),
        }
    }
}

/// The files of one stage (paths relative to the stage's root, which is `base` in `branch`):
/// services as folders, the rest the stage's own.
fn read_stage(project: &mut KeptnProject, branch: &str, stage: &str, base: &str, files: &Tree) {
    let services: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.split_once('/'))
        .filter(|(_, inner)| *inner == KEPTN_METADATA || *inner == "slo.yaml")
        .map(|(folder, _)| folder)
        .collect();
    for (path, content) in files {
        let origin = format!("{branch}:{base}{path}");
        let service = path
            .split_once('/')
            .filter(|(folder, _)| services.contains(folder));
        match (service, path.as_str()) {
            (None, KEPTN_METADATA) => project.skipped.push(Skipped {
                origin,
                reason: "Keptn's stage metadata".into(),
            }),
            (None, _) => project.resources.push(Resource {
                level: Level::Stage(stage.to_owned()),
                uri: path.clone(),
                content: content.clone(),
                origin,
            }),
            (Some((name, inner)), _) => {
                if let Err(why) = sluice_model::names::check_service(name) {
                    project
                        .unused
                        .push(format!("{origin}: service {name:?}: {why}"));
                    continue;
                }
                project.services.insert(name.to_owned());
                if inner == KEPTN_METADATA {
                    project.skipped.push(Skipped {
                        origin,
                        reason: "Keptn's service metadata".into(),
                    });
                } else {
                    project.resources.push(Resource {
                        level: Level::Service(stage.to_owned(), name.to_owned()),
                        uri: inner.to_owned(),
                        content: content.clone(),
                        origin,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPYARD_TEXT: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: dev\n    - name: prod\n";

    fn tree(files: &[(&str, &str)]) -> Tree {
        files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    fn placed(project: &KeptnProject) -> Vec<(String, String)> {
        project
            .resources
            .iter()
            .map(|r| (r.level.describe(), r.uri.clone()))
            .collect()
    }

    #[test]
    fn branch_per_stage() {
        let meta =
            "projectName: sockshop\ncreationTimestamp: x\nisUsingDirectoryStructure: false\n";
        let mut snapshot = Snapshot {
            default_branch: "master".into(),
            ..Snapshot::default()
        };
        snapshot.branches.insert(
            "master".into(),
            tree(&[
                ("shipyard.yaml", SHIPYARD_TEXT),
                ("metadata.yaml", meta),
                ("webhook.yaml", "w"),
            ]),
        );
        snapshot.branches.insert(
            "dev".into(),
            tree(&[
                ("shipyard.yaml", SHIPYARD_TEXT),
                ("metadata.yaml", meta),
                ("prometheus/sli.yaml", "stage sli"),
                ("carts/metadata.yaml", "servicename: carts\n"),
                ("carts/slo.yaml", "slo"),
                ("carts/helm/carts.tgz", "\u{1f}\u{8b}"),
                ("orders/slo.yaml", "slo"),
            ]),
        );
        snapshot.branches.insert("old".into(), tree(&[("x", "y")]));
        let p = read(&snapshot).unwrap();
        assert_eq!(p.layout, Layout::Branches);
        assert_eq!(p.keptn_name.as_deref(), Some("sockshop"));
        assert_eq!(p.stages, ["dev", "prod"]);
        assert_eq!(p.services.iter().collect::<Vec<_>>(), ["carts", "orders"]);
        assert_eq!(
            placed(&p),
            [
                ("project".into(), "webhook.yaml".into()),
                ("dev/carts".into(), "helm/carts.tgz".into()),
                ("dev/carts".into(), "slo.yaml".into()),
                ("dev/orders".into(), "slo.yaml".into()),
                ("stage dev".into(), "prometheus/sli.yaml".into()),
            ]
        );
        let skipped: Vec<&str> = p.skipped.iter().map(|s| s.origin.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "master:metadata.yaml",
                "dev:metadata.yaml",
                "dev:shipyard.yaml",
                "dev:carts/metadata.yaml"
            ]
        );
        assert_eq!(p.unused.len(), 2, "{:?}", p.unused);
        assert!(p.unused[0].starts_with("stage prod: the repository has no branch prod"));
        assert!(p.unused[1].starts_with("branch old: not a stage"));
    }

    #[test]
    fn directories() {
        let mut snapshot = Snapshot {
            default_branch: "main".into(),
            ..Snapshot::default()
        };
        snapshot.branches.insert(
            "main".into(),
            tree(&[
                ("shipyard.yaml", SHIPYARD_TEXT),
                (
                    "metadata.yaml",
                    "projectName: \"shop\"\nisUsingDirectoryStructure: true\n",
                ),
                (".keptn-stages/dev/metadata.yaml", "m"),
                (".keptn-stages/dev/job/config.yaml", "stage job"),
                (".keptn-stages/dev/carts/metadata.yaml", "m"),
                (".keptn-stages/dev/carts/slo.yaml", "slo"),
                (".keptn-stages/prod/bad:name/metadata.yaml", "m"),
                (".keptn-stages/qa/x.yaml", "x"),
            ]),
        );
        let p = read(&snapshot).unwrap();
        assert_eq!(p.layout, Layout::Directories);
        assert_eq!(p.keptn_name.as_deref(), Some("shop"));
        assert_eq!(
            placed(&p),
            [
                ("dev/carts".into(), "slo.yaml".into()),
                ("stage dev".into(), "job/config.yaml".into()),
            ]
        );
        assert_eq!(p.services.len(), 1);
        assert_eq!(p.skipped.len(), 3, "{:?}", p.skipped);
        assert_eq!(p.unused.len(), 2, "{:?}", p.unused);
        assert!(p.unused[0].contains(".keptn-stages/qa/: not a stage"));
        assert!(p.unused[1].contains("service \"bad:name\""));
    }

    #[test]
    fn a_repository_without_a_shipyard_is_refused() {
        let mut snapshot = Snapshot {
            default_branch: "main".into(),
            ..Snapshot::default()
        };
        snapshot
            .branches
            .insert("main".into(), tree(&[("README.md", "hi")]));
        let e = read(&snapshot).unwrap_err().to_string();
        assert!(e.contains("has no shipyard.yaml"), "{e}");
        snapshot.branches.insert(
            "main".into(),
            tree(&[(
                "shipyard.yaml",
                "kind: Shipyard\nspec:\n  stages:\n    - name: Bad_\n",
            )]),
        );
        let e = read(&snapshot).unwrap_err().to_string();
        assert!(e.contains("not a valid shipyard"), "{e}");
    }
}
