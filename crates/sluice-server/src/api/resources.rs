//! Keptn's resource service (`/api/resource-service/v1/project/{p}[/stage/{s}[/service/{svc}]]
//! /resource[/{uri}]`): list, read, write and delete the files of a project, stage or service,
//! each write one git commit, reads optionally at an older commit (`?gitCommitID=`).
//!
//! Writing the project-level `shipyard.yaml` through this API is a shipyard update: it is
//! validated like `PUT /project` (no errors, same stages), recorded, and the engine is told.
//! Every other file sluice reads is checked by [`crate::storage::uploads::check`] first: a request
//! with one bad file writes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_resources::{BRANCH, CommitId, PageRequest, ResourceUri, Scope, Upload};

use crate::api::extract::{Json, Path, Query};
use crate::api::params::{MAX_PAGE_SIZE, page_size};
use crate::api::upstream::pull_before_read;
use crate::error::ApiError;
use crate::projects::upstream::{push_after_write, remote_url};
use crate::projects::{self, SHIPYARD_URI, decode_base64};
use crate::state::App;
use sluice_resources::{ResourceError, ResourceStore};

const BASE: &str = "/api/resource-service/v1/project/{project}";

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    let mut router = Router::new();
    for level in ["", "/stage/{stage}", "/stage/{stage}/service/{service}"] {
        router = router
            .route(
                &format!("{BASE}{level}/resource"),
                get(list).post(create).put(update),
            )
            .route(
                &format!("{BASE}{level}/resource/{{*uri}}"),
                get(get_one).put(put_one).delete(delete_one),
            );
    }
    router
}

/// The path parameters of every route: project, and stage, service and URI where present.
type Params = HashMap<String, String>;

/// The level named by the path.
fn scope(params: &Params) -> Scope<'_> {
    let get = |k: &str| params.get(k).map(String::as_str);
    let project = get("project").unwrap_or("");
    match (get("stage"), get("service")) {
        (Some(stage), Some(service)) => Scope::service(project, stage, service),
        (Some(stage), None) => Scope::stage(project, stage),
        _ => Scope::project(project),
    }
}

/// Owned copy of a scope, to move into a blocking task.
#[derive(Debug, Clone)]
struct OwnedScope(Option<String>, Option<String>, String);

impl OwnedScope {
    fn of(params: &Params) -> OwnedScope {
        OwnedScope(
            params.get("stage").cloned(),
            params.get("service").cloned(),
            params.get("project").cloned().unwrap_or_default(),
        )
    }

    fn scope(&self) -> Scope<'_> {
        match (&self.0, &self.1) {
            (Some(stage), Some(service)) => Scope::service(&self.2, stage, service),
            (Some(stage), None) => Scope::stage(&self.2, stage),
            _ => Scope::project(&self.2),
        }
    }
}

/// The resource URI of the path. The router has percent-decoded it once; Keptn decoded it a
/// second time (`url.QueryUnescape`), so clients that encode twice
/// (`prometheus%252Fsli.yaml`) work too.
fn uri_of(params: &Params) -> Result<String, ApiError> {
    let raw = params.get("uri").map(String::as_str).unwrap_or("");
    if !raw.contains('%') {
        return Ok(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return Err(ApiError::bad_request(format!(
                    "invalid resource uri: `{raw}` has a `%` that does not start an escape \
                     (%XX)"
                )));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        ApiError::bad_request(format!(
            "invalid resource uri: `{raw}` does not decode to UTF-8"
        ))
    })
}

/// Keptn's `metadata` of a resource or write (`models.Version`).
fn metadata(commit: &CommitId, upstream_url: &str) -> Value {
    json!({"branch": BRANCH, "upstreamURL": upstream_url, "version": commit.as_str()})
}

/// The project of the path.
fn project_of(params: &Params) -> &str {
    params.get("project").map(String::as_str).unwrap_or("")
}

/// Whether a read is of the head (then the upstream is pulled first), not of a commit.
fn at_head(query: &ReadQuery) -> bool {
    query
        .git_commit_id
        .as_deref()
        .is_none_or(|c| matches!(c.trim(), "" | "\"\""))
}

fn write_response(commit: &CommitId, upstream_url: &str) -> Value {
    json!({"commitID": commit.as_str(), "metadata": metadata(commit, upstream_url)})
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadQuery {
    #[serde(rename = "gitCommitID")]
    git_commit_id: Option<String>,
    page_size: Option<String>,
    next_page_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceBody {
    #[serde(rename = "resourceURI", default)]
    resource_uri: String,
    #[serde(default)]
    resource_content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResourcesBody {
    resources: Option<Vec<ResourceBody>>,
}

/// A decoded upload.
struct File {
    uri: String,
    content: Vec<u8>,
}

fn decode(uri: String, content: Option<&str>) -> Result<File, ApiError> {
    let content = decode_base64(
        &format!("resourceContent of `{uri}`"),
        content.unwrap_or(""),
    )?;
    Ok(File { uri, content })
}

async fn list(
    State(app): State<Arc<App>>,
    Path(params): Path<Params>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let page_size = page_size(query.page_size.as_deref(), MAX_PAGE_SIZE)? as usize;
    if at_head(&query) {
        pull_before_read(&app, project_of(&params)).await?;
    }
    let owned = OwnedScope::of(&params);
    let page = with_resources(&app, move |r| {
        r.list_resources(
            owned.scope(),
            query.git_commit_id.as_deref(),
            PageRequest {
                page_size,
                next_page_key: query.next_page_key.as_deref(),
            },
        )
    })
    .await?;
    let url = remote_url(&app, project_of(&params)).await;
    let meta = metadata(&page.commit, &url);
    let resources: Vec<Value> = page
        .uris
        .iter()
        .map(|uri| json!({"resourceURI": uri, "metadata": meta}))
        .collect();
    Ok(Json(json!({
        "resources": resources,
        "nextPageKey": page.wire_next_page_key(),
        "pageSize": resources.len(),
        "totalCount": page.total_count,
    })))
}

async fn get_one(
    State(app): State<Arc<App>>,
    Path(params): Path<Params>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let uri = uri_of(&params)?;
    if at_head(&query) {
        pull_before_read(&app, project_of(&params)).await?;
    }
    let owned = OwnedScope::of(&params);
    let resource = with_resources(&app, move |r| {
        r.get_resource(owned.scope(), &uri, query.git_commit_id.as_deref())
    })
    .await?;
    let url = remote_url(&app, project_of(&params)).await;
    Ok(Json(json!({
        "resourceURI": resource.uri.as_str(),
        "resourceContent": base64::engine::general_purpose::STANDARD.encode(&resource.content),
        "metadata": metadata(&resource.commit, &url),
    })))
}

async fn create(
    State(app): State<Arc<App>>,
    Path(params): Path<Params>,
    Json(body): Json<ResourcesBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let commit = write_many(&app, &params, body).await?;
    let url = remote_url(&app, project_of(&params)).await;
    Ok((StatusCode::CREATED, Json(write_response(&commit, &url))))
}

async fn update(
    State(app): State<Arc<App>>,
    Path(params): Path<Params>,
    Json(body): Json<ResourcesBody>,
) -> Result<Json<Value>, ApiError> {
    let commit = write_many(&app, &params, body).await?;
    let url = remote_url(&app, project_of(&params)).await;
    Ok(Json(write_response(&commit, &url)))
}

async fn write_many(app: &App, params: &Params, body: ResourcesBody) -> Result<CommitId, ApiError> {
    let resources = body
        .resources
        .ok_or_else(|| ApiError::bad_request("must provide `resources`: a list of files"))?;
    // Before decoding anything.
    sluice_resources::check_file_count(resources.len())?;
    let files = resources
        .into_iter()
        .map(|r| decode(r.resource_uri, r.resource_content.as_deref()))
        .collect::<Result<Vec<File>, ApiError>>()?;
    write(app, params, files).await
}

async fn put_one(
    State(app): State<Arc<App>>,
    Path(params): Path<Params>,
    Json(body): Json<ResourceBody>,
) -> Result<Json<Value>, ApiError> {
    let file = decode(uri_of(&params)?, body.resource_content.as_deref())?;
    let commit = write(&app, &params, vec![file]).await?;
    let url = remote_url(&app, project_of(&params)).await;
    Ok(Json(write_response(&commit, &url)))
}

async fn delete_one(
    State(app): State<Arc<App>>,
    Path(params): Path<Params>,
) -> Result<Json<Value>, ApiError> {
    let uri = uri_of(&params)?;
    if matches!(scope(&params), Scope::Project { .. }) && is_shipyard(&uri) {
        return Err(ApiError::bad_request(
            "shipyard.yaml cannot be deleted: a project needs its shipyard (delete the project \
             instead)",
        ));
    }
    let owned = OwnedScope::of(&params);
    let commit = with_resources(&app, move |r| r.delete_resource(owned.scope(), &uri)).await?;
    push_after_write(&app, project_of(&params)).await?;
    let url = remote_url(&app, project_of(&params)).await;
    Ok(Json(write_response(&commit, &url)))
}

/// Whether a (valid) URI names the project's shipyard.
fn is_shipyard(uri: &str) -> bool {
    ResourceUri::parse(uri).is_ok_and(|u| u.as_str() == SHIPYARD_URI)
}

/// Runs a (synchronous) resource-store operation on a blocking thread.
async fn with_resources<T, F>(app: &App, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&ResourceStore) -> Result<T, ResourceError> + Send + 'static,
{
    Ok(projects::with_resources(app, f).await?)
}

/// Checks the upload ([`crate::storage::uploads::check`]) on the blocking pool, where parsing
/// belongs, so that a big or hostile file never holds an async worker, and hands the files
/// back.
async fn check_upload(
    owned: OwnedScope,
    files: Vec<File>,
) -> Result<(OwnedScope, Vec<File>), ApiError> {
    tokio::task::spawn_blocking(move || {
        let list: Vec<(&str, &[u8])> = files
            .iter()
            .map(|f| (f.uri.as_str(), f.content.as_slice()))
            .collect();
        let checked = crate::storage::uploads::check(owned.scope(), &list);
        drop(list);
        checked.map_err(ApiError::from)?;
        Ok((owned, files))
    })
    .await
    .map_err(|e| ApiError::internal("checking an upload did not finish", &e))?
}

/// Commits the files after checking them; a project-level `shipyard.yaml` among them is a
/// shipyard update ([`projects::update_shipyard`]: checked against the project's stages,
/// recorded after, rolled back in the repository if that fails).
async fn write(app: &App, params: &Params, files: Vec<File>) -> Result<CommitId, ApiError> {
    let (owned, files) = check_upload(OwnedScope::of(params), files).await?;
    let shipyard = match scope(params) {
        Scope::Project { .. } => files.iter().rev().find(|f| is_shipyard(&f.uri)),
        _ => None,
    };
    let project = project_of(params).to_owned();
    let Some(shipyard) = shipyard else {
        let id = with_resources(app, move |r| commit(r, owned, files)).await?;
        push_after_write(app, &project).await?;
        return Ok(id);
    };
    let bytes = shipyard.content.clone();
    Ok(
        projects::update_shipyard(app, &owned.2.clone(), bytes, move |r| {
            commit(r, owned, files)
        })
        .await?,
    )
}

fn commit(
    r: &ResourceStore,
    owned: OwnedScope,
    files: Vec<File>,
) -> Result<CommitId, ResourceError> {
    let uploads: Vec<Upload<'_>> = files
        .iter()
        .map(|f| Upload {
            uri: &f.uri,
            content: &f.content,
        })
        .collect();
    r.put_resources(owned.scope(), &uploads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{FULLTOUR, TestServer, b64};
    use crate::projects::STAGE_CHANGE_MESSAGE;

    const R: &str = "/api/resource-service/v1/project/shop";

    /// A valid SLO file, told apart by a comment.
    fn slo(tag: &str) -> String {
        format!(
            "spec_version: \"1.0\"\nobjectives:\n  - sli: response_time_p95\ntotal_score:\n  \
             pass: \"90%\"\n  warning: \"75%\"\n# {tag}\n"
        )
    }

    /// A valid SLI file, told apart by a comment.
    fn sli(tag: &str) -> String {
        format!("indicators:\n  response_time_p95: up\n# {tag}\n")
    }

    async fn server() -> TestServer {
        let s = TestServer::new().await;
        s.create_project("shop", FULLTOUR).await;
        s.create_service("shop", "carts").await;
        s
    }

    fn files(list: &[(&str, &str)]) -> Value {
        json!({"resources": list
            .iter()
            .map(|(uri, content)| json!({"resourceURI": uri, "resourceContent": b64(content)}))
            .collect::<Vec<_>>()})
    }

    async fn content(s: &TestServer, uri: &str) -> (StatusCode, Value) {
        let (status, body) = s.call("GET", uri, None).await;
        if status != StatusCode::OK {
            return (status, body);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body["resourceContent"].as_str().unwrap())
            .unwrap();
        (status, Value::String(String::from_utf8(bytes).unwrap()))
    }

    #[tokio::test]
    async fn resources_at_all_three_levels() {
        let s = server().await;
        let levels = [
            String::new(),
            "/stage/qa".to_owned(),
            "/stage/qa/service/carts".to_owned(),
        ];
        for (i, level) in levels.iter().enumerate() {
            let (status, body) = s
                .call(
                    "POST",
                    &format!("{R}{level}/resource"),
                    Some(files(&[
                        ("prometheus/sli.yaml", &sli(&i.to_string())),
                        ("slo.yaml", &slo(&i.to_string())),
                    ])),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let commit = body["commitID"].as_str().unwrap();
            assert_eq!(commit.len(), 40);
            assert_eq!(
                body["metadata"],
                json!({"branch": "main", "upstreamURL": "", "version": commit})
            );
            let (status, text) = content(&s, &format!("{R}{level}/resource/slo.yaml")).await;
            assert_eq!((status, text), (StatusCode::OK, json!(slo(&i.to_string()))));
            // A URI with `/`: plain, URL-encoded, and encoded twice.
            for uri in [
                "prometheus/sli.yaml",
                "prometheus%2Fsli.yaml",
                "prometheus%252Fsli.yaml",
            ] {
                let (status, text) = content(&s, &format!("{R}{level}/resource/{uri}")).await;
                assert_eq!(
                    (status, text),
                    (StatusCode::OK, json!(sli(&i.to_string()))),
                    "{uri}"
                );
            }
        }
        let (_, one) = s
            .call(
                "GET",
                &format!("{R}/stage/qa/resource/prometheus%2Fsli.yaml"),
                None,
            )
            .await;
        assert_eq!(one["resourceURI"], "prometheus/sli.yaml");
        assert_eq!(one["metadata"]["branch"], "main");

        // Levels are separate.
        let (status, body) = s
            .call(
                "GET",
                &format!("{R}/stage/production/resource/slo.yaml"),
                None,
            )
            .await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::NOT_FOUND, &json!("resource not found"))
        );

        // Listing: project level excludes the stages; pages.
        let (status, list) = s.call("GET", &format!("{R}/resource"), None).await;
        assert_eq!(status, StatusCode::OK);
        let uris: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["resourceURI"].as_str().unwrap())
            .collect();
        assert!(
            uris.contains(&"shipyard.yaml") && uris.contains(&"prometheus/sli.yaml"),
            "{uris:?}"
        );
        assert!(
            uris.iter().all(|u| !u.starts_with(".keptn-stages")),
            "{uris:?}"
        );
        assert_eq!(list["nextPageKey"], "0");
        let (_, page) = s
            .call(
                "GET",
                &format!("{R}/stage/qa/service/carts/resource?pageSize=1"),
                None,
            )
            .await;
        assert_eq!(page["resources"].as_array().unwrap().len(), 1);
        assert_eq!(page["nextPageKey"], "1");
        assert_eq!(page["pageSize"], 1);
        assert!(page["totalCount"].as_u64().unwrap() >= 3, "{page}");
    }

    #[tokio::test]
    async fn older_commits_can_be_read() {
        let s = server().await;
        let url = format!("{R}/stage/qa/service/carts/resource");
        let (_, first) = s
            .call("POST", &url, Some(files(&[("slo.yaml", &slo("v1"))])))
            .await;
        let (status, second) = s
            .call("PUT", &url, Some(files(&[("slo.yaml", &slo("v2"))])))
            .await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let (status, third) = s
            .call(
                "PUT",
                &format!("{url}/slo.yaml"),
                Some(json!({"resourceContent": b64(slo("v3"))})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{third}");
        let v1 = first["commitID"].as_str().unwrap();
        let (_, latest) = content(&s, &format!("{url}/slo.yaml")).await;
        assert_eq!(latest, slo("v3"));
        let (_, old) = content(&s, &format!("{url}/slo.yaml?gitCommitID={v1}")).await;
        assert_eq!(old, slo("v1"));
        let (_, at) = s
            .call("GET", &format!("{url}/slo.yaml?gitCommitID={v1}"), None)
            .await;
        assert_eq!(at["metadata"]["version"], v1);
        let (status, _) = s
            .call(
                "GET",
                &format!("{url}/slo.yaml?gitCommitID=0123456789abcdef"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, deleted) = s.call("DELETE", &format!("{url}/slo.yaml"), None).await;
        assert_eq!(status, StatusCode::OK, "{deleted}");
        let (status, _) = s.call("GET", &format!("{url}/slo.yaml"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, old) = content(&s, &format!("{url}/slo.yaml?gitCommitID={v1}")).await;
        assert_eq!(old, slo("v1"), "history stays");
    }

    #[tokio::test]
    async fn bad_requests_are_refused() {
        let s = server().await;
        for uri in ["../escape.yaml", "a/../../b", "~/x", ".git/config"] {
            let (status, body) = s
                .call("POST", &format!("{R}/resource"), Some(files(&[(uri, "x")])))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("invalid resource uri"),
                "{body}"
            );
        }
        let (status, _) = s.call("GET", &format!("{R}/resource/..%2Fx"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = s
            .call(
                "POST",
                &format!("{R}/resource"),
                Some(json!({"resources": [{"resourceURI": "slo.yaml", "resourceContent": "@@"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["message"].as_str().unwrap().contains("`slo.yaml`"),
            "{body}"
        );
        let (status, _) = s
            .call("POST", &format!("{R}/resource"), Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        for (url, message) in [
            (
                "/api/resource-service/v1/project/nope/resource",
                "project not found",
            ),
            (
                &format!("{R}/stage/dev/resource") as &str,
                "stage not found",
            ),
            (
                &format!("{R}/stage/qa/service/nope/resource"),
                "service not found",
            ),
        ] {
            let (status, body) = s.call("GET", url, None).await;
            assert_eq!(
                (status, &body["message"]),
                (StatusCode::NOT_FOUND, &json!(message)),
                "{url}"
            );
            let (status, body) = s
                .call("POST", url, Some(files(&[("notes.txt", "x")])))
                .await;
            assert_eq!(
                (status, &body["message"]),
                (StatusCode::NOT_FOUND, &json!(message)),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn writing_the_shipyard_is_a_shipyard_update() {
        let s = server().await;
        let renamed = FULLTOUR.replace("name: \"qa\"", "name: \"test\"");
        let (status, body) = s
            .call(
                "PUT",
                &format!("{R}/resource"),
                Some(files(&[("shipyard.yaml", &renamed)])),
            )
            .await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::BAD_REQUEST, &json!(STAGE_CHANGE_MESSAGE))
        );
        let (status, body) = s
            .call(
                "PUT",
                &format!("{R}/resource/shipyard.yaml"),
                Some(json!({"resourceContent": b64("spec: [")})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid shipyard"),
            "{body}"
        );
        let (_, text) = content(&s, &format!("{R}/resource/shipyard.yaml")).await;
        assert_eq!(text, FULLTOUR, "nothing written");

        let changed = FULLTOUR.replace("timeframe: \"2m\"", "timeframe: \"9m\"");
        let (status, body) = s
            .call(
                "POST",
                &format!("{R}/resource"),
                Some(files(&[("/shipyard.yaml", &changed)])),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, p) = s
            .call("GET", "/api/controlPlane/v1/project/shop", None)
            .await;
        assert_eq!(p["shipyard"], changed, "the record follows");

        let (status, _) = s
            .call("DELETE", &format!("{R}/resource/shipyard.yaml"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // A shipyard.yaml at a stage is just a file.
        let (status, _) = s
            .call(
                "PUT",
                &format!("{R}/stage/qa/resource"),
                Some(files(&[("shipyard.yaml", "x")])),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    /// The reported depth bomb: about 35 000 levels on one line, 70 KB.
    fn depth_bomb() -> String {
        format!("a:\n  {}x\n", "- ".repeat(35_000))
    }

    #[tokio::test]
    async fn yaml_depth_bomb_upload_as_slo_or_job_config_is_refused_and_nothing_written() {
        let s = server().await;
        let url = format!("{R}/stage/qa/service/carts/resource");
        for uri in ["slo.yaml", "job/config.yaml"] {
            let (status, body) = s
                .call("POST", &url, Some(files(&[(uri, &depth_bomb())])))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("{uri}:2:")) && message.contains("nested more than 128"),
                "{message}"
            );
            let d = &body["files"][0]["diagnostics"][0];
            assert_eq!(body["files"][0]["file"], uri);
            assert_eq!(d["severity"], "error");
            assert_eq!(d["pos"]["line"], 2);
            assert!(d["hint"].as_str().unwrap().contains("at most 128"), "{d}");
            let (status, _) = s.call("GET", &format!("{url}/{uri}"), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri} must not be stored");
        }
        // One bad file in a request writes none of its files.
        let (status, body) = s
            .call(
                "POST",
                &url,
                Some(files(&[
                    ("prometheus/sli.yaml", &sli("ok")),
                    ("slo.yaml", &depth_bomb()),
                ])),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = s
            .call("GET", &format!("{url}/prometheus/sli.yaml"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn uploads_of_files_sluice_reads_are_linted() {
        let s = server().await;
        let url = format!("{R}/stage/qa/service/carts/resource");
        let (status, body) = s
            .call(
                "PUT",
                &format!("{url}/remediation.yaml"),
                Some(json!({"resourceContent": b64("spec: [")})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid remediation file `remediation.yaml`"),
            "{body}"
        );
        // Files sluice does not read are stored as they are, and so are the same names where
        // sluice does not read them.
        let (status, body) = s
            .call("POST", &url, Some(files(&[("helm/values.yaml", "a: [")])))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = s
            .call(
                "POST",
                &format!("{R}/stage/qa/resource"),
                Some(files(&[("slo.yaml", "not an slo")])),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // Warnings pass.
        let (status, body) = s
            .call(
                "POST",
                &url,
                Some(files(&[(
                    "slo.yaml",
                    &format!("{}comparision: {{}}\n", slo("w")),
                )])),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    #[tokio::test]
    async fn upload_above_the_file_cap_is_refused() {
        let s = server().await;
        let list: Vec<(String, String)> = (0..=sluice_resources::MAX_FILES_PER_WRITE)
            .map(|i| (format!("f{i}.txt"), String::new()))
            .collect();
        let refs: Vec<(&str, &str)> = list.iter().map(|(u, c)| (u.as_str(), c.as_str())).collect();
        let (status, body) = s
            .call("POST", &format!("{R}/resource"), Some(files(&refs)))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("too many files in one request: 1001, at most 1000"),
            "{body}"
        );
        let (status, _) = s.call("GET", &format!("{R}/resource/f0.txt"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
