//! Editing and reading git trees by `/`-separated paths, without a working tree.
//!
//! Every edit writes new tree objects bottom-up and returns the new root tree id; nothing is
//! visible until the caller commits that tree and moves the branch. Trees left behind by a
//! failed write are unreachable objects that `git gc` removes.

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
}
