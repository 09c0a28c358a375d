//! A project's git upstream, the repository side: mapping sluice's one-branch layout to and
//! from the layout Keptn 1.x users' upstreams have, merging what the upstream changed into the
//! project's branch, and the commits to push. No network here: the caller (the server) runs
//! `git ls-remote`, `git fetch` into [`FETCHED_PREFIX`] and `git push` around these methods.
//!
//! # Layouts
//!
//! - **Branches** (Keptn 1.x's default, and what sluice writes to an empty upstream): the
//!   default branch holds the project's files (`shipyard.yaml`, `metadata.yaml`, ...); each
//!   stage is a branch named after it with the stage's files at its root, each service a
//!   folder, and a copy of `shipyard.yaml` (Keptn made stage branches from the default
//!   branch). sluice's `.keptn-stages/<stage>/` is the stage branch's tree without that copy.
//! - **Directories** (an upstream whose default branch has `.keptn-stages/`): the default
//!   branch is exactly sluice's branch.
//!
//! # Sync state, kept as references in the project's repository
//!
//! - `refs/sluice-upstream/fetched/<branch>`: what the last `git fetch` brought;
//! - `refs/sluice-upstream/synced/<branch>`: the upstream's branches after the last sync;
//! - `refs/sluice-upstream/base`: the commit of sluice's branch the upstream last matched
//!   (the merge base of the next sync).
//!
//! A sync merges the upstream's state (mapped to sluice's layout) into the branch with a
//! three-way merge from the base: changes on one side are taken; the same path changed
//! differently on both sides is a conflict ([`ResourceError::UpstreamConflict`]), reported and
//! nothing written, except Keptn's bookkeeping `metadata.yaml` files, where sluice's copy is
//! kept. Local commits are never dropped: the pushed commits have the upstream's heads as
//! parents (a fast-forward, never a forced push).

use std::collections::BTreeMap;

use git2::{Oid, Repository, Tree};

use crate::error::ResourceError;
use crate::store::{CommitId, ResourceStore};
use crate::{METADATA_FILE, STAGES_DIR, tree};

/// Where `git fetch` puts the upstream's branches (`+refs/heads/*:refs/sluice-upstream/fetched/*`).
pub const FETCHED_PREFIX: &str = "refs/sluice-upstream/fetched/";
/// The upstream's branches as of the last sync.
const SYNCED_PREFIX: &str = "refs/sluice-upstream/synced/";
/// sluice's commit the upstream last matched.
const BASE_REF: &str = "refs/sluice-upstream/base";
/// The shipyard, copied onto every stage branch in the branch layout.
const SHIPYARD: &str = "shipyard.yaml";

/// What `git ls-remote --symref` reported about the upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamHeads {
    /// The branch the upstream's HEAD names (`master` when it names none).
    pub default_branch: String,
    /// Every branch and its commit (hexadecimal).
    pub heads: BTreeMap<String, String>,
}

/// Whether the sync is the first one of a new project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstSync {
    /// Creating the project: an upstream that holds a project already (a `metadata.yaml` or
    /// `shipyard.yaml` on its default branch) is refused (Keptn's "repository not empty").
    Create,
    /// Any later sync, or attaching an upstream to an existing project.
    Attach,
}

/// The layout of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamLayout {
    /// One branch per stage.
    Branches,
    /// `.keptn-stages/` on the default branch.
    Directories,
}

/// The outcome of [`ResourceStore::merge_upstream`]: what to push, and what to record after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamMerge {
    /// Whether the upstream's changes moved the project's branch.
    pub pulled: bool,
    /// The project's commit the pushed branches hold.
    pub head: CommitId,
    /// Branches to update: `(branch, commit)`, each a fast-forward of the upstream's head.
    pub push: Vec<(String, String)>,
    /// Every branch of the upstream once the push succeeded.
    pub synced: BTreeMap<String, String>,
    /// The layout used.
    pub layout: UpstreamLayout,
}

impl ResourceStore {
    /// Whether the upstream's branches are exactly those of the last sync (then no fetch is
    /// needed).
    pub fn upstream_unchanged(
        &self,
        project: &str,
        heads: &UpstreamHeads,
    ) -> Result<bool, ResourceError> {
        let handle = self.repository(project)?;
        let repo = handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(synced_heads(&repo)? == heads.heads)
    }

    /// Merges the fetched upstream (`heads`, whose commits the caller fetched) into the
    /// project's branch (one commit, none when nothing changed) and prepares the commits that
    /// bring the upstream to the result.
    ///
    /// Errors: [`ResourceError::UpstreamNotEmpty`] on [`FirstSync::Create`] when the upstream
    /// holds a project; [`ResourceError::UpstreamConflict`] when both sides changed a file
    /// differently (nothing written).
    pub fn merge_upstream(
        &self,
        project: &str,
        heads: &UpstreamHeads,
        first: FirstSync,
    ) -> Result<UpstreamMerge, ResourceError> {
        {
            let handle = self.repository(project)?;
            let repo = handle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for id in heads.heads.values() {
                repo.find_commit(Oid::from_str(id)?).map_err(|_| {
                    ResourceError::Shared(format!("the upstream's commit {id} was not fetched"))
                })?;
            }
            // As Keptn: an upstream that holds a project (its metadata.yaml, or a shipyard)
            // is refused; a repository with only, say, a README is used, and keeps it.
            if first == FirstSync::Create
                && let Some(id) = heads.heads.get(&heads.default_branch)
            {
                let tree = commit_tree(&repo, id)?;
                if tree.get_name(METADATA_FILE).is_some() || tree.get_name(SHIPYARD).is_some() {
                    return Err(ResourceError::UpstreamNotEmpty);
                }
            }
        }
        let before = self.head_id(project)?;
        // On shared repositories the base is kept with them, so another replica (whose cache
        // lacks the local reference) syncs from it too.
        let shared_base = match self.config().shared.as_deref() {
            Some(shared) => match shared.upstream_base(project)? {
                Some(id) => {
                    let handle = self.repository(project)?;
                    let repo = handle
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if repo.find_commit(id).is_err() {
                        crate::shared::fetch_missing(&repo, shared, project, id)?;
                    }
                    Some(id)
                }
                None => None,
            },
            None => None,
        };
        let merge = |repo: &Repository, root: &Tree<'_>| -> Result<(Oid, String), ResourceError> {
            let Some(default_id) = heads.heads.get(&heads.default_branch) else {
                // An empty upstream (or one without its default branch): nothing to pull.
                return Ok((root.id(), String::new()));
            };
            let default_tree = commit_tree(repo, default_id)?;
            let base = match shared_base.or_else(|| repo.refname_to_id(BASE_REF).ok()) {
                Some(id) => Some(repo.find_commit(id)?.tree()?),
                None => None,
            };
            let ancestor = match &base {
                Some(tree) => tree.clone(),
                None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
            };
            let theirs_id = from_keptn(
                repo,
                layout_of(&default_tree),
                &default_tree,
                heads,
                root,
                &ancestor,
            )?;
            if theirs_id == ancestor.id() || theirs_id == root.id() {
                return Ok((root.id(), String::new()));
            }
            if root.id() == ancestor.id() {
                return Ok((theirs_id, "Pulled changes from the upstream".to_owned()));
            }
            let theirs = repo.find_tree(theirs_id)?;
            let mut index = repo.merge_trees(&ancestor, root, &theirs, None)?;
            if index.has_conflicts() {
                let mut refused = Vec::new();
                let mut ours = Vec::new();
                for conflict in index.conflicts()? {
                    let conflict = conflict?;
                    let entry = conflict
                        .our
                        .as_ref()
                        .or(conflict.their.as_ref())
                        .or(conflict.ancestor.as_ref());
                    let Some(entry) = entry else { continue };
                    let path = String::from_utf8_lossy(&entry.path).into_owned();
                    let bookkeeping =
                        path == METADATA_FILE || path.ends_with(&format!("/{METADATA_FILE}"));
                    match (conflict.our, bookkeeping) {
                        (Some(our), true) => ours.push(our),
                        _ => refused.push(path),
                    }
                }
                if !refused.is_empty() {
                    let layout = layout_of(&default_tree);
                    let mut shown: Vec<String> = refused
                        .iter()
                        .map(|p| upstream_path(layout, &heads.default_branch, p))
                        .collect();
                    shown.sort();
                    shown.dedup();
                    return Err(ResourceError::UpstreamConflict(shown));
                }
                for mut entry in ours {
                    let path =
                        std::path::PathBuf::from(String::from_utf8_lossy(&entry.path).as_ref());
                    index.conflict_remove(&path)?;
                    // Stage 0: resolved.
                    entry.flags &= !0x3000;
                    index.add(&entry)?;
                }
            }
            let merged = index.write_tree_to(repo)?;
            Ok((merged, "Merged changes from the upstream".to_owned()))
        };
        let head = self.write(project, merge)?;
        let pulled = head != before;
        let handle = self.repository(project)?;
        let repo = handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let commit = repo.find_commit(Oid::from_str(head.as_str())?)?;
        let layout = match heads.heads.get(&heads.default_branch) {
            Some(id) => layout_of(&commit_tree(&repo, id)?),
            None => UpstreamLayout::Branches,
        };
        let message = commit.message().unwrap_or("sluice").to_owned();
        let sig = self.signature()?;
        let mut push = Vec::new();
        let mut synced = heads.heads.clone();
        for (branch, tree_id) in to_keptn(&repo, layout, &commit.tree()?, &heads.default_branch)? {
            let parent = match heads.heads.get(&branch) {
                Some(id) => Some(repo.find_commit(Oid::from_str(id)?)?),
                None => None,
            };
            if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
                continue;
            }
            let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
            let id = repo.commit(
                None,
                &sig,
                &sig,
                &message,
                &repo.find_tree(tree_id)?,
                &parents,
            )?;
            push.push((branch.clone(), id.to_string()));
            synced.insert(branch, id.to_string());
        }
        Ok(UpstreamMerge {
            pulled,
            head,
            push,
            synced,
            layout,
        })
    }

    /// Records a finished sync: the upstream's branches and the project's commit they match.
    pub fn record_upstream_sync(
        &self,
        project: &str,
        merge: &UpstreamMerge,
    ) -> Result<(), ResourceError> {
        let handle = self.repository(project)?;
        let repo = handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = synced_heads(&repo)?;
        for branch in old.keys().filter(|b| !merge.synced.contains_key(*b)) {
            if let Ok(mut r) = repo.find_reference(&format!("{SYNCED_PREFIX}{branch}")) {
                r.delete()?;
            }
        }
        for (branch, id) in &merge.synced {
            repo.reference(
                &format!("{SYNCED_PREFIX}{branch}"),
                Oid::from_str(id)?,
                true,
                "synced with the upstream",
            )?;
        }
        let base = Oid::from_str(merge.head.as_str())?;
        repo.reference(BASE_REF, base, true, "synced with the upstream")?;
        if let Some(shared) = self.config().shared.as_deref() {
            shared.set_upstream_base(project, base)?;
        }
        Ok(())
    }

    /// Forgets the sync state (the upstream was removed or replaced).
    pub fn forget_upstream(&self, project: &str) -> Result<(), ResourceError> {
        if let Some(shared) = self.config().shared.as_deref() {
            shared.clear_upstream_base(project)?;
        }
        let handle = self.repository(project)?;
        let repo = handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let names: Vec<String> = repo
            .references_glob("refs/sluice-upstream/*")?
            .filter_map(|r| r.ok().and_then(|r| r.name().ok().map(str::to_owned)))
            .collect();
        for name in names {
            if let Ok(mut r) = repo.find_reference(&name) {
                r.delete()?;
            }
        }
        Ok(())
    }
}

/// The synced branches recorded in the repository.
fn synced_heads(repo: &Repository) -> Result<BTreeMap<String, String>, ResourceError> {
    let mut out = BTreeMap::new();
    for reference in repo.references_glob(&format!("{SYNCED_PREFIX}*"))? {
        let reference = reference?;
        if let (Ok(name), Some(id)) = (reference.name(), reference.target())
            && let Some(branch) = name.strip_prefix(SYNCED_PREFIX)
        {
            out.insert(branch.to_owned(), id.to_string());
        }
    }
    Ok(out)
}

fn commit_tree<'r>(repo: &'r Repository, id: &str) -> Result<Tree<'r>, ResourceError> {
    Ok(repo.find_commit(Oid::from_str(id)?)?.tree()?)
}

/// The layout of an upstream whose default branch has `tree`.
fn layout_of(default_tree: &Tree<'_>) -> UpstreamLayout {
    match default_tree.get_name(STAGES_DIR) {
        Some(e) if e.kind() == Some(git2::ObjectType::Tree) => UpstreamLayout::Directories,
        _ => UpstreamLayout::Branches,
    }
}

/// Where a path of sluice's tree is in the upstream: `branch:path`.
fn upstream_path(layout: UpstreamLayout, default_branch: &str, path: &str) -> String {
    if layout == UpstreamLayout::Branches
        && let Some(rest) = path.strip_prefix(&format!("{STAGES_DIR}/"))
        && let Some((stage, file)) = rest.split_once('/')
    {
        return format!("{stage}:{file}");
    }
    format!("{default_branch}:{path}")
}

/// The line of the project's `metadata.yaml` saying sluice's (one-branch) layout.
const DIRECTORIES_FLAG: &str = "isUsingDirectoryStructure: true";
/// The same line as an upstream in the branch layout must say (Keptn and `sluice import keptn`
/// read the layout from it).
const BRANCHES_FLAG: &str = "isUsingDirectoryStructure: false";

/// `tree` with the line `from` of its top-level `metadata.yaml` replaced by `to` (unchanged
/// when there is no such file or line).
fn with_layout_flag(
    repo: &Repository,
    tree: &Tree<'_>,
    from: &str,
    to: &str,
) -> Result<Oid, git2::Error> {
    let Some(entry) = tree.get_name(METADATA_FILE) else {
        return Ok(tree.id());
    };
    let Ok(blob) = repo.find_blob(entry.id()) else {
        return Ok(tree.id());
    };
    let Ok(text) = std::str::from_utf8(blob.content()) else {
        return Ok(tree.id());
    };
    if !text.lines().any(|l| l.trim_end() == from) {
        return Ok(tree.id());
    }
    let changed: String = text
        .split_inclusive('\n')
        .map(|line| {
            if line.trim_end() == from {
                line.replacen(from, to, 1)
            } else {
                line.to_owned()
            }
        })
        .collect();
    let id = repo.blob(changed.as_bytes())?;
    let mut builder = repo.treebuilder(Some(tree))?;
    builder.insert(METADATA_FILE, id, entry.filemode())?;
    builder.write()
}

/// `tree` without its top-level entry `name`.
fn without(repo: &Repository, tree: &Tree<'_>, name: &str) -> Result<Oid, git2::Error> {
    let mut builder = repo.treebuilder(Some(tree))?;
    if builder.get(name)?.is_some() {
        builder.remove(name)?;
    }
    builder.write()
}

/// The branches of the upstream that hold sluice's tree `root`: `(branch, tree)`.
pub(crate) fn to_keptn(
    repo: &Repository,
    layout: UpstreamLayout,
    root: &Tree<'_>,
    default_branch: &str,
) -> Result<Vec<(String, Oid)>, ResourceError> {
    if layout == UpstreamLayout::Directories {
        return Ok(vec![(default_branch.to_owned(), root.id())]);
    }
    let default_tree = repo.find_tree(without(repo, root, STAGES_DIR)?)?;
    let default_tree = with_layout_flag(repo, &default_tree, DIRECTORIES_FLAG, BRANCHES_FLAG)?;
    let mut out = vec![(default_branch.to_owned(), default_tree)];
    let shipyard = tree::blob_id(repo, root, &[SHIPYARD])?;
    if let Some(stages) = tree::subtree(repo, root, &[STAGES_DIR])? {
        for stage in tree::directories(&stages) {
            if stage == default_branch {
                continue;
            }
            let Some(stage_tree) = tree::subtree(repo, &stages, &[stage.as_str()])? else {
                continue;
            };
            let mut builder = repo.treebuilder(Some(&stage_tree))?;
            if let Some(blob) = shipyard {
                builder.insert(SHIPYARD, blob, 0o100644)?;
            }
            out.push((stage, builder.write()?));
        }
    }
    Ok(out)
}

/// sluice's tree for the upstream's branches: the default branch's tree, with each stage of
/// `local` taken from its branch (without the shipyard copy); a stage without a branch keeps
/// `ancestor`'s version (the upstream did not change it), or `local`'s when new.
fn from_keptn(
    repo: &Repository,
    layout: UpstreamLayout,
    default_tree: &Tree<'_>,
    heads: &UpstreamHeads,
    local: &Tree<'_>,
    ancestor: &Tree<'_>,
) -> Result<Oid, ResourceError> {
    if layout == UpstreamLayout::Directories {
        return Ok(default_tree.id());
    }
    let mut root = without(repo, default_tree, STAGES_DIR)?;
    root = with_layout_flag(
        repo,
        &repo.find_tree(root)?,
        BRANCHES_FLAG,
        DIRECTORIES_FLAG,
    )?;
    let Some(stages) = tree::subtree(repo, local, &[STAGES_DIR])? else {
        return Ok(root);
    };
    let mut puts: Vec<(String, Oid)> = Vec::new();
    for stage in tree::directories(&stages) {
        let stage_tree = match heads
            .heads
            .get(&stage)
            .filter(|_| stage != heads.default_branch)
        {
            Some(id) => {
                let branch_tree = commit_tree(repo, id)?;
                without(repo, &branch_tree, SHIPYARD)?
            }
            None => match tree::subtree(repo, ancestor, &[STAGES_DIR, stage.as_str()])? {
                Some(t) => t.id(),
                None => match tree::subtree(repo, &stages, &[stage.as_str()])? {
                    Some(t) => t.id(),
                    None => continue,
                },
            },
        };
        puts.push((stage, stage_tree));
    }
    let mut stages_builder = repo.treebuilder(None)?;
    for (stage, id) in &puts {
        stages_builder.insert(stage, *id, 0o040000)?;
    }
    let stages_id = stages_builder.write()?;
    let mut builder = repo.treebuilder(Some(&repo.find_tree(root)?))?;
    builder.insert(STAGES_DIR, stages_id, 0o040000)?;
    root = builder.write()?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreConfig, Upload};
    use crate::{Scope, TestDir};

    fn store(dir: &TestDir) -> ResourceStore {
        ResourceStore::open(StoreConfig::new(dir.path())).unwrap()
    }

    #[test]
    fn the_branch_layout_maps_both_ways() {
        let dir = TestDir::new("upstream-map");
        let s = store(&dir);
        s.create_project("p", &["dev", "prod"], b"shipyard")
            .unwrap();
        s.create_service("p", "carts").unwrap();
        s.put_resources(
            Scope::service("p", "dev", "carts"),
            &[Upload {
                uri: "slo.yaml",
                content: b"slo",
            }],
        )
        .unwrap();
        let handle = s.repository("p").unwrap();
        let repo = handle.lock().unwrap();
        let root = repo
            .find_reference("refs/heads/main")
            .unwrap()
            .peel_to_tree()
            .unwrap();
        let branches = to_keptn(&repo, UpstreamLayout::Branches, &root, "master").unwrap();
        let names: Vec<&str> = branches.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(names, ["master", "dev", "prod"]);
        let dev = repo.find_tree(branches[1].1).unwrap();
        assert!(
            tree::blob_id(&repo, &dev, &["carts", "slo.yaml"])
                .unwrap()
                .is_some()
        );
        assert!(tree::blob_id(&repo, &dev, &[SHIPYARD]).unwrap().is_some());
        let master = repo.find_tree(branches[0].1).unwrap();
        assert!(master.get_name(STAGES_DIR).is_none());
        let metadata = tree::blob_id(&repo, &master, &[METADATA_FILE])
            .unwrap()
            .unwrap();
        let text = String::from_utf8(repo.find_blob(metadata).unwrap().content().to_vec()).unwrap();
        assert!(text.contains(BRANCHES_FLAG), "{text}");

        // Commits of those trees read back as the same tree.
        let sig = git2::Signature::new("t", "t@t", &git2::Time::new(0, 0)).unwrap();
        let mut heads = UpstreamHeads {
            default_branch: "master".into(),
            ..UpstreamHeads::default()
        };
        for (branch, id) in &branches {
            let c = repo
                .commit(None, &sig, &sig, "m", &repo.find_tree(*id).unwrap(), &[])
                .unwrap();
            heads.heads.insert(branch.clone(), c.to_string());
        }
        assert_eq!(
            upstream_path(
                UpstreamLayout::Branches,
                "master",
                ".keptn-stages/qa/carts/slo.yaml"
            ),
            "qa:carts/slo.yaml"
        );
        assert_eq!(
            upstream_path(
                UpstreamLayout::Directories,
                "main",
                ".keptn-stages/qa/slo.yaml"
            ),
            "main:.keptn-stages/qa/slo.yaml"
        );
        let back = from_keptn(
            &repo,
            UpstreamLayout::Branches,
            &master,
            &heads,
            &root,
            &root,
        )
        .unwrap();
        assert_eq!(back, root.id());
    }

    /// An upstream commit on top of `parent` (hex) with `path` set to `content` in the
    /// parent's tree, as someone pushing to the upstream makes it.
    fn upstream_commit(repo: &Repository, parent: &str, path: &[&str], content: &[u8]) -> String {
        let parent = repo.find_commit(Oid::from_str(parent).unwrap()).unwrap();
        let blob = repo.blob(content).unwrap();
        let tree = tree::edit(
            repo,
            Some(&parent.tree().unwrap()),
            path,
            tree::Change::Put(blob),
        )
        .map_err(|_| ())
        .unwrap();
        let sig = git2::Signature::new("u", "u@u", &git2::Time::new(1, 0)).unwrap();
        repo.commit(
            None,
            &sig,
            &sig,
            "upstream",
            &repo.find_tree(tree).unwrap(),
            &[&parent],
        )
        .unwrap()
        .to_string()
    }

    fn slo(s: &ResourceStore) -> Vec<u8> {
        s.get_resource(Scope::service("p", "dev", "carts"), "slo.yaml", None)
            .unwrap()
            .content
    }

    #[test]
    fn upstream_changes_are_pulled_local_ones_pushed_and_conflicts_refused() {
        let dir = TestDir::new("upstream-merge");
        let s = store(&dir);
        s.create_project("p", &["dev"], b"shipyard").unwrap();
        s.create_service("p", "carts").unwrap();
        let put = |content: &[u8]| {
            s.put_resources(
                Scope::service("p", "dev", "carts"),
                &[Upload {
                    uri: "slo.yaml",
                    content,
                }],
            )
            .unwrap()
        };
        put(b"v1");
        // An empty upstream gets every branch.
        let empty = UpstreamHeads {
            default_branch: "master".into(),
            ..UpstreamHeads::default()
        };
        let first = s.merge_upstream("p", &empty, FirstSync::Create).unwrap();
        assert!(!first.pulled);
        let pushed: Vec<&str> = first.push.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(pushed, ["master", "dev"]);
        s.record_upstream_sync("p", &first).unwrap();
        let mut heads = UpstreamHeads {
            default_branch: "master".into(),
            heads: first.synced.clone(),
        };
        // Nothing changed on either side: nothing to do.
        let idle = s.merge_upstream("p", &heads, FirstSync::Attach).unwrap();
        assert!(!idle.pulled && idle.push.is_empty());

        // A change upstream fast-forwards in; nothing to push back.
        let handle = s.repository("p").unwrap();
        let dev = upstream_commit(
            &handle.lock().unwrap(),
            &heads.heads["dev"],
            &["carts", "slo.yaml"],
            b"v2",
        );
        heads.heads.insert("dev".into(), dev);
        let pulled = s.merge_upstream("p", &heads, FirstSync::Attach).unwrap();
        assert!(pulled.pulled && pulled.push.is_empty(), "{pulled:?}");
        assert_eq!(slo(&s), b"v2");
        s.record_upstream_sync("p", &pulled).unwrap();

        // Both sides change different files: merged, and the merge is pushed.
        s.put_resources(
            Scope::stage("p", "dev"),
            &[Upload {
                uri: "notes.txt",
                content: b"ours",
            }],
        )
        .unwrap();
        let dev = upstream_commit(
            &handle.lock().unwrap(),
            &heads.heads["dev"],
            &["carts", "job", "config.yaml"],
            b"job",
        );
        heads.heads.insert("dev".into(), dev.clone());
        let merged = s.merge_upstream("p", &heads, FirstSync::Attach).unwrap();
        assert!(merged.pulled);
        assert_eq!(merged.push.len(), 1);
        let (branch, id) = &merged.push[0];
        assert_eq!(branch, "dev");
        {
            let repo = handle.lock().unwrap();
            let commit = repo.find_commit(Oid::from_str(id).unwrap()).unwrap();
            assert_eq!(
                commit.parent_id(0).unwrap().to_string(),
                dev,
                "a fast-forward"
            );
        }
        s.record_upstream_sync("p", &merged).unwrap();
        heads.heads = merged.synced.clone();

        // The same file changed differently on both sides: refused, nothing written.
        put(b"ours");
        let dev = upstream_commit(
            &handle.lock().unwrap(),
            &heads.heads["dev"],
            &["carts", "slo.yaml"],
            b"theirs",
        );
        heads.heads.insert("dev".into(), dev);
        let before = s.head_id("p").unwrap();
        match s.merge_upstream("p", &heads, FirstSync::Attach) {
            Err(ResourceError::UpstreamConflict(paths)) => {
                assert_eq!(paths, ["dev:carts/slo.yaml"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.head_id("p").unwrap(), before);
        assert_eq!(slo(&s), b"ours");

        // A new project refuses an upstream that holds one.
        s.create_project("q", &["dev"], b"shipyard").unwrap();
        let master = heads.heads["master"].clone();
        let taken = UpstreamHeads {
            default_branch: "master".into(),
            heads: [("master".to_owned(), master)].into(),
        };
        // (q's repository lacks p's commits: copy the one needed.)
        let q = s.repository("q").unwrap();
        {
            let (from, to) = (handle.lock().unwrap(), q.lock().unwrap());
            let odb = to.odb().unwrap();
            let mut walk = vec![Oid::from_str(&taken.heads["master"]).unwrap()];
            let commit = from.find_commit(walk[0]).unwrap();
            commit
                .tree()
                .unwrap()
                .walk(git2::TreeWalkMode::PreOrder, |_, e| {
                    walk.push(e.id());
                    git2::TreeWalkResult::Ok
                })
                .unwrap();
            walk.push(commit.tree_id());
            let source = from.odb().unwrap();
            for id in walk {
                let object = source.read(id).unwrap();
                odb.write(object.kind(), object.data()).unwrap();
            }
        }
        assert!(matches!(
            s.merge_upstream("q", &taken, FirstSync::Create),
            Err(ResourceError::UpstreamNotEmpty)
        ));
    }
}
