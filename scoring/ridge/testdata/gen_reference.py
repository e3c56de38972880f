#!/usr/bin/python3
"""Reference outputs for scoring/ridge tests, from sklearn.

Run from this directory with Debian's python3 (numpy, scipy, sklearn):
    /usr/bin/python3 gen_reference.py
Versions used are written to versions.json. Everything is float64 except the
Cowley features, stored as float32 (both sides compute on the same values).
"""
import json
import os

import numpy as np
import scipy
import sklearn
from sklearn.linear_model import Ridge, RidgeCV

rng = np.random.default_rng(20261126)
ALPHAS = np.logspace(-2, 7, 19)
np.save("alphas.npy", ALPHAS)


def fixed_alpha_predictions(x, y, folds, alpha):
    pred = np.zeros_like(y, dtype=np.float64)
    for f in np.unique(folds):
        te, tr = folds == f, folds != f
        m = Ridge(alpha=alpha, fit_intercept=True).fit(x[tr], y[tr])
        pred[te] = m.predict(x[te])
    return pred


def ridgecv_alphas(x, y, folds):
    out = []
    for f in np.unique(folds):
        tr = folds != f
        m = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(x[tr], y[tr])
        out.append(m.alpha_)
    return np.array(out)


def problem(name, n, q, p, k):
    x = rng.normal(size=(n, q)) + 0.5  # nonzero means exercise the intercept
    w = rng.normal(size=(q, p)) / np.sqrt(q)
    y = x @ w * rng.uniform(0.2, 2, size=p) + rng.normal(size=(n, p)) + 3
    folds = rng.permutation(np.arange(n) % k)
    np.save(f"{name}_x.npy", x)
    np.save(f"{name}_y.npy", y)
    np.save(f"{name}_folds.npy", folds.astype(np.int64))
    np.save(f"{name}_pred_alpha3.npy", np.ascontiguousarray(fixed_alpha_predictions(x, y, folds, 3.0)))
    np.save(f"{name}_cv_alpha.npy", np.ascontiguousarray(ridgecv_alphas(x, y, folds)))


# Kernel path (q > training n) and primal path (q < training n).
problem("kernel", 60, 150, 6, 4)
problem("primal", 80, 12, 5, 5)

# Real data: Cowley et al. 2023 V4 session 190923, repeat-averaged responses
# (neurons × images), first 300 images, as targets; features are a fixed
# random nonlinear mixture of the z-scored responses plus noise (float32).
path = "../../../../shared/datasets/cowley2023-v4/responses_repeat_averaged/responses_190923.npy"
if os.path.exists(path):
    y = np.load(path).T[:300].astype(np.float64)
    z = (y - y.mean(0)) / y.std(0)
    w = rng.normal(size=(y.shape[1], 600))
    x = (np.tanh(z @ w / 6) + 3.0 * rng.normal(size=(300, 600))).astype(np.float32)
    folds = rng.permutation(np.arange(300) % 5)
    np.save("cowley_x.npy", x)
    np.save("cowley_folds.npy", folds.astype(np.int64))
    x64 = x.astype(np.float64)
    np.save("cowley_pred_alpha100.npy", np.ascontiguousarray(fixed_alpha_predictions(x64, y, folds, 100.0)))
    np.save("cowley_cv_alpha.npy", np.ascontiguousarray(ridgecv_alphas(x64, y, folds)))

# PCA (sklearn PCA(svd_solver='full'), fit on one set, transform another),
# wide (n < q) and tall (n > q) cases.
from sklearn.decomposition import PCA
PCADIR = "../../reduce/testdata"  # read by scoring/reduce tests
for name, n, q, k in (("pca_wide", 40, 200, 8), ("pca_tall", 120, 25, 6)):
    a = rng.normal(size=(n + 15, q)) @ np.diag(np.linspace(3, 0.2, q)) + 1.0
    ref, new = a[:n], a[n:]
    pca = PCA(n_components=k, svd_solver="full").fit(ref)
    np.save(f"{PCADIR}/{name}_ref.npy", ref.astype(np.float32))
    np.save(f"{PCADIR}/{name}_new.npy", new.astype(np.float32))
    np.save(f"{PCADIR}/{name}_out.npy", np.ascontiguousarray(pca.transform(new.astype(np.float32).astype(np.float64))))
    np.save(f"{PCADIR}/{name}_ref_out.npy", np.ascontiguousarray(pca.transform(ref.astype(np.float32).astype(np.float64))))

json.dump({"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
           "alphas": "np.logspace(-2, 7, 19)"}, open("versions.json", "w"), indent=1)
