#!/usr/bin/python3
"""Times sklearn's RidgeCV(alpha_per_target=True) on issue 18's fMRI-scale
case, side by side with BenchmarkCVFMRISklearn, which writes the arrays:

    DIR/x.npy  stimuli × features (float32, converted to float64 here: the
               precision our predictions are computed in, and sklearn's
               default for float64 data)
    DIR/y.npy  stimuli × targets (float64)

and reads one JSON line from stdout: wall and CPU seconds of the fit, and
the versions it ran with. The alpha grid is ridge.DefaultAlphas (19 values,
1e-2 … 1e7 by half decades); sklearn chooses each target's alpha by
generalised (leave-one-out) cross-validation on all stimuli, one fit.

Run with (and the numbers in the README measured with):
    sklearn 1.2.1, numpy 1.24.2, scipy 1.10.1 (Debian 12 python3-sklearn)
without OpenBLAS tuning variables, as numpy would be used:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 fmri_reference.py DIR
"""
import json
import os
import sys
import time

import numpy as np
import scipy
import sklearn
from sklearn.linear_model import RidgeCV

d = sys.argv[1]
x = np.load(os.path.join(d, "x.npy")).astype(np.float64)
y = np.load(os.path.join(d, "y.npy"))
alphas = 10.0 ** (-2 + np.arange(19) / 2)
t, c = time.perf_counter(), time.process_time()
RidgeCV(alphas=alphas, alpha_per_target=True).fit(x, y)
print(json.dumps({
    "seconds": time.perf_counter() - t,
    "cpu_seconds": time.process_time() - c,  # all threads
    "stimuli": x.shape[0], "features": x.shape[1], "targets": y.shape[1],
    "sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
}))
