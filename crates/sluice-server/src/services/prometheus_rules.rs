//! Prometheus alerting rules from a service's SLO, as prometheus-service wrote them on
//! `configure monitoring` (`eventhandling/configure_event_handler.go`), for Prometheus to
//! fire and Alertmanager to send to sluice's alert webhook.
//!
//! Per stage (only stages with both `slo.yaml` and `remediation.yaml` for the service, as
//! prometheus-service did), one group `"<service> <project>-<stage> alerts"` with one rule per
//! SLO objective that has pass criteria:
//! - `alert` = the SLI name, and annotation `summary` = the SLI name: the webhook makes the
//!   summary the problem title, which `remediation.yaml`'s `problemType` matches;
//! - `expr` = the SLI's query (`prometheus/sli.yaml` merged project → stage → service, else
//!   prometheus-service's built-ins) with `$PROJECT`, `$STAGE`, `$SERVICE`, the SLO's filters,
//!   `$DEPLOYMENT` = `primary` and `$DURATION_SECONDS` = `180s` (prometheus-service's values),
//!   compared with the negation of the pass criteria: true exactly when the objective fails;
//! - `for: 10m`, labels `{severity: webhook, project, stage, service, deployment: primary}`.
//!
//! Differences from prometheus-service, which stripped `=` and swapped `<`/`>` of each
//! criterion: the negation is exact (`<10` alerts on `>= 10`, not `> 10`; `=5` alerts on
//! `!= 5` instead of being skipped); several criteria of a group alert when ANY is violated
//! and several groups when ALL are (prometheus-service kept only the last criterion); relative
//! criteria (which need previous evaluations) are left out, with a YAML comment; objectives
//! that cannot be expressed are listed in comments rather than skipped silently; no `pod_name`
//! label (sluice has no pods).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use sluice_model::diagnostic::Severity;
use sluice_model::event::Timestamp;
use sluice_model::event::data::SliFilter;
use sluice_model::sli::SliConfig;
use sluice_model::slo::{Criterion, Objective, Operator, Slo};
use sluice_resources::{ResourceError, ResourceStore, Scope};

use super::prometheus::{QueryContext, SLI_URI};

/// How long the criterion must be violated before the alert fires (prometheus-service's).
pub const FOR: &str = "10m";

/// How long a criterion must be violated before the alert fires, and the query window
/// (`$DURATION_SECONDS`): prometheus-service's 10m and 180s by default, shorter for demos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTiming {
    /// The rules' `for` (a Prometheus duration such as `10m`).
    pub for_duration: String,
    /// The window of the queries, in seconds.
    pub window_seconds: i64,
}

impl Default for RuleTiming {
    fn default() -> Self {
        RuleTiming {
            for_duration: FOR.to_owned(),
            window_seconds: WINDOW_SECONDS,
        }
    }
}
/// The query window substituted for `$DURATION_SECONDS` (prometheus-service's 180 s).
pub const WINDOW_SECONDS: i64 = 180;
/// The deployment type alerts watch (prometheus-service: primary deployments only).
pub const DEPLOYMENT: &str = "primary";
/// The `severity` label, which prometheus-service's Alertmanager route matched.
pub const SEVERITY: &str = "webhook";

/// One alerting rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `alert`: the SLI name.
    pub alert: String,
    /// `expr`: true while the objective's pass criteria are violated.
    pub expr: String,
    /// `for`.
    pub for_duration: String,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// The rules of one stage and what could not become a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageRules {
    /// The stage.
    pub stage: String,
    /// The rule group's name, `"<service> <project>-<stage> alerts"`.
    pub group: String,
    /// The rules, in objective order.
    pub rules: Vec<Rule>,
    /// Objectives (or criteria) left out, and why (written as comments).
    pub notes: Vec<String>,
}

/// The rules for one stage of a service from its SLO and merged SLI queries.
pub fn stage_rules(
    project: &str,
    stage: &str,
    service: &str,
    slo: &Slo,
    sli: &SliConfig,
    timing: &RuleTiming,
) -> StageRules {
    let labels = BTreeMap::new();
    let filters: Vec<SliFilter> = slo
        .filter
        .iter()
        .map(|(key, value)| SliFilter {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    let end = Timestamp::from_unix(timing.window_seconds, 0);
    let context = QueryContext {
        project,
        stage,
        service,
        deployment: DEPLOYMENT,
        labels: &labels,
        filters: &filters,
        start: Timestamp::from_unix(0, 0),
        end,
    };
    let mut out = StageRules {
        stage: stage.to_owned(),
        group: format!("{service} {project}-{stage} alerts"),
        ..StageRules::default()
    };
    for objective in &slo.objectives {
        match rule_for(objective, &context, sli, &timing.for_duration) {
            Ok((rule, mut notes)) => {
                out.rules.push(rule);
                out.notes.append(&mut notes);
            }
            Err(note) => out.notes.push(format!("{}: {note}", objective.sli)),
        }
    }
    out
}

/// The comparison that is true when `measured <op> target` is false.
fn negation(op: Operator) -> &'static str {
    match op {
        Operator::Lt => ">=",
        Operator::Le => ">",
        Operator::Eq => "!=",
        Operator::Ge => "<",
        Operator::Gt => "<=",
    }
}

fn rule_for(
    objective: &Objective,
    context: &QueryContext<'_>,
    sli: &SliConfig,
    for_duration: &str,
) -> Result<(Rule, Vec<String>), String> {
    if objective.pass.is_empty() {
        return Err("no pass criteria (informational objective): no rule".to_owned());
    }
    let query = context.query_for(&objective.sli, sli).ok_or_else(|| {
        format!("no query in {SLI_URI} and no built-in query for this SLI: no rule")
    })?;
    if query.contains("$LABEL.") {
        return Err(format!(
            "the query `{query}` uses $LABEL placeholders, which only an evaluation's labels fill: no rule"
        ));
    }
    let mut notes = Vec::new();
    let mut groups = Vec::new();
    let mut shown = Vec::new();
    for set in &objective.pass {
        let mut terms = Vec::new();
        for spec in &set.criteria {
            match &spec.parsed {
                Ok(Criterion::Absolute { op, value }) => {
                    terms.push(format!("({query}) {} {value}", negation(*op)));
                    shown.push(spec.text.clone());
                }
                Ok(Criterion::Relative { .. }) => notes.push(format!(
                    "{}: relative criterion `{}` left out (it compares with previous evaluations)",
                    objective.sli, spec.text
                )),
                Err(e) => {
                    return Err(format!(
                        "criterion `{}` is invalid ({e}): no rule",
                        spec.text
                    ));
                }
            }
        }
        if terms.is_empty() {
            return Err(format!(
                "only relative pass criteria ({}), which compare with previous evaluations: no rule",
                set.criteria
                    .iter()
                    .map(|c| c.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        groups.push(terms);
    }
    // A group passes when all its criteria hold, the objective when any group passes: it
    // fails when every group has some violated criterion.
    let expr = if groups.len() == 1 {
        groups[0].join(" or ")
    } else {
        groups
            .iter()
            .map(|g| format!("({})", g.join(" or ")))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let name = objective.name().to_owned();
    let labels: BTreeMap<String, String> = [
        ("severity", SEVERITY),
        ("project", context.project),
        ("stage", context.stage),
        ("service", context.service),
        ("deployment", DEPLOYMENT),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let annotations: BTreeMap<String, String> = [
        ("summary".to_owned(), objective.sli.clone()),
        (
            "description".to_owned(),
            format!(
                "{name} is {{{{ $value }}}} in stage {} of {}, violating its pass criteria {}",
                context.stage,
                context.project,
                shown.join(" ")
            ),
        ),
    ]
    .into();
    Ok((
        Rule {
            alert: objective.sli.clone(),
            expr,
            for_duration: for_duration.to_owned(),
            labels,
            annotations,
        },
        notes,
    ))
}

/// A YAML scalar: JSON's double-quoted form is valid YAML.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A Prometheus rule file (`groups:`) for the given stages, with `header` and each stage's
/// notes as comments.
pub fn render(header: &[String], stages: &[StageRules]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    if stages.is_empty() {
        out.push_str("groups: []\n");
        return out;
    }
    out.push_str("groups:\n");
    for s in stages {
        for note in &s.notes {
            let _ = writeln!(out, "  # {}", note.replace('\n', " "));
        }
        let _ = writeln!(out, "  - name: {}", quoted(&s.group));
        if s.rules.is_empty() {
            out.push_str("    rules: []\n");
            continue;
        }
        out.push_str("    rules:\n");
        for r in &s.rules {
            let _ = writeln!(out, "      - alert: {}", quoted(&r.alert));
            let _ = writeln!(out, "        expr: {}", quoted(&r.expr));
            let _ = writeln!(out, "        for: {}", r.for_duration);
            for (key, map) in [("labels", &r.labels), ("annotations", &r.annotations)] {
                let _ = writeln!(out, "        {key}:");
                for (k, v) in map {
                    let _ = writeln!(out, "          {k}: {}", quoted(v));
                }
            }
        }
    }
    out
}

/// Why the rules for a stage could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {uri}: {source}")]
    Read {
        /// The file.
        uri: String,
        /// Why.
        #[source]
        source: ResourceError,
    },
    /// A file is not valid.
    #[error("{uri} is not valid: {message}")]
    Invalid {
        /// The file.
        uri: String,
        /// The first error.
        message: String,
    },
    /// The blocking read did not finish.
    #[error("the read was interrupted: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The rules of one stage from the files at the stage's head; `Ok(Err(note))` when the stage
/// has no rules because a file is missing (prometheus-service's conditions).
pub async fn rules_from_files(
    resources: &Arc<ResourceStore>,
    project: &str,
    stage: &str,
    service: &str,
    timing: &RuleTiming,
) -> Result<Result<StageRules, String>, Error> {
    let (r, p, st, sv) = (
        resources.clone(),
        project.to_owned(),
        stage.to_owned(),
        service.to_owned(),
    );
    let files = tokio::task::spawn_blocking(move || {
        let read = |scope: Scope<'_>, uri: &str| match r.get_resource(scope, uri, None) {
            Ok(res) => Ok(Some(String::from_utf8_lossy(&res.content).into_owned())),
            Err(ResourceError::ResourceNotFound) => Ok(None),
            Err(source) => Err(Error::Read {
                uri: uri.to_owned(),
                source,
            }),
        };
        let slo = read(Scope::service(&p, &st, &sv), "slo.yaml")?;
        let remediation = read(Scope::service(&p, &st, &sv), "remediation.yaml")?;
        let mut sli = Vec::new();
        for scope in [
            Scope::project(&p),
            Scope::stage(&p, &st),
            Scope::service(&p, &st, &sv),
        ] {
            sli.extend(read(scope, SLI_URI)?);
        }
        Ok::<_, Error>((slo, remediation, sli))
    })
    .await??;
    let (Some(slo_text), Some(_)) = (&files.0, &files.1) else {
        let missing = match (&files.0, &files.1) {
            (None, None) => "slo.yaml and remediation.yaml",
            (None, _) => "slo.yaml",
            _ => "remediation.yaml",
        };
        return Ok(Err(format!(
            "stage {stage}: no {missing} for service {service}: no alerting rules (as prometheus-service)"
        )));
    };
    let slo = sluice_model::slo::parse(slo_text);
    let slo = match (slo.value, first_error(&slo.diagnostics)) {
        (Some(s), None) => s,
        (_, message) => {
            return Err(Error::Invalid {
                uri: format!("slo.yaml of stage {stage}"),
                message: message.unwrap_or_else(|| "cannot be read".to_owned()),
            });
        }
    };
    let mut levels = Vec::new();
    for text in &files.2 {
        let parsed = sluice_model::sli::parse(text);
        if let Some(message) = first_error(&parsed.diagnostics) {
            return Err(Error::Invalid {
                uri: format!("{SLI_URI} of stage {stage}"),
                message,
            });
        }
        levels.push(parsed.value.unwrap_or_default());
    }
    let refs: Vec<&SliConfig> = levels.iter().collect();
    let sli = sluice_model::sli::merge(&refs);
    Ok(Ok(stage_rules(project, stage, service, &slo, &sli, timing)))
}

fn first_error(d: &sluice_model::diagnostic::Diagnostics) -> Option<String> {
    d.iter()
        .find(|d| d.severity == Severity::Error)
        .map(|d| d.render(""))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SLO: &str = include_str!("../../../../examples/fulltour/slo.yaml");
    const SLI: &str = include_str!("../../../../examples/fulltour/prometheus/sli.yaml");

    fn fulltour(stage: &str) -> StageRules {
        let slo = sluice_model::slo::parse(SLO).value.unwrap();
        let sli = sluice_model::sli::parse(SLI).value.unwrap();
        stage_rules(
            "fulltour",
            stage,
            "helloservice",
            &slo,
            &sli,
            &RuleTiming::default(),
        )
    }

    #[test]
    fn the_tutorials_slo_gives_the_response_time_rule() {
        let s = fulltour("production");
        assert_eq!(s.group, "helloservice fulltour-production alerts");
        let names: Vec<&str> = s.rules.iter().map(|r| r.alert.as_str()).collect();
        assert_eq!(
            names,
            [
                "http_response_time_seconds_main_page_sum",
                "go_routines",
                "failing_request"
            ]
        );
        let rt = &s.rules[0];
        assert_eq!(
            rt.expr,
            "(sum(rate(http_server_request_duration_seconds_sum{method=\"GET\",route=\"/\",status_code=\"200\",job=\"helloservice-fulltour-production\"}[180s])/rate(http_server_request_duration_seconds_count{method=\"GET\",route=\"/\",status_code=\"200\",job=\"helloservice-fulltour-production\"}[180s]))) > 0.4"
        );
        assert_eq!(rt.for_duration, "10m");
        assert_eq!(rt.labels["stage"], "production");
        assert_eq!(rt.labels["severity"], "webhook");
        assert_eq!(
            rt.annotations["summary"],
            "http_response_time_seconds_main_page_sum"
        );
        // `<=30` fails above 30; `<10` fails at 10 already.
        assert!(s.rules[1].expr.ends_with(") > 30"), "{}", s.rules[1].expr);
        assert!(s.rules[2].expr.ends_with(") >= 10"), "{}", s.rules[2].expr);
        // The relative throughput criterion cannot become a rule, and says so.
        assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
        assert!(s.notes[0].starts_with("request_throughput: only relative"));
    }

    #[test]
    fn criteria_groups_combine_like_the_quality_gate() {
        let slo = sluice_model::slo::parse(
            "spec_version: '1.0'\nfilter:\n  handler: ItemsController\nobjectives:\n  - sli: rt\n    pass:\n      - criteria: ['<=100', '>=+5%', '>1']\n      - criteria: ['=7']\n  - sli: info\n  - sli: nothing\n    pass:\n      - criteria: ['<1']\n  - sli: lbl\n    pass:\n      - criteria: ['<1']\ntotal_score:\n  pass: '90%'\n",
        )
        .value
        .unwrap();
        let sli = sluice_model::sli::parse(
            "spec_version: '1.0'\nindicators:\n  rt: m{h=\"$handler\",d=\"$DEPLOYMENT\"}\n  lbl: m{x=\"$LABEL.x\"}\n",
        )
        .value
        .unwrap();
        let s = stage_rules("p", "dev", "svc", &slo, &sli, &RuleTiming::default());
        assert_eq!(s.rules.len(), 1, "{s:?}");
        let q = "(m{h=\"ItemsController\",d=\"primary\"})";
        assert_eq!(
            s.rules[0].expr,
            format!("({q} > 100 or {q} <= 1) and ({q} != 7)")
        );
        let notes = s.notes.join("\n");
        assert!(
            notes.contains("rt: relative criterion `>=+5%` left out"),
            "{notes}"
        );
        assert!(notes.contains("info: no pass criteria"), "{notes}");
        assert!(notes.contains("nothing: no query"), "{notes}");
        assert!(notes.contains("lbl: the query"), "{notes}");
    }

    #[test]
    fn the_rendered_file_is_valid_for_promtool() {
        let header = vec!["generated by sluice".to_owned()];
        let text = render(&header, &[fulltour("qa"), fulltour("production")]);
        assert!(
            text.starts_with("# generated by sluice\ngroups:\n"),
            "{text}"
        );
        assert!(text.contains("      - alert: \"go_routines\"\n"), "{text}");
        assert!(
            text.contains("job=\\\"helloservice-fulltour-qa\\\""),
            "{text}"
        );
        assert_eq!(render(&[], &[]), "groups: []\n");
        check_with_promtool(&text);
        check_with_promtool(&render(
            &header,
            &[StageRules {
                stage: "x".into(),
                group: "empty".into(),
                rules: vec![],
                notes: vec!["nothing here".into()],
            }],
        ));
    }

    /// Runs `promtool check rules` on the text when promtool is installed.
    pub(crate) fn check_with_promtool(text: &str) {
        let dir =
            std::env::temp_dir().join(format!("sluice-rules-{}", crate::runtime::ids::fresh()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rules.yml");
        std::fs::write(&file, text).unwrap();
        match std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&file)
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "promtool rejected the rules:\n{text}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("note: promtool not runnable ({e}); rules not checked by it"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
