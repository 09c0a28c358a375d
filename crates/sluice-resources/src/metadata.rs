//! The `metadata.yaml` files that mark projects, stages and services, in Keptn's shape.
//!
//! Keptn's resource-service wrote them with Go's yaml.v3: the project file has explicit keys
//! (`projectName`, `creationTimestamp`, `isUsingDirectoryStructure`), the stage and service
//! files the lower-cased Go field names (`stagename`/`servicename`, `creationtimestamp`).
//! The timestamp is Go's `time.Time.String()` in UTC.

use sluice_model::event::Timestamp;

/// `metadata.yaml` at the project root.
pub(crate) fn project(name: &str, now: Timestamp) -> String {
    format!(
        "projectName: {}\ncreationTimestamp: {}\nisUsingDirectoryStructure: true\n",
        scalar(name),
        go_time_string(now)
    )
}

/// `metadata.yaml` in a stage directory.
pub(crate) fn stage(name: &str, now: Timestamp) -> String {
    format!(
        "stagename: {}\ncreationtimestamp: {}\n",
        scalar(name),
        go_time_string(now)
    )
}

/// `metadata.yaml` in a service directory.
pub(crate) fn service(name: &str, now: Timestamp) -> String {
    format!(
        "servicename: {}\ncreationtimestamp: {}\n",
        scalar(name),
        go_time_string(now)
    )
}

/// Go's `time.Now().UTC().String()`: `2006-01-02 15:04:05.999999999 +0000 UTC`, with the
/// fraction's trailing zeros (and the dot, for whole seconds) dropped.
fn go_time_string(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s, nanos) = t.to_civil();
    let mut out = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// A YAML scalar for a name: plain when that reads back as the same string, else single-quoted.
fn scalar(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_string_matches_go() {
        let t = Timestamp::from_civil(2022, 3, 4, 5, 6, 7, 120_000_000);
        assert_eq!(go_time_string(t), "2022-03-04 05:06:07.12 +0000 UTC");
        let t = Timestamp::from_civil(2022, 3, 4, 5, 6, 7, 0);
        assert_eq!(go_time_string(t), "2022-03-04 05:06:07 +0000 UTC");
    }

    #[test]
    fn files_have_keptns_keys() {
        let t = Timestamp::from_civil(2022, 3, 4, 5, 6, 7, 1);
        assert_eq!(
            project("sockshop", t),
            "projectName: sockshop\ncreationTimestamp: 2022-03-04 05:06:07.000000001 +0000 \
             UTC\nisUsingDirectoryStructure: true\n"
        );
        assert!(stage("dev", t).starts_with("stagename: dev\ncreationtimestamp: 2022"));
        assert!(service("Carts_v2", t).starts_with("servicename: Carts_v2\n"));
        assert!(service("yes", t).starts_with("servicename: 'yes'\n"));
        assert!(service("it's#1", t).starts_with("servicename: 'it''s#1'\n"));
    }
}
