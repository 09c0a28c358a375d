//! Keptn's rules for project, stage and service names.
//!
//! Keptn checked names in three places (shipyard-controller's project and service handlers,
//! and the shipyard stage check, all built on go-utils `pkg/lib/keptn`):
//! - projects and stages must be "Keptn entity names": a lower-case letter, then lower-case
//!   letters, digits and hyphens, not ending in a hyphen;
//! - projects are at most [`PROJECT_NAME_MAX_SIZE`](crate::names::PROJECT_NAME_MAX_SIZE) bytes long;
//! - services are only checked to be at most
//!   [`SERVICE_NAME_MAX_SIZE`](crate::names::SERVICE_NAME_MAX_SIZE) bytes and a valid Unix
//!   directory name (so `Carts_v2` is a valid service name, but `a/b` is not); the resource
//!   service, which every service creation went through, also refused white space.
//!
//! Each check returns `Err(reason)` with a sentence a user can act on.

/// Default maximum project name length (`PROJECT_NAME_MAX_SIZE` in shipyard-controller).
pub const PROJECT_NAME_MAX_SIZE: usize = 200;

/// Default maximum service name length (`SERVICE_NAME_MAX_SIZE` in shipyard-controller; helm
/// release names `<service>-generated` must fit in 53 characters).
pub const SERVICE_NAME_MAX_SIZE: usize = 43;

/// Whether `name` is a Keptn entity name.
///
/// Keptn ran the Go regex `(^[a-z][a-z0-9-]*[a-z0-9]$)|(^[a-z][a-z0-9]*)` with `FindString` and
/// required the match to cover the whole name. Both branches are anchored at the start, so this
/// is a full match of `[a-z]([a-z0-9-]*[a-z0-9])?`.
pub fn is_entity_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    if !first.is_ascii_lowercase() {
        return false;
    }
    if !rest
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return false;
    }
    rest.last().is_none_or(|b| *b != b'-')
}

/// Why `name` is not an entity name, in words, or `Ok(())`.
fn entity_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name must not be empty"));
    }
    if is_entity_name(name) {
        return Ok(());
    }
    let first = name.chars().next().unwrap_or(' ');
    let detail = if !first.is_ascii_lowercase() {
        format!("it starts with `{first}`, not a lower-case letter")
    } else if name.ends_with('-') {
        "it ends with a hyphen".to_owned()
    } else {
        let bad: String = name
            .chars()
            .filter(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
            .take(3)
            .collect();
        if bad.chars().any(|c| c.is_ascii_uppercase()) {
            "it contains upper-case letters".to_owned()
        } else {
            format!("it contains `{bad}`")
        }
    };
    Err(format!(
        "{what} name `{name}` is not a valid Keptn name: {detail}; use lower-case letters, digits \
         and hyphens, starting with a letter and not ending with a hyphen"
    ))
}

/// Checks the name of one of sluice's own objects (an API token, a notification channel or
/// rule) and answers it without surrounding white space: 1 to 100 ASCII letters, digits,
/// `-`, `_` and `.`.
pub fn check_object_name(what: &str, name: &str) -> Result<String, String> {
    let name = name.trim().to_owned();
    if name.is_empty()
        || name.len() > 100
        || name
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "invalid {what} name {name:?}: use 1 to 100 letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(name)
}

/// Checks a stage name (Keptn entity name rules).
pub fn check_stage(name: &str) -> Result<(), String> {
    entity_name("stage", name)
}

/// Checks a project name (entity name rules, at most [`PROJECT_NAME_MAX_SIZE`] bytes).
pub fn check_project(name: &str) -> Result<(), String> {
    if name.len() > PROJECT_NAME_MAX_SIZE {
        return Err(format!(
            "project name is {} characters long; Keptn allows at most {PROJECT_NAME_MAX_SIZE}",
            name.len()
        ));
    }
    entity_name("project", name)
}

/// Checks a service name: non-empty, at most [`SERVICE_NAME_MAX_SIZE`] bytes, a valid Unix
/// directory name (not `.` or `..`, none of `/ > < | : &`), without white space (Keptn's resource
/// service: "name must not contain whitespaces") or control characters. Keptn 1.x did not
/// apply the entity name rules to services.
pub fn check_service(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("service name must not be empty".to_owned());
    }
    if name.len() > SERVICE_NAME_MAX_SIZE {
        return Err(format!(
            "service name `{name}` is {} characters long; Keptn allows at most \
             {SERVICE_NAME_MAX_SIZE}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!(
            "service name `{name}` is not a valid directory name"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '>' | '<' | '|' | ':' | '&'))
    {
        return Err(format!(
            "service name `{name}` contains `{c}`; it must be a valid Unix directory name \
             (none of / > < | : &)"
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "service name {name:?} contains {} (U+{:04X}); a service name must not contain \
             white space or control characters",
            if c.is_whitespace() {
                "white space"
            } else {
                "a control character"
            },
            c as u32
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_follow_the_go_regex() {
        for ok in ["a", "dev", "prod-a", "a1", "a-1", "x--y", "production"] {
            assert!(is_entity_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "1a",
            "a-",
            "Dev",
            "second_stage",
            "third-",
            "a.b",
            "a b",
            "é",
            "a\n",
        ] {
            assert!(!is_entity_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn reasons_say_what_is_wrong() {
        assert!(check_stage("").unwrap_err().contains("must not be empty"));
        assert!(
            check_stage("Production")
                .unwrap_err()
                .contains("starts with `P`")
        );
        assert!(
            check_stage("third-")
                .unwrap_err()
                .contains("ends with a hyphen")
        );
        assert!(check_stage("second_stage").unwrap_err().contains("`_`"));
        assert!(check_stage("proD").unwrap_err().contains("upper-case"));
        assert!(check_stage("dev").is_ok());
    }

    #[test]
    fn project_length_limit() {
        assert!(check_project(&"a".repeat(200)).is_ok());
        assert!(
            check_project(&"a".repeat(201))
                .unwrap_err()
                .contains("at most 200")
        );
        assert!(check_project("my_project").is_err());
    }

    #[test]
    fn services_are_directory_names() {
        assert!(check_service("carts").is_ok());
        assert!(check_service("Carts_v2").is_ok());
        assert!(check_service(&"s".repeat(43)).is_ok());
        assert!(check_service(&"s".repeat(44)).is_err());
        for bad in [
            "", ".", "..", "a/b", "a:b", "a&b", "a|b", "a<b", "a>b", "a b", " a", "a\tb", "a\u{7}",
        ] {
            assert!(check_service(bad).is_err(), "{bad}");
        }
    }
}
