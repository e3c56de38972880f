#!/usr/bin/python3
"""Reference outputs for ridge.Fit (TestFitMatchesRidgeCV), from sklearn.

ridge.Fit is sklearn's RidgeCV(alphas, alpha_per_target=True) with
fit_intercept=True fitted on every stimulus. This fits that on the arrays
gen_reference.py wrote (kernel_*: more features than stimuli; primal_*:
fewer) and on real V4 responses (Cowley et al. 2023, session 190923, first
300 images, with the fixed features cowley_x.npy), and writes for each
NAME:

    NAME_fit_alpha.npy      the alpha chosen for every target
    NAME_fit_coef.npy       coef_.T, features × targets (kernel, primal)
    NAME_fit_intercept.npy  intercept_ (kernel, primal)
    NAME_fit_newx.npy       new stimuli (kernel, primal; seeded normal + 0.5)
    NAME_fit_pred.npy       the model's predictions for NAME_fit_newx (kernel,
                            primal) or for the first 20 training stimuli
                            (cowley)

Run from this directory with Debian's python3 (numpy, scipy, sklearn):
    /usr/bin/python3 fit_reference.py
Written with sklearn 1.2.1, numpy 1.24.2, scipy 1.10.1 (versions.json).
"""
import os

import numpy as np
from sklearn.linear_model import RidgeCV

ALPHAS = np.load("alphas.npy")
rng = np.random.default_rng(20261204)

for name in ("kernel", "primal"):
    x = np.load(f"{name}_x.npy")
    y = np.load(f"{name}_y.npy")
    m = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(x, y)
    new = rng.normal(size=(7, x.shape[1])) + 0.5
    np.save(f"{name}_fit_alpha.npy", np.asarray(m.alpha_, dtype=np.float64))
    np.save(f"{name}_fit_coef.npy", np.ascontiguousarray(m.coef_.T))
    np.save(f"{name}_fit_intercept.npy", np.asarray(m.intercept_, dtype=np.float64))
    np.save(f"{name}_fit_newx.npy", new)
    np.save(f"{name}_fit_pred.npy", np.ascontiguousarray(m.predict(new)))

path = "../../../../shared/datasets/cowley2023-v4/responses_repeat_averaged/responses_190923.npy"
if os.path.exists(path):
    y = np.load(path).T[:300].astype(np.float64)
    x = np.load("cowley_x.npy").astype(np.float64)
    m = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(x, y)
    np.save("cowley_fit_alpha.npy", np.asarray(m.alpha_, dtype=np.float64))
    np.save("cowley_fit_pred.npy", np.ascontiguousarray(m.predict(x[:20])))
