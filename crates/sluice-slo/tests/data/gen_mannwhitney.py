#!/usr/bin/env python3
"""Expected values for sluice-slo's statistics, computed with SciPy.

Writes mannwhitney.json next to this file; `cargo test -p sluice-slo statistics_scipy`
compares sluice's Mann-Whitney U test, medians, Hodges-Lehmann shifts and outlier removal
with it. The table is committed, so the tests never need Python. To regenerate:

    python3 -m venv /tmp/scipy-venv
    /tmp/scipy-venv/bin/pip install -r crates/sluice-slo/tests/data/requirements.txt
    /tmp/scipy-venv/bin/python crates/sluice-slo/tests/data/gen_mannwhitney.py

The inputs are drawn from a seeded generator and rounded to 3 decimals, so the JSON numbers
are exactly what both sides compute with.
"""

import json
import os

import numpy as np
import scipy
from scipy.stats import mannwhitneyu

rng = np.random.default_rng(17)


def r(values):
    return [round(float(v), 3) for v in values]


def normal(n, loc=100.0, scale=10.0):
    return r(rng.normal(loc, scale, n))


def lognormal(n, mean=4.6, sigma=0.3):
    return r(rng.lognormal(mean, sigma, n))


def integers(n, low, high):
    return [float(v) for v in rng.integers(low, high, n)]


samples = []  # (name, x, y)
samples.append(("scipy docs example", [19.0, 22.0, 16.0, 29.0, 24.0], [20.0, 11.0, 17.0, 12.0]))
samples.append(("one against one", [2.0], [1.0]))
samples.append(("two against three", [1.0, 5.0], [2.0, 3.0, 4.0]))
samples.append(("exact 3 vs 4 separated", [10.0, 11.0, 12.0], [1.0, 2.0, 3.0, 4.0]))
samples.append(("exact 8 vs 8 shifted", normal(8, 110), normal(8, 100)))
samples.append(("exact 8 vs 30", normal(8, 104), normal(30, 100)))
samples.append(("exact 5 vs 200 (large other side)", normal(5, 95), normal(200, 100)))
samples.append(("exact 30 vs 7 interleaved", normal(30), normal(7)))
samples.append(("ties small", [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]))
samples.append(("one tie, half-integer U", [1.0, 2.0, 2.5], [2.5, 3.0, 4.0, 5.0]))
samples.append(("ties integers 40 vs 50", integers(40, 0, 10), integers(50, 1, 11)))
samples.append(("identical samples", normal(25), None))
samples.append(("all values equal", [5.0] * 10, [5.0] * 12))
samples.append(("asymptotic 9 vs 9", normal(9, 100), normal(9, 105)))
samples.append(("asymptotic 50 vs 60 no shift", normal(50), normal(60)))
samples.append(("asymptotic 50 vs 60 shift", normal(50, 106), normal(60)))
samples.append(("latency 500 vs 500 +5%", lognormal(500, 4.65), lognormal(500, 4.6)))
samples.append(("latency 2000 vs 1500 slow tail", r(np.concatenate([rng.lognormal(4.6, 0.3, 1940), rng.lognormal(6.0, 0.2, 60)])), lognormal(1500)))
samples.append(("negative and zero values", r(rng.normal(0, 1, 20)), r(rng.normal(-0.5, 1, 15))))
samples.append(("large shift", normal(40, 200), normal(40, 100)))
samples.append(("with an outlier", normal(60) + [10000.0], normal(60) + [-5000.0]))

cases = []
for name, x, y in samples:
    if y is None:
        y = list(x)
    xs, ys = np.array(x), np.array(y)
    entry = {
        "name": name,
        "x": x,
        "y": y,
        "median_x": float(np.median(xs)),
        "median_y": float(np.median(ys)),
        "mean_x": float(np.mean(xs)),
        "mean_y": float(np.mean(ys)),
        "hodges_lehmann": float(np.median(np.subtract.outer(xs, ys))),
        "tests": [],
    }
    for alternative in ["two-sided", "greater", "less"]:
        for method in ["auto", "asymptotic"] + (["exact"] if min(len(x), len(y)) <= 8 else []):
            res = mannwhitneyu(xs, ys, alternative=alternative, method=method, use_continuity=True)
            entry["tests"].append({
                "alternative": alternative,
                "method": method,
                "u1": float(res.statistic),
                "p_value": float(res.pvalue),
            })
    # Kayenta-style outlier fences with NumPy's linear percentiles, factor 3.
    q1, q3, p1, p99 = np.percentile(xs, [25, 75, 1, 99])
    iqr = q3 - q1
    low, high = min(q1 - 3 * iqr, p1), max(q3 + 3 * iqr, p99)
    entry["outliers_removed_x"] = int(np.sum((xs < low) | (xs > high))) if len(x) >= 4 else 0
    cases.append(entry)

out = {
    "generator": "crates/sluice-slo/tests/data/gen_mannwhitney.py",
    "scipy": scipy.__version__,
    "numpy": np.__version__,
    "cases": cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mannwhitney.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases to {path}")
