//! Project repositories shared by several replicas without a shared file system: the
//! objects and the branch head live in a [`SharedRepositories`] (the server's PostgreSQL
//! store), and each replica's bare repository in its data directory is a cache of them.
//!
//! Writes sync the cache, commit locally, then publish the commit's new objects together
//! with a compare-and-swap of the shared branch from the head the commit was made on; the
//! local branch moves only after that swap succeeded. Reads bring the cache up to the shared
//! head first, fetching the objects they lack. Git ids are content hashes, so an object
//! fetched or published twice is the same object, and every replica computes the same ids.

use std::collections::{HashMap, HashSet};
use std::fmt;

pub use git2::{ObjectType, Oid};
use git2::{Odb, Repository, Tree};

use crate::error::ResourceError;

/// One git object as it is shared: id, kind and content (without git's header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedObject {
    /// The object id.
    pub id: Oid,
    /// Commit, tree, blob or tag.
    pub kind: ObjectType,
    /// The content.
    pub data: Vec<u8>,
}

/// Why the shared repositories failed (the database is unreachable, a row is unreadable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SharedError(pub String);

/// Where the replicas' repositories are shared: the head of each project's one branch and
/// the objects of each project. Its methods block (the resource store is synchronous and runs
/// on blocking threads).
pub trait SharedRepositories: fmt::Debug + Send + Sync {
    /// The commit the project's branch points at; `None` when the project has none.
    fn head(&self, project: &str) -> Result<Option<Oid>, SharedError>;

    /// Atomically: moves the branch from `old` (`None`: the branch must not exist) to `new`
    /// and stores `objects`. Returns false, storing nothing, when the branch was not at `old`.
    fn publish(
        &self,
        project: &str,
        old: Option<Oid>,
        new: Oid,
        objects: &[SharedObject],
    ) -> Result<bool, SharedError>;

    /// The stored objects among `ids` (those not stored are left out).
    fn objects(&self, project: &str, ids: &[Oid]) -> Result<Vec<SharedObject>, SharedError>;

    /// Every stored object of the project.
    fn all_objects(&self, project: &str) -> Result<Vec<SharedObject>, SharedError>;

    /// Removes the project's branch and objects; returns whether it had a branch.
    fn delete(&self, project: &str) -> Result<bool, SharedError>;

    /// The commit of the project's branch its git upstream last matched (the merge base of
    /// the next sync, see [`crate::upstream`]), so that any replica syncs from it; `None`
    /// when none was recorded (the default: not kept).
    fn upstream_base(&self, project: &str) -> Result<Option<Oid>, SharedError> {
        let _ = project;
        Ok(None)
    }

    /// Records [`SharedRepositories::upstream_base`] (the default keeps nothing).
    fn set_upstream_base(&self, project: &str, base: Oid) -> Result<(), SharedError> {
        let _ = (project, base);
        Ok(())
    }

    /// Forgets [`SharedRepositories::upstream_base`] (the upstream was replaced).
    fn clear_upstream_base(&self, project: &str) -> Result<(), SharedError> {
        let _ = project;
        Ok(())
    }
}

impl From<SharedError> for ResourceError {
    fn from(e: SharedError) -> Self {
        ResourceError::Shared(e.0)
    }
}

/// The objects commit `commit` adds to a repository that has `base` (the root tree of its
/// parent; `None` for a first commit): the commit, and every tree and blob below its root tree
/// that `base` does not have at the same path. Unchanged subtrees are skipped whole, so a
/// write costs what it changed, not the size of the project.
pub(crate) fn new_objects(
    repo: &Repository,
    commit: Oid,
    base: Option<&Tree<'_>>,
) -> Result<Vec<SharedObject>, ResourceError> {
    let odb = repo.odb()?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    push(&odb, commit, &mut seen, &mut out)?;
    let root = repo.find_commit(commit)?.tree()?;
    if base.map(Tree::id) != Some(root.id()) {
        changed_tree(repo, &odb, &root, base, &mut seen, &mut out)?;
    }
    Ok(out)
}

/// `tree` and what below it differs from `base`.
fn changed_tree(
    repo: &Repository,
    odb: &Odb<'_>,
    tree: &Tree<'_>,
    base: Option<&Tree<'_>>,
    seen: &mut HashSet<Oid>,
    out: &mut Vec<SharedObject>,
) -> Result<(), ResourceError> {
    push(odb, tree.id(), seen, out)?;
    for entry in tree.iter() {
        let before = base.and_then(|b| b.get_name_bytes(entry.name_bytes()));
        if before.as_ref().map(git2::TreeEntry::id) == Some(entry.id()) {
            continue;
        }
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id())?;
                let old = match before {
                    Some(b) if b.kind() == Some(ObjectType::Tree) => Some(repo.find_tree(b.id())?),
                    _ => None,
                };
                changed_tree(repo, odb, &sub, old.as_ref(), seen, out)?;
            }
            Some(ObjectType::Blob) => push(odb, entry.id(), seen, out)?,
            _ => {}
        }
    }
    Ok(())
}

/// Reads object `id` from the object database into `out`, once.
fn push(
    odb: &Odb<'_>,
    id: Oid,
    seen: &mut HashSet<Oid>,
    out: &mut Vec<SharedObject>,
) -> Result<(), ResourceError> {
    if seen.insert(id) {
        let object = odb.read(id)?;
        out.push(SharedObject {
            id,
            kind: object.kind(),
            data: object.data().to_vec(),
        });
    }
    Ok(())
}

/// Writes shared objects into the local object database, checking that each hashes to its
/// id (a row that does not is refused rather than cached under a wrong name).
pub(crate) fn store_objects(odb: &Odb<'_>, objects: &[SharedObject]) -> Result<(), ResourceError> {
    for object in objects {
        check_id(object)?;
        odb.write(object.kind, &object.data)?;
    }
    Ok(())
}

/// Fetches every object reachable from `head` that the local repository lacks, one batch
/// per level of the graph (the commit, then its tree and parent, then what those name, ...,
/// stopping at objects the repository has).
///
/// Nothing is written until the walk is complete, and then children before parents: an object
/// in the repository always has everything below it, so a fetch that fails half-way (the
/// database went away) leaves nothing that a later fetch would wrongly skip.
pub(crate) fn fetch_missing(
    repo: &Repository,
    shared: &dyn SharedRepositories,
    project: &str,
    head: Oid,
) -> Result<(), ResourceError> {
    let odb = repo.odb()?;
    let mut fetched: HashMap<Oid, (SharedObject, Vec<Oid>)> = HashMap::new();
    let mut want: Vec<Oid> = Vec::new();
    if !odb.exists(head) {
        want.push(head);
    }
    while !want.is_empty() {
        let got = shared.objects(project, &want)?;
        if let Some(missing) = want.iter().find(|id| !got.iter().any(|o| o.id == **id)) {
            return Err(ResourceError::Shared(format!(
                "object {missing} of project `{project}` is not in the shared repository"
            )));
        }
        let mut next = Vec::new();
        for object in got {
            check_id(&object)?;
            let names = named(&object)?;
            for id in &names {
                if !fetched.contains_key(id) && !next.contains(id) && !odb.exists(*id) {
                    next.push(*id);
                }
            }
            fetched.insert(object.id, (object, names));
        }
        next.retain(|id| !fetched.contains_key(id));
        want = next;
    }
    // Depth-first, each object after everything it names (no recursion: histories are long).
    let mut written = HashSet::new();
    let mut stack = vec![(head, false)];
    while let Some((id, expanded)) = stack.pop() {
        let Some((object, names)) = fetched.get(&id) else {
            continue;
        };
        if written.contains(&id) {
            continue;
        }
        if expanded {
            odb.write(object.kind, &object.data)?;
            written.insert(id);
            continue;
        }
        stack.push((id, true));
        stack.extend(
            names
                .iter()
                .filter(|n| fetched.contains_key(n) && !written.contains(*n))
                .map(|n| (*n, false)),
        );
    }
    Ok(())
}

/// [`ResourceError::Shared`] unless the object's content hashes to its id.
fn check_id(object: &SharedObject) -> Result<(), ResourceError> {
    let id = Oid::hash_object(object.kind, &object.data)?;
    if id != object.id {
        return Err(ResourceError::Shared(format!(
            "the shared object {} has the content of {id}",
            object.id
        )));
    }
    Ok(())
}

/// The objects an object names: a commit's tree and parents, a tree's subtrees and blobs
/// (not submodule commits), read from git's raw formats.
fn named(object: &SharedObject) -> Result<Vec<Oid>, ResourceError> {
    let malformed =
        || ResourceError::Shared(format!("the shared object {} is malformed", object.id));
    let mut out = Vec::new();
    match object.kind {
        ObjectType::Commit => {
            for line in object.data.split(|b| *b == b'\n') {
                if line.is_empty() {
                    break;
                }
                if let Some(hex) = line
                    .strip_prefix(b"tree ")
                    .or_else(|| line.strip_prefix(b"parent "))
                {
                    let hex = std::str::from_utf8(hex).map_err(|_| malformed())?;
                    out.push(Oid::from_str(hex).map_err(|_| malformed())?);
                }
            }
        }
        ObjectType::Tree => {
            // Entries: `<mode> <name>\0<20-byte id>`.
            let mut rest = object.data.as_slice();
            while !rest.is_empty() {
                let space = rest.iter().position(|b| *b == b' ').ok_or_else(malformed)?;
                let nul = rest.iter().position(|b| *b == 0).ok_or_else(malformed)?;
                let raw = rest.get(nul + 1..nul + 21).ok_or_else(malformed)?;
                if rest.get(..space) != Some(b"160000".as_slice()) {
                    out.push(Oid::from_bytes(raw).map_err(|_| malformed())?);
                }
                rest = rest.get(nul + 21..).ok_or_else(malformed)?;
            }
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ResourceStore, Scope, StoreConfig, TestDir, Upload};

    /// A commit publishes itself, the trees on the path to what changed and the new blob,
    /// nothing of the unchanged directories; a first commit publishes everything; and the
    /// objects written into another repository rebuild the commit under the same id.
    #[test]
    fn a_commit_adds_only_what_its_tree_changed() {
        let dir = TestDir::new("shared-new-objects");
        let store = ResourceStore::open(StoreConfig::new(dir.path())).unwrap();
        store
            .create_project("p", &["dev", "qa"], b"shipyard")
            .unwrap();
        let commit = store
            .put_resources(
                Scope::stage("p", "dev"),
                &[Upload {
                    uri: "slo.yaml",
                    content: b"objectives: []\n",
                }],
            )
            .unwrap();
        let repo = Repository::open_bare(store.project_path("p")).unwrap();
        let id = Oid::from_str(commit.as_str()).unwrap();
        let parent = repo.find_commit(id).unwrap().parent(0).unwrap();
        let added = new_objects(&repo, id, Some(&parent.tree().unwrap())).unwrap();
        let kinds: Vec<ObjectType> = added.iter().map(|o| o.kind).collect();
        // The commit; the root, `.keptn-stages` and `dev` trees; the new blob. Not `qa`, not
        // the project's files, not dev's metadata.yaml.
        assert_eq!(
            kinds,
            [
                ObjectType::Commit,
                ObjectType::Tree,
                ObjectType::Tree,
                ObjectType::Tree,
                ObjectType::Blob
            ]
        );
        assert_eq!(added[4].data, b"objectives: []\n");

        let first = new_objects(&repo, parent.id(), None).unwrap();
        // Commit, root, .keptn-stages, dev, qa trees; metadata.yaml x3 and shipyard blobs.
        assert_eq!(first.len(), 9);

        // The raw formats read as libgit2 reads them.
        for object in first.iter().chain(&added) {
            let expected: Vec<Oid> = match object.kind {
                ObjectType::Commit => {
                    let c = repo.find_commit(object.id).unwrap();
                    std::iter::once(c.tree_id()).chain(c.parent_ids()).collect()
                }
                ObjectType::Tree => repo
                    .find_tree(object.id)
                    .unwrap()
                    .iter()
                    .map(|e| e.id())
                    .collect(),
                _ => Vec::new(),
            };
            assert_eq!(named(object).unwrap(), expected);
        }

        let copy_dir = TestDir::new("shared-copy");
        let copy = Repository::init_bare(copy_dir.path()).unwrap();
        let odb = copy.odb().unwrap();
        store_objects(&odb, &first).unwrap();
        store_objects(&odb, &added).unwrap();
        let rebuilt = copy.find_commit(id).unwrap();
        assert_eq!(rebuilt.tree_id(), repo.find_commit(id).unwrap().tree_id());
        // A row whose content is not its id is refused.
        let mut wrong = added[4].clone();
        wrong.data = b"tampered".to_vec();
        assert!(matches!(
            store_objects(&odb, &[wrong]),
            Err(ResourceError::Shared(_))
        ));
    }
}
