//! Store-level tests: whole operations on real repositories in a temporary directory.

use std::process::Command;
use std::sync::Arc;

use crate::{
    DirMemo, Entity, PageRequest, ResourceError, ResourceStore, Scope, StoreConfig, TestDir, Upload,
};

const SHIPYARD: &[u8] = b"apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\n";

/// A store in a fresh directory with project `sockshop` (stages dev, qa) and service `carts`.
fn store(name: &str) -> (TestDir, ResourceStore) {
    let dir = TestDir::new(name);
    let store = ResourceStore::open(StoreConfig::new(dir.path())).expect("open");
    store
        .create_project("sockshop", &["dev", "qa"], SHIPYARD)
        .expect("create project");
    store
        .create_service("sockshop", "carts")
        .expect("create service");
    (dir, store)
}

fn put(store: &ResourceStore, scope: Scope<'_>, uri: &str, content: &[u8]) -> crate::CommitId {
    store
        .put_resources(scope, &[Upload { uri, content }])
        .unwrap_or_else(|e| panic!("put {uri}: {e}"))
}

fn read(store: &ResourceStore, scope: Scope<'_>, uri: &str, at: Option<&str>) -> Vec<u8> {
    store
        .get_resource(scope, uri, at)
        .unwrap_or_else(|e| panic!("get {uri}: {e}"))
        .content
}

fn list_all(store: &ResourceStore, scope: Scope<'_>, at: Option<&str>) -> Vec<String> {
    store
        .list_resources(
            scope,
            at,
            PageRequest {
                page_size: 1000,
                next_page_key: None,
            },
        )
        .expect("list")
        .uris
}

#[test]
fn project_stage_and_service_lifecycle() {
    let (_dir, store) = store("lifecycle");
    let project = Scope::project("sockshop");
    let dev = Scope::stage("sockshop", "dev");
    let carts_qa = Scope::service("sockshop", "qa", "carts");

    assert_eq!(read(&store, project, "shipyard.yaml", None), SHIPYARD);
    assert_eq!(store.stages("sockshop").expect("stages"), ["dev", "qa"]);
    assert_eq!(store.projects().expect("projects"), ["sockshop"]);

    // One level each, and several files in one commit.
    let c1 = put(&store, project, "prometheus/sli.yaml", b"indicators: {}\n");
    let c2 = put(&store, dev, "/slo.yaml", b"objectives: []\n");
    let before = store.project_head("sockshop").expect("head");
    let c3 = store
        .put_resources(
            carts_qa,
            &[
                Upload {
                    uri: "slo.yaml",
                    content: b"v1",
                },
                Upload {
                    uri: "job/config.yaml",
                    content: b"apiVersion: v2\n",
                },
            ],
        )
        .expect("put two");
    assert_ne!(c1, c2);
    assert_ne!(c2, c3);
    assert_eq!(before, c2);
    assert_eq!(store.project_head("sockshop").expect("head"), c3);
    assert_eq!(store.stage_head("sockshop", "qa").expect("pin"), c3);

    // Update, then read latest and at the older commit.
    let c4 = put(&store, carts_qa, "slo.yaml", b"v2");
    assert_eq!(read(&store, carts_qa, "slo.yaml", None), b"v2");
    assert_eq!(read(&store, carts_qa, "slo.yaml", Some(c3.as_str())), b"v1");
    assert_eq!(
        read(&store, carts_qa, "slo.yaml", Some(&c3.as_str()[..8])),
        b"v1"
    );
    let got = store
        .get_resource(carts_qa, "/slo.yaml", None)
        .expect("get");
    assert_eq!(got.commit, c4);
    assert_eq!(got.uri.as_str(), "slo.yaml");
    assert!(matches!(
        store.get_resource(carts_qa, "slo.yaml", Some(c2.as_str())),
        Err(ResourceError::ResourceNotFound)
    ));
    assert!(matches!(
        store.get_resource(carts_qa, "slo.yaml", Some("0123456789abcdef")),
        Err(ResourceError::CommitNotFound(_))
    ));
    assert!(matches!(
        store.get_resource(carts_qa, "slo.yaml", Some("HEAD~1")),
        Err(ResourceError::CommitNotFound(_))
    ));
    // Keptn's quirk value for "no commit".
    assert_eq!(read(&store, carts_qa, "slo.yaml", Some("\"\"")), b"v2");

    // Levels do not leak into each other.
    assert!(matches!(
        store.get_resource(Scope::service("sockshop", "dev", "carts"), "slo.yaml", None),
        Err(ResourceError::ResourceNotFound)
    ));
    assert_eq!(
        list_all(&store, project, None),
        ["metadata.yaml", "prometheus/sli.yaml", "shipyard.yaml"]
    );
    assert_eq!(
        list_all(&store, carts_qa, None),
        ["job/config.yaml", "metadata.yaml", "slo.yaml"]
    );
    // The stage level lists its services' files too, as Keptn's recursive walk did.
    assert_eq!(
        list_all(&store, Scope::stage("sockshop", "qa"), None),
        [
            "carts/job/config.yaml",
            "carts/metadata.yaml",
            "carts/slo.yaml",
            "metadata.yaml"
        ]
    );
    assert_eq!(
        list_all(&store, carts_qa, Some(c3.as_str())),
        ["job/config.yaml", "metadata.yaml", "slo.yaml"]
    );

    // History of one file.
    let history = store.history(carts_qa, "slo.yaml", 10).expect("history");
    let ids: Vec<_> = history.iter().map(|h| h.commit.clone()).collect();
    assert_eq!(ids, [c4.clone(), c3.clone()]);
    assert_eq!(history[0].author_name, "sluice");
    assert_eq!(history[0].author_email, "sluice@localhost");

    // Delete, then not found; the older commit still has it.
    let c5 = store.delete_resource(carts_qa, "slo.yaml").expect("delete");
    assert!(matches!(
        store.get_resource(carts_qa, "slo.yaml", None),
        Err(ResourceError::ResourceNotFound)
    ));
    assert_eq!(read(&store, carts_qa, "slo.yaml", Some(c4.as_str())), b"v2");
    assert!(matches!(
        store.delete_resource(carts_qa, "slo.yaml"),
        Err(ResourceError::ResourceNotFound)
    ));
    let history = store.history(carts_qa, "slo.yaml", 10).expect("history");
    assert_eq!(history.len(), 3);
    assert!(history[0].deleted);
    assert_eq!(history[0].commit, c5);
    assert_eq!(
        store
            .history(carts_qa, "slo.yaml", 1)
            .expect("history")
            .len(),
        1
    );

    // Deleting the last file of a directory removes it, but never a service's own directory.
    store
        .delete_resource(carts_qa, "job/config.yaml")
        .expect("delete");
    assert_eq!(list_all(&store, carts_qa, None), ["metadata.yaml"]);
    assert!(matches!(
        store.delete_resource(carts_qa, "metadata.yaml"),
        Err(ResourceError::InvalidResourceUri(_))
    ));
    assert!(matches!(
        store.delete_resource(Scope::stage("sockshop", "dev"), "job"),
        Err(ResourceError::ResourceNotFound)
    ));

    // Services: delete from every stage, then not found at the head but readable at c4.
    store
        .delete_service("sockshop", "carts")
        .expect("delete service");
    assert!(matches!(
        store.get_resource(carts_qa, "metadata.yaml", None),
        Err(ResourceError::ServiceNotFound)
    ));
    assert!(matches!(
        store.put_resources(
            carts_qa,
            &[Upload {
                uri: "x",
                content: b""
            }]
        ),
        Err(ResourceError::ServiceNotFound)
    ));
    assert_eq!(read(&store, carts_qa, "slo.yaml", Some(c4.as_str())), b"v2");
    assert!(matches!(
        store.delete_service("sockshop", "carts"),
        Err(ResourceError::ServiceNotFound)
    ));

    // Project deletion.
    store.delete_project("sockshop").expect("delete project");
    assert!(!store.project_exists("sockshop"));
    assert!(store.projects().expect("projects").is_empty());
    for err in [
        store
            .get_resource(project, "shipyard.yaml", None)
            .map(|_| ()),
        store
            .list_resources(project, None, PageRequest::default())
            .map(|_| ()),
        store.stage_head("sockshop", "dev").map(|_| ()),
        store.delete_project("sockshop"),
        store.create_service("sockshop", "x").map(|_| ()),
    ] {
        assert!(
            matches!(err, Err(ResourceError::ProjectNotFound)),
            "{err:?}"
        );
    }
}

#[test]
fn creation_conflicts_and_not_found() {
    let (_dir, store) = store("conflicts");
    assert!(matches!(
        store.create_project("sockshop", &["dev"], SHIPYARD),
        Err(ResourceError::AlreadyExists(Entity::Project))
    ));
    assert!(matches!(
        store.create_service("sockshop", "carts"),
        Err(ResourceError::AlreadyExists(Entity::Service))
    ));
    assert!(matches!(
        store.create_stage("sockshop", "dev"),
        Err(ResourceError::AlreadyExists(Entity::Stage))
    ));
    // A new stage, then the service is created where it is missing only.
    store.create_stage("sockshop", "prod").expect("stage");
    let head = store.project_head("sockshop").expect("head");
    store
        .create_service("sockshop", "carts")
        .expect("fill prod");
    assert_eq!(
        list_all(&store, Scope::service("sockshop", "prod", "carts"), None),
        ["metadata.yaml"]
    );
    let dev_meta = store
        .get_resource(
            Scope::service("sockshop", "dev", "carts"),
            "metadata.yaml",
            None,
        )
        .expect("dev marker");
    let dev_meta_before = store
        .get_resource(
            Scope::service("sockshop", "dev", "carts"),
            "metadata.yaml",
            Some(head.as_str()),
        )
        .expect("dev marker before");
    assert_eq!(dev_meta.content, dev_meta_before.content);

    assert!(matches!(
        store.stage_head("sockshop", "staging"),
        Err(ResourceError::StageNotFound)
    ));
    assert!(matches!(
        store.get_resource(Scope::stage("sockshop", "staging"), "x", None),
        Err(ResourceError::StageNotFound)
    ));
    assert!(matches!(
        store.get_resource(Scope::service("sockshop", "dev", "orders"), "x", None),
        Err(ResourceError::ServiceNotFound)
    ));
    assert!(matches!(
        store.get_resource(Scope::project("nope"), "x", None),
        Err(ResourceError::ProjectNotFound)
    ));
    for bad in [
        store.create_project("Bad", &["dev"], SHIPYARD).map(|_| ()),
        store
            .create_project("ok", &["dev", "dev"], SHIPYARD)
            .map(|_| ()),
        store.create_project("ok", &["Dev"], SHIPYARD).map(|_| ()),
        store.create_service("sockshop", "a/b").map(|_| ()),
        store.create_stage("sockshop", "-x").map(|_| ()),
    ] {
        assert!(matches!(bad, Err(ResourceError::InvalidName(_))), "{bad:?}");
    }
    assert!(!store.project_exists("ok"));

    // A service cannot be created in a project without stages.
    store
        .create_project("empty", &[], SHIPYARD)
        .expect("create");
    assert!(matches!(
        store.create_service("empty", "carts"),
        Err(ResourceError::StageNotFound)
    ));
}

#[test]
fn metadata_files_have_keptns_shape() {
    let (_dir, store) = store("metadata");
    let text =
        |scope| String::from_utf8(read(&store, scope, "metadata.yaml", None)).expect("utf-8");
    let project = text(Scope::project("sockshop"));
    assert!(
        project.starts_with("projectName: sockshop\ncreationTimestamp: 20"),
        "{project}"
    );
    assert!(
        project.ends_with(" +0000 UTC\nisUsingDirectoryStructure: true\n"),
        "{project}"
    );
    assert!(text(Scope::stage("sockshop", "qa")).starts_with("stagename: qa\n"));
    assert!(text(Scope::service("sockshop", "qa", "carts")).starts_with("servicename: carts\n"));
}

#[test]
fn paging_follows_keptns_offsets() {
    let (_dir, store) = store("paging");
    let scope = Scope::service("sockshop", "dev", "carts");
    let names: Vec<String> = (0..7).map(|i| format!("f{i}.yaml")).collect();
    let uploads: Vec<Upload<'_>> = names
        .iter()
        .map(|n| Upload {
            uri: n,
            content: b"x",
        })
        .collect();
    store.put_resources(scope, &uploads).expect("put");
    // 7 files + metadata.yaml = 8, pages of 3.
    let mut key: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store
            .list_resources(
                scope,
                None,
                PageRequest {
                    page_size: 3,
                    next_page_key: key.as_deref(),
                },
            )
            .expect("page");
        assert_eq!(page.total_count, 8);
        assert!(page.uris.len() <= 3);
        seen.extend(page.uris.clone());
        pages += 1;
        match page.next_page_key {
            Some(k) => key = Some(k),
            None => {
                assert_eq!(page.wire_next_page_key(), "0");
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8);
    assert_eq!(seen, list_all(&store, scope, None));
    let first = store
        .list_resources(
            scope,
            None,
            PageRequest {
                page_size: 3,
                next_page_key: None,
            },
        )
        .expect("first");
    assert_eq!(first.wire_next_page_key(), "3");
    // Past the end: empty page, no next key.
    let past = store
        .list_resources(
            scope,
            None,
            PageRequest {
                page_size: 3,
                next_page_key: Some("100"),
            },
        )
        .expect("past");
    assert!(past.uris.is_empty());
    assert_eq!(past.next_page_key, None);
    assert!(matches!(
        store.list_resources(
            scope,
            None,
            PageRequest {
                page_size: 3,
                next_page_key: Some("x")
            }
        ),
        Err(ResourceError::InvalidPageKey(_))
    ));
    // Default page size.
    let default = store
        .list_resources(scope, None, PageRequest::default())
        .expect("default");
    assert_eq!(default.uris.len(), 8);
    assert_eq!(default.next_page_key, None);
}

#[test]
fn path_tricks_are_rejected_and_change_nothing() {
    let (dir, store) = store("tricks");
    let head = store.project_head("sockshop").expect("head");
    let project = Scope::project("sockshop");
    let service = Scope::service("sockshop", "dev", "carts");
    for uri in [
        "",
        "../x",
        "..",
        "a/../../b",
        "./x",
        "~/x",
        "a\\b",
        "a\0b",
        "a\u{1b}b",
        ".git/config",
        "x/.git/hooks/pre-commit",
        ".keptn-stages/dev/slo.yaml",
        "/.keptn-stages/dev/carts/slo.yaml",
        "//etc/passwd",
        "a//b",
        "a/",
    ] {
        for scope in [project, service] {
            let err = store.put_resources(scope, &[Upload { uri, content: b"x" }]);
            assert!(
                matches!(err, Err(ResourceError::InvalidResourceUri(_))),
                "{uri:?}: {err:?}"
            );
            assert!(matches!(
                store.get_resource(scope, uri, None),
                Err(ResourceError::InvalidResourceUri(_))
            ));
            assert!(matches!(
                store.delete_resource(scope, uri),
                Err(ResourceError::InvalidResourceUri(_))
            ));
        }
    }
    let long = "a".repeat(1025);
    assert!(matches!(
        store.put_resources(
            project,
            &[Upload {
                uri: &long,
                content: b"x"
            }]
        ),
        Err(ResourceError::InvalidResourceUri(_))
    ));
    // A bad file anywhere in a list rejects the whole list.
    let err = store.put_resources(
        project,
        &[
            Upload {
                uri: "good.yaml",
                content: b"x",
            },
            Upload {
                uri: "../bad.yaml",
                content: b"x",
            },
        ],
    );
    assert!(matches!(err, Err(ResourceError::InvalidResourceUri(_))));
    // A file where a directory is, or below a file: no commit either.
    let err = store.put_resources(
        Scope::stage("sockshop", "dev"),
        &[
            Upload {
                uri: "good.yaml",
                content: b"x",
            },
            Upload {
                uri: "carts",
                content: b"x",
            },
        ],
    );
    assert!(
        matches!(err, Err(ResourceError::InvalidResourceUri(_))),
        "{err:?}"
    );
    let err = store.put_resources(
        project,
        &[
            Upload {
                uri: "good.yaml",
                content: b"x",
            },
            Upload {
                uri: "shipyard.yaml/x",
                content: b"x",
            },
        ],
    );
    assert!(
        matches!(err, Err(ResourceError::InvalidResourceUri(_))),
        "{err:?}"
    );
    assert_eq!(store.project_head("sockshop").expect("head"), head);
    assert!(matches!(
        store.get_resource(project, "good.yaml", None),
        Err(ResourceError::ResourceNotFound)
    ));
    // Nothing escaped the repository directory.
    assert!(!dir.path().join("bad.yaml").exists());
    assert!(!dir.path().join("projects").join("bad.yaml").exists());
}

#[test]
fn size_cap_is_enforced_per_file_and_per_write() {
    let dir = TestDir::new("size");
    let mut config = StoreConfig::new(dir.path());
    config.max_resource_bytes = 10;
    let store = ResourceStore::open(config).expect("open");
    assert!(matches!(
        store.create_project("p", &["dev"], &[b'x'; 11]),
        Err(ResourceError::TooLarge {
            size: 11,
            limit: 10
        })
    ));
    assert!(!store.project_exists("p"));
    store
        .create_project("p", &["dev"], b"0123456789")
        .expect("at the limit");
    let scope = Scope::project("p");
    let head = store.project_head("p").expect("head");
    assert!(matches!(
        store.put_resources(
            scope,
            &[Upload {
                uri: "a",
                content: &[0; 11]
            }]
        ),
        Err(ResourceError::TooLarge { .. })
    ));
    assert!(matches!(
        store.put_resources(
            scope,
            &[
                Upload {
                    uri: "a",
                    content: &[0; 6]
                },
                Upload {
                    uri: "b",
                    content: &[0; 6]
                },
            ]
        ),
        Err(ResourceError::TooLarge {
            size: 12,
            limit: 10
        })
    ));
    assert_eq!(store.project_head("p").expect("head"), head);
    assert_eq!(crate::DEFAULT_MAX_RESOURCE_BYTES, 5 * 1024 * 1024);
}

#[test]
fn binary_content_round_trips_byte_exact() {
    let (_dir, store) = store("binary");
    let scope = Scope::service("sockshop", "qa", "carts");
    let content: Vec<u8> = (0..=255u8)
        .cycle()
        .take(70_000)
        .chain([0, 0, 0xff, b'\r', b'\n'])
        .collect();
    let commit = put(&store, scope, "charts/carts.tgz", &content);
    let got = store
        .get_resource(scope, "charts/carts.tgz", None)
        .expect("get");
    assert_eq!(got.content, content);
    assert_eq!(got.commit, commit);
    // CRLF text is not normalised either.
    put(&store, scope, "crlf.txt", b"a\r\nb\r\n");
    assert_eq!(read(&store, scope, "crlf.txt", None), b"a\r\nb\r\n");
    // Empty files are files.
    put(&store, scope, "empty", b"");
    assert_eq!(read(&store, scope, "empty", None), b"");
}

#[test]
fn unchanged_writes_make_no_commit() {
    let (_dir, store) = store("noop");
    let scope = Scope::project("sockshop");
    let c1 = put(&store, scope, "a.yaml", b"same");
    let c2 = put(&store, scope, "a.yaml", b"same");
    assert_eq!(c1, c2);
    assert_eq!(store.put_resources(scope, &[]).expect("empty"), c1);
    // A later upload of the same URI in one list wins.
    store
        .put_resources(
            scope,
            &[
                Upload {
                    uri: "b",
                    content: b"1",
                },
                Upload {
                    uri: "/b",
                    content: b"2",
                },
            ],
        )
        .expect("put");
    assert_eq!(read(&store, scope, "b", None), b"2");
}

#[test]
fn concurrent_writers_all_land_as_separate_commits() {
    let (_dir, store) = store("concurrent");
    let store = Arc::new(store);
    let start = store.project_head("sockshop").expect("head");
    let threads = 6;
    let per_thread = 5;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..per_thread {
                    let stage = if t % 2 == 0 { "dev" } else { "qa" };
                    let scope = Scope::service("sockshop", stage, "carts");
                    let uri = format!("t{t}/f{i}.yaml");
                    let content = format!("{t}-{i}");
                    ids.push(
                        store
                            .put_resources(
                                scope,
                                &[Upload {
                                    uri: &uri,
                                    content: content.as_bytes(),
                                }],
                            )
                            .expect("concurrent put"),
                    );
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.extend(h.join().expect("thread"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        threads * per_thread,
        "every write made its own commit"
    );
    for t in 0..threads {
        let stage = if t % 2 == 0 { "dev" } else { "qa" };
        let scope = Scope::service("sockshop", stage, "carts");
        for i in 0..per_thread {
            let content = read(&store, scope, &format!("t{t}/f{i}.yaml"), None);
            assert_eq!(content, format!("{t}-{i}").as_bytes());
        }
    }
    // The history is linear: walking first parents from the head passes every commit.
    let repo = git2::Repository::open_bare(store.project_path("sockshop")).expect("open");
    let mut walk = repo.revwalk().expect("walk");
    walk.push_ref("refs/heads/main").expect("push");
    let walked: Vec<String> = walk.map(|id| id.expect("id").to_string()).collect();
    assert_eq!(walked.len(), threads * per_thread + 2);
    let start_pos = walked
        .iter()
        .position(|id| id == start.as_str())
        .expect("start");
    assert_eq!(start_pos, threads * per_thread);
    for id in &ids {
        assert!(walked.contains(&id.to_string()));
    }
}

#[test]
fn two_stores_on_one_directory_lose_no_write() {
    // Two stores have separate locks, like two processes: the compare-and-swap on the branch
    // and the retry keep every write.
    let (dir, first) = store("two-stores");
    let second = ResourceStore::open(StoreConfig::new(dir.path())).expect("second store");
    let stores = [Arc::new(first), Arc::new(second)];
    let per_thread = 8;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&stores[t % 2]);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let uri = format!("s{t}-{i}.yaml");
                    store
                        .put_resources(
                            Scope::project("sockshop"),
                            &[Upload {
                                uri: &uri,
                                content: b"x",
                            }],
                        )
                        .expect("put");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let files = list_all(&stores[0], Scope::project("sockshop"), None);
    assert_eq!(files.len(), 4 * per_thread + 2, "{files:?}");
    let repo = git2::Repository::open_bare(stores[0].project_path("sockshop")).expect("open");
    let mut walk = repo.revwalk().expect("walk");
    walk.push_ref("refs/heads/main").expect("push");
    assert_eq!(walk.count(), 4 * per_thread + 2);
}

#[test]
fn repository_is_readable_with_the_git_cli() {
    let git_works = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !git_works {
        println!("note: `git` is not on PATH; skipping the git CLI check");
        return;
    }
    let (dir, store) = store("cli");
    let scope = Scope::service("sockshop", "qa", "carts");
    let commit = put(&store, scope, "slo.yaml", b"spec_version: \"1.0\"\n");
    let repo = store.project_path("sockshop");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert_eq!(
        git(&["show", "main:.keptn-stages/qa/carts/slo.yaml"]),
        "spec_version: \"1.0\"\n"
    );
    let log = git(&["log", "--format=%H %an <%ae> %s"]);
    let first = log.lines().next().expect("a commit");
    assert_eq!(
        first,
        format!(
            "{commit} sluice <sluice@localhost> Updated resource: .keptn-stages/qa/carts/slo.yaml"
        )
    );
    assert_eq!(log.lines().count(), 3);
    assert_eq!(git(&["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "main");
    assert_eq!(git(&["rev-parse", "--is-bare-repository"]).trim(), "true");
    git(&["fsck", "--strict"]);
    // The default durability (a killed process loses nothing): no fsync per object.
    assert_eq!(git(&["config", "core.fsyncObjectFiles"]).trim(), "false");
    // Opened for power-loss durability, the repository fsyncs its objects from then on.
    let mut config = StoreConfig::new(dir.path());
    config.fsync = true;
    let durable = ResourceStore::open(config).expect("reopen");
    put(
        &durable,
        scope,
        "slo.yaml",
        b"spec_version: \"1.0\"\n# durable\n",
    );
    assert_eq!(git(&["config", "core.fsyncObjectFiles"]).trim(), "true");
    git(&["fsck", "--strict"]);
    // A clone has the files in a working tree.
    let clone = dir.path().join("clone");
    let out = Command::new("git")
        .arg("clone")
        .arg("-q")
        .arg(&repo)
        .arg(&clone)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir.path())
        .output()
        .expect("clone");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(clone.join(".keptn-stages/qa/carts/slo.yaml")).expect("file"),
        b"spec_version: \"1.0\"\n# durable\n"
    );
    assert_eq!(
        std::fs::read(clone.join("shipyard.yaml")).expect("file"),
        SHIPYARD
    );
}

#[test]
fn custom_author_is_used() {
    let dir = TestDir::new("author");
    let mut config = StoreConfig::new(dir.path());
    config.author_name = "keptn".to_owned();
    config.author_email = "keptn@keptn.sh".to_owned();
    let store = ResourceStore::open(config).expect("open");
    store
        .create_project("p", &["dev"], SHIPYARD)
        .expect("create");
    let history = store
        .history(Scope::project("p"), "shipyard.yaml", 5)
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].author_name, "keptn");
    assert_eq!(history[0].author_email, "keptn@keptn.sh");
    assert_eq!(history[0].message, "initialized project");
}

#[test]
fn invalid_author_is_refused_at_open() {
    let dir = TestDir::new("bad-author");
    let mut config = StoreConfig::new(dir.path());
    config.author_email = "a>b".to_owned();
    assert!(matches!(
        ResourceStore::open(config),
        Err(ResourceError::Git(_))
    ));
}

#[test]
fn leftovers_of_interrupted_operations_are_removed_at_open() {
    let dir = TestDir::new("leftovers");
    let projects = dir.path().join("projects");
    std::fs::create_dir_all(projects.join(".creating-p/objects")).expect("mkdir");
    std::fs::create_dir_all(projects.join(".deleting-q-1/objects")).expect("mkdir");
    let store = ResourceStore::open(StoreConfig::new(dir.path())).expect("open");
    assert!(!projects.join(".creating-p").exists());
    assert!(!projects.join(".deleting-q-1").exists());
    assert!(store.projects().expect("projects").is_empty());
    store
        .create_project("p", &["dev"], SHIPYARD)
        .expect("create after crash");
}

#[test]
fn heads_are_remembered_but_follow_writes_of_other_stores() {
    let (dir, first) = store("heads");
    let second = ResourceStore::open(StoreConfig::new(dir.path())).expect("second store");
    let before = first.stage_head("sockshop", "dev").expect("dev head");
    assert_eq!(first.stage_head("sockshop", "dev").unwrap(), before);
    assert!(matches!(
        first.stage_head("sockshop", "prod"),
        Err(ResourceError::StageNotFound)
    ));
    // Another store (another process) commits: the first one sees the new head at once.
    let theirs = put(&second, Scope::stage("sockshop", "dev"), "a.yaml", b"a: 1");
    assert_eq!(first.stage_head("sockshop", "dev").unwrap(), theirs);
    assert_eq!(first.project_head("sockshop").unwrap(), theirs);
    // And its own writes, including a new stage.
    second.create_stage("sockshop", "prod").expect("stage");
    let ours = put(&first, Scope::project("sockshop"), "b.yaml", b"b: 2");
    assert_eq!(first.stage_head("sockshop", "prod").unwrap(), ours);
    assert_eq!(second.project_head("sockshop").unwrap(), ours);
}

#[test]
fn one_file_at_every_level_in_one_pass() {
    let (_dir, store) = store("everywhere");
    store.create_service("sockshop", "orders").expect("service");
    put(&store, Scope::project("sockshop"), "job/config.yaml", b"p");
    put(
        &store,
        Scope::stage("sockshop", "qa"),
        "job/config.yaml",
        b"s",
    );
    let head = put(
        &store,
        Scope::service("sockshop", "dev", "orders"),
        "job/config.yaml",
        b"v",
    );
    put(&store, Scope::project("sockshop"), "job/config.yaml", b"p2");
    let files = store
        .find_everywhere("sockshop", "job/config.yaml", Some(head.as_str()))
        .expect("read");
    assert_eq!(files.commit, head);
    assert_eq!(files.project.as_deref(), Some(&b"p"[..]));
    assert_eq!(files.stages.len(), 1);
    assert_eq!(files.stages["qa"], b"s");
    assert_eq!(files.services.len(), 1);
    assert_eq!(
        files.services[&("dev".to_owned(), "orders".to_owned())],
        b"v"
    );
    let latest = store
        .find_everywhere("sockshop", "job/config.yaml", None)
        .expect("read");
    assert_eq!(latest.project.as_deref(), Some(&b"p2"[..]));
    assert!(matches!(
        store.find_everywhere("nope", "job/config.yaml", None),
        Err(ResourceError::ProjectNotFound)
    ));
}

#[test]
fn the_directory_memo_answers_as_a_fresh_read_at_every_commit() {
    let (_dir, store) = store("everywhere-memo");
    let mut memo = DirMemo::default();
    let same = |memo: &mut DirMemo, at: Option<&str>| {
        let remembered = store
            .find_everywhere_memo("sockshop", "job/config.yaml", at, memo)
            .expect("memo read");
        let fresh = store
            .find_everywhere("sockshop", "job/config.yaml", at)
            .expect("fresh read");
        assert_eq!(remembered, fresh);
        remembered
    };
    store.create_service("sockshop", "orders").expect("service");
    assert!(same(&mut memo, None).services.is_empty());
    // A config added to one service, then changed, then the service deleted: each commit
    // changes that service's directory, so the memo reads it again.
    let first = put(
        &store,
        Scope::service("sockshop", "dev", "orders"),
        "job/config.yaml",
        b"v1",
    );
    let files = same(&mut memo, None);
    assert_eq!(
        files.services[&("dev".to_owned(), "orders".to_owned())],
        b"v1"
    );
    put(
        &store,
        Scope::service("sockshop", "dev", "orders"),
        "job/config.yaml",
        b"v2",
    );
    store.create_service("sockshop", "users").expect("service");
    let files = same(&mut memo, None);
    assert_eq!(
        files.services[&("dev".to_owned(), "orders".to_owned())],
        b"v2"
    );
    assert_eq!(files.services.len(), 1);
    // An older commit read after newer ones.
    let old = same(&mut memo, Some(first.as_str()));
    assert_eq!(
        old.services[&("dev".to_owned(), "orders".to_owned())],
        b"v1"
    );
    store.delete_service("sockshop", "orders").expect("delete");
    assert!(same(&mut memo, None).services.is_empty());
    // Another file name: the memo starts afresh rather than answer for the wrong file.
    put(
        &store,
        Scope::service("sockshop", "dev", "carts"),
        "other.yaml",
        b"o",
    );
    let other = store
        .find_everywhere_memo("sockshop", "other.yaml", None, &mut memo)
        .expect("read");
    assert_eq!(
        other.services[&("dev".to_owned(), "carts".to_owned())],
        b"o"
    );
    assert!(same(&mut memo, None).services.is_empty());
}

/// Number of loose objects in a project's repository.
fn loose_objects(store: &ResourceStore, project: &str) -> usize {
    let objects = store.project_path(project).join("objects");
    std::fs::read_dir(objects)
        .expect("objects")
        .map(|d| d.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.len() == 2))
        .map(|p| std::fs::read_dir(p).expect("fan-out").count())
        .sum()
}

#[test]
fn many_files_upload_is_one_commit_writing_each_tree_once() {
    let (_dir, store) = store("many-files");
    let carts = Scope::service("sockshop", "qa", "carts");
    let before = store.project_head("sockshop").expect("head");
    let objects_before = loose_objects(&store, "sockshop");
    let names: Vec<String> = (0..crate::MAX_FILES_PER_WRITE)
        .map(|i| format!("chart/templates/f{i}.yaml"))
        .collect();
    let contents: Vec<String> = (0..names.len()).map(|i| format!("n: {i}\n")).collect();
    let uploads: Vec<Upload<'_>> = names
        .iter()
        .zip(&contents)
        .map(|(uri, c)| Upload {
            uri,
            content: c.as_bytes(),
        })
        .collect();
    let commit = store.put_resources(carts, &uploads).expect("put");
    let history = store
        .history(carts, "chart/templates/f0.yaml", 10)
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].commit, commit);
    assert_eq!(history[0].message, "Updated 1000 resources");
    // One commit on top of the previous head.
    let repo = git2::Repository::open_bare(store.project_path("sockshop")).expect("open");
    let c = repo
        .find_commit(git2::Oid::from_str(commit.as_str()).expect("oid"))
        .expect("commit");
    assert_eq!(c.parent_ids().collect::<Vec<_>>().len(), 1);
    assert_eq!(c.parent_id(0).expect("parent").to_string(), before.as_str());
    // Blobs, one tree per directory on the path (root, .keptn-stages, qa, carts, chart,
    // templates) and the commit: no tree rewritten per file.
    let written = loose_objects(&store, "sockshop") - objects_before;
    assert_eq!(written, names.len() + 6 + 1);
    assert_eq!(
        read(&store, carts, "chart/templates/f999.yaml", None),
        b"n: 999\n"
    );
}

#[test]
fn upload_above_the_file_cap_is_refused_and_writes_nothing() {
    let (_dir, store) = store("file-cap");
    let carts = Scope::service("sockshop", "qa", "carts");
    let before = store.project_head("sockshop").expect("head");
    let names: Vec<String> = (0..=crate::MAX_FILES_PER_WRITE)
        .map(|i| format!("f{i}"))
        .collect();
    let uploads: Vec<Upload<'_>> = names
        .iter()
        .map(|uri| Upload { uri, content: b"x" })
        .collect();
    let e = store.put_resources(carts, &uploads).expect_err("too many");
    assert!(
        matches!(
            e,
            ResourceError::TooManyFiles {
                count: 1001,
                limit: 1000
            }
        ),
        "{e}"
    );
    assert_eq!(store.project_head("sockshop").expect("head"), before);
}

#[test]
fn interrupted_store_commits_nothing() {
    let (_dir, store) = store("interrupt");
    let carts = Scope::service("sockshop", "qa", "carts");
    let before = store.project_head("sockshop").expect("head");
    store.interrupt();
    let e = store
        .put_resources(
            carts,
            &[Upload {
                uri: "a",
                content: b"x",
            }],
        )
        .expect_err("interrupted");
    assert!(matches!(e, ResourceError::Interrupted), "{e}");
    assert_eq!(store.project_head("sockshop").expect("head"), before);
    // Reads go on.
    assert_eq!(
        read(&store, Scope::project("sockshop"), "shipyard.yaml", None),
        SHIPYARD
    );
}
