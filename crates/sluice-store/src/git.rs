//! The project repositories shared by the replicas of a PostgreSQL store: git objects by id
//! in `git_objects` and branch heads in `git_refs` (PostgreSQL only; a SQLite store refuses).
//!
//! A replica publishes a commit with [`Store::publish_git`]: in one transaction it moves the
//! branch by a compare-and-swap (`UPDATE git_refs SET oid = new WHERE … AND oid = old`, or an
//! insert when the branch is new) and inserts the objects the commit added (`ON CONFLICT DO
//! NOTHING`: objects are content-addressed, so a row already there is the same object). When
//! the swap finds another head nothing is written and the caller learns that it lost.
//! Readers ask for the head ([`Store::git_ref`]) and fetch the objects they lack in batches
//! ([`Store::git_objects`]).

use crate::error::{Error, Result};
use crate::{Db, Store};

/// The kind of a git object, `kind` in `git_objects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitObjectKind {
    /// A commit.
    Commit,
    /// A tree (directory).
    Tree,
    /// A blob (file content).
    Blob,
    /// An annotated tag.
    Tag,
}

impl GitObjectKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GitObjectKind::Commit => "commit",
            GitObjectKind::Tree => "tree",
            GitObjectKind::Blob => "blob",
            GitObjectKind::Tag => "tag",
        }
    }

    /// The kind of a stored name.
    fn parse(text: &str) -> Result<GitObjectKind> {
        Ok(match text {
            "commit" => GitObjectKind::Commit,
            "tree" => GitObjectKind::Tree,
            "blob" => GitObjectKind::Blob,
            "tag" => GitObjectKind::Tag,
            other => return Err(Error::Corrupt(format!("unknown git object kind {other:?}"))),
        })
    }
}

/// One git object: its id (40 hexadecimal digits), kind and uncompressed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitObject {
    /// The object id.
    pub oid: String,
    /// Its kind.
    pub kind: GitObjectKind,
    /// Its content (without git's header).
    pub data: Vec<u8>,
}

/// Most object ids asked for in one query of [`Store::git_objects`].
const OBJECTS_PER_QUERY: usize = 1000;

impl Store {
    /// The PostgreSQL pool, or [`Error::InvalidInput`] on SQLite.
    fn git_pool(&self) -> Result<&sqlx::PgPool> {
        match &self.db {
            Db::Postgres(pool) => Ok(pool),
            Db::Sqlite { .. } => Err(Error::InvalidInput(
                "shared git repositories need a PostgreSQL store".into(),
            )),
        }
    }

    /// The object id the branch `name` of `project` points at, if the branch exists.
    pub async fn git_ref(&self, project: &str, name: &str) -> Result<Option<String>> {
        let pool = self.git_pool()?;
        Ok(
            sqlx::query_scalar("SELECT oid FROM git_refs WHERE project = $1 AND name = $2")
                .bind(project)
                .bind(name)
                .fetch_optional(pool)
                .await?,
        )
    }

    /// In one transaction: moves the branch `name` of `project` from `old` (`None`: the branch
    /// must not exist yet) to `new`, and inserts `objects` (those already stored are kept).
    /// Returns false, writing nothing, when the branch was not at `old`.
    pub async fn publish_git(
        &self,
        project: &str,
        name: &str,
        old: Option<&str>,
        new: &str,
        objects: &[GitObject],
    ) -> Result<bool> {
        let pool = self.git_pool()?;
        let mut tx = pool.begin().await?;
        // The swap first: a loser learns it lost (after waiting for the winner's row lock)
        // before sending its objects.
        let swapped = match old {
            Some(old) => sqlx::query(
                "UPDATE git_refs SET oid = $3 WHERE project = $1 AND name = $2 AND oid = $4",
            )
            .bind(project)
            .bind(name)
            .bind(new)
            .bind(old),
            None => sqlx::query(
                "INSERT INTO git_refs (project, name, oid) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(project)
            .bind(name)
            .bind(new),
        }
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !swapped {
            tx.rollback().await?;
            return Ok(false);
        }
        if !objects.is_empty() {
            let oids: Vec<&str> = objects.iter().map(|o| o.oid.as_str()).collect();
            let kinds: Vec<&str> = objects.iter().map(|o| o.kind.as_str()).collect();
            let data: Vec<&[u8]> = objects.iter().map(|o| o.data.as_slice()).collect();
            sqlx::query(
                "INSERT INTO git_objects (project, oid, kind, data) \
                 SELECT $1, o.oid, o.kind, o.data \
                 FROM UNNEST($2::text[], $3::text[], $4::bytea[]) AS o (oid, kind, data) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(project)
            .bind(&oids)
            .bind(&kinds)
            .bind(&data)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The stored objects of `project` among `oids` (those not stored are left out), in
    /// batches of a thousand ids per query.
    pub async fn git_objects(&self, project: &str, oids: &[String]) -> Result<Vec<GitObject>> {
        let pool = self.git_pool()?;
        let mut out = Vec::with_capacity(oids.len());
        for chunk in oids.chunks(OBJECTS_PER_QUERY) {
            let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
                "SELECT oid, kind, data FROM git_objects WHERE project = $1 AND oid = ANY($2)",
            )
            .bind(project)
            .bind(chunk)
            .fetch_all(pool)
            .await?;
            for (oid, kind, data) in rows {
                out.push(GitObject {
                    oid,
                    kind: GitObjectKind::parse(&kind)?,
                    data,
                });
            }
        }
        Ok(out)
    }

    /// Every stored object of `project` (a replica without a copy of the repository).
    pub async fn git_all_objects(&self, project: &str) -> Result<Vec<GitObject>> {
        let pool = self.git_pool()?;
        let rows: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT oid, kind, data FROM git_objects WHERE project = $1")
                .bind(project)
                .fetch_all(pool)
                .await?;
        rows.into_iter()
            .map(|(oid, kind, data)| {
                Ok(GitObject {
                    oid,
                    kind: GitObjectKind::parse(&kind)?,
                    data,
                })
            })
            .collect()
    }

    /// Removes the reference `name` of `project` (the objects stay); returns whether it
    /// existed.
    pub async fn delete_git_ref(&self, project: &str, name: &str) -> Result<bool> {
        let pool = self.git_pool()?;
        let done = sqlx::query("DELETE FROM git_refs WHERE project = $1 AND name = $2")
            .bind(project)
            .bind(name)
            .execute(pool)
            .await?
            .rows_affected();
        Ok(done > 0)
    }

    /// Removes every branch and object of `project` in one transaction; returns whether it
    /// had a branch.
    pub async fn delete_git(&self, project: &str) -> Result<bool> {
        let pool = self.git_pool()?;
        let mut tx = pool.begin().await?;
        let refs = sqlx::query("DELETE FROM git_refs WHERE project = $1")
            .bind(project)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM git_objects WHERE project = $1")
            .bind(project)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(refs > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::backends;

    fn object(oid: &str, data: &[u8]) -> GitObject {
        GitObject {
            oid: oid.to_owned(),
            kind: GitObjectKind::Blob,
            data: data.to_vec(),
        }
    }

    /// The swap: a new branch is created once, moves only from the head it names, a lost
    /// swap writes none of its objects, and deleting a project removes its rows only.
    #[tokio::test]
    async fn branches_move_by_compare_and_swap_with_their_objects() {
        for backend in backends("git").await {
            let store = backend.open().await;
            if matches!(backend.location, crate::StoreLocation::Sqlite(_)) {
                assert!(matches!(
                    store.git_ref("p", "main").await,
                    Err(Error::InvalidInput(_))
                ));
                assert!(
                    store
                        .publish_git("p", "main", None, "a", &[])
                        .await
                        .is_err()
                );
                continue;
            }
            let a = object("aa", b"first");
            assert!(
                store
                    .publish_git("p", "main", None, "c1", std::slice::from_ref(&a))
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .publish_git("p", "main", None, "c9", &[])
                    .await
                    .unwrap()
            );
            assert_eq!(
                store.git_ref("p", "main").await.unwrap().as_deref(),
                Some("c1")
            );
            // A swap from a head that is not the branch's loses and stores nothing.
            let lost = object("bb", b"lost");
            assert!(
                !store
                    .publish_git("p", "main", Some("c0"), "c2", std::slice::from_ref(&lost))
                    .await
                    .unwrap()
            );
            assert_eq!(
                store.git_ref("p", "main").await.unwrap().as_deref(),
                Some("c1")
            );
            assert!(
                store
                    .git_objects("p", &["bb".to_owned()])
                    .await
                    .unwrap()
                    .is_empty()
            );
            // The winner's objects; a repeated object is kept once.
            let b = object("cc", b"second");
            assert!(
                store
                    .publish_git("p", "main", Some("c1"), "c2", &[a.clone(), b.clone()])
                    .await
                    .unwrap()
            );
            let mut got = store
                .git_objects("p", &["aa".into(), "cc".into(), "zz".into()])
                .await
                .unwrap();
            got.sort_by(|x, y| x.oid.cmp(&y.oid));
            assert_eq!(got, vec![a.clone(), b.clone()]);
            assert!(
                store
                    .publish_git("q", "main", None, "d1", std::slice::from_ref(&a))
                    .await
                    .unwrap()
            );
            assert_eq!(store.git_all_objects("p").await.unwrap().len(), 2);
            assert!(store.delete_git("p").await.unwrap());
            assert!(!store.delete_git("p").await.unwrap());
            assert_eq!(store.git_ref("p", "main").await.unwrap(), None);
            assert!(store.git_all_objects("p").await.unwrap().is_empty());
            assert_eq!(store.git_all_objects("q").await.unwrap(), vec![a]);
        }
    }

    /// Two stores (two replicas) swapping from the same head at once: exactly one wins.
    #[tokio::test]
    async fn one_of_two_concurrent_swaps_wins() {
        for backend in backends("git-race").await {
            if matches!(backend.location, crate::StoreLocation::Sqlite(_)) {
                continue;
            }
            let first = backend.open().await;
            let second = backend.open().await;
            assert!(
                first
                    .publish_git("p", "main", None, "c0", &[])
                    .await
                    .unwrap()
            );
            let (one, two) = ([object("a1", b"1")], [object("a2", b"2")]);
            let (x, y) = tokio::join!(
                first.publish_git("p", "main", Some("c0"), "c1", &one),
                second.publish_git("p", "main", Some("c0"), "c2", &two),
            );
            let (x, y) = (x.unwrap(), y.unwrap());
            assert!(x ^ y, "exactly one swap wins: {x} {y}");
            let head = first.git_ref("p", "main").await.unwrap().unwrap();
            assert_eq!(head, if x { "c1" } else { "c2" });
            let stored = first.git_all_objects("p").await.unwrap();
            assert_eq!(stored.len(), 1);
            assert_eq!(stored[0].oid, if x { "a1" } else { "a2" });
        }
    }
}
