//! Editing and reading git trees by `/`-separated paths, without a working tree.
//!
//! Every edit writes new tree objects bottom-up and returns the new root tree id; nothing is
//! visible until the caller commits that tree and moves the branch. Trees left behind by a
//! failed write are unreachable objects that `git gc` removes.
//!
//! [`put_many`] puts any number of files at once and writes each changed tree exactly once, so
//! its cost grows with the number of files, not with files times directory size.

use std::collections::BTreeMap;

use git2::{ObjectType, Oid, Repository, Tree, TreeEntry, TreeWalkMode, TreeWalkResult};

/// Mode of a regular (non-executable) file.
const MODE_FILE: i32 = 0o100644;
/// Mode of an executable file.
const MODE_EXECUTABLE: i32 = 0o100755;
/// Mode of a directory.
const MODE_TREE: i32 = 0o040000;

/// One change to a tree.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    /// Put this blob at the path (creating directories, replacing a file).
    Put(Oid),
    /// Remove the file or directory at the path (and directories left empty).
    Remove,
}

/// Why a tree edit could not be made.
#[derive(Debug)]
pub(crate) enum EditError {
    /// [`Change::Remove`] of a path that does not exist.
    NotFound,
    /// [`Change::Put`] where a directory is (`depth` = number of leading segments naming it).
    IsDirectory,
    /// A leading part of the path is a file, so it cannot be a directory.
    ParentIsFile {
        /// How many leading segments name the file.
        depth: usize,
    },
    /// libgit2 failed.
    Git(git2::Error),
    /// The caller asked to stop (the server is shutting down).
    Interrupted,
}

impl From<git2::Error> for EditError {
    fn from(e: git2::Error) -> Self {
        EditError::Git(e)
    }
}

/// Applies `change` at `path` (non-empty) below `root` (None = empty tree) and returns the new
/// root tree id.
pub(crate) fn edit(
    repo: &Repository,
    root: Option<&Tree<'_>>,
    path: &[&str],
    change: Change,
) -> Result<Oid, EditError> {
    match edit_level(repo, root, path, change, 0)? {
        Some(id) => Ok(id),
        None => Ok(repo.treebuilder(None)?.write()?),
    }
}

/// Recursive step of [`edit`]: returns None when the edited tree became empty.
fn edit_level(
    repo: &Repository,
    tree: Option<&Tree<'_>>,
    path: &[&str],
    change: Change,
    depth: usize,
) -> Result<Option<Oid>, EditError> {
    let Some((&name, rest)) = path.split_first() else {
        return Err(EditError::NotFound);
    };
    let mut builder = repo.treebuilder(tree)?;
    let existing = builder.get(name)?.map(|e| (e.kind(), e.id(), e.filemode()));
    if rest.is_empty() {
        match change {
            Change::Put(blob) => {
                let mode = match existing {
                    Some((Some(ObjectType::Tree), _, _)) => return Err(EditError::IsDirectory),
                    Some((_, _, mode)) if mode == MODE_EXECUTABLE => MODE_EXECUTABLE,
                    _ => MODE_FILE,
                };
                builder.insert(name, blob, mode)?;
            }
            Change::Remove => {
                if existing.is_none() {
                    return Err(EditError::NotFound);
                }
                builder.remove(name)?;
            }
        }
    } else {
        let subtree = match existing {
            Some((Some(ObjectType::Tree), id, _)) => Some(repo.find_tree(id)?),
            Some(_) => return Err(EditError::ParentIsFile { depth: depth + 1 }),
            None if matches!(change, Change::Remove) => return Err(EditError::NotFound),
            None => None,
        };
        match edit_level(repo, subtree.as_ref(), rest, change, depth + 1)? {
            Some(id) => {
                builder.insert(name, id, MODE_TREE)?;
            }
            None => builder.remove(name)?,
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    Ok(Some(builder.write()?))
}

/// Why [`put_many`] failed: the error, and the index of the put it is about (the first put,
/// in the order given, that a one-by-one edit would have failed on).
#[derive(Debug)]
pub(crate) struct PutError {
    /// Index into the puts.
    pub index: usize,
    /// What went wrong.
    pub error: EditError,
}

impl From<git2::Error> for PutError {
    fn from(e: git2::Error) -> Self {
        PutError {
            index: 0,
            error: EditError::Git(e),
        }
    }
}

/// The files and directories a [`put_many`] changes in one directory.
#[derive(Debug, Default)]
struct DirPuts<'p> {
    /// File name → blob (the last put wins) and index of the first put of it.
    files: BTreeMap<&'p str, (Oid, usize)>,
    /// Directory name → its changes and the index of the first put below it.
    dirs: BTreeMap<&'p str, (DirPuts<'p>, usize)>,
}

/// Puts every `(path, blob)` below `root` as if by one [`edit`] each in order (a later put of
/// the same path wins, modes of existing executables are kept), but builds the changes in
/// memory first and writes each changed tree once. `interrupted` is asked before each tree is
/// written; when it answers true the put stops with [`EditError::Interrupted`].
pub(crate) fn put_many(
    repo: &Repository,
    root: &Tree<'_>,
    puts: &[(Vec<&str>, Oid)],
    interrupted: &dyn Fn() -> bool,
) -> Result<Oid, PutError> {
    let mut top = DirPuts::default();
    // A put that conflicts with an earlier one (a file where another put made a directory or
    // the reverse) fails; only the puts before it can fail earlier, on the existing tree.
    let mut conflict: Option<PutError> = None;
    'puts: for (index, (path, blob)) in puts.iter().enumerate() {
        let Some((&name, dirs)) = path.split_last() else {
            conflict = Some(PutError {
                index,
                error: EditError::NotFound,
            });
            break;
        };
        let mut dir = &mut top;
        for (depth, &segment) in dirs.iter().enumerate() {
            if dir.files.contains_key(segment) {
                conflict = Some(PutError {
                    index,
                    error: EditError::ParentIsFile { depth: depth + 1 },
                });
                break 'puts;
            }
            dir = &mut dir
                .dirs
                .entry(segment)
                .or_insert_with(|| (DirPuts::default(), index))
                .0;
        }
        if dir.dirs.contains_key(name) {
            conflict = Some(PutError {
                index,
                error: EditError::IsDirectory,
            });
            break;
        }
        dir.files
            .entry(name)
            .and_modify(|(b, _)| *b = *blob)
            .or_insert((*blob, index));
    }
    let written = write_dir(repo, Some(root), &top, 0, interrupted);
    match (written, conflict) {
        (Err(e), _) => Err(e),
        (Ok(_), Some(c)) => Err(c),
        (Ok(id), None) => Ok(id),
    }
}

/// Writes `tree` with the changes of `puts` applied, `depth` segments below the root; of
/// several conflicts the one of the earliest put is returned.
fn write_dir(
    repo: &Repository,
    tree: Option<&Tree<'_>>,
    puts: &DirPuts<'_>,
    depth: usize,
    interrupted: &dyn Fn() -> bool,
) -> Result<Oid, PutError> {
    if interrupted() {
        return Err(PutError {
            index: 0,
            error: EditError::Interrupted,
        });
    }
    let mut builder = repo.treebuilder(tree)?;
    let mut first: Option<PutError> = None;
    let mut keep = |e: PutError| {
        if first.as_ref().is_none_or(|f| e.index < f.index) {
            first = Some(e);
        }
    };
    for (&name, &(blob, index)) in &puts.files {
        let existing = builder.get(name)?.map(|e| (e.kind(), e.filemode()));
        let mode = match existing {
            Some((Some(ObjectType::Tree), _)) => {
                keep(PutError {
                    index,
                    error: EditError::IsDirectory,
                });
                continue;
            }
            Some((_, mode)) if mode == MODE_EXECUTABLE => MODE_EXECUTABLE,
            _ => MODE_FILE,
        };
        builder.insert(name, blob, mode)?;
    }
    for (&name, (sub, index)) in &puts.dirs {
        let existing = builder.get(name)?.map(|e| (e.kind(), e.id()));
        let subtree = match existing {
            Some((Some(ObjectType::Tree), id)) => Some(repo.find_tree(id)?),
            Some(_) => {
                keep(PutError {
                    index: *index,
                    error: EditError::ParentIsFile { depth: depth + 1 },
                });
                continue;
            }
            None => None,
        };
        match write_dir(repo, subtree.as_ref(), sub, depth + 1, interrupted) {
            Ok(id) => {
                builder.insert(name, id, MODE_TREE)?;
            }
            Err(e) if matches!(e.error, EditError::Git(_) | EditError::Interrupted) => {
                return Err(e);
            }
            Err(e) => keep(e),
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(builder.write()?),
    }
}

/// The entry at `path` below `root`, if any (an empty path has no entry).
pub(crate) fn lookup<'r>(
    repo: &'r Repository,
    root: &Tree<'r>,
    path: &[&str],
) -> Result<Option<TreeEntry<'static>>, git2::Error> {
    let Some((&last, dirs)) = path.split_last() else {
        return Ok(None);
    };
    let mut tree = root.clone();
    for &dir in dirs {
        let id = match tree.get_name(dir) {
            Some(entry) if entry.kind() == Some(ObjectType::Tree) => entry.id(),
            _ => return Ok(None),
        };
        tree = repo.find_tree(id)?;
    }
    Ok(tree.get_name(last).map(|e| e.to_owned()))
}

/// The tree at `path` below `root` (the root itself for an empty path), if it is a directory.
pub(crate) fn subtree<'r>(
    repo: &'r Repository,
    root: &Tree<'r>,
    path: &[&str],
) -> Result<Option<Tree<'r>>, git2::Error> {
    if path.is_empty() {
        return Ok(Some(root.clone()));
    }
    match lookup(repo, root, path)? {
        Some(e) if e.kind() == Some(ObjectType::Tree) => Ok(Some(repo.find_tree(e.id())?)),
        _ => Ok(None),
    }
}

/// The blob id at `path`, if `path` is a file.
pub(crate) fn blob_id(
    repo: &Repository,
    root: &Tree<'_>,
    path: &[&str],
) -> Result<Option<Oid>, git2::Error> {
    Ok(lookup(repo, root, path)?
        .filter(|e| e.kind() == Some(ObjectType::Blob))
        .map(|e| e.id()))
}

/// Names of the directories directly in `tree`, in tree order.
pub(crate) fn directories(tree: &Tree<'_>) -> Vec<String> {
    tree.iter()
        .filter(|e| e.kind() == Some(ObjectType::Tree))
        .map(|e| String::from_utf8_lossy(e.name_bytes()).into_owned())
        .collect()
}

/// Paths of all files below `tree`, relative to it, in git's order (which is byte order of the
/// full paths), leaving out top-level directories named in `skip`.
pub(crate) fn files(tree: &Tree<'_>, skip: &[&str]) -> Result<Vec<String>, git2::Error> {
    let mut out = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let name = String::from_utf8_lossy(entry.name_bytes());
        match entry.kind() {
            Some(ObjectType::Tree) if dir.is_empty() && skip.contains(&name.as_ref()) => {
                TreeWalkResult::Skip
            }
            Some(ObjectType::Blob) => {
                out.push(format!("{dir}{name}"));
                TreeWalkResult::Ok
            }
            _ => TreeWalkResult::Ok,
        }
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (crate::TestDir, Repository) {
        let dir = crate::TestDir::new("tree");
        let repo = Repository::init_bare(dir.path()).expect("init");
        (dir, repo)
    }

    #[test]
    fn put_nested_then_read_list_and_remove() {
        let (_dir, repo) = repo();
        let a = repo.blob(b"a").expect("blob");
        let b = repo.blob(b"b").expect("blob");
        let t = edit(&repo, None, &["x", "y", "a.txt"], Change::Put(a)).expect("put");
        let t = repo.find_tree(t).expect("tree");
        let t = edit(&repo, Some(&t), &["x", "b.txt"], Change::Put(b)).expect("put");
        let t = repo.find_tree(t).expect("tree");
        let t = edit(&repo, Some(&t), &["x.txt"], Change::Put(b)).expect("put");
        let t = repo.find_tree(t).expect("tree");
        assert_eq!(
            blob_id(&repo, &t, &["x", "y", "a.txt"]).expect("lookup"),
            Some(a)
        );
        assert_eq!(blob_id(&repo, &t, &["x", "y"]).expect("lookup"), None);
        assert_eq!(
            files(&t, &[]).expect("files"),
            ["x.txt", "x/b.txt", "x/y/a.txt"]
        );
        assert_eq!(files(&t, &["x"]).expect("files"), ["x.txt"]);
        assert!(matches!(
            edit(&repo, Some(&t), &["x"], Change::Put(a)),
            Err(EditError::IsDirectory)
        ));
        assert!(matches!(
            edit(&repo, Some(&t), &["x.txt", "z"], Change::Put(a)),
            Err(EditError::ParentIsFile { depth: 1 })
        ));
        assert!(matches!(
            edit(&repo, Some(&t), &["nope", "z"], Change::Remove),
            Err(EditError::NotFound)
        ));
        // Removing the last file of a directory removes the directory.
        let t2 = edit(&repo, Some(&t), &["x", "y", "a.txt"], Change::Remove).expect("rm");
        let t2 = repo.find_tree(t2).expect("tree");
        assert!(subtree(&repo, &t2, &["x", "y"]).expect("subtree").is_none());
        assert_eq!(directories(&t2), ["x"]);
        // Removing everything leaves the empty tree.
        let t3 = edit(&repo, None, &["only"], Change::Put(a)).expect("put");
        let t3 = repo.find_tree(t3).expect("tree");
        let empty = edit(&repo, Some(&t3), &["only"], Change::Remove).expect("rm");
        assert_eq!(repo.find_tree(empty).expect("tree").len(), 0);
    }

    fn never() -> bool {
        false
    }

    #[test]
    fn put_many_writes_each_changed_tree_once_like_edits_in_order() {
        let (_dir, repo) = repo();
        let a = repo.blob(b"a").expect("blob");
        let b = repo.blob(b"b").expect("blob");
        let base = edit(&repo, None, &["keep", "x.txt"], Change::Put(a)).expect("put");
        let base = repo.find_tree(base).expect("tree");
        let puts = vec![
            (vec!["d", "one"], a),
            (vec!["d", "e", "two"], a),
            (vec!["top"], a),
            (vec!["d", "one"], b),
        ];
        let batch = put_many(&repo, &base, &puts, &never).expect("put_many");
        // The same tree as one edit per put, in order.
        let mut one_by_one = base.id();
        for (path, blob) in &puts {
            let t = repo.find_tree(one_by_one).expect("tree");
            one_by_one = edit(&repo, Some(&t), path, Change::Put(*blob)).expect("edit");
        }
        assert_eq!(batch, one_by_one);
        let t = repo.find_tree(batch).expect("tree");
        assert_eq!(blob_id(&repo, &t, &["d", "one"]).expect("lookup"), Some(b));
        assert_eq!(
            files(&t, &[]).expect("files"),
            ["d/e/two", "d/one", "keep/x.txt", "top"]
        );
    }

    #[test]
    fn put_many_reports_the_first_conflict_in_put_order() {
        let (_dir, repo) = repo();
        let a = repo.blob(b"a").expect("blob");
        let base = edit(&repo, None, &["f", "g"], Change::Put(a)).expect("put");
        let base = repo.find_tree(base).expect("tree");
        let conflict = |puts: Vec<(Vec<&str>, Oid)>| {
            put_many(&repo, &base, &puts, &never).expect_err("conflict")
        };
        // A file where the tree has a directory.
        let e = conflict(vec![(vec!["ok"], a), (vec!["f"], a)]);
        assert!(
            matches!(e.error, EditError::IsDirectory) && e.index == 1,
            "{e:?}"
        );
        // A directory below an existing file.
        let e = conflict(vec![(vec!["ok"], a), (vec!["f", "g", "h"], a)]);
        assert!(
            matches!(e.error, EditError::ParentIsFile { depth: 2 }) && e.index == 1,
            "{e:?}"
        );
        // Conflicts inside the request: file then directory, directory then file.
        let e = conflict(vec![(vec!["n"], a), (vec!["n", "m"], a)]);
        assert!(
            matches!(e.error, EditError::ParentIsFile { depth: 1 }) && e.index == 1,
            "{e:?}"
        );
        let e = conflict(vec![(vec!["n", "m"], a), (vec!["n"], a)]);
        assert!(
            matches!(e.error, EditError::IsDirectory) && e.index == 1,
            "{e:?}"
        );
        // Of two conflicts, the earlier put's.
        let e = conflict(vec![(vec!["n"], a), (vec!["f"], a), (vec!["n", "m"], a)]);
        assert!(
            matches!(e.error, EditError::IsDirectory) && e.index == 1,
            "{e:?}"
        );
    }

    #[test]
    fn put_many_stops_when_interrupted() {
        let (_dir, repo) = repo();
        let a = repo.blob(b"a").expect("blob");
        let base = edit(&repo, None, &["x"], Change::Put(a)).expect("put");
        let base = repo.find_tree(base).expect("tree");
        let e = put_many(&repo, &base, &[(vec!["y"], a)], &|| true).expect_err("interrupted");
        assert!(matches!(e.error, EditError::Interrupted));
    }
}
