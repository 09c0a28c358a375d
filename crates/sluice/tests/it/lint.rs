//! `sluice lint` on the bundled examples and on broken files.

use crate::{scratch, sluice, write};

#[test]
fn the_bundled_examples_are_clean() {
    let run = sluice(&["lint", "--strict", "examples/"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0 errors, 0 warnings"),
        "{}",
        run.stdout
    );
}

#[test]
fn every_problem_is_reported_with_file_line_column_and_path() {
    let dir = scratch("lint-shipyard");
    let file = write(
        &dir,
        "shipyard.yaml",
        "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: demo\nspec:\n  stages:\n    - name: qa\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n    - name: Production_1\n      sequences: []\n",
    );
    let run = sluice(&["lint", &file]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let expected = format!("{file}:12:13: error: spec.stages[1].name:");
    assert!(
        run.stdout.contains(&expected),
        "expected `{expected}` in:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("hint:"), "{}", run.stdout);
}

#[test]
fn warnings_fail_only_in_strict_mode() {
    let dir = scratch("lint-strict");
    let file = write(
        &dir,
        "slo.yaml",
        "spec_version: '1.0'\ncomparision:\n  compare_with: single_result\nobjectives:\n  - sli: rt\n    pass:\n      - criteria: ['<600']\ntotal_score: {pass: '90%', warning: '75%'}\n",
    );
    let run = sluice(&["lint", &file]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("{file}:2:1: warning: comparision:")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("did you mean `comparison`?"),
        "{}",
        run.stdout
    );
    assert_eq!(sluice(&["lint", "--strict", &file]).code, 1);
}

#[test]
fn directories_are_searched_and_kinds_told_apart() {
    let dir = scratch("lint-dir");
    write(
        &dir,
        "a/sli.yaml",
        "spec_version: '1.0'\nindicators:\n  rt: query\n",
    );
    write(&dir, "b/config.yaml", "apiVersion: v2\nactions: []\n");
    write(&dir, "notes.txt", "not yaml, not checked");
    let run = sluice(&["lint", "-o", "json", dir.to_str().unwrap()]);
    let reports: serde_json::Value = serde_json::from_str(&run.stdout).expect("json output");
    let kinds: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sli", "job"]);
}

#[test]
fn unreadable_and_unknown_files_are_errors_not_crashes() {
    let dir = scratch("lint-bad");
    let binary = write(&dir, "binary.yaml", [0xff_u8, 0xfe, 0x00, 0x01]);
    let unknown = write(&dir, "values.yaml", "replicaCount: 2\n");
    let empty = write(&dir, "empty.yaml", "");
    let run = sluice(&["lint", &binary, &unknown, &empty]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains(&format!("{binary}:1:1: error: file is not UTF-8 text")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("{unknown}:1:1: error: cannot tell which kind")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("{empty}:1:1: error: the file is empty")),
        "{}",
        run.stdout
    );
    let missing = sluice(&["lint", "/nonexistent/shipyard.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/shipyard.yaml"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_forced_kind_is_used() {
    let dir = scratch("lint-kind");
    let file = write(&dir, "whatever.yaml", "spec_version: '1.0'\n");
    let run = sluice(&["lint", "--kind", "sli", &file]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("indicators"), "{}", run.stdout);
}

#[test]
fn statistical_criteria_are_checked_with_positions() {
    let dir = scratch("lint-statistical");
    let good = write(
        &dir,
        "slo.yaml",
        "spec_version: '1.0'\ncomparison:\n  compare_with: baseline\nobjectives:\n  - sli: rt\n    statistical:\n      test: mann-whitney\n      direction: increase\n      alpha: 0.05\n      effect_size: 1.2\n      outliers: remove\n    on_missing: warn\ntotal_score: {pass: '90%'}\n",
    );
    let run = sluice(&["lint", "--strict", &good]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let bad_dir = scratch("lint-statistical-bad");
    let bad = write(
        &bad_dir,
        "slo.yaml",
        "spec_version: '1.0'\nobjectives:\n  - sli: rt\n    statistical:\n      test: mann-whitney\n      alpha: 1.5\n      outlier: remove\n    on_missing: maybe\ntotal_score: {pass: '90%'}\n",
    );
    let run = sluice(&["lint", &bad]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for expected in [
        format!(
            "{bad}:6:14: error: objectives[0].statistical.alpha: alpha 1.5 is outside (0, 0.5]"
        ),
        format!("{bad}:7:7: error: objectives[0].statistical.outlier:"),
        format!("{bad}:8:17: error: objectives[0].on_missing: unknown on_missing `maybe`"),
    ] {
        assert!(
            run.stdout.contains(&expected),
            "expected `{expected}` in:\n{}",
            run.stdout
        );
    }
}
