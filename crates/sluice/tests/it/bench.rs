//! `sluice bench`: the figures reach the JSON file in the documented shape, and a data
//! directory that is not empty is refused. (Figures themselves are never asserted: the
//! benchmark is a measurement.)

use crate::{scratch, sluice};

#[test]
fn writes_the_figures_as_json_and_keeps_a_given_data_dir() {
    let dir = scratch("bench");
    let json = dir.join("figures.json");
    let data = dir.join("data");
    let run = sluice(&[
        "bench",
        "--quick",
        "--only",
        "binary",
        "evaluation",
        "--json",
        json.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("machine: "), "{}", run.stdout);
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let figures = figures.as_array().unwrap();
    let names: Vec<&str> = figures
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"binary_size"), "{names:?}");
    assert!(
        names.contains(&"evaluation_300x50_peak_memory"),
        "{names:?}"
    );
    let p50 = figures
        .iter()
        .find(|f| f["name"] == "evaluation_300x50_p50")
        .unwrap();
    assert_eq!(p50["comparison"], "<=");
    assert_eq!(p50["target"], 2.0);
    assert_eq!(p50["reference"]["name"], "slo_parse_300_p50");
    assert!(p50["ratio"].is_number());
    assert!(p50["ok"].is_boolean());
    for f in figures {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with(f["name"].as_str().unwrap())),
            "{f} is not printed"
        );
    }
    assert!(data.is_dir(), "a given data directory is kept");

    // A directory that is not empty is refused before anything runs.
    std::fs::write(data.join("precious"), "x").unwrap();
    let again = sluice(&["bench", "--quick", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);
    assert!(data.join("precious").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
