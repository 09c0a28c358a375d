//! `sluice cluster status`: the replicas of a PostgreSQL-backed cluster as one of them sees
//! them (`GET /api/sluice/v1/cluster`).

use anyhow::Result;
use serde_json::Value;

use crate::cli::ClusterStatusArgs;
use crate::client::connect;
use crate::client::http::block_on;
use crate::client::output::{Table, print, text};

/// Runs `sluice cluster status`.
pub fn status(args: &ClusterStatusArgs) -> Result<i32> {
    let api = connect()?;
    let answer = match block_on(api.get("/api/sluice/v1/cluster", &[]))? {
        Ok(v) => v,
        Err(e) if e.is_not_found() => {
            println!(
                "{} is a single node (embedded SQLite store): there is no cluster",
                api.endpoint()
            );
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    if args.output == crate::cli::OutputFormat::Table {
        let leader = &answer["leader"];
        if leader.is_object() {
            println!(
                "epoch {}: leader {} at {} since {}",
                answer["epoch"],
                text(leader, "node"),
                text(leader, "url"),
                text(leader, "since")
            );
        } else {
            println!(
                "epoch {}: no leader (the replicas are electing one)",
                answer["epoch"]
            );
        }
    }
    print(args.output, &answer, || {
        let mut t = Table::new(&["NODE", "ROLE", "URL", "LAST SEEN", "POSITION", "LAG"]);
        for r in answer["replicas"].as_array().into_iter().flatten() {
            let n = |k: &str| r.get(k).and_then(Value::as_i64).unwrap_or(0).to_string();
            t.row(vec![
                text(r, "node").to_owned(),
                text(r, "role").to_owned(),
                text(r, "url").to_owned(),
                format!("{}s ago", n("lastSeenSeconds")),
                n("position"),
                n("lag"),
            ]);
        }
        t
    });
    Ok(0)
}
