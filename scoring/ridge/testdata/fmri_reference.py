#!/usr/bin/python3
"""Times sklearn's RidgeCV(alpha_per_target=True) on issue 18's fMRI-scale
case, side by side with BenchmarkCVFMRISklearn, which writes the arrays:

    DIR/x.npy      stimuli × features (float32, converted to float64 here:
                   the precision our predictions are computed in, and
                   sklearn's default for float64 data)
    DIR/y.npy      stimuli × targets (float64)
    DIR/folds.npy  the outer fold of every stimulus (int64), as ridge.CV
                   drew it (Result.FoldOf); absent when only the single
                   fit is wanted (BenchmarkFitFMRISklearn)

and reads one JSON line from stdout with the versions it ran with and two
timings (wall and CPU seconds of all threads):

  single  RidgeCV(alphas, alpha_per_target=True).fit on all stimuli: one
          generalised (leave-one-out) cross-validation fit. This is the
          reference issue 2 and issue 18 quote ("ridge CV 0.21× sklearn
          RidgeCV"), though it is a fifth of the work ridge.CV does, and
          the same work as ridge.Fit (BenchmarkFitFMRISklearn). It also
          writes DIR/single_alpha.npy (the alpha of every target) and
          DIR/single_pred.npy (the fitted model's predictions for the
          first 50 stimuli), which that benchmark compares with Fit's.
  task    what ridge.CV computes, written as a sklearn user would: for each
          outer fold, RidgeCV(alphas, alpha_per_target=True) fitted on the
          training stimuli (alpha per target by leave-one-out on them) and
          predicting the held-out ones; then each target's Pearson r of the
          pooled held-out predictions. It also writes DIR/alpha_sklearn.npy
          (folds × targets, the alpha each fold chose) and DIR/r_sklearn.npy
          (the r of every target) so the benchmark can check that both sides
          computed the same thing.

The alpha grid is ridge.DefaultAlphas (19 values, 1e-2 … 1e7 by half
decades).

It also reports the CPU kernels of the OpenBLAS numpy runs on
("blas_kernels", e.g. Haswell or Cooperlake: OpenBLAS picks them for the
CPU at load unless $OPENBLAS_CORETYPE forces them), so that the benchmark
can check both sides ran the same ones: on an AVX-512 machine the
auto-detected kernels run the same GEMM faster than Haswell's.

Run with (and the numbers in the README measured with) sklearn 1.2.1,
numpy 1.24.2, scipy 1.10.1 (Debian 12 python3-sklearn); the benchmarks run
it in their own environment:
    /usr/bin/python3 fmri_reference.py DIR
"""
import json
import os
import sys
import time

import numpy as np
import scipy
import sklearn
from sklearn.linear_model import RidgeCV



def blas_kernels():
    """The core name of the OpenBLAS numpy loaded ("" when it is another BLAS)."""
    import ctypes
    with open("/proc/self/maps") as f:
        libs = sorted({ln.split()[-1] for ln in f if "blas" in ln.lower() and ".so" in ln})
    for path in libs:
        try:
            corename = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        return corename().decode()
    return ""


d = sys.argv[1]
x = np.load(os.path.join(d, "x.npy")).astype(np.float64)
y = np.load(os.path.join(d, "y.npy"))
alphas = 10.0 ** (-2 + np.arange(19) / 2)
out = {
    "stimuli": x.shape[0], "features": x.shape[1], "targets": y.shape[1],
    "sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
    "blas_kernels": blas_kernels(),
}

t, c = time.perf_counter(), time.process_time()
single = RidgeCV(alphas=alphas, alpha_per_target=True).fit(x, y)
out["seconds"] = time.perf_counter() - t
out["cpu_seconds"] = time.process_time() - c  # all threads
np.save(os.path.join(d, "single_alpha.npy"), np.asarray(single.alpha_, dtype=np.float64))
np.save(os.path.join(d, "single_pred.npy"), np.ascontiguousarray(single.predict(x[:50])))
del single

folds_path = os.path.join(d, "folds.npy")
if os.path.exists(folds_path):
    fold_of = np.load(folds_path)
    k = int(fold_of.max()) + 1
    t, c = time.perf_counter(), time.process_time()
    pred = np.empty_like(y)
    chosen = np.empty((k, y.shape[1]))
    for f in range(k):
        test = fold_of == f
        m = RidgeCV(alphas=alphas, alpha_per_target=True).fit(x[~test], y[~test])
        pred[test] = m.predict(x[test])
        chosen[f] = m.alpha_
    pc = pred - pred.mean(axis=0)
    yc = y - y.mean(axis=0)
    r = (pc * yc).sum(axis=0) / np.sqrt((pc * pc).sum(axis=0) * (yc * yc).sum(axis=0))
    out["task_seconds"] = time.perf_counter() - t
    out["task_cpu_seconds"] = time.process_time() - c
    out["task_median_r"] = float(np.median(r))
    np.save(os.path.join(d, "alpha_sklearn.npy"), chosen)
    np.save(os.path.join(d, "r_sklearn.npy"), r)

print(json.dumps(out))
