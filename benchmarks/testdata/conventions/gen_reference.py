#!/usr/bin/python3
"""Reference values for the scoring conventions of issue 16, from numpy and
scipy (versions recorded in the output), for benchmarks/conventions_test.go.

1. Leave-one-subject-out RSA ceilings (Spearman, scipy.stats.spearmanr) of
   the built-in RDM sets as the benchmarks import them: each subject's RDM
   upper triangle against the plain element-wise mean of the other
   subjects', averaged over subjects (r), and the mean squared per-subject
   value (R²). Kriegeskorte hIT: the subjects × sessions file, sessions
   averaged per subject (as the manifest's "sessions: mean").
2. A small asymmetric fixture, 3 subjects × 8 × 8, written as
   splithalf.npy (split-half similarity matrices S) and cv.npy
   (cross-validated dissimilarities D), with what the import must make of
   them: symmetrised dissimilarity triangles (1 - (S + S.T)/2, or
   (D + D.T)/2), the two triangles (1 - S[i, j] and 1 - S[j, i] for i < j;
   D as is), the mean diagonal, the halves ceiling (per subject Spearman r
   between the triangles, Spearman-Brown corrected 2r/(1+r), averaged;
   R²: mean squared corrected value) and the Nili and leave-one-subject-out
   bounds of the symmetrised RDMs.
3. The squared-clipped transform, clip(raw / ceiling, 0, 1)², on a few raw
   scores against the fixture's halves ceiling.

    /usr/bin/python3 gen_reference.py [DATASETS]   # default ../../../../shared/datasets
"""
import json, os, sys
import numpy as np
import scipy
from scipy import stats

here = os.path.dirname(os.path.abspath(__file__))
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "..", "shared", "datasets")


def upper(m):
    i, j = np.triu_indices(m.shape[-1], 1)
    return m[..., i, j]


def lower(m):  # M[j, i] for the pairs i < j, in the order of upper
    i, j = np.triu_indices(m.shape[-1], 1)
    return m[..., j, i]


def rho(u, v):
    return float(stats.spearmanr(u, v).statistic)


def loso(subj):
    s = subj.shape[0]
    per = np.array([rho(subj[k], np.delete(subj, k, axis=0).mean(axis=0)) for k in range(s)])
    return per


def nili(subj):
    s = subj.shape[0]
    allm = subj.mean(axis=0)
    up = np.array([rho(subj[k], allm) for k in range(s)])
    return up, loso(subj)


out = {"numpy": np.__version__, "scipy": scipy.__version__, "loso": {}}
sets = {
    "algonauts2019-92.IT": ("algonauts2019-92/rdms/IT.npy", False),
    "algonauts2019-92.EVC": ("algonauts2019-92/rdms/EVC.npy", False),
    "kriegeskorte2008.hIT": ("kriegeskorte2008-92/rdms/hIT_subject_session_rdms.npy", True),
}
for key, (rel, sessions) in sets.items():
    a = np.load(os.path.join(data, rel)).astype(np.float64)
    if sessions:
        a = a.mean(axis=1)
    per = loso(upper(a))
    out["loso"][key] = {"loso": float(per.mean()), "loso_r2": float((per ** 2).mean()), "per_subject": per.tolist()}

# The asymmetric fixture: a shared structure plus per-subject, per-half noise.
rng = np.random.default_rng(16)
s, n = 3, 8
feat = rng.normal(size=(n, 5))
S = np.empty((s, n, n))
D = np.empty((s, n, n))
for k in range(s):
    a = feat + 0.8 * rng.normal(size=(n, 5))  # half A patterns
    b = feat + 0.8 * rng.normal(size=(n, 5))  # half B patterns
    S[k] = np.corrcoef(a, b)[:n, n:]  # row: half A, column: half B
    D[k] = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) - 0.5 * (((a - b) ** 2).sum(-1)[:, None] + ((a - b) ** 2).sum(-1)[None, :])
np.save(os.path.join(here, "splithalf.npy"), S)
np.save(os.path.join(here, "cv.npy"), D)


def fixture(M, sim):
    if sim:
        sym = upper(1 - (M + np.swapaxes(M, 1, 2)) / 2)
        h0, h1 = 1 - upper(M), 1 - lower(M)
    else:
        sym = upper((M + np.swapaxes(M, 1, 2)) / 2)
        h0, h1 = upper(M), lower(M)
    r = np.array([rho(h0[k], h1[k]) for k in range(M.shape[0])])
    sb = 2 * r / (1 + r)
    up, lo = nili(sym)
    return {
        "rdms": sym.tolist(), "halves": [h0.tolist(), h1.tolist()],
        "diagonal": float(np.mean([np.diag(M[k]).mean() for k in range(M.shape[0])])),
        "halves_ceiling": float(sb.mean()), "halves_r2": float((sb ** 2).mean()),
        "upper": float(up.mean()), "upper_r2": float((up ** 2).mean()),
        "loso": float(lo.mean()), "loso_r2": float((lo ** 2).mean()),
    }


out["splithalf"] = fixture(S, True)
out["cv"] = fixture(D, False)
c = out["splithalf"]["halves_ceiling"]
raw = [-0.2, 0.0, 0.1, 0.3, c, 0.95]
out["squared_clipped"] = {"ceiling": c, "raw": raw, "value": [float(np.clip(x / c, 0, 1) ** 2) for x in raw]}

with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps({k: v for k, v in out.items() if k in ("numpy", "scipy", "loso")}, indent=1))
print("splithalf halves", out["splithalf"]["halves_ceiling"], "cv halves", out["cv"]["halves_ceiling"])
