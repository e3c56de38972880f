#!/usr/bin/python3
"""Reference RSA noise ceilings with rsatoolbox's pooling of the subjects'
RDMs (rsatoolbox.util.pooling.pool_rdm, implemented here from its
definition with numpy and scipy, rsatoolbox itself not being installed):
for Spearman each subject's RDM vector is replaced by its ranks (average
ties) before averaging, for Pearson by its z-scores (population sd). The
upper bound compares each subject's own RDM with the pool of all, the lower
bound with the pool of the others, averaged over subjects (as rsatoolbox's
boot_noise_ceiling / cv_noise_ceiling with leave-one-subject-out).

    /usr/bin/python3 gen_pooled.py [DATASETS]   # default ../../../../shared/datasets
"""
import json, os, sys
import numpy as np
import scipy
from scipy import stats

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "datasets")

def upper(m):
    i, j = np.triu_indices(m.shape[-1], 1)
    return m[..., i, j]

def standardize(v, method):
    if method == "spearman":
        return stats.rankdata(v)
    z = v - v.mean()
    return z / z.std()

def ceiling(subj, method):
    f = {"spearman": lambda u, v: stats.spearmanr(u, v).statistic,
         "pearson": lambda u, v: stats.pearsonr(u, v).statistic}[method]
    std = np.array([standardize(v, method) for v in subj])
    s = subj.shape[0]
    up = np.array([f(subj[i], std.mean(axis=0)) for i in range(s)])
    lo = np.array([f(subj[i], np.delete(std, i, axis=0).mean(axis=0)) for i in range(s)])
    return {"upper": float(up.mean()), "lower": float(lo.mean()),
            "upper_r2": float((up ** 2).mean()), "lower_r2": float((lo ** 2).mean())}

sets = {
    "algonauts2019-92/EVC": "algonauts2019-92/rdms/EVC.npy",
    "algonauts2019-92/IT": "algonauts2019-92/rdms/IT.npy",
    "kriegeskorte2008-92/hIT-sessionmean": "kriegeskorte2008-92/rdms/hIT_subject_rdms_sessionmean.npy",
}
out = {"numpy": np.__version__, "scipy": scipy.__version__, "ceilings": {}}
for key, rel in sets.items():
    subj = upper(np.load(os.path.join(data, rel)).astype(np.float64))
    out["ceilings"][key] = {m: ceiling(subj, m) for m in ("spearman", "pearson")}
with open(os.path.join(os.path.dirname(__file__), "pooled_reference.json"), "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps(out, indent=1))
