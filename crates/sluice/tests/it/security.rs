//! The server's protections against data leaks and denial of service, end to end: private
//! file modes in the data directory, the connection cap and client timeouts under a flood at
//! a lowered descriptor limit, secrets encrypted at rest, and the login backoff.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;

use crate::scratch;
use crate::server::{Server, TOKEN, trigger_delivery, tutorial_project};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every file and directory under `dir`, depth first.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        out.push(path.clone());
        if path.is_dir() && !path.is_symlink() {
            walk(&path, out);
        }
    }
}

#[test]
fn data_dir_db_wal_shm_and_git_files_are_private_after_a_server_start() {
    let base = scratch("file-modes");
    let data = base.join("data");
    let server = Server::start(&data);
    tutorial_project(&server);
    // A job whose command (a child process of the server) writes a file of its own.
    let job = "apiVersion: v2\nactions:\n  - name: touch\n    events:\n      - name: sh.keptn.event.je-deployment.triggered\n    tasks:\n      - name: touch\n        image: alpine\n        cmd: [\"sh\"]\n        args: [\"-c\", \"mkdir -p out && echo made > out/child-file\"]\n";
    let a = server.call(
        "POST",
        "/api/resource-service/v1/project/fulltour/stage/qa/service/helloservice/resource",
        Some(
            &serde_json::json!({"resources": [{"resourceURI": "job/config.yaml",
            "resourceContent": base64::engine::general_purpose::STANDARD.encode(job)}]}),
        ),
    );
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
    trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    let child_file = (0..3000)
        .find_map(|_| {
            let mut all = Vec::new();
            walk(&data.join("runs"), &mut all);
            let found = all.into_iter().find(|p| p.ends_with("out/child-file"));
            if found.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            found
        })
        .expect("the job ran and wrote its file");
    assert_eq!(mode(&child_file), 0o600, "a file made by a job's process");
    assert_eq!(mode(&data), 0o700, "data directory");
    for file in ["sluice.db", "sluice.db-wal", "sluice.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let mut all = Vec::new();
    walk(&data, &mut all);
    let git_head = all
        .iter()
        .find(|p| {
            p.file_name().is_some_and(|n| n == "HEAD") && p.starts_with(data.join("projects"))
        })
        .expect("the project's git repository has a HEAD file");
    assert_eq!(mode(git_head), 0o600, "{}", git_head.display());
    for path in &all {
        // Something the job executor removed since the walk has no mode to check.
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue;
        };
        let m = meta.permissions().mode() & 0o7777;
        assert_eq!(m & 0o077, 0, "{} has mode {m:o}", path.display());
        if path.is_dir() {
            assert_eq!(m, 0o700, "{}", path.display());
        }
    }
    drop(server);

    // A data directory that others could read is tightened when a server opens it.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(&data);
    assert_eq!(
        mode(&data),
        0o700,
        "an existing data directory is tightened"
    );
    drop(server);
}

/// Reads from `stream` until the server closes it; `true` when it did (end of file or a
/// reset), `false` when nothing happened within `patience` (a bound, not a measurement).
fn closed_by_server(stream: &mut TcpStream, patience: Duration) -> bool {
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn an_idle_connection_flood_at_a_low_descriptor_limit_leaves_health_answering() {
    const OPEN_FILES: u64 = 256;
    // More than the cap (128 at 256 descriptors) and than the descriptors themselves.
    const FLOOD: usize = 300;
    let data = scratch("flood").join("data");
    let server = Server::start_with(&data, &["--header-timeout", "1s"], &[], Some(OPEN_FILES));
    tutorial_project(&server);
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();

    // A long answer (the event stream) opened before the flood outlives the header timeout.
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /api/sluice/v1/stream?project=fulltour&type=sh.keptn.event.qa.delivery.triggered HTTP/1.1\r\nHost: {addr}\r\nx-token: {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut stream = BufReader::new(stream);
    let mut status = String::new();
    stream.read_line(&mut status).unwrap();
    assert!(status.contains(" 200 "), "{status}");

    // A slow client that never finishes its headers, then idle connections that send nothing.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let flood: Vec<TcpStream> = (0..FLOOD)
        .map(|i| TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();

    // Health answers although the flood holds more connections than the server may open.
    let health = crate::http::call(&server.base, TOKEN, "GET", "/health", None);
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        closed_by_server(&mut slow, Duration::from_secs(60)),
        "the slow-loris connection was not dropped"
    );
    drop(flood);

    // A keep-alive connection that stays silent after its answer is closed as well.
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(kept, "GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut kept = BufReader::new(kept);
    let mut status = String::new();
    kept.read_line(&mut status).unwrap();
    assert!(status.contains(" 200 "), "{status}");
    // Reading to the end returns only once the server closes the connection.
    let mut rest = String::new();
    let closed = match kept.read_to_string(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    };
    assert!(closed, "the idle keep-alive connection was not dropped");

    // The stream, older than the header timeout, still delivers new events.
    let context = trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    let mut line = String::new();
    for _ in 0..10_000 {
        line.clear();
        assert_ne!(stream.read_line(&mut line).unwrap(), 0, "the stream ended");
        if line.starts_with("data:") && line.contains(&context) {
            break;
        }
    }
    assert!(
        line.contains(&context),
        "the stream did not deliver the event"
    );
}

/// Whether `needle` occurs in any file under `dir`.
fn anywhere_on_disk(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    walk(dir, &mut all);
    all.into_iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            std::fs::read(p)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .collect()
}

/// The keys the secret API lists for `name` (they are inside the encrypted value).
fn listed_keys(server: &Server, name: &str) -> Vec<String> {
    let a = server.call("GET", "/api/secrets/v1/secret", None);
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["Secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map(|s| {
            s["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts a server that must refuse to start; answers what it printed on stderr.
fn refused_start(data: &Path, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["server", "--data-dir", data.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("SLUICE_API_TOKEN", TOKEN)
        .env("SLUICE_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn secrets_are_encrypted_at_rest_and_survive_restart_and_key_rotation() {
    const VALUE: &str = "s3cret-value-4b1e9c70";
    let data = scratch("secrets").join("data");
    let server = Server::start(&data);
    let body = serde_json::json!({"name": "shop-creds", "data": {"password": VALUE, "user": "u"}});
    let a = server.call("POST", "/api/secrets/v1/secret", Some(&body));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(listed_keys(&server, "shop-creds"), ["password", "user"]);
    assert_eq!(
        anywhere_on_disk(&data, VALUE),
        Vec::<std::path::PathBuf>::new(),
        "the value is on disk in plain text"
    );
    let key_file = data.join("secrets.key");
    assert_eq!(mode(&key_file), 0o600);
    let first_key = std::fs::read_to_string(&key_file).unwrap();
    assert!(server.terminate().success());

    // A restart reads the secret with the key file.
    let server = Server::start(&data);
    assert_eq!(listed_keys(&server, "shop-creds"), ["password", "user"]);
    drop(server);

    // A wrong key is refused at start, with the reason.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let stderr = refused_start(&data, &[("SLUICE_SECRETS_KEY", wrong)]);
    assert!(stderr.contains("secrets key"), "{stderr}");
    assert!(stderr.contains("is wrong"), "{stderr}");

    // Rotation: a new key file, the secrets still readable, the old key refused.
    let server = Server::start_with(&data, &["--rotate-secrets-key"], &[], None);
    assert_eq!(listed_keys(&server, "shop-creds"), ["password", "user"]);
    let second_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(first_key, second_key);
    assert_eq!(mode(&key_file), 0o600);
    assert!(server.terminate().success());
    let server = Server::start(&data);
    assert_eq!(listed_keys(&server, "shop-creds"), ["password", "user"]);
    drop(server);
    let stderr = refused_start(&data, &[("SLUICE_SECRETS_KEY", first_key.trim())]);
    assert!(stderr.contains("is wrong"), "{stderr}");
    assert!(anywhere_on_disk(&data, VALUE).is_empty());

    // A lost key file is reported, not replaced.
    std::fs::remove_file(&key_file).unwrap();
    let stderr = refused_start(&data, &[]);
    assert!(stderr.contains("key file"), "{stderr}");
    assert!(stderr.contains("missing"), "{stderr}");
    assert!(!key_file.exists());
}

/// One web UI login attempt over a real connection: the status line and `Retry-After`.
fn login(base: &str, token: &str) -> (u16, Option<String>) {
    let addr = base.strip_prefix("http://").unwrap();
    let body = serde_json::json!({ "token": token }).to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /bridge/api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let retry = answer.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("retry-after:")
            .map(|v| v.trim().to_owned())
    });
    (status, retry)
}

#[test]
fn wrong_logins_from_one_address_get_429_with_retry_after() {
    let server = Server::start(&scratch("login").join("data"));
    let wrong = "wrong-token-0123456789abcdef";
    assert_eq!(login(&server.base, TOKEN).0, 200);
    for attempt in 1..=5 {
        assert_eq!(login(&server.base, wrong), (401, None), "attempt {attempt}");
    }
    assert_eq!(login(&server.base, wrong), (429, Some("1".to_owned())));
    // While it waits, even the right token is refused, on the API too.
    assert_eq!(login(&server.base, TOKEN).0, 429);
    assert_eq!(server.call("GET", "/api/v1/metadata", None).status, 429);
    assert_eq!(server.call("GET", "/health", None).status, 200);
}
