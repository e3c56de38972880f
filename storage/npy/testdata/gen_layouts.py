#!/usr/bin/python3
"""Writes the small layout fixtures TestNumpyLayouts reads (numpy 1.24.2):
a Fortran-order float64 array of shape (2, 3, 4) (np.save of a transposed
C array writes fortran_order True), a Fortran-order int32 matrix, and a
big-endian float32 array. Values are v[i, j, k] = 100 i + 10 j + k.

    cd storage/npy/testdata && /usr/bin/python3 gen_layouts.py
"""
import numpy as np

v = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (2, 3, 4))
f = np.asfortranarray(v)
assert f.flags.f_contiguous and not f.flags.c_contiguous
np.save("fortran_f8.npy", f)
m = np.asfortranarray(v[1].astype(np.int32))  # (3, 4)
np.save("fortran_i4.npy", m)
np.save("bigendian_f4.npy", v.astype(">f4"))
print("numpy", np.__version__)
