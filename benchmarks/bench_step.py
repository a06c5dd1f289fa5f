"""Achieved FLOP/s and bytes/s of one population training step per PDE, as fractions of this
device's peak, and issue 20's changes (items 8-10) before/after, side by side in one run.

One step is :func:`mufno_lite.train.population._chunk_step` itself (forward, loss, backward,
elementwise clip, :class:`~mufno_lite.optim.PopulationAdam`) on one chunk of ``--members`` models
at a preset's size (``--preset``: ``smoke`` by default on a CPU, ``gpu`` on CUDA; the largest K of
the preset's base sweep, its width, grid and batch; random data, nothing is solved).

* **FLOP/s**: the package's FLOP model (3 × :func:`mufno_lite.flops.estimate_flops` × members
  per step) over the median step time.
* **bytes/s**: the bytes the step's ops read and write (every tensor argument and result of
  every dispatched op, counted once in an untimed step by a dispatch mode: an upper bound on DRAM
  traffic, caches ignored) over the median step time.
* **Peaks, measured in the same run**: an fp32 n×n matmul (FLOP/s; TF32 off on CUDA) and a
  large tensor copy (bytes/s, read + write).
* **Variants**, timed round-robin in the same run: ``after`` (today's code, PopulationAdam's
  foreach step, CUDA's default; on a CPU the trainer runs the per-parameter loop instead, which
  is ``old_adam`` here less its host→device copies); ``old_spectral``
  (the weight in R[c, i, o, k] order, one permuted matmul per corner: ``benchmarks/_before.py``);
  ``old_adam`` (the per-parameter Adam loop); ``per_step_read`` (the losses read back every step,
  as ``.tolist()`` did); ``before`` (all three).  ``ratio`` = the variant's step time / ``after``'s
  (> 1: today's code is faster).  On a CPU a read-back costs nothing; its effect shows on a GPU.

Nothing passes or fails on time; the figures are for this machine, this run.

    .venv/bin/python benchmarks/bench_step.py --threads 1                    # CPU, smoke sizes
    .venv/bin/python benchmarks/bench_step.py --device cuda --preset gpu     # a GPU, the gpu preset
    .venv/bin/python benchmarks/bench_step.py --tiny                         # seconds (device_check.sh)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from types import SimpleNamespace

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _before import LoopPopulationAdam, use_permuted_contraction  # noqa: E402

from mufno_lite import presets  # noqa: E402
from mufno_lite.flops import estimate_flops  # noqa: E402
from mufno_lite.fno import FNO, FNOConfig  # noqa: E402
from mufno_lite.memory import spatial_shape_of  # noqa: E402
from mufno_lite.optim import PopulationAdam  # noqa: E402
from mufno_lite.parametrization import as_parametrization  # noqa: E402
from mufno_lite.sweep.config import PDE_DIMS  # noqa: E402
from mufno_lite.train import TrainConfig  # noqa: E402
from mufno_lite.train.common import _Data, batch_schedule  # noqa: E402
from mufno_lite.train.population import _Chunk, _chunk_step  # noqa: E402

VARIANTS = {  # name: (old spectral contraction, old Adam loop, read the losses every step)
    "after": (False, False, False),
    "old_spectral": (True, False, False),
    "old_adam": (False, True, False),
    "per_step_read": (False, False, True),
    "before": (True, True, True),
}


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device, n: int, reps: int = 5) -> float:
    """FLOP/s of an fp32 n×n matmul (best of ``reps``)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.matmul(a, b)
    best = math.inf
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def copy_bandwidth(device, nbytes: int, reps: int = 5) -> float:
    """Bytes/s of copying one ``nbytes`` tensor into another (read + write, best of ``reps``)."""
    a = torch.empty(nbytes // 4, device=device).normal_()
    b = torch.empty_like(a)
    b.copy_(a)
    best = math.inf
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        b.copy_(a)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * a.numel() * 4 / best


class _Bytes(TorchDispatchMode):
    """Sums the bytes of every tensor argument and result of every dispatched op."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func._schema.name not in _VIEW_OPS:
            flat, _ = tree_flatten((args, kwargs, out))
            self.total += sum(t.numel() * t.element_size() for t in flat if isinstance(t, torch.Tensor))
        return out


_VIEW_OPS = {"aten::view", "aten::_unsafe_view", "aten::reshape", "aten::permute", "aten::select", "aten::slice",
             "aten::view_as_real", "aten::view_as_complex", "aten::as_strided", "aten::detach", "aten::alias",
             "aten::unsqueeze", "aten::squeeze", "aten::expand", "aten::t", "aten::transpose", "aten::unbind",
             "aten::split", "aten::empty", "aten::empty_like", "aten::empty_strided"}


def size_of(pde: str, preset: str, K: int | None, members: int):
    """(FNOConfig, grid, batch, members) of a preset's base sweep for ``pde`` at its largest K."""
    base = presets.BASES[pde][preset]
    if "model" not in base:
        raise SystemExit(f"preset {preset!r} has no fixed size for {pde} (it is searched); use smoke, gpu or paper")
    d = PDE_DIMS[pde]
    cfg = FNOConfig(d=d, K=int(K or max(base["K"])), **base["model"])
    return cfg, spatial_shape_of(pde, base["data"], d), int(base["batch_sizes"][0]), members


def build(cfg: FNOConfig, spatial, batch: int, members: int, device, variant: str, steps: int, seed: int = 0):
    """(one-step function, its chunk) for ``variant``; step(i) runs step i of the schedule."""
    old_spectral, old_adam, read = VARIANTS[variant]
    g = torch.Generator().manual_seed(seed)
    n = max(2 * batch, 8)
    x = torch.randn(n, cfg.in_channels, *spatial, generator=g)
    y = torch.randn(n, cfg.out_channels, *spatial, generator=g) + 2.0
    ds = SimpleNamespace(x_train=x, y_train=y, x_test=x[:2], y_test=y[:2], x_normalizer=None, y_normalizer=None,
                         meta={})
    train = TrainConfig(steps=steps, batch_size=batch, normalize_x=False, clip=0.01)
    data = _Data(ds, train, device, torch.float32, cfg.d, cfg)
    par = as_parametrization("mup")
    model = FNO(cfg, parametrization=par, members=members, seed=list(range(members)))
    if old_spectral:
        use_permuted_contraction(model)
    model.to(device)
    lrs, b2s = [10 ** (-3 + 0.1 * i) for i in range(members)], [0.999] * members
    spectral = [layer.spectral.weight for layer in model.layers]
    ids = {id(p) for p in spectral}
    other = [p for p in model.parameters() if id(p) not in ids]
    if old_adam:
        opt = LoopPopulationAdam(spectral + other, lrs, b2s)
    else:
        opt = PopulationAdam([(spectral, par.lr_multiplier(cfg.K, cfg.d)), (other, 1.0)], lrs, b2s, foreach=True)
    dev = data.device
    chunk = _Chunk(list(range(members)), model, opt, list(model.parameters()),
                   torch.ones(members, dtype=torch.bool, device=dev), torch.zeros(members, dtype=torch.int64, device=dev))
    idx = batch_schedule(n, batch, steps, 0).to(dev)
    loss_dev = torch.empty(steps, members, device=dev)
    alive = [True] * members

    def step(i: int) -> None:
        _chunk_step(chunk, data, train, i, idx[i], 1.0, alive, loss_dev)
        if read:
            loss_dev[i].tolist()

    return step, chunk


def bench_pde(pde: str, args, peaks: dict) -> list[dict]:
    cfg, spatial, batch, members = size_of(pde, args.preset, args.K, args.members)
    total = args.warmup + args.steps * args.rounds + 1
    steps = {v: build(cfg, spatial, batch, members, args.device, v, total)[0] for v in args.variants}
    flops = 3 * estimate_flops(cfg, spatial, batch) * members
    nbytes = {}
    for v, fn in steps.items():
        for i in range(args.warmup):
            fn(i)
        _sync(args.device)
        with _Bytes() as counter:  # one untimed step, counted
            fn(args.warmup)
        nbytes[v] = counter.total
    times = {v: [] for v in steps}
    for r in range(args.rounds):  # round-robin: every variant sees the same machine state
        for v, fn in steps.items():
            for k in range(args.steps):
                i = args.warmup + 1 + r * args.steps + k
                _sync(args.device)
                t = time.perf_counter()
                fn(i)
                _sync(args.device)
                times[v].append(time.perf_counter() - t)
    med = {v: statistics.median(ts) for v, ts in times.items()}
    ref = med.get("after")
    rows = []
    for v in steps:
        rows.append({
            "pde": pde, "variant": v, "d": cfg.d, "K": cfg.K, "width": cfg.width, "grid": list(spatial),
            "batch": batch, "members": members, "step_s": med[v], "flop_per_step": flops,
            "flop_s": flops / med[v], "flop_fraction_of_peak": flops / med[v] / peaks["matmul_flop_s"],
            "bytes_per_step": nbytes[v], "bytes_s": nbytes[v] / med[v],
            "bytes_fraction_of_peak": nbytes[v] / med[v] / peaks["copy_bytes_s"],
            "ratio_to_after": None if ref is None else med[v] / ref,
        })
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--preset", default=None, help="sizes from this preset's base sweeps (default: smoke on a CPU, gpu on CUDA)")
    ap.add_argument("--pdes", nargs="+", default=list(PDE_DIMS), choices=list(PDE_DIMS))
    ap.add_argument("--K", type=int, default=None, help="default: the preset's largest K")
    ap.add_argument("--members", type=int, default=None, help="models in the chunk (default 4 on a CPU, 8 on CUDA)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per variant and round (default 5, 3 on CUDA)")
    ap.add_argument("--rounds", type=int, default=None, help="default 3, 2 on CUDA")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--tiny", action="store_true",
                    help="smoke sizes, 2 members, one timed step per variant (device_check.sh's short form)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--matmul-n", type=int, default=None, help="peak matmul size (default 1024 on a CPU, 8192 on CUDA)")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cuda = torch.device(args.device).type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 peak, the paper's precision
        torch.backends.cudnn.allow_tf32 = False
    if args.tiny:
        args.preset, args.members, args.steps, args.rounds, args.warmup = "smoke", 2, 1, 1, 1
        args.matmul_n = args.matmul_n or 512
    args.preset = args.preset or ("gpu" if cuda else "smoke")
    args.members = args.members or (8 if cuda else 4)
    args.steps = args.steps or (3 if cuda else 5)
    args.rounds = args.rounds or (2 if cuda else 3)
    copy_bytes = (32 << 20) if args.tiny else ((1 << 30) if cuda else (256 << 20))
    peaks = {"matmul_flop_s": matmul_peak(args.device, args.matmul_n or (8192 if cuda else 1024)),
             "copy_bytes_s": copy_bandwidth(args.device, copy_bytes)}
    rows = [r for pde in args.pdes for r in bench_pde(pde, args, peaks)]
    env = {"device": str(args.device), "device_name": torch.cuda.get_device_name(args.device) if cuda else "cpu",
           "threads": torch.get_num_threads(), "torch": torch.__version__, "preset": args.preset, **peaks}
    print(f"device {env['device_name']}, {env['threads']} thread(s), torch {env['torch']}, preset {args.preset}; "
          f"measured peaks: matmul {peaks['matmul_flop_s'] / 1e9:.1f} GFLOP/s, copy {peaks['copy_bytes_s'] / 1e9:.1f} GB/s")
    print(f"{'pde':<14}{'variant':<15}{'ms/step':>9}{'GFLOP/s':>9}{'of peak':>8}{'GB/s':>8}{'of peak':>8}"
          f"{'MB/step':>9}{'ratio':>7}")
    for r in rows:
        print(f"{r['pde']:<14}{r['variant']:<15}{r['step_s'] * 1e3:>9.2f}{r['flop_s'] / 1e9:>9.2f}"
              f"{r['flop_fraction_of_peak']:>8.1%}{r['bytes_s'] / 1e9:>8.2f}{r['bytes_fraction_of_peak']:>8.1%}"
              f"{r['bytes_per_step'] / 1e6:>9.1f}{r['ratio_to_after']:>7.2f}" if r["ratio_to_after"] is not None else "")
    out = {"env": env, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
