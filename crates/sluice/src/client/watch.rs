//! `--watch`: follows one Keptn context live and tells when all its sequences have ended.
//!
//! [`Tracker`] is pure: it is fed events (in any order, with repeats) and knows which
//! sequences of the context were triggered and which have finished, and how. A context is
//! *settled* when at least one sequence was triggered and every triggered sequence has its
//! `.finished`. Because chained sequences (`triggeredOn`) start in the same context right after
//! the previous `.finished`, the driver only stops after the context stayed settled for a
//! grace period ([`CHAIN_GRACE`]); a new `.triggered` in that time un-settles it.
//!
//! Transport: the server-sent-events stream `GET /api/sluice/v1/stream?keptnContext=C`
//! (replays the context, then pushes each new event); when it answers 404, or the stream
//! breaks, the datastore is polled (`GET /api/mongodb-datastore/event?keptnContext=C`) every
//! [`POLL_INTERVAL`]. Events are de-duplicated by id either way.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use sluice_model::event::{
    EventType, KeptnEvent, ResultType, SequenceEventKind, StatusType, TaskEventKind,
};

use super::http::Api;
use super::output::pretty_json;
use super::sse::SseDecoder;
use crate::cli::{ColorChoice, OutputFormat};
use crate::style::Painter;

/// How long a settled context must stay quiet before the watch ends.
pub const CHAIN_GRACE: Duration = Duration::from_secs(3);
/// How often the datastore is polled when there is no stream.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// The event stream endpoint.
pub const STREAM_PATH: &str = "/api/sluice/v1/stream";
/// The datastore events endpoint.
pub const DATASTORE_EVENTS_PATH: &str = "/api/mongodb-datastore/event";

/// How a finished sequence or task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// `data.result`
    pub result: ResultType,
    /// `data.status`
    pub status: StatusType,
    /// `data.message`
    pub message: String,
}

impl Ending {
    fn of(ev: &KeptnEvent) -> Ending {
        let d = ev.data_value();
        let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Ending {
            result: ResultType::from(s("result").as_str()),
            status: StatusType::from(s("status").as_str()),
            message: s("message"),
        }
    }

    /// Failed, errored, aborted (or any result or status that is not a success).
    pub fn failed(&self) -> bool {
        matches!(self.result, ResultType::Fail | ResultType::Other(_))
            || !matches!(self.status, StatusType::Succeeded | StatusType::Unset)
    }

    fn summary(&self) -> String {
        let result = if self.result.is_unset() {
            "no result".to_string()
        } else {
            self.result.to_string()
        };
        let mut s = if self.status.is_unset() {
            result
        } else {
            format!("{result} ({})", self.status)
        };
        // Task messages may end in blank lines (job-executor-service's "Logs:\n<tail>\n\n"):
        // one line per event is printed, so they go.
        let message = self.message.trim_end();
        if !message.is_empty() {
            s.push_str(" - ");
            s.push_str(message);
        }
        s
    }
}

/// One sequence run in one stage of the watched context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceRun {
    /// Id of the sequence `.triggered` event (or the `triggeredid` of its `.finished`).
    pub triggered_id: String,
    /// Stage.
    pub stage: String,
    /// Sequence name.
    pub name: String,
    /// Whether the `.triggered` event itself was seen.
    pub triggered_seen: bool,
    /// The ending, once `.finished` was seen.
    pub ending: Option<Ending>,
}

/// How a line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral.
    Info,
    /// Pass.
    Good,
    /// Warning.
    Warn,
    /// Fail or error.
    Bad,
}

/// A line to show for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The text.
    pub text: String,
    /// Its look.
    pub tone: Tone,
}

/// The state of one watched context.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: HashSet<String>,
    runs: Vec<SequenceRun>,
}

fn dedupe_key(ev: &KeptnEvent) -> String {
    match ev.id.as_deref() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => ev.to_json(Default::default()),
    }
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence runs seen so far, in order of appearance.
    pub fn runs(&self) -> &[SequenceRun] {
        &self.runs
    }

    /// Feeds one event; returns `None` for a repeat, else the line describing it (which may
    /// be `None` inside for events not worth a line).
    pub fn observe(&mut self, ev: &KeptnEvent) -> Option<Option<Line>> {
        if !self.seen.insert(dedupe_key(ev)) {
            return None;
        }
        let Ok(ty) = ev.event_type() else {
            return Some(None);
        };
        if let EventType::Sequence {
            stage,
            sequence,
            kind,
        } = &ty
        {
            match kind {
                SequenceEventKind::Triggered => self.sequence_triggered(ev, stage, sequence),
                SequenceEventKind::Finished => self.sequence_finished(ev, stage, sequence),
                _ => {}
            }
        }
        Some(describe(ev, &ty))
    }

    fn sequence_triggered(&mut self, ev: &KeptnEvent, stage: &str, name: &str) {
        let id = ev.id.clone().unwrap_or_default();
        if !id.is_empty()
            && let Some(run) = self.runs.iter_mut().find(|r| r.triggered_id == id)
        {
            run.triggered_seen = true;
            return;
        }
        self.runs.push(SequenceRun {
            triggered_id: id,
            stage: stage.to_string(),
            name: name.to_string(),
            triggered_seen: true,
            ending: None,
        });
    }

    fn sequence_finished(&mut self, ev: &KeptnEvent, stage: &str, name: &str) {
        let ending = Ending::of(ev);
        let tid = ev.triggeredid.clone().unwrap_or_default();
        let by_id = (!tid.is_empty())
            .then(|| self.runs.iter().position(|r| r.triggered_id == tid))
            .flatten();
        let by_name = || {
            self.runs
                .iter()
                .position(|r| r.ending.is_none() && r.stage == stage && r.name == name)
        };
        match by_id.or_else(by_name) {
            Some(i) => self.runs[i].ending = Some(ending),
            // Finished before (or without) its trigger: remember it so that the trigger,
            // when it comes, does not open a new run.
            None => self.runs.push(SequenceRun {
                triggered_id: tid,
                stage: stage.to_string(),
                name: name.to_string(),
                triggered_seen: false,
                ending: Some(ending),
            }),
        }
    }

    /// At least one sequence and every sequence seen has finished.
    pub fn is_settled(&self) -> bool {
        !self.runs.is_empty() && self.runs.iter().all(|r| r.ending.is_some())
    }

    /// The runs that ended badly.
    pub fn failures(&self) -> Vec<&SequenceRun> {
        self.runs
            .iter()
            .filter(|r| r.ending.as_ref().is_some_and(Ending::failed))
            .collect()
    }
}

fn tone_of(e: &Ending) -> Tone {
    if e.failed() {
        Tone::Bad
    } else if e.result == ResultType::Warning {
        Tone::Warn
    } else if e.result == ResultType::Pass {
        Tone::Good
    } else {
        Tone::Info
    }
}

/// The line for an event, or `None` when it is not worth one.
pub fn describe(ev: &KeptnEvent, ty: &EventType) -> Option<Line> {
    let data = ev.data_value();
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
    let stage = field("stage");
    let source = ev.source.as_deref().unwrap_or("");
    let by = if source.is_empty() {
        String::new()
    } else {
        format!(" by {source}")
    };
    let info = |text: String| {
        Some(Line {
            text,
            tone: Tone::Info,
        })
    };
    match ty {
        EventType::Sequence {
            stage,
            sequence,
            kind: SequenceEventKind::Triggered,
        } => {
            let svc = field("service");
            let svc = if svc.is_empty() {
                String::new()
            } else {
                format!(" for service {svc}")
            };
            info(format!("[{stage}] sequence {sequence} triggered{svc}"))
        }
        EventType::Sequence {
            stage,
            sequence,
            kind: SequenceEventKind::Finished,
        } => {
            let e = Ending::of(ev);
            Some(Line {
                text: format!("[{stage}] sequence {sequence} finished: {}", e.summary()),
                tone: tone_of(&e),
            })
        }
        EventType::Task { task, kind } => match kind {
            TaskEventKind::Triggered => info(format!("[{stage}] {task} triggered")),
            TaskEventKind::Started => info(format!("[{stage}] {task} started{by}")),
            TaskEventKind::Finished => {
                let e = Ending::of(ev);
                let mut text = format!("[{stage}] {task} finished{by}: {}", e.summary());
                if task == "evaluation"
                    && let Some(score) = data
                        .get("evaluation")
                        .and_then(|v| v.get("score"))
                        .and_then(Value::as_f64)
                {
                    text.push_str(&format!(" (score {score})"));
                }
                Some(Line {
                    text,
                    tone: tone_of(&e),
                })
            }
            TaskEventKind::Invalidated => info(format!("[{stage}] {task} invalidated{by}")),
            _ => None,
        },
        EventType::TaskStatusChanged { task } => {
            let m = field("message");
            info(format!("[{stage}] {task} status changed{by}: {m}"))
        }
        EventType::LogError => Some(Line {
            text: format!("integration error{by}: {}", field("message")),
            tone: Tone::Bad,
        }),
        _ => None,
    }
}

/// Orders datastore events (newest first) oldest first; at equal times `.triggered`
/// before `.started` before `.finished`, sequences around their tasks.
pub fn chronological(mut events: Vec<KeptnEvent>) -> Vec<KeptnEvent> {
    fn rank(ev: &KeptnEvent) -> u8 {
        match ev.event_type() {
            Ok(EventType::Sequence {
                kind: SequenceEventKind::Triggered,
                ..
            }) => 0,
            Ok(EventType::Task {
                kind: TaskEventKind::Triggered,
                ..
            }) => 1,
            Ok(EventType::Task {
                kind: TaskEventKind::Started,
                ..
            }) => 2,
            Ok(EventType::Task {
                kind: TaskEventKind::Finished,
                ..
            }) => 4,
            Ok(EventType::Sequence {
                kind: SequenceEventKind::Finished,
                ..
            }) => 5,
            _ => 3,
        }
    }
    events.reverse();
    events.sort_by_key(|ev| {
        let t = ev
            .timestamp()
            .and_then(Result::ok)
            .map(|t| t.unix_nanos())
            .unwrap_or(i128::MIN);
        (t, rank(ev))
    });
    events
}

/// Options of one watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The context.
    pub keptn_context: String,
    /// Give up after this long.
    pub limit: Option<Duration>,
    /// Table = lines for people; json/yaml = the events themselves.
    pub output: OutputFormat,
}

/// What the watch prints to.
struct Screen {
    bar: ProgressBar,
    paint: Painter,
    output: OutputFormat,
}

impl Screen {
    fn new(output: OutputFormat, ctx: &str) -> Screen {
        let bar = if std::io::stderr().is_terminal() {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(format!("waiting for events of context {ctx}"));
        Screen {
            bar,
            paint: Painter::for_stdout(ColorChoice::Auto),
            output,
        }
    }

    fn event(&self, ev: &KeptnEvent, line: Option<Line>) {
        match self.output {
            OutputFormat::Table => {
                if let Some(l) = line {
                    let text = match l.tone {
                        Tone::Info => l.text.clone(),
                        Tone::Good => self.paint.good(&l.text),
                        Tone::Warn => self.paint.warn(&l.text),
                        Tone::Bad => self.paint.bad(&l.text),
                    };
                    self.bar.suspend(|| println!("{text}"));
                    self.bar.set_message(l.text);
                }
            }
            OutputFormat::Json => {
                let v = ev.to_value(Default::default());
                self.bar.suspend(|| println!("{}", pretty_json(&v)));
            }
            OutputFormat::Yaml => {
                let v = ev.to_value(Default::default());
                self.bar.suspend(|| {
                    print!(
                        "---\n{}",
                        sluice_model::yaml_writer::to_yaml(
                            &v,
                            sluice_model::yaml_writer::YamlStyle::Indented
                        )
                    )
                });
            }
        }
    }

    fn note(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }
}

/// What one watch loop ended with.
enum Ended {
    /// Settled and quiet for the grace period.
    Settled,
    /// The time limit passed.
    TimedOut,
    /// The stream is gone; poll instead.
    Fallback(String),
}

struct Watch<'a> {
    tracker: Tracker,
    screen: Screen,
    settled_since: Option<Instant>,
    deadline: Option<Instant>,
    api: &'a Api,
    ctx: String,
}

impl Watch<'_> {
    fn feed(&mut self, ev: &KeptnEvent) {
        if let Some(line) = self.tracker.observe(ev) {
            self.screen.event(ev, line);
        }
        if self.tracker.is_settled() {
            self.settled_since.get_or_insert_with(Instant::now);
        } else {
            self.settled_since = None;
        }
    }

    /// How long to wait for more input; `Err` when the watch should end now.
    fn wait(&self) -> Result<Duration, Ended> {
        let now = Instant::now();
        let mut wait = Duration::from_secs(3600);
        if let Some(since) = self.settled_since {
            let quiet = now.duration_since(since);
            if quiet >= CHAIN_GRACE {
                return Err(Ended::Settled);
            }
            wait = wait.min(CHAIN_GRACE - quiet);
        }
        if let Some(d) = self.deadline {
            if now >= d {
                return Err(Ended::TimedOut);
            }
            wait = wait.min(d - now);
        }
        Ok(wait)
    }

    async fn stream(&mut self, mut resp: reqwest::Response) -> Ended {
        let mut decoder = SseDecoder::new();
        loop {
            let wait = match self.wait() {
                Ok(w) => w,
                Err(end) => return end,
            };
            match tokio::time::timeout(wait, resp.chunk()).await {
                Err(_) => continue,
                Ok(Ok(Some(bytes))) => {
                    for msg in decoder.push(&bytes) {
                        match KeptnEvent::from_json(&msg.data) {
                            Ok(ev) => self.feed(&ev),
                            Err(e) => self.screen.note(&format!(
                                "warning: skipping an unreadable event from the stream: {e}"
                            )),
                        }
                    }
                }
                Ok(Ok(None)) => {
                    if self.tracker.is_settled() {
                        // The server closed the stream after the context ended; still
                        // look for chained sequences by polling through the grace period.
                        return Ended::Fallback(String::new());
                    }
                    return Ended::Fallback("the event stream was closed".into());
                }
                Ok(Err(e)) => return Ended::Fallback(format!("the event stream broke: {e}")),
            }
        }
    }

    async fn poll(&mut self) -> Result<Ended> {
        loop {
            let events = fetch_context_events(self.api, &self.ctx).await?;
            for ev in chronological(events) {
                self.feed(&ev);
            }
            let wait = match self.wait() {
                Ok(w) => w,
                Err(end) => return Ok(end),
            };
            tokio::time::sleep(wait.min(POLL_INTERVAL)).await;
        }
    }
}

/// All stored events of a context (every page).
pub async fn fetch_context_events(api: &Api, ctx: &str) -> Result<Vec<KeptnEvent>> {
    let mut out = Vec::new();
    let mut next = String::new();
    for _ in 0..100 {
        let mut q = vec![
            ("keptnContext", ctx.to_string()),
            ("pageSize", "100".to_string()),
        ];
        if !next.is_empty() {
            q.push(("nextPageKey", next.clone()));
        }
        let answer = api.get(DATASTORE_EVENTS_PATH, &q).await?;
        if let Some(events) = answer.get("events").and_then(Value::as_array) {
            for e in events {
                if let Ok(ev) = KeptnEvent::from_value(e.clone()) {
                    out.push(ev);
                }
            }
        }
        next = match answer.get("nextPageKey") {
            Some(Value::String(s)) if !s.is_empty() && s != "0" => s.clone(),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => n.to_string(),
            _ => break,
        };
    }
    Ok(out)
}

/// Follows the context until it is settled (exit 0, or 1 when a sequence failed) or the time
/// limit passes (exit 1).
pub async fn watch(api: &Api, opts: &WatchOptions) -> Result<i32> {
    let mut w = Watch {
        tracker: Tracker::new(),
        screen: Screen::new(opts.output, &opts.keptn_context),
        settled_since: None,
        deadline: opts.limit.map(|l| Instant::now() + l),
        api,
        ctx: opts.keptn_context.clone(),
    };
    let query = [("keptnContext", opts.keptn_context.clone())];
    let mut ended = match api.open_stream(STREAM_PATH, &query).await {
        Ok(Some(resp)) => w.stream(resp).await,
        Ok(None) => Ended::Fallback(String::new()),
        Err(e) => Ended::Fallback(format!("cannot open the event stream: {e}")),
    };
    if let Ended::Fallback(why) = &ended {
        if !why.is_empty() {
            w.screen.note(&format!("{why}; polling for events instead"));
        }
        ended = w.poll().await?;
    }
    w.screen.bar.finish_and_clear();
    let paint = w.screen.paint;
    match ended {
        Ended::TimedOut => {
            eprintln!(
                "{}",
                paint.warn(&format!(
                    "stopped watching context {} after the time limit; it is still running",
                    opts.keptn_context
                ))
            );
            return Ok(1);
        }
        Ended::Settled | Ended::Fallback(_) => {}
    }
    let failures = w.tracker.failures();
    if opts.output == OutputFormat::Table {
        let n = w.tracker.runs().len();
        if failures.is_empty() {
            println!(
                "{}",
                paint.good(&format!(
                    "All {n} sequence{} of context {} succeeded",
                    if n == 1 { "" } else { "s" },
                    opts.keptn_context
                ))
            );
        }
    }
    if failures.is_empty() {
        return Ok(0);
    }
    for f in &failures {
        let e = f.ending.as_ref().map(Ending::summary).unwrap_or_default();
        eprintln!(
            "{}",
            paint.bad(&format!(
                "sequence {} in stage {} failed: {e}",
                f.name, f.stage
            ))
        );
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: &str, ty: &str, triggered: Option<&str>, data: Value) -> KeptnEvent {
        let mut v = json!({"id": id, "type": ty, "source": "shipyard-controller", "data": data,
                           "shkeptncontext": "ctx", "time": "2024-01-02T15:04:05.000Z"});
        if let Some(t) = triggered {
            v["triggeredid"] = json!(t);
        }
        KeptnEvent::from_value(v).unwrap()
    }

    fn feed(t: &mut Tracker, events: &[KeptnEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| t.observe(e).flatten())
            .map(|l| l.text)
            .collect()
    }

    fn delivery_run(stage: &str, n: &str, result: &str) -> Vec<KeptnEvent> {
        let d = json!({"project": "p", "stage": stage, "service": "carts"});
        vec![
            ev(
                &format!("t{n}"),
                &format!("sh.keptn.event.{stage}.delivery.triggered"),
                None,
                d.clone(),
            ),
            ev(
                &format!("d{n}"),
                "sh.keptn.event.deployment.triggered",
                None,
                d.clone(),
            ),
            ev(
                &format!("ds{n}"),
                "sh.keptn.event.deployment.started",
                Some(&format!("d{n}")),
                d.clone(),
            ),
            ev(
                &format!("df{n}"),
                "sh.keptn.event.deployment.finished",
                Some(&format!("d{n}")),
                json!({"project": "p", "stage": stage, "service": "carts", "result": "pass", "status": "succeeded"}),
            ),
            ev(
                &format!("ef{n}"),
                "sh.keptn.event.evaluation.finished",
                Some("x"),
                json!({"project": "p", "stage": stage, "service": "carts", "result": result, "status": "succeeded",
                      "evaluation": {"score": 87.5}}),
            ),
            ev(
                &format!("f{n}"),
                &format!("sh.keptn.event.{stage}.delivery.finished"),
                Some(&format!("t{n}")),
                json!({"project": "p", "stage": stage, "service": "carts", "result": result, "status": "succeeded"}),
            ),
        ]
    }

    #[test]
    fn one_sequence_settles_when_finished() {
        let mut t = Tracker::new();
        let run = delivery_run("dev", "1", "pass");
        let lines = feed(&mut t, &run[..5]);
        assert!(!t.is_settled());
        assert_eq!(
            lines[0],
            "[dev] sequence delivery triggered for service carts"
        );
        assert_eq!(lines[2], "[dev] deployment started by shipyard-controller");
        assert_eq!(
            lines[4],
            "[dev] evaluation finished by shipyard-controller: pass (succeeded) (score 87.5)"
        );
        feed(&mut t, &run[5..]);
        assert!(t.is_settled());
        assert!(t.failures().is_empty());
    }

    #[test]
    fn chained_sequence_unsettles_until_it_finishes() {
        let mut t = Tracker::new();
        feed(&mut t, &delivery_run("dev", "1", "pass"));
        assert!(t.is_settled());
        let prod = delivery_run("prod", "2", "fail");
        feed(&mut t, &prod[..1]);
        assert!(
            !t.is_settled(),
            "a follow-up sequence in the same context is running"
        );
        feed(&mut t, &prod[1..]);
        assert!(t.is_settled());
        let f = t.failures();
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].stage.as_str(), f[0].name.as_str()),
            ("prod", "delivery")
        );
    }

    #[test]
    fn nothing_seen_is_not_settled_and_repeats_are_ignored() {
        let mut t = Tracker::new();
        assert!(!t.is_settled());
        let run = delivery_run("dev", "1", "pass");
        assert!(t.observe(&run[0]).is_some());
        assert!(t.observe(&run[0]).is_none(), "same id twice");
        assert_eq!(t.runs().len(), 1);
    }

    #[test]
    fn finished_before_triggered_does_not_open_a_second_run() {
        let mut t = Tracker::new();
        let run = delivery_run("dev", "1", "pass");
        feed(&mut t, &[run[5].clone()]);
        assert!(t.is_settled());
        feed(&mut t, &[run[0].clone()]);
        assert_eq!(t.runs().len(), 1);
        assert!(t.is_settled());
    }

    #[test]
    fn finished_without_triggeredid_matches_by_stage_and_name() {
        let mut t = Tracker::new();
        let run = delivery_run("dev", "1", "pass");
        let mut fin = run[5].clone();
        fin.triggeredid = None;
        feed(&mut t, &[run[0].clone(), fin]);
        assert_eq!(t.runs().len(), 1);
        assert!(t.is_settled());
    }

    #[test]
    fn a_task_message_ending_in_blank_lines_prints_without_them() {
        let e = Ending {
            result: ResultType::from("pass"),
            status: StatusType::from("succeeded"),
            message: "Task 'Deploy' finished successfully!\n\nLogs:\ndeployed\n\n\n".into(),
        };
        assert_eq!(
            e.summary(),
            "pass (succeeded) - Task 'Deploy' finished successfully!\n\nLogs:\ndeployed"
        );
    }

    #[test]
    fn errored_and_aborted_sequences_fail() {
        for (result, status, failed) in [
            ("pass", "succeeded", false),
            ("warning", "succeeded", false),
            ("fail", "succeeded", true),
            ("", "aborted", true),
            ("pass", "errored", true),
            ("failed", "", true),
        ] {
            let e = Ending {
                result: ResultType::from(result),
                status: StatusType::from(status),
                message: String::new(),
            };
            assert_eq!(e.failed(), failed, "{result}/{status}");
        }
    }

    #[test]
    fn datastore_order_is_reversed_and_ties_broken_by_kind() {
        let d = json!({"stage": "dev"});
        let newest_first = vec![
            ev(
                "f",
                "sh.keptn.event.dev.delivery.finished",
                Some("t"),
                d.clone(),
            ),
            ev("s", "sh.keptn.event.deployment.started", None, d.clone()),
            ev(
                "t",
                "sh.keptn.event.dev.delivery.triggered",
                None,
                d.clone(),
            ),
        ];
        let ids: Vec<_> = chronological(newest_first)
            .into_iter()
            .map(|e| e.id.unwrap())
            .collect();
        assert_eq!(ids, ["t", "s", "f"]);
    }
}
