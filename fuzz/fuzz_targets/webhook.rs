//! Fuzz target: the webhook parser (curl commands and placeholders included) must never panic,
//! and rendering what it read must never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(config) = sluice_model::webhook::parse(text).value {
            let event = serde_json::json!({"data": {"project": "p"}, "env": {}});
            for w in &config.webhooks {
                for r in &w.requests {
                    let _ = r.url.render(&event);
                }
            }
        }
        let _ = sluice_model::webhook::curl::parse(text);
    }
});
