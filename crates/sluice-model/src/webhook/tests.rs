//! Tests of the webhook configuration reader: Keptn's own examples, and bad files with the
//! exact position of each problem.

use super::*;
use serde_json::json;

/// The example of Keptn's webhook-service README (v1alpha1, curl commands).
const README_ALPHA: &str = r#"apiVersion: webhookconfig.keptn.sh/v1alpha1
kind: WebhookConfig
metadata:
  name: webhook-configuration
spec:
  webhooks:
    - type: "sh.keptn.event.mytask.triggered"
      subscriptionID: my-subscription-id
      envFrom: 
        - name: "secretKey"
          secretRef:
            name: "my-k8s-secret"
            key: "my-key"
      requests:
        - "curl --header 'x-token: {{.env.secretKey}}' http://shipyard-controller:8080/v1/project/{{.data.project}}"
        - "curl http://shipyard-controller:8080/v1/project/{{.data.project}}/stage/{{.data.stage}}"
"#;

/// The example of Keptn's spec (`webhook.md`, v1beta1).
const SPEC_BETA: &str = r#"apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata:
  name: webhook-configuration
spec:
  webhooks:
    - type: sh.keptn.event.evaluation.finished
      subscriptionID: "0123456987"
      sendStarted: true
      sendFinished: true
      envFrom: 
        - name: "secretKey"
          secretRef:
            name: "my-webhook-secret"
            key: "my-key"
      requests:
        - url: https://hooks.slack.com/services/{{.env.secretKey}}
          method: POST
          headers:
            - key: Content-type
              value: application/json
          payload: >-
            {"text": "Evaluation {{.data.evaluation.result}} with a score of {{.data.evaluation.score}} "}
"#;

fn lines(src: &str) -> Vec<String> {
    parse(src)
        .diagnostics
        .sorted()
        .iter()
        .map(|d| d.render("webhook.yaml"))
        .map(|r| r.lines().next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn keptns_examples_read_without_a_diagnostic() {
    for src in [README_ALPHA, SPEC_BETA] {
        let parsed = parse(src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}",
            parsed.diagnostics.render("webhook.yaml")
        );
    }
    let alpha = parse(README_ALPHA).value.unwrap();
    assert_eq!(alpha.api_version, ApiVersion::V1Alpha1);
    let w = alpha.webhook("my-subscription-id").unwrap();
    assert!(w.send_started && !w.send_finished, "Keptn's defaults");
    assert_eq!(w.requests.len(), 2);
    assert_eq!(
        w.env_from,
        [EnvFrom {
            name: "secretKey".into(),
            secret: "my-k8s-secret".into(),
            key: "my-key".into()
        }]
    );
    let data = json!({"data": {"project": "p", "stage": "s", "evaluation": {"result": "pass", "score": 90}}, "env": {"secretKey": "T"}});
    assert_eq!(
        w.requests[1].url.render(&data).unwrap(),
        "http://shipyard-controller:8080/v1/project/p/stage/s"
    );

    let beta = parse(SPEC_BETA).value.unwrap();
    let w = beta.webhook("0123456987").unwrap();
    assert!(w.send_started && w.send_finished);
    let r = &w.requests[0];
    assert_eq!(r.method, Method::Post);
    assert_eq!(
        r.url.render(&data).unwrap(),
        "https://hooks.slack.com/services/T"
    );
    assert_eq!(
        r.body.as_ref().unwrap().render(&data).unwrap(),
        r#"{"text": "Evaluation pass with a score of 90 "}"#
    );
    assert_eq!(
        r.headers.len(),
        1,
        "the file's content type, no form default"
    );
}

#[test]
fn what_keptn_refused_is_an_error_at_its_position() {
    assert_eq!(
        lines("apiVersion: webhookconfig.keptn.sh/v2\nspec:\n  webhooks: []\n"),
        [
            "webhook.yaml:1:13: error: apiVersion: unsupported webhook configuration version 'webhookconfig.keptn.sh/v2'",
            "webhook.yaml:3:13: error: spec.webhooks: missing 'webhooks[]' part: the list is empty",
        ]
    );
    let src = "apiVersion: webhookconfig.keptn.sh/v1beta1
spec:
  webhooks:
    - subscriptionID: a
      requests:
        - url: http://x/
          method: DELETE
        - method: GET
        - url: http://x/{{index .data \"a\"}}
          method: GET
          headers:
            - key: x-token
              value: \"\"
          options: --proxy http://p:3128
    - type: t
      subscriptionID: b
      sendFinished: maybe
      requests: \"curl http://x/\"
";
    assert_eq!(
        lines(src),
        [
            "webhook.yaml:4:7: error: spec.webhooks[0]: missing required field `type`",
            "webhook.yaml:7:19: error: spec.webhooks[0].requests[0].method: unsupported webhook request method `DELETE`",
            "webhook.yaml:8:11: error: spec.webhooks[0].requests[1]: webhook request URL empty",
            "webhook.yaml:9:16: error: spec.webhooks[0].requests[2].url: template: character 10: `{{index .data \"a\"}}` is not supported: sluice's webhooks support only field placeholders such as {{.data.project}} or {{.env.mySecret}}",
            "webhook.yaml:12:15: error: spec.webhooks[0].requests[2].headers[0]: webhook request header or value empty",
            "webhook.yaml:14:20: error: spec.webhooks[0].requests[2].options: request options `--proxy http://p:3128` are not supported: sluice sends requests itself, not through curl",
            "webhook.yaml:17:21: error: spec.webhooks[1].sendFinished: expected true or false, found `maybe`",
            "webhook.yaml:18:17: error: spec.webhooks[1].requests: expected a list, found a string",
        ]
    );
}

#[test]
fn curl_commands_sluice_cannot_send_are_errors_and_typos_warnings() {
    let src = "apiVersion: webhookconfig.keptn.sh/v1alpha1
spec:
  webhooks:
    - type: sh.keptn.event.x.triggered
      subscriptionID: s
      sendFinshed: true
      requests:
        - curl -o /tmp/out http://x/
        - \"curl -L -H 'x-token: {{.env.token}}' http://x/\"
        - url: http://x/
          method: GET
";
    assert_eq!(
        lines(src),
        [
            "webhook.yaml:4:7: warning: spec.webhooks[0]: a request uses `{{.env.token}}` but `envFrom` has no entry named `token`",
            "webhook.yaml:6:7: warning: spec.webhooks[0].sendFinshed: unknown field `sendFinshed` in a webhook",
            "webhook.yaml:8:11: error: spec.webhooks[0].requests[0]: curl command contains invalid option '-o'",
            "webhook.yaml:9:11: warning: spec.webhooks[0].requests[1]: sluice never follows redirects: `-L` is ignored and a 3xx answer fails the request",
            "webhook.yaml:10:11: warning: spec.webhooks[0].requests[2]: a v1alpha1 request should be a curl command; Keptn read this mapping as a v1beta1 request without checking it",
        ]
    );
    // A curl string in a v1beta1 file.
    assert_eq!(
        lines(
            "apiVersion: webhookconfig.keptn.sh/v1beta1\nspec:\n  webhooks:\n    - type: t\n      subscriptionID: s\n      requests: ['curl http://x/']\n"
        ),
        [
            "webhook.yaml:6:18: error: spec.webhooks[0].requests[0]: webhook request URL empty: a v1beta1 request is a mapping with `url` and `method`, not a curl command"
        ]
    );
}
