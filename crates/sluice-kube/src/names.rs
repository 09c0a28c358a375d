//! Names and label values of the Kubernetes objects a task run creates: the deterministic Job
//! name, job-executor-service's label sanitising, the configuration hash label, and the
//! DNS-name checks that turn a would-be `422 Invalid` from the API server into a precise error.

use sha2::{Digest, Sha256};
use sha3::Sha3_224;

/// Prefix of every Job (and per-run ConfigMap) sluice creates.
pub const JOB_NAME_PREFIX: &str = "sluice";

/// The longest Kubernetes label value (and DNS label).
pub const MAX_LABEL_LEN: usize = 63;

/// The name of the Job for one task of one event: `sluice-<12 hex>-<action %03d>-<task+1 %03d>`.
///
/// The 12 hex digits are the start of SHA-256 over the Keptn context, the event id and both
/// indexes, so the same task of the same event always gets the same name: a re-delivered task
/// meets `409 AlreadyExists` and adopts the running Job instead of starting a second one.
/// job-executor-service used `job-executor-service-job-<eventID[:24]>-…`, which panicked on
/// event ids shorter than 24 characters and could contain `--` (JES #406); this name is 27
/// characters of `[a-z0-9-]` for any input.
pub fn job_name(context: &str, event_id: &str, action_index: usize, task_index: usize) -> String {
    let mut h = Sha256::new();
    for part in [
        context,
        event_id,
        &action_index.to_string(),
        &task_index.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{JOB_NAME_PREFIX}-{hex}-{action_index:03}-{:03}",
        task_index + 1
    )
}

/// The `keptn.sh/jes-job-confighash` label: SHA3-224 of the `job/config.yaml` bytes, in hex,
/// as job-executor-service computed it (`pkg/config/reader.go`).
pub fn config_hash(config_text: &[u8]) -> String {
    Sha3_224::digest(config_text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// job-executor-service's `sanitizeLabel` for action and task names: every run of characters
/// outside `[-a-zA-Z0-9_.]` becomes one `_`, the result is cut to 63 bytes, then `-`, `_` and
/// `.` are trimmed from both ends.
pub fn sanitize_label(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut in_run = false;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.truncate(MAX_LABEL_LEN);
    out.trim_matches(['-', '_', '.']).to_owned()
}

/// A label value for an id sluice does not control (Keptn context, event id, commit id): the
/// value itself when Kubernetes accepts it (every UUID and git hash), else [`sanitize_label`].
/// job-executor-service sent these unchecked, so an odd event id made the Job creation fail.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        value.to_owned()
    } else {
        sanitize_label(value)
    }
}

/// Whether Kubernetes accepts `value` as a label value: empty, or at most 63 characters of
/// `[-A-Za-z0-9_.]` that start and end with an alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= MAX_LABEL_LEN
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Whether `name` is an RFC 1123 DNS label (namespace names): at most 63 characters of
/// `[a-z0-9-]`, starting and ending with `[a-z0-9]`.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LABEL_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Whether `name` is an RFC 1123 DNS subdomain (service account names): at most 253
/// characters, dot-separated DNS labels.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_name_is_deterministic_short_and_dns_safe() {
        let a = job_name("ctx", "0a1b2c3d-aaaa-bbbb-cccc-1234567890ab", 0, 0);
        assert_eq!(
            a,
            job_name("ctx", "0a1b2c3d-aaaa-bbbb-cccc-1234567890ab", 0, 0)
        );
        assert_eq!(a.len(), 27);
        assert!(a.starts_with("sluice-") && a.ends_with("-000-001"), "{a}");
        assert!(is_dns_label(&a), "{a}");
        assert!(!a.contains("--"));
    }

    #[test]
    fn job_name_differs_per_event_action_and_task() {
        let base = job_name("c", "e", 1, 2);
        assert_ne!(base, job_name("c", "e2", 1, 2));
        assert_ne!(base, job_name("c2", "e", 1, 2));
        assert_ne!(base, job_name("c", "e", 2, 2));
        assert_ne!(base, job_name("c", "e", 1, 3));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(job_name("ab", "c", 0, 0), job_name("a", "bc", 0, 0));
    }

    #[test]
    fn job_name_survives_short_and_odd_event_ids() {
        // JES sliced eventID[:24] and panicked on shorter ids.
        let n = job_name("", "x", 0, 0);
        assert!(is_dns_label(&n), "{n}");
        let n = job_name("ctx", "--Ä/weird id--", 999, 998);
        assert!(is_dns_label(&n), "{n}");
        assert!(n.ends_with("-999-999"), "{n}");
    }

    #[test]
    fn config_hash_is_sha3_224_hex() {
        // The SHA3-224 of the empty string (FIPS 202 test vector).
        assert_eq!(
            config_hash(b""),
            "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"
        );
    }

    #[test]
    fn sanitize_label_follows_jes() {
        assert_eq!(sanitize_label("Deploy using helm"), "Deploy_using_helm");
        assert_eq!(
            sanitize_label("Remediation: Scaling with Helm"),
            "Remediation_Scaling_with_Helm"
        );
        assert_eq!(sanitize_label("--a.b--"), "a.b");
        assert_eq!(sanitize_label("ünïcode"), "n_code");
        let long = "x".repeat(70);
        assert_eq!(sanitize_label(&long).len(), 63);
        assert_eq!(
            sanitize_label(&format!("{}_y", "a".repeat(62))),
            "a".repeat(62)
        );
    }

    #[test]
    fn label_value_keeps_valid_ids_and_fixes_invalid_ones() {
        let uuid = "3b1f0c7e-2c5a-4a8e-9f5e-6f1d2a3b4c5d";
        assert_eq!(label_value(uuid), uuid);
        assert_eq!(label_value(""), "");
        assert_eq!(label_value("a b"), "a_b");
        assert!(is_label_value(&label_value(&"z".repeat(80))));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_label("keptn-jes"));
        assert!(!is_dns_label("Keptn"));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain("jes-deploy-using-helm"));
        assert!(is_dns_subdomain("a.b"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(!is_dns_subdomain("a_b"));
    }
}
