//! A PostgreSQL server for tests and `sluice bench`: the one named by `SLUICE_TEST_PG` (a
//! `postgres://` URL), or else a throwaway cluster of the PostgreSQL 15 binaries in
//! `/usr/lib/postgresql/15/bin` (or the directory in `SLUICE_TEST_PG_BIN`),
//! started once per process on a free loopback port and stopped (its directory removed)
//! when the process exits. Each test gets a fresh database of its own ([`fresh_database`]).
//! Tests run it without `fsync`; the benchmark's cluster ([`throwaway_server`]) is durable.
//!
//! The tests' cluster serves TLS with the certificate in `tests/data/tls` (signed by the test
//! CA there) and its URL asks for a verified TLS connection (`sslmode=verify-full` with that
//! CA), so every PostgreSQL case of a checkout runs over TLS; `.ci/run` starts its server
//! the same way.
//!
//! When neither is possible the PostgreSQL cases print `skipped: PostgreSQL not available`;
//! with `SLUICE_TEST_PG_REQUIRED=1` (CI) they fail instead.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;

/// The server tests use: a URL of its administrative database, or why there is none.
fn server() -> &'static Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("SLUICE_TEST_PG") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => start_cluster(false),
    })
}

/// Whether PostgreSQL is required (`SLUICE_TEST_PG_REQUIRED=1`).
pub fn required() -> bool {
    std::env::var("SLUICE_TEST_PG_REQUIRED").is_ok_and(|v| v == "1")
}

/// The URL of a new, empty database for one test (`what` names it in messages), or `None`
/// after printing why PostgreSQL cases are skipped. Panics instead of skipping when
/// [`required`].
pub async fn fresh_database(what: &str) -> Option<String> {
    let admin = match server() {
        Ok(url) => url,
        Err(why) => {
            if required() {
                panic!("{what}: PostgreSQL is required (SLUICE_TEST_PG_REQUIRED=1) but {why}");
            }
            println!("{what}: skipped: PostgreSQL not available ({why})");
            return None;
        }
    };
    Some(
        new_database(admin)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}")),
    )
}

/// Creates a new, empty database on the server whose administrative URL is `admin`;
/// returns its URL.
pub async fn new_database(admin: &str) -> Result<String, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = crate::to_nanos(sluice_model::clock::system());
    let name = format!(
        "sluice_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    );
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .map_err(|e| format!("cannot connect to the PostgreSQL server: {e}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    let _ = conn.close().await;
    Ok(with_database(admin, &name))
}

/// Starts a throwaway cluster with the default durability (`fsync` on, as a real
/// deployment) and returns the URL of its administrative database, or why it could not.
/// It is stopped when this process exits; at most one runs per process.
pub fn throwaway_server() -> Result<String, String> {
    start_cluster(true)
}

/// `url` with its database replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The running throwaway cluster: the shell that stops it when its standard input closes,
/// which happens when this process exits.
static CLUSTER: Mutex<Option<(Child, ChildStdin)>> = Mutex::new(None);

/// Directory of the PostgreSQL 15 binaries (`SLUICE_TEST_PG_BIN` names another).
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The directory of the TLS fixtures (`ca.pem`, `server.pem`, `server.key`, `other-ca.pem`,
/// made by its `gen.sh`), when this build runs from a checkout that has them.
pub fn tls_fixtures() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    dir.join("server.key").exists().then_some(dir)
}

/// `url` (with or without a query) with `pairs` added to its query.
pub fn with_query(url: &str, pairs: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{pairs}")
}

fn start_cluster(durable: bool) -> Result<String, String> {
    let bin = std::env::var("SLUICE_TEST_PG_BIN").unwrap_or_else(|_| BIN.to_owned());
    let bin = bin.as_str();
    if !std::path::Path::new(bin).join("initdb").exists() {
        return Err(format!(
            "SLUICE_TEST_PG is not set and {bin}/initdb does not exist"
        ));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let nanos = crate::to_nanos(sluice_model::clock::system());
    let dir = std::env::temp_dir().join(format!("sluice-pg-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // initdb refuses to run as root: the cluster then belongs to the postgres user.
    let run_as = if root { "runuser -u postgres --" } else { "" };
    if root {
        let chown = Command::new("chown")
            .arg("postgres:")
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err("cannot chown the cluster directory to the postgres user".into());
        }
    }
    let fsync = if durable { "" } else { "-c fsync=off" };
    let no_sync = if durable { "" } else { "--no-sync" };
    // The tests' cluster serves TLS; PostgreSQL wants its key private to the server's user.
    let tls = if durable { None } else { tls_fixtures() };
    let (tls_setup, tls_options) = match &tls {
        Some(fixtures) => (
            format!(
                r#"cp '{f}/server.pem' '{f}/server.key' "$T/" && chmod 600 "$T/server.key"{chown}"#,
                f = fixtures.display(),
                chown = if root {
                    r#" && chown postgres: "$T/server.pem" "$T/server.key""#
                } else {
                    ""
                }
            ),
            r#"-c ssl=on -c ssl_cert_file=$T/server.pem -c ssl_key_file=$T/server.key"#,
        ),
        None => (String::from("true"), ""),
    };
    let script = format!(
        r#"set -e
T='{dir}'
{run_as} {bin}/initdb -D "$T/data" -U postgres --auth=trust -E UTF8 {no_sync} --no-instructions >"$T/initdb.log" 2>&1 || {{ cat "$T/initdb.log" >&2; rm -rf "$T"; exit 1; }}
{tls_setup}
{run_as} {bin}/pg_ctl -D "$T/data" -l "$T/pg.log" -w -o "-c listen_addresses=127.0.0.1 -p {port} -k $T {fsync} {tls_options} -c max_connections=200" start >/dev/null 2>&1 || {{ cat "$T/pg.log" >&2; rm -rf "$T"; exit 1; }}
echo ready
set +e
read -r _
{run_as} {bin}/pg_ctl -D "$T/data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$T"
"#,
        dir = dir.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    // Readiness: `pg_ctl start -w` returns once the server accepts connections.
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("cluster start: {e}"))?;
    if line.trim() != "ready" {
        let _ = child.wait();
        return Err("the throwaway PostgreSQL cluster did not start (see above)".into());
    }
    *CLUSTER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((child, stdin));
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    Ok(match tls {
        Some(fixtures) => with_query(
            &url,
            &format!(
                "sslmode=verify-full&sslrootcert={}",
                fixtures.join("ca.pem").display()
            ),
        ),
        None => url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path() {
        assert_eq!(
            with_database("postgres://u:p@h:5/postgres", "x"),
            "postgres://u:p@h:5/x"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
