//! `sluice trigger delivery|evaluation|sequence`: builds the sequence trigger exactly like
//! Keptn's CLI, sends it, prints the context and optionally watches it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};
use sluice_model::event::data::{ConfigurationChange, DeliveryTriggeredEventData};
use sluice_model::event::time::evaluation_window;
use sluice_model::event::{EventData, EventType, KeptnEvent, SPEC_VERSION, Timestamp};

use super::http::{Api, block_on, segment};
use super::output::pretty_json;
use super::pairs::{apply_values, parse_labels};
use super::watch::{WatchOptions, watch};
use crate::cli::{
    OutputFormat, TriggerCommon, TriggerDeliveryArgs, TriggerEvaluationArgs, TriggerSequenceArgs,
};

/// The `source` of `keptn trigger delivery` events.
pub const DELIVERY_SOURCE: &str = "https://github.com/keptn/keptn/cli#configuration-change";
/// The `source` of the other events the CLI sends.
pub const CLI_SOURCE: &str = "https://github.com/keptn/keptn/cli";
/// The event ingestion endpoint.
pub const EVENT_PATH: &str = "/api/v1/event";

/// Why an image reference is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Empty.
    #[error("the image is empty")]
    Empty,
    /// Not a valid reference.
    #[error("invalid image {image:?}: {why}")]
    Invalid {
        /// The image as given.
        image: String,
        /// What is wrong.
        why: String,
    },
}

/// The `image:tag` to deliver, as Keptn's CLI computes it: a trailing `/` is dropped; the tag
/// is `--tag` when given, else the part after `:` in the last path component, else `latest`.
/// A digest reference (`name@sha256:...`) is kept as it is.
pub fn image_reference(image: &str, tag: Option<&str>) -> Result<String, ImageError> {
    let image = image.trim().trim_end_matches('/');
    let invalid = |why: &str| ImageError::Invalid {
        image: image.to_string(),
        why: why.to_string(),
    };
    if image.is_empty() {
        return Err(ImageError::Empty);
    }
    if image.contains("://") {
        return Err(invalid(
            "give a registry path such as docker.io/org/name:tag, not a URL",
        ));
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains whitespace"));
    }
    if let Some((name, digest)) = image.split_once('@') {
        if tag.is_some() {
            return Err(invalid("an image with a digest cannot also have --tag"));
        }
        check_name(name).map_err(|w| invalid(&w))?;
        if !digest.contains(':') {
            return Err(invalid("a digest looks like sha256:<hex>"));
        }
        return Ok(image.to_string());
    }
    let (slash, last) = match image.rfind('/') {
        Some(i) => (i + 1, &image[i + 1..]),
        None => (0, image),
    };
    let (name, own_tag) = match last.split_once(':') {
        Some((n, t)) => (format!("{}{n}", &image[..slash]), Some(t)),
        None => (image.to_string(), None),
    };
    check_name(&name).map_err(|w| invalid(&w))?;
    let tag = match (tag, own_tag) {
        (Some(t), _) => t.trim(),
        (None, Some(t)) => t,
        (None, None) => "latest",
    };
    check_tag(tag).map_err(|w| invalid(&w))?;
    Ok(format!("{name}:{tag}"))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    let mut parts = name.split('/').peekable();
    let first = parts.next().unwrap_or("");
    // A registry host (has a dot or a port, or is localhost) may contain uppercase and ':'.
    let has_host = parts.peek().is_some()
        && (first.contains('.') || first.contains(':') || first == "localhost");
    let rest: Vec<&str> = if has_host {
        parts.collect()
    } else {
        std::iter::once(first).chain(parts).collect()
    };
    for p in rest {
        if p.is_empty() {
            return Err("it has an empty path component".into());
        }
        if !p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        {
            return Err(format!(
                "path component {p:?} may only contain lowercase letters, digits, '.', '_' and '-'"
            ));
        }
        if !p.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !p.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(format!(
                "path component {p:?} must start and end with a letter or digit"
            ));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ))
    }
}

/// A sequence trigger envelope as Keptn's CLI sends it (no time and no context: the API
/// fills them).
pub fn trigger_envelope(id: &str, source: &str, ty: &EventType, data: Value) -> KeptnEvent {
    KeptnEvent {
        specversion: Some(SPEC_VERSION.to_string()),
        id: Some(id.to_string()),
        source: Some(source.to_string()),
        event_type: Some(ty.to_string()),
        datacontenttype: Some("application/json".to_string()),
        data: Some(data),
        ..KeptnEvent::default()
    }
}

/// What a delivery trigger carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Project.
    pub project: String,
    /// Stage to start in.
    pub stage: String,
    /// Service.
    pub service: String,
    /// Sequence name.
    pub sequence: String,
    /// `image:tag`.
    pub image: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Further `configurationChange.values`.
    pub values: Map<String, Value>,
}

/// The `sh.keptn.event.<stage>.<sequence>.triggered` event of `trigger delivery`.
pub fn delivery_event(d: &Delivery, id: &str) -> KeptnEvent {
    let mut values = d.values.clone();
    values.insert("image".into(), Value::String(d.image.clone()));
    let data = DeliveryTriggeredEventData {
        base: EventData {
            project: d.project.clone(),
            stage: d.stage.clone(),
            service: d.service.clone(),
            labels: d.labels.clone(),
            ..EventData::default()
        },
        configuration_change: ConfigurationChange {
            values: Some(values),
        },
        ..DeliveryTriggeredEventData::default()
    };
    trigger_envelope(
        id,
        DELIVERY_SOURCE,
        &EventType::sequence_triggered(&d.stage, &d.sequence),
        data.to_data(),
    )
}

/// The `sh.keptn.event.<stage>.<name>.triggered` event of `trigger sequence`: like Keptn's
/// CLI, the deployment-triggered payload with only the common fields set (so
/// `configurationChange.values` and `deployment` are written empty) and the
/// configuration-change source.
pub fn sequence_event(
    project: &str,
    stage: &str,
    service: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    id: &str,
) -> KeptnEvent {
    let data = DeliveryTriggeredEventData {
        base: EventData {
            project: project.into(),
            stage: stage.into(),
            service: service.into(),
            labels: labels.clone(),
            ..EventData::default()
        },
        ..DeliveryTriggeredEventData::default()
    };
    trigger_envelope(
        id,
        DELIVERY_SOURCE,
        &EventType::sequence_triggered(stage, name),
        data.to_data(),
    )
}

/// The body of the evaluation trigger, after checking Keptn's window rules locally at `now`.
pub fn evaluation_body(
    args: &TriggerEvaluationArgs,
    labels: &BTreeMap<String, String>,
    now: Timestamp,
) -> Result<Value> {
    let start = args.start.as_deref().unwrap_or("").trim();
    let end = args.end.as_deref().unwrap_or("").trim();
    let timeframe = args.timeframe.as_deref().unwrap_or("").trim();
    if let Err(e) = evaluation_window(start, end, timeframe, now) {
        bail!("invalid evaluation window: {e}");
    }
    let mut body = Map::new();
    for (k, v) in [("start", start), ("end", end), ("timeframe", timeframe)] {
        if !v.is_empty() {
            body.insert(k.into(), json!(v));
        }
    }
    if !labels.is_empty() {
        body.insert("labels".into(), json!(labels));
    }
    if let Some(c) = args.git_commit_id.as_deref().filter(|c| !c.is_empty()) {
        body.insert("gitcommitid".into(), json!(c));
    }
    Ok(Value::Object(body))
}

/// The current time.
pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

/// Prints the context and watches it when asked; returns the exit code.
async fn report(api: &Api, ctx: &str, common: &TriggerCommon) -> Result<i32> {
    match common.output {
        OutputFormat::Table => println!("ID of Keptn context: {ctx}"),
        OutputFormat::Json if !common.watch => {
            println!("{}", pretty_json(&json!({"keptnContext": ctx})));
        }
        OutputFormat::Yaml if !common.watch => {
            print!(
                "{}",
                sluice_model::yaml_writer::to_yaml(
                    &json!({"keptnContext": ctx}),
                    sluice_model::yaml_writer::YamlStyle::Indented
                )
            );
        }
        _ => eprintln!("ID of Keptn context: {ctx}"),
    }
    if !common.watch {
        return Ok(0);
    }
    let opts = WatchOptions {
        keptn_context: ctx.to_string(),
        limit: common.watch_time.map(Duration::from_secs),
        output: common.output,
    };
    watch(api, &opts).await
}

/// Sends an event to `POST /api/v1/event` and returns the context.
pub async fn send_event(api: &Api, ev: &KeptnEvent) -> Result<String> {
    let answer = api
        .post(EVENT_PATH, &ev.to_value(Default::default()))
        .await?;
    super::context_of(&answer)
}

/// Runs `sluice trigger delivery`.
pub fn delivery(args: &TriggerDeliveryArgs) -> Result<i32> {
    let labels = parse_labels(&args.common.labels)?;
    let image = image_reference(&args.image, args.tag.as_deref())?;
    let mut values = Map::new();
    apply_values(&mut values, &args.values)?;
    if values.contains_key("image") {
        bail!("set the image with --image, not --values image=...");
    }
    let api = super::connect()?;
    block_on(async {
        let project = super::fetch_project(&api, &args.project).await?;
        let stage = match &args.stage {
            Some(s) => s.clone(),
            None => match super::stage_names(&project).into_iter().next() {
                Some(s) => s,
                None => bail!(
                    "project {:?} has no stages, so there is nowhere to deliver to",
                    args.project
                ),
            },
        };
        super::require_stage(&args.project, &project, &stage)?;
        super::require_service(&args.project, &project, &stage, &args.service)?;
        super::require_sequence(&args.project, &project, &stage, &args.sequence)?;
        let d = Delivery {
            project: args.project.clone(),
            stage,
            service: args.service.clone(),
            sequence: args.sequence.clone(),
            image,
            labels,
            values,
        };
        let ev = delivery_event(&d, &super::new_uuid());
        if args.common.output == OutputFormat::Table {
            println!(
                "Delivering {} of service {} into stage {} of project {} (sequence {})",
                d.image, d.service, d.stage, d.project, d.sequence
            );
        }
        let ctx = send_event(&api, &ev).await?;
        report(&api, &ctx, &args.common).await
    })?
}

/// Runs `sluice trigger evaluation`.
pub fn evaluation(args: &TriggerEvaluationArgs) -> Result<i32> {
    let labels = parse_labels(&args.common.labels)?;
    let body = evaluation_body(args, &labels, now())?;
    let api = super::connect()?;
    block_on(async {
        let project = super::fetch_project(&api, &args.project).await?;
        super::require_stage(&args.project, &project, &args.stage)?;
        super::require_service(&args.project, &project, &args.stage, &args.service)?;
        let path = format!(
            "/api/controlPlane/v1/project/{}/stage/{}/service/{}/evaluation",
            segment(&args.project),
            segment(&args.stage),
            segment(&args.service)
        );
        let answer = api.post(&path, &body).await?;
        let ctx = super::context_of(&answer)?;
        report(&api, &ctx, &args.common).await
    })?
}

/// Runs `sluice trigger sequence`.
pub fn sequence(args: &TriggerSequenceArgs) -> Result<i32> {
    let labels = parse_labels(&args.common.labels)?;
    let api = super::connect()?;
    block_on(async {
        let project = super::fetch_project(&api, &args.project).await?;
        super::require_stage(&args.project, &project, &args.stage)?;
        super::require_service(&args.project, &project, &args.stage, &args.service)?;
        super::require_sequence(&args.project, &project, &args.stage, &args.name)?;
        let ev = sequence_event(
            &args.project,
            &args.stage,
            &args.service,
            &args.name,
            &labels,
            &super::new_uuid(),
        );
        let ctx = send_event(&api, &ev).await?;
        report(&api, &ctx, &args.common).await
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_model::event::ContentTypeKey;

    #[test]
    fn delivery_event_is_exactly_like_keptns() {
        let d = Delivery {
            project: "sockshop".into(),
            stage: "dev".into(),
            service: "carts".into(),
            sequence: "delivery".into(),
            image: image_reference("docker.io/keptnexamples/carts:0.13.1", None).unwrap(),
            labels: BTreeMap::from([("buildId".to_string(), "17".to_string())]),
            values: Map::new(),
        };
        let ev = delivery_event(&d, "1b7cf9a3-2a5c-4a5c-9d0e-3f3b0c1d2e4f");
        let expected: Value = serde_json::from_str(
            r#"{ "specversion":"1.0","id":"1b7cf9a3-2a5c-4a5c-9d0e-3f3b0c1d2e4f",
                 "source":"https://github.com/keptn/keptn/cli#configuration-change",
                 "type":"sh.keptn.event.dev.delivery.triggered","datacontenttype":"application/json",
                 "data":{"project":"sockshop","stage":"dev","service":"carts","labels":{"buildId":"17"},
                         "configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.13.1"}},
                         "deployment":{"deploymentURIsLocal":null,"deploymentstrategy":""}} }"#,
        )
        .unwrap();
        assert_eq!(ev.to_value(ContentTypeKey::DataContentType), expected);
        assert!(ev.keptn_api_validation().is_ok());
    }

    #[test]
    fn delivery_values_and_no_labels() {
        let mut values = Map::new();
        apply_values(&mut values, &["replicas=2".to_string()]).unwrap();
        let d = Delivery {
            project: "p".into(),
            stage: "qa".into(),
            service: "s".into(),
            sequence: "canary".into(),
            image: "nginx:latest".into(),
            labels: BTreeMap::new(),
            values,
        };
        let v = delivery_event(&d, "x").to_value(ContentTypeKey::DataContentType);
        assert_eq!(v["type"], "sh.keptn.event.qa.canary.triggered");
        assert_eq!(
            v["data"]["configurationChange"]["values"],
            json!({"image": "nginx:latest", "replicas": "2"})
        );
        assert!(v["data"].get("labels").is_none());
    }

    #[test]
    fn images_get_keptns_default_tag() {
        let r = |i: &str, t: Option<&str>| image_reference(i, t);
        assert_eq!(
            r("docker.io/keptnexamples/carts:0.13.1", None).unwrap(),
            "docker.io/keptnexamples/carts:0.13.1"
        );
        assert_eq!(r("nginx", None).unwrap(), "nginx:latest");
        assert_eq!(
            r("docker.io/org/carts/", None).unwrap(),
            "docker.io/org/carts:latest"
        );
        assert_eq!(
            r("docker.io/org/carts:1", Some("2")).unwrap(),
            "docker.io/org/carts:2"
        );
        assert_eq!(
            r("localhost:5000/carts", None).unwrap(),
            "localhost:5000/carts:latest"
        );
        assert_eq!(
            r("Registry.Example.com:5000/team/carts:v1", None).unwrap(),
            "Registry.Example.com:5000/team/carts:v1"
        );
        assert_eq!(r("carts@sha256:abcd", None).unwrap(), "carts@sha256:abcd");
        for bad in [
            "",
            "http://docker.io/carts",
            "Carts:1",
            "carts:1 2",
            "carts:-x",
            "org//carts",
            "carts:",
        ] {
            assert!(r(bad, None).is_err(), "{bad:?} should be rejected");
        }
        let e = r("docker.io/Org/carts", None).unwrap_err().to_string();
        assert!(e.contains("\"Org\""), "{e}");
    }

    #[test]
    fn sequence_event_shape() {
        let v = sequence_event("p", "prod", "carts", "remediation", &BTreeMap::new(), "id1")
            .to_value(ContentTypeKey::DataContentType);
        assert_eq!(
            v,
            json!({"specversion": "1.0", "id": "id1",
                   "source": "https://github.com/keptn/keptn/cli#configuration-change",
                   "type": "sh.keptn.event.prod.remediation.triggered", "datacontenttype": "application/json",
                   "data": {"project": "p", "stage": "prod", "service": "carts",
                            "configurationChange": {"values": null},
                            "deployment": {"deploymentURIsLocal": null, "deploymentstrategy": ""}}})
        );
    }

    fn eval_args(
        timeframe: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
    ) -> TriggerEvaluationArgs {
        TriggerEvaluationArgs {
            project: "p".into(),
            stage: "dev".into(),
            service: "carts".into(),
            timeframe: timeframe.map(Into::into),
            start: start.map(Into::into),
            end: end.map(Into::into),
            git_commit_id: None,
            common: TriggerCommon {
                labels: vec![],
                watch: false,
                watch_time: None,
                output: OutputFormat::Table,
            },
        }
    }

    #[test]
    fn evaluation_window_rules_are_checked_locally() {
        let now = Timestamp::parse("2024-01-02T15:00:00Z").unwrap();
        let none = BTreeMap::new();
        assert_eq!(
            evaluation_body(&eval_args(Some("5m"), None, None), &none, now).unwrap(),
            json!({"timeframe": "5m"})
        );
        assert_eq!(
            evaluation_body(&eval_args(None, None, None), &none, now).unwrap(),
            json!({})
        );
        assert_eq!(
            evaluation_body(
                &eval_args(
                    None,
                    Some("2024-01-02T14:00:00"),
                    Some("2024-01-02T14:10:00")
                ),
                &none,
                now
            )
            .unwrap(),
            json!({"start": "2024-01-02T14:00:00", "end": "2024-01-02T14:10:00"})
        );
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        assert_eq!(
            evaluation_body(
                &eval_args(Some("10m"), Some("2024-01-02T14:00:00"), None),
                &labels,
                now
            )
            .unwrap(),
            json!({"start": "2024-01-02T14:00:00", "timeframe": "10m", "labels": {"k": "v"}})
        );
        for (tf, s, e) in [
            (None, Some("2024-01-02T14:00:00"), None),
            (
                None,
                Some("2024-01-02T14:00:00"),
                Some("2024-01-02T14:00:30"),
            ),
            (Some("5x"), None, None),
            (None, Some("yesterday"), Some("2024-01-02T14:00:30")),
        ] {
            let err = evaluation_body(&eval_args(tf, s, e), &none, now);
            assert!(err.is_err(), "{tf:?} {s:?} {e:?}");
            assert!(
                err.unwrap_err()
                    .to_string()
                    .starts_with("invalid evaluation window")
            );
        }
    }
}
