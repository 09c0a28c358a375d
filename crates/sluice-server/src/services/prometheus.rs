//! The built-in Prometheus SLI provider (keptn-contrib/prometheus-service's get-sli half):
//! answers `get-sli.triggered` for `sliProvider: prometheus` with one instant query per
//! indicator against the project's Prometheus.
//!
//! - Queries: `prometheus/sli.yaml` merged project → stage → service at the run's commit;
//!   without an entry, the built-in queries for `throughput`, `error_rate` and
//!   `response_time_p50|p90|p95`; any other name fails "no query found for indicator X".
//! - Placeholders, in prometheus-service's order: each SLO filter `$key` and `$KEY` (value
//!   with quotes removed), `$PROJECT`, `$STAGE`, `$SERVICE`, `$DEPLOYMENT` (the request's
//!   `deployment`, overridden by a `deployment` label, else `primary`), `$LABEL.<key>`,
//!   `$DURATION_SECONDS` (`ceil(end - start)` seconds + `s`).
//! - `GET <endpoint>/api/v1/query?query=..&time=<end, unix seconds>` with basic auth when a
//!   user is configured; the result must be a vector with exactly one sample ("query did not
//!   return any values", "query did return multiple values", "query did not return valid
//!   values" otherwise, as prometheus-service's code does).
//! - Setup problems (no endpoint, unreadable SLI file) answer errored/fail.
//! - Samples (sluice extension): for an indicator that an objective of the service's
//!   `slo.yaml` (at the run's commit) judges with a `statistical` criterion, the same query is
//!   also run as a range query (`/api/v1/query_range` over the window, with a step that gives
//!   at most [`MAX_SAMPLES`] points, at least 1 s) and every value of every series becomes
//!   the value's `samples` (bounded by [`bounded_samples`]). A failed range query leaves the
//!   value without samples and says why in its message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sluice_model::evaluation::{MAX_SAMPLES, SliResult, bounded_samples};
use sluice_model::event::Timestamp;
use sluice_model::event::data::SliFilter;
use sluice_model::sli::SliConfig;
use sluice_resources::{ResourceError, ResourceStore, Scope};
use sluice_store::Store;

use super::monitoring;
use super::sli_provider::{SliOutcome, SliRequest, SliSource, failed, value};

/// The provider name.
pub const PROVIDER: &str = "prometheus";
/// The `source` of its events (Keptn's service name).
pub const SOURCE: &str = "prometheus-service";
/// Where its SLI files live.
pub const SLI_URI: &str = "prometheus/sli.yaml";
/// How long one query may take.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The Prometheus provider.
#[derive(Debug, Clone)]
pub struct Prometheus {
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    http: crate::net::http::Client,
    timeout: Duration,
}

/// Where and how to query.
#[derive(Clone)]
struct Target {
    base: String,
    user: Option<String>,
    password: Option<String>,
}

/// What is substituted into queries.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryContext<'a> {
    /// Project.
    pub project: &'a str,
    /// Stage.
    pub stage: &'a str,
    /// Service.
    pub service: &'a str,
    /// Deployment type (`$DEPLOYMENT`).
    pub deployment: &'a str,
    /// Labels of the request.
    pub labels: &'a BTreeMap<String, String>,
    /// The SLO's filters.
    pub filters: &'a [SliFilter],
    /// Window start.
    pub start: Timestamp,
    /// Window end.
    pub end: Timestamp,
}

impl QueryContext<'_> {
    /// `ceil(end - start)` in seconds, with an `s` suffix.
    pub fn duration(&self) -> String {
        let nanos = self.end.nanos_since(self.start);
        let secs =
            nanos.div_euclid(1_000_000_000) + i128::from(nanos.rem_euclid(1_000_000_000) != 0);
        format!("{secs}s")
    }

    /// Replaces the placeholders in a query from `sli.yaml`.
    pub fn substitute(&self, query: &str) -> String {
        let mut q = query.to_owned();
        for f in self.filters {
            let value = strip_quotes(&f.value);
            q = q.replace(&format!("${}", f.key), &value);
            q = q.replace(&format!("${}", f.key.to_uppercase()), &value);
        }
        q = q.replace("$PROJECT", self.project);
        q = q.replace("$STAGE", self.stage);
        q = q.replace("$SERVICE", self.service);
        q = q.replace("$DEPLOYMENT", self.deployment);
        for (k, v) in self.labels {
            q = q.replace(&format!("$LABEL.{k}"), v);
        }
        q.replace("$DURATION_SECONDS", &self.duration())
    }

    /// prometheus-service's label filter for its built-in queries: the SLO filters (exact
    /// match unless the value starts with an operator) and, unless a `job` filter is given,
    /// `job='<service>-<project>-<stage>-canary'` first.
    pub fn default_filter(&self) -> String {
        let mut parts = Vec::new();
        let mut job = false;
        for f in self.filters {
            job |= f.key == "job";
            let v = &f.value;
            if ["=", "!=", "=~", "!~"].iter().any(|op| v.starts_with(op)) {
                parts.push(format!("{}{}", f.key, v.replace('"', "'")));
            } else {
                parts.push(format!("{}='{}'", f.key, strip_quotes(v)));
            }
        }
        if !job {
            parts.insert(
                0,
                format!(
                    "job='{}-{}-{}-canary'",
                    self.service, self.project, self.stage
                ),
            );
        }
        parts.join(",")
    }

    /// The built-in query for an SLI name, if there is one.
    pub fn builtin(&self, sli: &str) -> Option<String> {
        let f = self.default_filter();
        let d = self.duration();
        let latency = |p: &str| {
            format!(
                "histogram_quantile(0.{p},sum(rate(http_response_time_milliseconds_bucket{{{f}}}[{d}]))by(le))"
            )
        };
        match sli {
            "throughput" => Some(format!("sum(rate(http_requests_total{{{f}}}[{d}]))")),
            "error_rate" => Some(format!(
                "sum(rate(http_requests_total{{{f},status!~'2..'}}[{d}]))/sum(rate(http_requests_total{{{f}}}[{d}]))"
            )),
            "response_time_p50" => Some(latency("50")),
            "response_time_p90" => Some(latency("90")),
            "response_time_p95" => Some(latency("95")),
            _ => None,
        }
    }

    /// The query for an indicator: `sli.yaml` first, then the built-ins.
    pub fn query_for(&self, sli: &str, config: &SliConfig) -> Option<String> {
        match config.query(sli) {
            Some(q) if !q.is_empty() => Some(self.substitute(q)),
            _ => self.builtin(sli),
        }
    }
}

fn strip_quotes(v: &str) -> String {
    v.replace(['\'', '"'], "")
}

/// The deployment type prometheus-service used: a `deployment` label wins, then the
/// request's `deployment`, then `primary`.
pub fn deployment_type<'a>(deployment: &'a str, labels: &'a BTreeMap<String, String>) -> &'a str {
    match labels.get("deployment") {
        Some(label) => label,
        None if deployment.is_empty() => "primary",
        None => deployment,
    }
}

/// Reads a window timestamp like prometheus-service: any Keptn/RFC 3339 form, or Unix seconds.
fn parse_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse(text)
        .ok()
        .or_else(|| text.parse::<i64>().ok().map(|s| Timestamp::from_unix(s, 0)))
}

/// The `time` parameter: Unix seconds, with a fraction only when there is one (Go client).
pub fn time_param(t: Timestamp) -> String {
    let nanos = t.unix_nanos();
    if nanos % 1_000_000_000 == 0 {
        (nanos / 1_000_000_000).to_string()
    } else {
        format!("{}", nanos as f64 / 1e9)
    }
}

/// Interprets a Prometheus `/api/v1/query_range` answer: every finite value of every series
/// (a matrix), in series order.
pub fn series_values(body: &Value) -> Result<Vec<f64>, String> {
    if body.get("status").and_then(Value::as_str) == Some("error") {
        let kind = body.get("errorType").and_then(Value::as_str).unwrap_or("");
        let msg = body.get("error").and_then(Value::as_str).unwrap_or("");
        return Err(format!("unable to query prometheus api: {kind}: {msg}"));
    }
    let data = body.get("data").unwrap_or(&Value::Null);
    if data.get("resultType").and_then(Value::as_str) != Some("matrix") {
        return Err("prometheus range query answer is not a matrix".to_owned());
    }
    let mut out = Vec::new();
    for series in data
        .get("result")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        for point in series
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            if let Some(v) = point
                .get(1)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|v| v.is_finite())
            {
                out.push(v);
            }
        }
    }
    if out.is_empty() {
        return Err("range query did not return any values".to_owned());
    }
    Ok(out)
}

/// The step of a range query over `seconds` that gives at most [`MAX_SAMPLES`] points per
/// series: whole seconds, at least 1.
pub fn range_step(seconds: f64) -> u64 {
    let per_point = (seconds.max(0.0) / MAX_SAMPLES as f64).ceil();
    (per_point as u64).max(1)
}

/// Interprets a Prometheus `/api/v1/query` answer: exactly one vector sample with a number.
pub fn single_value(body: &Value) -> Result<f64, String> {
    if body.get("status").and_then(Value::as_str) == Some("error") {
        let kind = body
            .get("errorType")
            .and_then(Value::as_str)
            .unwrap_or("error");
        let msg = body.get("error").and_then(Value::as_str).unwrap_or("");
        return Err(format!("unable to query prometheus api: {kind}: {msg}"));
    }
    let data = body.get("data").unwrap_or(&Value::Null);
    let result = data.get("result").unwrap_or(&Value::Null);
    if data.get("resultType").and_then(Value::as_str) != Some("vector") {
        return Err(format!(
            "prometheus api response is not a Vector: {}",
            result
        ));
    }
    let samples = result.as_array().map(Vec::as_slice).unwrap_or(&[]);
    match samples {
        [] => Err("query did not return any values".to_owned()),
        [one] => one
            .pointer("/value/1")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| "query did not return valid values".to_owned()),
        _ => Err("query did return multiple values".to_owned()),
    }
}

/// The project's Prometheus base URL as prometheus-service wrote it: `https://` when no
/// scheme is given, no trailing slash, no spaces.
pub fn base_url(endpoint: &str) -> String {
    let e: String = endpoint.chars().filter(|c| *c != ' ').collect();
    let e = if e.starts_with("http://") || e.starts_with("https://") {
        e
    } else {
        format!("https://{e}")
    };
    e.trim_end_matches('/').to_owned()
}

impl Prometheus {
    /// A provider using the server's shared HTTP client.
    pub fn new(
        store: Arc<Store>,
        resources: Arc<ResourceStore>,
        http: crate::net::http::Client,
    ) -> Self {
        Prometheus {
            store,
            resources,
            http,
            timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }

    /// The same with another per-query timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn target(&self, project: &str) -> Result<Target, String> {
        let prefix = "failed to get Prometheus API URL";
        let config = monitoring::load(&self.store, project)
            .await
            .map_err(|e| format!("{prefix}: {e}"))?
            .unwrap_or_default();
        let endpoint = config
            .endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| {
                format!(
                    "{prefix}: no Prometheus endpoint configured for project {project} (POST /api/sluice/v1/project/{project}/monitoring with an endpoint)"
                )
            })?;
        let password = monitoring::password(&self.store, &config)
            .await
            .map_err(|e| format!("{prefix}: {e}"))?;
        Ok(Target {
            base: base_url(endpoint),
            user: config.user.filter(|u| !u.is_empty()),
            password,
        })
    }

    /// The indicators an objective of the service's SLO (at the run's commit) judges with a
    /// statistical criterion; none when there is no readable SLO.
    async fn sampled_indicators(&self, req: &SliRequest) -> Vec<String> {
        let b = &req.data.base;
        match super::evaluation::read_slo(
            &self.resources,
            &b.project,
            &b.stage,
            &b.service,
            req.event.gitcommitid.as_deref(),
        )
        .await
        {
            Ok(Some((_, slo))) => slo
                .objectives
                .iter()
                .filter(|o| o.statistical.is_some())
                .map(|o| o.sli.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `prometheus/sli.yaml` of the project, stage and service at a commit, merged.
    async fn sli_config(&self, req: &SliRequest) -> Result<SliConfig, String> {
        let b = &req.data.base;
        let (r, p, st, sv) = (
            self.resources.clone(),
            b.project.clone(),
            b.stage.clone(),
            b.service.clone(),
        );
        let at = req.event.gitcommitid.clone().filter(|c| !c.is_empty());
        let files = tokio::task::spawn_blocking(move || {
            let scopes = [
                Scope::project(&p),
                Scope::stage(&p, &st),
                Scope::service(&p, &st, &sv),
            ];
            let mut files = Vec::new();
            for scope in scopes {
                match r.get_resource(scope, SLI_URI, at.as_deref()) {
                    Ok(res) => files.push(res.content),
                    Err(ResourceError::ResourceNotFound) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok(files)
        })
        .await
        .map_err(|e| e.to_string())??;
        let mut levels = Vec::new();
        for bytes in files {
            let text = String::from_utf8_lossy(&bytes);
            let parsed = sluice_model::sli::parse(&text);
            if let Some(d) = parsed
                .diagnostics
                .iter()
                .find(|d| d.severity == sluice_model::diagnostic::Severity::Error)
            {
                return Err(d.message.clone());
            }
            levels.push(parsed.value.unwrap_or_default());
        }
        let refs: Vec<&SliConfig> = levels.iter().collect();
        Ok(sluice_model::sli::merge(&refs))
    }

    async fn query(&self, target: &Target, query: &str, time: &str) -> Result<f64, String> {
        let body = self
            .get(target, "query", &[("query", query), ("time", time)])
            .await?;
        single_value(&body)
    }

    /// The values of a range query over the window (sluice extension: samples).
    async fn range(
        &self,
        target: &Target,
        query: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<f64>, String> {
        let seconds = end.nanos_since(start) as f64 / 1e9;
        let step = format!("{}s", range_step(seconds));
        let body = self
            .get(
                target,
                "query_range",
                &[
                    ("query", query),
                    ("start", &time_param(start)),
                    ("end", &time_param(end)),
                    ("step", &step),
                ],
            )
            .await?;
        series_values(&body).map(bounded_samples)
    }

    /// `GET <base>/api/v1/<api>?params` as JSON (errors in prometheus-service's words).
    async fn get(
        &self,
        target: &Target,
        api: &str,
        params: &[(&str, &str)],
    ) -> Result<Value, String> {
        let url = format!("{}/api/v1/{api}", target.base);
        let mut request = self.http.get(&url).query(params).timeout(self.timeout);
        if let Some(user) = &target.user {
            request = request.basic_auth(user, target.password.as_deref());
        }
        let answer = request
            .send()
            .await
            .map_err(|e| format!("unable to query prometheus api: {e}"))?;
        let status = answer.status;
        let text = answer.text();
        match serde_json::from_str::<Value>(&text) {
            Ok(body) => Ok(body),
            Err(_) if !status.is_success() => Err(format!(
                "unable to query prometheus api: server answered HTTP {}",
                status.as_u16()
            )),
            Err(e) => Err(format!(
                "unable to query prometheus api: invalid answer: {e}"
            )),
        }
    }

    async fn values(
        &self,
        req: &SliRequest,
        target: &Target,
        config: &SliConfig,
        sampled: &[String],
    ) -> Vec<SliResult> {
        let d = &req.data;
        let wanted = &d.get_sli.indicators;
        let (start, end) = match (parse_time(&d.get_sli.start), parse_time(&d.get_sli.end)) {
            (Some(s), Some(e)) => (s, e),
            (None, _) => {
                let m = format!("unable to parse start timestamp: {:?}", d.get_sli.start);
                return wanted.iter().map(|i| failed(i, m.clone())).collect();
            }
            (_, None) => {
                let m = format!("unable to parse end timestamp: {:?}", d.get_sli.end);
                return wanted.iter().map(|i| failed(i, m.clone())).collect();
            }
        };
        let ctx = QueryContext {
            project: &d.base.project,
            stage: &d.base.stage,
            service: &d.base.service,
            deployment: deployment_type(&d.deployment, &d.base.labels),
            labels: &d.base.labels,
            filters: &d.get_sli.custom_filters,
            start,
            end,
        };
        let time = time_param(end);
        let mut out = Vec::with_capacity(wanted.len());
        for indicator in wanted {
            let Some(query) = ctx.query_for(indicator, config) else {
                out.push(failed(
                    indicator,
                    format!("no query found for indicator {indicator}"),
                ));
                continue;
            };
            let mut result = match self.query(target, &query, &time).await {
                Ok(v) => value(indicator, v),
                Err(m) => failed(indicator, m),
            };
            if result.success && sampled.contains(indicator) {
                match self.range(target, &query, start, end).await {
                    Ok(samples) => result.samples = Some(samples),
                    Err(m) => result.message = format!("no samples: {m}"),
                }
            }
            out.push(result);
        }
        out
    }
}

impl SliSource for Prometheus {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn source(&self) -> &str {
        SOURCE
    }

    async fn fetch(&self, request: &SliRequest) -> SliOutcome {
        let target = match self.target(&request.data.base.project).await {
            Ok(t) => t,
            Err(m) => return SliOutcome::Errored(m),
        };
        let config = match self.sli_config(request).await {
            Ok(c) => c,
            Err(e) => {
                return SliOutcome::Errored(format!(
                    "unable to retrieve custom queries for project {}: {e}",
                    request.data.base.project
                ));
            }
        };
        let sampled = self.sampled_indicators(request).await;
        SliOutcome::Values(self.values(request, &target, &config, &sampled).await)
    }
}

#[cfg(test)]
mod tests;
