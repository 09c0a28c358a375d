//! The load generator's throughput against a minimal keep-alive server on loopback: requests
//! per second for a few user counts (the HTTP client's cost shows here). Run with
//! `cargo bench -p sluice-load --bench generator`.

use std::time::Duration;

use sluice_load::{LoadConfig, loopback_server, run};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let (addr, server) = loopback_server::spawn().await;
        println!("load generator against a keep-alive loopback server (2 s each, best of 3)");
        for users in [1usize, 8, 64] {
            let mut best = 0.0f64;
            for _ in 0..3 {
                let summary = run(LoadConfig {
                    url: format!("http://{addr}/"),
                    paths: Vec::new(),
                    users,
                    duration: Some(Duration::from_secs(2)),
                    requests: None,
                    rate: None,
                    timeout: Duration::from_secs(5),
                    progress: None,
                    post: None,
                })
                .await
                .expect("load run");
                assert_eq!(summary.failures, 0, "{summary:?}");
                best = best.max(summary.throughput_per_second);
            }
            println!("load_generator_rps users={users:<3} {best:>10.0} requests/s");
        }
        server.abort();
    });
}
