//! The one error type of the HTTP API, answered in Keptn's `{"code", "message"}` shape.
//!
//! Handlers return `Result<_, ApiError>`; domain errors are mapped to a status and a message in
//! one place (the `From` impls below), never by hand in a handler. Keptn's clients recognise
//! some errors by their message text ("project not found", ...), so those phrases are kept.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sluice_resources::ResourceError;

/// An error answer: HTTP status plus Keptn's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// Refused files with their diagnostics (uploads only), sent as `files` in
    /// `sluice lint --output json`'s shape besides Keptn's two fields.
    pub files: Vec<crate::storage::uploads::FileReport>,
    /// Seconds to wait before trying again (`Retry-After`), for 429; a 503 without it is
    /// answered with `Retry-After: 1` (the request was not carried out: a replica that no
    /// longer leads, a server stopping).
    pub retry_after: Option<u64>,
}

/// Keptn's error body (`models.Error`), plus the refused files of an upload.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    files: &'a [crate::storage::uploads::FileReport],
}

impl ApiError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            files: Vec::new(),
            retry_after: None,
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no or wrong token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing or invalid API token: send it in the x-token header",
        )
    }

    /// 429: too many wrong tokens from the client's address; it may try again after `wait`.
    pub fn too_many_failed_logins(wait: std::time::Duration) -> Self {
        // Whole seconds, rounded up: retrying at the announced time is never too early.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!(
                "too many wrong API tokens from this address: try again in {seconds} s"
            ),
            retry_after: Some(seconds),
            files: Vec::new(),
        }
    }

    /// 404: something named in the request does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: it exists already.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 500: sluice itself failed; the details go to the log, not to the client.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, internal_message(context))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.status.as_u16(),
            message: &self.message,
            files: &self.files,
        };
        let mut response = (self.status, Json(body)).into_response();
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON: send it with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(ref b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                too_large()
            }
            _ => ApiError::bad_request(rejection.body_text()),
        }
    }
}

/// 413, for a body over [`crate::api::MAX_BODY_BYTES`].
fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is too large: at most {} bytes are accepted",
            crate::api::MAX_BODY_BYTES
        ),
    )
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            _ => ApiError::bad_request(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(format!(
            "invalid query parameters: {}",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(format!("invalid path: {}", rejection.body_text()))
    }
}

/// Keptn's phrase for a missing or duplicate entity, from the store's description of it
/// (`project "shop"`, `service "carts" in project "shop"`, ...): clients match these texts.
fn keptn_entity(what: &str) -> Option<&'static str> {
    ["project", "stage", "service", "resource"]
        .into_iter()
        .find(|entity| {
            what.strip_prefix(entity)
                .is_some_and(|rest| rest.starts_with(' '))
        })
}

impl From<crate::access::rbac::Denied> for ApiError {
    fn from(denied: crate::access::rbac::Denied) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, denied.0)
    }
}

/// The client's message for an internal failure (the details go to the log).
fn internal_message(context: &str) -> String {
    format!("internal error: {context}")
}

/// What an error is answered with, decided without side effects: a status and a message, or
/// an internal failure (the context the client is told, the error the log gets).
enum Answer<'a> {
    Public(StatusCode, String),
    Internal(&'static str, &'a dyn std::error::Error),
}

impl Answer<'_> {
    /// The error answer (an internal failure is logged here).
    fn into_error(self) -> ApiError {
        match self {
            Answer::Public(status, message) => ApiError::new(status, message),
            Answer::Internal(context, error) => ApiError::internal(context, error),
        }
    }

    /// The message the client is told, without logging anything.
    fn message(self) -> String {
        match self {
            Answer::Public(_, message) => message,
            Answer::Internal(context, _) => internal_message(context),
        }
    }
}

fn store_answer(error: &sluice_store::Error) -> Answer<'_> {
    use sluice_store::Error as E;
    let public = Answer::Public;
    match error {
        E::NotFound { what } => public(
            StatusCode::NOT_FOUND,
            match keptn_entity(what) {
                Some(entity) => format!("{entity} not found"),
                None => error.to_string(),
            },
        ),
        E::AlreadyExists { what } => public(
            StatusCode::CONFLICT,
            match keptn_entity(what) {
                Some(entity) => format!("{entity} already exists"),
                None => error.to_string(),
            },
        ),
        E::Duplicate { .. } | E::InUse { .. } => public(StatusCode::CONFLICT, error.to_string()),
        E::InvalidInput(_) => public(StatusCode::BAD_REQUEST, error.to_string()),
        E::Fenced { .. } => public(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{error}: this replica no longer leads; send the request again"),
        ),
        E::Database(_) | E::Tls(_) | E::Sqlite(_) | E::Corrupt(_) | E::EarlierCommitFailed => {
            Answer::Internal("the database failed", error)
        }
        E::SecretsLocked | E::WrongSecretsKey { .. } | E::Random(_) => {
            Answer::Internal("the secrets cannot be used", error)
        }
    }
}

impl From<sluice_store::Error> for ApiError {
    fn from(error: sluice_store::Error) -> Self {
        store_answer(&error).into_error()
    }
}

impl From<crate::services::monitoring::Error> for ApiError {
    fn from(error: crate::services::monitoring::Error) -> Self {
        match error {
            crate::services::monitoring::Error::Store(e) => e.into(),
            e @ crate::services::monitoring::Error::Corrupt { .. } => {
                ApiError::internal("the monitoring configuration is unreadable", &e)
            }
        }
    }
}

/// The HTTP status Keptn's resource-service answered with for a resource error (413 for
/// [`TooLarge`](ResourceError::TooLarge), which Keptn's gateway enforced).
fn resource_status(error: &ResourceError) -> StatusCode {
    match error {
        ResourceError::ProjectNotFound
        | ResourceError::StageNotFound
        | ResourceError::ServiceNotFound
        | ResourceError::ResourceNotFound
        | ResourceError::CommitNotFound(_) => StatusCode::NOT_FOUND,
        ResourceError::AlreadyExists(_)
        | ResourceError::Conflict { .. }
        | ResourceError::UpstreamConflict(_) => StatusCode::CONFLICT,
        ResourceError::UpstreamNotEmpty => StatusCode::FAILED_DEPENDENCY,
        ResourceError::InvalidResourceUri(_)
        | ResourceError::InvalidName(_)
        | ResourceError::InvalidPageKey(_)
        | ResourceError::TooManyFiles { .. } => StatusCode::BAD_REQUEST,
        ResourceError::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
        ResourceError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ResourceError::Git(_) | ResourceError::Io(_) | ResourceError::Shared(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn resource_answer(error: &ResourceError) -> Answer<'_> {
    match resource_status(error) {
        StatusCode::INTERNAL_SERVER_ERROR => {
            Answer::Internal("the project repository failed", error)
        }
        status => Answer::Public(status, error.to_string()),
    }
}

impl From<ResourceError> for ApiError {
    fn from(error: ResourceError) -> Self {
        resource_answer(&error).into_error()
    }
}

/// An upstream that cannot be reached or refuses is a failed dependency (Keptn's 424); a
/// conflict with it is a conflict (409).
fn upstream_answer(error: &crate::storage::upstream::UpstreamError) -> Answer<'_> {
    use crate::storage::upstream::UpstreamError;
    match error {
        UpstreamError::Resources(e) => resource_answer(e),
        other => Answer::Public(StatusCode::FAILED_DEPENDENCY, other.to_string()),
    }
}

impl From<crate::storage::upstream::UpstreamError> for ApiError {
    fn from(error: crate::storage::upstream::UpstreamError) -> Self {
        upstream_answer(&error).into_error()
    }
}

/// A refused upstream host is 422 (as Keptn answered remote URLs on its deny list); a change
/// that was saved but not pushed keeps the status of why, and says that it was saved.
fn sync_answer(error: &crate::projects::upstream::Error) -> Answer<'_> {
    use crate::projects::upstream::{Error as E, KEPT};
    match error {
        E::UnreadableUrl(_) => Answer::Public(StatusCode::BAD_REQUEST, error.to_string()),
        E::Refused(_) => Answer::Public(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()),
        E::Sync(e) => upstream_answer(e),
        E::Store(e) => store_answer(e),
        E::Unfinished(e) => Answer::Internal("a sync with the git upstream did not finish", e),
        E::NotPushed(inner) => match sync_answer(inner) {
            Answer::Public(status, message) => Answer::Public(status, format!("{message} {KEPT}")),
            internal => Answer::Public(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{} {KEPT}", internal.message()),
            ),
        },
    }
}

impl From<crate::projects::upstream::Error> for ApiError {
    fn from(error: crate::projects::upstream::Error) -> Self {
        sync_answer(&error).into_error()
    }
}

fn project_answer(error: &crate::projects::Error) -> Answer<'_> {
    use crate::projects::Error as E;
    match error {
        E::Invalid(message) => Answer::Public(StatusCode::BAD_REQUEST, message.clone()),
        E::ProjectExists | E::ServiceExists => {
            Answer::Public(StatusCode::CONFLICT, error.to_string())
        }
        E::StageNotFound | E::ServiceNotFound => {
            Answer::Public(StatusCode::NOT_FOUND, error.to_string())
        }
        E::Store(e) => store_answer(e),
        E::Resources(e) => resource_answer(e),
        E::Upstream(e) => sync_answer(e),
        E::Unfinished { what, source } => Answer::Internal(what, source),
        E::Lifecycle(e) => Answer::Internal("a lifecycle event could not be stored", e),
    }
}

impl From<crate::projects::Error> for ApiError {
    fn from(error: crate::projects::Error) -> Self {
        project_answer(&error).into_error()
    }
}

/// The message a client is answered for a project error (the `message` of a lifecycle
/// `.finished` event), without logging anything.
pub fn message(error: &crate::projects::Error) -> String {
    project_answer(error).message()
}

impl From<crate::storage::uploads::Error> for ApiError {
    fn from(error: crate::storage::uploads::Error) -> Self {
        match error {
            crate::storage::uploads::Error::Resource(e) => e.into(),
            crate::storage::uploads::Error::Invalid(files) => ApiError {
                message: crate::storage::uploads::summary(&files),
                files,
                status: StatusCode::BAD_REQUEST,
                retry_after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_errors_answer_keptns_status_codes() {
        use sluice_resources::Entity;
        for (error, status) in [
            (ResourceError::ResourceNotFound, 404),
            (ResourceError::ProjectNotFound, 404),
            (ResourceError::CommitNotFound("abc".into()), 404),
            (ResourceError::AlreadyExists(Entity::Stage), 409),
            (ResourceError::InvalidPageKey("x".into()), 400),
            (
                ResourceError::TooManyFiles {
                    count: 1001,
                    limit: 1000,
                },
                400,
            ),
            (ResourceError::Interrupted, 503),
            (ResourceError::Io(std::io::Error::other("disk full")), 500),
        ] {
            assert_eq!(resource_status(&error).as_u16(), status, "{error}");
            assert_eq!(ApiError::from(error).status.as_u16(), status);
        }
    }

    #[test]
    fn unavailable_answers_say_when_to_try_again() {
        let fenced = ApiError::from(ResourceError::Interrupted).into_response();
        assert_eq!(fenced.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(fenced.headers()["retry-after"], "1");
        let wait = ApiError::too_many_failed_logins(std::time::Duration::from_millis(2500));
        assert_eq!(wait.into_response().headers()["retry-after"], "3");
        let other = ApiError::internal("x", &std::io::Error::other("y")).into_response();
        assert!(other.headers().get("retry-after").is_none());
    }

    #[tokio::test]
    async fn errors_use_keptns_shape() {
        let response = ApiError::not_found("project not found").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": 404, "message": "project not found"})
        );
    }

    #[test]
    fn store_errors_get_keptns_phrases() {
        let e: ApiError = sluice_store::Error::NotFound {
            what: "service \"carts\" in project \"shop\"".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::NOT_FOUND, "service not found")
        );
        let e: ApiError = sluice_store::Error::AlreadyExists {
            what: "project \"shop\"".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::CONFLICT, "project already exists")
        );
        let e: ApiError = sluice_store::Error::InvalidInput("bad key".into()).into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e: ApiError = sluice_store::Error::Corrupt("x".into()).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains('x'), "details stay in the log");
    }

    #[test]
    fn project_errors_answer_keptns_phrases_and_lifecycle_events_carry_the_same_message() {
        use crate::projects::Error as P;
        use crate::projects::upstream::Error as U;
        use crate::storage::upstream::UpstreamError;
        let unreachable = || {
            U::Sync(UpstreamError::Unreachable {
                url: "https://example.invalid/r.git".into(),
                detail: "no route".into(),
            })
        };
        let cases: Vec<(P, u16, String)> = vec![
            (
                P::Invalid("invalid shipyard: x".into()),
                400,
                "invalid shipyard: x".into(),
            ),
            (P::ProjectExists, 409, "project already exists".into()),
            (P::ServiceExists, 409, "service already exists".into()),
            (P::StageNotFound, 404, "stage not found".into()),
            (P::ServiceNotFound, 404, "service not found".into()),
            (
                P::Store(sluice_store::Error::NotFound {
                    what: "project \"shop\"".into(),
                }),
                404,
                "project not found".into(),
            ),
            (
                P::Resources(ResourceError::StageNotFound),
                404,
                "stage not found".into(),
            ),
            (
                P::Upstream(U::Refused("10.0.0.1:443".into())),
                422,
                U::Refused("10.0.0.1:443".into()).to_string(),
            ),
            (
                P::Upstream(U::UnreadableUrl("https://h:x/r".into())),
                400,
                "gitCredentials.remoteURL `https://h:x/r`: cannot read its host and port".into(),
            ),
            (P::Upstream(unreachable()), 424, unreachable().to_string()),
            (
                P::Upstream(U::NotPushed(Box::new(unreachable()))),
                424,
                format!("{} {}", unreachable(), crate::projects::upstream::KEPT),
            ),
            (
                P::Lifecycle(crate::runtime::driver::Error::Stopped),
                500,
                "internal error: a lifecycle event could not be stored".into(),
            ),
        ];
        for (error, status, text) in cases {
            assert_eq!(message(&error), text, "{error:?}");
            let answer = ApiError::from(error);
            assert_eq!(
                (answer.status.as_u16(), answer.message.as_str()),
                (status, text.as_str())
            );
        }
    }

    #[test]
    fn resource_errors_keep_status_and_message() {
        use sluice_resources::ResourceError as R;
        for (error, status, message) in [
            (R::StageNotFound, 404, "stage not found"),
            (R::ResourceNotFound, 404, "resource not found"),
            (
                R::AlreadyExists(sluice_resources::Entity::Service),
                409,
                "service already exists",
            ),
            (
                R::InvalidResourceUri("`..`".into()),
                400,
                "invalid resource uri: `..`",
            ),
            (
                R::TooLarge { size: 2, limit: 1 },
                413,
                "resource content too large: 2 bytes, at most 1 bytes allowed",
            ),
        ] {
            let e: ApiError = error.into();
            assert_eq!((e.status.as_u16(), e.message.as_str()), (status, message));
        }
        let e: ApiError = R::Io(std::io::Error::other("disk")).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
