"""A PDE registered by a module, as a user's package would (``pde_module: _owndata_plugin``)."""
import numpy as np

from mufno_lite.data import read_pair, register_pde

CALLS = []


def load_wave(files, *, n_train, n_test, resolution, seed, scale=1.0):
    CALLS.append(dict(files))
    xtr, ytr = read_pair(files["train"])
    xte, yte = read_pair(files["test"])
    return (np.asarray(xtr) * scale, np.asarray(ytr), np.asarray(xte) * scale, np.asarray(yte))


register_pde("wave_plugin", 1, load_wave, grid="periodic", replace=True)
