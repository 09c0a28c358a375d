//! `sluice import keptn` against a real `sluice server`: Keptn upstream repositories built in
//! the test with `git` from the tutorial's files, in both of Keptn's layouts, read over
//! `file://`, a local path and `git://` (a `git daemon` on loopback).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;

use crate::server::Server;
use crate::{Run, repo_root, scratch, sluice_env, write};

/// Keptn's project metadata as its resource service writes it.
const PROJECT_METADATA: &str = "projectName: fulltour\ncreationTimestamp: 2023-05-02 09:11:41.5 +0000 UTC\nisUsingDirectoryStructure: false\n";
/// A service's metadata as Keptn writes it.
const SERVICE_METADATA: &str =
    "servicename: helloservice\ncreationtimestamp: 2023-05-02 09:12:03.1 +0000 UTC\n";
/// Bytes of a Helm chart archive (not UTF-8).
const CHART: &[u8] = &[0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x01, 0x80];
/// An SLO with an error sluice refuses (a criterion that is no comparison).
const INVALID_SLO: &str = "spec_version: \"1.0\"\nobjectives:\n  - sli: response_time_p95\n    pass:\n      - criteria:\n          - \"fast please\"\ntotal_score:\n  pass: \"90%\"\n";

fn example(path: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("examples").join(path)).expect("example file")
}

/// Runs `git` in `dir` and checks that it succeeded.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Keptn", "-c", "user.email=keptn@keptn.sh"])
        .args([
            "-c",
            "init.defaultBranch=master",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes files into the work tree and commits them.
fn commit(dir: &Path, files: &[(&str, &[u8])], message: &str) {
    for (path, content) in files {
        write(dir, path, content);
    }
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", message]);
}

/// The service files of a stage branch, with the service folder `prefix`.
fn service_files(prefix: &str, stage: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (format!("{prefix}metadata.yaml"), SERVICE_METADATA.into()),
        (format!("{prefix}slo.yaml"), example("fulltour/slo.yaml")),
        (
            format!("{prefix}job/config.yaml"),
            example("quickstart/job/config.yaml"),
        ),
        (format!("{prefix}helm/helloservice.tgz"), CHART.to_vec()),
    ];
    if stage == "production" {
        files.push((
            format!("{prefix}remediation.yaml"),
            example("fulltour/remediation.yaml"),
        ));
    }
    files
}

fn borrowed(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect()
}

/// The tutorial's project in Keptn 1.x's default layout: the shipyard and a webhook config on
/// `master`, a branch per stage made from it (as Keptn makes them), the Prometheus SLIs at
/// stage level and the service `helloservice` as a folder of each stage branch.
pub(crate) fn branch_layout_repository(dir: &Path) -> PathBuf {
    let repo = dir.join("keptn-upstream");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    commit(
        &repo,
        &[
            ("shipyard.yaml", &example("fulltour/shipyard.yaml")),
            ("metadata.yaml", PROJECT_METADATA.as_bytes()),
        ],
        "initialized project",
    );
    for stage in ["qa", "production"] {
        git(&repo, &["checkout", "--quiet", "-b", stage, "master"]);
        let mut files = service_files("helloservice/", stage);
        files.push((
            "prometheus/sli.yaml".into(),
            example("fulltour/prometheus/sli.yaml"),
        ));
        commit(&repo, &borrowed(&files), "Added service: helloservice");
    }
    git(&repo, &["checkout", "--quiet", "master"]);
    commit(
        &repo,
        &[(
            "webhook/webhook.yaml",
            b"apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nspec:\n  webhooks:\n    - type: sh.keptn.event.mytask.triggered\n      subscriptionID: s1\n      requests:\n        - url: https://example.com/hook\n          method: POST\n",
        )],
        "Added resource webhook/webhook.yaml",
    );
    repo
}

/// Runs the binary logged in to `server`.
fn sluice_at(server: &Server, args: &[&str]) -> Run {
    let home = scratch("import-home");
    sluice_env(
        &home,
        &[
            ("SLUICE_ENDPOINT", &server.base),
            ("SLUICE_API_TOKEN", crate::server::TOKEN),
        ],
        args,
    )
}

fn import(server: &Server, url: &str, extra: &[&str]) -> Run {
    let mut args = vec!["import", "keptn", "--git-url", url];
    args.extend_from_slice(extra);
    sluice_at(server, &args)
}

fn level_path(level: &str) -> String {
    let mut p = "/api/resource-service/v1/project/fulltour".to_owned();
    if !level.is_empty() {
        let (stage, service) = level.split_once('/').unwrap_or((level, ""));
        p.push_str(&format!("/stage/{stage}"));
        if !service.is_empty() {
            p.push_str(&format!("/service/{service}"));
        }
    }
    p
}

/// A file's content in the server (`level` is "", "STAGE" or "STAGE/SERVICE"), or `None`.
fn resource(server: &Server, level: &str, uri: &str) -> Option<Vec<u8>> {
    let path = format!("{}/resource/{}", level_path(level), uri.replace('/', "%2F"));
    let a = server.call("GET", &path, None);
    if a.status == 404 {
        return None;
    }
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    let content = a.json()["resourceContent"].as_str().unwrap().to_owned();
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(content)
            .unwrap(),
    )
}

/// The commit the project's repository is at (changes with every write).
fn head_commit(server: &Server) -> String {
    let a = server.call("GET", &format!("{}/resource", level_path("")), None);
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["resources"][0]["metadata"]["version"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Stage and service names of the project, as `stage/service` (and `stage/` for each stage).
fn stages_and_services(server: &Server) -> Vec<String> {
    let a = server.call("GET", "/api/controlPlane/v1/project/fulltour", None);
    assert_eq!(a.status, 200, "{}", a.body);
    let mut out = Vec::new();
    for stage in a.json()["stages"].as_array().unwrap() {
        let name = stage["stageName"].as_str().unwrap();
        out.push(format!("{name}/"));
        for svc in stage["services"].as_array().unwrap_or(&Vec::new()) {
            out.push(format!("{name}/{}", svc["serviceName"].as_str().unwrap()));
        }
    }
    out
}

/// Keptn's bookkeeping is not imported: the `metadata.yaml` at `level` is the one the server
/// wrote when it created the level, not the repository's (whose timestamps are from 2023).
fn assert_own_metadata(server: &Server, level: &str) {
    if let Some(stored) = resource(server, level, "metadata.yaml") {
        let text = String::from_utf8(stored).unwrap();
        assert!(!text.contains("2023-05-02"), "{level}: {text}");
    }
}

fn check_tutorial_project(server: &Server) {
    assert_eq!(
        stages_and_services(server),
        [
            "qa/",
            "qa/helloservice",
            "production/",
            "production/helloservice"
        ]
    );
    assert_eq!(
        resource(server, "", "shipyard.yaml").unwrap(),
        example("fulltour/shipyard.yaml")
    );
    assert!(resource(server, "", "webhook/webhook.yaml").is_some());
    assert_own_metadata(server, "");
    for stage in ["qa", "production"] {
        assert_eq!(
            resource(server, stage, "prometheus/sli.yaml").unwrap(),
            example("fulltour/prometheus/sli.yaml")
        );
        assert_eq!(resource(server, stage, "shipyard.yaml"), None);
        assert_own_metadata(server, stage);
        let service = format!("{stage}/helloservice");
        for (path, content) in service_files("", stage) {
            let stored = resource(server, &service, &path);
            if path == "metadata.yaml" {
                assert_own_metadata(server, &service);
            } else {
                assert_eq!(
                    stored.as_deref(),
                    Some(content.as_slice()),
                    "{service}/{path}"
                );
            }
        }
    }
}

#[test]
fn a_branch_per_stage_project_is_imported_once_and_updated_on_change() {
    let dir = scratch("import-branches");
    let repo = branch_layout_repository(&dir);
    let server = Server::start(&dir.join("data"));
    let url = format!("file://{}", repo.display());

    let first = import(&server, &url, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("Keptn layout one branch per stage, default branch master"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("production:helloservice/metadata.yaml: Keptn's service metadata"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("12 created, 0 updated, 0 unchanged, 0 refused"),
        "{}",
        first.stdout
    );
    check_tutorial_project(&server);

    // Again, from a local path this time: nothing changes, not even a commit.
    let before = head_commit(&server);
    let again = import(&server, repo.to_str().unwrap(), &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("0 created, 0 updated, 12 unchanged, 0 refused"),
        "{}",
        again.stdout
    );
    assert_eq!(head_commit(&server), before);

    // A change upstream: the dry run shows it and changes nothing, the import updates it.
    git(&repo, &["checkout", "--quiet", "production"]);
    let stricter = String::from_utf8(example("fulltour/slo.yaml"))
        .unwrap()
        .replace("pass: \"90%\"", "pass: \"95%\"");
    assert_ne!(stricter.as_bytes(), example("fulltour/slo.yaml"));
    commit(
        &repo,
        &[("helloservice/slo.yaml", stricter.as_bytes())],
        "stricter production gate",
    );
    git(&repo, &["checkout", "--quiet", "master"]);
    let plan = import(&server, &url, &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("  update    production/helloservice: slo.yaml"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("0 would be created, 1 would be updated, 11 unchanged"),
        "{}",
        plan.stdout
    );
    assert_eq!(head_commit(&server), before);
    let update = import(&server, &url, &[]);
    assert_eq!(update.code, 0, "{}\n{}", update.stdout, update.stderr);
    assert!(
        update
            .stdout
            .contains("  updated   production/helloservice: slo.yaml"),
        "{}",
        update.stdout
    );
    assert_eq!(
        resource(&server, "production/helloservice", "slo.yaml").unwrap(),
        stricter.as_bytes()
    );
    assert_eq!(
        resource(&server, "qa/helloservice", "slo.yaml").unwrap(),
        example("fulltour/slo.yaml")
    );
}

#[test]
fn a_dry_run_into_an_empty_server_creates_nothing() {
    let dir = scratch("import-dry-run");
    let repo = branch_layout_repository(&dir);
    let server = Server::start(&dir.join("data"));
    let plan = import(&server, repo.to_str().unwrap(), &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("Plan (dry run"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("  create    project fulltour (shipyard.yaml; stages qa, production)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("  create    qa/helloservice: helm/helloservice.tgz"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("12 would be created"),
        "{}",
        plan.stdout
    );
    let a = server.call("GET", "/api/controlPlane/v1/project/fulltour", None);
    assert_eq!(a.status, 404, "{}", a.body);

    // --project gives the project another name than Keptn's metadata.yaml.
    let renamed = import(
        &server,
        repo.to_str().unwrap(),
        &["--dry-run", "--project", "shop"],
    );
    assert_eq!(renamed.code, 0, "{}\n{}", renamed.stdout, renamed.stderr);
    assert!(
        renamed
            .stdout
            .contains("  create    project shop (shipyard.yaml"),
        "{}",
        renamed.stdout
    );
    let invalid = import(
        &server,
        repo.to_str().unwrap(),
        &["--dry-run", "--project", "No_Such"],
    );
    assert_eq!(invalid.code, 2, "{}\n{}", invalid.stdout, invalid.stderr);
}

/// The directory layout, with an invalid SLO for one stage and a project name of our own.
#[test]
fn a_directory_layout_project_is_imported_and_a_refused_file_is_reported() {
    let dir = scratch("import-directories");
    let repo = dir.join("upstream");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("shipyard.yaml".into(), example("fulltour/shipyard.yaml")),
        (
            "metadata.yaml".into(),
            PROJECT_METADATA.replace("false", "true").into_bytes(),
        ),
    ];
    for stage in ["qa", "production"] {
        files.push((
            format!(".keptn-stages/{stage}/metadata.yaml"),
            format!("stagename: {stage}\n").into_bytes(),
        ));
        files.push((
            format!(".keptn-stages/{stage}/prometheus/sli.yaml"),
            example("fulltour/prometheus/sli.yaml"),
        ));
        files.extend(service_files(
            &format!(".keptn-stages/{stage}/helloservice/"),
            stage,
        ));
    }
    files.push((
        ".keptn-stages/qa/helloservice/slo.yaml".into(),
        INVALID_SLO.into(),
    ));
    commit(&repo, &borrowed(&files), "the project");

    let server = Server::start(&dir.join("data"));
    let run = import(
        &server,
        &format!("file://{}", repo.display()),
        &["--project", "fulltour"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Keptn layout directories (.keptn-stages/)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(
            "error: qa/helloservice: slo.yaml (master:.keptn-stages/qa/helloservice/slo.yaml)"
        ),
        "{}",
        run.stderr
    );
    // The server's own diagnostic, positioned in the file, as for any upload.
    assert!(
        run.stderr
            .contains("slo.yaml:6:13: error: objectives[0].pass[0].criteria[0]")
            && run.stderr.contains("fast please"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("10 created, 0 updated, 0 unchanged, 1 refused"),
        "{}",
        run.stdout
    );
    assert_eq!(resource(&server, "qa/helloservice", "slo.yaml"), None);
    assert_eq!(
        resource(&server, "production/helloservice", "slo.yaml").unwrap(),
        example("fulltour/slo.yaml")
    );
    assert_eq!(
        resource(&server, "qa/helloservice", "helm/helloservice.tgz").unwrap(),
        CHART
    );
    assert_eq!(
        resource(&server, "qa", "prometheus/sli.yaml").unwrap(),
        example("fulltour/prometheus/sli.yaml")
    );
    assert_own_metadata(&server, "qa");

    // Again: what was imported is kept, the refused file is refused again.
    let again = import(
        &server,
        &format!("file://{}", repo.display()),
        &["--project", "fulltour"],
    );
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("0 created, 0 updated, 10 unchanged, 1 refused"),
        "{}",
        again.stdout
    );

    // Fixed upstream, the next run brings in just that file.
    commit(
        &repo,
        &[(
            ".keptn-stages/qa/helloservice/slo.yaml",
            &example("fulltour/slo.yaml"),
        )],
        "a valid gate for qa",
    );
    let fixed = import(
        &server,
        &format!("file://{}", repo.display()),
        &["--project", "fulltour"],
    );
    assert_eq!(fixed.code, 0, "{}\n{}", fixed.stdout, fixed.stderr);
    assert!(
        fixed
            .stdout
            .contains("1 created, 0 updated, 10 unchanged, 0 refused"),
        "{}",
        fixed.stdout
    );
    assert_eq!(
        resource(&server, "qa/helloservice", "slo.yaml").unwrap(),
        example("fulltour/slo.yaml")
    );
}

#[test]
fn a_repository_that_is_no_keptn_project_is_refused() {
    let dir = scratch("import-not-keptn");
    let repo = dir.join("upstream");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    commit(&repo, &[("README.md", b"hello")], "readme");
    let server = Server::start(&dir.join("data"));
    let run = import(&server, repo.to_str().unwrap(), &["--project", "x"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("has no shipyard.yaml"),
        "{}",
        run.stderr
    );
    let missing = import(&server, dir.join("nothing").to_str().unwrap(), &[]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("cannot read the repository"),
        "{}",
        missing.stderr
    );
}

/// A `git daemon` serving a directory on a free loopback port.
struct GitDaemon {
    child: Child,
    port: u16,
}

impl GitDaemon {
    fn start(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `git daemon` would run `git-daemon` as a child of its own, which killing `git`
        // leaves behind: start the daemon itself, so that dropping this kills it.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("run git --exec-path");
        let exec_path = String::from_utf8(exec_path.stdout).unwrap();
        let mut child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--verbose",
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start git daemon");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        loop {
            let line = lines
                .next()
                .expect("git daemon said it is ready")
                .expect("read git daemon's output");
            if line.contains("Ready to rumble") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        GitDaemon { child, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_project_is_read_from_a_git_server_on_loopback() {
    let dir = scratch("import-git-daemon");
    branch_layout_repository(&dir);
    let daemon = GitDaemon::start(&dir);
    let server = Server::start(&dir.join("data"));
    let url = format!("git://127.0.0.1:{}/keptn-upstream", daemon.port);
    let run = import(&server, &url, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    check_tutorial_project(&server);
}

/// `(path, blob id)` of every file on branch `main` of a sluice project repository, and the
/// paths of its `metadata.yaml` files (the server's own bookkeeping, with creation times).
fn repository_files(repo: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let out = Command::new("git")
        .args(["--git-dir", repo.to_str().unwrap(), "ls-tree", "-r", "main"])
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = Vec::new();
    let mut metadata = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (meta, path) = line.split_once('\t').unwrap();
        let id = meta.split_whitespace().nth(2).unwrap();
        if path == "metadata.yaml" || path.ends_with("/metadata.yaml") {
            metadata.push(path.to_owned());
        } else {
            files.push((path.to_owned(), id.to_owned()));
        }
    }
    (files, metadata)
}

#[test]
fn the_seed_tutorials_keptn_project_imports_as_exactly_the_quickstarts_project() {
    let dir = scratch("import-quickstart");
    // The quickstart's project, set up and left in its data directory.
    let quickstart = dir.join("quickstart");
    let setup = crate::sluice(&[
        "quickstart",
        "--data-dir",
        quickstart.to_str().unwrap(),
        "--setup-only",
    ]);
    assert_eq!(setup.code, 0, "{}\n{}", setup.stdout, setup.stderr);

    // The tutorial's project as Keptn keeps it: the shipyard on master, a branch per stage
    // with the service's SLO and job config, as `keptn add-resource` put them.
    let repo = dir.join("keptn-upstream");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    commit(
        &repo,
        &[
            ("shipyard.yaml", &example("quickstart/shipyard.yaml")),
            ("metadata.yaml", PROJECT_METADATA.as_bytes()),
        ],
        "initialized project",
    );
    for stage in ["qa", "production"] {
        git(&repo, &["checkout", "--quiet", "-b", stage, "master"]);
        commit(
            &repo,
            &[
                ("helloservice/metadata.yaml", SERVICE_METADATA.as_bytes()),
                ("helloservice/slo.yaml", &example("quickstart/slo.yaml")),
                (
                    "helloservice/job/config.yaml",
                    &example("quickstart/job/config.yaml"),
                ),
            ],
            "Added service: helloservice",
        );
    }
    git(&repo, &["checkout", "--quiet", "master"]);
    let server = Server::start(&dir.join("data"));
    let imported = import(&server, repo.to_str().unwrap(), &[]);
    assert_eq!(imported.code, 0, "{}\n{}", imported.stdout, imported.stderr);
    drop(server);

    // Every file at every level is the same, byte for byte; the same levels exist.
    let (ours, our_levels) = repository_files(&dir.join("data/projects/fulltour.git"));
    let (theirs, their_levels) = repository_files(&quickstart.join("projects/fulltour.git"));
    assert_eq!(ours, theirs);
    assert_eq!(our_levels, their_levels);
    assert!(
        ours.iter()
            .any(|(p, _)| p == ".keptn-stages/production/helloservice/slo.yaml")
    );
}
