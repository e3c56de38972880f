"""Reference values for the runner's feature handling (issue 16):
per-unit z-scoring across stimuli (population sd, constant units dropped)
and the reliable-unit selection (|mean| / (s/sqrt(n)) > 1.96, s the sample
sd), then the correlation-distance RDM of the result (scipy pdist).

Run: /usr/bin/python3 scoring/runner/testdata/gen_unit_features.py
Writes unit_features.json beside this script.
"""
import json
import os

import numpy as np
from scipy.spatial.distance import pdist

rng = np.random.default_rng(16)
n = 20
cols = [rng.standard_normal(n) for _ in range(8)]          # mean ~0: mostly unreliable
cols += [3 + rng.standard_normal(n) for _ in range(3)]     # reliably positive
cols += [-2 + 0.5 * rng.standard_normal(n)]                # reliably negative
cols += [np.full(n, 1.5)]                                   # constant: dropped by both
cols += [0.45 + rng.standard_normal(n)]                    # borderline
# Either side of the threshold by the sample sd (t 1.94 and 1.98): the
# first would pass were the population sd used.
for t_want in (1.94, 1.98):
    v = rng.standard_normal(n)
    v = (v - v.mean()) / v.std(ddof=1)
    cols += [v + t_want / np.sqrt(n)]
x = np.stack(cols, axis=1).astype(np.float32)              # the Go side reads float32
x64 = x.astype(np.float64)

mean = x64.mean(axis=0)
sd = x64.std(axis=0)              # ddof 0
s1 = x64.std(axis=0, ddof=1)
nonconst = sd > 0
t = np.zeros_like(mean)
t[nonconst] = np.abs(mean[nonconst]) / (s1[nonconst] / np.sqrt(n))
reliable = nonconst & (t > 1.96)


def zscore(cols_kept):
    z = (x64[:, cols_kept] - mean[cols_kept]) / sd[cols_kept]
    return z


out = {"n": n, "q": x.shape[1], "x": [float(v) for v in x.ravel()]}
for name, keep in (("zscore", nonconst), ("zscore-reliable", reliable)):
    idx = np.flatnonzero(keep)
    z = zscore(idx)
    out[name] = {
        "kept": [int(i) for i in idx],
        "z": [float(v) for v in z.ravel()],
        "rdm_correlation": [float(v) for v in pdist(z, "correlation")],
        "rdm_euclidean": [float(v) for v in pdist(z, "euclidean")],
    }
out["t"] = [float(v) for v in t]

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit_features.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("kept zscore", int(nonconst.sum()), "reliable", int(reliable.sum()), "t", np.round(t, 2))
