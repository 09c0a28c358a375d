//! `sluice load` against a real `sluice helloservice` process on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::{scratch, sluice};

/// A running helloservice child; killed on drop.
struct Hello(Child, String);

impl Hello {
    fn start(version: &str) -> Hello {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "helloservice",
                "--version",
                version,
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start helloservice");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("helloservice printed its address")
            .unwrap();
        let url = line.rsplit(' ').next().unwrap().to_owned();
        std::thread::spawn(move || for _ in lines {});
        Hello(child, url)
    }
}

impl Drop for Hello {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn load_counts_requests_and_writes_a_summary() {
    let hello = Hello::start("v0.1.1");
    let out = scratch("load").join("summary.json");
    let run = sluice(&[
        "load",
        "--url",
        &hello.1,
        "--requests",
        "300",
        "--users",
        "4",
        "--out",
        out.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(summary["requests"], 300);
    assert_eq!(summary["failures"], 0);
    assert!(summary["latencyMs"]["p95"].as_f64().unwrap() > 0.0);
    assert!(
        summary["latencyHistogram"].is_string(),
        "the histogram is kept so runs merge exactly"
    );
}

#[test]
fn the_slow_build_is_slow_and_failures_fail_the_run() {
    let hello = Hello::start("ghcr.io/podtato-head/podtatoserver:v0.1.2");
    let run = sluice(&[
        "load",
        "--url",
        &hello.1,
        "--requests",
        "4",
        "--users",
        "2",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        summary["latencyMs"]["p50"].as_f64().unwrap() >= 400.0,
        "{summary}"
    );
    let refused = sluice(&[
        "load",
        "--url",
        "http://127.0.0.1:1",
        "--requests",
        "20",
        "--users",
        "1",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("requests failed"),
        "{}",
        refused.stderr
    );
    let bad = sluice(&["load", "--url", "https://example.invalid"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}
