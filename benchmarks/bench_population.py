"""Model-steps per second of a population trained in lockstep against sequential trainings.

For each size (``--dims``):

* **population**: ``train_population`` with M = ``--members`` members (different LR and seed) for
  ``--steps`` steps; the step time is the median time between consecutive steps (progress
  callback), so set-up and the final evaluation are excluded.
* **sequential**: M separate ``train_model`` runs of the same configs, each for only
  ``--seq-steps`` steps (median step time per run, summed over the M runs: an *extrapolation* of
  M full sequential trainings to the same number of steps; set-up and evaluation excluded too).
* the ratio population / sequential of model-steps per second (> 1: the population is faster);
* peak resident memory (``ru_maxrss``) after the population run (which runs first, so the figure
  is the population's peak plus the interpreter and data), and the value before it;
* achieved FLOP/s of a population training step (``3 × estimate_flops × M``) against a 2048³
  fp32 matmul timed in the same run.

Sizes (CLI options ``--K1 --width1 --res1`` and ``--K2 --width2 --res2``): FNO-1D K=16, width 64,
4 layers, 256 points; FNO-2D K=8, width 32, 4 layers, 32×32; batch 20; synthetic heat-kernel data.
Figures are ratios within one run on a shared machine; nothing passes or fails on time.
``--patched`` applies ``benchmarks/_proposed_fno_patch.py`` to both sides.

    .venv/bin/python benchmarks/bench_population.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from types import SimpleNamespace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mufno_lite.fno import FNO, FNOConfig  # noqa: E402
from mufno_lite.train import Member, TrainConfig, estimate_flops, train_model, train_population  # noqa: E402


class _Gauss:
    def __init__(self, x):
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6

    def encode(self, x):
        return (x - self.mean) / self.std

    def decode(self, x):
        return x * self.std + self.mean


def heat_dataset(d: int, s: int, n_train: int, n_test: int, seed: int = 0):
    """Smooth random inputs; targets = heat-kernel smoothing of the input, plus 1."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    dims = tuple(range(2, 2 + d))
    freqs = [torch.fft.fftfreq(s, 1 / s)] * (d - 1) + [torch.fft.rfftfreq(s, 1 / s)]
    k2 = sum(f.view(*([1] * i), -1, *([1] * (d - 1 - i))) ** 2 for i, f in enumerate(freqs))
    x = torch.fft.irfftn(torch.fft.rfftn(torch.randn(n, 1, *([s] * d), generator=g), dim=dims) / (1 + k2),
                         s=(s,) * d, dim=dims)
    x = x / x.std()
    y = torch.fft.irfftn(torch.fft.rfftn(x, dim=dims) * torch.exp(-0.02 * k2), s=(s,) * d, dim=dims) + 1
    return SimpleNamespace(x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:], y_test=y[n_train:],
                           x_normalizer=_Gauss(x[:n_train]), y_normalizer=_Gauss(y[:n_train]),
                           config={"pde": "heat"}, meta={})


def matmul_peak(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t)
    return 2 * n**3 / min(ts)


def _median_step(fn) -> float:
    stamps = []
    fn(lambda step, total: stamps.append(time.perf_counter()))
    diffs = [b - a for a, b in zip(stamps, stamps[1:])]
    return statistics.median(diffs)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(dim: int, cfg: FNOConfig, s: int, args) -> None:
    data = heat_dataset(dim, s, args.n_train, args.n_test)
    M = args.members
    members = [Member(lr=10 ** (-3.5 + k / 8), seed=k) for k in range(M)]
    print(f"\nFNO-{dim}D: K={cfg.K}, width {cfg.width}, {cfg.n_layers} layers, grid {'x'.join([str(s)] * dim)}, "
          f"batch {args.batch}, M={M}, n_train={args.n_train}")
    rss0 = rss_mb()
    tc = TrainConfig(steps=args.steps, batch_size=args.batch)
    t0 = time.perf_counter()
    t_pop = _median_step(lambda cb: train_population(cfg, "sp", data, members, tc, progress=cb))
    wall_pop = time.perf_counter() - t0
    rss1 = rss_mb()
    tq = TrainConfig(steps=args.seq_steps + 1, batch_size=args.batch)
    t_seq = 0.0
    t1 = time.perf_counter()
    for m in members:
        model = FNO(cfg, seed=m.seed)
        t_seq += _median_step(lambda cb: train_model(model, data, TrainConfig(**{**tq.to_dict(), "lr": m.lr}),
                                                     progress=cb))
    wall_seq = time.perf_counter() - t1
    pop_rate, seq_rate = M / t_pop, M / t_seq
    print(f"  population : {t_pop * 1e3:8.1f} ms/step -> {pop_rate:6.2f} model-steps/s "
          f"({args.steps} steps, whole call {wall_pop:.1f} s incl. set-up and final evaluation)")
    print(f"  sequential : {t_seq * 1e3:8.1f} ms per step of all {M} models -> {seq_rate:6.2f} model-steps/s "
          f"(extrapolated from {args.seq_steps} steps per model, {wall_seq:.1f} s)")
    print(f"  speed-up population / sequential: {pop_rate / seq_rate:.2f}x")
    print(f"  peak RSS: {rss0:.0f} MB before the population run, {rss1:.0f} MB after it")
    flops = 3 * estimate_flops(cfg, (s,) * dim, args.batch) * M
    print(f"  population step: {flops / t_pop / 1e9:.1f} GFLOP/s (estimated {flops / 1e9:.2f} GFLOP per step) = "
          f"{flops / t_pop / args.peak:.1%} of the matmul peak")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dims", default="1,2")
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--steps", type=int, default=12, help="population steps")
    ap.add_argument("--seq-steps", type=int, default=4, help="steps per sequential model (extrapolated)")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--n-train", type=int, default=100)
    ap.add_argument("--n-test", type=int, default=20)
    ap.add_argument("--K1", type=int, default=16)
    ap.add_argument("--width1", type=int, default=64)
    ap.add_argument("--res1", type=int, default=256)
    ap.add_argument("--K2", type=int, default=8)
    ap.add_argument("--width2", type=int, default=32)
    ap.add_argument("--res2", type=int, default=32)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--patched", action="store_true", help="apply benchmarks/_proposed_fno_patch.py")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}; torch threads: {torch.get_num_threads()}; patched fno: {args.patched}")
    if args.patched:
        import _proposed_fno_patch

        _proposed_fno_patch.apply()
    args.peak = matmul_peak()
    print(f"matmul peak (2048^3 fp32, best of 5): {args.peak / 1e9:.1f} GFLOP/s")
    for dim in [int(v) for v in args.dims.split(",")]:
        if dim == 1:
            run(1, FNOConfig(d=1, K=args.K1, width=args.width1, n_layers=args.layers), args.res1, args)
        else:
            run(2, FNOConfig(d=2, K=args.K2, width=args.width2, n_layers=args.layers), args.res2, args)


if __name__ == "__main__":
    main()
