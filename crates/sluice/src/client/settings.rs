//! `sluice create|delete secret` (Keptn's secret service) and `sluice configure monitoring`.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use serde_json::json;

use crate::cli::{ConfigureMonitoringArgs, CreateSecretArgs, SecretNameArgs};
use crate::client::connect;
use crate::client::http::{block_on, segment};

/// Parses `KEY=VALUE` literals into a map; the value may contain `=`.
pub fn literals(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((key, value)) = item.split_once('=') else {
            bail!("--from-literal {item:?} has no `=`: write KEY=VALUE");
        };
        if key.is_empty() {
            bail!("--from-literal {item:?} has an empty key");
        }
        if out.insert(key.to_owned(), value.to_owned()).is_some() {
            bail!("--from-literal gives the key {key:?} twice");
        }
    }
    Ok(out)
}

/// Runs `sluice create secret`.
pub fn create_secret(args: &CreateSecretArgs) -> Result<i32> {
    let data = literals(&args.from_literal)?;
    let api = connect()?;
    let body = json!({"name": args.name, "scope": args.scope, "data": data});
    // The API creates with POST (409 when the name is taken) and replaces with PUT.
    let created = block_on(api.post("/api/secrets/v1/secret", &body))?;
    match created {
        Err(e) if e.status() == Some(409) => block_on(api.call(
            reqwest::Method::PUT,
            "/api/secrets/v1/secret",
            &[],
            Some(&body),
        ))?
        .map_err(|e| anyhow!("{e}"))?,
        other => other.map_err(|e| anyhow!("{e}"))?,
    };
    println!(
        "Secret {} stored with keys: {}",
        args.name,
        data.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    Ok(0)
}

/// Runs `sluice delete secret`.
pub fn delete_secret(args: &SecretNameArgs) -> Result<i32> {
    let api = connect()?;
    block_on(api.call(
        reqwest::Method::DELETE,
        "/api/secrets/v1/secret",
        &[("name", args.name.clone())],
        None,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    println!("Secret {} deleted", args.name);
    Ok(0)
}

/// Runs `sluice configure monitoring`.
pub fn configure_monitoring(args: &ConfigureMonitoringArgs) -> Result<i32> {
    if args.provider == "prometheus" && args.endpoint.is_none() {
        bail!(
            "configure monitoring prometheus needs --endpoint (Prometheus' URL, e.g. http://127.0.0.1:9090)"
        );
    }
    let mut body = json!({"type": args.provider});
    for (key, value) in [
        ("endpoint", &args.endpoint),
        ("user", &args.user),
        ("password", &args.password),
    ] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    let api = connect()?;
    let path = format!(
        "/api/sluice/v1/project/{}/monitoring",
        segment(&args.project)
    );
    block_on(api.post(&path, &body))?.map_err(|e| anyhow!("{e}"))?;
    println!(
        "Project {} now gets its SLIs from {}",
        args.project, args.provider
    );
    if let (Some(file), Some(service)) = (&args.alerting_rules, &args.service) {
        let path = format!(
            "/api/sluice/v1/project/{}/alerting-rules",
            segment(&args.project)
        );
        let rules = block_on(api.get_text(&path, &[("service", service.clone())]))?
            .map_err(|e| anyhow!("{e}"))?;
        std::fs::write(file, rules).map_err(|e| anyhow!("cannot write {}: {e}", file.display()))?;
        println!("Alerting rules for {service} written to {}", file.display());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::literals;

    #[test]
    fn literals_split_on_the_first_equals_sign() {
        let m = literals(&["user=admin".into(), "token=a=b".into()]).unwrap();
        assert_eq!(m["token"], "a=b");
        assert!(literals(&["novalue".into()]).is_err());
        assert!(literals(&["=x".into()]).is_err());
        assert!(literals(&["a=1".into(), "a=2".into()]).is_err());
    }
}
