"""Time per training step: a single mufno_lite FNO against neuraloperator's FNO of the same size.

Both models see the same random batch; a step is forward, relative-L2 loss, backward and a
``torch.optim.Adam`` update.  The figure printed is the median step time over ``--steps`` steps
after ``--warmup`` steps, and the ratio mufno_lite / neuraloperator (< 1: mufno_lite is faster),
measured in the same run.  Never pass/fail.

**Architecture mapping** (checked: the parameter counts are printed and must agree).
mufno_lite's K keeps frequencies −K … K−1 on every non-last axis and 0 … K−1 on the last (rfft)
axis.  neuraloperator (2.x) counts ``n_modes`` *per axis including both signs*: on a non-last
axis it keeps ``n_modes`` frequencies centred on 0 (−n/2 … n/2−1 for even n), and on the last axis
it keeps ``n_modes // 2 + 1`` bins.  So K ↔ ``n_modes = (2K, …, 2K, 2K − 2)``.  The other choices:
``hidden_channels = width``, ``lifting_channel_ratio = 0`` (a single linear lifting),
``projection_channel_ratio = projection_width / width`` (two-layer projection with GELU),
``use_channel_mlp = False``, ``fno_skip = "linear"`` (the pointwise W; its bias is the spectral
conv's), ``positional_embedding = "grid"``.  One difference remains: neuraloperator applies no
activation after its last Fourier block, mufno_lite does (same cost, one GELU).

**The peer environment.**  neuraloperator must not be installed in the project venv.  Create a
separate one (ignored by git through ``benchmarks/.gitignore``)::

    python3 -m venv benchmarks/.venv-peer
    benchmarks/.venv-peer/bin/pip install -c constraints.txt torch==2.13.0 neuraloperator numpy
    benchmarks/.venv-peer/bin/pip install --no-deps -e .
    benchmarks/.venv-peer/bin/python benchmarks/bench_peer.py --threads 1

Under a Python without neuraloperator the script prints these lines and times mufno_lite alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mufno_lite.fno import FNO, FNOConfig, count_parameters  # noqa: E402
from mufno_lite.train import relative_l2  # noqa: E402

HOWTO = """neuraloperator is not importable here. To compare against it, create the peer venv:
    python3 -m venv benchmarks/.venv-peer
    benchmarks/.venv-peer/bin/pip install -c constraints.txt torch==2.13.0 neuraloperator numpy
    benchmarks/.venv-peer/bin/pip install --no-deps -e .
    benchmarks/.venv-peer/bin/python benchmarks/bench_peer.py"""


def neuralop_fno(cfg: FNOConfig):
    from neuralop.models import FNO as NFNO

    n_modes = tuple([2 * cfg.K] * (cfg.d - 1) + [2 * cfg.K - 2])
    return NFNO(n_modes=n_modes, in_channels=cfg.in_channels, out_channels=cfg.out_channels,
                hidden_channels=cfg.width, n_layers=cfg.n_layers, lifting_channel_ratio=0,
                projection_channel_ratio=cfg.projection_width / cfg.width, use_channel_mlp=False,
                fno_skip="linear", positional_embedding="grid"), n_modes


def time_steps(model, x, y, steps: int, warmup: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ts = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = relative_l2(model(x), y).mean()
        loss.backward()
        opt.step()
        if i >= warmup:
            ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--dims", default="1,2", help="comma-separated: 1 (K=16, width 64, s=256), 2 (K=8, width 32, 32x32)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"python {sys.executable}; torch {torch.__version__}; torch threads: {torch.get_num_threads()}")
    try:
        import neuralop

        have_peer = True
        print(f"neuraloperator {getattr(neuralop, '__version__', '?')}")
    except ImportError:
        have_peer = False
        print(HOWTO)
    sizes = {1: (FNOConfig(d=1, K=16, width=64, n_layers=4), 256),
             2: (FNOConfig(d=2, K=8, width=32, n_layers=4), 32)}
    for dim in [int(v) for v in args.dims.split(",")]:
        cfg, s = sizes[dim]
        g = torch.Generator().manual_seed(0)
        x = torch.randn(args.batch, 1, *([s] * cfg.d), generator=g)
        y = torch.randn(args.batch, 1, *([s] * cfg.d), generator=g)
        n_ours = count_parameters(cfg)["total"]
        print(f"\nFNO-{dim}D: K={cfg.K}, width {cfg.width}, {cfg.n_layers} layers, grid {'x'.join([str(s)] * dim)}, "
              f"batch {args.batch}; mufno_lite parameters {n_ours}")
        torch.manual_seed(0)
        t_ours = time_steps(FNO(cfg, seed=0), x, y, args.steps, args.warmup)
        print(f"  mufno_lite        {t_ours * 1e3:8.1f} ms/step")
        if have_peer:
            torch.manual_seed(0)
            peer, n_modes = neuralop_fno(cfg)
            n_peer = sum(p.numel() for p in peer.parameters())
            t_peer = time_steps(peer, x, y, args.steps, args.warmup)
            print(f"  neuraloperator    {t_peer * 1e3:8.1f} ms/step  (n_modes={n_modes}, parameters {n_peer}"
                  f"{'' if n_peer == n_ours else ' -- MISMATCH'})")
            print(f"  ratio mufno_lite / neuraloperator step time: {t_ours / t_peer:.2f}")


if __name__ == "__main__":
    main()
