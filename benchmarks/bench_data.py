"""Throughput and accuracy of the PDE data generators (mufno_lite.data).

Usage::

    python benchmarks/bench_data.py [--quick] [--threads 1]

For each PDE it times batched generation at the ``quick``-preset sizes
(Burgers 1200 samples solved on 1024 points, Darcy 1200 at 64x64, Navier--Stokes
300 trajectories at 64x64 with n_t = 16 over the window) against the same solver run
one sample at a time (chunk_size = 1) on a smaller count, extrapolated per sample,
and reports the accuracy of the verification cases (errors vs exact solutions).
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def accuracy():
    from mufno_lite.data import (burgers_cole_hopf_sine, ns_diagnostics, ns_forcing, ns_initial_condition,
                                 sample_noise, solve_burgers, solve_darcy, solve_navier_stokes)
    res = {}
    x = np.arange(1024) / 1024
    u = solve_burgers(torch.tensor(np.sin(2 * np.pi * x))[None], nu=0.1).numpy()[0]
    ue = burgers_cole_hopf_sine(x, 1.0, nu=0.1)
    res["burgers"] = f"Cole-Hopf sin IC, nu=0.1, T=1, n=1024, auto dt: rel max err {np.abs(u - ue).max() / np.abs(ue).max():.1e}"
    x = np.arange(256) / 256
    u = solve_burgers(torch.tensor(2 * np.sin(2 * np.pi * x))[None], nu=0.02, t_final=0.5).numpy()[0]
    ue = burgers_cole_hopf_sine(x, 0.5, nu=0.02, amplitude=2.0)
    res["burgers"] += f"; sharper (A=2, nu=0.02, n=256): {np.abs(u - ue).max() / np.abs(ue).max():.1e}"

    errs = []
    for s in (33, 65):
        g = np.linspace(0, 1, s)
        X, Y = np.meshgrid(g, g, indexing="ij")
        a = 1 + 0.5 * np.sin(2 * np.pi * X) * np.cos(np.pi * Y) + 0.25 * X * Y
        a_x = np.pi * np.cos(2 * np.pi * X) * np.cos(np.pi * Y) + 0.25 * Y
        a_y = -0.5 * np.pi * np.sin(2 * np.pi * X) * np.sin(np.pi * Y) + 0.25 * X
        ue = np.sin(np.pi * X) * np.sin(2 * np.pi * Y)
        f = -(a_x * np.pi * np.cos(np.pi * X) * np.sin(2 * np.pi * Y)
              + a_y * 2 * np.pi * np.sin(np.pi * X) * np.cos(2 * np.pi * Y) - 5 * np.pi ** 2 * a * ue)
        errs.append(np.abs(solve_darcy(a, f) - ue).max())
    res["darcy"] = f"manufactured: max err {errs[1]:.1e} at s=65, observed order {math.log2(errs[0] / errs[1]):.2f}"

    L, s, nu = 2 * math.pi, 64, 1 / 500
    g = torch.arange(s, dtype=torch.float64) * L / s
    X, Y = torch.meshgrid(g, g, indexing="ij")
    tg = 2 * torch.cos(X) * torch.cos(Y)
    out = solve_navier_stokes(tg[None], [1.0], nu=0.05, length=L)
    tg_err = (out[0, ..., 0] - tg * math.exp(-0.1)).abs().max().item() / 2
    f = ns_forcing("kolmogorov", s, L)
    w0 = ns_initial_condition(torch.tensor(sample_noise(0, 5, range(2), (s, s))), length=L)
    times = [0.01 * (j + 1) for j in range(100)]
    w = torch.cat([w0[..., None], solve_navier_stokes(w0, times, nu=nu, length=L, forcing=f)], -1)
    E, Z, W = ns_diagnostics(w.permute(0, 3, 1, 2), length=L, forcing=f)
    rate = -2 * nu * Z + W
    dE = E[:, 1:] - E[:, :-1]
    bud = ((dE - 0.005 * (rate[:, 1:] + rate[:, :-1])).abs().max() / dE.abs().max()).item()
    res["navier_stokes"] = f"Taylor-Green amplitude err {tg_err:.1e}; energy budget rel residual {bud:.1e}"
    return res


def ns_resolution_error(n=4):
    """Default solve grid (128 for s=64) vs a 256 reference, at t = 1 (Kolmogorov)."""
    from mufno_lite.data import ns_forcing, ns_initial_condition, sample_noise, solve_navier_stokes
    L, nu = 2 * math.pi, 1 / 500
    w = torch.tensor(sample_noise(0, 7, range(n), (256, 256)))
    out = {}
    for s in (256, 128):
        w0 = ns_initial_condition(w, length=L)[:, :: 256 // s, :: 256 // s]
        out[s] = solve_navier_stokes(w0, [1.0], nu=nu, length=L, forcing=ns_forcing("kolmogorov", s, L))[..., 0]
    ref = out[256][:, ::2, ::2]
    return ((out[128] - ref).norm() / ref.norm()).item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--quick", action="store_true", help="smaller counts (extrapolated rates)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from mufno_lite.data import generate_split, make_config

    cases = [  # pde, resolution, params, n_batched, n_sequential
        ("burgers", 1024, {}, 1200, 10),
        ("darcy", 64, {}, 1200, 100),
        ("navier_stokes", 64, {"n_t": 16}, 300, 5),
    ]
    if args.quick:
        cases = [(p, r, kw, max(nb // 6, 50), max(ns // 2, 3)) for p, r, kw, nb, ns in cases]
    print(f"mufno_lite data benchmark | torch {torch.__version__} | threads = {torch.get_num_threads()} | "
          f"{'quick' if args.quick else 'full'} run")
    rows = []
    for pde, res, kw, nb, nseq in cases:
        cfg = make_config(pde, res, **kw)
        _, tb = _timed(lambda: generate_split(cfg, "train", nb, progress=False))
        cfg1 = make_config(pde, res, **{**kw, "chunk_size": 1})
        _, ts = _timed(lambda: generate_split(cfg1, "test", nseq, progress=False))
        rb, rs = nb / tb, nseq / ts
        full = {"burgers": 1200, "darcy": 1200, "navier_stokes": 300}[pde]
        rows.append((pde, res, cfg["solve_resolution"], nb, tb, rb, nseq, rs, rb / rs, full / rb))
    hdr = (f"{'pde':<14}{'s':>5}{'solve':>7}{'N batch':>9}{'time s':>8}{'samples/s':>11}"
           f"{'N seq':>7}{'seq/s':>9}{'ratio':>7}{'est. preset s':>15}")
    print(hdr)
    print("-" * len(hdr))
    for pde, res, sr, nb, tb, rb, ns, rs, ratio, est in rows:
        print(f"{pde:<14}{res:>5}{sr:>7}{nb:>9}{tb:>8.1f}{rb:>11.1f}{ns:>7}{rs:>9.2f}{ratio:>7.1f}{est:>15.1f}")
    print("seq = one sample at a time (chunk_size=1) on N seq samples, rate extrapolated per sample;")
    print("est. preset s = time for the preset count (1200/1200/300) at the batched rate.")
    print("\nAccuracy of the verification cases:")
    for pde, msg in accuracy().items():
        print(f"  {pde:<14} {msg}")
    if not args.quick:
        print(f"  navier_stokes  Kolmogorov Re=500, solve 128 vs 256 reference at t=1: rel L2 diff "
              f"{ns_resolution_error():.1e}")


if __name__ == "__main__":
    main()
