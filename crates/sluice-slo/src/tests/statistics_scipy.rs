//! Table test: sluice's Mann-Whitney U test, medians, Hodges-Lehmann shifts and outlier removal
//! against values SciPy computed (`crates/sluice-slo/tests/data/gen_mannwhitney.py` wrote `mannwhitney.json` beside it).
//!
//! Tolerances: statistics (U, medians, means, shifts) 1e-9 relative; p-values 1e-9 absolute
//! plus 1e-6 relative, so tiny p-values are compared by their leading digits.

use crate::statistics::{
    Alternative, DEFAULT_OUTLIER_FACTOR, Method, hodges_lehmann, mann_whitney_u_with, mean, median,
    remove_outliers,
};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    (got - want).abs() <= abs + rel * want.abs()
}

#[test]
fn mann_whitney_matches_scipy() {
    let table: Value = serde_json::from_str(include_str!("../../tests/data/mannwhitney.json"))
        .expect("valid JSON");
    let cases = table["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let x = floats(&case["x"]);
        let y = floats(&case["y"]);
        for (what, got, want) in [
            ("median x", median(&x), case["median_x"].as_f64()),
            ("median y", median(&y), case["median_y"].as_f64()),
            ("mean x", mean(&x), case["mean_x"].as_f64()),
            ("mean y", mean(&y), case["mean_y"].as_f64()),
            (
                "Hodges-Lehmann",
                hodges_lehmann(&x, &y).ok(),
                case["hodges_lehmann"].as_f64(),
            ),
        ] {
            let (Some(got), Some(want)) = (got, want) else {
                failures.push(format!("{name}: {what} missing"));
                continue;
            };
            if !close(got, want, 1e-9, 1e-12) {
                failures.push(format!("{name}: {what} = {got}, SciPy {want}"));
            }
        }
        let removed = remove_outliers(&x, DEFAULT_OUTLIER_FACTOR).1;
        if Some(removed as u64) != case["outliers_removed_x"].as_u64() {
            failures.push(format!(
                "{name}: {removed} outliers removed, NumPy {}",
                case["outliers_removed_x"]
            ));
        }
        for t in case["tests"].as_array().expect("tests") {
            let alternative = match t["alternative"].as_str() {
                Some("two-sided") => Alternative::TwoSided,
                Some("greater") => Alternative::Greater,
                Some("less") => Alternative::Less,
                other => panic!("unknown alternative {other:?}"),
            };
            let method = match t["method"].as_str() {
                Some("auto") => Method::Auto,
                Some("exact") => Method::Exact,
                Some("asymptotic") => Method::Asymptotic,
                other => panic!("unknown method {other:?}"),
            };
            let r = mann_whitney_u_with(&x, &y, alternative, method).expect("test runs");
            let label = format!("{name} ({}, {})", t["alternative"], t["method"]);
            let u1 = t["u1"].as_f64().expect("u1");
            let p = t["p_value"].as_f64().expect("p");
            if !close(r.u1, u1, 1e-9, 0.0) {
                failures.push(format!("{label}: U1 = {}, SciPy {u1}", r.u1));
            }
            if r.u1 + r.u2 != (x.len() * y.len()) as f64 {
                failures.push(format!("{label}: U1 + U2 != n1 n2"));
            }
            if !close(r.p_value, p, 1e-6, 1e-9) {
                failures.push(format!("{label}: p = {:e}, SciPy {p:e}", r.p_value));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 100, "only {checked} tests checked");
}
