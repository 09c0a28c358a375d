//! `sluice token create|list|revoke`, `sluice audit` and `sluice whoami`.

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use crate::cli::{AuditArgs, TokenCreateArgs, TokenListArgs, TokenRevokeArgs, WhoamiArgs};
use crate::client::connect;
use crate::client::http::{block_on, segment};
use crate::client::output::{Table, print};

/// The request body of `sluice token create`.
pub fn create_body(args: &TokenCreateArgs) -> Value {
    json!({
        "name": args.name,
        "role": args.role,
        "project": args.project,
        "stages": args.stages,
        "expires": args.expires,
    })
}

/// Runs `sluice token create`: the token is printed once, alone on stdout, so that it can be
/// captured (`TOKEN=$(sluice token create ...)`); what it is goes to stderr.
pub fn create_token(args: &TokenCreateArgs) -> Result<i32> {
    let api = connect()?;
    let answer = block_on(api.post("/api/sluice/v1/tokens", &create_body(args)))?
        .map_err(|e| anyhow!("{e}"))?;
    let text = |k: &str| answer[k].as_str().unwrap_or("").to_owned();
    eprintln!(
        "Token {} (id {}, role {}{}) expires at {}. It is shown only now: keep it safe.",
        text("name"),
        text("id"),
        text("role"),
        scope(&answer),
        text("expiresAt"),
    );
    println!("{}", text("token"));
    Ok(0)
}

/// `, project P, stages a, b` or nothing.
fn scope(token: &Value) -> String {
    let mut out = String::new();
    if let Some(p) = token["project"].as_str() {
        out.push_str(&format!(", project {p}"));
    }
    let stages: Vec<&str> = token["stages"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !stages.is_empty() {
        out.push_str(&format!(", stages {}", stages.join(", ")));
    }
    out
}

/// Runs `sluice token list`.
pub fn list_tokens(args: &TokenListArgs) -> Result<i32> {
    let api = connect()?;
    let query: Vec<(&str, String)> = args
        .project
        .iter()
        .map(|p| ("project", p.clone()))
        .collect();
    let answer = block_on(api.get("/api/sluice/v1/tokens", &query))?.map_err(|e| anyhow!("{e}"))?;
    print(args.output, &answer, || {
        let mut table = Table::new(&[
            "ID",
            "NAME",
            "ROLE",
            "PROJECT",
            "STAGES",
            "STATE",
            "EXPIRES",
            "CREATED BY",
        ]);
        for t in answer["tokens"].as_array().into_iter().flatten() {
            let s = |k: &str| t[k].as_str().unwrap_or("").to_owned();
            let stages: Vec<&str> = t["stages"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            table.row(vec![
                s("id"),
                s("name"),
                s("role"),
                t["project"].as_str().unwrap_or("*").to_owned(),
                if stages.is_empty() {
                    "*".to_owned()
                } else {
                    stages.join(",")
                },
                s("state"),
                s("expiresAt"),
                s("createdBy"),
            ]);
        }
        table
    });
    Ok(0)
}

/// Runs `sluice token revoke`.
pub fn revoke_token(args: &TokenRevokeArgs) -> Result<i32> {
    let api = connect()?;
    let answer = block_on(api.call(
        reqwest::Method::DELETE,
        &format!("/api/sluice/v1/tokens/{}", segment(&args.id)),
        &[],
        None,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    println!("{}", answer["message"].as_str().unwrap_or("revoked"));
    Ok(0)
}

/// Runs `sluice audit`.
pub fn audit(args: &AuditArgs) -> Result<i32> {
    let api = connect()?;
    let mut query = vec![("pageSize", args.limit.to_string())];
    for (key, value) in [
        ("project", &args.project),
        ("actor", &args.actor),
        ("action", &args.action),
    ] {
        if let Some(v) = value {
            query.push((key, v.clone()));
        }
    }
    let answer = block_on(api.get("/api/sluice/v1/audit", &query))?.map_err(|e| anyhow!("{e}"))?;
    print(args.output, &answer, || {
        let mut table = Table::new(&[
            "TIME", "ACTOR", "ACTION", "PROJECT", "STAGE", "SERVICE", "CONTEXT", "DETAIL", "CLIENT",
        ]);
        for e in answer["entries"].as_array().into_iter().flatten() {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            table.row(vec![
                s("time"),
                s("actor"),
                s("action"),
                s("project"),
                s("stage"),
                s("service"),
                s("keptnContext"),
                s("detail"),
                s("client"),
            ]);
        }
        table
    });
    Ok(0)
}

/// Runs `sluice whoami`.
pub fn whoami(args: &WhoamiArgs) -> Result<i32> {
    let api = connect()?;
    let me = block_on(api.get("/api/sluice/v1/session", &[]))?.map_err(|e| anyhow!("{e}"))?;
    print(args.output, &me, || {
        let mut table = Table::new(&["NAME", "ROLE", "PROJECT", "STAGES", "RIGHTS"]);
        let list = |k: &str| {
            me[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        let stages = list("stages");
        table.row(vec![
            me["name"].as_str().unwrap_or("").to_owned(),
            me["role"].as_str().unwrap_or("").to_owned(),
            me["project"].as_str().unwrap_or("*").to_owned(),
            if stages.is_empty() {
                "*".into()
            } else {
                stages
            },
            list("rights"),
        ]);
        table
    });
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_body_carries_every_flag() {
        let args = TokenCreateArgs {
            name: "prod-approve".into(),
            role: "approver".into(),
            project: Some("shop".into()),
            stages: vec!["production".into()],
            expires: "30d".into(),
        };
        assert_eq!(
            create_body(&args),
            json!({"name": "prod-approve", "role": "approver", "project": "shop", "stages": ["production"], "expires": "30d"})
        );
        assert_eq!(
            scope(&create_body(&args)),
            ", project shop, stages production"
        );
    }
}
