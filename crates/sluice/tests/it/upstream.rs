//! Projects with a git upstream against a real git server on loopback: Debian's
//! `git http-backend` (smart HTTP) behind a tiny HTTP server written here, which checks HTTP
//! basic authentication so the token is exercised. Pushes, pulls into reads and runs, an
//! unreachable upstream, a conflict, the credentials kept out of answers and logs, and the
//! migration of a Keptn project (import, then attach its upstream). HTTPS through a TLS
//! proxy with a self-signed certificate, SSH against a real `sshd` with a key (required in
//! CI), and a second server on a PostgreSQL store continuing from the first one's sync.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::{Server, TOKEN, trigger_delivery};
use crate::{Run, repo_root, scratch, sluice_env, write};

const GIT_USER: &str = "keptn";
const GIT_TOKEN: &str = "ghp_upstreamTokenThatMustNeverLeak0123";

/// A smart-HTTP git server on loopback: `git http-backend` as CGI, HTTP basic authentication
/// with [`GIT_USER`] and [`GIT_TOKEN`], and a switch that makes it drop every connection
/// (an unreachable upstream).
struct GitServer {
    base: String,
    down: Arc<AtomicBool>,
    /// Requests answered, and how many came with the right credentials.
    served: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
    /// Every `Authorization` header that was not the right one.
    refused: Arc<Mutex<Vec<String>>>,
}

impl GitServer {
    fn start(root: &Path) -> GitServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = GitServer {
            base,
            down: Arc::default(),
            served: Arc::default(),
            authorized: Arc::default(),
            refused: Arc::default(),
        };
        let (root, down, served, authorized, refused) = (
            root.to_owned(),
            server.down.clone(),
            server.served.clone(),
            server.authorized.clone(),
            server.refused.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let (root, served, authorized, refused) = (
                    root.clone(),
                    served.clone(),
                    authorized.clone(),
                    refused.clone(),
                );
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &served, &authorized, &refused);
                });
            }
        });
        server
    }

    fn url(&self, repo: &str) -> String {
        format!("{}/{repo}", self.base)
    }
}

/// Answers one request (then closes the connection).
fn serve(
    stream: TcpStream,
    root: &Path,
    served: &AtomicUsize,
    authorized: &AtomicUsize,
    refused: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = headers.get("content-length").and_then(|n| n.parse().ok()) {
        body = vec![0; n];
        reader.read_exact(&mut body)?;
    }
    served.fetch_add(1, Ordering::SeqCst);
    let mut stream = stream;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{GIT_USER}:{GIT_TOKEN}"))
    );
    let given = headers.get("authorization").cloned().unwrap_or_default();
    if given != expected {
        refused.lock().unwrap().push(given);
        stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    authorized.fetch_add(1, Ordering::SeqCst);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env(
            "CONTENT_TYPE",
            headers.get("content-type").cloned().unwrap_or_default(),
        )
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_CONTENT_ENCODING",
            headers.get("content-encoding").cloned().unwrap_or_default(),
        )
        .env(
            "GIT_PROTOCOL",
            headers.get("git-protocol").cloned().unwrap_or_default(),
        )
        .env("REMOTE_USER", GIT_USER)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = cgi.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut output = Vec::new();
    cgi.stdout.take().unwrap().read_to_end(&mut output)?;
    let _ = writer.join();
    cgi.wait()?;
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| output.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, gap)) = split else {
        stream.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let head = String::from_utf8_lossy(&output[..at]).into_owned();
    let content = &output[at + gap..];
    let mut status = "200 OK".to_owned();
    let mut response = String::new();
    for line in head.lines() {
        if let Some(s) = line.strip_prefix("Status:") {
            status = s.trim().to_owned();
        } else if !line.trim().is_empty() {
            response.push_str(line.trim_end());
            response.push_str("\r\n");
        }
    }
    stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
            content.len()
        )
        .as_bytes(),
    )?;
    stream.write_all(content)?;
    Ok(())
}

/// Runs `git` (no user configuration) in `dir` and returns its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Someone",
            "-c",
            "user.email=someone@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=master",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A file of a branch of a bare repository, if it is there.
fn upstream_file(bare: &Path, branch: &str, path: &str) -> Option<String> {
    let out = Command::new("git")
        .args([
            "--git-dir",
            bare.to_str().unwrap(),
            "show",
            &format!("{branch}:{path}"),
        ])
        .output()
        .expect("run git");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The branches of a bare repository.
fn upstream_branches(bare: &Path) -> Vec<String> {
    git(
        bare,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Commits `content` as `path` on `branch` of the bare repository, as someone working on the
/// upstream directly would (clone, commit, push).
fn commit_upstream(bare: &Path, work: &Path, branch: &str, path: &str, content: &str) {
    let _ = std::fs::remove_dir_all(work);
    git(
        bare.parent().unwrap(),
        &[
            "clone",
            "--quiet",
            "--branch",
            branch,
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    write(work, path, content);
    git(work, &["add", "--all"]);
    git(
        work,
        &["commit", "--quiet", "-m", &format!("edit {path} upstream")],
    );
    git(work, &["push", "--quiet", "origin", branch]);
}

fn sluice_at(server: &Server, args: &[&str]) -> Run {
    let home = scratch("upstream-home");
    sluice_env(
        &home,
        &[
            ("SLUICE_ENDPOINT", &server.base),
            ("SLUICE_API_TOKEN", TOKEN),
        ],
        args,
    )
}

fn resource_path(level: &str, uri: &str) -> String {
    let mut p = "/api/resource-service/v1/project/fulltour".to_owned();
    if !level.is_empty() {
        let (stage, service) = level.split_once('/').unwrap_or((level, ""));
        p.push_str(&format!("/stage/{stage}"));
        if !service.is_empty() {
            p.push_str(&format!("/service/{service}"));
        }
    }
    format!("{p}/resource/{}", uri.replace('/', "%2F"))
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn unb64(text: &Value) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text.as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// Every answer body of the test, to look for the token in.
#[derive(Default)]
struct Answers(Vec<String>);

impl Answers {
    fn call(
        &mut self,
        server: &Server,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let a = server.call(method, path, body);
        self.0.push(a.body.clone());
        let v = serde_json::from_str(&a.body).unwrap_or(Value::Null);
        (a.status, v)
    }

    fn put(&mut self, server: &Server, level: &str, uri: &str, content: &str) -> (u16, Value) {
        let body = json!({"resourceContent": b64(content)});
        self.call(server, "PUT", &resource_path(level, uri), Some(&body))
    }

    fn get(&mut self, server: &Server, level: &str, uri: &str) -> (u16, Value) {
        self.call(server, "GET", &resource_path(level, uri), None)
    }
}

#[test]
fn a_project_with_an_http_upstream_and_a_token_is_pushed_pulls_changes_and_reports_conflicts() {
    let dir = scratch("upstream-http");
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("fulltour.git");
    git(&repos, &["init", "--quiet", "--bare", "fulltour.git"]);
    let git_server = GitServer::start(&repos);
    let log = dir.join("server.log");
    let server = Server::start_logging(&dir.join("data"), &["--outbound-allow", "127.0.0.1"], &log);
    let token_file = write(&dir, "token", format!("{GIT_TOKEN}\n"));
    let shipyard = repo_root().join("examples/fulltour/shipyard.yaml");
    let url = git_server.url("fulltour.git");
    let mut answers = Answers::default();

    // An upstream the outbound rules do not allow is refused before any connection.
    let private = sluice_at(
        &server,
        &[
            "create",
            "project",
            "fulltour",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            "http://10.0.0.1:9/fulltour.git",
            "--git-token-file",
            &token_file,
        ],
    );
    assert_ne!(private.code, 0, "{}", private.stdout);
    assert!(
        private.stderr.contains("not a public address"),
        "{}",
        private.stderr
    );

    // A wrong token is refused and leaves no project.
    let wrong = write(&dir, "wrong-token", "not-the-token");
    let refused = sluice_at(
        &server,
        &[
            "create",
            "project",
            "fulltour",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &wrong,
        ],
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("could not be reached"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        answers
            .call(
                &server,
                "GET",
                "/api/controlPlane/v1/project/fulltour",
                None
            )
            .0,
        404
    );

    // Created: every stage is a branch of the upstream, the shipyard on the default branch.
    let created = sluice_at(
        &server,
        &[
            "create",
            "project",
            "fulltour",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    assert!(git_server.authorized.load(Ordering::SeqCst) > 0);
    let mut branches = upstream_branches(&bare);
    branches.sort();
    assert_eq!(branches, ["master", "production", "qa"]);
    assert_eq!(
        upstream_file(&bare, "master", "shipyard.yaml")
            .unwrap()
            .as_bytes(),
        std::fs::read(&shipyard).unwrap()
    );
    assert!(upstream_file(&bare, "qa", "metadata.yaml").is_some());

    // The project shows its upstream, without the token.
    let (status, project) = answers.call(
        &server,
        "GET",
        "/api/controlPlane/v1/project/fulltour",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(project["gitCredentials"]["remoteURL"], json!(url));
    assert_eq!(project["gitCredentials"]["user"], json!(GIT_USER));
    assert!(
        project["gitCredentials"]["https"].get("token").is_none(),
        "{project}"
    );

    // sluice's changes are pushed: a service, then a file.
    let (status, body) = answers.call(
        &server,
        "POST",
        "/api/controlPlane/v1/project/fulltour/service",
        Some(&json!({"serviceName": "helloservice"})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(upstream_file(&bare, "production", "helloservice/metadata.yaml").is_some());
    let slo = std::fs::read_to_string(repo_root().join("examples/fulltour/slo.yaml")).unwrap();
    let (status, body) = answers.put(&server, "qa/helloservice", "slo.yaml", &slo);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_file(&bare, "qa", "helloservice/slo.yaml").unwrap(),
        slo
    );
    assert_eq!(
        upstream_file(&bare, "production", "helloservice/slo.yaml"),
        None
    );

    // A change made in the upstream is read through the API...
    let work = dir.join("work");
    let stricter = slo.replace("pass: \"90%\"", "pass: \"95%\"");
    assert_ne!(stricter, slo);
    commit_upstream(
        &bare,
        &work,
        "production",
        "helloservice/slo.yaml",
        &stricter,
    );
    let (status, read) = answers.get(&server, "production/helloservice", "slo.yaml");
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), stricter);
    assert_eq!(read["metadata"]["upstreamURL"], json!(url));

    // ... and by the next run, which pins a commit that has it.
    let qa_job = "apiVersion: v2\nactions: []\n";
    commit_upstream(&bare, &work, "qa", "helloservice/job/config.yaml", qa_job);
    let context = trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    let deadline = Instant::now() + Duration::from_secs(30);
    let commit = loop {
        let (status, events) = answers.call(
            &server,
            "GET",
            &format!("/api/mongodb-datastore/event?keptnContext={context}&type=sh.keptn.event.je-deployment.triggered"),
            None,
        );
        assert_eq!(status, 200);
        if let Some(id) = events["events"][0]["data"]["gitcommitid"]
            .as_str()
            .or_else(|| events["events"][0]["gitcommitid"].as_str())
        {
            break id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no je-deployment.triggered: {events}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let (status, pinned) = answers.call(
        &server,
        "GET",
        &format!(
            "{}?gitCommitID={commit}",
            resource_path("qa/helloservice", "job/config.yaml")
        ),
        None,
    );
    assert_eq!(status, 200, "{pinned}");
    assert_eq!(unb64(&pinned["resourceContent"]), qa_job);

    // The upstream unreachable: a write answers so (424) and is kept; a read of the head
    // answers so too. Back up, the next sync pushes the kept change.
    git_server.down.store(true, Ordering::SeqCst);
    let offline = slo.replace("pass: \"90%\"", "pass: \"91%\"");
    let (status, body) = answers.put(&server, "qa/helloservice", "slo.yaml", &offline);
    assert_eq!(status, 424, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("could not be reached") && message.contains("saved in sluice"),
        "{message}"
    );
    let (status, body) = answers.get(&server, "qa/helloservice", "slo.yaml");
    assert_eq!(status, 424, "{body}");
    let (status, listed) = answers.call(
        &server,
        "GET",
        "/api/resource-service/v1/project/fulltour/stage/qa/service/helloservice/resource",
        None,
    );
    assert_eq!(status, 424, "{listed}");
    git_server.down.store(false, Ordering::SeqCst);
    let (status, read) = answers.get(&server, "qa/helloservice", "slo.yaml");
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), offline);
    assert_eq!(
        upstream_file(&bare, "qa", "helloservice/slo.yaml").unwrap(),
        offline
    );

    // A conflict: sluice changes the file while the upstream is down, the upstream changes
    // it differently meanwhile. Reported, nothing overwritten on either side.
    git_server.down.store(true, Ordering::SeqCst);
    let ours = slo.replace("pass: \"90%\"", "pass: \"92%\"");
    let (status, _) = answers.put(&server, "qa/helloservice", "slo.yaml", &ours);
    assert_eq!(status, 424);
    let theirs = slo.replace("pass: \"90%\"", "pass: \"93%\"");
    commit_upstream(&bare, &work, "qa", "helloservice/slo.yaml", &theirs);
    git_server.down.store(false, Ordering::SeqCst);
    let (status, body) = answers.put(&server, "qa", "notes.txt", "unrelated\n");
    assert_eq!(status, 409, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("both changed qa:helloservice/slo.yaml"),
        "{message}"
    );
    assert_eq!(
        upstream_file(&bare, "qa", "helloservice/slo.yaml").unwrap(),
        theirs
    );
    // Reads keep working on sluice's copy, which keeps sluice's change.
    let (status, read) = answers.get(&server, "qa/helloservice", "slo.yaml");
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), ours);
    // Resolved upstream (the file made equal to sluice's): the kept changes go out.
    commit_upstream(&bare, &work, "qa", "helloservice/slo.yaml", &ours);
    let (status, body) = answers.put(&server, "qa", "notes.txt", "unrelated\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_file(&bare, "qa", "notes.txt").unwrap(),
        "unrelated\n"
    );

    // The token is in no answer and no log line, and went only where it belongs.
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.is_empty());
    assert!(logged.contains("git upstream"), "{logged}");
    let encoded = b64(&format!("{GIT_USER}:{GIT_TOKEN}"));
    for text in answers.0.iter().chain([&logged]) {
        assert!(
            !text.contains(GIT_TOKEN) && !text.contains(&encoded),
            "{text}"
        );
    }
    assert!(
        git_server
            .refused
            .lock()
            .unwrap()
            .iter()
            .all(|h| !h.contains(&encoded)),
    );
}

/// Whether the SSH test must run (`SLUICE_TEST_SSH_REQUIRED=1`, set by CI, which installs
/// Debian's openssh-server); without it the test is skipped where `sshd` is missing.
fn ssh_required() -> bool {
    std::env::var("SLUICE_TEST_SSH_REQUIRED").is_ok_and(|v| v == "1")
}

/// A real `sshd` on a loopback port that accepts one key for the current user.
struct Sshd {
    child: std::process::Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    fn start(dir: &Path, client_key: &Path) -> Sshd {
        let host_key = dir.join("host_key");
        keygen(&host_key);
        let authorized = dir.join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).unwrap();
        // A free port: bound, read, released.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n\
                 StrictModes no\nPidFile {}\nLogLevel ERROR\n",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .unwrap();
        // sshd's privilege separation directory, when running as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sshd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sshd { child, port }
    }
}

#[test]
fn a_project_with_an_ssh_upstream_is_pushed_and_pulls_changes() {
    if !Path::new("/usr/sbin/sshd").exists() {
        assert!(
            !ssh_required(),
            "SLUICE_TEST_SSH_REQUIRED=1 but /usr/sbin/sshd is missing (apt-get install openssh-server)"
        );
        eprintln!("skipped: no /usr/sbin/sshd");
        return;
    }
    let dir = scratch("upstream-ssh");
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("fulltour.git");
    git(&repos, &["init", "--quiet", "--bare", "fulltour.git"]);
    let key = dir.join("client_key");
    keygen(&key);
    let sshd = Sshd::start(&dir, &key);
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let url = format!("ssh://{user}@127.0.0.1:{}{}", sshd.port, bare.display());
    let log = dir.join("server.log");
    let server = Server::start_logging(&dir.join("data"), &["--outbound-allow", "127.0.0.1"], &log);
    let shipyard = repo_root().join("examples/fulltour/shipyard.yaml");
    let created = sluice_at(
        &server,
        &[
            "create",
            "project",
            "fulltour",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &url,
            "--git-private-key-file",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    let mut branches = upstream_branches(&bare);
    branches.sort();
    assert_eq!(branches, ["master", "production", "qa"]);
    let mut answers = Answers::default();
    let (status, project) = answers.call(
        &server,
        "GET",
        "/api/controlPlane/v1/project/fulltour",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(project["gitCredentials"]["ssh"], json!({}), "{project}");
    let (status, body) = answers.put(&server, "qa", "notes.txt", "from sluice\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_file(&bare, "qa", "notes.txt").unwrap(),
        "from sluice\n"
    );
    commit_upstream(
        &bare,
        &dir.join("work"),
        "qa",
        "notes.txt",
        "from the upstream\n",
    );
    let (status, read) = answers.get(&server, "qa", "notes.txt");
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), "from the upstream\n");

    // `sluice import keptn` reads an SSH upstream too (with the user's own ssh settings).
    let ssh_command = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        key.display()
    );
    let copied = sluice_env(
        &scratch("upstream-home"),
        &[
            ("SLUICE_ENDPOINT", &server.base),
            ("SLUICE_API_TOKEN", TOKEN),
            ("GIT_SSH_COMMAND", &ssh_command),
        ],
        &["import", "keptn", "--git-url", &url, "--project", "copy"],
    );
    assert_eq!(copied.code, 0, "{}\n{}", copied.stdout, copied.stderr);
    let (status, read) = answers.call(
        &server,
        "GET",
        "/api/resource-service/v1/project/copy/stage/qa/resource/notes.txt",
        None,
    );
    assert_eq!(status, 200, "{read}\n{}", copied.stdout);
    assert_eq!(unb64(&read["resourceContent"]), "from the upstream\n");

    // The key is in no answer, no log line, and not left on disk.
    drop(server);
    let private = std::fs::read_to_string(&key).unwrap();
    let secret_line = private.lines().nth(1).unwrap().to_owned();
    let logged = std::fs::read_to_string(&log).unwrap();
    for text in answers.0.iter().chain([&logged]) {
        assert!(!text.contains(&secret_line), "{text}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.join("data/upstream"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("key-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_keptn_project_is_imported_from_its_upstream_which_is_then_attached() {
    let dir = scratch("upstream-migrate");
    let work = crate::import::branch_layout_repository(&dir);
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("fulltour.git");
    git(
        &dir,
        &[
            "clone",
            "--quiet",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let keptn_head = git(&bare, &["rev-parse", "master"]).trim().to_owned();
    let git_server = GitServer::start(&repos);
    let url = git_server.url("fulltour.git");
    let token_file = write(&dir, "token", GIT_TOKEN);
    let server = Server::start_with(
        &dir.join("data"),
        &["--outbound-allow", "127.0.0.1"],
        &[],
        None,
    );

    // A new project cannot take an upstream that holds a project.
    let shipyard = repo_root().join("examples/fulltour/shipyard.yaml");
    let taken = sluice_at(
        &server,
        &[
            "create",
            "project",
            "other",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_ne!(taken.code, 0, "{}", taken.stdout);
    assert!(
        taken.stderr.contains("already holds a project"),
        "{}",
        taken.stderr
    );
    assert_eq!(git(&bare, &["rev-parse", "master"]).trim(), keptn_head);

    let imported = sluice_at(
        &server,
        &[
            "import",
            "keptn",
            "--git-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_eq!(imported.code, 0, "{}\n{}", imported.stdout, imported.stderr);
    let attached = sluice_at(
        &server,
        &[
            "update",
            "project",
            "fulltour",
            "--git-remote-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_eq!(attached.code, 0, "{}\n{}", attached.stdout, attached.stderr);

    // Nothing of the upstream was overwritten: Keptn's commits are still there, sluice's
    // come after them (its own metadata.yaml files), the files are unchanged.
    let mut answers = Answers::default();
    let log = git(&bare, &["log", "--format=%H", "master"]);
    assert!(log.lines().any(|c| c == keptn_head), "{log}");
    assert_eq!(
        upstream_file(&bare, "production", "helloservice/slo.yaml")
            .unwrap()
            .as_bytes(),
        std::fs::read(repo_root().join("examples/fulltour/slo.yaml")).unwrap()
    );
    assert!(upstream_file(&bare, "master", "webhook/webhook.yaml").is_some());

    // Changes flow both ways from now on.
    let (status, body) = answers.put(&server, "production/helloservice", "notes.txt", "hello\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_file(&bare, "production", "helloservice/notes.txt").unwrap(),
        "hello\n"
    );
    commit_upstream(
        &bare,
        &dir.join("edit"),
        "qa",
        "prometheus/sli.yaml",
        "spec_version: '1.0'\nindicators:\n  throughput: 'rate(x[1m])'\n",
    );
    let (status, read) = answers.get(&server, "qa", "prometheus/sli.yaml");
    assert_eq!(status, 200, "{read}");
    assert!(unb64(&read["resourceContent"]).contains("rate(x[1m])"));
    // Only libgit2's first, anonymous request of the import was refused (it then sends the
    // credentials): every request of the server came with the token.
    let refused = git_server.refused.lock().unwrap().clone();
    assert!(refused.iter().all(String::is_empty), "{refused:?}");
}

#[test]
fn a_project_on_postgres_syncs_with_its_upstream_and_another_server_continues() {
    let Some(store) = crate::postgres::fresh_database("upstream on postgres") else {
        return;
    };
    let dir = scratch("upstream-postgres");
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("fulltour.git");
    git(&repos, &["init", "--quiet", "--bare", "fulltour.git"]);
    let git_server = GitServer::start(&repos);
    let url = git_server.url("fulltour.git");
    let token_file = write(&dir, "token", GIT_TOKEN);
    let shipyard = repo_root().join("examples/fulltour/shipyard.yaml");
    let flags = ["--store", store.as_str(), "--outbound-allow", "127.0.0.1"];
    // Replicas share the secrets key (the git credentials are a sealed secret).
    let key = b64(&"k".repeat(32));
    let env = [("SLUICE_SECRETS_KEY", key.as_str())];
    let mut answers = Answers::default();

    let first = Server::start_with(&dir.join("first"), &flags, &env, None);
    let created = sluice_at(
        &first,
        &[
            "create",
            "project",
            "fulltour",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    let (status, body) = answers.put(&first, "qa", "notes.txt", "one\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream_file(&bare, "qa", "notes.txt").unwrap(), "one\n");
    assert!(first.terminate().success());

    // Another server on the same store, with an empty data directory: the project's
    // repository comes from PostgreSQL, the upstream's changes come in, its own go out.
    let second = Server::start_with(&dir.join("second"), &flags, &env, None);
    commit_upstream(&bare, &dir.join("work"), "qa", "notes.txt", "two\n");
    let (status, read) = answers.get(&second, "qa", "notes.txt");
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), "two\n");
    let (status, body) = answers.put(&second, "production", "notes.txt", "three\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_file(&bare, "production", "notes.txt").unwrap(),
        "three\n"
    );
    assert_eq!(upstream_file(&bare, "qa", "notes.txt").unwrap(), "two\n");
}

/// A TLS front for a [`GitServer`]: a self-signed certificate for 127.0.0.1 and a small
/// Python proxy (the standard library's `ssl`) that terminates TLS and forwards to the plain
/// server. Git is told to trust the certificate with `GIT_SSL_CAINFO`.
struct TlsFront {
    child: std::process::Child,
    base: String,
    cert: std::path::PathBuf,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TLS_PROXY: &str = r#"
import socket, ssl, sys, threading
backend = int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(raw):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    plain = socket.create_connection(("127.0.0.1", backend))
    threading.Thread(target=pipe, args=(tls, plain), daemon=True).start()
    pipe(plain, tls)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

impl TlsFront {
    fn start(dir: &Path, backend: &GitServer) -> TlsFront {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = backend.base.rsplit(':').next().unwrap().to_owned();
        let mut child = Command::new("python3")
            .args(["-c", TLS_PROXY])
            .arg(&cert)
            .arg(&key)
            .arg(&port)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the TLS proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = format!("https://127.0.0.1:{}", line.trim());
        TlsFront { child, base, cert }
    }
}

#[test]
fn an_https_upstream_with_a_token_is_pushed_pulled_and_imported() {
    let dir = scratch("upstream-https");
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("fulltour.git");
    git(&repos, &["init", "--quiet", "--bare", "fulltour.git"]);
    let git_server = GitServer::start(&repos);
    let tls = TlsFront::start(&dir, &git_server);
    let url = format!("{}/fulltour.git", tls.base);
    let token_file = write(&dir, "token", GIT_TOKEN);
    let cainfo = tls.cert.to_str().unwrap().to_owned();
    let server = Server::start_with(
        &dir.join("data"),
        &["--outbound-allow", "127.0.0.1"],
        &[("GIT_SSL_CAINFO", cainfo.as_str())],
        None,
    );
    let shipyard = repo_root().join("examples/fulltour/shipyard.yaml");
    let created = sluice_at(
        &server,
        &[
            "create",
            "project",
            "fulltour",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    let mut answers = Answers::default();
    let (status, body) = answers.put(&server, "qa", "notes.txt", "over TLS\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_file(&bare, "qa", "notes.txt").unwrap(),
        "over TLS\n"
    );
    commit_upstream(
        &bare,
        &dir.join("work"),
        "qa",
        "notes.txt",
        "changed upstream\n",
    );
    let (status, read) = answers.get(&server, "qa", "notes.txt");
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), "changed upstream\n");

    // `sluice import keptn` reads the https:// upstream with the token.
    let copied = sluice_env(
        &scratch("upstream-home"),
        &[
            ("SLUICE_ENDPOINT", &server.base),
            ("SLUICE_API_TOKEN", TOKEN),
            ("GIT_SSL_CAINFO", &cainfo),
        ],
        &[
            "import",
            "keptn",
            "--git-url",
            &url,
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
            "--project",
            "copy",
        ],
    );
    assert_eq!(copied.code, 0, "{}\n{}", copied.stdout, copied.stderr);
    assert!(!copied.stdout.contains(GIT_TOKEN) && !copied.stderr.contains(GIT_TOKEN));
    let (status, read) = answers.call(
        &server,
        "GET",
        "/api/resource-service/v1/project/copy/stage/qa/resource/notes.txt",
        None,
    );
    assert_eq!(status, 200, "{read}");
    assert_eq!(unb64(&read["resourceContent"]), "changed upstream\n");

    // Without trusting the certificate, the upstream is not reached (certificates are
    // always checked).
    drop(server);
    let untrusting = Server::start_with(
        &dir.join("data2"),
        &["--outbound-allow", "127.0.0.1"],
        &[],
        None,
    );
    let other = repos.join("other.git");
    git(&repos, &["init", "--quiet", "--bare", "other.git"]);
    let refused = sluice_at(
        &untrusting,
        &[
            "create",
            "project",
            "other",
            "--shipyard",
            shipyard.to_str().unwrap(),
            "--git-remote-url",
            &format!("{}/other.git", tls.base),
            "--git-user",
            GIT_USER,
            "--git-token-file",
            &token_file,
        ],
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("could not be reached"),
        "{}",
        refused.stderr
    );
    assert!(upstream_branches(&other).is_empty());
    for text in &answers.0 {
        assert!(!text.contains(GIT_TOKEN), "{text}");
    }
}
