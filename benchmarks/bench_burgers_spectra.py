"""Energy of Burgers targets beyond K Fourier modes (mufno_lite.spectra), and generation time.

Usage::

    MUFNO_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_burgers_spectra.py [--n 100]

Resolution 256, T = 1, ``ic_zero_mean=True`` for the default IC (alpha 2, tau 5, sigma 25) and
the classic FNO IC (alpha 2.5, tau 7, sigma 49) at nu in {1e-1, 1e-2, 3e-3, 1e-3}, plus the
current default data (nu 0.1, with mean) for contrast.  Columns: fraction of the mean target
(and input) energy in shells > K (:func:`mufno_lite.spectra.energy_beyond`), median and max of
max|u0| over samples, and the time of ``load_dataset`` for ``n`` train samples on the default
solve grid (one thread).
"""
from __future__ import annotations

import argparse
import time

import torch

from mufno_lite.data import load_dataset
from mufno_lite.spectra import energy_beyond

KS = (3, 8, 16, 32, 64)
ICS = {"default(2,5,25)": dict(ic_alpha=2.0, ic_tau=5.0, ic_sigma=25.0),
       "classic(2.5,7,49)": dict(ic_alpha=2.5, ic_tau=7.0, ic_sigma=49.0)}


def row(label, nu, zero_mean, ic, n):
    t0 = time.time()
    ds = load_dataset("burgers", resolution=256, n_train=n, n_test=1, cache_dir=False, nu=nu,
                      ic_zero_mean=zero_mean, **ic)
    dt = time.time() - t0
    sp = ds.spectrum("train")
    m0 = ds.x_train.abs().amax(-1).flatten()
    fy = " ".join(f"{energy_beyond(sp['target'], K):9.2e}" for K in KS)
    fx = " ".join(f"{energy_beyond(sp['input'], K):8.1e}" for K in KS)
    print(f"{label:18s} {nu:7.0e} {str(zero_mean):5s} {ds.config['solve_resolution']:6d} {fy} | "
          f"{float(m0.median()):5.2f} {float(m0.max()):5.2f} | {dt:6.1f}s | input>K: {fx}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="train samples per row")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{'IC':18s} {'nu':>7s} {'zm':5s} {'solve':>6s} " + " ".join(f"{'>K=' + str(K):>9s}" for K in KS)
          + f" | med/max|u0| | time ({args.n} samples)")
    row("default(2,5,25)", 0.1, False, ICS["default(2,5,25)"], args.n)
    for name, ic in ICS.items():
        for nu in (1e-1, 1e-2, 3e-3, 1e-3):
            row(name, nu, True, ic, args.n)


if __name__ == "__main__":
    main()
