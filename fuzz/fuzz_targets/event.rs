//! Fuzz target: reading a CloudEvent, its type and its typed data must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_model::event::KeptnEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(event) = KeptnEvent::from_json(text) {
            let _ = event.validate();
            let _ = event.validate_incoming();
            let _ = event.event_type();
            let _ = event.event_data();
        }
    }
});
