//! The API's side of git upstreams: the `gitCredentials` of a create or update request, and
//! the pull before a read of the head through the resource API (unreachable answers 424, as
//! Keptn's resource-service did; a conflict is logged and the read sees sluice's copy). The
//! syncs themselves are [`crate::projects::upstream`]'s.

use serde_json::Value;

use crate::error::ApiError;
use crate::projects::upstream::sync_project;
use crate::state::App;
use crate::storage::upstream;
pub use crate::storage::upstream::Upstream;

/// Before a read of the head through the API: pulls. A conflict is logged and the read sees
/// sluice's copy; an unreachable upstream is answered (424).
pub async fn pull_before_read(app: &App, project: &str) -> Result<(), ApiError> {
    match sync_project(app, project).await.map_err(ApiError::from) {
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => {
            tracing::warn!(project, message = %e.message, "reading sluice's copy: the git upstream conflicts");
            Ok(())
        }
        other => other,
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
        let text = crate::projects::decode_base64("gitCredentials.ssh.privateKey", &key)
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
