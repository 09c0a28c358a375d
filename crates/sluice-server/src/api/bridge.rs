//! The web UI ("bridge", after Keptn's Bridge): its pages, embedded in the binary and served
//! under `/bridge/`, and its login.
//!
//! The pages are hand-written HTML, CSS and JavaScript modules (`crates/sluice-server/ui/`),
//! included at compile time: no build step, nothing fetched from the network. They call the
//! ordinary API with a session cookie instead of the token:
//!
//! * `POST /bridge/api/login` with `{"token": "<API token>"}` opens a session: the cookie
//!   `sluice_session` (HttpOnly, SameSite=Strict) and, in the answer, the session's CSRF token;
//! * `GET /bridge/api/session` answers the CSRF token again for a page that was reloaded
//!   (401 without a valid session);
//! * `POST /bridge/api/logout` ends the session.
//!
//! Every page answer carries a strict Content-Security-Policy (only the server's own scripts,
//! styles and connections; no inline scripts; no framing).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::access::session::{self, Session};
use crate::api::extract::{Body, Json, Path};
use crate::error::ApiError;
use crate::state::App;

/// Header in which the pages send the session's CSRF token with every change.
pub const CSRF_HEADER: &str = "x-sluice-csrf";

/// Content-Security-Policy of the pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file of the UI.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../../ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the UI.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("projects.js", JS),
    asset!("environment.js", JS),
    asset!("sequences.js", JS),
    asset!("quality.js", JS),
    asset!("heatmap.js", JS),
    asset!("integrations.js", JS),
    asset!("routes.js", JS),
    asset!("access.js", JS),
    asset!("audit.js", JS),
    asset!("notifications.js", JS),
];

/// The routes of the UI (outside the token check: the pages hold no data, and login is how a
/// browser gets in).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/bridge/") }))
        .route("/bridge", get(|| async { Redirect::to("/bridge/") }))
        .route("/bridge/", get(|| async { serve_asset("index.html") }))
        .route("/bridge/{file}", get(asset))
        .route("/bridge/api/login", post(login))
        .route("/bridge/api/session", get(current_session))
        .route("/bridge/api/logout", post(logout))
}

async fn asset(Path(file): Path<String>) -> Response {
    serve_asset(&file)
}

fn serve_asset(name: &str) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => with_page_headers(
            (
                [
                    (header::CONTENT_TYPE, a.content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                a.body,
            )
                .into_response(),
        ),
        None => ApiError::not_found(format!("no such page: /bridge/{name}")).into_response(),
    }
}

/// Adds the security headers every page answer carries.
fn with_page_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The session id in the request's cookies, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::cookie_value)
}

/// Refuses a request that a browser says comes from another site: an `Origin` other than this
/// server's own (`http(s)://<Host>`), or `Sec-Fetch-Site` other than `same-origin`/`none`.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err(forbidden(format!(
            "cross-site request refused (Sec-Fetch-Site: {site})"
        )));
    }
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or("");
        let own = !host.is_empty()
            && (origin == format!("http://{host}") || origin == format!("https://{host}"));
        if !own {
            return Err(forbidden(format!(
                "cross-site request refused (Origin {origin} is not this server)"
            )));
        }
    }
    Ok(())
}

/// The request must carry the session's CSRF token in [`CSRF_HEADER`].
pub fn check_csrf(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if crate::access::auth::constant_time_eq(presented.as_bytes(), session.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(forbidden(format!(
            "missing or wrong {CSRF_HEADER} header: changes made with a web UI session need the session's CSRF token"
        )))
    }
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    token: String,
}

/// The session's CSRF token, lifetime, and the role, scope and rights of its token (the pages
/// show only what these allow).
fn session_answer(session: &Session) -> Json<serde_json::Value> {
    Json(json!({
        "csrf": session.csrf,
        "expiresInSeconds": session::LIFETIME.as_secs(),
        "principal": super::tokens::describe(&session.principal),
    }))
}

async fn login(
    State(app): State<Arc<App>>,
    client: super::ClientAddr,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_same_origin(&headers)?;
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json_body {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the token as JSON: {\"token\": \"...\"} with Content-Type application/json",
        ));
    }
    let request: LoginRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid login request: {e} (expected {{\"token\": \"...\"}})"
        ))
    })?;
    let principal = super::check_token(&app, client, request.token.trim(), Instant::now(), || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong API token: use the token `sluice server` printed when it created it (or SLUICE_API_TOKEN), or one made with `sluice token create`",
        )
    })
    .await?;
    let session = app
        .sessions
        .create(Instant::now(), principal)
        .map_err(|e| ApiError::internal("cannot open a session", &e))?;
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        session::COOKIE,
        session.id,
        session::LIFETIME.as_secs()
    );
    let mut response = session_answer(&session).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie)
            .map_err(|e| ApiError::internal("cannot write the session cookie", &e))?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn current(app: &App, headers: &HeaderMap) -> Result<Session, ApiError> {
    session_cookie(headers)
        .and_then(|id| app.sessions.get(id, Instant::now()))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not logged in"))
}

async fn current_session(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut session = current(&app, &headers)?;
    // The token's role and scope as they are now (a revoked or expired token ends here).
    session.principal = super::refresh(&app, &session.principal).await?;
    let mut response = session_answer(&session).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = current(&app, &headers)?;
    check_same_origin(&headers)?;
    check_csrf(&headers, &session)?;
    app.sessions.remove(&session.id);
    let mut response = Json(json!({"message": "logged out"})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sluice_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, TOKEN, send};
    use axum::body::Body;

    fn request(method: &str, uri: &str) -> axum::http::request::Builder {
        axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1:8090")
    }

    /// A request without a body that carries only the session cookie.
    fn with_cookie(method: &str, uri: &str, cookie: &str) -> axum::http::Request<Body> {
        request(method, uri)
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap()
    }

    async fn log_in(router: &Router) -> (String, String) {
        let (status, headers, body) = send(
            router,
            request("POST", "/bridge/api/login")
                .header("content-type", "application/json")
                .header("origin", "http://127.0.0.1:8090")
                .body(Body::from(json!({"token": TOKEN}).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = headers
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let id = cookie
            .split(';')
            .next()
            .unwrap()
            .strip_prefix("sluice_session=")
            .unwrap()
            .to_owned();
        let csrf = serde_json::from_str::<serde_json::Value>(&body).unwrap()["csrf"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, csrf)
    }

    /// A login attempt from `client` with `token`: status and `Retry-After`.
    async fn login_from(
        router: &Router,
        client: &str,
        token: &str,
    ) -> (StatusCode, Option<String>) {
        let addr: std::net::SocketAddr = format!("{client}:40000").parse().unwrap();
        let mut r = request("POST", "/bridge/api/login")
            .header("content-type", "application/json")
            .body(Body::from(json!({ "token": token }).to_string()))
            .unwrap();
        r.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        let (status, headers, _) = send(router, r).await;
        let retry = headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, retry)
    }

    #[tokio::test]
    async fn failed_logins_back_off_per_address_and_a_success_resets() {
        use crate::access::login_backoff::FREE_FAILURES;
        let (_app, router) = testkit::app().await;
        let wrong = "wrong-token-0000000";
        // Fewer than the free failures, then a success: counting starts again.
        for _ in 1..FREE_FAILURES {
            assert_eq!(
                login_from(&router, "192.0.2.7", wrong).await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            login_from(&router, "192.0.2.7", TOKEN).await,
            (StatusCode::OK, None)
        );
        for _ in 0..FREE_FAILURES {
            assert_eq!(
                login_from(&router, "192.0.2.7", wrong).await,
                (StatusCode::UNAUTHORIZED, None)
            );
        }
        // Now the address waits, whatever token it sends, on the login and on the API.
        assert_eq!(
            login_from(&router, "192.0.2.7", wrong).await,
            (StatusCode::TOO_MANY_REQUESTS, Some("1".to_owned()))
        );
        assert_eq!(
            login_from(&router, "192.0.2.7", TOKEN).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        let mut api = request("GET", "/api/v1/metadata")
            .header("x-token", TOKEN)
            .body(Body::empty())
            .unwrap();
        api.extensions_mut().insert(axum::extract::ConnectInfo(
            "192.0.2.7:1".parse::<std::net::SocketAddr>().unwrap(),
        ));
        assert_eq!(send(&router, api).await.0, StatusCode::TOO_MANY_REQUESTS);
        // Another address is not affected.
        assert_eq!(
            login_from(&router, "192.0.2.8", TOKEN).await.0,
            StatusCode::OK
        );
    }

    #[test]
    fn every_file_of_the_ui_directory_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "add new UI files to ASSETS");
    }

    #[tokio::test]
    async fn pages_are_served_with_their_types_and_security_headers() {
        let (_app, router) = testkit::app().await;
        for (uri, content_type, needle) in [
            (
                "/bridge/",
                "text/html; charset=utf-8",
                "<script type=\"module\"",
            ),
            ("/bridge/app.js", JS, "import"),
            ("/bridge/style.css", "text/css; charset=utf-8", "{"),
            ("/bridge/favicon.svg", "image/svg+xml", "<svg"),
        ] {
            let (status, headers, body) =
                send(&router, request("GET", uri).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers["content-type"], content_type, "{uri}");
            assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
            assert_eq!(headers["x-frame-options"], "DENY");
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert!(body.contains(needle), "{uri}");
        }
        let (status, _, body) = send(
            &router,
            request("GET", "/bridge/nope.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("\"code\":404"), "{body}");
        for uri in ["/", "/bridge"] {
            let (status, headers, _) =
                send(&router, request("GET", uri).body(Body::empty()).unwrap()).await;
            assert!(status.is_redirection(), "{uri}: {status}");
            assert_eq!(headers["location"], "/bridge/");
        }
        // Every embedded file is a page of its own: no inline scripts in the HTML.
        let index = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(!index.contains("<script>") && !index.contains("onclick"));
    }

    #[tokio::test]
    async fn login_sets_a_strict_http_only_cookie_and_answers_the_csrf_token() {
        let (_app, router) = testkit::app().await;
        let (status, headers, body) = send(
            &router,
            request("POST", "/bridge/api/login")
                .header("content-type", "application/json")
                .body(Body::from(json!({"token": TOKEN}).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = headers["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("sluice_session="), "{cookie}");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.split("; ").any(|f| f == flag), "{flag} in {cookie}");
        }
        assert!(body.contains("\"csrf\""), "{body}");
        assert!(!body.contains(TOKEN));

        // Wrong token, not JSON, foreign origin.
        for (content_type, origin, body, want) in [
            (
                "application/json",
                None,
                json!({"token": "wrong-token-0000000"}).to_string(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "application/x-www-form-urlencoded",
                None,
                format!("token={TOKEN}"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "application/json",
                Some("http://evil.example"),
                json!({"token": TOKEN}).to_string(),
                StatusCode::FORBIDDEN,
            ),
            (
                "application/json",
                None,
                "{}".to_owned(),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let mut r = request("POST", "/bridge/api/login").header("content-type", content_type);
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            let (status, headers, answer) = send(&router, r.body(Body::from(body)).unwrap()).await;
            assert_eq!(status, want, "{answer}");
            assert!(headers.get("set-cookie").is_none());
        }
    }

    #[tokio::test]
    async fn a_session_carries_the_role_of_its_token_until_the_token_is_revoked() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::ONE_TASK_SHIPYARD, &["carts"]).await;
        let (status, made) = testkit::call(
            &router,
            "POST",
            "/api/sluice/v1/tokens",
            Some(
                json!({"name": "ui-viewer", "role": "viewer", "project": "shop", "expires": "1d"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let (status, headers, body) = send(
            &router,
            request("POST", "/bridge/api/login")
                .header("content-type", "application/json")
                .body(Body::from(json!({"token": made["token"]}).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["principal"]["role"], "viewer");
        assert_eq!(answer["principal"]["project"], "shop");
        assert_eq!(answer["principal"]["rights"], json!(["read"]));
        let cookie = headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let csrf = answer["csrf"].as_str().unwrap().to_owned();
        let as_session = |method: &str, uri: &str, body: Option<serde_json::Value>| {
            request(method, uri)
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf)
                .header("content-type", "application/json")
                .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
                .unwrap()
        };
        let (status, _, _) = send(
            &router,
            as_session("GET", "/api/controlPlane/v1/project/shop", None),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let approve = json!({"type": "sh.keptn.event.approval.finished", "specversion": "1.0", "source": "ui",
            "triggeredid": "t", "data": {"project": "shop", "stage": "dev", "service": "carts", "result": "pass", "status": "succeeded"}});
        let (status, _, body) =
            send(&router, as_session("POST", "/api/v1/event", Some(approve))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("\"code\":403"), "{body}");
        let (status, _) = testkit::call(
            &router,
            "DELETE",
            &format!("/api/sluice/v1/tokens/{}", made["id"].as_str().unwrap()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, body) = send(
            &router,
            as_session("GET", "/api/controlPlane/v1/project/shop", None),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, _, _) = send(&router, as_session("GET", "/bridge/api/session", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_session_reads_like_the_token_and_changes_need_the_csrf_token() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::ONE_TASK_SHIPYARD, &["carts"]).await;
        let (id, csrf) = log_in(&router).await;
        let cookie = format!("other=1; sluice_session={id}");

        // Reads with the cookie alone.
        let (status, _, body) = send(
            &router,
            with_cookie("GET", "/api/controlPlane/v1/project/shop", &cookie),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _, body) =
            send(&router, with_cookie("GET", "/bridge/api/session", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&csrf));

        // A change: without the CSRF token, with a wrong one, from another origin, from
        // another site: refused; with it: done.
        let uri = "/api/controlPlane/v1/project/shop/stage/dev/service/carts/evaluation";
        let change = |csrf: Option<&str>, origin: Option<&str>, site: Option<&str>| {
            let mut r = request("POST", uri)
                .header("cookie", &cookie)
                .header("content-type", "application/json");
            if let Some(c) = csrf {
                r = r.header(CSRF_HEADER, c);
            }
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            if let Some(s) = site {
                r = r.header("sec-fetch-site", s);
            }
            r.body(Body::from("{}")).unwrap()
        };
        for (request, why) in [
            (change(None, None, None), "no csrf"),
            (change(Some("0000"), None, None), "wrong csrf"),
            (
                change(Some(&csrf), Some("http://evil.example"), None),
                "foreign origin",
            ),
            (
                change(Some(&csrf), None, Some("cross-site")),
                "cross-site fetch",
            ),
        ] {
            let (status, _, body) = send(&router, request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {body}");
        }
        let (status, _, body) = send(
            &router,
            change(
                Some(&csrf),
                Some("http://127.0.0.1:8090"),
                Some("same-origin"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // The token still works without any CSRF token.
        let (status, _, body) = send(
            &router,
            request("POST", uri)
                .header("x-token", TOKEN)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Unknown and expired sessions are 401.
        let (status, _, _) = send(
            &router,
            request("GET", "/api/controlPlane/v1/project/shop")
                .header("cookie", "sluice_session=unknown")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let later = Instant::now() + session::LIFETIME;
        assert!(app.sessions.get(&id, later).is_none(), "expired");
        let (status, _, _) = send(
            &router,
            with_cookie("GET", "/api/controlPlane/v1/project/shop", &cookie),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the expired session was dropped"
        );
    }

    #[tokio::test]
    async fn logout_ends_the_session() {
        let (_app, router) = testkit::app().await;
        let (id, csrf) = log_in(&router).await;
        let cookie = format!("sluice_session={id}");
        let (status, _, _) =
            send(&router, with_cookie("POST", "/bridge/api/logout", &cookie)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "logout needs the csrf token too"
        );
        let (status, headers, _) = send(
            &router,
            request("POST", "/bridge/api/logout")
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        let (status, _, _) = send(
            &router,
            with_cookie("GET", "/api/controlPlane/v1/project", &cookie),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
