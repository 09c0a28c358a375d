//! Reading an event from JSON text, in one pass against through a JSON value: nanoseconds
//! per reading of the event the ingestion benchmark posts (an executor's `.started`), and of
//! the same event with a key spelled in another case, which only the value's reading takes.
//! Run with `cargo bench -p sluice-model --bench event_reading`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_model::event::{ContentTypeKey, KeptnEvent};

/// Readings per round; the best of the rounds is printed.
const READINGS: u32 = 200_000;
const ROUNDS: usize = 5;

fn best_of(mut read: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..READINGS {
                read();
            }
            started.elapsed() / READINGS
        })
        .min()
        .unwrap_or_default()
}

/// The text of the event `sluice bench` posts in its ingestion run (`bench/ingestion.rs`),
/// as `KeptnEvent::to_json` writes it, with the ids and time it draws fixed.
const EVENT: &str = r#"{"data":{"labels":{"buildId":"2024.1.17","owner":"team-carts"},"message":"deployment started by the benchmark executor","project":"bench","service":"svc0","stage":"dev","status":"succeeded"},"datacontenttype":"application/json","shkeptncontext":"0193a7a0-0000-7000-8000-000000000001","shkeptnspecversion":"0.2.4","source":"sluice-bench-executor","specversion":"1.0","time":"2023-11-14T22:13:20.000000005Z","triggeredid":"0193a7a0-0000-7000-8000-000000000002","type":"sh.keptn.event.deployment.started"}"#;

fn main() {
    let event = KeptnEvent::from_json(EVENT).expect("event");
    let plain = event.to_json(ContentTypeKey::DataContentType);
    assert_eq!(plain, EVENT, "the text as KeptnEvent::to_json writes it");
    let folded = plain.replacen("\"source\"", "\"Source\"", 1);
    assert!(KeptnEvent::from_plain_json(plain.as_bytes()).is_some());
    assert!(KeptnEvent::from_plain_json(folded.as_bytes()).is_none());
    println!(
        "reading an event of {} bytes (best of {ROUNDS} rounds)",
        plain.len()
    );
    for (name, text) in [("plain", &plain), ("folded_key", &folded)] {
        let one_pass = best_of(|| {
            black_box(KeptnEvent::from_json(black_box(text)).expect("event"));
        });
        let through_value = best_of(|| {
            let value: Value = serde_json::from_str(black_box(text)).expect("JSON");
            black_box(KeptnEvent::from_value(value).expect("event"));
        });
        println!(
            "event_reading_{name:<10} from_json {:>6} ns   through a value {:>6} ns",
            one_pass.as_nanos(),
            through_value.as_nanos()
        );
    }
}
