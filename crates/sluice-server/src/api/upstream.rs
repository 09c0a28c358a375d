//! When the API syncs a project with its git upstream ([`crate::storage::upstream`]): after
//! every write (the push; a failure answers 424 and keeps the local commit, pushed by the
//! next successful sync), before every read of the head through the resource API (the pull;
//! unreachable answers 424, as Keptn's resource-service did), and before a sequence trigger
//! is stored (the pull; unreachable: the run uses sluice's copy and the server logs why).
//!
//! A pulled `shipyard.yaml` is taken into the project when it keeps the stages; one that
//! changes them is refused with a warning and stays only in the repository.

use std::collections::BTreeMap;

use serde_json::Value;
use sluice_resources::{FirstSync, Scope, UpstreamMerge};
use sluice_store::ProjectRecord;

use crate::api::projects::{SHIPYARD_URI, check_shipyard_update, record_shipyard, with_resources};
use crate::error::ApiError;
use crate::state::App;
use crate::storage::upstream;
pub use crate::storage::upstream::Upstream;

/// The project's upstream, if it has one.
pub async fn upstream_of(app: &App, record: &ProjectRecord) -> Result<Option<Upstream>, ApiError> {
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
/// resolves to is checked (Keptn refused remote URLs on its deny list with 422).
pub async fn check_outbound(app: &App, url: &str) -> Result<(), ApiError> {
    let policy = app.http.policy();
    let refused = |what: String| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "gitCredentials.remoteURL: refusing to connect to {what}: not a public address; \
                 an administrator can allow it with --outbound-allow or {}",
                crate::net::outbound::ALLOW_ENV
            ),
        )
    };
    let Some((host, port)) = host_and_port(url) else {
        return Err(ApiError::bad_request(format!(
            "gitCredentials.remoteURL `{url}`: cannot read its host and port"
        )));
    };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return if policy.allows_literal(ip, port) {
            Ok(())
        } else {
            Err(refused(format!("{host}:{port}")))
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
            return Err(refused(format!("{host} ({})", address.ip())));
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
) -> Result<UpstreamMerge, ApiError> {
    check_outbound(app, &upstream.url).await?;
    let (resources, project) = (app.resources.clone(), project.to_owned());
    tokio::task::spawn_blocking(move || upstream::sync(&resources, &project, &upstream, first))
        .await
        .map_err(|e| ApiError::internal("a sync with the git upstream did not finish", &e))?
        .map_err(ApiError::from)
}

/// Syncs the project with its upstream, if it has one, and takes a pulled shipyard in.
pub async fn sync_project(app: &App, project: &str) -> Result<(), ApiError> {
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
                tracing::warn!(project = %record.name, message = %e.message, "the shipyard pulled from the git upstream was not recorded");
            }
        }
        Err(e) => {
            tracing::warn!(project = %record.name, message = %e.message, "the shipyard pulled from the git upstream is not used");
        }
    }
}

/// After a write was committed: pushes it. A failure is answered, saying the change is kept.
pub async fn push_after_write(app: &App, project: &str) -> Result<(), ApiError> {
    if let Err(mut e) = sync_project(app, project).await {
        tracing::warn!(project, message = %e.message, "a change was not pushed to the git upstream");
        e.message = format!(
            "{} (the change is saved in sluice and is pushed by the next successful sync)",
            e.message
        );
        return Err(e);
    }
    Ok(())
}

/// Before a read of the head through the API: pulls. A conflict is logged and the read sees
/// sluice's copy; an unreachable upstream is answered (424).
pub async fn pull_before_read(app: &App, project: &str) -> Result<(), ApiError> {
    match sync_project(app, project).await {
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => {
            tracing::warn!(project, message = %e.message, "reading sluice's copy: the git upstream conflicts");
            Ok(())
        }
        other => other,
    }
}

/// Before a sequence trigger is stored: pulls; any failure is logged and the run uses
/// sluice's copy.
pub async fn pull_before_run(app: &App, project: &str) {
    if let Err(e) = sync_project(app, project).await {
        tracing::warn!(project, message = %e.message, "the run uses sluice's copy of the project's files: the git upstream could not be pulled");
    }
}

/// The `gitCredentials` of a create or update request: the upstream, or `None` when there is
/// no `remoteURL`. Keptn's shape: `{remoteURL, user, https: {token, certificate,
/// insecureSkipTLS, proxy}, ssh: {privateKey (base64), privateKeyPass}}`.
pub fn requested(credentials: Option<&Value>) -> Result<Option<Upstream>, ApiError> {
    let Some(c) = credentials.filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let url = field(c, "remoteURL");
    if url.trim().is_empty() {
        return Ok(None);
    }
    upstream::check_url(&url).map_err(ApiError::bad_request)?;
    let https = c.get("https").filter(|v| !v.is_null());
    let ssh = c.get("ssh").filter(|v| !v.is_null());
    let token = https.map(|h| field(h, "token")).unwrap_or_default();
    let key = ssh.map(|s| field(s, "privateKey")).unwrap_or_default();
    if !token.is_empty() && !key.is_empty() {
        return Err(ApiError::bad_request(
            "gitCredentials: give https or ssh credentials, not both",
        ));
    }
    if let Some(h) = https {
        if h.get("insecureSkipTLS").and_then(Value::as_bool) == Some(true) {
            return Err(ApiError::bad_request(
                "gitCredentials.https.insecureSkipTLS is not supported: sluice always checks \
                 the upstream's certificate",
            ));
        }
        if !field(h, "certificate").is_empty() {
            return Err(ApiError::bad_request(
                "gitCredentials.https.certificate is not supported: add the certificate \
                 authority to the system's trust store (or set GIT_SSL_CAINFO for the server)",
            ));
        }
        if h.get("proxy")
            .is_some_and(|p| !p.is_null() && p != &Value::Object(Default::default()))
        {
            return Err(ApiError::bad_request(
                "gitCredentials.https.proxy is not supported",
            ));
        }
    }
    if let Some(s) = ssh
        && !field(s, "privateKeyPass").is_empty()
    {
        return Err(ApiError::bad_request(
            "gitCredentials.ssh.privateKeyPass is not supported: give a key without a \
             passphrase (`ssh-keygen -p -N '' -f KEY` removes it)",
        ));
    }
    let is_ssh = url.to_ascii_lowercase().starts_with("ssh://");
    let auth = if !key.is_empty() {
        if !is_ssh {
            return Err(ApiError::bad_request(
                "gitCredentials.ssh needs an ssh:// remoteURL",
            ));
        }
        // Keptn sent the key base64-encoded; a key given as text is taken too.
        let text = crate::api::projects::decode_base64("gitCredentials.ssh.privateKey", &key)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|t| t.contains("PRIVATE KEY"))
            .unwrap_or(key);
        if !text.contains("PRIVATE KEY") {
            return Err(ApiError::bad_request(
                "gitCredentials.ssh.privateKey is not a private key (PEM or OpenSSH format, \
                 base64-encoded or as text)",
            ));
        }
        upstream::Auth::SshKey(text)
    } else if !token.is_empty() {
        if is_ssh {
            return Err(ApiError::bad_request(
                "gitCredentials.https.token needs an https:// or http:// remoteURL",
            ));
        }
        upstream::Auth::Token(token)
    } else {
        upstream::Auth::None
    };
    Ok(Some(Upstream {
        url,
        user: field(c, "user"),
        auth,
        timeout: upstream::DEFAULT_TIMEOUT,
    }))
}

/// Stores an upstream's secret and its record view (or removes both).
pub async fn store_credentials(
    app: &App,
    project: &str,
    upstream: Option<&Upstream>,
) -> Result<(), ApiError> {
    let name = upstream::secret_name(project);
    match upstream {
        Some(u) if u.auth != upstream::Auth::None => {
            app.store
                .set_internal_secret(&name, &upstream::secret_of(u))
                .await?;
        }
        _ => app.store.delete_internal_secret(&name).await?,
    }
    Ok(())
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
