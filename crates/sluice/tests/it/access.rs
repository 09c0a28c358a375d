//! Scoped tokens end to end: `sluice token create|list|revoke`, `sluice whoami` and
//! `sluice audit` against a real server on a loopback port, and what the tokens may do.

use crate::server::{Server, TOKEN, tutorial_project};
use crate::{scratch, sluice_env};

#[test]
fn scoped_tokens_from_the_cli_are_limited_revocable_and_audited() {
    let dir = scratch("access");
    let server = Server::start(&dir.join("data"));
    tutorial_project(&server);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let admin = [
        ("SLUICE_ENDPOINT", server.base.as_str()),
        ("SLUICE_API_TOKEN", TOKEN),
    ];

    let run = sluice_env(
        &home,
        &admin,
        &[
            "token",
            "create",
            "--name",
            "prod-approve",
            "--project",
            "fulltour",
            "--role",
            "approver",
            "--stage",
            "production",
            "--expires",
            "30d",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let approver = run.stdout.trim().to_owned();
    assert!(
        approver.starts_with("slc_"),
        "only the token on stdout: {}",
        run.stdout
    );
    assert!(run.stderr.contains("shown only now"), "{}", run.stderr);
    // A required expiry.
    let run = sluice_env(
        &home,
        &admin,
        &["token", "create", "--name", "x", "--role", "viewer"],
    );
    assert_ne!(run.code, 0);

    let as_approver = [
        ("SLUICE_ENDPOINT", server.base.as_str()),
        ("SLUICE_API_TOKEN", approver.as_str()),
    ];
    let run = sluice_env(&home, &as_approver, &["whoami", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let me: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(me["role"], "approver");
    assert_eq!(me["stages"], serde_json::json!(["production"]));

    // An approver cannot trigger.
    let run = sluice_env(
        &home,
        &as_approver,
        &[
            "trigger",
            "delivery",
            "--project",
            "fulltour",
            "--service",
            "helloservice",
            "--image",
            "ghcr.io/podtato-head/podtatoserver:v0.1.1",
            "--stage",
            "qa",
        ],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("403") || run.stderr.contains("may not trigger"),
        "{}",
        run.stderr
    );
    // Nor list tokens.
    let run = sluice_env(&home, &as_approver, &["token", "list"]);
    assert_ne!(run.code, 0);

    let run = sluice_env(&home, &admin, &["token", "list", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let id = list["tokens"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        !run.stdout.contains(&approver),
        "the list never shows a token"
    );
    let run = sluice_env(&home, &admin, &["token", "revoke", &id]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = sluice_env(&home, &as_approver, &["whoami"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("revoked"), "{}", run.stderr);

    let run = sluice_env(&home, &admin, &["audit", "--project", "fulltour"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for action in [
        "token.create",
        "token.revoke",
        "project.create",
        "service.create",
    ] {
        assert!(run.stdout.contains(action), "{action}: {}", run.stdout);
    }
    assert!(
        run.stdout.contains("127.0.0.1"),
        "the client address: {}",
        run.stdout
    );
}
