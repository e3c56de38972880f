#!/usr/bin/python3
"""Times sklearn's RidgeCV(alphas, alpha_per_target=True) on issue 2's ridge
case (X 1000×20000, Y 1000×2000, 20 alphas) and writes the arrays to
/tmp/cortexbench-ridge-bench so BenchmarkCV runs on the same data.

Run both sides in the same OpenBLAS environment (the kernels OpenBLAS
picks depend on $OPENBLAS_CORETYPE), e.g. without the tuning variables, as
numpy is used by default:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench_reference.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE go test -run '^$' -bench '^BenchmarkCV$' ./scoring/ridge/
"""
import os
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import RidgeCV

d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/cortexbench-ridge-bench"
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(1)
x = rng.normal(size=(1000, 20000))
y = x[:, :50] @ rng.normal(size=(50, 2000)) * 0.05 + rng.normal(size=(1000, 2000))
np.save(os.path.join(d, "x.npy"), x)
np.save(os.path.join(d, "y.npy"), y)
alphas = 1e-2 * 2.0 ** np.arange(20)
times, cpu = [], []
for _ in range(int(os.environ.get("REPEAT", "2"))):
    t, c = time.perf_counter(), time.process_time()
    RidgeCV(alphas=alphas, alpha_per_target=True).fit(x, y)
    times.append(round(time.perf_counter() - t, 2))
    cpu.append(round(time.process_time() - c, 2))  # all threads, as Go's cpu-s/op
print(f"sklearn {sklearn.__version__} numpy {np.__version__} RidgeCV(alpha_per_target=True) "
      f"1000x20000 -> 2000, 20 alphas: wall s {times}, cpu s {cpu}")
