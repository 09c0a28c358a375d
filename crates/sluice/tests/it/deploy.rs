//! `sluice deploy`, `scale`, `rollback` and `deployments status|stop` with real detached helloservice processes.
//!
//! Each test uses its own deployments directory and stops everything in it at the end, also when it fails (the
//! [`Deployments`] guard). A process counts as gone when `kill -0` fails or when it is a zombie: the instances are
//! detached, so once the deploying `sluice` has exited their parent is init, which on some sandboxes never reaps.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::call;
use crate::{Run, scratch, sluice};

const V1: &str = "ghcr.io/podtato-head/podtatoserver:v0.1.1";
const V2: &str = "ghcr.io/podtato-head/podtatoserver:v0.1.2";
const TARGET: [&str; 6] = [
    "--project",
    "fulltour",
    "--stage",
    "qa",
    "--service",
    "helloservice",
];

/// A deployments directory whose deployments and supervisor are stopped on drop.
struct Deployments(PathBuf);

impl Deployments {
    fn new(name: &str) -> Self {
        Self(scratch(name).join("deployments"))
    }

    fn dir(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }

    /// Runs a deployment subcommand on fulltour/qa/helloservice with extra flags.
    fn run(&self, command: &str, extra: &[&str]) -> Run {
        let mut args = vec![command];
        args.extend(TARGET);
        args.extend(["--deployments-dir", self.dir()]);
        args.extend(extra);
        sluice(&args)
    }

    fn state(&self) -> Value {
        read_json(&self.0.join("fulltour/qa/helloservice/state.json"))
    }

    fn pids(&self) -> Vec<u32> {
        self.state()["instances"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|i| i["pid"].as_u64()?.try_into().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.state()["port"])
    }

    fn supervisor_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.0.join("supervisor.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn stop_all(&self) -> Run {
        sluice(&[
            "deployments",
            "stop",
            "--all",
            "--deployments-dir",
            self.dir(),
        ])
    }
}

impl Drop for Deployments {
    fn drop(&mut self) {
        let _ = self.stop_all();
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether a process is gone: `kill -0` fails, or it is a zombie waiting to be reaped.
fn gone(pid: u32) -> bool {
    let signalable = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            Some(after.split_whitespace().next()? == "Z")
        })
        .unwrap_or(true);
    !signalable || zombie
}

/// The version and instance shown on the page at `url`.
fn page(url: &str) -> (String, String) {
    let answer = call(url, "", "GET", "/", None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let field = |id: &str| {
        let marker = format!("<b id=\"{id}\">");
        let start = answer.body.find(&marker).expect("field on the page") + marker.len();
        let end = answer.body[start..].find("</b>").expect("field end") + start;
        answer.body[start..end].to_owned()
    };
    (field("version"), field("instance"))
}

fn ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

#[test]
fn deploy_upgrade_scale_rollback_fail_and_stop() {
    let d = Deployments::new("deploy-lifecycle");
    let finished = d.0.with_file_name("finished.json");

    // First deploy: a stable port is chosen and answers with v0.1.1.
    let run = d.run(
        "deploy",
        &["--image", V1, "--finished-data", finished.to_str().unwrap()],
    );
    ok(&run);
    let url = d.url();
    assert_eq!(
        read_json(&finished)["deployment"]["deploymentURIsLocal"][0],
        url.as_str()
    );
    assert_eq!(page(&url).0, "v0.1.1");
    let first_pids = d.pids();
    assert_eq!(first_pids.len(), 1);
    assert_eq!(d.state()["revision"], 1);

    // Upgrade: same address, the slow build answers, the old instance is gone, Prometheus targets follow.
    ok(&d.run("deploy", &["--image", V2]));
    assert_eq!(d.url(), url, "the stage keeps its port");
    assert_eq!(page(&url).0, "v0.1.2");
    assert!(
        first_pids.iter().all(|p| gone(*p)),
        "old instances still run"
    );
    let targets = read_json(&d.0.join("prometheus/helloservice-fulltour-qa.json"));
    assert_eq!(targets[0]["labels"]["job"], "helloservice-fulltour-qa");
    let metrics_port = &d.state()["instances"][0]["metrics_port"];
    let target = format!("127.0.0.1:{metrics_port}");
    assert_eq!(targets[0]["targets"], serde_json::json!([target]));
    let metrics = call(&format!("http://{target}"), "", "GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("http_requests_total"),
        "{}",
        metrics.body
    );

    // Scale to 2: two different instances answer on the same port.
    ok(&d.run("scale", &["--replicas", "2"]));
    assert_eq!(d.pids().len(), 2);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let (version, instance) = page(&url);
        assert_eq!(version, "v0.1.2");
        seen.insert(instance);
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "only {seen:?} answered");
    let scaled_pids = d.pids();

    // Rollback to the first revision: v0.1.1 with one instance, recorded as revision 4.
    ok(&d.run("rollback", &["--to-revision", "1"]));
    assert_eq!(page(&url).0, "v0.1.1");
    let state = d.state();
    assert_eq!(state["revision"], 4);
    assert_eq!(state["replicas"], 1);
    assert_eq!(state["history"].as_array().map(Vec::len), Some(4));
    assert!(scaled_pids.iter().all(|p| gone(*p)));

    // A version whose instances cannot start fails like `helm --wait`, and v0.1.1 keeps serving.
    let serving = d.pids();
    let bad = d.run(
        "deploy",
        &["--image", "ghcr.io/podtato-head/podtatoserver:"],
    );
    assert_eq!(bad.code, 1, "{}{}", bad.stdout, bad.stderr);
    assert!(
        bad.stderr.contains("helloservice-qa-r5-1") && bad.stderr.contains("empty tag"),
        "{}",
        bad.stderr
    );
    assert_eq!(page(&url).0, "v0.1.1");
    assert_eq!(d.state()["revision"], 4);
    assert_eq!(d.pids(), serving);

    let status = sluice(&[
        "deployments",
        "status",
        "--deployments-dir",
        d.dir(),
        "-o",
        "json",
    ]);
    ok(&status);
    let rows: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(rows[0]["running"], 1, "{rows}");
    assert_eq!(rows[0]["version"], "v0.1.1");
    assert_eq!(rows[0]["url"], url.as_str());
    let table = sluice(&["deployments", "status", "--deployments-dir", d.dir()]);
    assert!(table.stdout.contains("1/1"), "{}", table.stdout);

    // Stop everything: no instance and no supervisor is left.
    let supervisor = d.supervisor_pid().expect("deploy started the supervisor");
    ok(&d.stop_all());
    assert!(serving.iter().all(|p| gone(*p)), "instances survived stop");
    assert!(gone(supervisor), "the supervisor survived stop --all");
    assert!(d.pids().is_empty());
    let addr = url.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "something still listens on {addr}"
    );
}

#[test]
fn the_supervisor_restarts_a_killed_instance() {
    let d = Deployments::new("deploy-supervise");
    ok(&d.run("deploy", &["--image", V1]));
    let url = d.url();
    let victim = d.pids()[0];
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &victim.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let replacement = loop {
        let pids = d.pids();
        if let Some(pid) = pids.first().filter(|p| **p != victim && !gone(**p)) {
            break *pid;
        }
        assert!(
            Instant::now() < deadline,
            "no restart of {victim}: {}",
            d.state()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(page(&url).0, "v0.1.1");
    assert_eq!(d.state()["revision"], 1, "a restart is not a new revision");
    let log = std::fs::read_to_string(d.0.join("supervisor.log")).unwrap_or_default();
    assert!(log.contains("restarted helloservice-qa-r1-1"), "{log}");
    ok(&d.stop_all());
    assert!(gone(replacement));
}
