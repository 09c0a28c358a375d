//! `webhook/webhook.yaml`: Keptn's webhook-service configuration, in both of its formats
//! (`webhookconfig.keptn.sh/v1alpha1`, whose requests are curl command lines, read into
//! structured requests by [`curl`], and `v1beta1`, whose requests are `{url, method, headers,
//! payload, options}`), with the placeholders of [`template`].
//!
//! Keptn decoded the file with `yaml.v3` into typed structs (unknown keys ignored, key names
//! exact) and then refused, for the whole file: an `apiVersion` other than the two above, no
//! `webhooks`, a webhook without `type`, `subscriptionID` or `requests`, and a `v1beta1`
//! request without `url` or `method`, with a method other than POST, PUT, GET or HEAD, or with
//! an empty header key or value. Those are errors here too. So are requests sluice cannot
//! send: a curl command with options sluice does not read (see [`curl`]), `options` in a
//! `v1beta1` request, and placeholders beyond field chains. Unknown keys, and `{{.env.X}}`
//! without an `envFrom` entry `X` (the task would fail), are warnings.

pub mod curl;
pub mod template;

use crate::Parsed;
use crate::diagnostic::{Diagnostics, FieldPath, Severity};
use crate::yaml::{self, MapReader, Node, Value};

pub use template::{RenderError, Template, TemplateError};

/// Where the file lives at each level (service, stage, project).
pub const URI: &str = "webhook/webhook.yaml";

/// The `apiVersion` of curl-command requests.
pub const V1ALPHA1: &str = "webhookconfig.keptn.sh/v1alpha1";
/// The `apiVersion` of structured requests.
pub const V1BETA1: &str = "webhookconfig.keptn.sh/v1beta1";

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `webhookconfig.keptn.sh/v1alpha1`: requests are curl commands.
    V1Alpha1,
    /// `webhookconfig.keptn.sh/v1beta1`: requests are structured.
    V1Beta1,
}

/// A webhook configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The format.
    pub api_version: ApiVersion,
    /// `metadata.name`.
    pub name: String,
    /// `spec.webhooks`, in file order.
    pub webhooks: Vec<Webhook>,
}

/// One webhook: the requests sent for the events of one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// `type`: the event type (documentation only: Keptn matched by `subscriptionID`).
    pub event_type: String,
    /// `subscriptionID`: the uniform subscription of `webhook-service` this webhook serves.
    pub subscription_id: String,
    /// `sendStarted` (default true).
    pub send_started: bool,
    /// `sendFinished` (default false: the receiver answers the task itself).
    pub send_finished: bool,
    /// `envFrom`: secrets available as `{{.env.<name>}}`.
    pub env_from: Vec<EnvFrom>,
    /// `requests`, sent in order.
    pub requests: Vec<Request>,
}

/// One `envFrom` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFrom {
    /// The name under `.env`.
    pub name: String,
    /// `secretRef.name`: the sluice secret.
    pub secret: String,
    /// `secretRef.key`: the key in it.
    pub key: String,
}

/// The HTTP methods a webhook may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH (curl commands only).
    Patch,
    /// DELETE (curl commands only).
    Delete,
}

impl Method {
    /// The method named `s` (exact upper case, as curl sends it).
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether sending twice has the effect of sending once (retries are only for these).
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }
}

/// One request, with placeholders still to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: Template,
    /// Headers (name, value), in order.
    pub headers: Vec<(Template, Template)>,
    /// The body.
    pub body: Option<Template>,
    /// `user:password` for basic authentication (curl's `-u`).
    pub basic_auth: Option<Template>,
}

/// Reads a webhook configuration.
pub fn parse(src: &str) -> Parsed<WebhookConfig> {
    let mut diags = Diagnostics::new();
    let value = yaml::parse(src, &mut diags).and_then(|root| read_config(&root, &mut diags));
    Parsed {
        value,
        diagnostics: diags,
    }
}

fn text(node: Option<(&Node, FieldPath)>, diags: &mut Diagnostics) -> String {
    node.and_then(|(n, p)| yaml::string(n, &p, diags))
        .unwrap_or_default()
}

fn read_config(root: &Node, diags: &mut Diagnostics) -> Option<WebhookConfig> {
    let mut r = MapReader::new(root, &FieldPath::root(), diags)?;
    let version_field = r.field("apiVersion");
    let version_pos = version_field.as_ref().map_or(r.pos(), |(n, _)| n.pos);
    let version_path = FieldPath::root().key("apiVersion");
    let version = text(version_field, diags);
    let api_version = match version.as_str() {
        V1ALPHA1 => Some(ApiVersion::V1Alpha1),
        V1BETA1 => Some(ApiVersion::V1Beta1),
        other => {
            diags
                .error(
                    version_pos,
                    &version_path,
                    format!("unsupported webhook configuration version '{other}'"),
                )
                .hint(format!("use `{V1BETA1}` or `{V1ALPHA1}`"));
            None
        }
    };
    if let Some((n, p)) = r.field("kind") {
        let kind = yaml::string(n, &p, diags).unwrap_or_default();
        if kind != "WebhookConfig" {
            diags
                .warning(n.pos, &p, format!("kind `{kind}` is not `WebhookConfig`"))
                .hint("Keptn did not check it; write `kind: WebhookConfig`");
        }
    }
    let name = match r.field("metadata") {
        Some((n, p)) => match MapReader::new(n, &p, diags) {
            Some(mut m) => {
                let name = text(m.field("name"), diags);
                m.finish(Severity::Warning, "metadata", diags);
                name
            }
            None => String::new(),
        },
        None => String::new(),
    };
    let mut webhooks = Vec::new();
    match r.field("spec") {
        Some((spec, spec_path)) => {
            if let Some(mut s) = MapReader::new(spec, &spec_path, diags) {
                match s.field("webhooks") {
                    Some((list, list_path)) => {
                        let items = required_list(list, &list_path, "webhooks[]", diags);
                        for (i, item) in items.iter().enumerate() {
                            if let Some(w) =
                                read_webhook(item, &list_path.index(i), api_version, diags)
                            {
                                webhooks.push(w);
                            }
                        }
                    }
                    None => {
                        diags
                            .error(spec.pos, &spec_path, "missing 'webhooks[]' part")
                            .hint("add `webhooks:` with at least one webhook");
                    }
                }
                s.finish(Severity::Warning, "spec", diags);
            }
        }
        None => {
            diags
                .error(
                    r.pos(),
                    &FieldPath::root(),
                    "missing 'webhooks[]' part (no `spec`)",
                )
                .hint("add `spec:` with `webhooks:`");
        }
    }
    r.finish(Severity::Warning, "a webhook configuration", diags);
    Some(WebhookConfig {
        api_version: api_version?,
        name,
        webhooks,
    })
}

fn read_webhook(
    node: &Node,
    path: &FieldPath,
    version: Option<ApiVersion>,
    diags: &mut Diagnostics,
) -> Option<Webhook> {
    let mut r = MapReader::new(node, path, diags)?;
    let event_type = text(r.required("type", diags), diags);
    let subscription_id = text(r.required("subscriptionID", diags), diags);
    let send_finished = r
        .field("sendFinished")
        .and_then(|(n, p)| yaml::boolean(n, &p, diags))
        .unwrap_or(false);
    let send_started = r
        .field("sendStarted")
        .and_then(|(n, p)| yaml::boolean(n, &p, diags))
        .unwrap_or(true);
    let mut env_from = Vec::new();
    if let Some((list, list_path)) = r.field("envFrom") {
        for (i, item) in yaml::seq(list, &list_path, diags)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(e) = read_env_from(item, &list_path.index(i), diags) {
                env_from.push(e);
            }
        }
    }
    let mut requests = Vec::new();
    match r.field("requests") {
        Some((list, list_path)) => {
            let items = required_list(list, &list_path, "webhooks[].Requests[]", diags);
            for (i, item) in items.iter().enumerate() {
                if let Some(req) = read_request(item, &list_path.index(i), version, diags) {
                    requests.push(req);
                }
            }
        }
        None => {
            diags
                .error(r.pos(), path, "missing 'webhooks[].Requests[]' part")
                .hint("add `requests:` with at least one request");
        }
    }
    r.finish(Severity::Warning, "a webhook", diags);
    // Placeholders under `.env` must name an `envFrom` entry.
    for req in &requests {
        let mut fields: Vec<&[String]> = req.url.fields().collect();
        for (n, v) in &req.headers {
            fields.extend(n.fields());
            fields.extend(v.fields());
        }
        if let Some(b) = &req.body {
            fields.extend(b.fields());
        }
        if let Some(u) = &req.basic_auth {
            fields.extend(u.fields());
        }
        for f in fields {
            if let [env, name, ..] = f
                && env == "env"
                && !env_from.iter().any(|e| &e.name == name)
            {
                diags
                    .warning(
                        node.pos,
                        path,
                        format!("a request uses `{{{{.env.{name}}}}}` but `envFrom` has no entry named `{name}`"),
                    )
                    .hint(format!("add `envFrom: [{{name: {name}, secretRef: {{name: <secret>, key: <key>}}}}]`"));
            }
        }
    }
    Some(Webhook {
        event_type,
        subscription_id,
        send_started,
        send_finished,
        env_from,
        requests,
    })
}

fn read_env_from(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<EnvFrom> {
    let mut r = MapReader::new(node, path, diags)?;
    let name = text(r.required("name", diags), diags);
    let (mut secret, mut key) = (String::new(), String::new());
    if let Some((n, p)) = r.required("secretRef", diags)
        && let Some(mut s) = MapReader::new(n, &p, diags)
    {
        secret = text(s.required("name", diags), diags);
        key = text(s.required("key", diags), diags);
        s.finish(Severity::Warning, "a secretRef", diags);
    }
    r.finish(Severity::Warning, "an envFrom entry", diags);
    Some(EnvFrom { name, secret, key })
}

fn read_request(
    node: &Node,
    path: &FieldPath,
    version: Option<ApiVersion>,
    diags: &mut Diagnostics,
) -> Option<Request> {
    match (&node.value, version) {
        (Value::Scalar(_), Some(ApiVersion::V1Beta1)) => {
            diags
                .error(node.pos, path, "webhook request URL empty: a v1beta1 request is a mapping with `url` and `method`, not a curl command")
                .hint(format!("use `apiVersion: {V1ALPHA1}` for curl commands"));
            None
        }
        (Value::Scalar(_), _) => {
            let cmd = yaml::string(node, path, diags)?;
            match curl::parse(&cmd) {
                Ok(parsed) => {
                    for w in parsed.warnings {
                        diags.warning(node.pos, path, w);
                    }
                    Some(parsed.request)
                }
                Err(e) => {
                    diags.error(node.pos, path, e.0);
                    None
                }
            }
        }
        (Value::Map(_), v) => {
            if v == Some(ApiVersion::V1Alpha1) {
                diags
                    .warning(node.pos, path, "a v1alpha1 request should be a curl command; Keptn read this mapping as a v1beta1 request without checking it")
                    .hint(format!("use `apiVersion: {V1BETA1}`"));
            }
            read_beta_request(node, path, diags)
        }
        _ => {
            diags.error(
                node.pos,
                path,
                format!(
                    "expected a request (a curl command or a mapping), found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

fn parse_template(
    node: &Node,
    path: &FieldPath,
    text: &str,
    diags: &mut Diagnostics,
) -> Option<Template> {
    match Template::parse(text) {
        Ok(t) => Some(t),
        Err(e) => {
            diags.error(node.pos, path, e.to_string());
            None
        }
    }
}

fn read_beta_request(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Request> {
    let mut r = MapReader::new(node, path, diags)?;
    let url_field = r.field("url");
    let url = match &url_field {
        Some((n, p)) => {
            let u = yaml::string(n, p, diags).unwrap_or_default();
            if u.is_empty() {
                diags.error(n.pos, p, "webhook request URL empty");
                None
            } else {
                parse_template(n, p, &u, diags)
            }
        }
        None => {
            diags
                .error(node.pos, path, "webhook request URL empty")
                .hint("add `url:`");
            None
        }
    };
    let method = match r.field("method") {
        Some((n, p)) => {
            let m = yaml::string(n, &p, diags).unwrap_or_default();
            match m.as_str() {
                "" => {
                    diags.error(n.pos, &p, "webhook request method empty");
                    None
                }
                "POST" | "PUT" | "GET" | "HEAD" => Method::parse(&m),
                other => {
                    diags
                        .error(
                            n.pos,
                            &p,
                            format!("unsupported webhook request method `{other}`"),
                        )
                        .hint("Keptn's webhook-service accepts POST, PUT, GET and HEAD");
                    None
                }
            }
        }
        None => {
            diags
                .error(node.pos, path, "webhook request method empty")
                .hint("add `method: POST` (or PUT, GET, HEAD)");
            None
        }
    };
    let mut headers = Vec::new();
    let mut headers_ok = true;
    if let Some((list, list_path)) = r.field("headers") {
        for (i, item) in yaml::seq(list, &list_path, diags)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let hp = list_path.index(i);
            let Some(mut h) = MapReader::new(item, &hp, diags) else {
                headers_ok = false;
                continue;
            };
            let key_field = h.field("key");
            let value_field = h.field("value");
            let key = key_field
                .as_ref()
                .and_then(|(n, p)| yaml::string(n, p, diags))
                .unwrap_or_default();
            let value = value_field
                .as_ref()
                .and_then(|(n, p)| yaml::string(n, p, diags))
                .unwrap_or_default();
            h.finish(Severity::Warning, "a header", diags);
            if key.is_empty() || value.is_empty() {
                diags.error(item.pos, &hp, "webhook request header or value empty");
                headers_ok = false;
                continue;
            }
            match (
                parse_template(item, &hp.key("key"), &key, diags),
                parse_template(item, &hp.key("value"), &value, diags),
            ) {
                (Some(k), Some(v)) => headers.push((k, v)),
                _ => headers_ok = false,
            }
        }
    }
    let body = match r.field("payload") {
        Some((n, p)) => {
            let text = yaml::string(n, &p, diags).unwrap_or_default();
            if text.is_empty() {
                None
            } else {
                Some(parse_template(n, &p, &text, diags)?)
            }
        }
        None => None,
    };
    if let Some((n, p)) = r.field("options") {
        let options = yaml::string(n, &p, diags).unwrap_or_default();
        if !options.trim().is_empty() {
            diags
                .error(n.pos, &p, format!("request options `{options}` are not supported: sluice sends requests itself, not through curl"))
                .hint("remove `options`; outbound proxies and TLS are the server's settings");
        }
    }
    r.finish(Severity::Warning, "a webhook request", diags);
    // curl added a form content type to `--data` unless a header set one.
    if body.is_some()
        && !headers.iter().any(|(k, _)| {
            k.as_literal()
                .is_some_and(|k| k.eq_ignore_ascii_case("content-type"))
        })
    {
        headers.push((
            Template::literal("Content-Type"),
            Template::literal("application/x-www-form-urlencoded"),
        ));
    }
    if !headers_ok {
        return None;
    }
    Some(Request {
        method: method?,
        url: url?,
        headers,
        body,
        basic_auth: None,
    })
}

impl WebhookConfig {
    /// The webhook serving `subscription_id` (the first, as Keptn took it).
    pub fn webhook(&self, subscription_id: &str) -> Option<&Webhook> {
        self.webhooks
            .iter()
            .find(|w| w.subscription_id == subscription_id)
    }
}

/// The items of a list Keptn required (`part`, as its messages named it): an empty list is an
/// error; a node that is not a list is reported by [`yaml::seq`] and reads as empty.
fn required_list<'a>(
    list: &'a Node,
    path: &FieldPath,
    part: &str,
    diags: &mut Diagnostics,
) -> &'a [Node] {
    let items = yaml::seq(list, path, diags);
    if items.is_some_and(<[Node]>::is_empty) {
        diags.error(
            list.pos,
            path,
            format!("missing '{part}' part: the list is empty"),
        );
    }
    items.unwrap_or_default()
}

#[cfg(test)]
mod tests;
