//! A task's `files`: service resources copied into the run's private `keptn/` directory, and
//! the rewriting of `/keptn/...` paths (JES mounted a volume at `/keptn`) to that directory.

use std::path::{Path, PathBuf};

use sluice_resources::{PageRequest, ResourceError, ResourceStore, Scope};

/// Where the original job executor mounted the task's files.
pub const MOUNT: &str = "/keptn";

/// Rewrites a `/keptn` path prefix to `keptn_dir`: the whole string when it is `/keptn` or
/// starts with `/keptn/`, and the part after the first `=` likewise (`--config=/keptn/x`).
/// Anything else is returned unchanged.
pub fn rewrite_keptn_path(s: &str, keptn_dir: &Path) -> String {
    let dir = keptn_dir.to_string_lossy();
    let rewrite = |part: &str| -> Option<String> {
        if part == MOUNT {
            Some(dir.clone().into_owned())
        } else {
            part.strip_prefix("/keptn/")
                .map(|rest| format!("{}/{rest}", dir.trim_end_matches('/')))
        }
    };
    if let Some(r) = rewrite(s) {
        return r;
    }
    if let Some((flag, value)) = s.split_once('=')
        && let Some(r) = rewrite(value)
    {
        return format!("{flag}={r}");
    }
    s.to_owned()
}

/// Copies the resources named by `entries` from the service level (at `commit`, else the
/// latest) into `keptn_dir`, keeping their paths. JES's rules: a leading `/` is optional; an
/// entry naming a file copies that file, otherwise every file under `<entry>/`; an entry that
/// matches nothing fails with "could not find file or directory <entry>".
///
/// Returns the URIs written. Blocking (git): call it on a blocking thread.
pub fn materialise(
    resources: &ResourceStore,
    scope: Scope<'_>,
    commit: Option<&str>,
    entries: &[String],
    keptn_dir: &Path,
) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    for (uri, content) in collect(resources, scope, commit, entries)? {
        write(keptn_dir, &uri, &content)?;
        written.push(uri);
    }
    Ok(written)
}

/// The files `entries` name, by the rules of [`materialise`], as `(uri, content)` (for a
/// Kubernetes Job's ConfigMap). Blocking (git).
pub fn collect(
    resources: &ResourceStore,
    scope: Scope<'_>,
    commit: Option<&str>,
    entries: &[String],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut found_files = Vec::new();
    let mut listing: Option<Vec<String>> = None;
    for entry in entries {
        let name = entry.trim_start_matches('/').trim_end_matches('/');
        if !name.is_empty()
            && let Ok(resource) = resources.get_resource(scope, name, commit)
        {
            let uri = resource.uri.as_str().to_owned();
            found_files.push((uri, resource.content));
            continue;
        }
        if listing.is_none() {
            listing =
                Some(list_all(resources, scope, commit).map_err(|e| {
                    format!("could not list the service's resources for {entry}: {e}")
                })?);
        }
        let prefix = if name.is_empty() {
            String::new()
        } else {
            format!("{name}/")
        };
        let mut found = false;
        for uri in listing.iter().flatten().filter(|u| u.starts_with(&prefix)) {
            let resource = resources
                .get_resource(scope, uri, commit)
                .map_err(|e| format!("could not read {uri}: {e}"))?;
            let uri = resource.uri.as_str().to_owned();
            found_files.push((uri, resource.content));
            found = true;
        }
        if !found {
            return Err(format!("could not find file or directory {entry}"));
        }
    }
    Ok(found_files)
}

fn list_all(
    resources: &ResourceStore,
    scope: Scope<'_>,
    commit: Option<&str>,
) -> Result<Vec<String>, ResourceError> {
    let mut uris = Vec::new();
    let mut key: Option<String> = None;
    loop {
        let page = resources.list_resources(
            scope,
            commit,
            PageRequest {
                page_size: 1000,
                next_page_key: key.as_deref(),
            },
        )?;
        uris.extend(page.uris);
        match page.next_page_key {
            Some(k) => key = Some(k),
            None => return Ok(uris),
        }
    }
}

fn write(keptn_dir: &Path, uri: &str, content: &[u8]) -> Result<(), String> {
    // Resource URIs are validated by the resource store: relative, no `..`.
    let path: PathBuf = keptn_dir.join(uri);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keptn_prefixes_are_rewritten() {
        let d = Path::new("/data/runs/t/000-000/keptn");
        assert_eq!(
            rewrite_keptn_path("/keptn", d),
            "/data/runs/t/000-000/keptn"
        );
        assert_eq!(
            rewrite_keptn_path("/keptn/charts/a.tgz", d),
            "/data/runs/t/000-000/keptn/charts/a.tgz"
        );
        assert_eq!(
            rewrite_keptn_path("--config=/keptn/l.conf", d),
            "--config=/data/runs/t/000-000/keptn/l.conf"
        );
        assert_eq!(rewrite_keptn_path("/keptnx/a", d), "/keptnx/a");
        assert_eq!(rewrite_keptn_path("x/keptn/a", d), "x/keptn/a");
        assert_eq!(rewrite_keptn_path("-n", d), "-n");
    }
}
