//! When a project is synced with its git upstream ([`crate::storage::upstream`]): after
//! every write (the push; a failure keeps the local commit, pushed by the next successful
//! sync), before every read of the head through the resource API (the pull) and before a
//! sequence trigger is stored (the pull; unreachable: the run uses sluice's copy and the
//! server logs why). Every sync first checks the upstream's host against the outbound rules.
//!
//! A pulled `shipyard.yaml` is taken into the project when it keeps the stages; one that
//! changes them is refused with a warning and stays only in the repository.

use std::collections::BTreeMap;

use sluice_resources::{FirstSync, Scope, UpstreamMerge};
use sluice_store::ProjectRecord;

use crate::projects::{SHIPYARD_URI, check_shipyard_update, record_shipyard, with_resources};
use crate::state::App;
pub use crate::storage::upstream::Upstream;
use crate::storage::upstream::{self, UpstreamError};

/// Added to the message of a change that was saved but not pushed.
pub const KEPT: &str = "(the change is saved in sluice and is pushed by the next successful sync)";

/// Why a sync with a project's upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The upstream URL has no readable host and port.
    #[error("gitCredentials.remoteURL `{0}`: cannot read its host and port")]
    UnreadableUrl(String),
    /// The outbound rules refuse the upstream's host (the host, or the host and the refused
    /// address).
    #[error(
        "gitCredentials.remoteURL: refusing to connect to {0}: not a public address; an \
         administrator can allow it with --outbound-allow or {env}",
        env = crate::net::outbound::ALLOW_ENV
    )]
    Refused(String),
    /// The sync itself failed (unreachable, refused, conflicting, or the repository).
    #[error(transparent)]
    Sync(#[from] UpstreamError),
    /// The store failed reading the project or its credentials.
    #[error(transparent)]
    Store(#[from] sluice_store::Error),
    /// The sync's blocking task did not finish.
    #[error("a sync with the git upstream did not finish")]
    Unfinished(#[source] tokio::task::JoinError),
    /// A committed change could not be pushed: it is kept and pushed by the next sync.
    #[error("{0} {kept}", kept = KEPT)]
    NotPushed(Box<Error>),
}

/// The project's upstream, if it has one.
pub async fn upstream_of(app: &App, record: &ProjectRecord) -> Result<Option<Upstream>, Error> {
    let Some(view) = record.git_upstream.as_ref() else {
        return Ok(None);
    };
    if view["remoteURL"].as_str().unwrap_or("").is_empty() {
        return Ok(None);
    }
    let secret = match app
        .store
        .internal_secret(&upstream::secret_name(&record.name))
        .await
    {
        Ok(secret) => secret,
        Err(sluice_store::Error::NotFound { .. }) => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(upstream::from_stored(view, &secret)?))
}

/// Host and port of an upstream URL (`https://`, `http://`, `ssh://`; checked before).
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        _ => 22,
    };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

/// The upstream must be a host the outbound rules allow (public, or named by
/// `--outbound-allow`), like every other connection the server makes: every address its name
/// resolves to is checked (Keptn refused remote URLs on its deny list).
pub async fn check_outbound(app: &App, url: &str) -> Result<(), Error> {
    let policy = app.http.policy();
    let Some((host, port)) = host_and_port(url) else {
        return Err(Error::UnreadableUrl(url.to_owned()));
    };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return if policy.allows_literal(ip, port) {
            Ok(())
        } else {
            Err(Error::Refused(format!("{host}:{port}")))
        };
    }
    if policy.allows_name(&host, port) {
        return Ok(());
    }
    let lookup = tokio::time::timeout(
        upstream::DEFAULT_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await;
    // A name that does not resolve is answered by the sync as unreachable.
    let Ok(Ok(addresses)) = lookup else {
        return Ok(());
    };
    for address in addresses {
        if !policy.allows_addr(address.ip()) {
            return Err(Error::Refused(format!("{host} ({})", address.ip())));
        }
    }
    Ok(())
}

/// The project's upstream URL (Keptn's `metadata.upstreamURL` of a resource), `""` without
/// one (or when the project cannot be read: the answer is about the file).
pub async fn remote_url(app: &App, project: &str) -> String {
    match app.store.project(project).await {
        Ok(record) => record
            .git_upstream
            .as_ref()
            .and_then(|v| v["remoteURL"].as_str())
            .unwrap_or("")
            .to_owned(),
        Err(_) => String::new(),
    }
}

/// Runs one sync on the blocking pool, after checking the upstream against the outbound
/// rules.
pub async fn sync_with(
    app: &App,
    project: &str,
    upstream: Upstream,
    first: FirstSync,
) -> Result<UpstreamMerge, Error> {
    check_outbound(app, &upstream.url).await?;
    let (resources, project) = (app.resources.clone(), project.to_owned());
    Ok(
        tokio::task::spawn_blocking(move || upstream::sync(&resources, &project, &upstream, first))
            .await
            .map_err(Error::Unfinished)??,
    )
}

/// Syncs the project with its upstream, if it has one, and takes a pulled shipyard in.
pub async fn sync_project(app: &App, project: &str) -> Result<(), Error> {
    let record = match app.store.project(project).await {
        Ok(record) => record,
        Err(sluice_store::Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(upstream) = upstream_of(app, &record).await? else {
        return Ok(());
    };
    let merge = sync_with(app, project, upstream, FirstSync::Attach).await?;
    if merge.pulled {
        take_pulled_shipyard(app, &record).await;
    }
    Ok(())
}

/// After a pull: the repository's shipyard, when it changed and keeps the stages, becomes the
/// project's.
async fn take_pulled_shipyard(app: &App, record: &ProjectRecord) {
    let project = record.name.clone();
    let read = with_resources(app, move |r| {
        r.get_resource(Scope::project(&project), SHIPYARD_URI, None)
    })
    .await;
    let Ok(resource) = read else { return };
    if resource.content == record.shipyard.as_bytes() {
        return;
    }
    match check_shipyard_update(record, &resource.content) {
        Ok((shipyard, text)) => {
            if let Err(e) = record_shipyard(app, record, shipyard, text).await {
                tracing::warn!(project = %record.name, message = %e, "the shipyard pulled from the git upstream was not recorded");
            }
        }
        Err(e) => {
            tracing::warn!(project = %record.name, message = %e, "the shipyard pulled from the git upstream is not used");
        }
    }
}

/// After a write was committed: pushes it. A failure is [`Error::NotPushed`]: the change is
/// kept.
pub async fn push_after_write(app: &App, project: &str) -> Result<(), Error> {
    if let Err(e) = sync_project(app, project).await {
        tracing::warn!(project, message = %e, "a change was not pushed to the git upstream");
        return Err(Error::NotPushed(Box::new(e)));
    }
    Ok(())
}

/// Before a sequence trigger is stored: pulls; any failure is logged and the run uses
/// sluice's copy.
pub async fn pull_before_run(app: &App, project: &str) {
    if let Err(e) = sync_project(app, project).await {
        tracing::warn!(project, message = %e, "the run uses sluice's copy of the project's files: the git upstream could not be pulled");
    }
}

/// Stores an upstream's secret (or removes it).
pub async fn store_credentials(
    app: &App,
    project: &str,
    upstream: Option<&Upstream>,
) -> Result<(), sluice_store::Error> {
    let name = upstream::secret_name(project);
    match upstream {
        Some(u) if u.auth != upstream::Auth::None => {
            app.store
                .set_internal_secret(&name, &upstream::secret_of(u))
                .await
        }
        _ => app.store.delete_internal_secret(&name).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_are_read_from_upstream_urls() {
        let read = |u: &str| host_and_port(u).unwrap();
        assert_eq!(
            read("https://github.com/o/r.git"),
            ("github.com".into(), 443)
        );
        assert_eq!(read("http://127.0.0.1:8080/r"), ("127.0.0.1".into(), 8080));
        assert_eq!(read("ssh://git@host:2222/r"), ("host".into(), 2222));
        assert_eq!(read("ssh://git@host/r"), ("host".into(), 22));
        assert_eq!(read("https://[::1]:9/r"), ("::1".into(), 9));
        assert!(host_and_port("https://h:notaport/r").is_none());
    }
}
