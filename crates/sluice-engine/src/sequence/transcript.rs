//! Test harness: runs a script of inputs against an [`Engine`] and renders what happened as
//! stable text (one line per input, indented lines for effects and changed executions).
//!
//! Script lines (`#` comments and blank lines are skipped): the settings `data on|off` (show
//! payloads of sent `.triggered` events) and `timers on|off` (show timer effects), and inputs,
//! each starting with `@<time>` (a Go duration from the start, non-decreasing):
//! - `trigger <stage>.<sequence> <service> [ctx=c1] [id=trN] [commit=..] [time=<@time>] [data=<json>]`
//! - `started <task> [ctx=c1] [src=executor] [tid=<id>]` (tid defaults to the latest
//!   `.triggered` the engine sent for that task in that context)
//! - `finished <task> [result=pass] [status=succeeded] [msg=..] [ctx] [src] [tid] [data=<json>]`
//! - `done <task> ...`: `started` then `finished` with the same arguments
//! - `pause|resume|abort [ctx] [stage=..]`
//! - `echo <id>`: feed an event the engine emitted back to it (as the bus would)
//! - `shipyard <n>`: switch to the n-th shipyard given to [`run_with`]
//! - `fire <kind> <execution>/<triggered id>`: a timer input the engine did not schedule
//! - `tick` (only lets time pass), `restart` (persist executions and pauses as JSON, restore a
//!   new engine, re-arm its pending timers), `state` (print every execution)
//!
//! After each input, the state line of each changed execution is printed when it differs from
//! the last one printed for it.
//!
//! Before each input the harness fires, in time order, every timer that is due, as a driver
//! would. Every emitted event must pass [`KeptnEvent::validate`], and the harness's own timer
//! table must equal [`Engine::pending_timers`] after every step.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use sluice_model::event::{GoDuration, KeptnEvent, Timestamp};
use sluice_model::shipyard::{self, Shipyard};

use super::*;

/// The project every script runs in.
pub const PROJECT: &str = "fulltour";

struct Harness {
    engine: Engine,
    config: EngineConfig,
    shipyard: Arc<Shipyard>,
    /// Every shipyard of the test, for `shipyard <n>`.
    shipyards: Vec<Arc<Shipyard>>,
    /// Every event the engine emitted, by id, for `echo <id>`.
    emitted: BTreeMap<String, KeptnEvent>,
    next_id: u64,
    next_trigger: u64,
    timers: BTreeMap<TimerKey, Timestamp>,
    /// (context, task) -> id of the latest `.triggered` sent; id -> (stage, service).
    sent: BTreeMap<(String, String), String>,
    scope_of: BTreeMap<String, (String, String)>,
    show_data: bool,
    show_timers: bool,
    /// Last rendered state line per execution (only changes are printed).
    last_state: BTreeMap<ExecutionId, String>,
    now: Timestamp,
    out: String,
}

fn base() -> Timestamp {
    Timestamp::from_civil(2024, 1, 1, 0, 0, 0, 0)
}

fn offset(t: Timestamp) -> String {
    let nanos = i64::try_from(t.nanos_since(base())).unwrap_or(i64::MAX);
    GoDuration::from_nanos(nanos).to_string()
}

/// Runs `script` against `shipyard_yaml` and returns the transcript.
pub fn run(shipyard_yaml: &str, script: &str, config: EngineConfig) -> String {
    run_with(&[shipyard_yaml], script, config)
}

/// Runs `script` with the first shipyard; `shipyard <n>` switches to another one (a project
/// edit while sequences run).
pub fn run_with(shipyard_yamls: &[&str], script: &str, config: EngineConfig) -> String {
    let shipyards: Vec<Arc<Shipyard>> = shipyard_yamls
        .iter()
        .map(|yaml| {
            let parsed = shipyard::parse(yaml);
            match parsed.value {
                Some(s) => Arc::new(s),
                None => panic!("test shipyard does not parse: {:?}", parsed.diagnostics),
            }
        })
        .collect();
    let Some(first) = shipyards.first().cloned() else {
        panic!("no shipyard");
    };
    let mut h = Harness {
        engine: Engine::new(config),
        config,
        shipyard: first,
        shipyards,
        emitted: BTreeMap::new(),
        next_id: 0,
        next_trigger: 0,
        timers: BTreeMap::new(),
        sent: BTreeMap::new(),
        scope_of: BTreeMap::new(),
        show_data: false,
        show_timers: false,
        last_state: BTreeMap::new(),
        now: base(),
        out: String::new(),
    };
    for raw in script.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        h.line(line);
    }
    h.out
}

/// Runs the script and compares the transcript with `expected` (lines trimmed, blank lines
/// ignored). On mismatch, panics showing the actual transcript.
pub fn check(shipyard_yaml: &str, script: &str, expected: &str) {
    check_with(shipyard_yaml, script, EngineConfig::default(), expected);
}

/// [`check`] with a custom configuration.
pub fn check_with(shipyard_yaml: &str, script: &str, config: EngineConfig, expected: &str) {
    let actual = run(shipyard_yaml, script, config);
    if normalize(&actual) != normalize(expected) {
        panic!("transcript differs; actual:\n{actual}");
    }
}

/// Trimmed, non-blank lines.
pub fn normalize(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Splits `a b key=value data={"x": 1}`: positional words, then `key=value` options; `data=`
/// takes the rest of the line.
fn split_args(rest: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let (head, data) = match rest.find("data=") {
        Some(i) => (&rest[..i], Some(rest[i + 5..].trim().to_string())),
        None => (rest, None),
    };
    let mut words = Vec::new();
    let mut opts = BTreeMap::new();
    for w in head.split_whitespace() {
        match w.split_once('=') {
            Some((k, v)) => {
                opts.insert(k.to_string(), v.to_string());
            }
            None => words.push(w.to_string()),
        }
    }
    if let Some(d) = data {
        opts.insert("data".into(), d);
    }
    (words, opts)
}

fn parse_time(s: &str) -> Timestamp {
    let d = GoDuration::parse(s).unwrap_or_else(|e| panic!("bad time @{s}: {e}"));
    base().plus(d)
}

fn json_arg(opts: &BTreeMap<String, String>) -> Map<String, Value> {
    match opts.get("data") {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(m)) => m,
            _ => panic!("data= must be a JSON object: {text}"),
        },
    }
}

impl Harness {
    fn line(&mut self, line: &str) {
        if let Some(v) = line.strip_prefix("data ") {
            self.show_data = v == "on";
            return;
        }
        if let Some(v) = line.strip_prefix("timers ") {
            self.show_timers = v == "on";
            return;
        }
        let Some(rest) = line.strip_prefix('@') else {
            panic!("script line must start with @<time>: {line}");
        };
        let (time, command) = rest.split_once(' ').unwrap_or((rest, ""));
        let at = parse_time(time);
        assert!(at >= self.now, "time goes backwards at: {line}");
        self.fire_due(at);
        self.now = at;
        self.out.push_str(line);
        self.out.push('\n');
        let (verb, args) = command.split_once(' ').unwrap_or((command, ""));
        let (words, opts) = split_args(args);
        let ctx = words
            .first()
            .filter(|_| matches!(verb, "pause" | "resume" | "abort"))
            .cloned()
            .or_else(|| opts.get("ctx").cloned())
            .unwrap_or_else(|| "c1".to_string());
        match verb {
            "trigger" => {
                let ev = self.trigger_event(&words, &opts, &ctx);
                self.step(Input::event(ev));
            }
            "started" => {
                let ev = self.task_event(&words, &opts, &ctx, "started");
                self.step(Input::event(ev));
            }
            "finished" => {
                let ev = self.task_event(&words, &opts, &ctx, "finished");
                self.step(Input::event(ev));
            }
            "done" => {
                let ev = self.task_event(&words, &opts, &ctx, "started");
                let fin = self.task_event(&words, &opts, &ctx, "finished");
                self.step(Input::event(ev));
                self.out.push_str(&format!("@{time} (finished)\n"));
                self.step(Input::event(fin));
            }
            "pause" | "resume" | "abort" => {
                let action = match verb {
                    "pause" => ControlAction::Pause,
                    "resume" => ControlAction::Resume,
                    _ => ControlAction::Abort,
                };
                self.step(Input::Control {
                    keptn_context: ctx,
                    stage: opts.get("stage").cloned(),
                    action,
                });
            }
            "tick" => {}
            "shipyard" => {
                let n: usize = words.first().and_then(|w| w.parse().ok()).unwrap_or(0);
                self.shipyard = self.shipyards[n].clone();
            }
            "echo" => {
                let Some(ev) = words.first().and_then(|id| self.emitted.get(id)).cloned() else {
                    panic!("echo needs the id of an emitted event: {line}");
                };
                self.step(Input::event(ev));
            }
            "fire" => {
                // fire <kind> <execution>/<triggered id>: a timer the engine may consider stale.
                let kind = match words.first().map(String::as_str) {
                    Some("triggered-after") => TimerKind::TriggeredAfter,
                    Some("started-deadline") => TimerKind::StartedDeadline,
                    Some("finished-deadline") => TimerKind::FinishedDeadline,
                    other => panic!("unknown timer kind {other:?}"),
                };
                let Some((exec, tid)) = words.get(1).and_then(|w| w.split_once('/')) else {
                    panic!("fire needs <kind> <execution>/<triggered id>");
                };
                self.step(Input::Timer(TimerKey {
                    execution: ExecutionId(exec.to_string()),
                    triggered_id: tid.to_string(),
                    kind,
                }));
            }
            "restart" => self.restart(),
            "state" => {
                let all: Vec<ExecutionId> =
                    self.engine.executions().map(|x| x.id.clone()).collect();
                self.last_state.clear();
                self.render_states(&all);
            }
            other => panic!("unknown script command {other:?} in: {line}"),
        }
    }

    fn fire_due(&mut self, until: Timestamp) {
        loop {
            let due = self
                .timers
                .iter()
                .filter(|(_, at)| **at <= until)
                .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
                .map(|(k, at)| (k.clone(), *at));
            let Some((key, at)) = due else { break };
            self.timers.remove(&key);
            self.now = at;
            self.out.push_str(&format!("@{} timer {key}\n", offset(at)));
            self.step(Input::Timer(key));
        }
    }

    fn trigger_event(
        &mut self,
        words: &[String],
        opts: &BTreeMap<String, String>,
        ctx: &str,
    ) -> KeptnEvent {
        let (Some(seq), Some(service)) = (words.first(), words.get(1)) else {
            panic!("trigger needs <stage>.<sequence> <service>");
        };
        let Some((stage, name)) = seq.split_once('.') else {
            panic!("trigger needs <stage>.<sequence>");
        };
        self.next_trigger += 1;
        let id = opts
            .get("id")
            .cloned()
            .unwrap_or_else(|| format!("tr{}", self.next_trigger));
        let mut data = Map::new();
        data.insert("project".into(), json!(PROJECT));
        data.insert("stage".into(), json!(stage));
        data.insert("service".into(), json!(service));
        for (k, v) in json_arg(opts) {
            data.insert(k, v);
        }
        let time = opts.get("time").map_or(self.now, |t| parse_time(t));
        let ty = EventType::sequence_triggered(stage, name);
        let mut ev = KeptnEvent::new(&id, "test", &ty, time, ctx, Value::Object(data));
        ev.gitcommitid = opts.get("commit").cloned();
        ev
    }

    fn task_event(
        &mut self,
        words: &[String],
        opts: &BTreeMap<String, String>,
        ctx: &str,
        kind: &str,
    ) -> KeptnEvent {
        let Some(task) = words.first() else {
            panic!("{kind} needs a task name");
        };
        let tid = opts.get("tid").cloned().unwrap_or_else(|| {
            self.sent
                .get(&(ctx.to_string(), task.clone()))
                .cloned()
                .unwrap_or_else(|| "never-sent".to_string())
        });
        let (stage, service) = self.scope_of.get(&tid).cloned().unwrap_or_default();
        let mut data = Map::new();
        data.insert("project".into(), json!(PROJECT));
        data.insert("stage".into(), json!(stage));
        data.insert("service".into(), json!(service));
        if kind == "finished" {
            let result = opts.get("result").map_or("pass", String::as_str);
            let status = opts.get("status").map_or("succeeded", String::as_str);
            data.insert("result".into(), json!(result));
            data.insert("status".into(), json!(status));
            if let Some(m) = opts.get("msg") {
                data.insert("message".into(), json!(m.replace('_', " ")));
            }
            for (k, v) in json_arg(opts) {
                data.insert(k, v);
            }
        }
        let id = self.fresh_id();
        let ty: EventType = format!("sh.keptn.event.{task}.{kind}")
            .parse()
            .unwrap_or_else(|e| panic!("bad task name {task}: {e}"));
        let src = opts.get("src").map_or("executor", String::as_str);
        let mut ev = KeptnEvent::new(&id, src, &ty, self.now, ctx, Value::Object(data));
        ev.triggeredid = Some(tid);
        ev
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("id{}", self.next_id)
    }

    fn step(&mut self, input: Input) {
        let shipyard = self.shipyard.clone();
        let shipyard_for = move |p: &str| (p == PROJECT).then(|| shipyard.clone());
        let stage_commit = |_: &str, stage: &str| Some(format!("{stage}-head"));
        let mut counter = self.next_id;
        let mut ids = || {
            counter += 1;
            format!("id{counter}")
        };
        let step = self
            .engine
            .handle(input, &shipyard_for, &stage_commit, self.now, &mut ids);
        self.next_id = counter;
        if let Some(why) = &step.ignored {
            self.out.push_str(&format!("  ignored: {why}\n"));
        }
        for effect in &step.effects {
            self.render_effect(effect);
        }
        if step.pauses_changed {
            let pauses: Vec<String> = self
                .engine
                .pauses()
                .iter()
                .map(|p| match &p.stage {
                    Some(s) => format!("{}/{s}", p.keptn_context),
                    None => p.keptn_context.clone(),
                })
                .collect();
            self.out
                .push_str(&format!("  pauses: [{}]\n", pauses.join(", ")));
        }
        self.render_states(&step.changed);
        let pending: BTreeMap<TimerKey, Timestamp> =
            self.engine.pending_timers().into_iter().collect();
        assert_eq!(
            pending, self.timers,
            "engine's pending timers differ from the scheduled ones"
        );
    }

    fn render_effect(&mut self, effect: &Effect) {
        if matches!(
            effect,
            Effect::ScheduleTimer { .. } | Effect::CancelTimer(_)
        ) && !self.show_timers
        {
            if let Effect::ScheduleTimer { key, at } = effect {
                self.timers.insert(key.clone(), *at);
            } else if let Effect::CancelTimer(key) = effect {
                self.timers.remove(key);
            }
            return;
        }
        let line = match effect {
            Effect::Emit(ev) => self.render_event(ev),
            Effect::ScheduleTimer { key, at } => {
                self.timers.insert(key.clone(), *at);
                format!("timer+ {key} at {}", offset(*at))
            }
            Effect::CancelTimer(key) => {
                self.timers.remove(key);
                format!("timer- {key}")
            }
            Effect::CancelTask {
                execution,
                keptn_context,
                task,
                triggered_id,
            } => format!("cancel-task {task} {triggered_id} exec={execution} ctx={keptn_context}"),
        };
        self.out.push_str(&format!("  {line}\n"));
    }

    fn render_event(&mut self, ev: &KeptnEvent) -> String {
        let problems = ev.validate();
        assert!(problems.is_empty(), "invalid event {ev:?}: {problems:?}");
        assert_eq!(ev.source.as_deref(), Some(SOURCE));
        assert_eq!(
            ev.time.as_deref(),
            Some(self.now.to_rfc3339_nano().as_str())
        );
        let ty = ev.event_type.clone().unwrap_or_default();
        let short = ty.strip_prefix("sh.keptn.event.").unwrap_or(&ty);
        let id = ev.id.clone().unwrap_or_default();
        let ctx = ev.shkeptncontext.clone().unwrap_or_default();
        self.emitted.insert(id.clone(), ev.clone());
        let mut line = format!("emit {short} id={id} ctx={ctx}");
        if let Some(t) = &ev.triggeredid {
            line.push_str(&format!(" triggeredid={t}"));
        }
        if let Some(c) = &ev.gitcommitid {
            line.push_str(&format!(" commit={c}"));
        }
        let data = ev.data_value();
        if short.ends_with(".finished") {
            for key in ["result", "status", "message"] {
                if let Some(v) = data.get(key).and_then(Value::as_str) {
                    line.push_str(&format!(" {key}={v:?}"));
                }
            }
            let extra: Vec<&String> = data
                .as_object()
                .map(|m| {
                    m.keys()
                        .filter(|k| {
                            ![
                                "project", "stage", "service", "labels", "result", "status",
                                "message",
                            ]
                            .contains(&k.as_str())
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                extra.is_empty(),
                "sequence .finished carries extra data: {extra:?}"
            );
        } else if self.show_data {
            line.push_str(&format!(" data={data}"));
        }
        if let Ok(EventType::Task { task, .. }) = ev.event_type() {
            self.sent.insert((ctx, task), id.clone());
            let s = |k: &str| {
                data.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            self.scope_of.insert(id, (s("stage"), s("service")));
        }
        line
    }

    fn render_states(&mut self, ids: &[ExecutionId]) {
        for id in ids {
            let Some(x) = self.engine.execution(id) else {
                continue;
            };
            let mut line = format!(
                "  {} {}.{} {} {}: {}",
                x.id,
                x.scope.stage,
                x.sequence.name,
                x.scope.service,
                x.scope.keptn_context,
                x.wire_state()
            );
            if let Some(ct) = &x.current_task {
                let held = if ct.dispatched_at.is_some() {
                    ""
                } else if ct.delayed {
                    " delayed"
                } else {
                    " held"
                };
                line.push_str(&format!(" [{} {}{held}]", ct.name, ct.triggered_id));
            }
            if let Some(o) = &x.outcome {
                line.push_str(&format!(
                    " ({} {})",
                    o.result.to_result_type(),
                    o.status.to_status_type()
                ));
            }
            if self.last_state.get(id) == Some(&line) {
                continue;
            }
            self.last_state.insert(id.clone(), line.clone());
            self.out.push_str(&line);
            self.out.push('\n');
        }
    }

    fn restart(&mut self) {
        let executions: Vec<&SequenceExecution> = self.engine.executions().collect();
        let stored = serde_json::to_string(&executions).unwrap_or_default();
        let pauses = serde_json::to_string(&self.engine.pauses()).unwrap_or_default();
        let executions: Vec<SequenceExecution> =
            serde_json::from_str(&stored).unwrap_or_else(|e| panic!("restore: {e}\n{stored}"));
        let pauses: Vec<PauseScope> =
            serde_json::from_str(&pauses).unwrap_or_else(|e| panic!("restore pauses: {e}"));
        let n = executions.len();
        self.engine = Engine::restore(self.config, executions, pauses);
        self.timers = self.engine.pending_timers().into_iter().collect();
        self.out.push_str(&format!(
            "  restarted: {n} executions, {} timers\n",
            self.timers.len()
        ));
    }
}
