#!/usr/bin/python3
"""Time the numpy/scipy side of the scoring benchmarks on the same shapes
as the Go benchmarks, to run side by side in the same OpenBLAS environment
(the kernels OpenBLAS picks depend on $OPENBLAS_CORETYPE):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scoring/testdata/bench_reference.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE go test -run '^$' -bench 'Correlation1000|Spearman499500|KendallTauA499500' ./scoring/rdm ./scoring/rsa

Shapes: correlation RDM of 1000×100000 float64 (numpy.corrcoef; the Go
benchmark data is ReLU of a standard normal, as here), Spearman and Kendall
between two 499500-long vectors (scipy.stats.spearmanr / kendalltau).
Reports the best of a few runs and peak RSS.
"""
import resource, sys, time
import numpy as np
import scipy
from scipy import stats

def best(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

rng = np.random.default_rng(1)
print("numpy", np.__version__, "scipy", scipy.__version__)
a = rng.random(499500); b = 0.3 * a + rng.random(499500)
print("spearmanr 499500:   %.4f s" % best(lambda: stats.spearmanr(a, b), 5))
print("kendalltau 499500:  %.4f s" % best(lambda: stats.kendalltau(a, b), 3))
if "--no-rdm" not in sys.argv:
    x = np.maximum(rng.standard_normal((1000, 100000)), 0)
    print("corrcoef 1000x100000: %.4f s" % best(lambda: np.corrcoef(x), 3))
print("peak RSS %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
