//! End-to-end tests of the load generator against the in-process test server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::loopback_server;
use crate::{LoadConfig, LoadError, LoadSummary, run};

fn config(url: String) -> LoadConfig {
    LoadConfig {
        users: 4,
        duration: Some(Duration::from_secs(1)),
        timeout: Duration::from_secs(5),
        ..LoadConfig::new(url)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_for_a_second_and_counts_failures_by_status() {
    let (addr, server) = loopback_server::spawn().await;
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let cfg = LoadConfig {
        // Three of four requests succeed (one via a chunked body), one gets a 500.
        paths: vec!["/".into(), "/fail".into(), "/chunked".into(), "/ok".into()],
        progress: Some(Arc::new(move |p: &crate::Progress| {
            sink.lock().unwrap().push(*p)
        })),
        ..config(format!("http://{addr}"))
    };
    let started = std::time::Instant::now();
    let s = run(cfg).await.unwrap();
    let took = started.elapsed();
    server.abort();

    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(s.tool, "sluice-load");
    assert!(s.requests > 100, "only {} requests", s.requests);
    // Tickets go round-robin over the paths; requests cut off by the deadline are dropped, so
    // the share of /fail is a quarter give or take one per worker.
    let expected = s.requests as f64 / 4.0;
    assert!(
        (s.failures as f64 - expected).abs() <= 4.0,
        "{} failures of {}",
        s.failures,
        s.requests
    );
    assert_eq!(s.failures_by_reason.get("http_500"), Some(&s.failures));
    assert_eq!(s.failures_by_reason.len(), 1);
    let l = s.latency_ms.unwrap();
    assert!(l.min > 0.0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    // All completed requests have a response time, failed ones included.
    let h = s.histogram().unwrap().unwrap();
    assert_eq!(h.count(), s.requests);
    assert!((s.duration_seconds - 1.0).abs() < 0.5);
    // duration_seconds is rounded to milliseconds, hence the relative tolerance.
    let recomputed = s.requests as f64 / s.duration_seconds;
    assert!((s.throughput_per_second - recomputed).abs() < recomputed * 0.002);
    let (start, end) = (s.start_time().unwrap(), s.end_time().unwrap());
    let wall = end.nanos_since(start) as f64 / 1e9;
    assert!(
        (wall - s.duration_seconds).abs() < 0.2,
        "{wall} vs {}",
        s.duration_seconds
    );
    assert!(s.start.as_deref().unwrap().ends_with('Z') && s.start.as_deref().unwrap().len() == 24);

    let reports = reports.lock().unwrap();
    let last = reports.last().unwrap();
    assert!(last.done && last.requests == s.requests && last.failures == s.failures);
    assert!(reports.len() >= 3, "{} progress reports", reports.len());
    assert!(reports.windows(2).all(|w| w[0].requests <= w[1].requests));

    // The summary survives its JSON artifact form.
    assert_eq!(LoadSummary::from_json(&s.to_json()).unwrap(), s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_after_the_request_count_and_reconnects_on_close() {
    let (addr, server) = loopback_server::spawn().await;
    let cfg = LoadConfig {
        duration: None,
        requests: Some(500),
        paths: vec!["/close".into(), "/".into()],
        ..config(format!("http://{addr}/"))
    };
    let s = run(cfg).await.unwrap();
    server.abort();
    assert_eq!(s.requests, 500);
    assert_eq!(s.failures, 0, "{:?}", s.failures_by_reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_paces_requests() {
    let (addr, server) = loopback_server::spawn().await;
    let cfg = LoadConfig {
        rate: Some(200.0),
        duration: Some(Duration::from_millis(500)),
        ..config(format!("http://{addr}"))
    };
    let s = run(cfg).await.unwrap();
    server.abort();
    // 200/s for 0.5 s: slots 0..99 (slot 100 would start at the deadline).
    assert!((95..=100).contains(&s.requests), "{}", s.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_time_out() {
    let (addr, server) = loopback_server::spawn().await;
    let cfg = LoadConfig {
        users: 2,
        duration: None,
        requests: Some(4),
        timeout: Duration::from_millis(10),
        paths: vec!["/slow".into()],
        ..config(format!("http://{addr}"))
    };
    let s = run(cfg).await.unwrap();
    server.abort();
    assert_eq!((s.requests, s.failures), (4, 4));
    assert_eq!(s.failures_by_reason.get("timeout"), Some(&4));
    assert!(s.latency_ms.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_counted_not_fatal() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = LoadConfig {
        duration: None,
        requests: Some(20),
        ..config(format!("http://127.0.0.1:{port}"))
    };
    let s = run(cfg).await.unwrap();
    assert_eq!((s.requests, s.failures), (20, 20));
    assert_eq!(s.failures_by_reason.get("connect"), Some(&20));
}

#[tokio::test]
async fn bad_configurations_are_rejected_before_starting() {
    let called = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&called);
    let base = LoadConfig {
        progress: Some(Arc::new(move |_: &crate::Progress| {
            c.fetch_add(1, Ordering::Relaxed);
        })),
        ..config("http://127.0.0.1:9".into())
    };
    let https = run(LoadConfig {
        url: "https://example.com".into(),
        ..base.clone()
    })
    .await
    .unwrap_err();
    assert!(
        https.to_string().contains("https is not supported"),
        "{https}"
    );
    for bad in [
        LoadConfig {
            users: 0,
            ..base.clone()
        },
        LoadConfig {
            duration: None,
            requests: None,
            ..base.clone()
        },
        LoadConfig {
            requests: Some(0),
            ..base.clone()
        },
        LoadConfig {
            rate: Some(0.0),
            ..base.clone()
        },
        LoadConfig {
            rate: Some(f64::NAN),
            ..base.clone()
        },
        LoadConfig {
            timeout: Duration::ZERO,
            ..base.clone()
        },
    ] {
        assert!(matches!(run(bad).await, Err(LoadError::Config(_))));
    }
    let unresolvable = run(LoadConfig {
        url: "http://no-such-host.invalid".into(),
        ..base.clone()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(unresolvable, LoadError::Resolve { .. }),
        "{unresolvable}"
    );
    assert_eq!(called.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_responses_are_protocol_failures() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(b"SMTP ready\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let cfg = LoadConfig {
        duration: None,
        requests: Some(10),
        ..config(format!("http://{addr}"))
    };
    let s = run(cfg).await.unwrap();
    server.abort();
    assert_eq!((s.requests, s.failures), (10, 10));
    assert_eq!(s.failures_by_reason.get("protocol"), Some(&10));
}
