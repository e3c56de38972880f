#!/usr/bin/python3
"""Reference values for leaderboard intervals (issue 17): TestRankIntervalsMatchNumpy.

Three models on six ceiled benchmarks in three parents. For each model the
closed form (what leaderboard.Rank computes) and, as a check of it, the
seeded parametric bootstrap it is the closed form of: each benchmark's
ceiled score drawn from Normal(ceiled, ceiled SE) independently, the parent
means and the average recomputed per draw, the 2.5/97.5 percentiles taken.
Neighbours: the difference of two rows' averages, with independent draws.

Run: /usr/bin/python3 leaderboard/testdata/intervals.py > leaderboard/testdata/intervals.json
"""
import json
import sys

import numpy as np

Z95 = 1.959963984540054
DRAWS = 200_000
SEED = 17

benchmarks = [  # id, parent, ceiling
    ("evc1", "EVC", 0.7), ("evc2", "EVC", 0.5),
    ("it1", "IT", 0.8), ("it2", "IT", 0.6), ("it3", "IT", 0.9),
    ("v4a", "V4", 0.4),
]
# raw score and its SE per benchmark, in benchmarks order
models = {
    "m1": ([0.42, 0.31, 0.44, 0.29, 0.52, 0.21], [0.021, 0.017, 0.030, 0.024, 0.019, 0.022]),
    "m2": ([0.40, 0.30, 0.45, 0.30, 0.50, 0.20], [0.025, 0.020, 0.028, 0.026, 0.021, 0.018]),
    "m3": ([0.20, 0.15, 0.22, 0.15, 0.25, 0.10], [0.010, 0.012, 0.015, 0.009, 0.011, 0.013]),
}
parents = sorted({p for _, p, _ in benchmarks})
ceil = np.array([c for _, _, c in benchmarks])
rng = np.random.default_rng(SEED)


def means(ceiled):
    """Parent means and the average of ceiled scores (last axis: benchmarks)."""
    pm = [ceiled[..., [i for i, b in enumerate(benchmarks) if b[1] == p]].mean(axis=-1) for p in parents]
    return pm, np.mean(pm, axis=0)


out = {"numpy": np.__version__, "python": sys.version.split()[0], "draws": DRAWS, "seed": SEED,
       "benchmarks": [{"id": i, "parent": p, "ceiling": c} for i, p, c in benchmarks], "models": []}
draws = {}
for name, (raw, se) in models.items():
    raw, se = np.array(raw), np.array(se)
    ceiled, cse = raw / ceil, se / ceil
    pm, avg = means(ceiled)
    pse = []
    for p in parents:
        idx = [i for i, b in enumerate(benchmarks) if b[1] == p]
        pse.append(np.sqrt(np.sum(cse[idx] ** 2)) / len(idx))
    ase = np.sqrt(np.sum(np.array(pse) ** 2)) / len(parents)
    d = ceiled + cse * rng.standard_normal((DRAWS, len(benchmarks)))
    dpm, davg = means(d)
    draws[name] = davg
    out["models"].append({
        "name": name, "raw": raw.tolist(), "se": se.tolist(),
        "average": avg, "average_se": ase, "average_ci": [avg - Z95 * ase, avg + Z95 * ase],
        "parent_means": [{"parent": p, "mean": m, "se": s, "ci": [m - Z95 * s, m + Z95 * s],
                          "bootstrap_ci": np.percentile(dm, [2.5, 97.5]).tolist()}
                         for p, m, s, dm in zip(parents, pm, pse, dpm)],
        "bootstrap_ci": np.percentile(davg, [2.5, 97.5]).tolist(),
    })
rows = sorted(out["models"], key=lambda m: -m["average"])
out["order"] = [m["name"] for m in rows]
out["differs_from_next"] = []
for a, b in zip(rows, rows[1:]):
    diff = draws[a["name"]] - draws[b["name"]]
    lo, hi = np.percentile(diff, [2.5, 97.5])
    closed = abs(a["average"] - b["average"]) > Z95 * np.hypot(a["average_se"], b["average_se"])
    out["differs_from_next"].append({"a": a["name"], "b": b["name"], "bootstrap_diff_ci": [lo, hi],
                                     "differs": bool(closed), "bootstrap_differs": bool(lo > 0 or hi < 0)})
json.dump(out, sys.stdout, indent=1, default=float)
print()
