//! Load-generator throughput: runs the generator for 3 s (1 s with `--quick`) with 64 users
//! against an in-process trivial HTTP server on loopback and prints
//! `load_generator_requests_per_second <value> 1/s 20000 ok|short`. If `wrk` is on PATH it
//! also runs `wrk -t2 -c64 -d3s` against the same server as a reference figure.

#[allow(dead_code)]
#[path = "../src/test_server.rs"]
mod test_server;

use std::process::Command;
use std::time::Duration;

use sluice_load::{LoadConfig, run};

const TARGET: f64 = 20_000.0;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let secs = if quick { 1 } else { 3 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let (addr, server) = test_server::spawn().await;
        let url = format!("http://{addr}/");
        let config = LoadConfig {
            users: 64,
            duration: Some(Duration::from_secs(secs)),
            timeout: Duration::from_secs(5),
            ..LoadConfig::new(url.clone())
        };
        let summary = match run(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("load generator failed to start: {e}");
                std::process::exit(1);
            }
        };
        let rps = summary.throughput_per_second;
        let verdict = if rps >= TARGET { "ok" } else { "short" };
        println!("load_generator_requests_per_second {rps:.0} 1/s {TARGET:.0} {verdict}");
        if let Some(l) = summary.latency_ms {
            println!(
                "# {} requests, {} failures, p50 {:.3} ms, p99 {:.3} ms",
                summary.requests, summary.failures, l.p50, l.p99
            );
        }

        // wrk runs as a separate process while this runtime keeps serving.
        let wrk = tokio::task::spawn_blocking(move || {
            Command::new("wrk")
                .args(["-t2", "-c64", &format!("-d{secs}s"), &url])
                .output()
        })
        .await;
        match wrk {
            Ok(Ok(out)) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                let figure = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
                    .and_then(|v| v.trim().parse::<f64>().ok());
                match figure {
                    Some(v) => println!("wrk_requests_per_second {v:.0} 1/s reference"),
                    None => println!("# wrk ran but its output had no Requests/sec line"),
                }
            }
            Ok(Ok(out)) => println!(
                "# wrk failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            _ => println!("# wrk not on PATH: no reference figure"),
        }
        server.abort();
    });
}
