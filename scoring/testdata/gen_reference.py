#!/usr/bin/python3
"""Write the reference values the scoring tests compare against.

Run from anywhere with Debian's python3 (numpy, scipy):
    /usr/bin/python3 scoring/testdata/gen_reference.py [DATASETS_DIR]
DATASETS_DIR defaults to /work/shared/datasets (../shared/datasets from the
repository root). Outputs (all small, committed) go next to this script;
reference.json records numpy/scipy versions. Every random input is seeded.
"""
import io, json, os, sys
import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import pdist, squareform

here = os.path.dirname(os.path.abspath(__file__))
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "datasets")
rng = np.random.default_rng(20261126)
ref = {"numpy": np.__version__, "scipy": scipy.__version__, "generator": "scoring/testdata/gen_reference.py"}

def save(name, arr):
    np.save(os.path.join(here, name), arr)

# --- RDMs: random features, a ReLU-like layer with a large common offset (cancellation test).
x = rng.standard_normal((20, 57))
relu = np.maximum(rng.standard_normal((15, 300)) + 0.3, 0) + 1000.0
# Wide enough (≥ 256 columns) for rdm's zero-copy float64 path.
wide = np.maximum(rng.standard_normal((12, 400)), 0) * 3.0 + 0.5 * (rng.random((12, 1)) > 0.5)
save("features_wide.npy", wide)
save("features_f64.npy", x)
save("features_relu.npy", relu)
save("features_f32.npy", x.astype("<f4"))
for name, feats in [("f64", x), ("relu", relu), ("wide", wide), ("f32", x.astype("<f4"))]:
    for metric in ["correlation", "euclidean", "cosine"]:
        # pdist in float64 is the reference for every input dtype.
        save(f"rdm_{name}_{metric}.npy", squareform(pdist(feats.astype(np.float64), metric)))
# numpy.corrcoef gives the same correlation RDM; recorded as a cross-check.
ref["corrcoef_vs_pdist_maxdiff"] = float(np.abs((1 - np.corrcoef(x)) - squareform(pdist(x, "correlation"))).max())

# Real features: Cowley V4 session 190923, the first 60 images as stimuli
# and the 33 neurons as features (read from the datasets folder at test time).
cow = os.path.join(data, "cowley2023-v4", "responses_repeat_averaged", "responses_190923.npy")
if os.path.exists(cow):
    xr = np.load(cow).T[:60]
    for metric in ["correlation", "euclidean", "cosine"]:
        save(f"rdm_cowley190923_{metric}.npy", squareform(pdist(xr, metric)))

# --- Comparisons: continuous vectors, and vectors with many ties.
a = rng.standard_normal(301)
b = 0.5 * a + rng.standard_normal(301)
ta = np.round(a * 2) / 2
tb = np.round(b * 1.5) / 1.5
save("vec_a.npy", a); save("vec_b.npy", b); save("vec_ta.npy", ta); save("vec_tb.npy", tb)

def tau_a(u, v):
    # scipy 1.10's kendalltau has variants b and c only; tau-a follows from
    # tau-b exactly: tau_a = tau_b * sqrt((n0 - n1)(n0 - n2)) / n0.
    n = len(u); n0 = n * (n - 1) / 2
    def ties(w):
        _, c = np.unique(w, return_counts=True); return float((c * (c - 1) / 2).sum())
    tb_ = stats.kendalltau(u, v, variant="b").statistic
    return float(tb_ * np.sqrt((n0 - ties(u)) * (n0 - ties(v))) / n0)

def tau_a_brute(u, v):
    s = 0
    for i in range(len(u)):
        s += np.sum(np.sign(u[i] - u[i+1:]) * np.sign(v[i] - v[i+1:]))
    return float(s / (len(u) * (len(u) - 1) / 2))

comp = {}
for name, (u, v) in {"continuous": (a, b), "ties": (ta, tb)}.items():
    comp[name] = {
        "pearson": float(stats.pearsonr(u, v).statistic),
        "spearman": float(stats.spearmanr(u, v).statistic),
        "kendall-tau-a": tau_a(u, v),
        "kendall-tau-a-bruteforce": tau_a_brute(u, v),
        "rankdata": None,
    }
    comp[name]["rankdata"] = stats.rankdata(u).tolist()[:20]
ref["compare"] = comp

# --- Real data: Algonauts 92 RDMs (read from the datasets folder at test time).
def upper(m):
    i, j = np.triu_indices(m.shape[-1], 1)
    return m[..., i, j]

def ceiling(subj, method):
    f = {"spearman": lambda u, v: stats.spearmanr(u, v).statistic,
         "pearson": lambda u, v: stats.pearsonr(u, v).statistic,
         "kendall-tau-a": tau_a}[method]
    s = subj.shape[0]; allm = subj.mean(axis=0)
    up = np.array([f(subj[i], allm) for i in range(s)])
    lo = np.array([f(subj[i], np.delete(subj, i, axis=0).mean(axis=0)) for i in range(s)])
    return {"upper": float(up.mean()), "lower": float(lo.mean()),
            "upper_r2": float((up ** 2).mean()), "lower_r2": float((lo ** 2).mean())}

real = {}
sets = {
    "algonauts2019-92/EVC": "algonauts2019-92/rdms/EVC.npy",
    "algonauts2019-92/IT": "algonauts2019-92/rdms/IT.npy",
    "algonauts2019-78/EVC": "algonauts2019-78/rdms/EVC.npy",
    "algonauts2019-78/IT": "algonauts2019-78/rdms/IT.npy",
    "kriegeskorte2008-92/hIT-sessionmean": "kriegeskorte2008-92/rdms/hIT_subject_rdms_sessionmean.npy",
    "kriegeskorte2008-92/behaviour": "kriegeskorte2008-92/rdms/behav_simjudge_rdms_16subj.npy",
}
for key, rel in sets.items():
    p = os.path.join(data, rel)
    if not os.path.exists(p):
        continue
    subj = upper(np.load(p))
    real[key] = {"spearman": ceiling(subj, "spearman"), "pearson": ceiling(subj, "pearson")}
    if key == "algonauts2019-92/EVC":
        real[key]["kendall-tau-a"] = ceiling(subj, "kendall-tau-a")
        u, v = subj[0], subj[1]
        real[key]["subject0_vs_1"] = {"pearson": float(stats.pearsonr(u, v).statistic),
                                      "spearman": float(stats.spearmanr(u, v).statistic),
                                      "kendall-tau-a": tau_a(u, v)}
ref["real_ceilings"] = real

# Split-half with exactly 2 available repeats is split-independent:
# r = Pearson(rep0, rep1) across stimuli, then 2r/(1+r).
resp = rng.standard_normal((4, 30, 1)) + rng.standard_normal((4, 30, 2)) * 0.7
resp = np.concatenate([resp, np.full((4, 30, 1), np.nan)], axis=2)  # a NaN third slot
resp[1, 5, 1] = np.nan  # target 1 stimulus 5 has one repeat: skipped
save("responses_2rep.npy", resp)
sb = []
for t in range(4):
    keep = ~np.isnan(resp[t, :, 1])
    r = stats.pearsonr(resp[t, keep, 0], resp[t, keep, 1]).statistic
    sb.append(float(2 * r / (1 + r)))
ref["splithalf_2rep"] = sb

# Percentiles and standard error.
pv = rng.standard_normal(37)
save("percentile_input.npy", pv)
ref["percentile"] = {"p2.5": float(np.percentile(pv, 2.5)), "p97.5": float(np.percentile(pv, 97.5)),
                     "p50": float(np.percentile(pv, 50)), "sem": float(stats.sem(pv)), "mean": float(pv.mean())}

# A small .npz for the storage/npy reader.
np.savez(os.path.join(here, "small.npz"), x=np.arange(3.0), k=np.array([1, 0], "<i4"))

with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(ref, f, indent=1)
print("wrote reference.json with numpy", np.__version__, "scipy", scipy.__version__)
