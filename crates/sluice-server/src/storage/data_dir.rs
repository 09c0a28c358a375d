//! The data directory's protection: everything in it belongs to the user sluice runs as
//! alone (directories 0700, files 0600).
//!
//! One mechanism covers every writer: [`restrict_new_files`] sets the process's file-mode
//! creation mask to 0o077, so whatever the server creates afterwards (the database and its
//! `-wal`/`-shm` files, the git repositories, job runs, deployments) and whatever its child
//! processes create (they inherit the mask) is private. [`prepare`] creates the directory
//! 0700, or tightens an existing one whose mode was wider.

use std::path::Path;

/// The mode of the data directory and of every directory sluice creates in it.
pub const DIRECTORY_MODE: u32 = 0o700;

/// The file-mode creation mask of the server process: no access for group and others.
pub const UMASK: u32 = 0o077;

/// Sets the process's file-mode creation mask to [`UMASK`]. Process-wide and inherited by
/// child processes; call it once at server start, before any file is created.
pub fn restrict_new_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(UMASK));
}

/// What [`prepare`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The directory did not exist and was created with [`DIRECTORY_MODE`].
    Created,
    /// It existed with no access for group and others.
    Private,
    /// It existed with this wider mode and was tightened to [`DIRECTORY_MODE`].
    Tightened {
        /// The permission bits it had.
        was: u32,
    },
}

/// Creates `path` (and missing parents) with [`DIRECTORY_MODE`], or removes group and other
/// access from an existing directory.
pub fn prepare(path: &Path) -> std::io::Result<Prepared> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::metadata(path) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "it exists and is not a directory",
                ));
            }
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 == 0 {
                return Ok(Prepared::Private);
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIRECTORY_MODE))?;
            Ok(Prepared::Tightened { was: mode })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIRECTORY_MODE)
                .create(path)?;
            // The mode given to mkdir is reduced by the process's mask; make it exact.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIRECTORY_MODE))?;
            Ok(Prepared::Created)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_data_dir_is_private_and_a_wide_one_is_tightened() {
        let base = std::env::temp_dir().join(format!("sluice-datadir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("nested").join("data");
        assert_eq!(prepare(&dir).unwrap(), Prepared::Created);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(prepare(&dir).unwrap(), Prepared::Private);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(prepare(&dir).unwrap(), Prepared::Tightened { was: 0o755 });
        assert_eq!(mode(&dir), 0o700);
        let file = base.join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(prepare(&file).is_err());
        let _ = std::fs::remove_dir_all(&base);
    }
}
