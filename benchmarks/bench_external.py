"""mufno_lite beside neuraloperator on neuraloperator's small Darcy files (issues 11 and 22).

Given a folder with ``darcy_train_16.pt``, ``darcy_test_16.pt`` and ``darcy_test_32.pt`` (the
small Darcy set shipped inside the neuraloperator 0.3.0 wheel, ``neuralop/datasets/data/``: the
README's "Your own data" says how to get it; nothing is downloaded here), this trains, per seed and
in strict alternation, neuraloperator's FNO (``--peer-python``: a venv with neuraloperator, run
through ``benchmarks/peer_neuralop.py``) and each mufno_lite variant asked for, on the same files
at the same architecture and protocol, and prints the test error at 16², the zero-shot error at
32², the median step time, its ratio to neuraloperator's, and the parameters in real scalars (a
complex weight counts two).  Never pass/fail.

    python benchmarks/bench_external.py --data /work/peer/data --peer-python /work/peer/venv/bin/python \
        --epochs 50 --seeds 0 1 --variants sp mup

Protocol (both libraries): FNO-2D, width 32, 4 layers, K modes (neuraloperator ``n_modes=(2K, 2K)``,
which keeps the same frequencies on the first axis and one more, frequency K, on the last), the
grid channel ``i/n``; per-channel normalisation of x and y; Adam lr 1e-3, L2 weight decay 1e-4,
cosine schedule over all steps, batch 32 (the same batch order), mean relative L2 loss, 1 torch
thread each.  neuraloperator runs with its defaults (lifting and projection MLPs of 2·width, a
channel MLP with soft-gating skip in each block, no padding); mufno_lite's variants (``VARIANTS``)
switch its architecture options one at a time (the ablation of issue 22).

Without ``--data`` it writes *synthetic* files in the same format first (``--synthetic DIR``):
mufno_lite's own Darcy solver at 32², the 16² files subsampled ``[::2]``; those numbers measure the
pipeline, not a comparison with neuraloperator's published errors.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mufno_lite.data import load_dataset, load_files, read_pair  # noqa: E402
from mufno_lite.fno import FNO, count_parameters  # noqa: E402
from mufno_lite.train import TrainConfig, evaluate, train_model  # noqa: E402

FILES = ("darcy_train_16.pt", "darcy_test_16.pt", "darcy_test_32.pt")


def make_synthetic(folder, n_train: int = 1000, n_test: int = 50, seed: int = 0) -> Path:
    """Write synthetic ``darcy_{train,test}_16.pt`` and ``darcy_test_32.pt`` in neuraloperator's format."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("darcy", resolution=32, n_train=n_train, n_test=n_test, seed=seed, solve_resolution=63,
                      n_modes=32, cache_dir=False)

    def write(name, x, y, step):
        a = x[:, 0, ::step, ::step]
        torch.save({"x": (a > 0.5 * (a.max() + a.min())).contiguous(),
                    "y": y[:, 0, ::step, ::step].contiguous().float()}, folder / name)

    write("darcy_train_16.pt", ds.x_train, ds.y_train, 2)
    write("darcy_test_16.pt", ds.x_test, ds.y_test, 2)
    write("darcy_test_32.pt", ds.x_test, ds.y_test, 1)
    return folder


#: mufno_lite variants: (parametrization, FNO options).  "sp" is mufno_lite's FNO as it was
#: (linear lifting, σ(W+K) blocks, σ after every block, projection 128, padding 1/8); each other
#: variant changes what its name says; "nop" takes every neuraloperator difference at once.
NOP = {"lifting_width": 64, "channel_mlp_width": 16, "last_activation": False, "projection_width": 64, "padding": 0}
VARIANTS = {
    "sp": ("sp", {}),
    "mup": ("mup", {}),
    "lift": ("sp", {"lifting_width": 64}),
    "cmlp": ("sp", {"channel_mlp_width": 16}),
    "linlast": ("sp", {"last_activation": False}),
    "proj64": ("sp", {"projection_width": 64}),
    "nopad": ("sp", {"padding": 0}),
    "lift+cmlp": ("sp", {"lifting_width": 64, "channel_mlp_width": 16}),
    "lift+cmlp+linlast": ("sp", {"lifting_width": 64, "channel_mlp_width": 16, "last_activation": False}),
    "nop": ("sp", NOP),
    "nop-mup": ("mup", NOP),
}
BASE = {"width": 32, "n_layers": 4, "projection_width": 128, "padding": 0.125}


def run_mufno(name, ds, x32, y32, args, seed):
    par, opts = VARIANTS[name]
    model = FNO(d=2, K=args.K, parametrization=par, seed=seed, **{**BASE, **opts})  # grid: the data's (periodic)
    train = TrainConfig.for_epochs(args.epochs, ds.x_train.shape[0], batch_size=args.batch_size, lr=args.lr,
                                   weight_decay=args.weight_decay, schedule="cosine", normalize_y=True,
                                   data_seed=seed)
    stamps = []
    r = train_model(model, ds, train, progress=lambda step, total: stamps.append(time.perf_counter()))
    steps = [b - a for a, b in zip(stamps, stamps[1:])] or [r.wall_time_s / train.steps]  # one step: its wall time
    e16 = float(evaluate(model, ds, train=train).mean())
    e32 = float(evaluate(model, (x32, y32), normalizers=ds, train=train).mean())
    return {"library": f"mufno_lite {name}", "seed": seed, "test16": e16, "zero_shot32": e32,
            "step_ms": 1e3 * statistics.median(steps), "steps": train.steps, "wall_s": r.wall_time_s,
            "params_real": count_parameters(model.config)["real"], "grid": model.config.grid_convention}


def run_peer(python, folder, args, seed):
    cmd = [python, str(Path(__file__).with_name("peer_neuralop.py")), "--data", str(folder), "--seed", str(seed),
           "--epochs", str(args.epochs), "--n-train", str(args.n_train), "--n-test", str(args.n_test),
           "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--weight-decay", str(args.weight_decay),
           "--n-modes", str(2 * args.K), "--width", "32", "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the peer run failed ({' '.join(cmd)}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows) -> str:
    """Mean over seeds per library, with per-seed errors and the step-time ratio to neuraloperator."""
    libs = list(dict.fromkeys(r["library"] for r in rows))
    peer = [r for r in rows if r["library"].startswith("neuraloperator")]
    peer_ms = statistics.mean(r["step_ms"] for r in peer) if peer else None
    peer16 = statistics.mean(r["test16"] for r in peer) if peer else None
    lines = ["| library / variant | params (real) | test 16² per seed | mean | vs peer (points) | "
             "zero-shot 32² per seed | mean | step ms | × peer |", "|" + "---|" * 9]
    for lib in libs:
        rs = [r for r in rows if r["library"] == lib]
        t16, t32 = [100 * r["test16"] for r in rs], [100 * r["zero_shot32"] for r in rs]
        ms = statistics.mean(r["step_ms"] for r in rs)
        gap = f"{statistics.mean(t16) - 100 * peer16:+.2f}" if peer16 is not None else "–"
        ratio = f"{ms / peer_ms:.2f}" if peer_ms else "–"
        lines.append(f"| {lib} | {rs[0]['params_real']:,} | {' / '.join(f'{v:.2f}' for v in t16)}% | "
                     f"{statistics.mean(t16):.2f}% | {gap} | {' / '.join(f'{v:.2f}' for v in t32)}% | "
                     f"{statistics.mean(t32):.2f}% | {ms:.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="folder with neuraloperator's darcy_*_16.pt / darcy_test_32.pt")
    ap.add_argument("--synthetic", default=None, help="folder for synthetic files (when --data is not given)")
    ap.add_argument("--peer-python", default=None,
                    help="python of a venv with neuraloperator (default: this python if it imports neuralop)")
    ap.add_argument("--no-peer", action="store_true", help="mufno_lite only")
    ap.add_argument("--variants", nargs="+", default=["sp", "mup"], choices=sorted(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--K", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write every row to this JSON file (after each run)")
    ap.add_argument("--report", nargs="+", default=None, metavar="JSON",
                    help="print the table of rows saved by --json (one or more files) and train nothing")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.report:
        rows = [r for f in args.report for r in json.loads(Path(f).read_text())["rows"]]
        print(table(rows))
        return 0

    if args.data:
        folder = Path(args.data)
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            print(f"error: {folder} lacks {missing} (see the README's 'Your own data' for the files)")
            return 2
        source = f"neuraloperator's files in {folder}"
    else:
        folder = Path(args.synthetic or tempfile.mkdtemp(prefix="mufno_darcy_"))
        make_synthetic(folder, args.n_train, args.n_test, 0)
        source = f"SYNTHETIC files in neuraloperator's format ({folder})"
    peer = None
    if not args.no_peer:
        peer = args.peer_python
        if peer is None:
            import importlib.util

            peer = sys.executable if importlib.util.find_spec("neuralop") else None
        if peer is None:
            print("note: neuraloperator is not importable and no --peer-python was given: mufno_lite only")

    ds = load_files(folder / FILES[0], folder / FILES[1], n_train=args.n_train, n_test=args.n_test, d=2)
    x32, y32 = read_pair(folder / FILES[2])
    x32, y32 = x32[: args.n_test], y32[: args.n_test]
    print(f"data: {source}; train {tuple(ds.x_train.shape)}, test 16² {tuple(ds.x_test.shape)}, "
          f"test 32² {tuple(np.shape(x32))}")
    print(f"protocol: {args.epochs} epochs of {ds.x_train.shape[0] // args.batch_size} batches of {args.batch_size}, "
          f"Adam lr {args.lr:g}, weight decay {args.weight_decay:g}, cosine; K={args.K} "
          f"(peer n_modes=({2 * args.K}, {2 * args.K})); torch threads {torch.get_num_threads()} here and in the peer")
    rows = []
    for seed in args.seeds:  # strict alternation: per seed, the peer then every variant
        jobs = ([("peer", None)] if peer else []) + [("mufno", v) for v in args.variants]
        for kind, v in jobs:
            r = run_peer(peer, folder, args, seed) if kind == "peer" else run_mufno(v, ds, x32, y32, args, seed)
            rows.append(r)
            print(f"  seed {seed} {r['library']:<28} test16 {100 * r['test16']:6.2f}%  zero-shot32 "
                  f"{100 * r['zero_shot32']:6.2f}%  step {r['step_ms']:7.1f} ms  ({r['wall_s']:.0f} s)", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    print("parameters are real scalars (a complex spectral weight counts two); errors are mean relative L2")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
