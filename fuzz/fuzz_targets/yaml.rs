//! Fuzz target: the positioned YAML reader and kind detection must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_model::diagnostic::{Diagnostics, FieldPath, Severity};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut diags = Diagnostics::new();
        if let Some(root) = sluice_model::yaml::parse(text, &mut diags) {
            let _ = sluice_model::kind::FileKind::detect(&root);
            sluice_model::yaml::check_duplicate_keys(&root, &FieldPath::root(), Severity::Error, &mut diags);
            let _ = root.to_json();
        }
    }
});
