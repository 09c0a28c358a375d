//! `sluice auth`: checks an endpoint and token with `POST /api/v1/auth` and stores them.

use anyhow::{Result, bail};
use serde_json::json;

use super::config::{self, ApiToken, Credentials};
use super::http::{Api, block_on};
use crate::cli::AuthArgs;

/// Runs `sluice auth`.
pub fn run(args: &AuthArgs) -> Result<i32> {
    let endpoint = config::normalize_endpoint(&args.endpoint)?;
    if args.api_token.trim().is_empty() {
        bail!("the API token is empty");
    }
    let creds = Credentials {
        endpoint,
        api_token: ApiToken::new(args.api_token.trim()),
    };
    let api = Api::new(&creds)?;
    block_on(async {
        match api.post("/api/v1/auth", &json!({})).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(401) || e.status() == Some(403) => Err(anyhow::anyhow!(
                "the server at {} rejected the API token ({e})",
                creds.endpoint
            )),
            Err(e) => Err(e.into()),
        }
    })??;
    let path = config::config_path()?;
    config::store(&path, &creds)?;
    println!(
        "Successfully authenticated against {}\nCredentials stored in {}",
        creds.endpoint,
        path.display()
    );
    Ok(0)
}
